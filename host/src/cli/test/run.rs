//! `host test [PROJECT|PLUGIN.wasm] [TESTS...]`: the command, running every test of
//! the given files in parallel and reporting them (a line each, JUnit XML).
//!
//! Invariants:
//! - every file is read and checked before any test runs;
//! - every test runs on its own simulator, host and key-value store, so tests run in
//!   parallel and share nothing but the engine (and its compiled artifacts);
//! - the exit status is failure when any test fails.

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Args;

use super::{conversation, file};
use crate::runtime::{Engine, RuntimeConfig};
use crate::settings::ConfigFile;

/// How long loading the plugins and connecting may take, beside the test's timeout.
const STARTUP: Duration = Duration::from_secs(300);

#[derive(Debug, Args)]
pub struct TestArgs {
    /// A plugin project (built first; its tests are `tests/*.toml`) or a component,
    /// then test files (all of them, without any).
    #[arg(value_name = "PROJECT|PLUGIN.wasm", required = true)]
    pub plugin: PathBuf,
    /// Test files to run instead of the project's `tests/*.toml`.
    #[arg(value_name = "TESTS")]
    pub tests: Vec<PathBuf>,
    /// Write the results as JUnit XML here.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// How many tests run at once (default: the number of cores).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Rewrite the exact expectations that did not hold (`reply`, `markdown`,
    /// `ai_card`, a `kv` step's `equals`) with what happened, keeping the rest of
    /// each file as written.
    #[arg(long)]
    pub update: bool,
}

/// How conversation files are run, beside the component and the files.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The grants of a file that names no `config` (a project's `host.toml`).
    pub default_config: Option<PathBuf>,
    /// Write the results as JUnit XML here.
    pub junit: Option<PathBuf>,
    /// How many tests run at once (default: the number of cores).
    pub jobs: Option<usize>,
    /// Rewrite snapshot expectations that did not hold (`--update`).
    pub update: bool,
}

/// How one test went.
struct Outcome {
    file: PathBuf,
    name: String,
    took: Duration,
    failure: Option<String>,
    /// Expectations `--update` rewrites from what happened.
    updates: Vec<file::Update>,
}

pub async fn test(args: TestArgs) -> anyhow::Result<()> {
    let scratch = std::env::temp_dir().join(format!("host-test-{}", std::process::id()));
    let result = run(&args, &scratch).await;
    let _ = std::fs::remove_dir_all(&scratch);
    result
}

async fn run(args: &TestArgs, scratch: &Path) -> anyhow::Result<()> {
    let (component, project) = if args.plugin.is_dir() {
        let built = tokio::task::block_in_place(|| {
            crate::cli::build::build_path(&args.plugin, &scratch.join("built"))
        })?;
        (built, Some(args.plugin.clone()))
    } else {
        (args.plugin.clone(), None)
    };
    let files = if args.tests.is_empty() {
        let dir = project
            .as_ref()
            .map(|p| p.join("tests"))
            .context("give test files after a component (a project's are its tests/*.toml)")?;
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .with_context(|| format!("cannot list {}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
            .collect();
        files.sort();
        anyhow::ensure!(!files.is_empty(), "no tests in {}", dir.display());
        files
    } else {
        args.tests.clone()
    };
    let default_config = project
        .as_ref()
        .map(|p| p.join("host.toml"))
        .filter(|p| p.is_file());
    let options = Options {
        default_config,
        junit: args.junit.clone(),
        jobs: args.jobs,
        update: args.update,
    };
    conversations(&component, &files, &options, scratch).await
}

/// Run the conversation `files` against `component`: what `host test` does once the
/// component is built, for embedders and the repository's own tests. Fails when any
/// test fails.
pub async fn conversations(
    component: &Path,
    files: &[PathBuf],
    options: &Options,
    scratch: &Path,
) -> anyhow::Result<()> {
    let default_config = options.default_config.as_deref();
    let mut tests = Vec::new();
    for file in files {
        tests.extend(file::read(file, component, default_config)?);
    }
    // One engine for every test: its trust policy and pool come from the project's
    // config (a test's own config still sets its grants and limits).
    let engine_config = match default_config {
        Some(p) => ConfigFile::load(p)?.runtime_config()?,
        None => RuntimeConfig::default(),
    };
    let engine = Engine::new(&engine_config)?;
    let jobs = options
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()))
        .max(1);
    let slots = Arc::new(tokio::sync::Semaphore::new(jobs));
    let colour = std::io::stdout().is_terminal();
    let started = Instant::now();
    let update = options.update;
    let runs = tests.into_iter().enumerate().map(|(i, test)| {
        let (engine, slots) = (engine.clone(), slots.clone());
        let dir = scratch.join(format!("test-{i}"));
        async move {
            let _slot = slots.acquire().await;
            let began = Instant::now();
            let run = conversation::one(&test, &engine, &dir, update);
            let (failure, updates) = match tokio::time::timeout(STARTUP, run).await {
                Ok(Ok(updates)) => (None, updates),
                Ok(Err(e)) => (Some(format!("{e:#}")), Vec::new()),
                Err(_) => (
                    Some(format!(
                        "stopped: the host did not start within {STARTUP:?}"
                    )),
                    Vec::new(),
                ),
            };
            let outcome = Outcome {
                file: test.file.clone(),
                name: test.name.clone(),
                took: began.elapsed(),
                failure,
                updates,
            };
            print_outcome(&outcome, colour);
            outcome
        }
    });
    let outcomes = futures_util::future::join_all(runs).await;
    let failed = outcomes.iter().filter(|o| o.failure.is_some()).count();
    println!(
        "{} passed, {failed} failed in {:.1?}",
        outcomes.len() - failed,
        started.elapsed()
    );
    if let Some(path) = &options.junit {
        std::fs::write(path, junit_xml(&outcomes))
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    let updates: Vec<file::Update> = outcomes.iter().flat_map(|o| o.updates.clone()).collect();
    for (path, n) in file::apply(&updates)? {
        println!("updated {n} expectation(s) in {}", path.display());
    }
    anyhow::ensure!(failed == 0, "{failed} of {} tests failed", outcomes.len());
    Ok(())
}

fn print_outcome(o: &Outcome, colour: bool) {
    let (ok, fail) = if colour {
        ("\x1b[32mok\x1b[0m  ", "\x1b[31mFAIL\x1b[0m")
    } else {
        ("ok  ", "FAIL")
    };
    let what = format!("{}::{}", o.file.display(), o.name);
    match &o.failure {
        None if !o.updates.is_empty() => {
            println!("{ok} {what} ({:.0?}, {} updated)", o.took, o.updates.len())
        }
        None => println!("{ok} {what} ({:.0?})", o.took),
        Some(why) => {
            println!("{fail} {what} ({:.0?})", o.took);
            for line in why.lines() {
                println!("       {line}");
            }
        }
    }
}

/// The outcomes as JUnit XML.
fn junit_xml(outcomes: &[Outcome]) -> String {
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    let failed = outcomes.iter().filter(|o| o.failure.is_some()).count();
    let total: f64 = outcomes.iter().map(|o| o.took.as_secs_f64()).sum();
    let mut xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuite name=\"host test\" tests=\"{}\" failures=\"{failed}\" time=\"{total:.3}\">\n",
        outcomes.len()
    );
    for o in outcomes {
        xml += &format!(
            "  <testcase classname=\"{}\" name=\"{}\" time=\"{:.3}\"",
            esc(&o.file.display().to_string()),
            esc(&o.name),
            o.took.as_secs_f64()
        );
        match &o.failure {
            None => xml += "/>\n",
            Some(why) => {
                let first = why.lines().next().unwrap_or_default();
                xml += &format!(
                    ">\n    <failure message=\"{}\">{}</failure>\n  </testcase>\n",
                    esc(first),
                    esc(why)
                );
            }
        }
    }
    xml += "</testsuite>\n";
    xml
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn junit_escapes_what_a_plugin_answered() {
        let xml = junit_xml(&[Outcome {
            file: "t.toml".into(),
            name: "a<b".into(),
            took: Duration::from_millis(5),
            failure: Some("expected \"x\"\n  actual: \"<script>\"".into()),
            updates: Vec::new(),
        }]);
        assert!(xml.contains("name=\"a&lt;b\""), "{xml}");
        assert!(
            xml.contains("&lt;script&gt;") && !xml.contains("<script>"),
            "{xml}"
        );
        assert!(xml.contains("failures=\"1\""), "{xml}");
    }
}
