//! aibot as an agent, its tools other plugins (calcbot, todobot, the `toolbox`
//! fixture), against the simulator's model in each tool-call dialect: the steps on
//! one card, the host brokering every call under the agent's grant, each call in the
//! tool's own sandbox, approvals settled once by the right person, and every bound
//! of a turn ending it with a sentence.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use host::dispatch::DispatchConfig;
use host::egress::Egress;
use host::kv::embedded::Embedded;
use host::runtime::{Grants, LimitOverrides, PluginSettings, file_stem};
use host::secrets::Secrets;
use host::{PluginConfigs, RunningHost};
use serde_json::{Value, json};
use sim::{CardRecord, Dialect, MessageSpec, ModelTurn, Sim};
use tests::{
    Logs, WAIT, connect, fixture, host_for, init_logging, js_fixture, js_plugin, plugin,
    python_plugin,
};

const MODEL_KEY: &str = "sk-agent-e2e-never-logged";
const CARD_TOPIC: &str = "/v1.0/card/instances/callback";

pub(crate) struct Agents {
    pub(crate) sim: Sim,
    host: RunningHost,
    state: PathBuf,
}

/// Tools from outside the plugins (remote MCP servers) and the secrets they need.
#[derive(Default)]
pub(crate) struct Remotes {
    pub(crate) servers: Vec<Arc<host::mcp::client::Remote>>,
    pub(crate) secrets: Vec<(&'static str, String)>,
}

/// What one question produced.
pub(crate) struct Turn {
    /// The message's ACK code (0 for a turn continued by a press).
    pub(crate) ack_code: i64,
    /// The AI card's records.
    card: Vec<CardRecord>,
    /// The approval card's records.
    approval: Vec<CardRecord>,
    replies: Vec<sim::Reply>,
    msg_id: String,
}

impl Turn {
    /// The text the AI card showed last.
    pub(crate) fn last_text(&self) -> String {
        self.card
            .iter()
            .rev()
            .find(|c| c.action == "instance.stream")
            .and_then(|c| c.card["content"].as_str())
            .unwrap_or_default()
            .to_owned()
    }

    pub(crate) fn finished(&self) -> bool {
        self.card
            .iter()
            .any(|c| c.action == "instance.update" && c.card["flowStatus"] == "3")
    }

    /// The approval request's id, from its Allow-once button.
    fn approval_id(&self) -> String {
        let card = &self.approval.last().expect("an approval card").card;
        let id = card["contents"][1]["actions"][0]["id"]
            .as_str()
            .expect("a button id");
        id.rsplit(':').next().expect("an id").to_owned()
    }
}

fn routed(rule: &str) -> PluginSettings {
    PluginSettings {
        grants: Grants::parse(&toml::from_str(rule).expect("toml")).expect("grants"),
        ..Default::default()
    }
}

/// The agent's section: the simulator's model, the card callback topic, `extra`,
/// and every message no other rule takes.
fn agent_settings(sim: &Sim, extra: &str, limits: &str) -> PluginSettings {
    let origin = sim.url();
    let section: toml::Table = toml::from_str(&format!(
        "http = [\"{origin}\"]\ntopics = [\"CALLBACK {CARD_TOPIC}\"]\nfallback = true\n{extra}\n[http_headers.\"{origin}\"]\nAuthorization = \"Bearer {{secret.model_key}}\"\n"
    ))
    .expect("toml");
    let grants = Grants::parse(&section)
        .expect("grants")
        .with_config("base-url", &sim.model_url())
        .with_config("model", "sim-model")
        .with_config("update-interval-ms", "50")
        .with_config("approval-buttons", "true");
    PluginSettings {
        grants,
        limits: toml::from_str(limits).expect("limits"),
        ..Default::default()
    }
}

impl Agents {
    /// aibot granted `section` (tools, approvals) under `limits`, beside calcbot and
    /// the toolbox fixture (and `more` plugins).
    async fn start(section: &str, limits: &str, more: &[PathBuf]) -> Self {
        Self::start_agent(&plugin("aibot"), section, limits, more).await
    }

    /// [`Agents::start`] with `agent` (a component) in aibot's place.
    async fn start_agent(agent: &Path, section: &str, limits: &str, more: &[PathBuf]) -> Self {
        Self::launch(agent, section, limits, more, Remotes::default()).await
    }

    /// aibot granted `section` under `limits`, offered the tools of `remotes` too.
    pub(crate) async fn start_remote(section: &str, limits: &str, remotes: Remotes) -> Self {
        Self::launch(&plugin("aibot"), section, limits, &[], remotes).await
    }

    async fn launch(
        agent: &Path,
        section: &str,
        limits: &str,
        more: &[PathBuf],
        remotes: Remotes,
    ) -> Self {
        init_logging();
        let sim = Sim::builder()
            .model_key(MODEL_KEY)
            .start()
            .await
            .expect("sim");
        let state = std::env::temp_dir().join(format!(
            "host-agents-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        ));
        let mut configs = PluginConfigs::new();
        let name = file_stem(agent).expect("a component file").to_owned();
        configs.insert(name, agent_settings(&sim, section, limits));
        // calcbot and todobot answer only their own commands in the chat; aibot
        // the rest.
        configs.insert("calcbot".into(), routed("commands = [\"/calc\"]"));
        configs.insert("todobot".into(), routed("match = '^todo\\b'"));
        let toolbox_limits: LimitOverrides = toml::from_str("cpu_ms = 200\n").expect("limits");
        configs.insert(
            "toolbox".into(),
            PluginSettings {
                limits: toolbox_limits,
                ..Default::default()
            },
        );
        let store = Arc::new(Embedded::open(&state.join("kv.redb")).expect("store"));
        let mut builder = host_for(&sim)
            .plugin(agent)
            .plugin(plugin("calcbot"))
            .plugin(fixture("toolbox"));
        for p in more {
            builder = builder.plugin(p);
        }
        let mut secrets = Secrets::default().with("model_key", MODEL_KEY);
        for (name, value) in &remotes.secrets {
            secrets = secrets.with(name, value);
        }
        let builder = builder
            .plugin_configs(configs)
            .egress(Egress::new(secrets))
            .remote_tools(remotes.servers)
            .kv(store)
            .dispatch_config(DispatchConfig::default());
        let host = connect(builder, &sim).await;
        Self { sim, host, state }
    }

    /// Ask `text` as `staff`; wait until the AI card is final or an approval card
    /// appears (or a reply), then collect what was shown.
    async fn ask_as(&self, text: &str, staff: &str, group: bool) -> Turn {
        let mut spec = MessageSpec::text(text).from(staff, "Lin");
        if group {
            spec = spec.in_group("team");
        }
        let pushed = self.sim.push_chatbot(spec).await.expect("push");
        let ack = self
            .sim
            .wait_ack(&pushed.message_id, WAIT)
            .await
            .expect("ACK");
        let msg_id = pushed.data["msgId"].as_str().unwrap_or_default().to_owned();
        let card = format!("ai-{msg_id}");
        self.settled(&card, Some(&pushed.session)).await;
        let mut turn = self.collect(&card).await;
        turn.ack_code = ack.code;
        turn.replies = self
            .sim
            .wait_replies(&pushed.session, 1, Duration::ZERO)
            .await;
        turn.msg_id = msg_id;
        turn
    }

    pub(crate) async fn ask(&self, text: &str) -> Turn {
        self.ask_as(text, "staff-7", false).await
    }

    /// Wait until card `card` is final, waits for approval, or a reply came.
    async fn settled(&self, card: &str, session: Option<&str>) {
        let deadline = std::time::Instant::now() + WAIT;
        let approval = format!("approve-{card}");
        loop {
            let cards = self.sim.cards();
            let ended = cards.iter().any(|c| {
                (c.biz_id == card && (c.card["flowStatus"] == "3" || c.card["flowStatus"] == "5"))
                    || (c.biz_id == approval
                        && c.card["header"]["title"]["text"] == "Approval needed")
            });
            let replied = match session {
                Some(s) => !self.sim.wait_replies(s, 1, Duration::ZERO).await.is_empty(),
                None => false,
            };
            if ended || replied || std::time::Instant::now() > deadline {
                break;
            }
            self.sim.changed(Duration::from_millis(100)).await;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    async fn collect(&self, card: &str) -> Turn {
        let cards = self.sim.cards();
        let approval = format!("approve-{card}");
        Turn {
            ack_code: 0,
            card: cards.iter().filter(|c| c.biz_id == card).cloned().collect(),
            approval: cards
                .iter()
                .filter(|c| c.biz_id == approval)
                .cloned()
                .collect(),
            replies: Vec::new(),
            msg_id: String::new(),
        }
    }

    /// Press an approval button of `turn` as `staff`; the callback's ACK and the
    /// turn as it stands afterwards.
    async fn press(&self, turn: &Turn, decision: &str, staff: &str) -> (sim::AckRecord, Turn) {
        let id = turn.approval_id();
        let card = format!("ai-{}", turn.msg_id);
        let data = sim::card_press(
            &format!("approve-{card}"),
            &format!("tool-approval:{decision}:{id}"),
            &json!({}),
            staff,
        );
        let pushed = self
            .sim
            .push_callback(CARD_TOPIC, data)
            .await
            .expect("push");
        let ack = self.sim.wait_ack(&pushed, WAIT).await.expect("ACK");
        self.settled(&card, None).await;
        let mut after = self.collect(&card).await;
        after.msg_id = turn.msg_id.clone();
        (ack, after)
    }

    pub(crate) async fn stop(self) {
        self.host.shutdown().await;
        self.sim.shutdown().await;
        let _ = std::fs::remove_dir_all(&self.state);
    }
}

/// Every request's messages of role `tool`.
pub(crate) fn tool_results(sim: &Sim) -> Vec<String> {
    sim.model_requests()
        .iter()
        .flat_map(|r| {
            r.body["messages"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .filter(|m| m["role"] == "tool")
                .map(|m| m["content"].as_str().unwrap_or_default().to_owned())
        })
        .collect()
}

const CALC: &str = "tools = [\"calcbot.*\"]";

#[tokio::test]
async fn a_question_that_needs_a_tool_shows_the_call_on_the_card_then_the_answer() {
    let a = Agents::start(CALC, "", &[]).await;
    let t = a.ask("what is calcbot_calc {\"expression\":\"6*7\"}").await;
    assert_eq!(t.ack_code, 200);
    assert!(t.finished(), "{:?}", t.card);
    let text = t.last_text();
    assert!(text.contains("🔧 `calcbot.calc`"), "{text}");
    assert!(text.contains("— ok,"), "{text}");
    assert!(
        text.contains("Tool said: {\"expression\":\"6*7\",\"value\":\"42\"}"),
        "{text}"
    );
    assert!(
        t.replies.is_empty(),
        "one card, no extra messages: {:?}",
        t.replies
    );
    let first = &a.sim.model_requests()[0].body;
    assert_eq!(first["tools"][0]["function"]["name"], "calcbot_calc");
    assert_eq!(first["stream_options"]["include_usage"], true);
    a.stop().await;
}

#[tokio::test]
async fn without_a_tools_grant_aibot_answers_as_before_and_offers_the_model_nothing() {
    let a = Agents::start("", "", &[]).await;
    let t = a.ask("calcbot_calc {\"expression\":\"1+1\"}").await;
    assert!(t.finished());
    assert!(a.sim.model_requests()[0].body.get("tools").is_none());
    a.stop().await;
}

#[tokio::test]
async fn every_dialect_of_streamed_tool_calls_runs_both_parallel_calls() {
    every_dialect_runs_both_parallel_calls(&plugin("aibot")).await;
}

async fn every_dialect_runs_both_parallel_calls(agent: &Path) {
    for dialect in [
        Dialect::OpenAi,
        Dialect::Ollama,
        Dialect::Qwen,
        Dialect::DeepSeek,
    ] {
        let a = Agents::start_agent(agent, CALC, "", &[]).await;
        a.sim.set_model_dialect(dialect);
        a.sim.script_model([ModelTurn::Call(vec![
            ("calcbot_calc".into(), json!({"expression": "2+3"})),
            ("calcbot_calc".into(), json!({"expression": "10*10"})),
        ])]);
        let t = a.ask("two sums please").await;
        assert!(t.finished(), "{dialect:?}: {:?}", t.card);
        let text = t.last_text();
        assert!(
            text.contains("\"value\":\"5\"") && text.contains("\"value\":\"100\""),
            "{dialect:?}: {text}"
        );
        let requests = a.sim.model_requests();
        assert_eq!(requests.len(), 2, "{dialect:?}");
        let assistant = requests[1].body["messages"]
            .as_array()
            .expect("present")
            .iter()
            .find(|m| m["role"] == "assistant" && m.get("tool_calls").is_some())
            .cloned()
            .expect("the tool turn is sent back");
        let ids: Vec<&str> = assistant["tool_calls"]
            .as_array()
            .expect("present")
            .iter()
            .map(|c| c["id"].as_str().expect("present"))
            .collect();
        assert_eq!(ids.len(), 2, "{dialect:?}: {assistant}");
        assert_ne!(ids[0], ids[1], "{dialect:?}");
        if dialect == Dialect::DeepSeek {
            assert_eq!(assistant["reasoning_content"], "Let me think.");
            assert!(text.contains("💭 Let me think."), "{text}");
        }
        if dialect == Dialect::Qwen {
            assert_eq!(requests[0].body["parallel_tool_calls"], true);
        }
        a.stop().await;
    }
}

#[tokio::test]
async fn a_tool_the_grant_does_not_list_is_refused_without_running() {
    let a = Agents::start(CALC, "", &[]).await;
    a.sim
        .script_model([ModelTurn::Call(vec![("toolbox_count".into(), json!({}))])]);
    let t = a.ask("count for me").await;
    assert!(t.finished());
    let results = tool_results(&a.sim);
    assert!(
        results[0].contains("no tool \\\"toolbox_count\\\" is granted"),
        "{results:?}"
    );
    assert!(t.last_text().contains("failed"), "{}", t.last_text());
    let offered = &a.sim.model_requests()[0].body["tools"];
    assert_eq!(offered.as_array().unwrap().len(), 1, "{offered}");
    a.stop().await;
}

#[tokio::test]
async fn a_tool_runs_with_its_own_grants_never_the_agents() {
    let a = Agents::start("tools = [\"toolbox.*\"]", "", &[]).await;
    let model = a.sim.model_url();
    a.sim.script_model([ModelTurn::Call(vec![(
        "toolbox_steal".into(),
        json!({"url": format!("{model}/chat/completions")}),
    )])]);
    a.ask("fetch it").await;
    let results = tool_results(&a.sim);
    let result: Value = serde_json::from_str(&results[0]).expect("json");
    assert!(
        result["fetch"].as_str().unwrap().contains("denied"),
        "the agent's http grant is not the tool's: {result}"
    );
    assert!(
        result["call"]
            .as_str()
            .unwrap()
            .contains("a tool cannot call tools"),
        "{result}"
    );
    assert_eq!(a.sim.model_requests().len(), 2, "the tool reached no model");
    a.stop().await;
}

#[tokio::test]
async fn a_tool_call_carries_the_conversation_and_keeps_its_own_state() {
    let a = Agents::start("tools = [\"toolbox.*\"]", "", &[]).await;
    a.sim.script_model([
        ModelTurn::Call(vec![
            ("toolbox_whoami".into(), json!({})),
            ("toolbox_count".into(), json!({})),
        ]),
        ModelTurn::Text("ok".into()),
    ]);
    a.ask_as("who am i", "staff-9", true).await;
    let results = tool_results(&a.sim);
    let who: Value = serde_json::from_str(&results[0]).expect("json");
    assert_eq!(who["sender"], "staff-9");
    assert_eq!(who["group"], true);
    assert!(
        who["conversation"]
            .as_str()
            .unwrap()
            .starts_with("cidGroup")
    );
    assert_eq!(who["tools"], 0, "a tool sees no tools");
    assert_eq!(results[1], "1");
    a.stop().await;
}

#[tokio::test]
async fn a_prompt_injected_result_can_make_the_model_ask_but_never_run_the_ungranted() {
    let a = Agents::start("tools = [\"toolbox.inject\"]", "", &[]).await;
    a.sim.script_model([
        ModelTurn::Call(vec![("toolbox_inject".into(), json!({}))]),
        // The model falls for it.
        ModelTurn::Call(vec![("todobot_clear".into(), json!({}))]),
        ModelTurn::Text("done".into()),
    ]);
    let t = a.ask("look it up").await;
    assert!(t.finished());
    let results = tool_results(&a.sim);
    assert!(results.iter().any(|r| r.contains("IMPORTANT")));
    assert!(
        results
            .iter()
            .any(|r| r.contains("no tool \\\"todobot_clear\\\" is granted")),
        "{results:?}"
    );
    a.stop().await;
}

#[tokio::test]
async fn a_hanging_tool_times_out_and_the_turn_still_answers() {
    let a = Agents::start("tools = [\"toolbox.*\"]", "tool_timeout_ms = 500\n", &[]).await;
    a.sim.script_model([ModelTurn::Call(vec![
        ("toolbox_hang".into(), json!({})),
        ("toolbox_spin".into(), json!({})),
    ])]);
    let t = a.ask("wait for it").await;
    assert!(t.finished(), "{:?}", t.card);
    let results = tool_results(&a.sim);
    assert!(
        results[0].contains("did not answer within 500ms"),
        "{results:?}"
    );
    assert!(results[1].contains("CPU budget"), "{results:?}");
    a.stop().await;
}

#[tokio::test]
async fn an_oversized_result_is_cut_before_it_reaches_the_model() {
    let a = Agents::start("tools = [\"toolbox.*\"]", "tool_result_kib = 1\n", &[]).await;
    a.sim.script_model([ModelTurn::Call(vec![(
        "toolbox_huge".into(),
        json!({"bytes": 1 << 20}),
    )])]);
    a.ask("a lot").await;
    let results = tool_results(&a.sim);
    assert!(results[0].len() < 1200, "{}", results[0].len());
    assert!(
        results[0].contains("[cut: the result was"),
        "{}",
        &results[0][1000..]
    );
    a.stop().await;
}

#[tokio::test]
async fn identical_calls_past_the_bound_end_the_turn_with_a_sentence() {
    identical_calls_past_the_bound_end_the_turn(&plugin("aibot")).await;
}

async fn identical_calls_past_the_bound_end_the_turn(agent: &Path) {
    let a = Agents::start_agent(
        agent,
        "tools = [\"toolbox.*\"]",
        "same_call_per_turn = 2\n",
        &[],
    )
    .await;
    let again = || ModelTurn::Call(vec![("toolbox_count".into(), json!({}))]);
    a.sim.script_model([again(), again(), again(), again()]);
    let t = a.ask("loop").await;
    assert!(t.finished());
    let text = t.last_text();
    assert!(
        text.contains("Stopped:") && text.contains("same_call_per_turn"),
        "{text}"
    );
    assert_eq!(
        tool_results(&a.sim).len(),
        1 + 2,
        "two ran, the third did not"
    );
    a.stop().await;
}

#[tokio::test]
async fn tool_calls_past_the_turns_bound_end_it() {
    let a = Agents::start("tools = [\"calcbot.*\"]", "tool_calls_per_turn = 3\n", &[]).await;
    let calls = (0..5)
        .map(|i| {
            (
                "calcbot_calc".to_owned(),
                json!({"expression": format!("{i}+1")}),
            )
        })
        .collect();
    a.sim.script_model([ModelTurn::Call(calls)]);
    let t = a.ask("many").await;
    let text = t.last_text();
    assert!(
        text.contains("tool_calls_per_turn") && text.contains("3 tool call(s) had run"),
        "{text}"
    );
    a.stop().await;
}

#[tokio::test]
async fn model_rounds_past_the_bound_end_the_turn() {
    let a = Agents::start(CALC, "model_rounds_per_turn = 2\n", &[]).await;
    let round = |i: i32| {
        ModelTurn::Call(vec![(
            "calcbot_calc".into(),
            json!({"expression": format!("{i}*2")}),
        )])
    };
    a.sim.script_model([round(1), round(2), round(3)]);
    let t = a.ask("keep going").await;
    assert!(
        t.last_text().contains("model_rounds_per_turn"),
        "{}",
        t.last_text()
    );
    assert_eq!(a.sim.model_requests().len(), 2);
    a.stop().await;
}

#[tokio::test]
async fn todays_tokens_per_conversation_end_the_next_turn_before_the_model() {
    let a = Agents::start(CALC, "tokens_per_conversation_per_day = 30\n", &[]).await;
    a.ask("first question").await;
    let before = a.sim.model_requests().len();
    let t = a.ask("second question").await;
    assert!(
        t.last_text().contains("tokens_per_conversation_per_day"),
        "{}",
        t.last_text()
    );
    assert_eq!(
        a.sim.model_requests().len(),
        before,
        "no model call past the budget"
    );
    a.stop().await;
}

const APPROVED: &str = "tools = [\"toolbox.*\"]\n[approvals]\n\"toolbox.count\" = \"always\"\n";

#[tokio::test]
async fn a_call_that_needs_approval_waits_and_runs_once_when_the_sender_allows() {
    approval_waits_and_runs_once_when_the_sender_allows(&plugin("aibot")).await;
}

async fn approval_waits_and_runs_once_when_the_sender_allows(agent: &Path) {
    let a = Agents::start_agent(agent, APPROVED, "", &[]).await;
    a.sim
        .script_model([ModelTurn::Call(vec![("toolbox_count".into(), json!({}))])]);
    let t = a.ask("count please").await;
    assert_eq!(
        t.ack_code, 200,
        "the message is ACKed while the approval waits"
    );
    assert!(!t.finished());
    assert!(
        t.last_text().contains("waiting for approval"),
        "{}",
        t.last_text()
    );
    let card = &t.approval[0];
    assert_eq!(card.action, "send");
    let shown = card.card["contents"][0]["text"].as_str().expect("present");
    assert!(
        shown.contains("toolbox.count") && shown.contains("{}"),
        "{shown}"
    );
    assert!(tool_results(&a.sim).is_empty(), "nothing ran yet");

    let (ack, after) = a.press(&t, "once", "staff-7").await;
    assert_eq!(ack.code, 200);
    assert!(after.finished(), "{:?}", after.card);
    assert!(
        after.last_text().contains("Tool said: 1"),
        "{}",
        after.last_text()
    );
    assert_eq!(
        after.approval.last().expect("present").card["header"]["title"]["text"],
        "Approval settled"
    );

    let (again, _) = a.press(&t, "once", "staff-7").await;
    assert!(
        again.data_json()["response"]["userPrivateData"]
            .to_string()
            .contains("already settled"),
        "{}",
        again.data_json()
    );
    assert_eq!(tool_results(&a.sim), ["1"], "a second press runs nothing");
    a.stop().await;
}

#[tokio::test]
async fn a_press_by_someone_else_is_refused_and_changes_nothing() {
    a_press_by_someone_else_changes_nothing(&plugin("aibot")).await;
}

async fn a_press_by_someone_else_changes_nothing(agent: &Path) {
    let a = Agents::start_agent(agent, APPROVED, "", &[]).await;
    a.sim
        .script_model([ModelTurn::Call(vec![("toolbox_count".into(), json!({}))])]);
    let t = a.ask_as("count please", "staff-7", true).await;
    let (ack, after) = a.press(&t, "once", "intruder").await;
    assert!(
        ack.data_json()["response"]["userPrivateData"]
            .to_string()
            .contains("only the sender may settle"),
        "{}",
        ack.data_json()
    );
    assert!(!after.finished());
    assert!(tool_results(&a.sim).is_empty());
    let (_, settled) = a.press(&t, "deny", "staff-7").await;
    assert!(settled.finished());
    assert!(
        settled.last_text().contains("denied"),
        "{}",
        settled.last_text()
    );
    assert!(tool_results(&a.sim)[0].contains("staff-7 denied running toolbox.count"));
    a.stop().await;
}

#[tokio::test]
async fn an_expired_approval_counts_as_denied() {
    let section = format!("{APPROVED}expire_ms = 200\n");
    let a = Agents::start(&section, "", &[]).await;
    a.sim
        .script_model([ModelTurn::Call(vec![("toolbox_count".into(), json!({}))])]);
    let t = a.ask("count please").await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let (_, after) = a.press(&t, "once", "staff-7").await;
    assert!(after.finished());
    let results = tool_results(&a.sim);
    assert!(results[0].contains("expired; nothing ran"), "{results:?}");
    a.stop().await;
}

#[tokio::test]
async fn allow_for_the_conversation_and_approve_by_text_work_too() {
    allow_for_the_conversation_by_text(&plugin("aibot")).await;
}

async fn allow_for_the_conversation_by_text(agent: &Path) {
    let a = Agents::start_agent(agent, APPROVED, "", &[]).await;
    a.sim
        .script_model([ModelTurn::Call(vec![("toolbox_count".into(), json!({}))])]);
    let t = a.ask("count please").await;
    let id = t.approval_id();
    let by_text = a.ask(&format!("/approve-conversation {id}")).await;
    assert!(by_text.replies.is_empty(), "{:?}", by_text.replies);
    a.settled(&format!("ai-{}", t.msg_id), None).await;
    assert_eq!(tool_results(&a.sim), ["1"]);
    // The same tool in the same conversation no longer asks.
    a.sim
        .script_model([ModelTurn::Call(vec![("toolbox_count".into(), json!({}))])]);
    let next = a.ask("count again").await;
    assert!(next.approval.is_empty());
    assert!(
        next.last_text().contains("Tool said: 2"),
        "{}",
        next.last_text()
    );
    a.stop().await;
}

#[tokio::test]
async fn todobots_tools_change_the_list_of_the_chat_they_serve() {
    let Some(todobot) = js_plugin("todobot") else {
        return;
    };
    let a = Agents::start(
        "tools = [\"todobot.add\", \"todobot.list\"]",
        "",
        &[todobot],
    )
    .await;
    a.sim.script_model([
        ModelTurn::Call(vec![("todobot_add".into(), json!({"item": "buy milk"}))]),
        ModelTurn::Text("added".into()),
    ]);
    a.ask("remember milk").await;
    let listed = a
        .sim
        .push_chatbot(MessageSpec::text("todo list").from("staff-7", "Lin"))
        .await
        .expect("push");
    let replies = a.sim.wait_replies(&listed.session, 1, WAIT).await;
    assert!(
        replies[0].body.to_string().contains("buy milk"),
        "{:?}",
        replies[0].body
    );
    a.stop().await;
}

#[tokio::test]
async fn the_model_key_reaches_no_log_and_no_tool() {
    let logs = Logs::capture();
    let a = Agents::start("tools = [\"toolbox.*\"]", "", &[]).await;
    a.sim
        .script_model([ModelTurn::Call(vec![("toolbox_whoami".into(), json!({}))])]);
    a.ask("who").await;
    assert!(!logs.text().contains(MODEL_KEY));
    assert!(!tool_results(&a.sim)[0].contains(MODEL_KEY));
    assert!(
        logs.text().contains("tool call ok"),
        "an audit line per call"
    );
    a.stop().await;
}

#[tokio::test]
async fn a_follow_up_sent_while_the_answer_streams_is_answered_after_it_with_the_exchange_in_memory()
 {
    let a = Agents::start(CALC, "", &[]).await;
    a.sim.set_model_delay(Duration::from_millis(30));
    let spec = |text: &str| MessageSpec::text(text).from("staff-7", "Lin");
    let first = a
        .sim
        .push_chatbot(spec("first question"))
        .await
        .expect("push");
    let second = a
        .sim
        .push_chatbot(spec("second question"))
        .await
        .expect("push");
    for pushed in [&first, &second] {
        let card = format!("ai-{}", pushed.data["msgId"].as_str().unwrap_or_default());
        a.settled(&card, None).await;
    }
    let requests = a.sim.model_requests();
    assert_eq!(requests.len(), 2);
    let seen = requests[1].messages();
    assert!(
        seen.contains(&("user".into(), "first question".into()))
            && seen.contains(&("assistant".into(), sim::answer_to("first question"))),
        "the second question saw the first exchange: {seen:?}"
    );
    a.stop().await;
}

/// The TypeScript SDK's `ai.Agent` (fixture `jsagent`) held to what aibot does: every
/// dialect, the approval buttons and commands, and a loop bound.
#[tokio::test]
async fn the_typescript_agent_loop_calls_settles_and_stops_as_aibots_does() {
    let Some(jsagent) = js_fixture("jsagent") else {
        return;
    };
    let a = Agents::start_agent(&jsagent, CALC, "", &[]).await;
    let t = a.ask("what is calcbot_calc {\"expression\":\"6*7\"}").await;
    assert!(t.finished(), "{:?}", t.card);
    let text = t.last_text();
    assert!(
        text.contains("🔧 `calcbot.calc`") && text.contains("— ok,"),
        "{text}"
    );
    assert!(t.replies.is_empty(), "{:?}", t.replies);
    a.stop().await;
    every_dialect_runs_both_parallel_calls(&jsagent).await;
    approval_waits_and_runs_once_when_the_sender_allows(&jsagent).await;
    a_press_by_someone_else_changes_nothing(&jsagent).await;
    allow_for_the_conversation_by_text(&jsagent).await;
    identical_calls_past_the_bound_end_the_turn(&jsagent).await;
}

/// A tool written in Python (pycalc's `calc`, a dataclass argument) runs in pycalc's
/// own sandbox; an expression it cannot evaluate is a failed step the model reads.
#[tokio::test]
async fn a_python_tool_answers_and_its_error_reaches_the_model_as_a_failed_step() {
    let Some(pycalc) = python_plugin("pycalc") else {
        return;
    };
    let a = Agents::start("tools = [\"pycalc.*\"]", "", &[pycalc]).await;
    a.sim.script_model([ModelTurn::Call(vec![
        ("pycalc_calc".into(), json!({"expression": " 7/2 "})),
        ("pycalc_calc".into(), json!({"expression": "1/0"})),
    ])]);
    let t = a.ask("two sums in Python").await;
    assert!(t.finished(), "{:?}", t.card);
    let text = t.last_text();
    assert!(text.contains("🔧 `pycalc.calc`"), "{text}");
    assert!(
        text.contains("— ok,") && text.contains("— failed,"),
        "{text}"
    );
    let results = tool_results(&a.sim);
    assert_eq!(results[0], r#"{"expression": "7/2", "value": "3.5"}"#);
    assert!(
        results[1].contains("cannot evaluate \\\"1/0\\\": division by zero"),
        "{}",
        results[1]
    );
    a.stop().await;
}
