//! Opening a connection: the HTTP call that trades credentials and subscriptions for
//! a WebSocket endpoint and a single-use ticket (protocol.md A).

use super::subscription::Subscription;
use serde_json::Value;

use crate::config::{Credentials, Endpoints};
use crate::openapi::{Error, Http, Step};

/// What the gateway handed back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ticket {
    /// `ws://` or `wss://` URL to connect to.
    pub endpoint: String,
    /// Valid for one connection, for 90 seconds.
    pub ticket: String,
}

impl Ticket {
    /// The WebSocket URL: the endpoint with the ticket as a query parameter.
    pub fn url(&self) -> Result<reqwest::Url, Error> {
        let mut url = reqwest::Url::parse(&self.endpoint).map_err(|e| Error::BadResponse {
            step: Step::Open,
            detail: format!("endpoint {:?} is not a URL: {e}", self.endpoint),
        })?;
        url.query_pairs_mut().append_pair("ticket", &self.ticket);
        Ok(url)
    }
}

/// The `ua` this host reports, in the documented `name-sdk-lang/version` form.
pub const USER_AGENT: &str = concat!("dingtalk-wasm-host-rust/", env!("CARGO_PKG_VERSION"));

/// `POST {openapi}/v1.0/gateway/connections/open`.
pub async fn open(
    http: &Http,
    endpoints: &Endpoints,
    credentials: &Credentials,
    subscriptions: &[Subscription],
    local_ip: Option<&str>,
) -> Result<Ticket, Error> {
    let mut body = serde_json::json!({
        "clientId": credentials.client_id,
        "clientSecret": credentials.client_secret.expose(),
        "subscriptions": subscriptions,
        "ua": USER_AGENT,
    });
    if let Some(ip) = local_ip {
        body["localIp"] = Value::String(ip.to_owned());
    }
    let url = endpoints.openapi_url("/v1.0/gateway/connections/open");
    let answer = http.post_json(Step::Open, &url, &body).await?;
    let field = |k: &str| {
        answer
            .get(k)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| Error::BadResponse {
                step: Step::Open,
                detail: format!("no {k} in the answer"),
            })
    };
    Ok(Ticket {
        endpoint: field("endpoint")?,
        ticket: field("ticket")?,
    })
}

/// The local address used to reach the API host, for the `localIp` diagnostic
/// field. Connecting a UDP socket sends nothing; it only asks the kernel for a route.
pub async fn local_ip(endpoints: &Endpoints) -> Option<String> {
    let url = reqwest::Url::parse(&endpoints.openapi).ok()?;
    let host = url.host_str()?.to_owned();
    let port = url.port_or_known_default()?;
    let target = tokio::net::lookup_host((host, port)).await.ok()?.next()?;
    let bind = if target.is_ipv4() {
        "0.0.0.0:0"
    } else {
        "[::]:0"
    };
    let socket = tokio::net::UdpSocket::bind(bind).await.ok()?;
    socket.connect(target).await.ok()?;
    Some(socket.local_addr().ok()?.ip().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ticket_is_url_encoded_into_the_endpoint() {
        let t = Ticket {
            endpoint: "ws://127.0.0.1:9/connect".into(),
            ticket: "a b+c".into(),
        };
        assert_eq!(
            t.url().unwrap().as_str(),
            "ws://127.0.0.1:9/connect?ticket=a+b%2Bc"
        );
    }
}
