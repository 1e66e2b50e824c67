//! Fidelity: the official Python SDK (`dingtalk-stream==0.24.3` from PyPI) runs a
//! calcbot against the simulator. It connects, answers pings, gets its messages and
//! replies, and reconnects after `disconnect`: the simulator speaks the real
//! protocol, not just this host's reading of it.
//!
//! The SDK is installed into a virtualenv under the target directory on first use.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::json;
use sim::{MessageSpec, Sim};
use tests::{WAIT, workspace};

/// The SDK version whose behaviour protocol.md documents.
const SDK: &str = "dingtalk-stream==0.24.3";

fn venv_python() -> PathBuf {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON
        .get_or_init(|| {
            let dir = std::env::var_os("CARGO_TARGET_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| workspace().join("target"))
                .join("python-sdk-venv");
            let python = dir.join("bin/python");
            let installed = std::process::Command::new(&python)
                .args(["-c", "import importlib.metadata as m; assert m.version('dingtalk-stream') == '0.24.3'"])
                .status()
                .is_ok_and(|s| s.success());
            if !installed {
                let venv = std::process::Command::new("python3")
                    .args(["-m", "venv"])
                    .arg(&dir)
                    .status()
                    .expect("run python3 -m venv");
                assert!(venv.success(), "python3 -m venv failed");
                let pip = std::process::Command::new(&python)
                    .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", SDK])
                    .status()
                    .expect("run pip");
                assert!(pip.success(), "pip install {SDK} failed");
            }
            python
        })
        .clone()
}

#[tokio::test]
async fn the_official_python_sdk_connects_answers_pings_gets_messages_and_replies() {
    let python = tokio::task::spawn_blocking(venv_python).await.unwrap();
    let sim = Sim::builder()
        .disconnect_grace(Duration::from_secs(2))
        .start()
        .await
        .unwrap();
    let _child = tokio::process::Command::new(python)
        .arg(workspace().join("tests/python/calcbot.py"))
        .env("DINGTALK_OPENAPI_ENDPOINT", sim.url())
        .env("DINGTALK_CLIENT_ID", sim.client_id())
        .env("DINGTALK_CLIENT_SECRET", sim.client_secret())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start the Python calcbot");
    assert!(
        sim.wait_connections(1, Duration::from_secs(60)).await,
        "the SDK never connected"
    );

    let open = &sim.opens()[0];
    assert_eq!(
        open.subscriptions,
        [("CALLBACK".to_owned(), sim::CHATBOT_TOPIC.to_owned())]
    );
    assert_eq!(
        open.ua.as_deref(),
        Some("dingtalk-sdk-python/v0.24.3-union")
    );

    let ping = sim.ping().remove(0);
    assert_eq!(
        sim.wait_ack(&ping, WAIT).await.expect("ping ACK").opaque_ok,
        Some(true)
    );

    let pushed = sim
        .push_chatbot(MessageSpec::text(" 1+2*3").from("u-py", "Py"))
        .await
        .unwrap();
    let replies = sim.wait_replies(&pushed.session, 1, WAIT).await;
    assert_eq!(replies[0].text(), Some("Q: 1+2*3\nA: 7"));
    assert_eq!(replies[0].body["at"]["atUserIds"], json!(["u-py"]));
    let ack = sim.wait_ack(&pushed.message_id, WAIT).await.expect("ACK");
    assert_eq!(
        (ack.code, ack.data_json()),
        (200, json!({"response": "OK"}))
    );

    sim.disconnect();
    let again = sim
        .push_chatbot(MessageSpec::text("7//2"))
        .await
        .expect("the SDK reconnected");
    assert_eq!(
        sim.wait_replies(&again.session, 1, WAIT).await[0].text(),
        Some("Q: 7//2\nA: 3")
    );
    assert_eq!(sim.opens().len(), 2, "a new ticket after disconnect");
    sim.shutdown().await;
}
