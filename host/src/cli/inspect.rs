//! `host inspect`: what a component says about itself (its manifest) and what it
//! really imports, read from its sections without running any of its code.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;

use crate::manifest;
use crate::trust::{self, Refusal};

#[derive(Debug, Args)]
pub(super) struct InspectArgs {
    /// The component to read.
    #[arg(value_name = "PLUGIN.wasm")]
    pub file: PathBuf,
}

pub(super) fn inspect(args: InspectArgs) -> anyhow::Result<()> {
    let bytes = std::fs::read(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let imports = manifest::imports(&bytes)
        .with_context(|| format!("{} is not a readable component", args.file.display()))?;
    let declared = manifest::read(&bytes).with_context(|| args.file.display().to_string())?;
    match &declared {
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
            for (key, what) in &m.config {
                println!(
                    "        config:     {}: {}",
                    key.escape_debug(),
                    what.escape_debug()
                );
            }
        }
        None => println!(
            "{}: no manifest (not built by `host build`, or by an older one)",
            args.file.display()
        ),
    }
    for i in &imports {
        println!("        imports:    {i}");
    }
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
