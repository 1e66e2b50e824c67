//! The generic DingTalk OpenAPI call, authenticated by the host, limited to the paths
//! (and, optionally, methods) the operator granted.
//!
//! | `openapi` entry               | allows                                        |
//! |-------------------------------|-----------------------------------------------|
//! | `"/v1.0/contact/users/me"`    | exactly that path, any method                 |
//! | `"/v1.0/calendar/*"`          | every path under `/v1.0/calendar/`, any method |
//! | `"GET /v1.0/contact/users/*"` | the same, for GET only (`"GET,POST /…"` for two) |
//!
//! The plugin's path is parsed once into the URL that is sent, on the configured
//! base's scheme, host and port; the grant is matched against that parsed path. Input
//! whose parsed path would differ from what the plugin wrote is refused rather than
//! normalised: dot segments (`..`, `.`, and their encodings `%2e`), encoded slashes
//! or backslashes (`%2f`, `%5c`), backslashes, `//`, `@`, fragments, spaces, control
//! characters (a tab or newline inside `..` is dropped by URL parsers) and non-ASCII.
//! Limits: the path and query at most 2048 bytes, the JSON body at most
//! [`MAX_BODY`] bytes.

use reqwest::{Method, Url};
use serde_json::Value;

use super::args::{MAX_URL, cap_text, check_len};
use super::grant::{Grant as GrantTrait, GrantError};
use crate::openapi::Step;
use crate::runtime::allowance::DingtalkCall;
use crate::runtime::bindings::dingtalk::bot::openapi;
use crate::runtime::bindings::linked_view;
use crate::runtime::bindings::{HostResult, denied, invalid};
use crate::runtime::caller::Calls;

/// Largest JSON body of a generic call.
pub const MAX_BODY: usize = 64 << 10;

/// The methods the generic call supports.
const METHODS: [Method; 5] = [
    Method::GET,
    Method::POST,
    Method::PUT,
    Method::PATCH,
    Method::DELETE,
];

fn method(name: &str) -> Option<Method> {
    METHODS
        .iter()
        .find(|m| m.as_str().eq_ignore_ascii_case(name))
        .cloned()
}

/// One allowed path form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathGrant {
    /// Exactly this path.
    Exact(String),
    /// Any path starting with this prefix (which ends with `/` or is a whole prefix).
    Prefix(String),
}

/// One granted route: a path form, for some methods or all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// `None`: every method.
    pub methods: Option<Vec<Method>>,
    /// The path form.
    pub path: PathGrant,
}

/// `openapi = ["/v1.0/contact/users/me", "GET /v1.0/calendar/*"]`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Keys {
    #[serde(default)]
    openapi: Vec<String>,
}

/// The OpenAPI routes a plugin may call. Empty denies every call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grant {
    /// Granted routes.
    pub routes: Vec<Route>,
}

impl Grant {
    /// Parse `openapi` entries; an entry that is not one of the forms is an error.
    pub fn from_entries(entries: &[String]) -> Result<Self, GrantError> {
        let bad = |reason: String| GrantError::new("openapi", reason);
        let mut routes = Vec::with_capacity(entries.len());
        for entry in entries {
            let (methods, path) = match entry.split_once(' ') {
                Some((methods, path)) => {
                    let methods = methods
                        .split(',')
                        .map(|m| {
                            method(m).ok_or_else(|| {
                                bad(format!("entry {entry:?} names an unknown method {m:?}"))
                            })
                        })
                        .collect::<Result<Vec<_>, _>>()?;
                    (Some(methods), path.trim())
                }
                None => (None, entry.as_str()),
            };
            if !path.starts_with('/') || unsafe_path(path).is_some() {
                return Err(bad(format!(
                    "entry {entry:?} must be a plain absolute path (no \"..\", \"%\", \"//\" or \"\\\")"
                )));
            }
            let path = match path.find('*') {
                None => PathGrant::Exact(path.to_owned()),
                Some(i) if i == path.len() - 1 => PathGrant::Prefix(path[..i].to_owned()),
                Some(_) => {
                    return Err(bad(format!("entry {entry:?} may only end with \"*\"")));
                }
            };
            routes.push(Route { methods, path });
        }
        Ok(Self { routes })
    }

    /// Whether `method` may reach the (already parsed and checked) `path`.
    pub fn allows(&self, method: &Method, path: &str) -> bool {
        self.routes.iter().any(|r| {
            r.methods.as_ref().is_none_or(|ms| ms.contains(method))
                && match &r.path {
                    PathGrant::Exact(p) => p == path,
                    PathGrant::Prefix(p) => path.starts_with(p.as_str()),
                }
        })
    }
}

impl GrantTrait for Grant {
    const KEYS: &'static [&'static str] = &["openapi"];

    type Keys = Keys;

    fn from_keys(keys: Keys) -> Result<Self, GrantError> {
        Self::from_entries(&keys.openapi)
    }

    fn show(&self) -> Vec<String> {
        self.routes
            .iter()
            .map(|r| {
                let methods = r.methods.as_ref().map_or("any method".to_owned(), |ms| {
                    ms.iter().map(Method::as_str).collect::<Vec<_>>().join(",")
                });
                let path = match &r.path {
                    PathGrant::Exact(p) => p.clone(),
                    PathGrant::Prefix(p) => format!("{p}*"),
                };
                format!("openapi:    {path} ({methods})")
            })
            .collect()
    }
}

/// Why `path` (no query) is not plain, if it is not.
fn unsafe_path(path: &str) -> Option<&'static str> {
    if let Some(c) = path
        .chars()
        .find(|c| !c.is_ascii() || c.is_ascii_control() || matches!(c, ' ' | '\\' | '#' | '@'))
    {
        return Some(match c {
            '\\' => "a backslash",
            '#' => "a fragment",
            '@' => "an \"@\"",
            ' ' => "a space",
            c if !c.is_ascii() => "a non-ASCII character",
            _ => "a control character",
        });
    }
    let lower = path.to_ascii_lowercase();
    if ["%2e", "%2f", "%5c", "%00"]
        .iter()
        .any(|e| lower.contains(e))
    {
        return Some("an encoded dot, slash or backslash");
    }
    if path.contains("//") {
        return Some("an empty segment (\"//\")");
    }
    if path.split('/').any(|s| s == "." || s == "..") {
        return Some("a dot segment");
    }
    None
}

/// The URL a plugin's `path` (with optional query) names under `base`, parsed once;
/// refused unless it stays on the base's origin and its parsed path and query are
/// exactly what the plugin wrote. Returns the URL and the path to match grants on.
pub fn resolve(base: &Url, raw: &str) -> Result<(Url, String), String> {
    let (path, query) = match raw.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (raw, None),
    };
    if !path.starts_with('/') {
        return Err("the path must start with \"/\"".into());
    }
    if let Some(why) = unsafe_path(path) {
        return Err(format!("the path has {why}"));
    }
    if let Some(q) = query
        && q.chars()
            .any(|c| !c.is_ascii() || c.is_ascii_control() || matches!(c, ' ' | '#' | '\\'))
    {
        return Err("the query has a character that must be percent-encoded".into());
    }
    let prefix = base.path().trim_end_matches('/');
    let mut url = base.clone();
    url.set_path(&format!("{prefix}{path}"));
    url.set_query(query);
    url.set_fragment(None);
    let same_origin = url.scheme() == base.scheme()
        && url.host_str() == base.host_str()
        && url.port_or_known_default() == base.port_or_known_default()
        && url.username().is_empty()
        && url.password().is_none();
    let expected_path = format!("{prefix}{path}");
    if !same_origin || url.path() != expected_path || url.query() != query {
        return Err("the path does not parse to itself".into());
    }
    Ok((url, path.to_owned()))
}

impl View<'_> {
    /// The URL `path` names, if it parses to itself and the plugin is granted it.
    fn granted_url(&self, method: &Method, base: &Url, path: &str) -> HostResult<Url> {
        let refused = |why: &str| {
            denied(format!(
                "plugin {:?} is not granted the OpenAPI path {:?}: {why}",
                self.calls.caller().name,
                cap_text(path.to_owned(), 256)
            ))
        };
        let (url, parsed) = resolve(base, path).map_err(|why| refused(&why))?;
        if !self.grant.allows(method, &parsed) {
            return Err(refused("add it to `openapi` in its host config section"));
        }
        Ok(url)
    }
}

/// What the generic call uses: the plugin's granted routes.
pub struct View<'a> {
    /// The plugin and its frame's DingTalk calls.
    pub calls: Calls<'a>,
    /// The routes it may call.
    pub grant: &'a Grant,
}

linked_view!(View);

impl openapi::Host for View<'_> {
    async fn call(
        &mut self,
        method_name: String,
        path: String,
        body: Option<String>,
    ) -> HostResult<String> {
        self.calls
            .caller()
            .counted("openapi", async {
                check_len("the path", &path, MAX_URL)?;
                let Some(method) = method(&method_name) else {
                    return Err(invalid(format!(
                        "unsupported method {:?}",
                        cap_text(method_name, 16)
                    )));
                };
                if let Some(b) = &body {
                    check_len("the body", b, MAX_BODY)?;
                }
                let api = self.calls.api()?;
                let base = api
                    .openapi_base()
                    .ok_or_else(|| denied("the host's OpenAPI endpoint is not a URL"))?;
                let url = self.granted_url(&method, base, &path)?;
                let body = body
                    .map(|text| serde_json::from_str::<Value>(&text))
                    .transpose()
                    .map_err(|e| invalid(format!("the body is not valid JSON: {e}")))?;
                self.calls.dingtalk(DingtalkCall::OpenApi)?;
                let answer = api
                    .call_url(Step::OpenApi, method, url, body.as_ref())
                    .await?;
                Ok(answer.to_string())
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Url {
        Url::parse("https://api.dingtalk.com").unwrap()
    }

    #[test]
    fn exact_prefix_and_method_grants_match_only_their_routes() {
        let g = Grant::from_entries(&[
            "/v1.0/contact/users/me".into(),
            "/v1.0/calendar/*".into(),
            "GET,POST /v1.0/todo/*".into(),
        ])
        .unwrap();
        assert!(g.allows(&Method::GET, "/v1.0/contact/users/me"));
        assert!(g.allows(&Method::DELETE, "/v1.0/contact/users/me"));
        assert!(!g.allows(&Method::GET, "/v1.0/contact/users/other"));
        assert!(g.allows(&Method::GET, "/v1.0/calendar/events"));
        assert!(!g.allows(&Method::GET, "/v1.0/calendarx"));
        assert!(g.allows(&Method::POST, "/v1.0/todo/tasks"));
        assert!(!g.allows(&Method::DELETE, "/v1.0/todo/tasks"));
        assert!(!Grant::default().allows(&Method::GET, "/v1.0/contact/users/me"));
    }

    #[test]
    fn malformed_grants_are_refused() {
        for bad in [
            "v1.0/x",
            "/v1.0/*/x",
            "/v1.0/../x",
            "/v1.0/%2e%2e/x",
            "FETCH /v1.0/x",
        ] {
            assert!(Grant::from_entries(&[bad.into()]).is_err(), "{bad}");
        }
    }

    #[test]
    fn paths_that_a_url_parser_would_rewrite_are_refused() {
        for raw in [
            "/v1.0/calendar/%2e%2e/%2e%2e/v1.0/robot/oToMessages/batchSend",
            "/v1.0/calendar/.%2e/x",
            "/v1.0/calendar/%2E./x",
            "/v1.0/calendar/.\t./x",
            "/v1.0/calendar/.\n./x",
            "/v1.0/calendar/..%2fx",
            "/v1.0/calendar/..%5cx",
            "/v1.0/calendar/..\\x",
            "/v1.0/calendar/../x",
            "/v1.0/calendar/./x",
            "/v1.0/calendar//evil.example/x",
            "//evil.example/v1.0/calendar/x",
            "/v1.0/calendar/@evil.example",
            "/v1.0/calendar/x#frag",
            "/v1.0/calendar/ x",
            "/v1.0/calendar/é",
            "/v1.0/calendar/x?a=b c",
            "v1.0/calendar/x",
        ] {
            assert!(resolve(&base(), raw).is_err(), "{raw:?} was accepted");
        }
    }

    #[test]
    fn a_plain_path_resolves_to_itself_on_the_base_origin() {
        let (url, path) = resolve(&base(), "/v1.0/calendar/events?from=1&to=2").unwrap();
        assert_eq!(
            url.as_str(),
            "https://api.dingtalk.com/v1.0/calendar/events?from=1&to=2"
        );
        assert_eq!(path, "/v1.0/calendar/events");
        let prefixed = Url::parse("http://127.0.0.1:9000/gw/").unwrap();
        let (url, path) = resolve(&prefixed, "/v1.0/x").unwrap();
        assert_eq!(url.as_str(), "http://127.0.0.1:9000/gw/v1.0/x");
        assert_eq!(path, "/v1.0/x");
    }
}
