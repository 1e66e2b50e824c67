//! Publisher signatures on components, in the WebAssembly tool-conventions format
//! (`Signatures.md`: a `signature` custom section first, Ed25519 over a SHA-256 of
//! every section after it), through its reference implementation `wasmsign2`, so a
//! file signed by its CLI verifies here and one signed here verifies there.
//!
//! Invariants:
//! - [`verify`] answers which trusted key signed the whole file, or exactly why not
//!   ([`Refusal`]: unsigned, changed after signing, signed by keys not trusted,
//!   unreadable); a signature over only part of the file never counts;
//! - [`sign`] adds a signature and keeps the ones already there (several publishers,
//!   or one rotating keys), and always records the key id so a verifier can name it;
//! - keys are read from OpenSSH lines (`ssh-ed25519 AAAA...`, as `ssh-keygen -t
//!   ed25519` writes them) or wasmsign2's own encodings; a key prints as its OpenSSH
//!   line and its `SHA256:` fingerprint (as `ssh-keygen -l` prints it), never as raw
//!   bytes. Nothing here knows plugins or the config file.

use std::collections::HashSet;
use std::fmt;

use sha2::{Digest as _, Sha256};
use wasmsign2::reexports::ct_codecs::{Base64, Base64NoPadding, Encoder as _};
use wasmsign2::{KeyPair, Module, PublicKey, PublicKeySet, SecretKey, Section, WSError};

/// A public key the operator trusts, with how it was written.
#[derive(Clone)]
pub struct TrustedKey {
    key: PublicKey,
    fingerprint: String,
}

impl fmt::Debug for TrustedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.fingerprint)
    }
}

impl PartialEq for TrustedKey {
    fn eq(&self, other: &Self) -> bool {
        self.fingerprint == other.fingerprint
    }
}

impl Eq for TrustedKey {}

impl TrustedKey {
    /// Read one public key: an OpenSSH `ssh-ed25519` line or a wasmsign2 encoding.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let key = PublicKey::from_openssh(text)
            .or_else(|_| PublicKey::from_any(text.as_bytes()))
            .map_err(|_| {
                format!(
                    "{:?} is not an Ed25519 public key (an `ssh-ed25519 AAAA...` line)",
                    shorten(text)
                )
            })?;
        Ok(Self::of(key))
    }

    fn of(key: PublicKey) -> Self {
        let key = PublicKey {
            pk: key.pk,
            key_id: None,
        }
        .attach_default_key_id();
        let fingerprint = fingerprint(&key);
        Self { key, fingerprint }
    }

    /// `SHA256:<base64>`, as `ssh-keygen -l` prints the same key.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// The `ssh-ed25519 AAAA...` line.
    pub fn openssh(&self) -> String {
        openssh_line(&self.key)
    }
}

fn shorten(text: &str) -> String {
    text.chars().take(40).collect()
}

/// The OpenSSH wire form of an Ed25519 public key.
fn blob(key: &PublicKey) -> Vec<u8> {
    let mut out = Vec::with_capacity(51);
    for part in [b"ssh-ed25519".as_slice(), key.pk.as_ref()] {
        out.extend_from_slice(&(part.len() as u32).to_be_bytes());
        out.extend_from_slice(part);
    }
    out
}

fn openssh_line(key: &PublicKey) -> String {
    let b64 = Base64::encode_to_string(blob(key)).unwrap_or_default();
    format!("ssh-ed25519 {b64}")
}

fn fingerprint(key: &PublicKey) -> String {
    let digest = Sha256::digest(blob(key));
    format!(
        "SHA256:{}",
        Base64NoPadding::encode_to_string(digest).unwrap_or_default()
    )
}

/// A new key pair: the secret key's bytes (wasmsign2's encoding, for
/// [`SigningKey::parse`]) and its public key.
pub fn keygen() -> (Vec<u8>, TrustedKey) {
    let pair = KeyPair::generate();
    (pair.sk.to_bytes(), TrustedKey::of(pair.pk))
}

/// A secret key to sign with, and the public key it goes with.
pub struct SigningKey {
    secret: SecretKey,
    public: TrustedKey,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey({})", self.public.fingerprint)
    }
}

impl SigningKey {
    /// Read a secret key: an unencrypted OpenSSH Ed25519 private key (`ssh-keygen -t
    /// ed25519 -N ""`) or one from [`keygen`].
    pub fn parse(data: &[u8]) -> Result<Self, String> {
        let secret = SecretKey::from_any(data).map_err(|_| {
            "not an Ed25519 secret key (an unencrypted OpenSSH key, or one from `host keygen`)"
                .to_owned()
        })?;
        // An Ed25519 secret key carries its public half in its last 32 bytes.
        let pk = ed25519_public(&secret).ok_or("the secret key holds no public key")?;
        Ok(Self {
            secret,
            public: TrustedKey::of(pk),
        })
    }

    /// The public key that verifies what this key signs.
    pub fn public(&self) -> &TrustedKey {
        &self.public
    }
}

fn ed25519_public(secret: &SecretKey) -> Option<PublicKey> {
    let bytes = secret.sk.as_ref();
    let mut raw = vec![0x01];
    raw.extend_from_slice(bytes.get(32..64)?);
    PublicKey::from_bytes(&raw).ok()
}

/// Why a file does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// It carries no signature.
    #[error("it is not signed")]
    Unsigned,
    /// A trusted key's signature is there but does not match the bytes.
    #[error(
        "its signature by {0} does not match its contents: the file changed after it was signed"
    )]
    Changed(String),
    /// Signed, but by none of the trusted keys.
    #[error("it is signed ({0}), but by none of the trusted keys")]
    Untrusted(String),
    /// Not a file the signature format can read.
    #[error("its signature cannot be read: {0}")]
    Unreadable(String),
}

/// Which of `trusted` signed the whole of `bytes` (its fingerprint), or why none did.
pub fn verify(bytes: &[u8], trusted: &[TrustedKey]) -> Result<String, Refusal> {
    let unreadable = |e: WSError| Refusal::Unreadable(e.to_string());
    // Only the first section is read here; the whole-file check below streams the rest.
    let mut reader = bytes;
    let first = Module::iterate(Module::init_from_reader(&mut reader).map_err(unreadable)?)
        .map_err(unreadable)?
        .next()
        .transpose()
        .map_err(unreadable)?;
    let header = match &first {
        Some(Section::Custom(c)) if c.is_signature_header() => c,
        _ => return Err(Refusal::Unsigned),
    };
    let data = header.signature_data().map_err(unreadable)?;
    let signers: Vec<Vec<u8>> = data
        .signed_hashes_set
        .iter()
        .flat_map(|h| h.signatures.iter().filter_map(|s| s.key_id.clone()))
        .collect();
    if data
        .signed_hashes_set
        .iter()
        .all(|h| h.signatures.is_empty())
    {
        return Err(Refusal::Unsigned);
    }
    let set = PublicKeySet::new(
        trusted
            .iter()
            .map(|k| k.key.clone())
            .collect::<HashSet<_>>(),
    );
    // The whole-file check (one hash over every byte after the signature section).
    // Not `verify_matrix`/`verify_multi`: in wasmsign2 0.2.8 they compare hashes only
    // at signature delimiters, so a file signed without delimiters verifies there
    // whatever was changed after signing (the test below changes a byte).
    let verified = set.verify(&mut &bytes[..], None).ok().and_then(|keys| {
        trusted
            .iter()
            .find(|t| keys.iter().any(|k| k.pk == t.key.pk))
            .map(|t| t.fingerprint.clone())
    });
    if let Some(fp) = verified {
        return Ok(fp);
    }
    let named = trusted
        .iter()
        .find(|t| t.key.key_id().is_some_and(|id| signers.contains(id)));
    match named {
        Some(t) => Err(Refusal::Changed(t.fingerprint.clone())),
        None => {
            let ids: Vec<String> = signers
                .iter()
                .map(|id| id.iter().map(|b| format!("{b:02x}")).collect())
                .collect();
            let by = if ids.is_empty() {
                "by keys it does not name".to_owned()
            } else {
                format!("key ids {}", ids.join(", "))
            };
            Err(Refusal::Untrusted(by))
        }
    }
}

/// The file-wide rules of `[trust]`: whether every plugin must name a publisher, and
/// what is denied whoever signed it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    /// `require_signatures`.
    pub require_signatures: bool,
    denied_digests: Vec<[u8; 32]>,
    denied_keys: Vec<TrustedKey>,
    /// `oci://host/repo` (every tag) or `oci://host/repo:tag`.
    denied_sources: Vec<String>,
}

impl Policy {
    /// Read `deny` entries: `sha256:<64 hex digits>` (those bytes),
    /// `key:ssh-ed25519 AAAA...` (anything that key signed) or `oci://host/repo`
    /// (anything pulled from that repository; `oci://host/repo:tag`, that tag).
    pub fn new(require_signatures: bool, deny: &[String]) -> Result<Self, String> {
        let mut out = Self {
            require_signatures,
            ..Self::default()
        };
        for entry in deny {
            if let Some(hex) = entry.strip_prefix("sha256:") {
                let digest = decode_hex(hex)
                    .ok_or_else(|| format!("{entry:?}: sha256: needs 64 hex digits"))?;
                out.denied_digests.push(digest);
            } else if let Some(key) = entry.strip_prefix("key:") {
                out.denied_keys.push(TrustedKey::parse(key)?);
            } else if let Some(source) = entry.strip_prefix("oci://") {
                if source.is_empty() || source.contains('@') || !source.contains('/') {
                    return Err(format!(
                        "{entry:?}: an oci:// entry names a repository, `oci://host/repo` or `oci://host/repo:tag`"
                    ));
                }
                out.denied_sources.push(source.to_owned());
            } else {
                return Err(format!(
                    "{:?} is not `sha256:<hex>`, `key:ssh-ed25519 ...` or `oci://host/repo`",
                    shorten(entry)
                ));
            }
        }
        Ok(out)
    }

    /// Why a plugin already loaded is denied now, if it is: by its SHA-256 (hex) or
    /// the fingerprint of the key that signed it.
    pub fn denied_loaded(&self, sha256_hex: &str, key: Option<&str>) -> Option<String> {
        if let Some(d) = decode_hex(sha256_hex)
            && self.denied_digests.contains(&d)
        {
            return Some(format!(
                "its digest sha256:{sha256_hex} is on the deny list"
            ));
        }
        key.and_then(|k| self.denied_keys.iter().find(|d| d.fingerprint() == k))
            .map(|d| {
                format!(
                    "it is signed by {}, a key on the deny list",
                    d.fingerprint()
                )
            })
    }

    /// Why the repository `host/repo` with `tag` is denied, if it is.
    pub fn denied_source(&self, repository: &str, tag: Option<&str>) -> Option<String> {
        self.denied_sources
            .iter()
            .find(|d| {
                *d == repository
                    || tag.is_some_and(|t| d.strip_prefix(repository) == Some(&format!(":{t}")))
            })
            .map(|d| format!("oci://{d} is on the deny list"))
    }

    /// Why `bytes` (of SHA-256 `digest`) are denied, if they are: their digest is
    /// listed, or a listed key signed them (whoever else did too).
    pub fn denied(&self, bytes: &[u8], digest: &[u8; 32]) -> Option<String> {
        if self.denied_digests.contains(digest) {
            let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
            return Some(format!("its digest sha256:{hex} is on the deny list"));
        }
        if self.denied_keys.is_empty() {
            return None;
        }
        verify(bytes, &self.denied_keys)
            .ok()
            .map(|key| format!("it is signed by {key}, a key on the deny list"))
    }
}

fn decode_hex(hex: &str) -> Option<[u8; 32]> {
    if hex.len() != 64 || !hex.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

/// `bytes` with a signature by `key` added (signatures already there are kept).
pub fn sign(bytes: &[u8], key: &SigningKey) -> Result<Vec<u8>, String> {
    let module = Module::deserialize(&mut &bytes[..])
        .map_err(|e| format!("not a WebAssembly file the signature format can read: {e}"))?;
    let key_id = key.public.key.key_id().cloned();
    let (signed, _) = key
        .secret
        .sign_multi(module, key_id.as_ref(), false, false)
        .map_err(|e| match e {
            WSError::DuplicateSignature => {
                format!("it is already signed by {}", key.public.fingerprint)
            }
            e => format!("cannot sign it: {e}"),
        })?;
    let mut out = Vec::with_capacity(bytes.len() + 256);
    signed
        .serialize(&mut out)
        .map_err(|e| format!("cannot write the signed file: {e}"))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The smallest component: its preamble and one custom section.
    fn component() -> Vec<u8> {
        let mut out = b"\0asm\x0d\x00\x01\x00".to_vec();
        out.extend_from_slice(&[0x00, 0x05, 0x04, b'n', b'o', b't', b'e']);
        out
    }

    fn key() -> SigningKey {
        SigningKey::parse(&keygen().0).expect("a fresh key")
    }

    #[test]
    fn a_signed_component_verifies_by_its_key_and_names_why_otherwise() {
        let (acme, other) = (key(), key());
        let file = component();
        assert_eq!(
            verify(&file, std::slice::from_ref(acme.public())),
            Err(Refusal::Unsigned)
        );
        let signed = sign(&file, &acme).unwrap();
        assert_eq!(
            verify(&signed, &[other.public().clone(), acme.public().clone()]),
            Ok(acme.public().fingerprint().to_owned())
        );
        assert!(matches!(
            verify(&signed, std::slice::from_ref(other.public())),
            Err(Refusal::Untrusted(_))
        ));
        let mut changed = signed.clone();
        *changed.last_mut().unwrap() ^= 1;
        assert_eq!(
            verify(&changed, std::slice::from_ref(acme.public())),
            Err(Refusal::Changed(acme.public().fingerprint().to_owned()))
        );
        assert!(matches!(
            verify(b"not wasm", std::slice::from_ref(acme.public())),
            Err(Refusal::Unreadable(_))
        ));
    }

    #[test]
    fn a_second_signature_keeps_the_first() {
        let (old, new) = (key(), key());
        let twice = sign(&sign(&component(), &old).unwrap(), &new).unwrap();
        assert!(verify(&twice, std::slice::from_ref(old.public())).is_ok());
        assert!(verify(&twice, std::slice::from_ref(new.public())).is_ok());
        assert!(sign(&twice, &new).unwrap_err().contains("already signed"));
    }

    #[test]
    fn a_denied_digest_or_signer_is_named_whoever_else_signed() {
        let (good, bad) = (key(), key());
        let file = sign(&sign(&component(), &good).unwrap(), &bad).unwrap();
        let digest: [u8; 32] = Sha256::digest(&file).into();
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        let by_digest = Policy::new(false, &[format!("sha256:{hex}")]).unwrap();
        assert!(
            by_digest
                .denied(&file, &digest)
                .unwrap()
                .contains("deny list")
        );
        let by_key = Policy::new(false, &[format!("key:{}", bad.public().openssh())]).unwrap();
        assert!(
            by_key
                .denied(&file, &digest)
                .unwrap()
                .contains(bad.public().fingerprint())
        );
        let other = Policy::new(false, &[format!("key:{}", key().public().openssh())]).unwrap();
        assert_eq!(other.denied(&file, &digest), None);
        assert!(Policy::new(false, &["oci://x".into()]).is_err());
        assert!(Policy::new(false, &["oci://x/y@sha256:ab".into()]).is_err());
        let repo = Policy::new(false, &["oci://reg.example/acme/crm".into()]).unwrap();
        assert!(
            repo.denied_source("reg.example/acme/crm", Some("v1"))
                .is_some()
        );
        assert!(
            repo.denied_source("reg.example/acme/crm2", Some("v1"))
                .is_none()
        );
        let tag = Policy::new(false, &["oci://reg.example/acme/crm:v1".into()]).unwrap();
        assert!(
            tag.denied_source("reg.example/acme/crm", Some("v1"))
                .is_some()
        );
        assert!(
            tag.denied_source("reg.example/acme/crm", Some("v2"))
                .is_none()
        );
        assert!(Policy::new(false, &["sha256:abc".into()]).is_err());
    }

    #[test]
    fn a_key_reads_back_from_its_openssh_line_with_the_same_fingerprint() {
        let k = key();
        let line = k.public().openssh();
        assert!(
            line.starts_with("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5"),
            "{line}"
        );
        let back = TrustedKey::parse(&format!("{line} someone@example")).unwrap();
        assert_eq!(back.fingerprint(), k.public().fingerprint());
        assert!(back.fingerprint().starts_with("SHA256:"));
        assert!(TrustedKey::parse("ssh-rsa AAAAB3Nza").is_err());
    }
}
