//! A conversation test file, read and checked before anything runs.
//!
//! ```toml
//! config = "../host.toml"        # optional, relative to the file: the grants
//! plugins = ["../other.wasm"]    # optional: more plugins beside the one tested
//! timeout_ms = 10000             # per test (default 10 s)
//!
//! [[origin]]                     # a stand-in for an origin the plugin is granted
//! url = "https://api.example.com"
//! routes = [
//!   { method = "GET", path = "/weather", json = { temp = 21 } },
//!   { path = "/events", sse = [{ data = "a" }, { data = "b", delay_ms = 50 }] },
//! ]
//!
//! [[test]]
//! name = "adds"
//! steps = [
//!   { say = "1+2*3" },                     # group, sender, nick, admin, at_bot too
//!   { reply = "Q: 1+2*3\nA: 7" },          # or reply_contains, reply_matches, markdown
//!   { ack = 200 },
//!   { no_reply = true },
//! ]
//! ```
//!
//! Messages: `say` (text), `picture = true`, `file = "<name>"`, `rich_text`,
//! `audio` (its recognised text); card buttons: `press = "<label or action id>"`
//! (`by` a staff id); expectations: `reply`, `reply_contains`, `reply_matches`,
//! `markdown`, `no_reply`, `ack`, `ai_card`, `ai_card_contains`, `card_contains`,
//! `request` (`"METHOD URL"` of an outbound request, `body_contains`), `kv` (a key of
//! the tested plugin's store, or `plugin`'s: `equals`, `contains` or `absent`),
//! `log_contains` (a line any plugin logged, at `level` when given);
//! time: `wait_ms` moves the test's clock forward (TTLs, what plugins read as now)
//! without waiting.
//!
//! Invariants: every key of a file, a test and a step is known (a typo is an error
//! naming the file and line, never a step silently skipped), and every step is
//! decoded here once, so running a test never meets an ill-formed one.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use serde::Deserialize;
use sim::MessageSpec;

use super::origins::StandIn;

/// The default time one test may take.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

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
    #[serde(default, rename = "origin")]
    origins: Vec<StandIn>,
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
    #[serde(default, rename = "origin")]
    origins: Vec<StandIn>,
    steps: Vec<toml::Spanned<toml::Table>>,
}

/// One step, checked when the file is read.
#[derive(Debug, Clone)]
pub(super) enum Step {
    Say(Box<MessageSpec>),
    /// A card button pressed, found by its label or action id among the cards sent
    /// or updated so far (the newest first), by this staff id.
    Press {
        button: String,
        by: Option<String>,
    },
    /// A reply's text (a text reply's content, a markdown reply's text); with
    /// `true`, it must be a markdown reply.
    Reply(Expect, bool),
    NoReply,
    Ack(i64),
    /// The AI card's final text.
    AiCard(Expect),
    /// A card sent or updated since the last message whose JSON holds this text.
    CardContains(String),
    /// An outbound request made during the test: `METHOD URL` (the query compared
    /// only when given), and a text its body holds.
    Request {
        line: String,
        body: Option<String>,
    },
    /// A line a plugin logged holds this text (at this level, when given).
    Log {
        text: String,
        level: Option<String>,
    },
    /// The test's clock moved forward (key-value TTLs, what plugins read as now);
    /// no real time passes.
    Wait(Duration),
    /// A key of a plugin's store (`None`: the tested plugin's): its value, or
    /// `None` for a key that must be absent.
    Kv {
        plugin: Option<String>,
        key: String,
        value: Option<Expect>,
    },
}

#[derive(Debug, Clone)]
pub(super) enum Expect {
    Exact(String),
    Contains(String),
    Matches(regex::Regex),
}

impl Expect {
    pub(super) fn holds(&self, text: &str) -> bool {
        match self {
            Expect::Exact(e) => text == e,
            Expect::Contains(e) => text.contains(e.as_str()),
            Expect::Matches(r) => r.is_match(text),
        }
    }

    /// Whether it is a snapshot `--update` may rewrite (an exact text).
    pub(super) fn is_exact(&self) -> bool {
        matches!(self, Expect::Exact(_))
    }

    /// What was expected, after "expected a reply", "a value" and the like.
    pub(super) fn describe(&self) -> String {
        match self {
            Expect::Exact(e) => format!("{e:?}"),
            Expect::Contains(e) => format!("containing {e:?}"),
            Expect::Matches(r) => format!("matching /{}/", r.as_str()),
        }
    }
}

/// A test ready to run.
pub(super) struct Test {
    pub file: PathBuf,
    /// Its place among the file's `[[test]]` tables.
    pub index: usize,
    pub name: String,
    pub timeout: Duration,
    pub steps: Vec<(usize, Step)>,
    pub plugins: Vec<PathBuf>,
    pub config: Option<PathBuf>,
    pub model: Vec<sim::ModelTurn>,
    pub origins: Vec<StandIn>,
}

/// The tests of `path`, checked; errors name the file and line.
pub(super) fn read(
    path: &Path,
    component: &Path,
    default_config: Option<&Path>,
) -> anyhow::Result<Vec<Test>> {
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
    let script = |turns: &[Turn], name: &str| {
        turns
            .iter()
            .map(Turn::to_sim)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| anyhow::anyhow!("{}: test {name:?}: {e}", path.display()))
    };
    let checked = |origins: &[StandIn], name: &str| {
        origins
            .iter()
            .try_for_each(StandIn::check)
            .map_err(|e| anyhow::anyhow!("{}: {name}: {e}", path.display()))
    };
    checked(&file.origins, "[[origin]]")?;
    let file_model = script(&file.model, "(the file's model)")?;
    let mut out = Vec::new();
    for (index, t) in file.tests.into_iter().enumerate() {
        let model = match &t.model {
            Some(turns) => script(turns, &t.name)?,
            None => file_model.clone(),
        };
        checked(&t.origins, &format!("test {:?}", t.name))?;
        let mut steps = Vec::new();
        for spanned in &t.steps {
            let line = line_of(spanned.span().start);
            let step = step(spanned.get_ref()).map_err(|e| {
                anyhow::anyhow!("{}:{line}: test {:?}: {e}", path.display(), t.name)
            })?;
            steps.push((line, step));
        }
        // A test's own stand-ins are tried before the file's.
        let mut origins = t.origins;
        origins.extend(file.origins.iter().cloned());
        out.push(Test {
            file: path.to_path_buf(),
            index,
            name: t.name,
            timeout: t
                .timeout_ms
                .or(file.timeout_ms)
                .map_or(DEFAULT_TIMEOUT, Duration::from_millis),
            steps,
            plugins: plugins.clone(),
            config: config.clone(),
            model,
            origins,
        });
    }
    Ok(out)
}

/// A snapshot step's expectation to rewrite (`--update`): the `key` of step
/// `step` of the file's `test`-th `[[test]]` becomes `value`.
#[derive(Debug, Clone)]
pub(super) struct Update {
    pub file: PathBuf,
    pub test: usize,
    pub step: usize,
    pub key: &'static str,
    pub value: String,
}

/// Write `updates` into their files, keeping everything else as written (comments,
/// layout, the other steps); how many each file got.
pub(super) fn apply(updates: &[Update]) -> anyhow::Result<Vec<(PathBuf, usize)>> {
    let mut files: Vec<PathBuf> = updates.iter().map(|u| u.file.clone()).collect();
    files.sort();
    files.dedup();
    let mut written = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let mut doc: toml_edit::DocumentMut = text
            .parse()
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        let mut n = 0;
        for u in updates.iter().filter(|u| u.file == path) {
            let slot = doc
                .get_mut("test")
                .and_then(|t| t.as_array_of_tables_mut())
                .and_then(|t| t.get_mut(u.test))
                .and_then(|t| t.get_mut("steps"))
                .and_then(|s| s.as_array_mut())
                .and_then(|s| s.get_mut(u.step))
                .and_then(|s| s.as_inline_table_mut())
                .and_then(|s| s.get_mut(u.key))
                .with_context(|| {
                    format!(
                        "{}: test {} step {} changed while it ran",
                        path.display(),
                        u.test + 1,
                        u.step + 1
                    )
                })?;
            // A one-line basic string whatever the text holds (JSON's escapes are
            // TOML's), so the step stays one inline table.
            let decor = slot.decor().clone();
            *slot = serde_json::to_string(&u.value)?
                .parse::<toml_edit::Value>()
                .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
            *slot.decor_mut() = decor;
            n += 1;
        }
        // Written aside, then renamed: an interrupted update leaves the file whole.
        crate::cli::replace::replace(&path, &doc.to_string(), |_| Ok(()))?;
        written.push((path, n));
    }
    Ok(written)
}

/// The keys of one step as written, read with a check of each value's type.
struct Keys<'a>(&'a toml::Table);

impl Keys<'_> {
    fn text(&self, key: &str) -> Result<Option<String>, String> {
        match self.0.get(key) {
            None => Ok(None),
            Some(toml::Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(format!("`{key}` must be a string")),
        }
    }

    fn switch(&self, key: &str) -> Result<Option<bool>, String> {
        match self.0.get(key) {
            None => Ok(None),
            Some(toml::Value::Boolean(b)) => Ok(Some(*b)),
            Some(_) => Err(format!("`{key}` must be true or false")),
        }
    }

    /// Every key is one of `keys`.
    fn only(&self, keys: &[&str]) -> Result<(), String> {
        match self.0.keys().find(|k| !keys.contains(&k.as_str())) {
            Some(k) => Err(format!(
                "`{k}` does not belong in this step (it takes {})",
                keys.join(", ")
            )),
            None => Ok(()),
        }
    }

    /// The one of `keys` present (an error when several are).
    fn which<'k>(&self, keys: &[&'k str]) -> Result<Option<&'k str>, String> {
        let present: Vec<&str> = keys
            .iter()
            .copied()
            .filter(|k| self.0.contains_key(*k))
            .collect();
        match present.as_slice() {
            [] => Ok(None),
            [one] => Ok(Some(one)),
            many => Err(format!(
                "one step says one thing; this one has {}",
                many.join(" and ")
            )),
        }
    }
}

/// The message kinds a step may send, and the keys each message takes beside.
const MESSAGES: [&str; 5] = ["say", "picture", "file", "rich_text", "audio"];
const SENDER: [&str; 5] = ["group", "sender", "nick", "admin", "at_bot"];

/// The levels a plugin logs at.
const LEVELS: [&str; 5] = ["trace", "debug", "info", "warn", "error"];

/// One step of a test file.
fn step(table: &toml::Table) -> Result<Step, String> {
    let keys = Keys(table);
    if let Some(kind) = keys.which(&MESSAGES)? {
        let mut allowed = vec![kind];
        allowed.extend(SENDER);
        keys.only(&allowed)?;
        return message(&keys, kind).map(|m| Step::Say(Box::new(m)));
    }
    if let Some(button) = keys.text("press")? {
        keys.only(&["press", "by"])?;
        return Ok(Step::Press {
            button,
            by: keys.text("by")?,
        });
    }
    for (key, make) in [
        ("reply", Expect::Exact as fn(String) -> Expect),
        ("reply_contains", Expect::Contains),
    ] {
        if let Some(e) = keys.text(key)? {
            keys.only(&[key])?;
            return Ok(Step::Reply(make(e), false));
        }
    }
    if let Some(pattern) = keys.text("reply_matches")? {
        keys.only(&["reply_matches"])?;
        let r = regex::Regex::new(&pattern).map_err(|e| format!("`reply_matches`: {e}"))?;
        return Ok(Step::Reply(Expect::Matches(r), false));
    }
    if let Some(e) = keys.text("markdown")? {
        keys.only(&["markdown"])?;
        return Ok(Step::Reply(Expect::Exact(e), true));
    }
    if let Some(e) = keys.text("ai_card")? {
        keys.only(&["ai_card"])?;
        return Ok(Step::AiCard(Expect::Exact(e)));
    }
    if let Some(e) = keys.text("ai_card_contains")? {
        keys.only(&["ai_card_contains"])?;
        return Ok(Step::AiCard(Expect::Contains(e)));
    }
    if let Some(e) = keys.text("card_contains")? {
        keys.only(&["card_contains"])?;
        return Ok(Step::CardContains(e));
    }
    if let Some(line) = keys.text("request")? {
        keys.only(&["request", "body_contains"])?;
        let mut words = line.split_whitespace();
        match (words.next(), words.next(), words.next()) {
            (Some(method), Some(url), None) if url.contains("://") => {
                return Ok(Step::Request {
                    line: format!("{} {url}", method.to_ascii_uppercase()),
                    body: keys.text("body_contains")?,
                });
            }
            _ => {
                return Err(
                    "`request` is \"METHOD URL\", e.g. \"GET https://api.example.com/v1/items\""
                        .into(),
                );
            }
        }
    }
    if let Some(key) = keys.text("kv")? {
        keys.only(&["kv", "plugin", "equals", "contains", "absent"])?;
        let value = match keys.which(&["equals", "contains", "absent"])? {
            Some("equals") => keys.text("equals")?.map(Expect::Exact),
            Some("contains") => keys.text("contains")?.map(Expect::Contains),
            Some(_) if keys.switch("absent")? == Some(true) => None,
            _ => return Err("`kv` takes `equals`, `contains` or `absent = true`".into()),
        };
        return Ok(Step::Kv {
            plugin: keys.text("plugin")?,
            key,
            value,
        });
    }
    if let Some(text) = keys.text("log_contains")? {
        keys.only(&["log_contains", "level"])?;
        let level = keys.text("level")?;
        if let Some(l) = &level
            && !LEVELS.contains(&l.as_str())
        {
            return Err(format!("`level` is one of {}", LEVELS.join(", ")));
        }
        return Ok(Step::Log { text, level });
    }
    if let Some(ms) = table.get("wait_ms") {
        keys.only(&["wait_ms"])?;
        return match ms.as_integer() {
            Some(ms) if ms > 0 => Ok(Step::Wait(Duration::from_millis(ms as u64))),
            _ => Err("`wait_ms` is a positive number of milliseconds".into()),
        };
    }
    if keys.switch("no_reply")? == Some(true) {
        keys.only(&["no_reply"])?;
        return Ok(Step::NoReply);
    }
    if let Some(code) = table.get("ack") {
        keys.only(&["ack"])?;
        return code
            .as_integer()
            .map(Step::Ack)
            .ok_or_else(|| "`ack` must be a status code, e.g. 200".into());
    }
    Err(format!(
        "a step is one of {}, press, reply, reply_contains, reply_matches, markdown, no_reply, ack, ai_card, ai_card_contains, card_contains, request, kv, log_contains, wait_ms; this one has {}",
        MESSAGES.join(", "),
        table.keys().cloned().collect::<Vec<_>>().join(", ")
    ))
}

/// The message a step of `kind` sends, with its sender and chat.
fn message(keys: &Keys, kind: &str) -> Result<MessageSpec, String> {
    let text = |k| {
        keys.text(k)?
            .ok_or_else(|| format!("`{k}` must be a string"))
    };
    let mut spec = match kind {
        "say" => MessageSpec::text(&text("say")?),
        "picture" if keys.switch("picture")? == Some(true) => MessageSpec::picture(),
        "picture" => return Err("`picture` is `picture = true`".into()),
        "file" => MessageSpec::file(&text("file")?),
        "rich_text" => MessageSpec::rich_text(&text("rich_text")?),
        _ => MessageSpec::audio(&text("audio")?),
    };
    if let Some(group) = keys.text("group")? {
        spec = spec.in_group(&group);
    }
    if let Some(sender) = keys.text("sender")? {
        let nick = keys.text("nick")?.unwrap_or_else(|| sender.clone());
        spec = spec.from(&sender, &nick);
    }
    if let Some(admin) = keys.switch("admin")? {
        spec = spec.admin(admin);
    }
    if let Some(at) = keys.switch("at_bot")? {
        spec = spec.at_bot(at);
    }
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Step, String> {
        step(&toml::from_str::<toml::Table>(s).unwrap())
    }

    #[test]
    fn a_step_with_a_stray_key_or_no_known_key_is_named() {
        assert!(matches!(
            parse("say = \"hi\"\ngroup = \"g\""),
            Ok(Step::Say(_))
        ));
        assert!(
            parse("say = \"hi\"\nrepyl = \"x\"")
                .unwrap_err()
                .contains("repyl")
        );
        assert!(parse("wait = 5").unwrap_err().contains("a step is one of"));
        assert!(
            parse("reply_matches = \"(\"")
                .unwrap_err()
                .contains("reply_matches")
        );
        assert!(parse("ack = \"200\"").unwrap_err().contains("status code"));
    }

    #[test]
    fn every_message_kind_is_a_step_and_two_in_one_step_are_refused() {
        for (s, kind) in [
            ("picture = true", "picture"),
            ("file = \"a.pdf\"", "file"),
            ("rich_text = \"see\"\ngroup = \"g\"", "richText"),
            ("audio = \"hello\"", "audio"),
        ] {
            match parse(s) {
                Ok(Step::Say(m)) => assert_eq!(m.msgtype, kind),
                other => panic!("{s}: {other:?}"),
            }
        }
        assert!(
            parse("say = \"a\"\nfile = \"b\"")
                .unwrap_err()
                .contains("say and file")
        );
        assert!(
            parse("picture = false")
                .unwrap_err()
                .contains("picture = true")
        );
    }

    #[test]
    fn request_and_kv_steps_say_what_they_take() {
        assert!(matches!(
            parse("request = \"get https://a.example/x\""),
            Ok(Step::Request { line, .. }) if line == "GET https://a.example/x"
        ));
        assert!(
            parse("request = \"https://a.example/x\"")
                .unwrap_err()
                .contains("METHOD URL")
        );
        assert!(matches!(
            parse("kv = \"k\"\nabsent = true"),
            Ok(Step::Kv { value: None, .. })
        ));
        assert!(matches!(
            parse("kv = \"k\"\nequals = \"v\"\nplugin = \"todobot\""),
            Ok(Step::Kv { value: Some(Expect::Exact(v)), plugin: Some(_), .. }) if v == "v"
        ));
        assert!(parse("kv = \"k\"").unwrap_err().contains("equals"));
        assert!(
            parse("kv = \"k\"\nequals = \"v\"\nabsent = true")
                .unwrap_err()
                .contains("one thing")
        );
        assert!(matches!(
            parse("press = \"Allow once\"\nby = \"u1\""),
            Ok(Step::Press { .. })
        ));
        assert!(matches!(parse("wait_ms = 3600000"), Ok(Step::Wait(d)) if d.as_secs() == 3600));
        assert!(parse("wait_ms = -1").unwrap_err().contains("positive"));
        assert!(matches!(
            parse("log_contains = \"x\"\nlevel = \"warn\""),
            Ok(Step::Log { .. })
        ));
        assert!(
            parse("log_contains = \"x\"\nlevel = \"loud\"")
                .unwrap_err()
                .contains("one of")
        );
    }

    #[test]
    fn an_update_rewrites_only_the_snapshot_it_names_and_keeps_the_rest_as_written() {
        let dir = std::env::temp_dir().join(format!("host-test-update-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("snap.toml");
        let text = "# calcbot\n[[test]]\nname = \"a\"\nsteps = [\n  { say = \"1+1\" },   # ask\n  { reply = \"old\" },\n  { reply = \"keep\" },\n]\n\n[[test]]\nname = \"b\"\nsteps = [{ say = \"x\" }, { kv = \"k\", equals = \"v\" }]\n";
        std::fs::write(&path, text).unwrap();
        let update = |test, step, key, value: &str| Update {
            file: path.clone(),
            test,
            step,
            key,
            value: value.into(),
        };
        let written = apply(&[
            update(0, 1, "reply", "Q: 1+1\nA: 2"),
            update(1, 1, "equals", "[\"w\"]"),
        ])
        .unwrap();
        assert_eq!(written, [(path.clone(), 2)]);
        let after = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            after,
            text.replace("\"old\"", "\"Q: 1+1\\nA: 2\"")
                .replace("equals = \"v\"", "equals = \"[\\\"w\\\"]\"")
        );
        assert!(
            apply(&[update(5, 0, "reply", "x")])
                .unwrap_err()
                .to_string()
                .contains("changed while it ran")
        );
        let _ = std::fs::remove_dir_all(&dir);
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
        std::fs::write(
            &path,
            "[[origin]]\nurl = \"https://a.example/path\"\n[[test]]\nname = \"a\"\nsteps = [{ say = \"1\" }]\n",
        )
        .unwrap();
        let err = read(&path, Path::new("x.wasm"), None)
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("[[origin]]") && err.contains("origin"),
            "{err}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
