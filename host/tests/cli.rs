//! The `host` binary itself: `host run` against the simulator, credentials from the
//! environment, exit codes, and graceful shutdown on SIGTERM.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use sim::{MessageSpec, Sim};
use tokio::process::Command;

const WAIT: Duration = Duration::from_secs(10);

fn calcbot() -> PathBuf {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace");
    host::cli::build::build_components(workspace, &["calcbot".into()], &workspace.join("plugins"))
        .expect("build calcbot")
        .remove(0)
}

fn host_run(sim: &Sim) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_host"));
    cmd.arg("run")
        .arg(calcbot())
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
