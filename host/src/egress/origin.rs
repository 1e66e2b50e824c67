//! Origins: what an `http` grant entry names and what a request is sent to.
//!
//! Both sides are reduced to (scheme, lower-case host without a trailing dot, port)
//! before they are compared, so spellings a URL parser treats alike (`HTTPS://API.x.com.:443`)
//! match alike and nothing else does. Hosts are ASCII only (IDNs in punycode): a
//! non-ASCII or percent-encoded host is refused rather than normalised, since two
//! parsers may normalise it differently.

use std::fmt;
use std::net::IpAddr;

/// `http` or `https`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// Plain HTTP, default port 80.
    Http,
    /// HTTP over TLS, default port 443.
    Https,
}

impl Scheme {
    fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "http" => Some(Scheme::Http),
            "https" => Some(Scheme::Https),
            _ => None,
        }
    }

    /// The port used when none is given.
    pub fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

/// A host as a request names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    /// A DNS name, lower case, no trailing dot.
    Name(String),
    /// An IP literal.
    Ip(IpAddr),
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Name(n) => f.write_str(n),
            Host::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]"),
            Host::Ip(ip) => write!(f, "{ip}"),
        }
    }
}

/// Where one request goes: scheme, host and port, never a path or a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// Its scheme.
    pub scheme: Scheme,
    /// Its host.
    pub host: Host,
    /// Its port (the scheme's default when the URL gave none).
    pub port: u16,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}:{}", self.scheme.as_str(), self.host, self.port)
    }
}

impl Origin {
    /// The origin of a request URI; `None` when it has no usable scheme or host.
    pub fn of(uri: &http::Uri) -> Option<Origin> {
        let scheme = Scheme::parse(uri.scheme_str()?)?;
        let authority = uri.authority()?;
        if authority.as_str().contains('@') {
            return None;
        }
        let host = parse_host(authority.host())?;
        let port = authority.port_u16().unwrap_or(scheme.default_port());
        Some(Origin { scheme, host, port })
    }
}

/// A granted host: one name, every name under a suffix, or one IP.
#[derive(Debug, Clone, PartialEq, Eq)]
enum HostPattern {
    Exact(String),
    /// `*.example.com` as `.example.com`: one or more labels before it.
    Suffix(String),
    Ip(IpAddr),
}

/// One `http` grant entry: `https://api.example.com`, `https://*.example.com`,
/// `http://127.0.0.1:11434`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginPattern {
    text: String,
    scheme: Scheme,
    host: HostPattern,
    port: u16,
}

impl fmt::Display for OriginPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl OriginPattern {
    /// Parse one entry; the error says what is wrong with it.
    pub fn parse(entry: &str) -> Result<Self, String> {
        let bad = |why: &str| Err(format!("{entry:?} is not an origin: {why}"));
        let Some((scheme, rest)) = entry.split_once("://") else {
            return bad("it needs a scheme, e.g. https://api.example.com");
        };
        let Some(scheme) = Scheme::parse(scheme) else {
            return bad("the scheme must be http or https");
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains(['/', '?', '#', '@']) {
            return bad("an origin has no path, query, fragment or user name");
        }
        if !rest.starts_with('[') && rest.matches(':').count() > 1 {
            return bad("an IPv6 address must be in brackets");
        }
        let (host, port) = match split_port(rest) {
            Ok(Some(host_port)) => host_port,
            Ok(None) => (rest, scheme.default_port()),
            Err(()) => return bad("the port must be a number from 1 to 65535"),
        };
        let host = if let Some(suffix) = host.strip_prefix("*.") {
            match parse_host(suffix) {
                Some(Host::Name(n)) if n.contains('.') || n == "localhost" => {
                    HostPattern::Suffix(format!(".{n}"))
                }
                _ => return bad("a wildcard must be a leading `*.` before a domain"),
            }
        } else if host.contains('*') {
            return bad("a wildcard must be a leading `*.` before a domain");
        } else {
            match parse_host(host) {
                Some(Host::Name(n)) => HostPattern::Exact(n),
                Some(Host::Ip(ip)) => HostPattern::Ip(ip),
                None => return bad("the host must be an ASCII DNS name or an IP literal"),
            }
        };
        Ok(Self {
            text: entry.to_owned(),
            scheme,
            host,
            port,
        })
    }

    /// Whether a request to `origin` is allowed by this entry.
    pub fn matches(&self, origin: &Origin) -> bool {
        if self.scheme != origin.scheme || self.port != origin.port {
            return false;
        }
        match (&self.host, &origin.host) {
            (HostPattern::Exact(p), Host::Name(n)) => p == n,
            (HostPattern::Suffix(s), Host::Name(n)) => n.len() > s.len() && n.ends_with(s.as_str()),
            (HostPattern::Ip(p), Host::Ip(ip)) => p == ip,
            _ => false,
        }
    }

    /// Whether this entry explicitly names a loopback or private destination (an IP
    /// literal, or `localhost`): only then may its requests reach internal addresses.
    pub fn names_internal(&self) -> bool {
        match &self.host {
            HostPattern::Ip(_) => true,
            HostPattern::Exact(n) => n == "localhost",
            HostPattern::Suffix(_) => false,
        }
    }
}

/// `host:port` split: `Ok(None)` when there is no port, `Err` when it is malformed.
fn split_port(authority: &str) -> Result<Option<(&str, u16)>, ()> {
    let (host, port) = match authority.strip_prefix('[') {
        Some(rest) => {
            let (inside, after) = rest.split_once(']').ok_or(())?;
            match after.strip_prefix(':') {
                Some(port) => (&authority[..inside.len() + 2], port),
                None if after.is_empty() => return Ok(None),
                None => return Err(()),
            }
        }
        None => match authority.rsplit_once(':') {
            Some((h, p)) => (h, p),
            None => return Ok(None),
        },
    };
    match port.parse::<u16>() {
        Ok(p) if p > 0 && port.bytes().all(|b| b.is_ascii_digit()) => Ok(Some((host, p))),
        _ => Err(()),
    }
}

/// A host as an ASCII DNS name (lower-cased, one trailing dot dropped) or an IP
/// literal (`[...]` for IPv6); anything else is `None`.
fn parse_host(host: &str) -> Option<Host> {
    if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return v6.parse().ok().map(Host::Ip);
    }
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Some(Host::Ip(ip));
    }
    let name = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    (name.len() <= 253 && name.split('.').all(label_ok)).then_some(Host::Name(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin(url: &str) -> Option<Origin> {
        Origin::of(&url.parse::<http::Uri>().ok()?)
    }

    fn allows(entry: &str, url: &str) -> bool {
        let p = OriginPattern::parse(entry).unwrap();
        origin(url).is_some_and(|o| p.matches(&o))
    }

    #[test]
    fn an_entry_matches_its_origin_however_the_url_spells_it() {
        let e = "https://api.deepseek.com";
        assert!(allows(e, "https://api.deepseek.com/v1/chat"));
        assert!(allows(e, "HTTPS://API.DeepSeek.com:443/x?y=1"));
        assert!(allows(e, "https://api.deepseek.com./x"));
        assert!(!allows(e, "http://api.deepseek.com/x"));
        assert!(!allows(e, "https://api.deepseek.com:8443/x"));
        assert!(!allows(e, "https://api.deepseek.com.evil.io/x"));
        assert!(!allows(e, "https://evilapi.deepseek.com/x"));
        assert!(!allows(e, "https://api.deepseek.com@evil.io/x"));
        assert!(!allows(e, "https://evil.io/api.deepseek.com"));
        assert!(allows(
            "http://127.0.0.1:11434",
            "http://127.0.0.1:11434/api"
        ));
        assert!(!allows("http://127.0.0.1:11434", "http://127.0.0.1:11435/"));
        assert!(allows("http://[::1]:8080/", "http://[::1]:8080/x"));
    }

    #[test]
    fn a_wildcard_matches_one_or_more_labels_and_never_the_bare_domain() {
        let e = "https://*.example.com";
        assert!(allows(e, "https://a.example.com/"));
        assert!(allows(e, "https://a.b.example.com/"));
        assert!(!allows(e, "https://example.com/"));
        assert!(!allows(e, "https://aexample.com/"));
        assert!(!allows(e, "https://a.example.com.evil.io/"));
    }

    #[test]
    fn malformed_entries_are_refused_with_the_reason() {
        for (entry, why) in [
            ("api.example.com", "scheme"),
            ("ftp://x.com", "http or https"),
            ("https://x.com/v1", "no path"),
            ("https://x.com?q", "no path"),
            ("https://u@x.com", "no path"),
            ("https://x.com:0", "port"),
            ("https://x.com:99999", "port"),
            ("https://x.com:8a", "port"),
            ("https://a.*.com", "wildcard"),
            ("https://*.com", "wildcard"),
            ("https://*", "wildcard"),
            ("https://exämple.com", "ASCII DNS name"),
            ("https://x%2ecom", "ASCII DNS name"),
        ] {
            let err = OriginPattern::parse(entry).unwrap_err();
            assert!(err.contains(why), "{entry}: {err}");
        }
    }

    #[test]
    fn only_ip_literals_and_localhost_name_internal_destinations() {
        let internal = |e: &str| OriginPattern::parse(e).unwrap().names_internal();
        assert!(internal("http://127.0.0.1:11434"));
        assert!(internal("http://localhost:8080"));
        assert!(internal("http://[::1]:8080"));
        assert!(!internal("https://api.example.com"));
        assert!(!internal("https://*.localhost"));
    }

    #[test]
    fn request_hosts_that_parsers_disagree_on_are_not_origins() {
        assert!(origin("https://exa%6dple.com/").is_none());
        assert!(origin("https://u:p@example.com/").is_none());
        assert!(origin("/relative").is_none());
        assert!(origin("gopher://example.com/").is_none());
    }
}
