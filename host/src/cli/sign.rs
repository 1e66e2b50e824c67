//! `host keygen`, `host sign`, `host verify`: publisher keys and signatures on
//! components (see [`crate::trust`]). A secret key file is written readable by its
//! owner only and never printed; public keys print as OpenSSH lines, ready for
//! `[trust.publishers.<name>] keys`.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::Args;

use crate::trust::{self, SigningKey, TrustedKey};

#[derive(Debug, Args)]
pub(super) struct KeygenArgs {
    /// Where the secret key goes; its public key goes to `<OUT>.pub`.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
pub(super) struct SignArgs {
    /// The secret key: from `host keygen`, or an unencrypted OpenSSH Ed25519 key
    /// (`ssh-keygen -t ed25519 -N ""`).
    #[arg(long, value_name = "KEY")]
    pub key: PathBuf,
    /// Write the signed component here instead of in place.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// The component to sign (signatures already on it are kept).
    #[arg(value_name = "PLUGIN.wasm")]
    pub file: PathBuf,
}

#[derive(Debug, Args)]
pub(super) struct VerifyArgs {
    /// A trusted public key: an `ssh-ed25519 AAAA...` line, or a file holding such
    /// lines (an OpenSSH `.pub` file, `authorized_keys`); repeat for several.
    #[arg(long = "key", value_name = "KEY", required = true)]
    pub keys: Vec<String>,
    /// The component to verify.
    #[arg(value_name = "PLUGIN.wasm")]
    pub file: PathBuf,
}

pub(super) fn keygen(args: KeygenArgs) -> anyhow::Result<()> {
    let (secret, public) = trust::keygen();
    let pub_path = PathBuf::from(format!("{}.pub", args.out.display()));
    for p in [&args.out, &pub_path] {
        anyhow::ensure!(!p.exists(), "{} exists; not overwriting a key", p.display());
    }
    write_secret(&args.out, &secret)?;
    std::fs::write(&pub_path, format!("{}\n", public.openssh()))
        .with_context(|| format!("cannot write {}", pub_path.display()))?;
    println!(
        "secret key: {} (keep it; never commit it)",
        args.out.display()
    );
    println!("public key: {}", pub_path.display());
    println!("{}", public.openssh());
    println!("fingerprint {}", public.fingerprint());
    Ok(())
}

/// Create `path` readable by its owner only, then write `bytes`.
fn write_secret(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(bytes)
        .with_context(|| format!("cannot write {}", path.display()))
}

pub(super) fn sign(args: SignArgs) -> anyhow::Result<()> {
    let key_bytes = std::fs::read(&args.key)
        .with_context(|| format!("cannot read the key {}", args.key.display()))?;
    let key = SigningKey::parse(&key_bytes)
        .map_err(|e| anyhow::anyhow!("{}: {e}", args.key.display()))?;
    let bytes = std::fs::read(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let signed = trust::sign(&bytes, &key)
        .map_err(|e| anyhow::anyhow!("cannot sign {}: {e}", args.file.display()))?;
    let out = args.out.as_ref().unwrap_or(&args.file);
    // Write beside, then rename: a host watching the folder never sees half a file.
    let tmp = PathBuf::from(format!("{}.signing", out.display()));
    std::fs::write(&tmp, &signed).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, out).with_context(|| format!("cannot write {}", out.display()))?;
    println!(
        "signed {} with {}",
        out.display(),
        key.public().fingerprint()
    );
    Ok(())
}

/// Every key `entry` gives: itself as a key line, or the key lines of the file it names.
fn keys_of(entry: &str) -> anyhow::Result<Vec<TrustedKey>> {
    if let Ok(key) = TrustedKey::parse(entry) {
        return Ok(vec![key]);
    }
    let text = std::fs::read_to_string(entry)
        .with_context(|| format!("--key {entry:?} is neither a public key nor a readable file"))?;
    let keys: Vec<TrustedKey> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(TrustedKey::parse)
        .collect::<Result<_, _>>()
        .map_err(|e| anyhow::anyhow!("{entry}: {e}"))?;
    anyhow::ensure!(!keys.is_empty(), "{entry} holds no public key");
    Ok(keys)
}

pub(super) fn verify(args: VerifyArgs) -> anyhow::Result<()> {
    let mut keys = Vec::new();
    for entry in &args.keys {
        keys.extend(keys_of(entry)?);
    }
    let bytes = std::fs::read(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    match trust::verify(&bytes, &keys) {
        Ok(fp) => {
            println!("verified {}: signed by {fp}", args.file.display());
            Ok(())
        }
        Err(why) => anyhow::bail!("{} does not verify: {why}", args.file.display()),
    }
}
