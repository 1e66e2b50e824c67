//! Outbound HTTP for plugins: the network side of the `http` capability.
//!
//! The host resolves, vets and connects itself instead of handing a URL to a client
//! library, because the check must hold for the address actually connected to:
//! 1. [`Egress::send`] resolves the granted host once, drops every internal address
//!    ([`addr::is_internal`]) unless the grant named that IP literal or `localhost`,
//!    and connects only to what is left (no second lookup, so no DNS rebinding).
//! 2. TLS (webpki roots) is set up for the host the request named; HTTP/1.1 through
//!    hyper. Redirects are never followed: the guest sees the 3xx.
//! 3. The response body streams to the guest chunk by chunk, counted against the
//!    frame's byte budget; the connect, first-byte and between-bytes timeouts bound
//!    each wait, and the frame's wall-clock timeout bounds them all.
//!
//! Which origins a plugin may reach, and the headers the host adds, are the
//! capability's business (`runtime::capability::http`); nothing here knows plugins.
//!
//! The host's own clients of an operator-named origin (remote MCP servers) get a
//! `reqwest` client from [`Egress::client_for`] that holds to the same rules: the
//! same resolver and address vetting (in reqwest's resolver hook, so again on the
//! addresses connected to), the same TLS roots, no proxy, no redirects, and the
//! connect and first-byte timeouts.
//!
//! `host test` puts a stand-in server in place of the network
//! ([`Egress::with_stand_in`]): every origin not on a loopback address is then
//! served by that loopback server over plain HTTP, so a test's outbound requests
//! never leave the machine, whatever the plugin asks for.

pub mod addr;
pub mod origin;

use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use http_body::{Body, Frame};
use http_body_util::BodyExt;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep};
use wasmtime_wasi_http::io::TokioIo;
use wasmtime_wasi_http::{Error, WasiBody};

use crate::secrets::Secrets;
use origin::{Host, Origin, Scheme};

/// Resolves host names; the system resolver unless an embedder supplies another.
pub trait Resolve: Send + Sync + fmt::Debug + 'static {
    /// The addresses `host` has, each with `port`.
    fn resolve(&self, host: &str, port: u16) -> BoxFuture<'static, io::Result<Vec<SocketAddr>>>;
}

/// The operating system's resolver (`getaddrinfo`, off the async workers).
#[derive(Debug, Default)]
pub struct SystemResolver;

impl Resolve for SystemResolver {
    fn resolve(&self, host: &str, port: u16) -> BoxFuture<'static, io::Result<Vec<SocketAddr>>> {
        let target = format!("{host}:{port}");
        Box::pin(async move { Ok(tokio::net::lookup_host(target).await?.collect()) })
    }
}

/// The waits of one request.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// Resolving, connecting and the TLS handshake together.
    pub connect: Duration,
    /// From the request sent to the response's status line.
    pub first_byte: Duration,
    /// Between two chunks of the response body.
    pub between_bytes: Duration,
}

/// Response bytes one frame may still read, shared by all its requests.
#[derive(Debug)]
pub struct ByteBudget {
    used: AtomicU64,
    limit: u64,
}

impl ByteBudget {
    /// A budget of `limit` bytes.
    pub fn new(limit: u64) -> Arc<Self> {
        Arc::new(Self {
            used: AtomicU64::new(0),
            limit,
        })
    }

    /// Count `n` more bytes; `false` once past the limit.
    fn spend(&self, n: u64) -> bool {
        self.used.fetch_add(n, Ordering::Relaxed) + n <= self.limit
    }
}

/// Where a vetted request may go.
#[derive(Debug, Clone)]
pub struct Destination {
    /// The origin it was granted for.
    pub origin: Origin,
    /// The grant names this destination explicitly (IP literal or `localhost`), so
    /// internal addresses are allowed.
    pub allow_internal: bool,
}

/// Drives the hyper connection after the response head arrived.
pub type IoFuture = Box<dyn Future<Output = Result<(), Error>> + Send>;

/// The shared outbound HTTP machinery of one app: resolver, TLS roots and secrets.
#[derive(Debug, Clone)]
pub struct Egress {
    resolver: Arc<dyn Resolve>,
    tls: Arc<rustls::ClientConfig>,
    secrets: Arc<Secrets>,
    stand_in: Option<SocketAddr>,
}

impl Default for Egress {
    fn default() -> Self {
        Self::new(Secrets::default())
    }
}

impl Egress {
    /// Outbound HTTP with these secrets, the system resolver and the webpki roots.
    pub fn new(secrets: Secrets) -> Self {
        let roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.into(),
        };
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map(|b| b.with_root_certificates(roots).with_no_client_auth())
            .unwrap_or_else(|e| unreachable!("the default TLS versions are supported: {e}"));
        Self {
            resolver: Arc::new(SystemResolver),
            tls: Arc::new(tls),
            secrets: Arc::new(secrets),
            stand_in: None,
        }
    }

    /// Resolve names with `resolver` instead of the system's.
    pub fn with_resolver(mut self, resolver: Arc<dyn Resolve>) -> Self {
        self.resolver = resolver;
        self
    }

    /// Serve every origin whose host is not a loopback address from the loopback
    /// server at `addr`, over plain HTTP (the `Host` header still names the origin):
    /// the stand-in origins of `host test`.
    pub fn with_stand_in(mut self, addr: SocketAddr) -> Self {
        self.stand_in = Some(addr);
        self
    }

    /// The secrets header templates are filled from.
    pub fn secrets(&self) -> &Secrets {
        &self.secrets
    }

    /// Send `request` to `dest`: resolve and vet the addresses, connect, send, and
    /// answer the response head with a body that streams under `budget`.
    pub async fn send(
        &self,
        dest: Destination,
        mut request: http::Request<WasiBody>,
        timeouts: Timeouts,
        budget: Arc<ByteBudget>,
    ) -> Result<(http::Response<WasiBody>, IoFuture), Error> {
        let deadline = Instant::now() + timeouts.connect;
        let stream = tokio::time::timeout_at(deadline, self.connect(&dest))
            .await
            .map_err(|_| Error::ConnectionTimeout)??;
        let (mut sender, conn) = tokio::time::timeout_at(
            deadline,
            hyper::client::conn::http1::Builder::new().handshake(TokioIo::new(stream)),
        )
        .await
        .map_err(|_| Error::ConnectionTimeout)??;
        let conn = wasmtime_wasi::runtime::spawn(conn);
        // The request line carries only the path: the authority is in `Host`.
        let path = request
            .uri()
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .parse()
            .map_err(|_| Error::HttpRequestUriInvalid)?;
        *request.uri_mut() = path;
        let response = tokio::time::timeout(timeouts.first_byte, sender.send_request(request))
            .await
            .map_err(|_| Error::ConnectionReadTimeout)??;
        let response = response.map(|incoming| {
            LimitedBody {
                inner: incoming,
                budget,
                idle: timeouts.between_bytes,
                timer: Box::pin(tokio::time::sleep(timeouts.between_bytes)),
            }
            .boxed_unsync()
        });
        let io: IoFuture = Box::new(async move {
            match conn.await {
                Ok(()) => Ok(()),
                Err(e) if e.is_timeout() => Err(Error::HttpResponseTimeout),
                Err(e) => Err(Error::Hyper(e)),
            }
        });
        Ok((response, io))
    }

    async fn connect(&self, dest: &Destination) -> Result<Box<dyn Stream>, Error> {
        let loopback = matches!(&dest.origin.host, Host::Ip(ip) if ip.is_loopback());
        if let Some(addr) = self.stand_in.filter(|_| !loopback) {
            let tcp = TcpStream::connect(addr)
                .await
                .map_err(|_| Error::ConnectionRefused)?;
            let _ = tcp.set_nodelay(true);
            return Ok(Box::new(tcp));
        }
        let port = dest.origin.port;
        let addrs = match &dest.origin.host {
            Host::Ip(ip) => vec![SocketAddr::new(*ip, port)],
            Host::Name(name) => {
                self.resolver
                    .resolve(name, port)
                    .await
                    .map_err(|e| Error::DnsError {
                        rcode: Some(e.kind().to_string()),
                        info_code: None,
                    })?
            }
        };
        let vetted = vet(dest, addrs);
        if vetted.is_empty() {
            return Err(Error::DestinationIpProhibited);
        }
        let mut last = None;
        let mut tcp = None;
        for addr in vetted {
            match TcpStream::connect(addr).await {
                Ok(s) => {
                    tcp = Some(s);
                    break;
                }
                Err(e) => last = Some(e),
            }
        }
        let tcp = match (tcp, last) {
            (Some(s), _) => s,
            (None, Some(e)) if e.kind() == io::ErrorKind::ConnectionRefused => {
                return Err(Error::ConnectionRefused);
            }
            (None, _) => return Err(Error::DestinationUnavailable),
        };
        let _ = tcp.set_nodelay(true);
        match dest.origin.scheme {
            Scheme::Http => Ok(Box::new(tcp)),
            Scheme::Https => {
                let name = match &dest.origin.host {
                    Host::Name(n) => rustls::pki_types::ServerName::try_from(n.clone())
                        .map_err(|_| Error::HttpRequestUriInvalid)?,
                    Host::Ip(ip) => rustls::pki_types::ServerName::IpAddress((*ip).into()),
                };
                let tls = tokio_rustls::TlsConnector::from(self.tls.clone())
                    .connect(name, tcp)
                    .await
                    .map_err(|e| {
                        match e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
                            Some(rustls::Error::InvalidCertificate(_)) => {
                                Error::TlsCertificateError
                            }
                            _ => Error::TlsProtocolError,
                        }
                    })?;
                Ok(Box::new(tls))
            }
        }
    }
}

impl Egress {
    /// A client for `dest` alone, for the host's own requests to an origin the
    /// operator named: addresses vetted as [`Egress::send`] vets them, the same TLS
    /// roots, no proxy (it would connect elsewhere), no redirects, and `timeouts`'
    /// connect and first-byte waits (reqwest's read timeout, which also bounds the
    /// wait between two chunks).
    pub fn client_for(
        &self,
        dest: Destination,
        timeouts: Timeouts,
    ) -> Result<reqwest::Client, reqwest::Error> {
        reqwest::Client::builder()
            .dns_resolver(Arc::new(Vetted {
                resolver: self.resolver.clone(),
                dest,
            }))
            .tls_backend_preconfigured((*self.tls).clone())
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(timeouts.connect)
            .read_timeout(timeouts.first_byte.max(timeouts.between_bytes))
            .http1_only()
            .build()
    }
}

/// reqwest's resolver hook over the egress resolver, keeping only vetted addresses.
struct Vetted {
    resolver: Arc<dyn Resolve>,
    dest: Destination,
}

impl reqwest::dns::Resolve for Vetted {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_ascii_lowercase();
        let port = self.dest.origin.port;
        let named = matches!(&self.dest.origin.host, Host::Name(n) if *n == host);
        let lookup = self.resolver.resolve(&host, port);
        let dest = self.dest.clone();
        Box::pin(async move {
            if !named {
                return Err(format!("{host} is not the origin this client was made for").into());
            }
            let vetted = vet(&dest, lookup.await?);
            if vetted.is_empty() {
                return Err(format!(
                    "every address of {host} is internal; name the IP or localhost to reach it"
                )
                .into());
            }
            Ok(Box::new(vetted.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// The addresses of `addrs` that `dest` may connect to.
fn vet(dest: &Destination, addrs: Vec<SocketAddr>) -> Vec<SocketAddr> {
    addrs
        .into_iter()
        .filter(|a| {
            !addr::is_internal(a.ip()) || (dest.allow_internal && allowed_internal(dest, a.ip()))
        })
        .collect()
}

/// An internal address is allowed only when the grant named it: the IP literal
/// itself, or `localhost` resolving to loopback.
fn allowed_internal(dest: &Destination, ip: IpAddr) -> bool {
    match &dest.origin.host {
        Host::Ip(granted) => *granted == ip,
        Host::Name(_) => ip.is_loopback() || ip.to_canonical().is_loopback(),
    }
}

trait Stream: AsyncRead + AsyncWrite + Send + Sync + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Sync + Unpin + 'static> Stream for T {}

/// A response body that counts its bytes against the frame's budget and fails when
/// the server goes quiet for longer than the between-bytes timeout.
struct LimitedBody {
    inner: hyper::body::Incoming,
    budget: Arc<ByteBudget>,
    idle: Duration,
    timer: Pin<Box<Sleep>>,
}

impl Body for LimitedBody {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                let n = frame.data_ref().map_or(0, |d| d.len() as u64);
                if !self.budget.spend(n) {
                    return Poll::Ready(Some(Err(Error::HttpResponseBodySize(Some(
                        self.budget.limit,
                    )))));
                }
                let next = Instant::now() + self.idle;
                self.timer.as_mut().reset(next);
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(Error::Hyper(e)))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => match self.timer.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Some(Err(Error::ConnectionReadTimeout))),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }
}
