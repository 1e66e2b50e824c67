//! calcbot: answers arithmetic sent to the robot.
//!
//! A text message is trimmed and evaluated as arithmetic with Python's semantics
//! (see [`eval`]); the answer goes back through the message's session webhook,
//! mentioning the sender, as `Q: <expression>\nA: <result>` or
//! `Q: <expression>\nA: Error: <reason>`. Nothing but arithmetic is ever evaluated.
//! Other message types get a short text explaining what the bot understands.
//!
//! It also offers agents the tool `calc` (`{"expression": "2*(3+4)"}` →
//! `{"expression": ..., "value": "14"}`), with the same evaluator; an expression it
//! cannot evaluate is a tool error the model reads.

pub mod eval;

use dingtalk_bot_sdk::tools::Conversation;
use dingtalk_bot_sdk::{ChatbotMessage, Error, Outcome, Plugin, log, reply_text};
use serde::Deserialize;
use serde_json::{Value, json};

/// The reply for a non-text message.
pub const NOT_TEXT_REPLY: &str =
    "I can only do arithmetic on text messages. Try sending something like 2*(3+4).";

fn plugin() -> Plugin {
    Plugin::new(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
        .on_message(calculate)
        .tool(
            "calc",
            "Evaluate an arithmetic expression exactly (Python's rules: + - * / // % **, parentheses).",
            json!({
                "type": "object",
                "properties": {"expression": {"type": "string", "description": "e.g. 2*(3+4)"}},
                "required": ["expression"],
            }),
            calc,
        )
}

/// The `calc` tool's arguments.
#[derive(Deserialize)]
struct Calc {
    expression: String,
}

fn calc(args: Calc, _chat: &Conversation) -> Result<Value, Error> {
    let expression = args.expression.trim();
    match eval::evaluate(expression) {
        Ok(value) => Ok(json!({"expression": expression, "value": value.to_string()})),
        Err(e) => Err(Error::InvalidArgument(format!(
            "cannot evaluate {expression:?}: {e}"
        ))),
    }
}

fn calculate(msg: ChatbotMessage) -> Result<Outcome, Error> {
    let reply = match msg.text_content() {
        Some(text) => answer(text),
        None => NOT_TEXT_REPLY.to_owned(),
    };
    log::debug(&reply);
    reply_text(&msg, &reply)?;
    Ok(Outcome::Done)
}

dingtalk_bot_sdk::export_plugin!(plugin);

/// The whole reply for a text message.
pub fn answer(text: &str) -> String {
    let expression = text.trim();
    match eval::evaluate(expression) {
        Ok(value) => format!("Q: {expression}\nA: {value}"),
        Err(e) => format!("Q: {expression}\nA: Error: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_in_the_q_a_form_with_the_trimmed_expression() {
        assert_eq!(answer("  1+2*3 "), "Q: 1+2*3\nA: 7");
        assert_eq!(answer(" 7/2"), "Q: 7/2\nA: 3.5");
    }

    /// The table pycalc (the Python calcbot) is held to as well: `cases.json`.
    #[test]
    fn the_shared_table_of_cases_gets_these_answers() {
        let cases: Vec<serde_json::Value> =
            serde_json::from_str(include_str!("../cases.json")).unwrap();
        let wrong: Vec<String> = cases
            .iter()
            .filter_map(|c| {
                let input = c["input"].as_str().unwrap();
                let want = match (c["answer"].as_str(), c["error"].as_str()) {
                    (Some(a), _) => format!("Q: {}\nA: {a}", input.trim()),
                    (None, Some(e)) => format!("Q: {}\nA: Error: {e}", input.trim()),
                    _ => panic!("a case needs an answer or an error: {c}"),
                };
                let got = answer(input);
                (got != want).then(|| format!("{input:?}: got {got:?}"))
            })
            .collect();
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }

    #[test]
    fn errors_are_prefixed_with_error() {
        assert_eq!(answer("1/0"), "Q: 1/0\nA: Error: division by zero");
    }
}
