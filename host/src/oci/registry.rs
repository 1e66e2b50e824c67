//! Pushing and pulling plugin artifacts (`oci-client`, the ORAS project's OCI
//! distribution client).
//!
//! Invariants:
//! - plain HTTP only to a loopback registry, or one the operator marked
//!   `plain_http = true` in `[registries."<host>"]`; everything else is HTTPS;
//! - credentials (basic or bearer) come from `[secrets]` through the config and are
//!   never printed; an error from the registry is reported with them redacted;
//! - what a pull reads is bounded before it is read: the config blob by
//!   [`MAX_CONFIG`], the layer by [`MAX_LAYER`] (from its descriptor, then while
//!   streaming), one layer of the Wasm media type; `oci-client` checks every blob
//!   against its digest;
//! - a pull reads the config (and so the plugin's manifest) before it fetches the
//!   layer: a refusal on the manifest costs no download.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Context as _;
use futures_util::StreamExt as _;
use oci_client::client::{ClientConfig, ClientProtocol, Config, ImageLayer};
use oci_client::manifest::OciImageManifest;
use oci_client::secrets::RegistryAuth;

use super::artifact::{CONFIG_MEDIA_TYPE, LAYER_MEDIA_TYPE, OciRef, WasmConfig};
use crate::config::Secret;
use crate::secrets::Secrets;

/// The largest config blob read.
pub const MAX_CONFIG: i64 = 1 << 20;
/// The largest component layer fetched.
pub const MAX_LAYER: i64 = 128 << 20;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const READ_TIMEOUT: Duration = Duration::from_secs(60);

/// How to reach one registry.
#[derive(Debug, Clone, Default)]
pub struct RegistrySettings {
    /// Basic auth: the user name.
    pub username: Option<String>,
    /// Basic auth: the password.
    pub password: Option<Secret>,
    /// Bearer auth: the token.
    pub token: Option<Secret>,
    /// Plain HTTP although the registry is not on loopback.
    pub plain_http: bool,
}

/// The registries the config names, by host (and port).
#[derive(Debug, Clone, Default)]
pub struct Registries {
    /// `[registries."<host>"]`.
    pub by_host: BTreeMap<String, RegistrySettings>,
    /// To redact credentials from the registry's messages.
    pub secrets: Secrets,
}

/// An artifact resolved and fetched.
#[derive(Debug, Clone)]
pub struct Pulled {
    /// The manifest's digest (what the lock records, what `@digest` pulls again).
    pub digest: String,
    /// The config blob.
    pub config: WasmConfig,
    /// The component.
    pub component: Vec<u8>,
}

impl Registries {
    fn settings(&self, r: &OciRef) -> RegistrySettings {
        self.by_host.get(r.registry()).cloned().unwrap_or_default()
    }

    fn auth(&self, r: &OciRef) -> RegistryAuth {
        let s = self.settings(r);
        match (&s.username, &s.password, &s.token) {
            (_, _, Some(token)) => RegistryAuth::Bearer(token.expose().to_owned()),
            (Some(user), Some(password), None) => {
                RegistryAuth::Basic(user.clone(), password.expose().to_owned())
            }
            _ => RegistryAuth::Anonymous,
        }
    }

    fn client(&self, r: &OciRef) -> anyhow::Result<oci_client::Client> {
        let plain = r.is_loopback() || self.settings(r).plain_http;
        Ok(oci_client::Client::new(ClientConfig {
            protocol: if plain {
                ClientProtocol::HttpsExcept(vec![r.registry().to_owned()])
            } else {
                ClientProtocol::Https
            },
            connect_timeout: Some(CONNECT_TIMEOUT),
            read_timeout: Some(READ_TIMEOUT),
            // The operator's proxy variables are not read: the registry is named.
            no_proxy: Some("*".into()),
            ..ClientConfig::default()
        }))
    }

    /// `e` as a message naming `step`, with any credential redacted.
    fn failed(&self, step: &str, r: &OciRef, e: impl std::fmt::Display) -> anyhow::Error {
        anyhow::anyhow!("{step} {r}: {}", self.secrets.redact(&e.to_string()))
    }

    /// Push `component` to `r` as a Wasm artifact; the manifest's digest.
    pub async fn push(&self, component: &[u8], r: &OciRef) -> anyhow::Result<String> {
        let layer = ImageLayer::new(component.to_vec(), LAYER_MEDIA_TYPE.into(), None);
        let config = WasmConfig::of(component, &layer.sha256_digest())?;
        let mut annotations = BTreeMap::new();
        if let Some(m) = &config.manifest {
            annotations.insert("org.opencontainers.image.title".into(), m.name.clone());
            annotations.insert("org.opencontainers.image.version".into(), m.version.clone());
            if let Some(p) = &m.publisher {
                annotations.insert("org.opencontainers.image.vendor".into(), p.clone());
            }
        }
        let config = Config::new(serde_json::to_vec(&config)?, CONFIG_MEDIA_TYPE.into(), None);
        let mut manifest =
            OciImageManifest::build(std::slice::from_ref(&layer), &config, Some(annotations));
        manifest.artifact_type = Some(CONFIG_MEDIA_TYPE.into());
        let client = self.client(r)?;
        let auth = self.auth(r);
        client
            .push(r.reference(), &[layer], config, &auth, Some(manifest))
            .await
            .map_err(|e| self.failed("cannot push to", r, e))?;
        client
            .fetch_manifest_digest(r.reference(), &auth)
            .await
            .map_err(|e| self.failed("cannot read back the digest of", r, e))
    }

    /// Resolve `r` to its manifest digest and config, without the layer.
    pub async fn resolve(
        &self,
        r: &OciRef,
    ) -> anyhow::Result<(OciImageManifest, String, WasmConfig)> {
        let client = self.client(r)?;
        let auth = self.auth(r);
        let (manifest, digest) = client
            .pull_image_manifest(r.reference(), &auth)
            .await
            .map_err(|e| self.failed("cannot resolve", r, e))?;
        anyhow::ensure!(
            manifest.config.media_type == CONFIG_MEDIA_TYPE,
            "{r} is not a Wasm component artifact: its config is {:?}, not {CONFIG_MEDIA_TYPE}",
            manifest.config.media_type
        );
        anyhow::ensure!(
            manifest.layers.len() == 1 && manifest.layers[0].media_type == LAYER_MEDIA_TYPE,
            "{r} must hold exactly one {LAYER_MEDIA_TYPE} layer; it has {}",
            manifest
                .layers
                .iter()
                .map(|l| l.media_type.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
        let bytes = self
            .blob(&client, r, &manifest.config, MAX_CONFIG, "config")
            .await?;
        let config: WasmConfig = serde_json::from_slice(&bytes)
            .with_context(|| format!("the config blob of {r} is malformed"))?;
        Ok((manifest, digest, config))
    }

    /// Resolve `r` and fetch its component.
    pub async fn pull(&self, r: &OciRef) -> anyhow::Result<Pulled> {
        let (manifest, digest, config) = self.resolve(r).await?;
        let component = self.layer(r, &manifest).await?;
        Ok(Pulled {
            digest,
            config,
            component,
        })
    }

    /// The component layer of `manifest` (resolved from `r`).
    pub async fn layer(&self, r: &OciRef, manifest: &OciImageManifest) -> anyhow::Result<Vec<u8>> {
        let client = self.client(r)?;
        self.blob(
            &client,
            r,
            &manifest.layers[0],
            MAX_LAYER,
            "component layer",
        )
        .await
    }

    async fn blob(
        &self,
        client: &oci_client::Client,
        r: &OciRef,
        descriptor: &oci_client::manifest::OciDescriptor,
        max: i64,
        what: &str,
    ) -> anyhow::Result<Vec<u8>> {
        anyhow::ensure!(
            (0..=max).contains(&descriptor.size),
            "the {what} of {r} is {} bytes; at most {max} are fetched",
            descriptor.size
        );
        // A blob pull does not authenticate by itself: a fresh client (the layer's)
        // would go anonymous.
        client
            .store_auth_if_needed(r.reference().resolve_registry(), &self.auth(r))
            .await;
        let mut stream = client
            .pull_blob_stream(r.reference(), descriptor)
            .await
            .map_err(|e| self.failed(&format!("cannot fetch the {what} of"), r, e))?;
        let mut out = Vec::with_capacity(usize::try_from(descriptor.size).unwrap_or(0));
        while let Some(chunk) = stream.next().await {
            let chunk =
                chunk.map_err(|e| self.failed(&format!("cannot fetch the {what} of"), r, e))?;
            anyhow::ensure!(
                out.len() + chunk.len() <= usize::try_from(descriptor.size).unwrap_or(0),
                "the {what} of {r} is longer than its descriptor says"
            );
            out.extend_from_slice(&chunk);
        }
        anyhow::ensure!(
            out.len() == usize::try_from(descriptor.size).unwrap_or(0),
            "the {what} of {r} is shorter than its descriptor says"
        );
        Ok(out)
    }
}
