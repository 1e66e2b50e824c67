//! Several DingTalk apps in one host: each keeps its own connection, token, replies,
//! key-value namespace and grants; a reload adds, changes and removes apps while the
//! others keep serving.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use host::apps::{AppSpec, Fleet, Shared};
use host::cli::ConfigFile;
use host::config::Endpoints;
use host::dispatch::DispatchConfig;
use host::egress::Egress;
use host::kv::embedded::Embedded;
use host::metrics::Metrics;
use host::openapi::HttpConfig;
use host::runtime::RuntimeConfig;
use host::secrets::Secrets;
use host::stream::StreamConfig;
use sim::{MessageSpec, Reply, Sim};
use tests::origin::Origin;
use tests::{WAIT, fixture, init_logging, plugin};

const SALES_ID: &str = "dingsalesapp";
const SALES_SECRET: &str = "sales-app-secret";

fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("host-apps-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

fn secrets(sim: &Sim) -> Secrets {
    Secrets::default()
        .with("support_secret", sim.client_secret())
        .with("sales_secret", SALES_SECRET)
}

/// The two apps' config: netprobe for `fetch`/`get`/`set`, cardbot for the rest;
/// `support_http` is what support's netprobe may reach (sales' may reach nothing).
fn config(sim: &Sim, support_http: &[String], with_sales: bool) -> String {
    let load = format!(
        "load = [{:?}, {:?}]\n",
        fixture("netprobe").display().to_string(),
        plugin("cardbot").display().to_string()
    );
    let routes = |app: &str, http: &[String]| {
        format!(
            "[apps.{app}.plugins.netprobe]\nmatch = '^(fetch|get|set) '\nhttp = {http:?}\n[apps.{app}.plugins.cardbot]\nfallback = true\n"
        )
    };
    let mut text = format!(
        "[apps.support]\nclient_id = {:?}\nclient_secret = \"{{secret.support_secret}}\"\n{load}{}",
        sim.client_id(),
        routes("support", support_http)
    );
    if with_sales {
        text += &format!(
            "[apps.sales]\nclient_id = {SALES_ID:?}\nclient_secret = \"{{secret.sales_secret}}\"\n{load}{}",
            routes("sales", &[])
        );
    }
    text
}

fn specs(dir: &Path, text: &str, secrets: &Secrets) -> Vec<AppSpec> {
    let path = dir.join("host.toml");
    std::fs::write(&path, text).expect("write config");
    let file = ConfigFile::load(&path).expect("valid config");
    file.apps(None, &[], secrets).expect("valid apps")
}

fn shared(sim: &Sim, dir: &Path, secrets: Secrets) -> Shared {
    Shared {
        endpoints: Endpoints {
            openapi: sim.url(),
            oapi: sim.url(),
        },
        runtime: RuntimeConfig::default(),
        dispatch: DispatchConfig::default(),
        stream: StreamConfig::default(),
        http: HttpConfig::default(),
        egress: Egress::new(secrets),
        kv: Some(Arc::new(
            Embedded::open(&dir.join("kv.redb")).expect("open the store"),
        )),
        replicas: None,
        metrics: Metrics::enabled(),
        watch_plugins: false,
        remote_tools: Vec::new(),
        audit: host::audit::Audit::default(),
        recorder: None,
    }
}

/// Send `text` to the robot of app `client_id`; its one reply.
async fn say_to(sim: &Sim, client_id: &str, text: &str) -> Reply {
    let pushed = sim
        .push_chatbot(MessageSpec::text(text).to_app(client_id))
        .await
        .expect("push");
    let ack = sim.wait_ack(&pushed.message_id, WAIT).await.expect("ACK");
    assert_eq!(ack.code, 200, "{ack:?}");
    sim.wait_replies(&pushed.session, 1, WAIT)
        .await
        .into_iter()
        .next()
        .expect("a reply")
}

async fn text_to(sim: &Sim, client_id: &str, text: &str) -> String {
    let reply = say_to(sim, client_id, text).await;
    assert_eq!(
        reply.app, client_id,
        "the reply went to the app's own session"
    );
    reply.text().unwrap_or_default().to_owned()
}

fn open_connections(sim: &Sim, client_id: &str) -> usize {
    sim.connections()
        .iter()
        .filter(|c| c.open && c.client_id == client_id)
        .count()
}

/// Wait until app `client_id` has `n` open connections (closing is asynchronous).
async fn settle(sim: &Sim, client_id: &str, n: usize) -> usize {
    let deadline = tokio::time::Instant::now() + WAIT;
    while open_connections(sim, client_id) != n && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    open_connections(sim, client_id)
}

/// A sim that knows both apps, an origin to fetch, and a scratch folder.
async fn setup(test: &str) -> (Sim, Origin, PathBuf) {
    init_logging();
    let sim = Sim::builder()
        .app(SALES_ID, SALES_SECRET)
        .start()
        .await
        .expect("sim");
    (sim, Origin::start("unused").await, scratch(test))
}

#[tokio::test]
async fn two_apps_in_one_host_keep_tokens_replies_state_and_grants_apart() {
    let (sim, origin, dir) = setup("isolation").await;
    let support = sim.client_id().to_owned();
    let specs = specs(&dir, &config(&sim, &[origin.url()], true), &secrets(&sim));
    let fleet = Fleet::start(shared(&sim, &dir, secrets(&sim)), specs)
        .await
        .expect("both apps start");
    assert!(sim.wait_connections(2, WAIT).await);
    assert_eq!(open_connections(&sim, &support), 1);
    assert_eq!(open_connections(&sim, SALES_ID), 1);

    // State: the same plugin in two apps has two namespaces.
    assert_eq!(text_to(&sim, &support, "set note for-support").await, "set");
    assert_eq!(text_to(&sim, SALES_ID, "get note").await, "none");
    assert_eq!(
        text_to(&sim, &support, "get note").await,
        "value=for-support"
    );

    // Grants: support's netprobe may reach the origin, sales' may not.
    let url = format!("fetch {}/hello", origin.url());
    assert_eq!(
        text_to(&sim, &support, &url).await,
        "status=200 body=hello from the origin"
    );
    let denied = text_to(&sim, SALES_ID, &url).await;
    assert!(denied.starts_with("error: denied"), "{denied}");

    // Tokens: each app's card goes out with its own token (the sim refuses a token
    // of one app with another app's robot code), and neither app saw the other's.
    for app in [support.as_str(), SALES_ID] {
        let pushed = sim
            .push_chatbot(MessageSpec::text("card please").to_app(app))
            .await
            .expect("push");
        assert_eq!(
            sim.wait_ack(&pushed.message_id, WAIT).await.map(|a| a.code),
            Some(200)
        );
    }
    let cards = sim.wait_cards(4, WAIT).await;
    assert_eq!(cards.len(), 4, "every card call was accepted: {cards:?}");
    let (a, b) = (sim.tokens_of(&support), sim.tokens_of(SALES_ID));
    assert!(!a.is_empty() && !b.is_empty(), "each app fetched a token");
    assert!(a.iter().all(|t| !b.contains(t)));

    let status = serde_json::to_value(fleet.status().await).expect("status");
    assert_eq!(status.as_array().map(Vec::len), Some(2), "{status}");
    assert!(fleet.not_ready().await.is_none());
    fleet.shutdown().await;
    sim.shutdown().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn a_reload_adds_changes_and_removes_apps_while_the_others_keep_serving() {
    let (sim, origin, dir) = setup("reload").await;
    let support = sim.client_id().to_owned();
    let secrets = secrets(&sim);
    let only_support = specs(&dir, &config(&sim, &[origin.url()], false), &secrets);
    let fleet = Fleet::start(shared(&sim, &dir, secrets.clone()), only_support)
        .await
        .expect("start");
    assert!(sim.wait_connections(1, WAIT).await);
    assert_eq!(text_to(&sim, &support, "set kept yes").await, "set");

    // Add sales; take support's grant away.
    let next = specs(&dir, &config(&sim, &[], true), &secrets);
    fleet.apply(next, Egress::new(secrets.clone())).await;
    assert_eq!(fleet.serving().await, ["sales", "support"]);
    assert_eq!(settle(&sim, SALES_ID, 1).await, 1);
    assert_eq!(
        settle(&sim, &support, 1).await,
        1,
        "the old connection of the changed app is drained and closed"
    );
    let url = format!("fetch {}/hello", origin.url());
    let denied = text_to(&sim, &support, &url).await;
    assert!(
        denied.starts_with("error: denied"),
        "the new grant applies: {denied}"
    );
    assert_eq!(
        text_to(&sim, &support, "get kept").await,
        "value=yes",
        "state survives the restart of the app"
    );
    assert_eq!(text_to(&sim, SALES_ID, "get kept").await, "none");

    // Remove sales: its connection is closed, support keeps serving.
    let last = specs(&dir, &config(&sim, &[], false), &secrets);
    fleet.apply(last, Egress::new(secrets.clone())).await;
    assert_eq!(fleet.serving().await, ["support"]);
    assert_eq!(settle(&sim, SALES_ID, 0).await, 0);
    assert_eq!(text_to(&sim, &support, "get kept").await, "value=yes");
    fleet.shutdown().await;
    sim.shutdown().await;
    let _ = std::fs::remove_dir_all(dir);
}
