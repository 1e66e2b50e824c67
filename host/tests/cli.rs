//! The `host` binary itself: `host run` against the simulator, credentials from the
//! environment, exit codes, and graceful shutdown on SIGTERM.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use sim::{MessageSpec, Sim};
use tokio::process::Command;

mod common;
use common::{WAIT, calcbot, scratch};

fn host_run(sim: &Sim) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_host"));
    cmd.arg("run")
        .arg(calcbot())
        // Each host its own embedded store: tests run in parallel, and a store
        // admits one process at a time.
        .env(
            "DINGTALK_HOST_STATE_DIR",
            scratch(&format!("state-{}", sim.addr().port())),
        )
        .env("DINGTALK_OPENAPI_ENDPOINT", sim.url())
        .env("DINGTALK_OAPI_ENDPOINT", sim.url())
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    cmd
}

#[tokio::test]
async fn bad_credentials_make_host_run_exit_non_zero_naming_the_open_step() {
    let sim = Sim::builder().start().await.unwrap();
    let out = host_run(&sim)
        .args([
            "--client-id",
            sim.client_id(),
            "--client-secret",
            "not-the-secret",
        ])
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("open connection failed"), "{stderr}");
    assert!(stderr.contains("authFailed"), "{stderr}");
    assert!(
        !stderr.contains("not-the-secret"),
        "the secret leaked: {stderr}"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn sigterm_lets_in_flight_frames_finish_acks_them_and_exits_zero() {
    let sim = Sim::builder().start().await.unwrap();
    let mut child = host_run(&sim)
        .env("DINGTALK_CLIENT_ID", sim.client_id())
        .env("DINGTALK_CLIENT_SECRET", sim.client_secret())
        .spawn()
        .unwrap();
    assert!(
        sim.wait_connections(1, WAIT).await,
        "host run never connected"
    );
    sim.set_webhook_delay(Duration::from_millis(800));
    let pushed = sim.push_chatbot(MessageSpec::text("6/3")).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let pid = child.id().unwrap().to_string();
    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .unwrap();
    assert!(killed.success());
    let status = tokio::time::timeout(WAIT, child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "exit status {status}");
    let ack = sim
        .wait_ack(&pushed.message_id, Duration::ZERO)
        .await
        .expect("ACKed before exit");
    assert_eq!(ack.code, 200);
    assert_eq!(
        sim.wait_replies(&pushed.session, 1, WAIT).await[0].text(),
        Some("Q: 6/3\nA: 2.0")
    );
    sim.shutdown().await;
}

/// `host record` against a fresh simulator: a group message and a 1:1 one, each
/// answered and ACKed, then SIGTERM; the recording's text.
async fn record(dir: &Path, name: &str, keep_text: bool) -> String {
    let sim = Sim::builder().start().await.expect("start the simulator");
    let out = dir.join(name);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_host"));
    cmd.arg("record").arg("--out").arg(&out);
    if keep_text {
        cmd.arg("--keep-text");
    }
    let mut child = cmd
        .arg(calcbot())
        .env("DINGTALK_HOST_STATE_DIR", dir.join(format!("state-{name}")))
        .env("DINGTALK_OPENAPI_ENDPOINT", sim.url())
        .env("DINGTALK_OAPI_ENDPOINT", sim.url())
        .env("DINGTALK_CLIENT_ID", sim.client_id())
        .env("DINGTALK_CLIENT_SECRET", sim.client_secret())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start host record");
    assert!(
        sim.wait_connections(1, WAIT).await,
        "host record never connected"
    );
    for spec in [
        MessageSpec::text("6*7")
            .in_group("Sales")
            .from("0001", "张三"),
        MessageSpec::text("1+1").from("0002", "李四"),
    ] {
        let pushed = sim.push_chatbot(spec).await.expect("push");
        assert_eq!(
            sim.wait_ack(&pushed.message_id, WAIT)
                .await
                .expect("ACK")
                .code,
            200
        );
    }
    let pid = child.id().expect("running").to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .await
            .is_ok_and(|s| s.success())
    );
    let status = tokio::time::timeout(WAIT, child.wait())
        .await
        .expect("host record exits")
        .expect("its status");
    assert!(status.success(), "exit status {status}");
    sim.shutdown().await;
    std::fs::read_to_string(out).expect("the recording")
}

#[tokio::test(flavor = "multi_thread")]
async fn record_masks_what_people_wrote_and_replay_turns_it_into_a_passing_test() {
    let dir = scratch("record");
    let masked = record(&dir, "masked.jsonl", false).await;
    for private in ["6*7", "1+1", "张三", "李四", "Sales", "0001", "session="] {
        assert!(!masked.contains(private), "{private} recorded: {masked}");
    }
    let lines: Vec<serde_json::Value> = masked
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        lines[0]["masked"],
        serde_json::json!(["access", "ids", "texts", "names"])
    );
    assert_eq!(lines.iter().filter(|l| l.get("frame").is_some()).count(), 2);
    assert_eq!(lines.iter().filter(|l| l["ack"]["code"] == 200).count(), 2);
    assert!(lines.iter().any(|l| l["call"]["capability"] == "reply"));
    // A recording is never written over an existing file.
    let (ok, out) = host_in(
        &dir,
        &[
            "record",
            "--out",
            "masked.jsonl",
            calcbot().to_str().unwrap(),
        ],
    );
    assert!(!ok && out.contains("must not exist yet"), "{out}");

    // Replayed through the same plugin: every ACK as recorded; as a test, the
    // masked texts are said again and the test passes.
    let calc = calcbot();
    let (ok, out) = host_in(
        &dir,
        &[
            "replay",
            "masked.jsonl",
            calc.to_str().unwrap(),
            "--to-test",
            "masked.toml",
        ],
    );
    assert!(
        ok && out.contains("2 frames replayed, 2 as recorded, 0 differ"),
        "{out}"
    );
    let (ok, out) = host_in(&dir, &["test", calc.to_str().unwrap(), "masked.toml"]);
    assert!(ok && out.contains("1 passed, 0 failed"), "{out}");

    // With --keep-text the conversation comes home as it was.
    record(&dir, "kept.jsonl", true).await;
    let (ok, out) = host_in(
        &dir,
        &[
            "replay",
            "kept.jsonl",
            calc.to_str().unwrap(),
            "--to-test",
            "kept.toml",
        ],
    );
    assert!(ok && out.contains("reply: \"Q: 6*7\\nA: 42\""), "{out}");
    let test = std::fs::read_to_string(dir.join("kept.toml")).unwrap();
    assert!(
        test.contains("{ say = \"6*7\", sender = \"user-")
            && test.contains("nick = \"张三\", group = \"Sales\" }")
            && test.contains("{ reply = \"Q: 1+1\\nA: 2\" }"),
        "{test}"
    );
    let (ok, out) = host_in(&dir, &["test", calc.to_str().unwrap(), "kept.toml"]);
    assert!(ok && out.contains("1 passed, 0 failed"), "{out}");

    // Through another plugin that answers otherwise, the difference is named and
    // the exit status says so.
    std::fs::write(
        dir.join("kept-other.jsonl"),
        std::fs::read_to_string(dir.join("kept.jsonl"))
            .unwrap()
            .replace("\"code\":200", "\"code\":404"),
    )
    .unwrap();
    let (ok, out) = host_in(
        &dir,
        &["replay", "kept-other.jsonl", calc.to_str().unwrap()],
    );
    assert!(
        !ok && out.contains("(recorded: ACK 404") && out.contains("2 differ"),
        "{out}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn host_cmd(dir: &Path) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_host"));
    cmd.current_dir(dir)
        .env("CARGO_TARGET_DIR", dir.join("target"));
    cmd
}

#[test]
fn new_then_build_then_check_works_end_to_end() {
    let dir = scratch("new");
    let created = host_cmd(&dir).args(["new", "echo-bot"]).output().unwrap();
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let tested = std::process::Command::new(env!("CARGO"))
        .args(["test", "--quiet", "--manifest-path"])
        .arg(dir.join("echo-bot/Cargo.toml"))
        .env("CARGO_TARGET_DIR", dir.join("target"))
        .output()
        .unwrap();
    assert!(
        tested.status.success(),
        "the template's own test: {}",
        String::from_utf8_lossy(&tested.stderr)
    );
    let built = host_cmd(&dir)
        .args(["build", "echo-bot", "--out", "out"])
        .output()
        .unwrap();
    assert!(
        built.status.success(),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );
    assert!(dir.join("out/echo-bot.wasm").is_file());
    // The conversation test it was created with passes against the simulator.
    let (ok, out) = host_in(&dir, &["test", "echo-bot"]);
    assert!(
        ok && out.contains("ok   ") && out.contains("text is echoed"),
        "{out}"
    );
    let checked = host_cmd(&dir)
        .args(["check", "--no-cache", "out/echo-bot.wasm"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&checked.stdout);
    assert!(
        checked.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&checked.stderr)
    );
    assert!(stdout.contains("ok      echo-bot 0.1.0"), "{stdout}");
    assert!(
        stdout.contains("subscribes: CALLBACK /v1.0/im/bot/messages/get"),
        "{stdout}"
    );
    assert!(
        stdout.contains("imports:    dingtalk:bot/reply@0.3.0"),
        "{stdout}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn run_with_a_missing_plugin_file_names_the_file_once() {
    let dir = scratch("missing");
    let missing = dir.join("nonexistent.wasm");
    let out = host_cmd(&dir)
        .args(["run", "--client-id", "id", "--client-secret", "secret"])
        .arg(&missing)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    let expected = format!("cannot load the plugin {}: no such file", missing.display());
    assert_eq!(stderr.matches(&expected).count(), 1, "{stderr}");
    assert!(
        !stderr.contains("connect"),
        "not a connection step: {stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn check_with_only_a_config_file_reports_its_malformed_grant() {
    let dir = scratch("bad-config");
    std::fs::write(dir.join("bad.toml"), "[plugins.reporter]\nopenapi = [42]\n").unwrap();
    let out = host_cmd(&dir)
        .args(["check", "--config", "bad.toml"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(!stderr.contains("nothing to check"), "{stderr}");
    assert!(
        stderr.contains("reporter") && stderr.contains("openapi"),
        "the error names the plugin and the key: {stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn mcp_without_a_section_or_with_an_open_listen_and_no_token_refuses_to_start() {
    let dir = scratch("mcp-config");
    std::fs::write(dir.join("none.toml"), "[plugins.calcbot]\n").unwrap();
    std::fs::write(
        dir.join("open.toml"),
        "[mcp_server]\nlisten = \"0.0.0.0:7790\"\ntools = [\"calcbot.*\"]\n",
    )
    .unwrap();
    for (file, why) in [
        ("none.toml", "needs an [mcp_server] section"),
        ("open.toml", "off loopback, needs `token_secret`"),
    ] {
        let out = host_cmd(&dir)
            .args(["mcp", "--config", file, "calcbot.wasm"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{file}");
        assert!(stderr.contains(why), "{file}: {stderr}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn check_lists_each_mcp_servers_tools_and_which_agents_may_call_them() {
    use std::io::BufRead as _;
    let dir = scratch("check-mcp");
    std::fs::copy(calcbot(), dir.join("calcbot.wasm")).expect("copy calcbot");
    std::fs::write(
        dir.join("serve.toml"),
        "[mcp_server]\nlisten = \"127.0.0.1:0\"\ntools = [\"calcbot.*\"]\n",
    )
    .unwrap();
    // `host mcp` is the remote server here: rmcp's server, the host's client.
    let mut server = host_cmd(&dir)
        .args(["mcp", "--config", "serve.toml", "calcbot.wasm"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("host mcp");
    let mut lines = std::io::BufReader::new(server.stdout.take().expect("stdout")).lines();
    let url = loop {
        let line = lines
            .next()
            .expect("host mcp printed its URL")
            .expect("a line");
        if let Some(url) = line.strip_prefix("MCP clients connect to ") {
            break url.to_owned();
        }
    };
    std::fs::write(
        dir.join("host.toml"),
        format!(
            "[mcp.calc]\nurl = \"{url}\"\n[mcp.gone]\nurl = \"http://127.0.0.1:1/mcp\"\n\
             [plugins.calcbot]\ntools = [\"mcp.calc.*\"]\n\
             [plugins.calcbot.approvals]\n\"mcp.calc.calcbot_calc\" = \"always\"\n"
        ),
    )
    .unwrap();
    let checked = host_cmd(&dir)
        .args([
            "check",
            "--no-cache",
            "calcbot.wasm",
            "--config",
            "host.toml",
        ])
        .output()
        .expect("run host check");
    let _ = server.kill();
    let _ = server.wait();
    let stdout = String::from_utf8_lossy(&checked.stdout).into_owned();
    assert!(checked.status.success(), "{stdout}");
    assert!(
        stdout.contains(&format!("mcp     mcp.calc ({url})")),
        "{stdout}"
    );
    assert!(
        stdout.contains("offers:     mcp.calc.calcbot_calc: Evaluate an arithmetic expression"),
        "{stdout}"
    );
    assert!(
        stdout.contains("callable by: calcbot (after approval)"),
        "{stdout}"
    );
    assert!(stdout.contains("mcp     mcp.gone"), "{stdout}");
    assert!(
        stdout.contains("not reachable now: MCP server \"gone\""),
        "{stdout}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// `host <args>` in `dir`; its stdout, and whether it succeeded.
fn host_in(dir: &Path, args: &[&str]) -> (bool, String) {
    let out = host_cmd(dir).args(args).output().expect("run host");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// Whether `program` runs here; outside CI a missing one skips the test (printed).
fn have(program: &str, for_what: &str) -> bool {
    let found = std::process::Command::new(program)
        .arg("-?")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !found {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{program} is required under CI=true ({for_what})"
        );
        eprintln!("skipped: {program} is not installed ({for_what})");
    }
    found
}

#[test]
fn a_plugin_naming_a_publisher_loads_only_when_one_of_its_keys_signed_the_whole_file() {
    if !have("ssh-keygen", "an OpenSSH key signs a plugin") {
        return;
    }
    let dir = scratch("trust");
    for d in ["signed", "unsigned", "changed"] {
        std::fs::create_dir_all(dir.join(d)).unwrap();
    }
    std::fs::copy(calcbot(), dir.join("signed/calcbot.wasm")).unwrap();
    std::fs::copy(calcbot(), dir.join("unsigned/calcbot.wasm")).unwrap();
    for key in ["acme.key", "other.key"] {
        let (ok, out) = host_in(&dir, &["keygen", "--out", key]);
        assert!(ok, "{out}");
    }
    let (ok, out) = host_in(&dir, &["keygen", "--out", "acme.key"]);
    assert!(!ok && out.contains("not overwriting"), "{out}");
    let ssh = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "ci@example", "-f"])
        .arg(dir.join("ssh_key"))
        .status()
        .expect("ssh-keygen");
    assert!(ssh.success());
    // Two publishers sign the same file; each signature stays.
    for key in ["acme.key", "ssh_key"] {
        let (ok, out) = host_in(&dir, &["sign", "--key", key, "signed/calcbot.wasm"]);
        assert!(ok, "{out}");
    }
    let mut changed = std::fs::read(dir.join("signed/calcbot.wasm")).unwrap();
    let last = changed.len() - 1;
    changed[last] ^= 0x01;
    std::fs::write(dir.join("changed/calcbot.wasm"), changed).unwrap();
    let line = |f: &str| {
        std::fs::read_to_string(dir.join(f))
            .unwrap()
            .trim()
            .to_owned()
    };
    let config = |publisher: &str, require: bool| {
        format!(
            "[trust]\nrequire_signatures = {require}\n\
             [trust.publishers.acme]\nkeys = [\"{}\"]\n\
             [trust.publishers.ssh]\nkeys = [\"{}\"]\n\
             [trust.publishers.other]\nkeys = [\"{}\"]\n{publisher}",
            line("acme.key.pub"),
            line("ssh_key.pub"),
            line("other.key.pub"),
        )
    };
    let check = |file: &str, config: String| {
        std::fs::write(dir.join("host.toml"), config).unwrap();
        host_in(
            &dir,
            &["check", "--no-cache", "--config", "host.toml", file],
        )
    };
    let named = |p: &str| format!("[plugins.calcbot]\npublisher = \"{p}\"\n");
    let (ok, out) = check("signed/calcbot.wasm", config(&named("acme"), false));
    assert!(ok && out.contains("signed by:  acme (SHA256:"), "{out}");
    // The OpenSSH key verifies, and its fingerprint is the one ssh-keygen prints.
    let (ok, out) = check("signed/calcbot.wasm", config(&named("ssh"), true));
    let listed = std::process::Command::new("ssh-keygen")
        .arg("-lf")
        .arg(dir.join("ssh_key.pub"))
        .output()
        .expect("ssh-keygen -l");
    let fingerprint = String::from_utf8_lossy(&listed.stdout)
        .split_whitespace()
        .nth(1)
        .expect("a fingerprint")
        .to_owned();
    assert!(
        ok && out.contains(&format!("signed by:  ssh ({fingerprint})")),
        "{out}"
    );
    for (file, publisher, require, why) in [
        (
            "signed/calcbot.wasm",
            named("other"),
            false,
            "but by none of the trusted keys",
        ),
        (
            "unsigned/calcbot.wasm",
            named("acme"),
            false,
            "publisher \"acme\": it is not signed",
        ),
        (
            "changed/calcbot.wasm",
            named("acme"),
            false,
            "the file changed after it was signed",
        ),
        (
            "unsigned/calcbot.wasm",
            String::new(),
            true,
            "`[trust] require_signatures` is set",
        ),
    ] {
        let (ok, out) = check(file, config(&publisher, require));
        assert!(!ok, "{file} {publisher}: {out}");
        assert!(
            out.contains("refused by the trust policy") && out.contains(why),
            "{file} {publisher}: {out}"
        );
    }
    // The deny list wins over every signature: by digest, or by one signer's key.
    let digest: String = {
        use sha2::Digest as _;
        sha2::Sha256::digest(std::fs::read(dir.join("signed/calcbot.wasm")).unwrap())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    };
    for (deny, why) in [
        (format!("sha256:{digest}"), "is on the deny list"),
        (
            format!("key:{}", line("ssh_key.pub")),
            "a key on the deny list",
        ),
    ] {
        let denied = config(&named("acme"), false)
            .replace("[trust]\n", &format!("[trust]\ndeny = [\"{deny}\"]\n"));
        let (ok, out) = check("signed/calcbot.wasm", denied);
        assert!(!ok && out.contains(why), "{deny}: {out}");
    }
    let (ok, out) = check("unsigned/calcbot.wasm", config(&named("nobody"), false));
    assert!(
        !ok && out.contains("which [trust.publishers] does not list"),
        "{out}"
    );
    let (ok, out) = host_in(
        &dir,
        &["verify", "--key", "acme.key.pub", "signed/calcbot.wasm"],
    );
    assert!(ok && out.contains("verified"), "{out}");
    let (ok, out) = host_in(
        &dir,
        &["verify", "--key", "other.key.pub", "signed/calcbot.wasm"],
    );
    assert!(!ok && out.contains("does not verify"), "{out}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(dir.join("acme.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(
            mode & 0o077,
            0,
            "the secret key is readable by others: {mode:o}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn inspect_shows_the_manifest_and_the_real_imports_and_check_marks_what_is_granted() {
    let dir = scratch("inspect");
    std::fs::copy(calcbot(), dir.join("calcbot.wasm")).unwrap();
    let (ok, out) = host_in(&dir, &["inspect", "calcbot.wasm"]);
    assert!(ok, "{out}");
    assert!(out.contains("calcbot 0.1.0 by dingtalk-wasm-host"), "{out}");
    assert!(out.contains("requests route:      commands /calc"), "{out}");
    // What it can call is read from its imports, whatever the manifest says.
    assert!(out.contains("imports:    dingtalk:bot/reply@"), "{out}");
    assert!(out.contains("signature:  not signed"), "{out}");
    std::fs::write(dir.join("host.toml"), "[plugins.calcbot]\n").unwrap();
    let (ok, out) = host_in(
        &dir,
        &[
            "check",
            "--no-cache",
            "--config",
            "host.toml",
            "calcbot.wasm",
        ],
    );
    assert!(ok, "{out}");
    assert!(
        out.contains("requests route:      commands /calc (NOT granted)"),
        "{out}"
    );
    std::fs::write(
        dir.join("host.toml"),
        "[plugins.calcbot]\ncommands = [\"/calc\"]\n",
    )
    .unwrap();
    let (ok, out) = host_in(
        &dir,
        &[
            "check",
            "--no-cache",
            "--config",
            "host.toml",
            "calcbot.wasm",
        ],
    );
    assert!(ok && out.contains("commands /calc (granted)"), "{out}");
    // A second manifest section (or a malformed one) is named, never half read.
    let mut twice = std::fs::read(dir.join("calcbot.wasm")).unwrap();
    wasm_encoder::ComponentSection::append_to_component(
        &wasm_encoder::CustomSection {
            name: host::manifest::SECTION.into(),
            data: br#"{"name":"calcbot","version":"9.9.9","requests":{"proactive":false}}"#
                .as_slice()
                .into(),
        },
        &mut twice,
    );
    std::fs::write(dir.join("calcbot.wasm"), twice).unwrap();
    let (ok, out) = host_in(&dir, &["inspect", "calcbot.wasm"]);
    assert!(!ok && out.contains("appears twice"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn grant_writes_what_the_manifest_requests_only_when_told_to_and_keeps_the_operators_file() {
    let dir = scratch("grant");
    std::fs::create_dir_all(dir.join("plugins")).unwrap();
    std::fs::copy(calcbot(), dir.join("plugins/calcbot.wasm")).unwrap();
    let config = "# ours\n[limits]\nmemory_mib = 64\n";
    std::fs::write(dir.join("host.toml"), config).unwrap();
    // No terminal to ask on and no --yes: nothing is written.
    let (ok, out) = host_in(&dir, &["grant", "--config", "host.toml", "calcbot"]);
    assert!(!ok && out.contains("--yes"), "{out}");
    assert!(
        out.contains("+ commands = [\"/calc\"]"),
        "shown before asking: {out}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("host.toml")).unwrap(),
        config
    );
    let (ok, out) = host_in(
        &dir,
        &["grant", "--yes", "--config", "host.toml", "calcbot"],
    );
    assert!(ok, "{out}");
    let written = std::fs::read_to_string(dir.join("host.toml")).unwrap();
    assert!(written.starts_with(config), "{written}");
    assert!(
        written.contains("[plugins.calcbot]\ncommands = [\"/calc\"]"),
        "{written}"
    );
    let (ok, out) = host_in(
        &dir,
        &["grant", "--yes", "--config", "host.toml", "calcbot"],
    );
    assert!(ok && out.contains("nothing to write"), "{out}");
    let (ok, out) = host_in(
        &dir,
        &[
            "check",
            "--no-cache",
            "--config",
            "host.toml",
            "plugins/calcbot.wasm",
        ],
    );
    assert!(ok && out.contains("commands /calc (granted)"), "{out}");
    // A name that matches no component is said so, with where it was looked for.
    let (ok, out) = host_in(&dir, &["grant", "--yes", "--config", "host.toml", "nobody"]);
    assert!(
        !ok && out.contains("no component named \"nobody\""),
        "{out}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn check_names_the_reason_a_plugin_would_be_refused() {
    let dir = scratch("check");
    std::fs::write(dir.join("junk.wasm"), b"not wasm").unwrap();
    let checked = host_cmd(&dir)
        .args(["check", "--no-cache", "junk.wasm"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&checked.stdout);
    assert!(!checked.status.success());
    assert!(
        stdout.contains("refused junk.wasm: plugin load failed"),
        "{stdout}"
    );
    assert!(
        stdout.contains("not a valid WebAssembly component"),
        "{stdout}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn check_names_the_identity_rule_that_refused_a_plugin_and_shows_grants() {
    let dir = scratch("identity");
    std::fs::copy(calcbot(), dir.join("weather.wasm")).unwrap();
    std::fs::copy(calcbot(), dir.join("calcbot.wasm")).unwrap();
    std::fs::write(
        dir.join("host.toml"),
        format!(
            "[plugins.calcbot]\nsha256 = \"{}\"\nopenapi = [\"GET /v1.0/contact/*\"]\n",
            "0".repeat(64)
        ),
    )
    .unwrap();
    let checked = host_cmd(&dir)
        .args(["check", "--no-cache", "weather.wasm", "calcbot.wasm"])
        .args(["--config", "host.toml"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&checked.stdout);
    assert!(!checked.status.success());
    assert!(
        stdout.contains("refused weather.wasm: plugin load failed: weather.wasm refused by the name rule: it calls itself \"calcbot\""),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "refused calcbot.wasm: plugin load failed: calcbot.wasm refused by the sha256 pin"
        ),
        "{stdout}"
    );
    std::fs::write(
        dir.join("host.toml"),
        "[plugins.calcbot]\nopenapi = [\"GET /v1.0/contact/*\"]\nproactive = true\n",
    )
    .unwrap();
    let checked = host_cmd(&dir)
        .args([
            "check",
            "--no-cache",
            "calcbot.wasm",
            "--config",
            "host.toml",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&checked.stdout);
    assert!(checked.status.success(), "{stdout}");
    assert!(
        stdout.contains("grant openapi:    /v1.0/contact/* (GET)"),
        "{stdout}"
    );
    assert!(stdout.contains("grant proactive:"), "{stdout}");
    assert!(stdout.contains("sha256:     "), "{stdout}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn check_lists_origins_and_injected_header_names_but_never_secret_values() {
    let dir = scratch("secrets");
    std::fs::copy(calcbot(), dir.join("calcbot.wasm")).unwrap();
    std::fs::write(
        dir.join("host.toml"),
        concat!(
            "[secrets]
",
            "llm_key = { env = \"HOST_CLI_TEST_LLM_KEY\" }
",
            "[plugins.calcbot]
",
            "http = [\"https://api.deepseek.com\", \"https://*.example.com\"]
",
            "[plugins.calcbot.http_headers.\"https://api.deepseek.com\"]
",
            "Authorization = \"Bearer {secret.llm_key}\"
",
        ),
    )
    .unwrap();
    let check = |env: Option<&str>| {
        let mut cmd = host_cmd(&dir);
        cmd.args([
            "check",
            "--no-cache",
            "calcbot.wasm",
            "--config",
            "host.toml",
        ]);
        match env {
            Some(v) => cmd.env("HOST_CLI_TEST_LLM_KEY", v),
            None => cmd.env_remove("HOST_CLI_TEST_LLM_KEY"),
        };
        cmd.output().unwrap()
    };
    let checked = check(Some("sk-cli-secret-value"));
    let stdout = String::from_utf8_lossy(&checked.stdout);
    let stderr = String::from_utf8_lossy(&checked.stderr);
    assert!(checked.status.success(), "{stdout}{stderr}");
    assert!(
        stdout.contains(
            "grant http:       https://api.deepseek.com (the host adds headers: authorization)"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("grant http:       https://*.example.com"),
        "{stdout}"
    );
    assert!(!stdout.contains("sk-cli-secret-value") && !stderr.contains("sk-cli-secret-value"));

    let missing = check(None);
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(!missing.status.success());
    assert!(
        stderr
            .contains("secret \"llm_key\": environment variable HOST_CLI_TEST_LLM_KEY is not set"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// `host check --no-cache calcbot.wasm --config host.toml` in a scratch folder named
/// `name`, with `config` as the file; what it printed (it must succeed).
fn check_calcbot_with(name: &str, config: &str) -> String {
    let dir = scratch(name);
    std::fs::copy(calcbot(), dir.join("calcbot.wasm")).expect("copy calcbot");
    std::fs::write(dir.join("host.toml"), config).expect("write the config");
    let checked = host_cmd(&dir)
        .args([
            "check",
            "--no-cache",
            "calcbot.wasm",
            "--config",
            "host.toml",
        ])
        .output()
        .expect("run host check");
    let stdout = String::from_utf8_lossy(&checked.stdout).into_owned();
    assert!(checked.status.success(), "{stdout}");
    let _ = std::fs::remove_dir_all(&dir);
    stdout
}

#[test]
fn check_shows_the_routing_table_in_the_order_rules_are_tried() {
    let stdout = check_calcbot_with(
        "routing",
        "[plugins.calcbot]\ncommands = [\"/calc\"]\nmatch = '^[0-9+*/ ]+$'\n",
    );
    assert!(
        stdout.contains("grant route:      commands /calc"),
        "{stdout}"
    );
    let table = stdout
        .split("routing of chatbot messages, first match wins:")
        .nth(1)
        .unwrap_or_else(|| panic!("no routing table: {stdout}"));
    let lines: Vec<&str> = table
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    assert!(
        lines[0].starts_with("command /calc") && lines[0].contains("-> calcbot"),
        "{table}"
    );
    assert!(
        lines[1].starts_with("match") && lines[1].contains("-> calcbot"),
        "{table}"
    );
    assert!(
        lines[2].contains("anything else") && lines[2].contains("nobody"),
        "{table}"
    );
}

#[test]
fn check_shows_a_warm_plugins_instances_and_an_on_receipt_ack() {
    let stdout = check_calcbot_with(
        "warm",
        "[plugins.calcbot]\ninstances = \"warm\"\nwarm_frames = [4, 64]\nack = \"on-receipt\"\n",
    );
    assert!(
        stdout.contains("instances:  warm, each serves 4-64 frames (drawn at random)"),
        "{stdout}"
    );
    assert!(stdout.contains("ack:        on receipt"), "{stdout}");
}

#[test]
fn check_shows_the_tools_a_plugin_offers_and_the_tools_an_agent_is_granted() {
    let stdout = check_calcbot_with(
        "tools",
        "[plugins.calcbot]\ntools = [\"calcbot.*\"]\n[plugins.calcbot.approvals]\n\"calcbot.calc\" = \"always\"\n",
    );
    assert!(
        stdout.contains("offers:     calcbot.calc: Evaluate an arithmetic expression"),
        "{stdout}"
    );
    assert!(stdout.contains("grant tools:      calcbot.*"), "{stdout}");
    assert!(
        stdout.contains("grant approvals:  calcbot.calc always, by the sender"),
        "{stdout}"
    );
}

#[test]
fn check_with_apps_checks_each_apps_plugins_with_that_apps_grants() {
    let dir = scratch("check-apps");
    std::fs::copy(calcbot(), dir.join("calcbot.wasm")).unwrap();
    std::fs::write(
        dir.join("host.toml"),
        concat!(
            "[secrets]\n",
            "a = { env = \"HOST_CLI_TEST_APP_SECRET\" }\n",
            "[apps.support]\n",
            "client_id = \"dingsupport\"\n",
            "client_secret = \"{secret.a}\"\n",
            "load = [\"calcbot.wasm\"]\n",
            "[apps.support.plugins.calcbot]\n",
            "proactive = true\n",
            "[apps.sales]\n",
            "client_id = \"dingsales\"\n",
            "client_secret = \"{secret.a}\"\n",
            "load = [\"missing.wasm\"]\n",
        ),
    )
    .unwrap();
    let checked = host_cmd(&dir)
        .args(["check", "--no-cache", "--config", "host.toml"])
        .env("HOST_CLI_TEST_APP_SECRET", "app-secret-value")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&checked.stdout);
    let stderr = String::from_utf8_lossy(&checked.stderr);
    assert!(
        !checked.status.success(),
        "sales' plugin is missing: {stdout}"
    );
    // Apps are checked in name order: sales, then support.
    let (sales, support) = stdout
        .split_once("app support (client id dingsupport)")
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(
        sales.contains("app sales (client id dingsales)"),
        "{stdout}"
    );
    assert!(sales.contains("refused: no file matches"), "{stdout}");
    assert!(support.contains("ok      calcbot"), "{stdout}");
    assert!(support.contains("proactive"), "{stdout}");
    assert!(
        !sales.contains("proactive"),
        "grants stay per app: {stdout}"
    );
    assert!(
        stderr.contains("apps with refused plugins: sales"),
        "{stderr}"
    );
    assert!(!format!("{stdout}{stderr}").contains("app-secret-value"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// `host dev <project>` in the workspace: type `question`, see `answer`, quit.
async fn dev_session(project: &str, question: &str, answer: &str) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace")
        .to_path_buf();
    let out = scratch(&format!("dev-{}", project.replace('/', "-")));
    let mut child = Command::new(env!("CARGO_BIN_EXE_host"))
        .current_dir(&workspace)
        .args(["dev", project, "--out"])
        .arg(&out)
        // Its own store: the sessions run in parallel, and a store admits one process.
        .arg("--state-dir")
        .arg(out.join("state"))
        .env("CARGO_TARGET_DIR", shared_target().join("plugin-build"))
        .env("DINGTALK_HOST_TOOLS", shared_target().join("plugin-tools"))
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn host dev");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut lines = tokio::io::BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut seen = Vec::new();
    assert!(
        read_until(&mut lines, &mut seen, "type a message").await,
        "no prompt: {seen:?}"
    );
    stdin
        .write_all(format!("{question}\n").as_bytes())
        .await
        .expect("type the question");
    assert!(
        read_until(&mut lines, &mut seen, answer).await,
        "no answer: {seen:?}"
    );
    stdin.write_all(b"/quit\n").await.expect("type /quit");
    let status = tokio::time::timeout(WAIT, child.wait())
        .await
        .expect("host dev quits")
        .expect("its status");
    assert!(status.success());
    let _ = std::fs::remove_dir_all(out);
}

#[tokio::test]
async fn dev_builds_runs_and_answers_what_the_developer_types() {
    dev_session("plugins/calcbot", "6*7", "bot> A: 42").await;
}

#[tokio::test]
async fn dev_works_on_a_typescript_project_too() {
    if !node() {
        return;
    }
    dev_session("plugins/todobot", "todo add milk", "bot> Added **1.** milk").await;
}

#[tokio::test]
async fn dev_works_on_a_python_project_too() {
    if !python3() {
        return;
    }
    dev_session("plugins/pycalc", "py 6*7", "bot> A: 42").await;
}

/// Read lines until one contains `want` (true) or the output ends or stalls (false).
async fn read_until(
    lines: &mut tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStdout>>,
    seen: &mut Vec<String>,
    want: &str,
) -> bool {
    while let Ok(Ok(Some(line))) =
        tokio::time::timeout(Duration::from_secs(120), lines.next_line()).await
    {
        let done = line.contains(want);
        seen.push(line);
        if done {
            return true;
        }
    }
    false
}

#[tokio::test]
async fn the_benchmark_driver_accounts_for_every_reply_and_ack_of_the_host_binary() {
    let calcbot = calcbot().display().to_string();
    let host = env!("CARGO_BIN_EXE_host");
    let config = sim::bench::BenchConfig {
        messages: 300,
        window: 16,
        warmup: 20,
        command: [
            "env",
            "RUST_LOG=warn",
            &format!(
                "DINGTALK_HOST_STATE_DIR={}",
                scratch("bench-state").display()
            ),
            host,
            "run",
            &calcbot,
        ]
        .map(String::from)
        .to_vec(),
        prefix: String::new(),
    };
    let report = sim::bench::run(&config).await.unwrap();
    assert_eq!(report.messages, 300);
    assert_eq!(report.window, 16);
    assert_eq!(report.errors, 0, "{}", report.table());
    assert!(report.ack_p50_ms.is_finite() && report.ack_p99_ms >= report.ack_p50_ms);
    assert!(report.reply_p50_ms.is_finite() && report.reply_p99_ms >= report.reply_p50_ms);
    assert!(report.messages_per_sec > 0.0);
    assert!(report.client_peak_rss_mib > 1.0, "{}", report.table());
}

/// The target folder the rest of the suite builds in.
fn shared_target() -> std::path::PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .parent()
                .expect("workspace")
                .join("target")
        })
}

/// `host` with the build folder the rest of the suite uses, so componentize-py and
/// the npm tools are installed once.
fn host_shared_tools(dir: &Path) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_host"));
    cmd.current_dir(dir)
        .env("CARGO_TARGET_DIR", shared_target());
    cmd
}

#[tokio::test]
async fn a_new_python_plugin_tests_builds_checks_and_answers_a_message() {
    if !python3() {
        return;
    }
    let dir = scratch("new-python");
    run_ok(host_shared_tools(&dir).args(["new", "echo-py", "--lang", "python"]));
    run_ok(
        std::process::Command::new("python3")
            .current_dir(&dir)
            .args(["-m", "unittest", "discover", "-s", "echo-py/tests"]),
    );
    run_ok(host_shared_tools(&dir).args(["build", "echo-py", "--out", "out"]));
    let checked = run_ok(host_shared_tools(&dir).args(["check", "out/echo-py.wasm"]));
    assert!(checked.contains("ok      echo-py 0.1.0"), "{checked}");
    answers_hi(&dir, "out/echo-py.wasm").await;
    // Its conversation test, as created, passes with `host test`.
    let (ok, out) = host_in(
        &dir,
        &[
            "test",
            "out/echo-py.wasm",
            "echo-py/tests/conversation.toml",
        ],
    );
    assert!(ok && out.contains("1 passed, 0 failed"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_new_typescript_plugin_tests_builds_checks_and_answers_a_message() {
    if !node() {
        return;
    }
    let dir = scratch("new-ts");
    run_ok(host_shared_tools(&dir).args(["new", "echo-ts", "--lang", "ts"]));
    // Building installs the tools; then the project's own test, as `npm test` runs it
    // (with the build folder's TypeScript instead of an `npm install`).
    run_ok(host_shared_tools(&dir).args(["build", "echo-ts", "--out", "out"]));
    let modules = shared_target().join("plugin-tools/js/node_modules");
    run_ok(
        std::process::Command::new("node")
            .current_dir(dir.join("echo-ts"))
            .arg(modules.join("typescript/bin/tsc"))
            .args(["-p", "tsconfig.test.json", "--typeRoots"])
            .arg(modules.join("@types")),
    );
    run_ok(
        std::process::Command::new("node")
            .current_dir(dir.join("echo-ts"))
            .args(["--test", ".test-build/test/"]),
    );
    let checked = run_ok(host_shared_tools(&dir).args(["check", "out/echo-ts.wasm"]));
    assert!(checked.contains("ok      echo-ts 0.1.0"), "{checked}");
    answers_hi(&dir, "out/echo-ts.wasm").await;
    // Its conversation test, as created, passes with `host test`.
    let (ok, out) = host_in(
        &dir,
        &[
            "test",
            "out/echo-ts.wasm",
            "echo-ts/tests/conversation.toml",
        ],
    );
    assert!(ok && out.contains("1 passed, 0 failed"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_new_javascript_plugin_tests_and_checks_from_its_folder() {
    if !node() {
        return;
    }
    let dir = scratch("new-js");
    run_ok(host_shared_tools(&dir).args(["new", "echo-js", "--lang", "js"]));
    run_ok(
        std::process::Command::new("node")
            .current_dir(dir.join("echo-js"))
            .args(["--test", "test/"]),
    );
    // `host check` takes the project itself: it builds it first.
    let checked = run_ok(host_shared_tools(&dir).args(["check", "echo-js"]));
    assert!(checked.contains("ok      echo-js 0.1.0"), "{checked}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Run `cmd`, fail the test with its output unless it succeeds; its stdout.
fn run_ok(cmd: &mut std::process::Command) -> String {
    let out = cmd.output().expect("run the command");
    assert!(
        out.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `host run <component>` in `dir` against a fresh simulator answers " hi " with the
/// template's echo.
async fn answers_hi(dir: &Path, component: &str) {
    let sim = Sim::builder().start().await.expect("start the simulator");
    let mut child = Command::new(env!("CARGO_BIN_EXE_host"))
        .current_dir(dir)
        .args(["run", component])
        .env("DINGTALK_CLIENT_ID", sim.client_id())
        .env("DINGTALK_CLIENT_SECRET", sim.client_secret())
        .env("DINGTALK_OPENAPI_ENDPOINT", sim.url())
        .env("DINGTALK_OAPI_ENDPOINT", sim.url())
        .env("DINGTALK_HOST_STATE_DIR", dir.join("state"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn host run");
    assert!(sim.wait_connections(1, Duration::from_secs(120)).await);
    let pushed = sim
        .push_chatbot(MessageSpec::text(" hi "))
        .await
        .expect("push a message");
    let replies = sim.wait_replies(&pushed.session, 1, WAIT).await;
    assert_eq!(replies[0].text(), Some("you said: hi"));
    let _ = child.kill().await;
    sim.shutdown().await;
}

/// Whether node and npm run (else the skip is printed, or under `CI=true` the test
/// fails).
fn node() -> bool {
    installed("node") && installed("npm")
}

/// Whether python3 runs (else the skip is printed, or under `CI=true` the test fails).
pub fn python3() -> bool {
    installed("python3")
}

/// Whether `program --version` runs; when it does not, the skip is printed (outside
/// CI) or the test fails (under `CI=true`).
fn installed(program: &str) -> bool {
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
            eprintln!("skipped: {program} is not installed ({e})");
            false
        }
    }
}

/// Write the conversation file `name` (`text`) into `dir`, then run `host test
/// COMPONENT name EXTRA...` there.
fn conversation(
    dir: &Path,
    component: &Path,
    name: &str,
    text: &str,
    extra: &[&str],
) -> (bool, String) {
    std::fs::write(dir.join(name), text).expect("write the test file");
    let mut args = vec!["test", component.to_str().expect("a UTF-8 path"), name];
    args.extend(extra);
    host_in(dir, &args)
}

#[test]
fn host_test_runs_calcbots_conversations_and_a_failing_or_hanging_one_fails_with_a_diff() {
    let dir = scratch("host-test");
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf();
    let component = calcbot();
    let tests = workspace.join("plugins/calcbot/tests/calc.toml");
    let junit = dir.join("junit.xml");
    let (ok, out) = host_in(
        &dir,
        &[
            "test",
            component.to_str().unwrap(),
            tests.to_str().unwrap(),
            "--junit",
            junit.to_str().unwrap(),
        ],
    );
    assert!(ok, "{out}");
    assert!(out.contains("3 passed, 0 failed"), "{out}");
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("tests=\"3\" failures=\"0\""), "{xml}");

    // The other Rust examples' conversations: an AI card from the simulator's model
    // (plain and scripted), memory forgotten once the clock moves past its TTL, a
    // stand-in provider streaming the answer and failing; a card, its update and a
    // button press.
    let built = host::cli::build::build_components(
        &workspace,
        &["aibot".into(), "cardbot".into()],
        &dir.join("built"),
    )
    .unwrap();
    for (name, files, passed) in [
        ("aibot", &["ai.toml", "provider.toml"][..], "5 passed"),
        ("cardbot", &["card.toml"][..], "2 passed"),
    ] {
        let component = built
            .iter()
            .find(|p| p.file_stem().is_some_and(|s| s == name))
            .unwrap();
        let mut args = vec![component.to_str().unwrap().to_owned()];
        args.extend(files.iter().map(|f| {
            let path = workspace.join("plugins").join(name).join("tests").join(f);
            path.to_str().unwrap().to_owned()
        }));
        let mut argv = vec!["test"];
        argv.extend(args.iter().map(String::as_str));
        let (ok, out) = host_in(&dir, &argv);
        assert!(ok && out.contains(&format!("{passed}, 0 failed")), "{out}");
    }

    // Several plugins in one test: aibot as an agent calls calcbot's tool, which
    // runs (its step ends "ok" on the card) before the scripted answer.
    let aibot = built
        .iter()
        .find(|p| p.file_stem().is_some_and(|s| s == "aibot"))
        .unwrap();
    let (ok, out) = conversation(
        &dir,
        aibot,
        "agent.toml",
        &format!(
            "plugins = [{:?}]\n\n[[test]]\nname = \"aibot asks calcbot\"\nmodel = [{{ call = \"calcbot_calc\", arguments = {{ expression = \"17*23\" }} }}, {{ text = \"It is 391.\" }}]\nsteps = [\n  {{ say = \"How much is 17 times 23?\" }},\n  {{ ai_card_contains = '`calcbot.calc` `{{\"expression\":\"17*23\"}}` — ok' }},\n  {{ ai_card_contains = \"It is 391.\" }},\n]\n",
            component.to_str().unwrap()
        ),
        &[],
    );
    assert!(ok && out.contains("1 passed, 0 failed"), "{out}");

    // An approval pressed after the test's clock passed its expiry runs nothing;
    // pressed in time, the call runs. Pressed once the question's frame is ACKed:
    // the agent saves its waiting turn after showing the card.
    std::fs::write(
        dir.join("approval-host.toml"),
        "[plugins.aibot]\ntools = [\"calcbot.*\"]\n[plugins.aibot.approvals]\n\"calcbot.calc\" = \"always\"\nexpire_ms = 60000\n",
    )
    .unwrap();
    let (ok, out) = conversation(
        &dir,
        aibot,
        "approval.toml",
        &format!(
            "config = \"approval-host.toml\"\nplugins = [{:?}]\nmodel = [{{ call = \"calcbot_calc\", arguments = {{ expression = \"17*23\" }} }}, {{ text = \"Done.\" }}]\n\n[[test]]\nname = \"too late\"\nsteps = [\n  {{ say = \"How much is 17 times 23?\" }},\n  {{ card_contains = \"Approval needed\" }},\n  {{ ack = 200 }},\n  {{ wait_ms = 90000 }},\n  {{ press = \"Allow once\" }},\n  {{ ack = 200 }},\n  {{ card_contains = \"expired; nothing ran\" }},\n]\n\n[[test]]\nname = \"in time\"\nsteps = [\n  {{ say = \"How much is 17 times 23?\" }},\n  {{ card_contains = \"Approval needed\" }},\n  {{ ack = 200 }},\n  {{ press = \"Allow once\" }},\n  {{ ack = 200 }},\n  {{ ai_card_contains = '`calcbot.calc` `{{\"expression\":\"17*23\"}}` — ok' }},\n]\n",
            component.to_str().unwrap()
        ),
        &[],
    );
    assert!(ok && out.contains("2 passed, 0 failed"), "{out}");

    // A request no stand-in route answers fails the test naming it, though every
    // step held; a stored value other than expected is shown beside the expectation.
    let provider = workspace.join("plugins/aibot/tests/provider/host.toml");
    let (ok, out) = conversation(
        &dir,
        aibot,
        "unexpected.toml",
        &format!(
            "config = {provider:?}\n[[origin]]\nurl = \"https://models.example.com\"\nroutes = [{{ path = \"/v1/models\", json = {{}} }}]\n\n[[test]]\nname = \"asks an unexpected path\"\nsteps = [{{ say = \"hello\" }}, {{ ack = 200 }}]\n\n[[test]]\nname = \"stores something else\"\ntimeout_ms = 2000\nmodel = []\nsteps = [{{ say = \"hi\" }}, {{ ack = 200 }}, {{ kv = \"memory:cidSingle1=\", equals = \"nope\" }}]\n"
        ),
        &[],
    );
    assert!(!ok, "{out}");
    assert!(
        out.contains("unexpected outbound requests")
            && out.contains("POST https://models.example.com/v1/chat/completions"),
        "{out}"
    );
    assert!(
        out.contains("expected aibot's key \"memory:cidSingle1=\" to be \"nope\""),
        "{out}"
    );

    // A wrong expectation: exit status 1, the expected and actual reply side by side.
    let (ok, out) = conversation(
        &dir,
        &component,
        "wrong.toml",
        "[[test]]\nname = \"wrong sum\"\nsteps = [\n  { say = \"1+1\" },\n  { reply = \"Q: 1+1\\nA: 3\" },\n]\n\n[[test]]\nname = \"hangs\"\ntimeout_ms = 500\nsteps = [{ say = \"1+1\" }, { reply = \"Q: 1+1\\nA: 2\" }, { reply = \"never\" }]\n",
        &["--junit", junit.to_str().unwrap()],
    );
    assert!(!ok, "{out}");
    assert!(out.contains("FAIL wrong.toml::wrong sum"), "{out}");
    assert!(
        out.contains("wrong.toml:5: expected a reply \"Q: 1+1\\nA: 3\""),
        "{out}"
    );
    assert!(out.contains("actual: \"Q: 1+1\\nA: 2\""), "{out}");
    // A second reply that never comes: stopped at the test's timeout, by the outer
    // bound or by the reply wait it bounds (whichever fires first).
    assert!(out.contains("FAIL wrong.toml::hangs"), "{out}");
    assert!(
        out.contains("stopped") || out.contains("actual: no reply"),
        "{out}"
    );
    assert!(
        std::fs::read_to_string(&junit)
            .unwrap()
            .contains("failures=\"2\"")
    );

    // --update rewrites a snapshot that did not hold from what happened, keeping the
    // file's comments; the file then passes as it is.
    let snap = dir.join("snap.toml");
    let (ok, out) = conversation(
        &dir,
        &component,
        "snap.toml",
        "[[test]]\nname = \"snapshot\"\nsteps = [\n  { say = \"6*7\" },  # asked\n  { reply = \"\" },\n  { ack = 200 },\n]\n",
        &["--update"],
    );
    assert!(ok && out.contains("updated 1 expectation(s)"), "{out}");
    let updated = std::fs::read_to_string(&snap).unwrap();
    assert!(
        updated.contains("{ reply = \"Q: 6*7\\nA: 42\" }") && updated.contains("# asked"),
        "{updated}"
    );
    let (ok, out) = host_in(&dir, &["test", component.to_str().unwrap(), "snap.toml"]);
    assert!(ok && out.contains("1 passed, 0 failed"), "{out}");

    // A malformed file is named with its line before any test runs.
    let (ok, out) = conversation(
        &dir,
        &component,
        "bad.toml",
        "[[test]]\nname = \"typo\"\nsteps = [\n  { say = \"1\" },\n  { replay = \"1\" },\n]\n",
        &[],
    );
    assert!(
        !ok && out.contains("bad.toml:5") && out.contains("replay"),
        "{out}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
