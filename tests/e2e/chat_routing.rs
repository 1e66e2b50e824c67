//! Routing rules among plugins that all take chatbot messages: each message reaches
//! exactly the intended plugin (command, match, fallback), or none.

use std::time::Duration;

use host::PluginConfigs;
use host::egress::Egress;
use host::runtime::{Grants, LimitOverrides, PluginSettings};
use host::secrets::Secrets;
use sim::{MessageSpec, Sim, answer_to};
use tests::{Logs, WAIT, connect, host_for, init_logging, plugin};

use crate::aibot::aibot_settings;

const CALC_PATTERN: &str = r"^[\s\d.+\-*/%()]+$";

fn rules(text: &str) -> Grants {
    Grants::parse(&toml::from_str(text).expect("toml")).expect("rules")
}

fn settings(grants: Grants) -> PluginSettings {
    PluginSettings {
        grants,
        ..PluginSettings::default()
    }
}

/// Push `text`; its ACK code, its text replies, the cards and model requests it caused.
async fn route(sim: &Sim, text: &str) -> (i64, Vec<String>, usize, usize) {
    let cards = sim.cards().len();
    let asked = sim.model_requests().len();
    let pushed = sim
        .push_chatbot(MessageSpec::text(text))
        .await
        .expect("push");
    let ack = sim.wait_ack(&pushed.message_id, WAIT).await.expect("ACK");
    tokio::time::sleep(Duration::from_millis(400)).await;
    let replies = sim
        .wait_replies(&pushed.session, 1, Duration::ZERO)
        .await
        .iter()
        .filter_map(|r| {
            r.text()
                .or_else(|| r.body.pointer("/markdown/text")?.as_str())
                .map(str::to_owned)
        })
        .collect();
    (
        ack.code,
        replies,
        sim.cards().len() - cards,
        sim.model_requests().len() - asked,
    )
}

#[tokio::test]
async fn each_message_reaches_exactly_the_plugin_its_rule_names() {
    init_logging();
    let sim = Sim::builder().start().await.expect("sim");
    let mut configs = PluginConfigs::new();
    configs.insert(
        "calcbot".into(),
        settings(rules(&format!(
            "commands = [\"/calc\"]\nmatch = '{CALC_PATTERN}'\n"
        ))),
    );
    configs.insert(
        "cardbot".into(),
        settings(rules("commands = [\"/card\"]\n")),
    );
    let mut ai = aibot_settings(&sim, &[], LimitOverrides::default());
    ai.grants.routing = rules("fallback = true\n").routing;
    configs.insert("aibot".into(), ai);
    let builder = host_for(&sim)
        .plugins([plugin("calcbot"), plugin("cardbot"), plugin("aibot")])
        .plugin_configs(configs)
        .egress(Egress::new(
            Secrets::default().with("model_key", sim.model_key()),
        ));
    let host = connect(builder, &sim).await;

    let (code, replies, cards, asked) = route(&sim, "1+2*3").await;
    assert_eq!((code, cards, asked), (200, 0, 0));
    assert_eq!(replies, ["Q: 1+2*3\nA: 7"]);

    let (_, replies, cards, asked) = route(&sim, "/calc 2*3").await;
    assert_eq!(
        replies,
        ["Q: 2*3\nA: 6"],
        "calcbot sees the text after the command"
    );
    assert_eq!((cards, asked), (0, 0));

    let (_, replies, cards, asked) = route(&sim, "/card").await;
    assert!(replies.is_empty() && asked == 0, "{replies:?}");
    assert_eq!(cards, 2, "cardbot's card, sent and updated");

    let (_, replies, cards, asked) = route(&sim, "what is stream mode").await;
    assert!(replies.is_empty(), "{replies:?}");
    assert_eq!(asked, 1, "aibot, the fallback, asked the model");
    assert!(cards >= 2, "aibot's AI card");
    let last = sim
        .cards()
        .into_iter()
        .rev()
        .find(|c| c.card["isFinalize"] == true);
    assert_eq!(
        last.expect("final").card["content"],
        answer_to("what is stream mode")
    );

    host.shutdown().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn without_a_fallback_an_unmatched_message_is_acked_and_logged_not_answered() {
    init_logging();
    let logs = Logs::capture();
    let sim = Sim::builder().start().await.expect("sim");
    let mut configs = PluginConfigs::new();
    configs.insert(
        "calcbot".into(),
        settings(rules(&format!("match = '{CALC_PATTERN}'\n"))),
    );
    let builder = host_for(&sim)
        .plugins([plugin("calcbot"), plugin("cardbot")])
        .plugin_configs(configs);
    let host = connect(builder, &sim).await;
    let (code, replies, cards, _) = route(&sim, "hello there").await;
    assert_eq!((code, replies.len(), cards), (200, 0, 0));
    let (_, _, cards, _) = route(&sim, "/card").await;
    assert_eq!(
        cards, 0,
        "a plugin without a rule gets nothing once rules are set"
    );
    let (_, replies, _, _) = route(&sim, "6*7").await;
    assert_eq!(replies, ["Q: 6*7\nA: 42"]);
    let log = logs.text();
    assert!(log.contains("no routing rule matched"), "{log}");
    assert!(
        log.contains("cardbot") && log.contains("gets no chatbot messages"),
        "{log}"
    );
    host.shutdown().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn two_fallbacks_are_refused_at_start() {
    let sim = Sim::builder().start().await.expect("sim");
    let mut configs = PluginConfigs::new();
    configs.insert("calcbot".into(), settings(rules("fallback = true\n")));
    configs.insert("cardbot".into(), settings(rules("fallback = true\n")));
    let err = host_for(&sim)
        .plugins([plugin("calcbot"), plugin("cardbot")])
        .plugin_configs(configs)
        .build()
        .await
        .err()
        .expect("refused");
    assert!(
        err.to_string()
            .contains("more than one plugin is the routing fallback"),
        "{err}"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn calcbot_pycalc_and_todobot_side_by_side_give_each_message_one_answer() {
    init_logging();
    let Some(pycalc) = tests::python_plugin("pycalc") else {
        return;
    };
    let Some(todobot) = tests::js_plugin("todobot") else {
        return;
    };
    let sim = Sim::builder().start().await.expect("sim");
    let mut configs = PluginConfigs::new();
    configs.insert(
        "calcbot".into(),
        settings(rules(&format!("match = '{CALC_PATTERN}'\n"))),
    );
    configs.insert("pycalc".into(), settings(rules("match = '^py(\\s|$)'\n")));
    configs.insert(
        "todobot".into(),
        settings(rules("match = '^todo(\\s|$)'\n")),
    );
    let dir = std::env::temp_dir().join(format!("host-routing-todo-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let store = host::kv::embedded::Embedded::open(&dir.join("kv.redb")).expect("store");
    let builder = host_for(&sim)
        .plugin(plugin("calcbot"))
        .plugin(&pycalc)
        .plugin(&todobot)
        .plugin_configs(configs)
        .kv(std::sync::Arc::new(store));
    let host = connect(builder, &sim).await;
    for (text, want) in [
        ("1+2", "Q: 1+2\nA: 3"),
        ("py 2**10", "Q: 2**10\nA: 1024"),
        (
            "py foo",
            "Q: foo\nA: Error: invalid character 'f' at position 1",
        ),
        ("todo add 6*7", "Added **1.** 6\\*7"),
        ("todo list", "1. 6\\*7"),
    ] {
        let (code, replies, _, _) = route(&sim, text).await;
        assert_eq!((code, replies), (200, vec![want.to_owned()]), "{text}");
    }
    host.shutdown().await;
    sim.shutdown().await;
    let _ = std::fs::remove_dir_all(dir);
}
