//! The CNCF Wasm OCI artifact: one `application/wasm` layer (the component) and an
//! `application/vnd.wasm.config.v0+json` config listing its imports and exports, with
//! the plugin's manifest beside them so a host reads what it asks for before it
//! fetches the layer.
//!
//! Invariants: a reference is parsed once, here, into the registry, repository and
//! tag or digest it names (`oci://host/repo:tag` or `oci://host/repo@sha256:...`); an
//! artifact with another media type or more than one layer is refused, as the v0
//! layout says.

use std::fmt;

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

use crate::manifest::Manifest;

/// The config blob's media type.
pub const CONFIG_MEDIA_TYPE: &str = "application/vnd.wasm.config.v0+json";
/// The component layer's media type.
pub const LAYER_MEDIA_TYPE: &str = "application/wasm";
/// The URL scheme of a registry reference in `load` and on the command line.
pub const SCHEME: &str = "oci://";

/// A parsed `oci://` reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OciRef {
    reference: oci_client::Reference,
}

impl OciRef {
    /// Parse `oci://host[:port]/repo[:tag|@sha256:<hex>]` (a tag defaults to `latest`).
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let rest = text
            .strip_prefix(SCHEME)
            .with_context(|| format!("{text:?} is not an {SCHEME} reference"))?;
        anyhow::ensure!(
            rest.split('/').count() >= 2 && !rest.starts_with('/'),
            "{text:?} must name a registry host and a repository: oci://host/repo:tag"
        );
        anyhow::ensure!(
            !rest.contains("..") && !rest.contains('\\') && rest.is_ascii(),
            "{text:?} is not a plain registry reference"
        );
        let reference: oci_client::Reference = rest
            .parse()
            .with_context(|| format!("{text:?} is not a valid OCI reference"))?;
        // The parser adds docker.io for a first segment that is no host; a plugin
        // reference must name its registry.
        anyhow::ensure!(
            rest.starts_with(reference.registry()),
            "{text:?} must start with its registry host"
        );
        Ok(Self { reference })
    }

    /// Is `text` an `oci://` reference (rather than a file)?
    pub fn is(text: &str) -> bool {
        text.starts_with(SCHEME)
    }

    /// The registry host (and port).
    pub fn registry(&self) -> &str {
        self.reference.registry()
    }

    /// `host/repo`, without tag or digest (what a deny entry names).
    pub fn repository(&self) -> String {
        format!(
            "{}/{}",
            self.reference.registry(),
            self.reference.repository()
        )
    }

    /// The tag, when the reference names one.
    pub fn tag(&self) -> Option<&str> {
        match self.reference.digest() {
            Some(_) if self.reference.tag().is_none() => None,
            _ => Some(self.reference.tag().unwrap_or("latest")),
        }
    }

    /// The same repository at `digest` (what a lock entry pulls again).
    pub fn at_digest(&self, digest: &str) -> Self {
        Self {
            reference: oci_client::Reference::with_digest(
                self.reference.registry().to_owned(),
                self.reference.repository().to_owned(),
                digest.to_owned(),
            ),
        }
    }

    /// The reference `oci-client` takes.
    pub fn reference(&self) -> &oci_client::Reference {
        &self.reference
    }

    /// Whether the registry is this machine (plain HTTP is allowed there).
    pub fn is_loopback(&self) -> bool {
        let host = self.registry();
        let host = host
            .rsplit_once(':')
            .filter(|(_, port)| port.chars().all(|c| c.is_ascii_digit()))
            .map_or(host, |(h, _)| h);
        let host = host.trim_start_matches('[').trim_end_matches(']');
        host == "localhost"
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    }
}

impl fmt::Display for OciRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{SCHEME}{}", self.reference.whole())
    }
}

/// The config blob.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WasmConfig {
    /// When it was pushed (RFC 3339).
    #[serde(default)]
    pub created: Option<String>,
    /// `wasm`.
    pub architecture: String,
    /// `wasip2`.
    pub os: String,
    /// The layer's digest.
    #[serde(rename = "layerDigests", default)]
    pub layer_digests: Vec<String>,
    /// What the component imports and exports.
    pub component: ComponentInfo,
    /// The plugin's manifest (`host build`), when it carries one.
    #[serde(
        rename = "dingtalk-bot-manifest",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub manifest: Option<Manifest>,
}

/// The config's `component` object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComponentInfo {
    /// Its top-level imports.
    #[serde(default)]
    pub imports: Vec<String>,
    /// Its top-level exports.
    #[serde(default)]
    pub exports: Vec<String>,
    /// The world it targets, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
}

impl WasmConfig {
    /// The config of `component` (whose layer has `layer_digest`).
    pub fn of(component: &[u8], layer_digest: &str) -> anyhow::Result<Self> {
        let imports = crate::manifest::imports(component)?;
        // The world is named by the version its `dingtalk:bot` imports carry.
        let target = imports
            .iter()
            .find_map(|i| i.strip_prefix("dingtalk:bot/")?.split_once('@'))
            .map(|(_, version)| format!("dingtalk:bot/plugin@{version}"));
        Ok(Self {
            created: Some(
                time::OffsetDateTime::now_utc()
                    .format(&time::format_description::well_known::Rfc3339)?,
            ),
            architecture: "wasm".into(),
            os: "wasip2".into(),
            layer_digests: vec![layer_digest.to_owned()],
            component: ComponentInfo {
                imports,
                exports: crate::manifest::exports(component)?,
                target,
            },
            manifest: crate::manifest::read(component)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reference_names_its_registry_repository_and_tag_or_digest() {
        let r = OciRef::parse("oci://127.0.0.1:5000/acme/crm:stable").unwrap();
        assert_eq!(r.registry(), "127.0.0.1:5000");
        assert_eq!(r.repository(), "127.0.0.1:5000/acme/crm");
        assert_eq!(r.tag(), Some("stable"));
        assert!(r.is_loopback());
        assert_eq!(r.to_string(), "oci://127.0.0.1:5000/acme/crm:stable");
        let d = format!("sha256:{}", "a".repeat(64));
        let pinned = r.at_digest(&d);
        assert_eq!(pinned.tag(), None);
        assert!(pinned.to_string().ends_with(&d), "{pinned}");
        assert!(
            !OciRef::parse("oci://registry.example/acme/crm")
                .unwrap()
                .is_loopback()
        );
        assert_eq!(
            OciRef::parse("oci://localhost:5000/crm").unwrap().tag(),
            Some("latest")
        );
    }

    #[test]
    fn a_reference_without_a_registry_or_with_tricks_is_refused() {
        for bad in [
            "crm.wasm",
            "oci://crm",
            "oci:///crm",
            "oci://acme/crm",
            "oci://reg.example/../crm",
            "oci://reg.example/crm:\u{1F600}",
        ] {
            assert!(OciRef::parse(bad).is_err(), "{bad}");
        }
    }
}
