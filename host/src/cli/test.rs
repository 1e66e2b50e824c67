//! `host test [PROJECT|PLUGIN.wasm] [TESTS...]`: conversation tests for plugin
//! authors, in TOML (the format the config already uses), run against the embedded
//! simulator with the real host and the plugin under its real grants.
//!
//! A test file:
//! ```toml
//! config = "../host.toml"        # optional, relative to the file: the grants
//! plugins = ["../other.wasm"]    # optional: more plugins beside the one tested
//! timeout_ms = 10000             # per test (default 10 s)
//!
//! [[test]]
//! name = "adds"
//! steps = [
//!   { say = "1+2*3" },                     # group, sender, nick, admin, at_bot too
//!   { reply = "Q: 1+2*3\nA: 7" },          # or reply_contains, reply_matches, markdown
//!   { ack = 200 },
//!   { no_reply = true },
//! ]
//!
//! [[test]]
//! name = "an AI answer"
//! model = [{ text = "Hello!" }]            # the simulator's model, scripted turn by turn
//! steps = [{ say = "hi" }, { ai_card = "Hello!" }, { card_contains = "Hello" }]
//! ```
//!
//! Every plugin may reach the simulator's OpenAI-compatible model (as in `host dev`),
//! which answers `You said: <message>` unless a `model` script says otherwise; a
//! scripted turn is `{ text = "..." }` or `{ call = "<tool>", arguments = {...} }`.
//!
//! Invariants:
//! - every test runs on its own simulator, host and key-value store, so tests run in
//!   parallel and share nothing but the engine (and its compiled artifacts);
//! - a malformed file is an error naming the file, the line and what is wrong, before
//!   any test runs; a conversation that hangs is stopped at its timeout and fails
//!   (loading the plugins is bounded apart, so a first compile is not counted);
//! - the exit status is failure when any test fails; `--junit FILE` writes the
//!   results for CI systems.

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Args;
use serde::Deserialize;
use sim::{MessageSpec, Sim};

use crate::Host;
use crate::config::{Credentials, Endpoints};
use crate::egress::Egress;
use crate::runtime::{Engine, PluginConfigs, RuntimeConfig};
use crate::secrets::Secrets;
use crate::settings::ConfigFile;

/// The default time one test may take.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long loading the plugins and connecting may take, beside the test's timeout.
const STARTUP: Duration = Duration::from_secs(300);
/// How long `no_reply` waits for a reply that must not come.
const QUIET: Duration = Duration::from_millis(300);

#[derive(Debug, Args)]
pub(super) struct TestArgs {
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
}

/// One test file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    config: Option<PathBuf>,
    #[serde(default)]
    plugins: Vec<PathBuf>,
    #[serde(default)]
    timeout_ms: Option<u64>,
    #[serde(default)]
    model: Vec<Turn>,
    #[serde(default, rename = "test")]
    tests: Vec<TestSpec>,
}

/// One scripted model turn.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Turn {
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    call: Option<String>,
    #[serde(default)]
    arguments: Option<toml::Table>,
}

impl Turn {
    fn to_sim(&self) -> Result<sim::ModelTurn, String> {
        match (&self.text, &self.call) {
            (Some(t), None) if self.arguments.is_none() => Ok(sim::ModelTurn::Text(t.clone())),
            (None, Some(tool)) => {
                let args = serde_json::to_value(self.arguments.clone().unwrap_or_default())
                    .map_err(|e| e.to_string())?;
                Ok(sim::ModelTurn::Call(vec![(tool.clone(), args)]))
            }
            _ => Err("a model turn is `{ text = \"...\" }` or `{ call = \"<tool>\", arguments = { ... } }`".into()),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TestSpec {
    name: String,
    #[serde(default)]
    timeout_ms: Option<u64>,
    #[serde(default)]
    model: Option<Vec<Turn>>,
    steps: Vec<toml::Spanned<toml::Table>>,
}

/// One step, checked when the file is read.
#[derive(Debug, Clone)]
enum Step {
    Say(Box<MessageSpec>),
    /// A reply's text (a text reply's content, a markdown reply's text); with
    /// `true`, it must be a markdown reply.
    Reply(Expect, bool),
    NoReply,
    Ack(i64),
    /// The AI card's final text.
    AiCard(Expect),
    /// A card sent or updated since the last message whose JSON holds this text.
    CardContains(String),
}

#[derive(Debug, Clone)]
enum Expect {
    Exact(String),
    Contains(String),
    Matches(regex::Regex),
}

impl Expect {
    fn holds(&self, text: &str) -> bool {
        match self {
            Expect::Exact(e) => text == e,
            Expect::Contains(e) => text.contains(e.as_str()),
            Expect::Matches(r) => r.is_match(text),
        }
    }

    fn describe(&self) -> String {
        match self {
            Expect::Exact(e) => format!("a reply {e:?}"),
            Expect::Contains(e) => format!("a reply containing {e:?}"),
            Expect::Matches(r) => format!("a reply matching /{}/", r.as_str()),
        }
    }
}

/// A test ready to run.
struct Test {
    file: PathBuf,
    name: String,
    timeout: Duration,
    steps: Vec<(usize, Step)>,
    plugins: Vec<PathBuf>,
    config: Option<PathBuf>,
    model: Vec<sim::ModelTurn>,
}

/// How one test went.
struct Outcome {
    file: PathBuf,
    name: String,
    took: Duration,
    failure: Option<String>,
}

pub(super) async fn test(args: TestArgs) -> anyhow::Result<()> {
    let scratch = std::env::temp_dir().join(format!("host-test-{}", std::process::id()));
    let result = run(&args, &scratch).await;
    let _ = std::fs::remove_dir_all(&scratch);
    result
}

async fn run(args: &TestArgs, scratch: &Path) -> anyhow::Result<()> {
    let (component, project) = if args.plugin.is_dir() {
        let built = tokio::task::block_in_place(|| {
            super::build::build_path(&args.plugin, &scratch.join("built"))
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
    conversations(
        &component,
        &files,
        default_config.as_deref(),
        args.junit.as_deref(),
        args.jobs,
        scratch,
    )
    .await
}

/// Run the conversation `files` against `component` (with `default_config`'s grants
/// where a file names none): what `host test` does once the component is built, for
/// embedders and the repository's own tests. Fails when any test fails.
pub async fn conversations(
    component: &Path,
    files: &[PathBuf],
    default_config: Option<&Path>,
    junit: Option<&Path>,
    jobs: Option<usize>,
    scratch: &Path,
) -> anyhow::Result<()> {
    let mut tests = Vec::new();
    for file in files {
        tests.extend(read(file, component, default_config)?);
    }
    // One engine for every test: its trust policy and pool come from the project's
    // config (a test's own config still sets its grants and limits).
    let engine_config = match default_config {
        Some(p) => ConfigFile::load(p)?.runtime_config()?,
        None => RuntimeConfig::default(),
    };
    let engine = Engine::new(&engine_config)?;
    let jobs = jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()))
        .max(1);
    let slots = Arc::new(tokio::sync::Semaphore::new(jobs));
    let colour = std::io::stdout().is_terminal();
    let started = Instant::now();
    let runs = tests.into_iter().enumerate().map(|(i, test)| {
        let (engine, slots) = (engine.clone(), slots.clone());
        let dir = scratch.join(format!("test-{i}"));
        async move {
            let _slot = slots.acquire().await;
            let began = Instant::now();
            let failure = match tokio::time::timeout(STARTUP, one(&test, &engine, &dir)).await {
                Ok(Ok(())) => None,
                Ok(Err(e)) => Some(format!("{e:#}")),
                Err(_) => Some(format!(
                    "stopped: the host did not start within {STARTUP:?}"
                )),
            };
            let outcome = Outcome {
                file: test.file.clone(),
                name: test.name.clone(),
                took: began.elapsed(),
                failure,
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
    if let Some(path) = junit {
        std::fs::write(path, junit_xml(&outcomes))
            .with_context(|| format!("cannot write {}", path.display()))?;
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
        None => println!("{ok} {what} ({:.0?})", o.took),
        Some(why) => {
            println!("{fail} {what} ({:.0?})", o.took);
            for line in why.lines() {
                println!("       {line}");
            }
        }
    }
}

/// The tests of `path`, checked; errors name the file and line.
fn read(path: &Path, component: &Path, default_config: Option<&Path>) -> anyhow::Result<Vec<Test>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let file: File =
        toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    anyhow::ensure!(
        !file.tests.is_empty(),
        "{}: no [[test]] in it",
        path.display()
    );
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut plugins = vec![component.to_path_buf()];
    plugins.extend(file.plugins.iter().map(|p| dir.join(p)));
    let config = file
        .config
        .as_ref()
        .map(|c| dir.join(c))
        .or_else(|| default_config.map(Path::to_path_buf));
    let line_of = |offset: usize| text[..offset.min(text.len())].lines().count().max(1);
    let mut out = Vec::new();
    let script = |turns: &[Turn], name: &str| {
        turns
            .iter()
            .map(Turn::to_sim)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| anyhow::anyhow!("{}: test {name:?}: {e}", path.display()))
    };
    let file_model = script(&file.model, "(the file's model)")?;
    for t in file.tests {
        let model = match &t.model {
            Some(turns) => script(turns, &t.name)?,
            None => file_model.clone(),
        };
        let mut steps = Vec::new();
        for spanned in &t.steps {
            let line = line_of(spanned.span().start);
            let step = step(spanned.get_ref()).map_err(|e| {
                anyhow::anyhow!("{}:{line}: test {:?}: {e}", path.display(), t.name)
            })?;
            steps.push((line, step));
        }
        out.push(Test {
            file: path.to_path_buf(),
            name: t.name,
            timeout: t
                .timeout_ms
                .or(file.timeout_ms)
                .map_or(DEFAULT_TIMEOUT, Duration::from_millis),
            steps,
            plugins: plugins.clone(),
            config: config.clone(),
            model,
        });
    }
    Ok(out)
}

/// One step of a test file.
fn step(table: &toml::Table) -> Result<Step, String> {
    let text = |key: &str| -> Result<Option<String>, String> {
        match table.get(key) {
            None => Ok(None),
            Some(toml::Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(format!("`{key}` must be a string")),
        }
    };
    let switch = |key: &str| -> Result<Option<bool>, String> {
        match table.get(key) {
            None => Ok(None),
            Some(toml::Value::Boolean(b)) => Ok(Some(*b)),
            Some(_) => Err(format!("`{key}` must be true or false")),
        }
    };
    let allowed = |keys: &[&str]| match table.keys().find(|k| !keys.contains(&k.as_str())) {
        Some(k) => Err(format!(
            "`{k}` does not belong in this step (it takes {})",
            keys.join(", ")
        )),
        None => Ok(()),
    };
    if let Some(said) = text("say")? {
        allowed(&["say", "group", "sender", "nick", "admin", "at_bot"])?;
        let mut spec = MessageSpec::text(&said);
        if let Some(group) = text("group")? {
            spec = spec.in_group(&group);
        }
        if let Some(sender) = text("sender")? {
            let nick = text("nick")?.unwrap_or_else(|| sender.clone());
            spec = spec.from(&sender, &nick);
        }
        if let Some(admin) = switch("admin")? {
            spec = spec.admin(admin);
        }
        if let Some(at) = switch("at_bot")? {
            spec = spec.at_bot(at);
        }
        return Ok(Step::Say(Box::new(spec)));
    }
    for (key, make) in [
        ("reply", Expect::Exact as fn(String) -> Expect),
        ("reply_contains", Expect::Contains),
    ] {
        if let Some(e) = text(key)? {
            allowed(&[key])?;
            return Ok(Step::Reply(make(e), false));
        }
    }
    if let Some(pattern) = text("reply_matches")? {
        allowed(&["reply_matches"])?;
        let r = regex::Regex::new(&pattern).map_err(|e| format!("`reply_matches`: {e}"))?;
        return Ok(Step::Reply(Expect::Matches(r), false));
    }
    if let Some(e) = text("markdown")? {
        allowed(&["markdown"])?;
        return Ok(Step::Reply(Expect::Exact(e), true));
    }
    if let Some(e) = text("ai_card")? {
        allowed(&["ai_card"])?;
        return Ok(Step::AiCard(Expect::Exact(e)));
    }
    if let Some(e) = text("ai_card_contains")? {
        allowed(&["ai_card_contains"])?;
        return Ok(Step::AiCard(Expect::Contains(e)));
    }
    if let Some(e) = text("card_contains")? {
        allowed(&["card_contains"])?;
        return Ok(Step::CardContains(e));
    }
    if switch("no_reply")? == Some(true) {
        allowed(&["no_reply"])?;
        return Ok(Step::NoReply);
    }
    if let Some(code) = table.get("ack") {
        allowed(&["ack"])?;
        return code
            .as_integer()
            .map(Step::Ack)
            .ok_or_else(|| "`ack` must be a status code, e.g. 200".into());
    }
    Err(format!(
        "a step is one of say, reply, reply_contains, reply_matches, markdown, no_reply, ack, ai_card, ai_card_contains, card_contains; this one has {}",
        table.keys().cloned().collect::<Vec<_>>().join(", ")
    ))
}

/// Run one test on its own simulator, host and store.
async fn one(test: &Test, engine: &Engine, dir: &Path) -> anyhow::Result<()> {
    let file = match &test.config {
        Some(p) => ConfigFile::load(p)?,
        None => ConfigFile::default(),
    };
    let sim = Sim::builder()
        .start()
        .await
        .context("cannot start the simulator")?;
    // As in `host dev`: the simulator's model is every plugin's to reach.
    let (configs, secrets): (PluginConfigs, Secrets) = super::simulated::settings(
        &sim,
        &test.plugins,
        file.plugin_configs()?,
        Secrets::load(&file.secrets)?,
    )?;
    if !test.model.is_empty() {
        sim.script_model(test.model.clone());
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let kv =
        crate::kv::embedded::Embedded::open(&dir.join("kv.redb")).map_err(anyhow::Error::msg)?;
    let host = Host::builder()
        .credentials(Credentials::new(sim.client_id(), sim.client_secret()))
        .endpoints(Endpoints {
            openapi: sim.url(),
            oapi: sim.url(),
        })
        .engine(engine.clone())
        .plugins(&test.plugins)
        .plugin_configs(configs)
        .runtime_config(file.runtime_config()?)
        .egress(Egress::new(secrets))
        .kv(Arc::new(kv))
        .build()
        .await?
        .start()
        .await?;
    // The timeout is the conversation's: compiling a large component the first time
    // (later runs take it from the artifact cache) is not the test's fault.
    let result = match tokio::time::timeout(test.timeout, steps(test, &sim)).await {
        Ok(r) => r,
        Err(_) => Err(anyhow::anyhow!(
            "stopped: the conversation took longer than {:?}",
            test.timeout
        )),
    };
    host.shutdown().await;
    sim.shutdown().await;
    result
}

async fn steps(test: &Test, sim: &Sim) -> anyhow::Result<()> {
    // The last message said, and how many of its session's replies were checked.
    let mut last: Option<(String, String)> = None;
    let mut seen = 0;
    // Cards recorded before the last message (the sim keeps them all).
    let mut cards_before = 0;
    for (line, step) in &test.steps {
        let at = |e: String| anyhow::anyhow!("{}:{line}: {e}", test.file.display());
        match step {
            Step::Say(spec) => {
                cards_before = sim.cards().len();
                let pushed = sim
                    .push_chatbot((**spec).clone())
                    .await
                    .map_err(|e| at(format!("the message could not be pushed: {e:?}")))?;
                last = Some((pushed.message_id, pushed.session));
                seen = 0;
            }
            Step::Reply(expect, markdown) => {
                let (_, session) = last
                    .as_ref()
                    .ok_or_else(|| at("a reply before anything was said".into()))?;
                let replies = sim.wait_replies(session, seen + 1, test.timeout).await;
                let Some(reply) = replies.get(seen) else {
                    return Err(at(format!(
                        "expected {}\n  actual: no reply ({} before it)",
                        expect.describe(),
                        seen
                    )));
                };
                seen += 1;
                let shown = reply
                    .text()
                    .or_else(|| reply.body["markdown"]["text"].as_str())
                    .map(str::to_owned);
                if *markdown && reply.body["msgtype"] != "markdown" {
                    return Err(at(format!(
                        "expected a markdown reply\n  actual: {}",
                        reply.body
                    )));
                }
                let actual = shown.unwrap_or_else(|| reply.body.to_string());
                if !expect.holds(&actual) {
                    return Err(at(format!(
                        "expected {}\n  actual: {actual:?}",
                        expect.describe()
                    )));
                }
            }
            Step::NoReply => {
                let (_, session) = last
                    .as_ref()
                    .ok_or_else(|| at("no_reply before anything was said".into()))?;
                let replies = sim.wait_replies(session, seen + 1, QUIET).await;
                if let Some(extra) = replies.get(seen) {
                    return Err(at(format!(
                        "expected no further reply\n  actual: {}",
                        extra
                            .text()
                            .map_or_else(|| extra.body.to_string(), |t| format!("{t:?}"))
                    )));
                }
            }
            Step::AiCard(expect) => {
                let deadline = Instant::now() + test.timeout;
                let finished = loop {
                    let done =
                        sim.cards().into_iter().skip(cards_before).find(|c| {
                            c.action == "instance.stream" && c.card["isFinalize"] == true
                        });
                    if done.is_some() || Instant::now() >= deadline {
                        break done;
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                };
                let Some(card) = finished else {
                    return Err(at(format!(
                        "expected an AI card finished with {}\n  actual: none finished",
                        expect.describe().replacen("a reply", "text", 1)
                    )));
                };
                let actual = card.card["content"].as_str().unwrap_or_default().to_owned();
                if !expect.holds(&actual) {
                    return Err(at(format!(
                        "expected an AI card finished with {}\n  actual: {actual:?}",
                        expect.describe().replacen("a reply", "text", 1)
                    )));
                }
            }
            Step::CardContains(needle) => {
                let deadline = Instant::now() + test.timeout;
                loop {
                    let cards: Vec<sim::CardRecord> =
                        sim.cards().into_iter().skip(cards_before).collect();
                    if cards
                        .iter()
                        .any(|c| c.card.to_string().contains(needle.as_str()))
                    {
                        break;
                    }
                    if Instant::now() >= deadline {
                        return Err(at(format!(
                            "expected a card holding {needle:?}\n  actual: {} card calls, none holding it",
                            cards.len()
                        )));
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
            Step::Ack(code) => {
                let (id, _) = last
                    .as_ref()
                    .ok_or_else(|| at("an ack before anything was said".into()))?;
                let ack = sim
                    .wait_ack(id, test.timeout)
                    .await
                    .ok_or_else(|| at("expected an ACK\n  actual: none".into()))?;
                if ack.code != *code {
                    return Err(at(format!(
                        "expected ACK {code}\n  actual: ACK {} {:?}",
                        ack.code, ack.message
                    )));
                }
            }
        }
    }
    Ok(())
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
    fn a_step_with_a_stray_key_or_no_known_key_is_named() {
        let t = |s: &str| step(&toml::from_str::<toml::Table>(s).unwrap());
        assert!(matches!(t("say = \"hi\"\ngroup = \"g\""), Ok(Step::Say(_))));
        assert!(
            t("say = \"hi\"\nrepyl = \"x\"")
                .unwrap_err()
                .contains("repyl")
        );
        assert!(t("wait = 5").unwrap_err().contains("a step is one of"));
        assert!(
            t("reply_matches = \"(\"")
                .unwrap_err()
                .contains("reply_matches")
        );
        assert!(t("ack = \"200\"").unwrap_err().contains("status code"));
    }

    #[test]
    fn a_malformed_file_names_the_file_and_the_line() {
        let dir = std::env::temp_dir().join(format!("host-test-read-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("bad.toml");
        std::fs::write(
            &path,
            "[[test]]\nname = \"a\"\nsteps = [\n  { say = \"1+1\" },\n  { reply_contians = \"2\" },\n]\n",
        )
        .unwrap();
        let err = read(&path, Path::new("x.wasm"), None)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("bad.toml:5"), "{err}");
        assert!(err.contains("reply_contians"), "{err}");
        std::fs::write(&path, "[[test]]\nname = \"a\"\nsteps = [ { say = 1 ]\n").unwrap();
        let err = read(&path, Path::new("x.wasm"), None)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("bad.toml") && err.contains("line 3"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn junit_escapes_what_a_plugin_answered() {
        let xml = junit_xml(&[Outcome {
            file: "t.toml".into(),
            name: "a<b".into(),
            took: Duration::from_millis(5),
            failure: Some("expected \"x\"\n  actual: \"<script>\"".into()),
        }]);
        assert!(xml.contains("name=\"a&lt;b\""), "{xml}");
        assert!(
            xml.contains("&lt;script&gt;") && !xml.contains("<script>"),
            "{xml}"
        );
        assert!(xml.contains("failures=\"1\""), "{xml}");
    }
}
