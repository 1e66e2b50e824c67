//! The sandbox's promise under attack: a plugin gets nothing it was not granted,
//! cannot pass for another plugin, and cannot make the host hold or do unbounded
//! work. Each test is an attack that got through before the hole was closed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use host::runtime::Grants;
use host::runtime::{LimitOverrides, PluginSettings};
use sim::{MessageSpec, Sim};
use tests::{DELEGATE, Env, Logs, WAIT, fixture, host_for, plugin, refused, workspace};

fn hostile_settings(openapi: &[&str]) -> PluginSettings {
    let openapi: Vec<String> = openapi.iter().map(|s| s.to_string()).collect();
    PluginSettings {
        grants: Grants::default()
            .with_openapi(&openapi)
            .and_then(|g| g.with_topics(&[format!("CALLBACK {DELEGATE}")]))
            .expect("grants"),
        limits: LimitOverrides {
            memory_bytes: Some(32 << 20),
            wall_timeout: Some(Duration::from_secs(5)),
            ..Default::default()
        },
        ..Default::default()
    }
}

async fn start(others: &[&str], settings: PluginSettings) -> Env {
    tests::init_logging();
    let sim = Sim::builder().start().await.expect("sim");
    let mut builder = host_for(&sim).plugin(fixture("hostile"));
    for name in others {
        builder = builder.plugin(plugin(name));
    }
    let builder = builder.plugin_configs(BTreeMap::from([("hostile".to_owned(), settings)]));
    let host = tests::connect(builder, &sim).await;
    Env { sim, host }
}

fn scratch(name: &str) -> PathBuf {
    let dir = workspace()
        .join("target")
        .join(format!("sandbox-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

fn copy(from: &Path, to: &Path) -> PathBuf {
    std::fs::copy(from, to).expect("copy component");
    to.to_path_buf()
}

#[tokio::test]
async fn a_path_grant_cannot_be_escaped_through_the_url_parser() {
    let env = start(&[], hostile_settings(&["/v1.0/calendar/*"])).await;
    for path in [
        "/v1.0/calendar/%2e%2e/%2e%2e/v1.0/robot/oToMessages/batchSend",
        "/v1.0/calendar/.%2e/%2E./v1.0/robot/oToMessages/batchSend",
        "/v1.0/calendar/.\t./.\t./v1.0/robot/oToMessages/batchSend",
        "/v1.0/calendar/..%2f..%2fv1.0/robot/oToMessages/batchSend",
        "/v1.0/calendar/..\\..\\v1.0/robot/oToMessages/batchSend",
        "/v1.0/calendar//127.0.0.1/v1.0/robot/oToMessages/batchSend",
        "/v1.0/calendar/@127.0.0.1/x",
        "/v1.0/calendar/x#/../../robot/oToMessages/batchSend",
    ] {
        let (_, report) = env.attack(&format!("escape {path}")).await;
        let report = report.expect("the plugin reports");
        assert!(
            report.starts_with("escape refused: ") && report.contains("denied"),
            "{path:?}: {report}"
        );
    }
    let proactive: Vec<_> = env
        .sim
        .cards()
        .into_iter()
        .filter(|c| c.action.starts_with("proactive"))
        .collect();
    assert!(
        proactive.is_empty(),
        "reached the proactive API: {proactive:?}"
    );
    env.stop().await;
}

#[tokio::test]
async fn a_plugin_named_unlike_its_file_is_refused_naming_both() {
    let sim = Sim::builder().start().await.expect("sim");
    let dir = scratch("stem");
    let weather = copy(&plugin("calcbot"), &dir.join("weather.wasm"));
    let text = refused(host_for(&sim).plugin(&weather)).await;
    assert!(
        text.contains("weather") && text.contains("\"calcbot\"") && text.contains("file stem"),
        "{text}"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn a_huge_later_or_error_reaches_the_ack_cut_to_a_kibibyte() {
    let env = start(&[], hostile_settings(&[])).await;
    for attack in ["huge-later", "huge-error"] {
        let (ack, _) = env.attack(attack).await;
        assert_eq!(ack.code, 500);
        assert!(
            ack.message.len() < 1200 && ack.message.contains("bytes cut]"),
            "{attack}: {} bytes: {}",
            ack.message.len(),
            &ack.message[..ack.message.len().min(200)]
        );
    }
    env.stop().await;
}

#[tokio::test]
async fn oversized_import_arguments_are_refused_before_they_are_parsed() {
    let env = start(&[], hostile_settings(&["/v1.0/sim/*"])).await;
    let (_, report) = env.attack("big-args").await;
    let report = report.expect("report");
    let parts: Vec<&str> = report.split(" | ").collect();
    assert_eq!(parts.len(), 3, "{report}");
    for part in parts {
        assert!(
            part.starts_with("invalid argument: ") && part.contains("at most"),
            "{part}"
        );
    }
    assert!(env.sim.cards().is_empty());
    env.stop().await;
}

#[tokio::test]
async fn a_plugin_cannot_forge_host_log_lines_or_flood_the_log() {
    let logs = Logs::capture();
    let env = start(&[], hostile_settings(&[])).await;
    let (ack, report) = env.attack("forge-log").await;
    assert_eq!(ack.code, 200);
    assert_eq!(report.as_deref(), Some("logged"));
    env.stop().await;
    let text = logs.text();
    assert!(
        !text
            .lines()
            .any(|l| l.starts_with("2026-12-01T00:00:00.000000Z ERROR host: forged line")),
        "a forged line made it into the log"
    );
    assert!(text.contains("forged line"), "the message is still logged");
    assert!(
        text.len() < 1 << 20,
        "the log took {} bytes from one frame",
        text.len()
    );
}

#[tokio::test]
async fn a_broken_upload_leaks_no_token_to_the_plugin_or_the_log() {
    let logs = Logs::capture();
    let env = start(&[], hostile_settings(&[])).await;
    env.sim.break_uploads(true);
    let (ack, report) = env.attack("upload").await;
    let report = report.expect("report");
    assert!(report.starts_with("upload failed: network"), "{report}");
    assert_eq!(ack.code, 500);
    let tokens = env.sim.issued_tokens();
    assert!(!tokens.is_empty());
    env.stop().await;
    let log = logs.text();
    for seen in [report.as_str(), ack.message.as_str(), log.as_str()] {
        assert!(!seen.contains("access_token"), "{seen}");
        for token in &tokens {
            assert!(!seen.contains(token.as_str()), "a token leaked: {seen}");
        }
    }
}

#[tokio::test]
async fn a_plugin_can_change_only_the_cards_it_created() {
    let env = start(&["cardbot"], hostile_settings(&[])).await;
    env.sim
        .push_chatbot(MessageSpec::text("card please"))
        .await
        .expect("push");
    let sent = env.sim.wait_cards(1, WAIT).await;
    let biz_id = sent[0].biz_id.clone();
    let (_, report) = env.attack(&format!("card {biz_id}")).await;
    let report = report.expect("report");
    assert!(
        report.starts_with("update: denied") && report.contains("| stream: denied"),
        "{report}"
    );
    let cards = env.sim.wait_cards(2, WAIT).await;
    assert!(
        cards
            .iter()
            .all(|c| c.card != serde_json::json!({"contents": []})),
        "the hostile update reached DingTalk: {cards:?}"
    );
    env.stop().await;
}

#[tokio::test]
async fn a_plugin_cannot_make_the_host_refetch_tokens_in_a_loop() {
    let env = start(&[], hostile_settings(&["/v1.0/sim/*"])).await;
    let before = env.sim.token_fetches();
    let (_, report) = env.attack("unauthorized 20").await;
    assert_eq!(report.as_deref(), Some("unauthorized: 20 of 20 failed"));
    let fetched = env.sim.token_fetches() - before;
    // The frame's first call fetches the app's first token; the first 401 may
    // replace it once; the other 19 may not.
    assert!(fetched <= 2, "{fetched} token fetches for one frame");
    env.stop().await;
}

#[tokio::test]
async fn api_answers_are_read_with_a_size_cap() {
    let env = start(&[], hostile_settings(&["/v1.0/sim/*"])).await;
    let (_, report) = env.attack("escape /v1.0/sim/big?bytes=3000000").await;
    let report = report.expect("report");
    assert!(
        report.starts_with("escape refused: ") && report.contains("larger than"),
        "{}",
        &report[..report.len().min(300)]
    );
    let (_, report) = env.attack("escape /v1.0/sim/big?bytes=1000").await;
    assert!(
        report.is_some_and(|r| r.starts_with("escape answered")),
        "small answers still arrive"
    );
    env.stop().await;
}

#[tokio::test]
async fn upload_file_names_with_line_breaks_are_refused() {
    let env = start(&[], hostile_settings(&[])).await;
    let (_, report) = env.attack("upload-name").await;
    assert!(
        report
            .as_deref()
            .is_some_and(|r| r.starts_with("upload refused: invalid argument")),
        "{report:?}"
    );
    assert!(env.sim.media().is_empty());
    env.stop().await;
}

#[tokio::test]
async fn two_plugins_with_one_name_are_refused() {
    let sim = Sim::builder().start().await.expect("sim");
    let dir = scratch("twins");
    for sub in ["a", "b"] {
        std::fs::create_dir_all(dir.join(sub)).expect("dir");
        copy(&plugin("calcbot"), &dir.join(sub).join("calcbot.wasm"));
    }
    let text = refused(
        host_for(&sim)
            .plugin(dir.join("a/calcbot.wasm"))
            .plugin(dir.join("b/calcbot.wasm")),
    )
    .await;
    assert!(
        text.contains("unique-name rule") && text.contains("\"calcbot\""),
        "{text}"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn a_sha256_pin_admits_only_the_pinned_component() {
    let sim = Sim::builder().start().await.expect("sim");
    let pinned = |hex: &str| {
        BTreeMap::from([(
            "calcbot".to_owned(),
            PluginSettings {
                sha256: Some(host::runtime::Sha256Pin::from_hex(hex).expect("hex")),
                ..Default::default()
            },
        )])
    };
    let text = refused(
        host_for(&sim)
            .plugin(plugin("calcbot"))
            .plugin_configs(pinned(&"0".repeat(64))),
    )
    .await;
    assert!(
        text.contains("sha256 pin") && text.contains(&"0".repeat(64)),
        "{text}"
    );
    let actual = text
        .split("its SHA-256 is ")
        .nth(1)
        .and_then(|t| t.split(',').next())
        .expect("the error names the file's digest")
        .to_owned();
    let host = host_for(&sim)
        .plugin(plugin("calcbot"))
        .plugin_configs(pinned(&actual))
        .build()
        .await
        .expect("the right pin loads");
    assert_eq!(host.plugins()[0].sha256, actual);
    sim.shutdown().await;
}

#[tokio::test]
async fn reloading_one_plugin_keeps_another_plugins_quarantine() {
    let logs = Logs::capture();
    let dir = scratch("quarantine");
    copy(&plugin("calcbot"), &dir.join("calcbot.wasm"));
    copy(&fixture("hostile"), &dir.join("hostile.wasm"));
    let sim = Sim::builder().start().await.expect("sim");
    let dispatch = host::dispatch::DispatchConfig {
        quarantine: host::dispatch::quarantine::QuarantineConfig {
            after: 2,
            base: Duration::from_secs(60),
            ..Default::default()
        },
        ..Default::default()
    };
    let builder = host_for(&sim)
        .plugin(dir.join("*.wasm"))
        .plugin_configs(BTreeMap::from([(
            "hostile".to_owned(),
            hostile_settings(&[]),
        )]))
        .dispatch_config(dispatch);
    let env = Env {
        host: tests::connect(builder, &sim).await,
        sim,
    };
    for _ in 0..2 {
        let (ack, _) = env.attack("panic").await;
        assert!(
            ack.message.contains("panicked on purpose"),
            "{}",
            ack.message
        );
    }
    let (ack, _) = env.attack("panic").await;
    assert!(ack.message.contains("quarantined"), "{}", ack.message);
    std::fs::remove_file(dir.join("calcbot.wasm")).expect("remove");
    copy(&plugin("calcbot"), &dir.join("calcbot.wasm"));
    env.host.reload(false).await;
    assert!(
        logs.text()
            .lines()
            .any(|l| l.contains("plugin reloaded") && l.contains("calcbot")),
        "calcbot was not reloaded, so the test proves nothing"
    );
    let (ack, _) = env.attack("panic").await;
    assert!(
        ack.message.contains("quarantined"),
        "reloading calcbot let hostile out of quarantine: {}",
        ack.message
    );
    env.stop().await;
}

#[tokio::test]
async fn a_full_wait_queue_fails_frames_at_once() {
    let mut settings = hostile_settings(&[]);
    settings.limits.max_concurrency = Some(1);
    settings.limits.max_queue = Some(1);
    let env = start(&[], settings).await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        let (_, data) = env.sim.chatbot_data(&MessageSpec::text("sleep 1500"));
        ids.push(env.sim.push_callback(DELEGATE, data).await.expect("push"));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let third = env.sim.wait_ack(&ids[2], WAIT).await.expect("ACKed");
    assert_eq!(third.code, 500);
    assert!(
        third.message.contains("overloaded: 1 frames already wait"),
        "{}",
        third.message
    );
    for id in &ids[..2] {
        let ack = env.sim.wait_ack(id, WAIT).await.expect("ACKed");
        assert_eq!(ack.code, 200, "{}", ack.message);
    }
    env.stop().await;
}

#[tokio::test]
async fn a_session_webhook_off_dingtalks_hosts_is_never_called() {
    let env = start(&[], hostile_settings(&[])).await;
    let (_, mut data) = env.sim.chatbot_data(&MessageSpec::text("env"));
    // A listener the host must not reach: a reply would connect to it.
    let trap = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("listener");
    let elsewhere = format!(
        "http://{}/robot/sendBySession?session=x",
        trap.local_addr().expect("addr")
    );
    data["sessionWebhook"] = serde_json::json!(elsewhere);
    let id = env.sim.push_callback(DELEGATE, data).await.expect("push");
    let ack = env.sim.wait_ack(&id, WAIT).await.expect("ACKed");
    assert_eq!(ack.code, 500);
    assert!(
        ack.message
            .contains("denied: the frame's session webhook is not on DingTalk's API host"),
        "{}",
        ack.message
    );
    let connected = tokio::time::timeout(Duration::from_millis(200), trap.accept()).await;
    assert!(
        connected.is_err(),
        "the host connected to the foreign webhook"
    );
    env.stop().await;
}

#[tokio::test]
async fn a_card_callback_goes_to_the_plugin_that_created_the_card() {
    tests::init_logging();
    let sim = Sim::builder().start().await.expect("sim");
    let card_topic = "/v1.0/card/instances/callback";
    let configs = BTreeMap::from([
        (
            "cardwatch".to_owned(),
            PluginSettings {
                grants: Grants::default()
                    .with_topics(&[format!("CALLBACK {card_topic}")])
                    .expect("grant"),
                ..Default::default()
            },
        ),
        (
            "probe".to_owned(),
            PluginSettings {
                grants: tests::probe_topics(),
                ..Default::default()
            },
        ),
    ]);
    let builder = host_for(&sim)
        .plugin(fixture("cardwatch"))
        .plugin(fixture("probe"))
        .plugin_configs(configs);
    let env = Env {
        host: tests::connect(builder, &sim).await,
        sim,
    };
    let (_, report) = env.attack("instance").await;
    let report = report.expect("probe reports its card");
    let out_track_id = report.strip_prefix("ok: ").expect("created").to_owned();

    let id = env
        .sim
        .push_callback(
            card_topic,
            serde_json::json!({"value": "mine", "outTrackId": out_track_id}),
        )
        .await
        .expect("push");
    let ack = env.sim.wait_ack(&id, WAIT).await.expect("ACKed");
    assert_eq!(
        ack.data_json()["response"]["cardData"]["cardParamMap"]["echo"],
        "mine",
        "the creator answered: {:?}",
        ack.data
    );

    let id = env
        .sim
        .push_callback(
            card_topic,
            serde_json::json!({"value": "unknown", "outTrackId": "nobody-made-this"}),
        )
        .await
        .expect("push");
    let ack = env.sim.wait_ack(&id, WAIT).await.expect("ACKed");
    assert_eq!(
        ack.data_json()["response"],
        serde_json::json!({"cardwatch": true}),
        "a card no one is known to own fans out as before: {:?}",
        ack.data
    );
    env.stop().await;
}
