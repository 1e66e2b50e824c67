//! What an operator granted one plugin beyond its own conversation.
//!
//! Parsed once at load from the host config; request-time checks allocate nothing.
//! [`Grants::default`] grants nothing: no OpenAPI paths, no proactive messages.
//!
//! | `openapi` entry        | allows                                  |
//! |------------------------|-----------------------------------------|
//! | `/v1.0/contact/users/me` | exactly that path                     |
//! | `/v1.0/contact/*`      | every path starting with `/v1.0/contact/` |
//!
//! A path with `..` is never allowed; the query string is not part of the match.

/// One allowed OpenAPI path form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathGrant {
    /// Exactly this path.
    Exact(String),
    /// Any path starting with this prefix.
    Prefix(String),
}

/// A plugin's grants.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grants {
    /// OpenAPI paths the generic call may reach. Empty denies every path.
    pub openapi: Vec<PathGrant>,
    /// Whether it may send proactive robot messages.
    pub proactive: bool,
}

impl Grants {
    /// Parse the config file's forms; an entry that is not one of them is an error.
    pub fn parse(openapi: &[String], proactive: bool) -> Result<Self, String> {
        let mut paths = Vec::with_capacity(openapi.len());
        for entry in openapi {
            if !entry.starts_with('/') || entry.contains("..") {
                return Err(format!(
                    "openapi grant {entry:?} must be an absolute path without \"..\""
                ));
            }
            match entry.find('*') {
                None => paths.push(PathGrant::Exact(entry.clone())),
                Some(i) if i == entry.len() - 1 => {
                    paths.push(PathGrant::Prefix(entry[..i].to_owned()))
                }
                Some(_) => return Err(format!("openapi grant {entry:?} may only end with \"*\"")),
            }
        }
        Ok(Self {
            openapi: paths,
            proactive,
        })
    }

    /// Whether the generic call may reach `path` (query ignored).
    pub fn allows_path(&self, path: &str) -> bool {
        let path = path.split_once('?').map_or(path, |(p, _)| p);
        if !path.starts_with('/') || path.contains("..") {
            return false;
        }
        self.openapi.iter().any(|g| match g {
            PathGrant::Exact(p) => p == path,
            PathGrant::Prefix(p) => path.starts_with(p.as_str()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_grants_deny_everything() {
        let g = Grants::default();
        assert!(!g.allows_path("/v1.0/contact/users/me"));
        assert!(!g.proactive);
    }

    #[test]
    fn exact_and_prefix_grants_match_only_their_paths() {
        let g = Grants::parse(
            &["/v1.0/contact/users/me".into(), "/v1.0/calendar/*".into()],
            false,
        )
        .unwrap();
        assert!(g.allows_path("/v1.0/contact/users/me"));
        assert!(g.allows_path("/v1.0/contact/users/me?lang=zh"));
        assert!(!g.allows_path("/v1.0/contact/users/other"));
        assert!(g.allows_path("/v1.0/calendar/events"));
        assert!(!g.allows_path("/v1.0/calendar/../oauth2/accessToken"));
        assert!(!g.allows_path("/v1.0/calendarx"));
    }

    #[test]
    fn malformed_grants_are_refused() {
        assert!(Grants::parse(&["v1.0/x".into()], false).is_err());
        assert!(Grants::parse(&["/v1.0/*/x".into()], false).is_err());
        assert!(Grants::parse(&["/v1.0/../x".into()], false).is_err());
    }
}
