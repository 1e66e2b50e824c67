//! aibot against the simulator's model endpoint and card APIs: the card is created
//! in the right conversation and streamed with growing text, then finished; memory
//! per conversation and sender, `/new`; every card and model fault ends in exactly
//! one user-visible answer; the API key reaches only the model server; a slow model
//! answers once. The TypeScript and Python SDKs' `ai` helpers (fixtures `jsai`,
//! `pyai`) are held to the same answers.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use host::dispatch::DispatchConfig;
use host::egress::Egress;
use host::kv::embedded::Embedded;
use host::runtime::{Grants, LimitOverrides, PluginSettings};
use host::secrets::Secrets;
use host::{PluginConfigs, RunningHost};
use serde_json::Value;
use sim::{CardFault, CardRecord, MessageSpec, ModelFault, Sim, answer_to};
use tests::{Logs, WAIT, connect, host_for, init_logging, js_fixture, plugin, python_fixture};

/// The model server's key in these tests; it must appear in no log line.
const MODEL_KEY: &str = "sk-aibot-e2e-4b1d-never-logged";

struct Ai {
    sim: Sim,
    host: RunningHost,
    state: PathBuf,
}

/// What one question produced.
struct Answered {
    cards: Vec<CardRecord>,
    replies: Vec<sim::Reply>,
    ack: sim::AckRecord,
}

impl Answered {
    fn streams(&self) -> Vec<&Value> {
        self.cards
            .iter()
            .filter(|c| c.action == "instance.stream")
            .map(|c| &c.card)
            .collect()
    }

    fn flow_statuses(&self) -> Vec<&str> {
        self.cards
            .iter()
            .filter(|c| c.action == "instance.update")
            .filter_map(|c| c.card["flowStatus"].as_str())
            .collect()
    }
}

pub(crate) fn aibot_settings(
    sim: &Sim,
    config: &[(&str, &str)],
    limits: LimitOverrides,
) -> PluginSettings {
    let origin = sim.url();
    let section: toml::Table = toml::from_str(&format!(
        "http = [\"{origin}\"]\n[http_headers.\"{origin}\"]\nAuthorization = \"Bearer {{secret.model_key}}\"\n"
    ))
    .expect("toml");
    let mut grants = Grants::parse(&section)
        .expect("grants")
        .with_config("base-url", &sim.model_url())
        .with_config("model", "sim-model")
        .with_config("update-interval-ms", "100");
    for (k, v) in config {
        grants = grants.with_config(k, v);
    }
    PluginSettings {
        grants,
        limits,
        ..Default::default()
    }
}

impl Ai {
    async fn start(config: &[(&str, &str)]) -> Self {
        Self::with(
            config,
            LimitOverrides::default(),
            MODEL_KEY,
            DispatchConfig::default(),
        )
        .await
    }

    async fn with(
        config: &[(&str, &str)],
        limits: LimitOverrides,
        key: &str,
        dispatch: DispatchConfig,
    ) -> Self {
        Self::serving(&plugin("aibot"), config, limits, key, dispatch).await
    }

    /// `component` (aibot, or another plugin answering the same way) granted the
    /// simulator's model under `key`.
    async fn serving(
        component: &Path,
        config: &[(&str, &str)],
        limits: LimitOverrides,
        key: &str,
        dispatch: DispatchConfig,
    ) -> Self {
        init_logging();
        let sim = Sim::builder()
            .model_key(MODEL_KEY)
            .start()
            .await
            .expect("sim");
        let state = std::env::temp_dir().join(format!(
            "host-aibot-{}-{}",
            std::process::id(),
            rand_suffix()
        ));
        let name = component
            .file_stem()
            .expect("a component file")
            .to_string_lossy();
        let mut configs = PluginConfigs::new();
        configs.insert(name.into_owned(), aibot_settings(&sim, config, limits));
        let store = Arc::new(Embedded::open(&state.join("kv.redb")).expect("store"));
        let builder = host_for(&sim)
            .plugin(component)
            .plugin_configs(configs)
            .egress(Egress::new(Secrets::default().with("model_key", key)))
            .kv(store)
            .dispatch_config(dispatch);
        let host = connect(builder, &sim).await;
        Self { sim, host, state }
    }

    /// Ask `spec`; wait for its ACK and for the card to reach a final state (or a
    /// reply), then collect what the user could see.
    async fn ask(&self, spec: MessageSpec) -> Answered {
        let cards_before = self.sim.cards().len();
        let pushed = self.sim.push_chatbot(spec).await.expect("push");
        let ack = self
            .sim
            .wait_ack(&pushed.message_id, WAIT)
            .await
            .expect("ACK");
        // The handler may outlive the ACK (slow models); wait until it is done.
        let card = format!("ai-{}", pushed.data["msgId"].as_str().unwrap_or_default());
        let deadline = std::time::Instant::now() + WAIT;
        loop {
            let ended = self.sim.cards().iter().skip(cards_before).any(|c| {
                c.biz_id == card && (c.card["flowStatus"] == "3" || c.card["flowStatus"] == "5")
            });
            let replied = !self
                .sim
                .wait_replies(&pushed.session, 1, Duration::ZERO)
                .await
                .is_empty();
            if ended || replied || std::time::Instant::now() > deadline {
                break;
            }
            self.sim.changed(Duration::from_millis(100)).await;
        }
        // Anything a second answer would need to arrive.
        tokio::time::sleep(Duration::from_millis(300)).await;
        Answered {
            cards: self
                .sim
                .cards()
                .into_iter()
                .skip(cards_before)
                .filter(|c| c.biz_id == card)
                .collect(),
            replies: self
                .sim
                .wait_replies(&pushed.session, 1, Duration::ZERO)
                .await,
            ack,
        }
    }

    async fn stop(self) {
        self.host.shutdown().await;
        self.sim.shutdown().await;
        let _ = std::fs::remove_dir_all(&self.state);
    }
}

fn rand_suffix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

const QUESTION: &str =
    "how do streaming cards keep the answer readable while it is still being written";

#[tokio::test]
async fn an_answer_types_itself_into_an_ai_card_then_finishes() {
    let ai = Ai::start(&[]).await;
    ai.sim.set_model_delay(Duration::from_millis(40));
    let answered = ai
        .ask(MessageSpec::text(QUESTION).from("staff-7", "Lin"))
        .await;
    assert_eq!(answered.ack.code, 200);
    assert!(answered.replies.is_empty(), "the card is the answer");
    let created = &answered.cards[0];
    assert_eq!(created.action, "instance.createAndDeliver");
    assert_eq!(
        created.receiver["userId"], "staff-7",
        "1:1: the sender's robot chat"
    );
    assert_eq!(
        created.card["flowStatus"], "1",
        "thinking before the model is asked"
    );
    let streams = answered.streams();
    let (last, growing) = streams.split_last().expect("streaming updates");
    assert!(growing.len() >= 2, "{} updates", growing.len());
    let texts: Vec<&str> = growing
        .iter()
        .filter_map(|s| s["content"].as_str())
        .collect();
    for pair in texts.windows(2) {
        assert!(
            pair[1].starts_with(pair[0]) && pair[1].len() > pair[0].len(),
            "{pair:?}"
        );
    }
    assert!(
        growing
            .iter()
            .all(|s| s["isFull"] == true && s["isFinalize"] == false)
    );
    assert_eq!(last["isFinalize"], true);
    assert_eq!(last["content"], answer_to(QUESTION));
    assert_eq!(answered.flow_statuses(), ["2", "3"]);
    ai.stop().await;
}

#[tokio::test]
async fn a_group_answer_goes_to_the_group() {
    let ai = Ai::start(&[]).await;
    let answered = ai
        .ask(MessageSpec::text("hello group").in_group("团队"))
        .await;
    let created = &answered.cards[0];
    assert!(
        created.receiver["openConversationId"]
            .as_str()
            .is_some_and(|c| c.starts_with("cidGroup")),
        "{:?}",
        created.receiver
    );
    assert_eq!(
        answered.streams().last().expect("final")["content"],
        answer_to("hello group")
    );
    ai.stop().await;
}

#[tokio::test]
async fn the_next_question_carries_the_last_exchange_and_new_forgets_it() {
    let ai = Ai::start(&[]).await;
    ai.ask(MessageSpec::text("first question")).await;
    ai.ask(MessageSpec::text("second question")).await;
    let requests = ai.sim.model_requests();
    let second = requests[1].messages();
    assert_eq!(second[0].0, "system");
    assert_eq!(
        &second[1..],
        [
            ("user".to_owned(), "first question".to_owned()),
            ("assistant".to_owned(), answer_to("first question")),
            ("user".to_owned(), "second question".to_owned()),
        ]
    );
    let cleared = ai.ask(MessageSpec::text("  /new")).await;
    assert_eq!(
        cleared.replies[0].text(),
        Some("Memory cleared: your next message starts a new conversation.")
    );
    assert!(cleared.cards.is_empty());
    ai.ask(MessageSpec::text("third question")).await;
    let third = ai.sim.model_requests()[2].messages();
    assert_eq!(
        third.len(),
        2,
        "system prompt and the question only: {third:?}"
    );
    ai.stop().await;
}

#[tokio::test]
async fn group_members_have_separate_memories_unless_the_group_shares_one() {
    for (scope, shared) in [("sender", false), ("conversation", true)] {
        let ai = Ai::start(&[("memory-scope", scope)]).await;
        ai.ask(
            MessageSpec::text("from alice")
                .in_group("g")
                .from("alice", "Alice"),
        )
        .await;
        ai.ask(
            MessageSpec::text("from bob")
                .in_group("g")
                .from("bob", "Bob"),
        )
        .await;
        let bob = ai.sim.model_requests()[1].messages();
        let saw_alice = bob.iter().any(|(_, c)| c == "from alice");
        assert_eq!(saw_alice, shared, "memory-scope {scope}: {bob:?}");
        ai.stop().await;
    }
}

#[tokio::test]
async fn each_card_fault_ends_in_one_markdown_answer() {
    for (fault, one_to_one) in [
        (CardFault::TemplateUnpublished, true),
        (CardFault::IllegalSpace, true),
        (CardFault::StreamingThrottled, false),
        (CardFault::StreamingUnknown, true),
    ] {
        let ai = Ai::start(&[]).await;
        ai.sim.set_card_fault(Some(fault));
        let spec = if one_to_one {
            MessageSpec::text(QUESTION)
        } else {
            MessageSpec::text(QUESTION).in_group("g")
        };
        let answered = ai.ask(spec).await;
        assert_eq!(answered.ack.code, 200, "{fault:?}");
        assert_eq!(answered.replies.len(), 1, "{fault:?}: one answer");
        let reply = &answered.replies[0].body;
        assert_eq!(reply["msgtype"], "markdown", "{fault:?}: {reply}");
        assert_eq!(reply["markdown"]["text"], answer_to(QUESTION), "{fault:?}");
        if matches!(
            fault,
            CardFault::StreamingThrottled | CardFault::StreamingUnknown
        ) {
            assert_eq!(
                answered.flow_statuses().last(),
                Some(&"5"),
                "{fault:?}: a shown card never stays generating"
            );
        }
        ai.stop().await;
    }
}

#[tokio::test]
async fn each_model_fault_fails_the_card_and_says_what_went_wrong_once() {
    for (fault, said) in [
        (ModelFault::RateLimited, "busy (429); try again in 7 s"),
        (ModelFault::ServerError, "failed (500)"),
        (ModelFault::BreakHalfway, "broke off"),
    ] {
        let ai = Ai::start(&[]).await;
        ai.sim.set_model_fault(Some(fault));
        let answered = ai.ask(MessageSpec::text(QUESTION)).await;
        assert_eq!(answered.ack.code, 200, "{fault:?}");
        assert_eq!(answered.replies.len(), 1, "{fault:?}: one answer");
        let text = answered.replies[0].text().expect("a text");
        assert!(
            text.starts_with("Sorry, ") && text.contains(said),
            "{fault:?}: {text}"
        );
        let failed = answered.streams().last().map(|s| s["isError"] == true);
        assert!(
            failed == Some(true) || answered.flow_statuses().last() == Some(&"5"),
            "{fault:?}: the card shows the failed state"
        );
        ai.stop().await;
    }
}

#[tokio::test]
async fn a_wrong_key_or_a_model_that_never_answers_is_reported_once() {
    let ai = Ai::with(
        &[],
        LimitOverrides::default(),
        "sk-wrong",
        DispatchConfig::default(),
    )
    .await;
    let answered = ai.ask(MessageSpec::text(QUESTION)).await;
    assert!(
        answered.replies[0]
            .text()
            .is_some_and(|t| t.contains("refused the API key (401)"))
    );
    assert_eq!(answered.replies.len(), 1);
    ai.stop().await;

    let limits = LimitOverrides {
        http_first_byte_timeout: Some(Duration::from_millis(500)),
        ..LimitOverrides::default()
    };
    let ai = Ai::with(&[], limits, MODEL_KEY, DispatchConfig::default()).await;
    ai.sim
        .set_model_fault(Some(ModelFault::SlowFirstByte(Duration::from_secs(3))));
    let answered = ai.ask(MessageSpec::text(QUESTION)).await;
    assert_eq!(answered.replies.len(), 1);
    let text = answered.replies[0].text().expect("a text");
    assert!(text.contains("did not answer in time"), "{text}");
    assert_eq!(answered.flow_statuses().last(), Some(&"5"));
    ai.stop().await;
}

#[tokio::test]
async fn the_api_key_reaches_the_model_server_and_no_log_line() {
    let logs = Logs::capture_all();
    let ai = Ai::start(&[]).await;
    ai.ask(MessageSpec::text(QUESTION)).await;
    let requests = ai.sim.model_requests();
    assert!(!requests.is_empty() && requests.iter().all(|r| r.authorized));
    assert!(
        !requests
            .iter()
            .any(|r| r.body.to_string().contains(MODEL_KEY))
    );
    assert!(!logs.text().contains(MODEL_KEY), "the key reached the log");
    ai.stop().await;
}

#[tokio::test]
async fn a_model_slower_than_the_ack_deadline_answers_exactly_once() {
    let dispatch = DispatchConfig {
        ack_deadline: Duration::from_millis(200),
        ..DispatchConfig::default()
    };
    let ai = Ai::with(&[], LimitOverrides::default(), MODEL_KEY, dispatch).await;
    ai.sim
        .set_model_fault(Some(ModelFault::SlowFirstByte(Duration::from_millis(1200))));
    let (session, data) = ai.sim.chatbot_data(&MessageSpec::text(QUESTION));
    let first = ai
        .sim
        .push_callback("/v1.0/im/bot/messages/get", data.clone())
        .await
        .expect("push");
    let ack = ai.sim.wait_ack(&first, WAIT).await.expect("ACK");
    assert_eq!(ack.code, 200, "ACKed as accepted before the model answered");
    // DingTalk pushes the same message again (same msgId) while the model thinks.
    let again = ai
        .sim
        .push_callback("/v1.0/im/bot/messages/get", data.clone())
        .await
        .expect("re-push");
    assert_eq!(ai.sim.wait_ack(&again, WAIT).await.expect("ACK").code, 200);
    let card = format!("ai-{}", data["msgId"].as_str().unwrap_or_default());
    let deadline = std::time::Instant::now() + WAIT;
    while std::time::Instant::now() < deadline
        && !ai
            .sim
            .cards()
            .iter()
            .any(|c| c.biz_id == card && c.card["flowStatus"] == "3")
    {
        ai.sim.changed(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let cards = ai.sim.cards();
    let created = cards
        .iter()
        .filter(|c| c.action == "instance.createAndDeliver")
        .count();
    let finals = cards
        .iter()
        .filter(|c| c.card["isFinalize"] == true)
        .count();
    assert_eq!((created, finals), (1, 1), "one card, finished once");
    assert_eq!(ai.sim.model_requests().len(), 1, "the model was asked once");
    assert!(
        ai.sim
            .wait_replies(&session, 1, Duration::ZERO)
            .await
            .is_empty()
    );
    ai.stop().await;
}

#[tokio::test]
async fn a_long_streamed_answer_is_not_charged_as_cpu() {
    // Each of ~45 chunks wakes the guest after a wait of two epoch ticks: charged as
    // CPU, the waits alone come to ~900 ms, three times this 300 ms budget. The real
    // work is a few ms; the rest of the budget absorbs a loaded machine preempting the
    // guest mid-chunk (a 100 ms budget failed that way on a busy CI box).
    let limits = LimitOverrides {
        cpu_budget: Some(Duration::from_millis(300)),
        ..LimitOverrides::default()
    };
    let ai = Ai::with(&[], limits, MODEL_KEY, DispatchConfig::default()).await;
    ai.sim.set_model_delay(Duration::from_millis(20));
    let question = (0..40)
        .map(|i| format!("word{i}"))
        .collect::<Vec<_>>()
        .join(" ");
    let answered = ai.ask(MessageSpec::text(&question)).await;
    assert_eq!(
        answered.streams().last().expect("final")["content"],
        answer_to(&question)
    );
    assert!(answered.replies.is_empty());
    ai.stop().await;
}

#[tokio::test]
async fn a_picture_gets_a_polite_text() {
    let ai = Ai::start(&[]).await;
    let answered = ai.ask(MessageSpec::picture()).await;
    assert_eq!(
        answered.replies[0].text(),
        Some("I can only read text messages; please ask in words.")
    );
    assert!(ai.sim.model_requests().is_empty());
    ai.stop().await;
}

/// What aibot's tests hold it to, asked of a plugin written with another SDK's `ai`
/// helpers: the card streams growing text and finishes, the next question carries
/// the last exchange, and a model failure fails the card and says so once.
async fn the_ai_helpers_answer_as_aibot_does(component: &Path) {
    let ai = Ai::serving(
        component,
        &[],
        LimitOverrides::default(),
        MODEL_KEY,
        DispatchConfig::default(),
    )
    .await;
    ai.sim.set_model_delay(Duration::from_millis(40));
    let answered = ai.ask(MessageSpec::text(QUESTION)).await;
    assert_eq!(answered.ack.code, 200);
    assert!(answered.replies.is_empty(), "the card is the answer");
    assert_eq!(answered.cards[0].action, "instance.createAndDeliver");
    assert_eq!(answered.cards[0].card["flowStatus"], "1");
    let streams = answered.streams();
    let (last, growing) = streams.split_last().expect("streaming updates");
    assert!(growing.len() >= 2, "{} updates", growing.len());
    let texts: Vec<&str> = growing
        .iter()
        .filter_map(|s| s["content"].as_str())
        .collect();
    assert!(
        texts
            .windows(2)
            .all(|p| p[1].starts_with(p[0]) && p[1].len() > p[0].len())
    );
    assert_eq!(
        (last["isFinalize"].clone(), last["content"].clone()),
        (Value::Bool(true), answer_to(QUESTION).into())
    );
    assert_eq!(answered.flow_statuses(), ["2", "3"]);

    ai.ask(MessageSpec::text("second question")).await;
    let second = ai.sim.model_requests()[1].messages();
    assert_eq!(
        &second[1..],
        [
            ("user".to_owned(), QUESTION.to_owned()),
            ("assistant".to_owned(), answer_to(QUESTION)),
            ("user".to_owned(), "second question".to_owned()),
        ]
    );

    ai.sim.set_model_fault(Some(ModelFault::ServerError));
    let answered = ai.ask(MessageSpec::text("third question")).await;
    assert_eq!(answered.replies.len(), 1, "one answer");
    let text = answered.replies[0].text().expect("a text");
    assert!(
        text.starts_with("Sorry, ") && text.contains("failed (500)"),
        "{text}"
    );
    assert_eq!(
        answered.flow_statuses().last(),
        Some(&"5"),
        "never left generating"
    );
    ai.stop().await;
}

#[tokio::test]
async fn the_typescript_ai_helpers_answer_as_aibot_does() {
    if let Some(jsai) = js_fixture("jsai") {
        the_ai_helpers_answer_as_aibot_does(&jsai).await;
    }
}

#[tokio::test]
async fn the_python_ai_helpers_answer_as_aibot_does() {
    if let Some(pyai) = python_fixture("pyai") {
        the_ai_helpers_answer_as_aibot_does(&pyai).await;
    }
}
