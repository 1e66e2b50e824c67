//! Outbound HTTP: `wasi:http/outgoing-handler`, allowed only to the granted origins,
//! with the headers the operator injects (secrets a plugin can use but never read).
//!
//! ```toml
//! [plugins.aibot]
//! http = ["https://api.deepseek.com", "https://*.example.com", "http://127.0.0.1:11434"]
//!
//! [plugins.aibot.http_headers."https://api.deepseek.com"]
//! Authorization = "Bearer {secret.llm_key}"
//! ```
//!
//! Every request passes [`Hooks::send_request`] before any connection: its origin
//! must match an entry ([`OriginPattern`]), the frame must have requests left
//! (`http_requests`), and then the granted headers replace any the guest set. A refusal
//! is logged with plugin, method and origin, never the path or query. The network side
//! (address vetting, timeouts, the body budget) is [`crate::egress`].

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use http::{HeaderName, HeaderValue};
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

use super::grant::{Grant as GrantTrait, GrantError};
use crate::egress::origin::{Origin, OriginPattern};
use crate::egress::{ByteBudget, Destination, Egress, IoFuture, Timeouts};
use crate::metrics::CallResult;
use crate::runtime::caller::Caller;
use crate::secrets::{Secrets, Template};

/// One header the host sets on requests to an origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InjectedHeader {
    /// The origin entry it applies to (one of the `http` entries).
    pub origin: OriginPattern,
    /// Its name.
    pub name: HeaderName,
    /// Its value, with `{secret.<name>}` placeholders.
    pub value: Template,
}

/// `http = ["https://api.example.com"]` and, per granted origin, the headers the
/// host adds: `[plugins.<name>.http_headers."https://api.example.com"]`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Keys {
    #[serde(default)]
    http: Vec<String>,
    #[serde(default)]
    http_headers: BTreeMap<String, BTreeMap<String, String>>,
}

/// The origins a plugin may send requests to and the headers added to them. Empty
/// denies every request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grant {
    /// Granted origins.
    pub origins: Vec<OriginPattern>,
    /// Headers the host injects.
    pub headers: Vec<InjectedHeader>,
}

impl Grant {
    /// Parse `http` entries.
    pub fn from_entries(entries: &[String]) -> Result<Self, GrantError> {
        Ok(Self {
            origins: entries
                .iter()
                .map(|e| OriginPattern::parse(e).map_err(|why| GrantError::new("http", why)))
                .collect::<Result<_, _>>()?,
            headers: Vec::new(),
        })
    }

    /// Every secret the injected headers name exists in `secrets`.
    pub fn check_secrets(&self, secrets: &Secrets) -> Result<(), GrantError> {
        self.headers.iter().try_for_each(|h| {
            h.value.render(secrets).map(drop).map_err(|e| {
                GrantError::new(
                    "http_headers",
                    format!("{:?} {}: {e}", h.origin.to_string(), h.name),
                )
            })
        })
    }
}

impl GrantTrait for Grant {
    const KEYS: &'static [&'static str] = &["http", "http_headers"];

    type Keys = Keys;

    fn from_keys(keys: Keys) -> Result<Self, GrantError> {
        let mut grant = Self::from_entries(&keys.http)?;
        let bad = |reason: String| GrantError::new("http_headers", reason);
        for (origin, names) in keys.http_headers {
            let pattern = OriginPattern::parse(&origin).map_err(bad)?;
            if !grant.origins.contains(&pattern) {
                return Err(bad(format!(
                    "names {origin:?}, which is not one of its `http` entries"
                )));
            }
            for (name, value) in names {
                let header = HeaderName::from_bytes(name.as_bytes())
                    .map_err(|_| bad(format!("{origin:?}: {name:?} is not a header name")))?;
                if wasmtime_wasi_http::DEFAULT_FORBIDDEN_HEADERS.contains(&header) {
                    return Err(bad(format!(
                        "{origin:?}: {name:?} is set by the host's HTTP client"
                    )));
                }
                grant.headers.push(InjectedHeader {
                    origin: pattern.clone(),
                    name: header,
                    value: Template::parse(&value).map_err(bad)?,
                });
            }
        }
        Ok(grant)
    }

    fn show(&self) -> Vec<String> {
        self.origins
            .iter()
            .map(|o| {
                let names: Vec<&str> = self
                    .headers
                    .iter()
                    .filter(|h| h.origin == *o)
                    .map(|h| h.name.as_str())
                    .collect();
                if names.is_empty() {
                    format!("http:       {o}")
                } else {
                    format!(
                        "http:       {o} (the host adds headers: {})",
                        names.join(", ")
                    )
                }
            })
            .collect()
    }
}

/// What outbound HTTP needs of the plugin it serves, for as long as its frames run
/// (the hooks outlive any one borrow of the store's state).
pub trait Outbound: Send + Sync + 'static {
    /// The plugin.
    fn caller(&self) -> &Caller;
    /// Its grant.
    fn grant(&self) -> &Grant;
    /// The app's outbound HTTP: resolver, TLS roots, secrets.
    fn egress(&self) -> &Egress;
}

/// The per-frame side of outbound HTTP: what `wasi:http` calls before sending.
pub struct Hooks {
    plugin: Arc<dyn Outbound>,
    requests: u32,
    /// Made at the frame's first request: most frames make none, and this state is
    /// built for every frame.
    budget: Option<Arc<ByteBudget>>,
}

impl Hooks {
    /// The hooks of one frame of `plugin`.
    pub fn new(plugin: Arc<dyn Outbound>) -> Self {
        Self {
            plugin,
            requests: 0,
            budget: None,
        }
    }

    /// Refuse `request` (its origin not granted, or the frame's requests used up) or
    /// add the granted headers to it; where it may go.
    /// Vet the request; the destination and the grant entry it matched.
    fn admit(
        &mut self,
        request: &mut http::Request<WasiBody>,
    ) -> Result<(Destination, String), Error> {
        let plugin = self.plugin.caller();
        let method = request.method();
        let metrics = &plugin.metrics;
        // The `origin` label is the grant entry that matched (or "-"): what the
        // operator wrote, so a plugin cannot mint series by asking for new names.
        let count = |entry: &str, result| {
            metrics.http_request(&plugin.name, entry, result);
            metrics.host_call(&plugin.name, "http", result);
        };
        let Some(origin) = Origin::of(request.uri()) else {
            tracing::warn!(plugin = %plugin.name, %method, "outbound request denied: no usable scheme and host");
            count("-", CallResult::Invalid);
            return Err(Error::HttpRequestUriInvalid);
        };
        let grant = self.plugin.grant();
        let Some(entry) = grant.origins.iter().find(|p| p.matches(&origin)) else {
            tracing::warn!(plugin = %plugin.name, %method, %origin, "outbound request denied: origin not granted");
            count("-", CallResult::Denied);
            return Err(Error::HttpRequestDenied);
        };
        let max = plugin.limits.http_requests;
        if self.requests >= max {
            tracing::warn!(plugin = %plugin.name, %method, %origin, max, "outbound request denied: the frame's request limit is reached");
            count(&entry.to_string(), CallResult::Limit);
            return Err(Error::ConnectionLimitReached);
        }
        self.requests += 1;
        let secrets = self.plugin.egress().secrets();
        // Every entry the origin matches contributes its headers, whatever the order
        // of the entries; a request to any other origin gets none of them.
        for header in grant.headers.iter().filter(|h| h.origin.matches(&origin)) {
            let value = header
                .value
                .render(secrets)
                .ok()
                .and_then(|v| HeaderValue::from_str(v.expose()).ok())
                .ok_or(Error::ConfigurationError)?;
            let mut value = value;
            value.set_sensitive(true);
            request.headers_mut().insert(header.name.clone(), value);
        }
        let allow_internal = grant
            .origins
            .iter()
            .any(|p| p.matches(&origin) && p.names_internal());
        Ok((
            Destination {
                origin,
                allow_internal,
            },
            entry.to_string(),
        ))
    }
}

type SendFuture =
    Box<dyn Future<Output = Result<(http::Response<WasiBody>, IoFuture), Error>> + Send>;

impl WasiHttpHooks for Hooks {
    fn send_request(
        &mut self,
        mut request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _fut: IoFuture,
    ) -> SendFuture {
        let (dest, entry) = match self.admit(&mut request) {
            Ok(admitted) => admitted,
            Err(e) => return Box::new(async move { Err(e) }),
        };
        let caller = self.plugin.caller();
        let limits = &caller.limits;
        // The guest may ask for shorter waits, never longer ones.
        let cap = |asked: Option<std::time::Duration>, max| asked.map_or(max, |a| a.min(max));
        let options = options.unwrap_or_default();
        let timeouts = Timeouts {
            connect: cap(options.connect_timeout, limits.http_connect_timeout),
            first_byte: cap(options.first_byte_timeout, limits.http_first_byte_timeout),
            between_bytes: cap(
                options.between_bytes_timeout,
                limits.http_first_byte_timeout,
            ),
        };
        let egress = self.plugin.egress().clone();
        let plugin = caller.name.clone();
        let limit = limits.http_response_bytes;
        let budget = self
            .budget
            .get_or_insert_with(|| ByteBudget::new(limit))
            .clone();
        let method = request.method().clone();
        let metrics = caller.metrics.clone();
        Box::new(async move {
            let started = Instant::now();
            let origin = dest.origin.clone();
            let result = egress.send(dest, request, timeouts, budget).await;
            let ms = started.elapsed().as_millis() as u64;
            let label = match &result {
                Ok(_) => CallResult::Ok,
                Err(Error::DestinationIpProhibited) => CallResult::InternalAddress,
                Err(_) => CallResult::Error,
            };
            metrics.http_request(&plugin, &entry, label);
            metrics.host_call(&plugin, "http", label);
            match &result {
                Ok((response, _)) => {
                    tracing::debug!(%plugin, %method, %origin, status = response.status().as_u16(), ms, "outbound request")
                }
                Err(Error::DestinationIpProhibited) => {
                    tracing::warn!(%plugin, %method, %origin, "outbound request denied: the name resolves only to internal addresses, which the grant does not name")
                }
                Err(e) => {
                    let error = egress.secrets().redact(&e.to_string());
                    tracing::warn!(%plugin, %method, %origin, ms, %error, "outbound request failed")
                }
            }
            result
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(text: &str) -> Result<Grant, String> {
        <Grant as GrantTrait>::parse(&toml::from_str(text).unwrap()).map_err(|e| e.to_string())
    }

    #[test]
    fn headers_may_only_be_injected_for_granted_origins() {
        let g = grant(concat!(
            "http = [\"https://api.deepseek.com\"]\n",
            "[http_headers.\"https://api.deepseek.com\"]\n",
            "Authorization = \"Bearer {secret.llm_key}\"\n",
        ))
        .unwrap();
        assert_eq!(g.headers.len(), 1);
        assert_eq!(
            g.show(),
            ["http:       https://api.deepseek.com (the host adds headers: authorization)"]
        );
        assert!(!format!("{g:?}").contains("Bearer sk"));
        let err = g.check_secrets(&Secrets::default()).unwrap_err();
        assert!(err.to_string().contains("llm_key"), "{err}");
        assert!(
            g.check_secrets(&Secrets::default().with("llm_key", "sk"))
                .is_ok()
        );

        let err = grant(concat!(
            "http = [\"https://api.deepseek.com\"]\n",
            "[http_headers.\"https://evil.io\"]\n",
            "Authorization = \"x\"\n",
        ))
        .unwrap_err();
        assert!(err.contains("not one of its `http` entries"), "{err}");
        let err = grant(concat!(
            "http = [\"https://a.io\"]\n",
            "[http_headers.\"https://a.io\"]\n",
            "Host = \"b.io\"\n",
        ))
        .unwrap_err();
        assert!(err.contains("set by the host"), "{err}");
    }

    #[test]
    fn a_malformed_origin_is_an_error_naming_it() {
        let err = grant("http = [\"api.example.com\"]\n").unwrap_err();
        assert!(err.contains("api.example.com"), "{err}");
    }
}
