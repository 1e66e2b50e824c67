//! `host inspect`: what a component says about itself (its manifest) and what it
//! really imports, read from its sections without running any of its code; for an
//! `oci://` reference, from the artifact's config blob without fetching the component.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;

use crate::manifest;
use crate::trust::{self, Refusal};

#[derive(Debug, Args)]
pub(super) struct InspectArgs {
    /// The config file naming `[registries]` credentials (for an `oci://` reference).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The component to read, or an `oci://host/repo:tag` reference (only its config
    /// blob is fetched, never the component).
    #[arg(value_name = "PLUGIN.wasm|oci://HOST/REPO:TAG")]
    pub file: PathBuf,
}

pub(super) async fn inspect(args: InspectArgs) -> anyhow::Result<()> {
    if let Some(reference) = args.file.to_str().filter(|s| crate::oci::OciRef::is(s)) {
        let r = crate::oci::OciRef::parse(reference)?;
        let file = match &args.config {
            Some(p) => crate::settings::ConfigFile::load(p)?,
            None => crate::settings::ConfigFile::default(),
        };
        let secrets = crate::secrets::Secrets::load(&file.secrets)?;
        let (_, digest, config) = file.registries(&secrets)?.resolve(&r).await?;
        show(
            config.manifest.as_ref(),
            &config.component.imports,
            reference,
        )?;
        println!("        digest:     {digest}");
        println!(
            "        layer:      not fetched (the config blob says this; `host pull` verifies the component)"
        );
        println!(
            "(a manifest is what the plugin asks for; only the host's config grants anything)"
        );
        return Ok(());
    }
    let bytes = std::fs::read(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let imports = manifest::imports(&bytes)
        .with_context(|| format!("{} is not a readable component", args.file.display()))?;
    let declared = manifest::read(&bytes).with_context(|| args.file.display().to_string())?;
    show(
        declared.as_ref(),
        &imports,
        &args.file.display().to_string(),
    )?;
    let signature = match trust::verify(&bytes, &[]) {
        Err(Refusal::Unsigned) => "not signed".to_owned(),
        Err(Refusal::Untrusted(by)) => format!("signed ({by}); `host verify --key` checks by whom"),
        Err(e) => e.to_string(),
        Ok(_) => unreachable!("no key is trusted here"),
    };
    println!("        signature:  {signature}");
    println!("(a manifest is what the plugin asks for; only the host's config grants anything)");
    Ok(())
}

/// The manifest and the imports, as `inspect` prints them for a file or a reference.
fn show(
    declared: Option<&manifest::Manifest>,
    imports: &[String],
    what: &str,
) -> anyhow::Result<()> {
    match declared {
        Some(m) => {
            let by = m
                .publisher
                .as_deref()
                .map_or_else(String::new, |p| format!(" by {p}"));
            println!("{} {}{by}", m.name, m.version);
            if let Some(d) = &m.description {
                println!("        {}", d.escape_debug());
            }
            if let Some(h) = &m.homepage {
                println!("        homepage:   {}", h.escape_debug());
            }
            let requested =
                crate::runtime::Grants::requested(&m.requests).map_err(anyhow::Error::msg)?;
            let lines = requested.show();
            if lines.is_empty() {
                println!("        requests:   nothing beyond its own conversation");
            }
            for line in lines {
                println!("        requests {line}");
            }
            for (key, about) in &m.config {
                println!(
                    "        config:     {}: {}",
                    key.escape_debug(),
                    about.escape_debug()
                );
            }
        }
        None => println!("{what}: no manifest (not built by `host build`, or by an older one)"),
    }
    for i in imports {
        println!("        imports:    {i}");
    }
    Ok(())
}
