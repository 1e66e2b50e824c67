//! Test harness: builds the real plugin components once, starts the real simulator
//! and the real host on loopback.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

pub mod origin;
pub mod redis;

use host::config::{Credentials, Endpoints};
use host::{Host, HostBuilder, RunningHost};
use sim::Sim;

/// The topic fixtures take test commands on.
pub const DELEGATE: &str = "/v1.0/im/bot/messages/delegate";

/// How long tests wait for anything that should happen at once.
pub const WAIT: Duration = Duration::from_secs(10);

/// The repository root.
pub fn workspace() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the workspace")
}

/// `plugins/<name>.wasm`, built from `plugins/<name>/` once per test process.
pub fn plugin(name: &str) -> PathBuf {
    static BUILT: OnceLock<Vec<PathBuf>> = OnceLock::new();
    let built = BUILT.get_or_init(|| {
        let crates = host::cli::build::plugin_crates(workspace()).expect("list plugin crates");
        host::cli::build::build_components(workspace(), &crates, &workspace().join("plugins"))
            .expect("build plugin components")
    });
    find(built, name)
}

/// `plugins/<name>.wasm` built from the Python project `plugins/<name>/` (once per
/// process), or `None` when python3 is missing outside CI (the skip is printed; under
/// `CI=true` it fails instead).
pub fn python_plugin(name: &str) -> Option<PathBuf> {
    script_component(
        &workspace().join("plugins").join(name),
        &workspace().join("plugins"),
    )
}

/// A Python test fixture built from `tests/plugins/<name>/` into the target directory,
/// or `None` as for [`python_plugin`].
pub fn python_fixture(name: &str) -> Option<PathBuf> {
    script_component(
        &workspace().join("tests/plugins").join(name),
        &fixture_dir(),
    )
}

/// `plugins/<name>.wasm` built from the JavaScript or TypeScript project
/// `plugins/<name>/` (once per process), or `None` when node or npm is missing outside
/// CI (the skip is printed; under `CI=true` it fails instead).
pub fn js_plugin(name: &str) -> Option<PathBuf> {
    script_component(
        &workspace().join("plugins").join(name),
        &workspace().join("plugins"),
    )
}

/// A JavaScript test fixture built from `tests/plugins/<name>/` into the target
/// directory, or `None` as for [`js_plugin`].
pub fn js_fixture(name: &str) -> Option<PathBuf> {
    script_component(
        &workspace().join("tests/plugins").join(name),
        &fixture_dir(),
    )
}

/// calcbot's table (`plugins/calcbot/cases.json`), every calcbot's answers: each
/// input with the whole reply it must get.
pub fn calc_table() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(workspace().join("plugins/calcbot/cases.json"))
        .expect("read plugins/calcbot/cases.json");
    let cases: Vec<serde_json::Value> = serde_json::from_str(&text).expect("the table is JSON");
    cases
        .iter()
        .map(|case| {
            let input = case["input"].as_str().expect("input").to_owned();
            let want = match (case["answer"].as_str(), case["error"].as_str()) {
                (Some(a), _) => format!("Q: {}\nA: {a}", input.trim()),
                (_, Some(e)) => format!("Q: {}\nA: Error: {e}", input.trim()),
                _ => panic!("a case needs an answer or an error"),
            };
            (input, want)
        })
        .collect()
}

/// The build folder every test build shares (componentize-py, the npm packages), so
/// the tools are installed once, not once per project.
pub fn tools_dir() -> PathBuf {
    target_dir().join("plugin-tools")
}

fn script_component(project: &Path, out: &Path) -> Option<PathBuf> {
    static BUILT: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());
    let mut built = BUILT
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let name = project.file_name()?;
    if let Some(path) = built.iter().find(|p| p.file_stem() == Some(name)) {
        return Some(path.clone());
    }
    let tool_there = if project.join("package.json").is_file() {
        node()
    } else {
        python3()
    };
    if !tool_there {
        return None;
    }
    let path = host::cli::build::build_path_with_tools(project, out, Some(&tools_dir()))
        .unwrap_or_else(|e| panic!("build the plugin {}: {e:#}", project.display()));
    built.push(path.clone());
    Some(path)
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target"))
}

fn fixture_dir() -> PathBuf {
    target_dir().join("fixture-components")
}

/// Whether `program --version` runs; when it does not, the skip is printed (outside
/// CI) or the test fails (under `CI=true`).
fn installed(program: &str, what: &str) -> bool {
    match std::process::Command::new(program)
        .arg("--version")
        .output()
    {
        Ok(_) => true,
        Err(e) => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "{program} is required under CI=true: {e}"
            );
            eprintln!("skipped: {program} is not installed ({e}); {what} need it");
            false
        }
    }
}

/// A Python with the official MCP SDK (`tests/mcp/requirements.txt`, every version
/// pinned) in a virtualenv under the shared build folder, made on first use; `None`
/// (skip printed) when python3 is missing outside CI.
pub fn mcp_python() -> Option<PathBuf> {
    static MADE: std::sync::Mutex<Option<PathBuf>> = std::sync::Mutex::new(None);
    let mut made = MADE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(python) = made.as_ref() {
        return Some(python.clone());
    }
    if !installed(
        "python3",
        "the MCP tests (the official Python SDK as the peer)",
    ) {
        return None;
    }
    let requirements = workspace().join("tests/mcp/requirements.txt");
    let wanted = std::fs::read_to_string(&requirements).expect("tests/mcp/requirements.txt");
    let venv = tools_dir().join("mcp-python");
    let python = venv.join("bin/python");
    let marker = venv.join("requirements.txt");
    if std::fs::read_to_string(&marker).ok().as_deref() != Some(wanted.as_str()) {
        let _ = std::fs::remove_dir_all(&venv);
        let run = |cmd: &mut std::process::Command, what: &str| {
            let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
            assert!(
                out.status.success(),
                "{what} failed:\n{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        };
        run(
            std::process::Command::new("python3")
                .arg("-m")
                .arg("venv")
                .arg(&venv),
            "python3 -m venv for the MCP SDK",
        );
        run(
            std::process::Command::new(&python)
                .args([
                    "-m",
                    "pip",
                    "install",
                    "-q",
                    "--disable-pip-version-check",
                    "-r",
                ])
                .arg(&requirements),
            "pip install -r tests/mcp/requirements.txt",
        );
        std::fs::write(&marker, &wanted).expect("the venv's marker");
    }
    *made = Some(python.clone());
    Some(python)
}

/// Whether python3 runs (else the skip is printed, or under `CI=true` the test fails).
pub fn python3() -> bool {
    installed("python3", "Python plugins")
}

/// Whether node and npm run (else the skip is printed, or under `CI=true` the test
/// fails).
pub fn node() -> bool {
    installed("node", "JavaScript plugins") && installed("npm", "JavaScript plugins")
}

/// Type-check and run a TypeScript project's `test/*.test.ts` with node's test
/// runner from the project's folder, using the TypeScript of the shared build folder
/// (installed by the first JavaScript build); the compiled tests go to the target
/// directory.
pub fn node_tests(project: &Path) {
    let modules = tools_dir().join("js/node_modules");
    let name = project.file_name().expect("a project folder");
    let out = target_dir().join("ts-tests").join(name);
    let _ = std::fs::remove_dir_all(&out);
    let tsc = std::process::Command::new("node")
        .arg(modules.join("typescript/bin/tsc"))
        .arg("-p")
        .arg(project.join("tsconfig.test.json"))
        .arg("--outDir")
        .arg(&out)
        .arg("--typeRoots")
        .arg(modules.join("@types"))
        .output()
        .expect("run tsc");
    assert!(
        tsc.status.success(),
        "tsc in {} failed:\n{}",
        project.display(),
        String::from_utf8_lossy(&tsc.stdout)
    );
    let run = std::process::Command::new("node")
        .current_dir(project)
        .arg("--test")
        .arg(out.join("test"))
        .output()
        .expect("run node --test");
    assert!(
        run.status.success(),
        "node tests in {} failed:\n{}{}",
        project.display(),
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
}

/// Run a folder of Python `unittest`s with the host's python3; `false` (skip printed)
/// when python3 is missing outside CI.
pub fn python_unittests(dir: &Path) -> bool {
    if !python3() {
        return false;
    }
    let out = std::process::Command::new("python3")
        .args(["-m", "unittest", "discover", "-s"])
        .arg(dir)
        .output()
        .expect("run python3");
    assert!(
        out.status.success(),
        "python unittests in {} failed:\n{}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    true
}

/// A test fixture component built from `tests/plugins/<name>/`, once per process.
/// Fixtures land in the target directory, never in `plugins/`.
pub fn fixture(name: &str) -> PathBuf {
    static BUILT: OnceLock<Vec<PathBuf>> = OnceLock::new();
    let built = BUILT.get_or_init(|| {
        let dir = workspace().join("tests/plugins");
        let mut crates: Vec<String> = std::fs::read_dir(&dir)
            .expect("list tests/plugins")
            .filter_map(|e| e.ok())
            .filter(|e| e.path().join("Cargo.toml").is_file())
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        crates.sort();
        host::cli::build::build_components(workspace(), &crates, &fixture_dir())
            .expect("build fixture components")
    });
    find(built, name)
}

fn find(built: &[PathBuf], name: &str) -> PathBuf {
    built
        .iter()
        .find(|p| p.file_stem().is_some_and(|s| s == name))
        .cloned()
        .unwrap_or_else(|| panic!("no plugin crate named {name}"))
}

/// The topics the probe fixture subscribes to beyond chatbot messages.
pub fn probe_topic_list() -> Vec<String> {
    [
        "EVENT *",
        "CALLBACK /v1.0/card/instances/callback",
        "CALLBACK /v1.0/im/bot/messages/delegate",
    ]
    .map(String::from)
    .to_vec()
}

/// Grants of exactly the probe fixture's topics.
pub fn probe_topics() -> host::runtime::Grants {
    host::runtime::Grants::default()
        .with_topics(&probe_topic_list())
        .expect("valid topic grants")
}

/// Log to the test's output when `RUST_LOG` is set.
pub fn init_logging() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

/// A host builder pointed at `sim` with its credentials.
pub fn host_for(sim: &Sim) -> HostBuilder {
    Host::builder()
        .credentials(Credentials::new(sim.client_id(), sim.client_secret()))
        .endpoints(Endpoints {
            openapi: sim.url(),
            oapi: sim.url(),
        })
}

/// Build `builder` (pointed at `sim`), start it, and wait until it is connected.
pub async fn connect(builder: HostBuilder, sim: &Sim) -> RunningHost {
    let host = builder
        .build()
        .await
        .expect("load the plugins")
        .start()
        .await
        .expect("connect");
    assert!(sim.wait_connections(1, WAIT).await, "host never connected");
    host
}

/// The settings of a fixture that takes its commands on the delegate topic (`hostile`):
/// that topic granted, under `limits`.
pub fn delegate_fixture_settings(
    limits: host::runtime::LimitOverrides,
) -> host::runtime::PluginSettings {
    host::runtime::PluginSettings {
        grants: host::runtime::Grants::default()
            .with_topics(&[format!("CALLBACK {DELEGATE}")])
            .expect("grant"),
        limits,
        ..Default::default()
    }
}

/// A simulator and a host running calcbot against it.
pub struct Env {
    /// The simulator.
    pub sim: Sim,
    /// The connected host.
    pub host: RunningHost,
}

impl Env {
    /// Start a default simulator and a host with calcbot.
    pub async fn calcbot() -> Self {
        Self::with(Sim::builder()).await
    }

    /// Start `sim` and a host with calcbot.
    pub async fn with(sim: sim::SimBuilder) -> Self {
        init_logging();
        let sim = sim.start().await.expect("start sim");
        let host = connect(host_for(&sim).plugin(plugin("calcbot")), &sim).await;
        Self { sim, host }
    }

    /// Push `text` as a chatbot message on the delegate topic (where the probe and
    /// hostile fixtures listen); return its ACK and the plugin's text reply, if any.
    pub async fn attack(&self, text: &str) -> (sim::AckRecord, Option<String>) {
        let (session, data) = self.sim.chatbot_data(&sim::MessageSpec::text(text));
        let id = self.sim.push_callback(DELEGATE, data).await.expect("push");
        let ack = self
            .sim
            .wait_ack(&id, WAIT)
            .await
            .expect("the frame is ACKed");
        let report = self
            .sim
            .wait_replies(&session, 1, Duration::from_millis(300))
            .await
            .first()
            .and_then(|r| r.text().map(str::to_owned));
        (ack, report)
    }

    /// Shut both down.
    pub async fn stop(self) {
        self.host.shutdown().await;
        self.sim.shutdown().await;
    }
}

/// Log lines the host writes while this lives, captured for assertions. Captures what
/// runs on the creating thread, which is every host task in a `#[tokio::test]` (a
/// current-thread runtime).
pub struct Logs {
    buffer: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
    _guard: tracing::subscriber::DefaultGuard,
}

impl Logs {
    /// Start capturing at `info` and above.
    pub fn capture() -> Self {
        Self::at(tracing::Level::INFO)
    }

    /// Start capturing every level, `trace` included.
    pub fn capture_all() -> Self {
        Self::at(tracing::Level::TRACE)
    }

    fn at(level: tracing::Level) -> Self {
        let buffer = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_max_level(level)
            .with_writer(move || Sink(sink.clone()))
            .finish();
        Self {
            buffer,
            _guard: tracing::subscriber::set_default(subscriber),
        }
    }

    /// Everything captured so far.
    pub fn text(&self) -> String {
        let bytes = self
            .buffer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

struct Sink(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Why `builder` refuses to build: the error's text (the host must not build).
pub async fn refused(builder: HostBuilder) -> String {
    builder.build().await.err().expect("refused").to_string()
}
