//! An agent: a model that calls the tools the operator granted, through the host,
//! until it answers, with every step on one AI card.
//!
//! The loop ([`Agent::answer`]): ask the model (streamed, with the granted tools and
//! `stream_options.include_usage`), accumulate its `tool_calls` by index (every
//! dialect in [`super::ToolCall`]'s accumulator), run each call through
//! [`tools::call`], send the results back, and repeat until the model answers; the
//! answer streams into the card below the steps. DeepSeek's `reasoning_content` is
//! sent back on every tool turn (its thinking mode refuses the request otherwise).
//!
//! The host keeps the bounds: a tool the grant does not list is refused, and past
//! `tool_calls_per_turn`, `same_call_per_turn`, the turn's time or today's tokens a
//! call answers `limit`; the loop also stops before a model round past
//! `model_rounds_per_turn`. Each stop ends the turn with a plain sentence on the card
//! saying which bound and what was done. Tool results are untrusted text for the
//! model, never instructions to this loop: a result can make the model *ask* for a
//! call, which the host then checks like any other.
//!
//! A call that needs approval ends the frame: its step shows "waiting", a card under
//! the AI card names the tool and its arguments with Allow once / Allow for this
//! conversation / Deny buttons, and the turn (its messages and steps) is saved in
//! key-value state under the approval's id. The press (a card callback,
//! [`Agent::on_card_callback`]) or `/approve <id>` / `/deny <id>` ([`Agent::command`])
//! settles it through the host, which checks the person and runs the call once; the
//! turn then continues from where it stopped, in that frame.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{AiCard, ChatClient, Memory, ModelError, Pacing, Progress, ToolCall};
use crate::cards::{self, CardCallback, CardUpdate};
use crate::tools::{self, Approval, Called, Decision, Settlement};
use crate::{ChatbotMessage, Error, Outcome, kv, log, reply};

/// The prefix of an approval button's component id: `tool-approval:<decision>:<id>`.
pub const BUTTON_PREFIX: &str = "tool-approval";

/// The most characters of a call's arguments a step line shows.
const SHORT_ARGUMENTS: usize = 60;

/// The most bytes of arguments the approval card shows (the card's own limit is
/// 64 KiB).
const SHOWN_ARGUMENTS: usize = 16 << 10;

/// How a step is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum StepState {
    /// Running now.
    Running,
    /// Answered.
    Ok,
    /// Failed, or was refused.
    Failed,
    /// Waiting for a person's yes.
    Waiting,
    /// A person said no (or the request expired).
    Denied,
}

/// One line of the card: a tool call, or the model's reasoning folded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// `<plugin>.<tool>` (or the name the model used, when it is no granted tool);
    /// empty for a reasoning line.
    pub tool: String,
    /// The arguments, shortened; for a reasoning line, its first words.
    pub detail: String,
    /// How it is doing.
    pub state: StepState,
    /// How long it took, in milliseconds.
    pub ms: u64,
}

impl Step {
    fn line(&self) -> String {
        if self.tool.is_empty() {
            return format!("> 💭 {}", self.detail);
        }
        let state = match self.state {
            StepState::Running => "running…".to_owned(),
            StepState::Ok => format!("ok, {} ms", self.ms),
            StepState::Failed => format!("failed, {} ms", self.ms),
            StepState::Waiting => "waiting for approval".to_owned(),
            StepState::Denied => "denied".to_owned(),
        };
        format!("- 🔧 `{}` `{}` — {state}", self.tool, self.detail)
    }
}

/// The steps above the answer, as the card's markdown.
pub fn render(steps: &[Step], answer: &str) -> String {
    if steps.is_empty() {
        return answer.to_owned();
    }
    let lines: Vec<String> = steps.iter().map(Step::line).collect();
    format!("{}\n\n---\n\n{answer}", lines.join("\n"))
}

fn shorten(text: &str, max: usize) -> String {
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= max {
        return flat;
    }
    let cut: String = flat.chars().take(max).collect();
    format!("{cut}…")
}

/// A turn in progress: what the model has been told, the steps shown, and the calls
/// of the model's last message still to run. Saved while an approval waits.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Turn {
    /// The conversation so far, in OpenAI's message shape.
    pub messages: Vec<Value>,
    /// The card's lines.
    pub steps: Vec<Step>,
    /// Calls the model asked for that have not run yet.
    pub queued: Vec<ToolCall>,
    /// The AI card.
    pub out_track_id: String,
    /// The approval card (sent once per turn, updated for later approvals).
    pub approval_card: Option<String>,
    /// Where the exchange is remembered.
    pub memory: Memory,
    /// The call waiting for a person, and its step.
    pub waiting: Option<(ToolCall, usize)>,
}

/// How the loop ended.
enum Flow {
    Answered(String),
    Waiting(Approval),
    Stopped(String),
    Failed(String),
}

/// An agent: its model and how it paces the card.
#[derive(Debug, Clone)]
pub struct Agent {
    /// The model.
    pub client: ChatClient,
    /// Card pacing; `deadline` bounds each model answer.
    pub pacing: Pacing,
    /// The AI card's template.
    pub template: String,
}

fn saved_key(approval: &str) -> String {
    format!("agent-turn:{approval}")
}

impl Agent {
    /// An agent on `client` with the default pacing and DingTalk's AI card.
    pub fn new(client: ChatClient) -> Self {
        Self {
            client,
            pacing: Pacing::default(),
            template: super::AI_CARD_TEMPLATE.to_owned(),
        }
    }

    /// Answer `msg`, whose `question` follows `messages` (the system prompt and the
    /// remembered exchanges): the question is remembered first, then the loop runs
    /// and the answer is remembered.
    pub fn answer(
        &self,
        msg: &ChatbotMessage,
        memory: Memory,
        mut messages: Vec<Value>,
        question: &str,
    ) -> Result<(), Error> {
        if let Err(e) = memory.ask(question) {
            log::warn(&format!("the question was not remembered: {}", e.reason()));
        }
        messages.push(json!({"role": "user", "content": question}));
        let card = AiCard::start(msg, &self.template);
        let turn = Turn {
            messages,
            steps: Vec::new(),
            queued: Vec::new(),
            out_track_id: card.out_track_id().to_owned(),
            approval_card: None,
            memory,
            waiting: None,
        };
        self.drive(Some(msg), card, turn)
    }

    /// Settle an approval from its card's button, as the person who pressed it; the
    /// refusal (not an approver, already settled) is the callback's answer, shown to
    /// the presser only. `None` when the press was not on an approval button.
    pub fn on_card_callback(&self, cb: &CardCallback) -> Option<Result<Outcome, Error>> {
        let (decision, id) = cb.action_ids.iter().find_map(|a| parse_button(a))?;
        Some(self.settle(None, &id, decision).map(|refused| {
            match refused {
                Some(why) => CardUpdate::new()
                    .private_param("notice", why)
                    .into_outcome(),
                None => Outcome::Done,
            }
        }))
    }

    /// `/approve <id>`, `/approve-conversation <id>` or `/deny <id>`: settle as the
    /// sender. `None` for any other text.
    pub fn command(&self, msg: &ChatbotMessage, text: &str) -> Option<Result<(), Error>> {
        let mut words = text.split_whitespace();
        let decision = match words.next()? {
            "/approve" => Decision::AllowOnce,
            "/approve-conversation" => Decision::AllowConversation,
            "/deny" => Decision::Deny,
            _ => return None,
        };
        let Some(id) = words.next() else {
            return Some(reply::reply_text(
                msg,
                "Say which request: /approve <id> or /deny <id>.",
            ));
        };
        Some(
            self.settle(Some(msg), id, decision)
                .and_then(|refused| match refused {
                    Some(why) => reply::reply_text(msg, &why),
                    None => Ok(()),
                }),
        )
    }

    /// Settle `id` through the host, then continue its turn. The refusal, if the
    /// host refused.
    fn settle(
        &self,
        msg: Option<&ChatbotMessage>,
        id: &str,
        decision: Decision,
    ) -> Result<Option<String>, Error> {
        let outcome = tools::settle(id, decision)?;
        let (called, note) = match outcome {
            Settlement::Refused(why) => return Ok(Some(why)),
            Settlement::Denied(why) => (None, why),
            Settlement::Ran(called) => {
                let note = match decision {
                    Decision::AllowConversation => "Allowed for this conversation.",
                    _ => "Allowed once.",
                };
                (Some(called), note.to_owned())
            }
        };
        let Some(mut turn) = kv::get_json::<Turn>(&saved_key(id))? else {
            log::warn(&format!(
                "approval {id} settled, but its turn is no longer saved"
            ));
            return Ok(None);
        };
        kv::delete(&saved_key(id))?;
        if let Some(card) = &turn.approval_card {
            let _ = cards::update_standard(card, &settled_card(&note));
        }
        if let Some((call, step)) = turn.waiting.take() {
            let content = match called {
                Some(Called::Ok(result)) => {
                    turn.steps[step].state = StepState::Ok;
                    result
                }
                Some(Called::Failed(why)) => {
                    turn.steps[step].state = StepState::Failed;
                    json!({"error": why}).to_string()
                }
                Some(Called::Pending(_)) | None => {
                    turn.steps[step].state = StepState::Denied;
                    json!({"error": note}).to_string()
                }
            };
            turn.messages
                .push(json!({"role": "tool", "tool_call_id": call.id, "content": content}));
        }
        let card = AiCard::resume(&turn.out_track_id);
        self.drive(msg, card, turn).map(|()| None)
    }

    /// Run the loop from `turn` and end it on the card.
    fn drive(
        &self,
        msg: Option<&ChatbotMessage>,
        mut card: AiCard,
        mut turn: Turn,
    ) -> Result<(), Error> {
        let granted = match tools::list() {
            Ok(granted) => granted,
            Err(e) => {
                log::warn(&format!("the tools could not be listed: {}", e.reason()));
                Vec::new()
            }
        };
        let offered: Vec<Value> = granted
            .iter()
            .map(|t| {
                let parameters: Value = serde_json::from_str(&t.parameters)
                    .unwrap_or_else(|_| json!({"type": "object"}));
                json!({"type": "function", "function": {
                    "name": t.name, "description": t.description, "parameters": parameters}})
            })
            .collect();
        let qualified = |name: &str| {
            granted
                .iter()
                .find(|t| t.name == name)
                .map_or_else(|| name.to_owned(), |t| t.qualified.clone())
        };
        let flow = self.run(&mut card, &mut turn, &offered, &qualified);
        match flow {
            Flow::Answered(answer) => {
                card.finish_for(msg, &render(&turn.steps, &answer))?;
                if let Err(e) = turn.memory.answered(&answer) {
                    log::warn(&format!("the answer was not remembered: {}", e.reason()));
                }
                Ok(())
            }
            Flow::Stopped(why) => {
                let done = turn
                    .steps
                    .iter()
                    .filter(|s| !s.tool.is_empty() && s.state == StepState::Ok)
                    .count();
                let sentence = format!("Stopped: {why}. {done} tool call(s) had run.");
                card.finish_for(msg, &render(&turn.steps, &format!("**{sentence}**")))?;
                let _ = turn.memory.answered(&sentence);
                Ok(())
            }
            Flow::Failed(why) => {
                log::warn(&format!("model failed: {why}"));
                card.fail_for(msg, &format!("Sorry, {why}."))
            }
            Flow::Waiting(approval) => {
                card.update(&render(&turn.steps, "Waiting for approval…"));
                self.ask_approval(msg, &mut turn, &approval)
            }
        }
    }

    /// Show the approval buttons (or, if the card cannot be sent, the commands) and
    /// save the turn until the request expires.
    fn ask_approval(
        &self,
        msg: Option<&ChatbotMessage>,
        turn: &mut Turn,
        approval: &Approval,
    ) -> Result<(), Error> {
        let card = approval_card(approval);
        let shown = match &turn.approval_card {
            Some(id) => cards::update_standard(id, &card).map(|()| id.clone()),
            None => {
                let id = format!("approve-{}", turn.out_track_id);
                cards::send_standard(&id, &card).map(|_| id)
            }
        };
        match shown {
            Ok(id) => turn.approval_card = Some(id),
            Err(e) => {
                log::warn(&format!(
                    "the approval card could not be shown: {}",
                    e.reason()
                ));
                if let Some(msg) = msg {
                    reply::reply_text(msg, &approval_text(approval))?;
                }
            }
        }
        let ttl = Duration::from_millis(approval.expires_in_ms) + Duration::from_secs(60);
        kv::set_json(&saved_key(&approval.id), turn, Some(ttl))
    }

    /// The loop: model rounds and tool calls until an answer, a wait or a stop.
    fn run(
        &self,
        card: &mut AiCard,
        turn: &mut Turn,
        offered: &[Value],
        qualified: &dyn Fn(&str) -> String,
    ) -> Flow {
        if let Some(flow) = run_calls(card, turn, qualified) {
            return flow;
        }
        loop {
            let budget = tools::budget();
            if budget.model_rounds == 0 {
                return Flow::Stopped(
                    "this turn used all the model rounds `model_rounds_per_turn` allows".into(),
                );
            }
            if budget.tokens == 0 {
                return Flow::Stopped(
                    "this conversation used today's tokens (`tokens_per_conversation_per_day`)"
                        .into(),
                );
            }
            if budget.remaining_ms == 0 {
                return Flow::Stopped(
                    "this turn ran for as long as `turn_timeout_ms` allows".into(),
                );
            }
            let deadline = self
                .pacing
                .deadline
                .min(Duration::from_millis(budget.remaining_ms));
            let stream = match self.stream_round(card, turn, offered, deadline) {
                Ok(s) => s,
                Err(e) => return Flow::Failed(e.to_string()),
            };
            let used = stream.usage().unwrap_or(0);
            tools::spend(used);
            let (reasoning, saw_reasoning) = stream.reasoning();
            if !reasoning.trim().is_empty() {
                turn.steps.push(Step {
                    tool: String::new(),
                    detail: shorten(reasoning, SHORT_ARGUMENTS),
                    state: StepState::Ok,
                    ms: 0,
                });
            }
            let calls = stream.tool_calls().to_vec();
            if calls.is_empty() {
                return Flow::Answered(stream.text().to_owned());
            }
            let mut assistant = json!({
                "role": "assistant",
                "content": stream.text(),
                "tool_calls": calls.iter().map(|c| json!({
                    "id": c.id, "type": "function",
                    "function": {"name": c.name, "arguments": c.arguments}})).collect::<Vec<_>>(),
            });
            if saw_reasoning {
                assistant["reasoning_content"] = json!(reasoning);
            }
            turn.messages.push(assistant);
            turn.queued = calls;
            if let Some(flow) = run_calls(card, turn, qualified) {
                return flow;
            }
        }
    }

    /// One model round streamed into the card under the steps.
    fn stream_round(
        &self,
        card: &mut AiCard,
        turn: &Turn,
        offered: &[Value],
        deadline: Duration,
    ) -> Result<super::ChatStream, ModelError> {
        let started = Instant::now();
        let mut stream = self.client.stream_with_tools(&turn.messages, offered)?;
        loop {
            let left = deadline.saturating_sub(started.elapsed());
            if left.is_zero() {
                return Err(ModelError::Timeout(format!(
                    "no complete answer within {deadline:?}"
                )));
            }
            let wait = card
                .next_update_in(self.pacing.interval)
                .max(Duration::from_millis(50));
            match stream.poll(wait.min(left))? {
                Progress::Done => return Ok(stream),
                Progress::Grew | Progress::Idle => {
                    if card.next_update_in(self.pacing.interval).is_zero()
                        && !stream.text().is_empty()
                    {
                        card.update(&render(&turn.steps, stream.text()));
                    }
                }
            }
        }
    }
}

/// Run the queued calls in order; a wait or a stop ends the loop.
fn run_calls(
    card: &mut AiCard,
    turn: &mut Turn,
    qualified: &dyn Fn(&str) -> String,
) -> Option<Flow> {
    while !turn.queued.is_empty() {
        let call = turn.queued.remove(0);
        turn.steps.push(Step {
            tool: qualified(&call.name),
            detail: shorten(&call.arguments, SHORT_ARGUMENTS),
            state: StepState::Running,
            ms: 0,
        });
        let step = turn.steps.len() - 1;
        card.update(&render(&turn.steps, ""));
        let started = Instant::now();
        let arguments = if call.arguments.trim().is_empty() {
            "{}"
        } else {
            &call.arguments
        };
        let outcome = tools::call(&call.name, arguments);
        turn.steps[step].ms = started.elapsed().as_millis() as u64;
        let content = match outcome {
            Ok(Called::Ok(result)) => {
                turn.steps[step].state = StepState::Ok;
                result
            }
            Ok(Called::Failed(why)) => {
                turn.steps[step].state = StepState::Failed;
                json!({"error": why}).to_string()
            }
            Ok(Called::Pending(approval)) => {
                turn.steps[step].state = StepState::Waiting;
                turn.waiting = Some((call, step));
                return Some(Flow::Waiting(approval));
            }
            Err(Error::Limit(why)) => {
                turn.steps[step].state = StepState::Failed;
                return Some(Flow::Stopped(why));
            }
            Err(e) => {
                turn.steps[step].state = StepState::Failed;
                json!({"error": e.reason()}).to_string()
            }
        };
        turn.messages
            .push(json!({"role": "tool", "tool_call_id": call.id, "content": content}));
    }
    None
}

/// `tool-approval:<decision>:<id>` read back.
fn parse_button(action: &str) -> Option<(Decision, String)> {
    let rest = action.strip_prefix(BUTTON_PREFIX)?.strip_prefix(':')?;
    let (decision, id) = rest.split_once(':')?;
    let decision = match decision {
        "once" => Decision::AllowOnce,
        "conversation" => Decision::AllowConversation,
        "deny" => Decision::Deny,
        _ => return None,
    };
    Some((decision, id.to_owned()))
}

fn shown_arguments(arguments: &str) -> String {
    if arguments.len() <= SHOWN_ARGUMENTS {
        return arguments.to_owned();
    }
    let mut end = SHOWN_ARGUMENTS;
    while !arguments.is_char_boundary(end) {
        end -= 1;
    }
    format!("{} … ({} bytes in all)", &arguments[..end], arguments.len())
}

fn approval_text(a: &Approval) -> String {
    format!(
        "Approval needed: {} with {}. Only {} may answer: /approve {id} or /deny {id} (expires in {} min).",
        a.tool,
        shown_arguments(&a.arguments),
        a.approvers,
        a.expires_in_ms.div_ceil(60_000),
        id = a.id
    )
}

/// The StandardCard asking for a yes: the tool, its arguments in full, three buttons.
pub fn approval_card(a: &Approval) -> Value {
    let button = |label: &str, decision: &str, status: &str| {
        json!({
            "type": "button",
            "label": {"type": "text", "text": label},
            "actionType": "request",
            "status": status,
            "id": format!("{BUTTON_PREFIX}:{decision}:{}", a.id),
        })
    };
    json!({
        "config": {"autoLayout": true},
        "header": {"title": {"type": "text", "text": "Approval needed"}},
        "contents": [
            {"type": "markdown", "text": format!(
                "**{}** wants to run with:\n\n```\n{}\n```\n\nOnly {} may answer (expires in {} min; or /approve {} in the chat).",
                a.tool, shown_arguments(&a.arguments), a.approvers,
                a.expires_in_ms.div_ceil(60_000), a.id), "id": "approval_text"},
            {"type": "action", "actions": [
                button("Allow once", "once", "primary"),
                button("Allow for this conversation", "conversation", "normal"),
                button("Deny", "deny", "warning"),
            ], "id": "approval_actions"},
        ],
    })
}

fn settled_card(note: &str) -> Value {
    json!({
        "config": {"autoLayout": true},
        "header": {"title": {"type": "text", "text": "Approval settled"}},
        "contents": [{"type": "markdown", "text": note, "id": "approval_text"}],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_render_as_lines_above_the_answer() {
        let steps = vec![
            Step {
                tool: String::new(),
                detail: "Thinking it over.".into(),
                state: StepState::Ok,
                ms: 0,
            },
            Step {
                tool: "calcbot.calc".into(),
                detail: "{\"expression\":\"6*7\"}".into(),
                state: StepState::Ok,
                ms: 12,
            },
        ];
        let text = render(&steps, "42");
        assert_eq!(
            text,
            "> 💭 Thinking it over.\n- 🔧 `calcbot.calc` `{\"expression\":\"6*7\"}` — ok, 12 ms\n\n---\n\n42"
        );
        assert_eq!(render(&[], "42"), "42");
    }

    #[test]
    fn approval_buttons_name_their_decision_and_request() {
        assert_eq!(
            parse_button("tool-approval:conversation:ab12"),
            Some((Decision::AllowConversation, "ab12".into()))
        );
        assert_eq!(parse_button("tool-approval:maybe:ab12"), None);
        assert_eq!(parse_button("button_1"), None);
    }

    #[test]
    fn long_arguments_are_shortened_on_the_card_line() {
        let short = shorten(&"x".repeat(100), 10);
        assert_eq!(short, format!("{}…", "x".repeat(10)));
        assert!(shown_arguments(&"é".repeat(SHOWN_ARGUMENTS)).contains("bytes in all"));
    }
}
