//! The simulator's settings: every default matches what DingTalk does or documents.

use std::net::SocketAddr;
use std::time::Duration;

/// Simulator settings. Every default matches what DingTalk does or documents.
#[derive(Debug, Clone)]
pub struct SimBuilder {
    pub(crate) client_id: String,
    pub(crate) client_secret: String,
    /// Further apps (client id, secret) beside the first, for multi-app hosts.
    pub(crate) apps: Vec<(String, String)>,
    pub(crate) bind: SocketAddr,
    pub(crate) ticket_ttl: Duration,
    pub(crate) disconnect_grace: Duration,
    pub(crate) ping_interval: Option<Duration>,
    pub(crate) webhook_ttl: Duration,
    pub(crate) route_wait: Duration,
    pub(crate) token_ttl: Duration,
    pub(crate) redeliver_after: Duration,
    pub(crate) max_redeliveries: u32,
    pub(crate) model_key: String,
}

impl Default for SimBuilder {
    fn default() -> Self {
        Self {
            client_id: "dingsimclientid".into(),
            client_secret: "sim-client-secret".into(),
            apps: Vec::new(),
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            // protocol.md A.3: a ticket opens one connection within 90 s.
            ticket_ttl: Duration::from_secs(90),
            // protocol.md B.4: the server closes 10 s after `disconnect`.
            disconnect_grace: Duration::from_secs(10),
            // Undocumented interval; 30 s keeps tests quiet while still exercising it.
            ping_interval: Some(Duration::from_secs(30)),
            // protocol.md C.2: webhooks live about 90 minutes.
            webhook_ttl: Duration::from_secs(90 * 60),
            // How long a push waits for a subscribed connection (e.g. mid-reconnect).
            route_wait: Duration::from_secs(10),
            // protocol.md D.1: access tokens live 7200 s.
            token_ttl: Duration::from_secs(7200),
            // protocol.md B.8: slow-ACKed robot messages come again after about 60 s.
            redeliver_after: Duration::from_secs(60),
            max_redeliveries: 1,
            model_key: "sim-model-key".into(),
        }
    }
}

impl SimBuilder {
    /// The app credentials the sim accepts.
    pub fn credentials(mut self, client_id: &str, client_secret: &str) -> Self {
        self.client_id = client_id.into();
        self.client_secret = client_secret.into();
        self
    }

    /// Accept one more app beside the first: its connections, tokens and webhooks are
    /// its own, and a token of one app is refused for another app's robot.
    pub fn app(mut self, client_id: &str, client_secret: &str) -> Self {
        self.apps.push((client_id.into(), client_secret.into()));
        self
    }

    /// The secret of the app `client_id`, if the sim knows the app.
    pub(crate) fn secret_of(&self, client_id: &str) -> Option<&str> {
        std::iter::once((&self.client_id, &self.client_secret))
            .chain(self.apps.iter().map(|(i, s)| (i, s)))
            .find(|(i, _)| i.as_str() == client_id)
            .map(|(_, s)| s.as_str())
    }

    /// Listen address. Default `127.0.0.1:0` (a free port).
    pub fn bind(mut self, addr: SocketAddr) -> Self {
        self.bind = addr;
        self
    }

    /// How long after `disconnect` the sim closes the socket. Default 10 s.
    pub fn disconnect_grace(mut self, d: Duration) -> Self {
        self.disconnect_grace = d;
        self
    }

    /// Interval of SYSTEM pings; `None` turns them off. Default 30 s.
    pub fn ping_interval(mut self, d: Option<Duration>) -> Self {
        self.ping_interval = d;
        self
    }

    /// Lifetime of session webhooks. Default 90 minutes.
    pub fn webhook_ttl(mut self, d: Duration) -> Self {
        self.webhook_ttl = d;
        self
    }

    /// How long a push waits for a subscribed connection. Default 10 s.
    pub fn route_wait(mut self, d: Duration) -> Self {
        self.route_wait = d;
        self
    }

    /// Lifetime of access tokens (`expireIn`). Default 7200 s.
    pub fn token_ttl(mut self, d: Duration) -> Self {
        self.token_ttl = d;
        self
    }

    /// Re-push a data frame not ACKed within `after`, or whose connection died, up
    /// to `max` times, with the same messageId. Default: after 60 s, once.
    pub fn redelivery(mut self, after: Duration, max: u32) -> Self {
        self.redeliver_after = after;
        self.max_redeliveries = max;
        self
    }

    /// The API key the model endpoint accepts (`Authorization: Bearer <key>`).
    /// Default `sim-model-key`.
    pub fn model_key(mut self, key: &str) -> Self {
        self.model_key = key.into();
        self
    }
}
