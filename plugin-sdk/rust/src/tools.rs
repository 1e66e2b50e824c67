//! Tools: offer them to agents, or (as an agent) call the ones the operator granted.
//!
//! Offering: a tool is one typed function plus a description and the JSON Schema of
//! its arguments, registered on the [`Plugin`](crate::Plugin) with
//! [`Plugin::tool`](crate::Plugin::tool). Its arguments arrive as a serde struct; what
//! it returns is serialised as its JSON result. Arguments that do not decode are
//! refused (`invalid-argument`) before the function runs, the same in every SDK.
//!
//! ```no_run
//! use dingtalk_bot_sdk::{Error, Plugin, tools::Conversation};
//! use serde::Deserialize;
//! use serde_json::json;
//!
//! #[derive(Deserialize)]
//! struct Add { a: f64, b: f64 }
//!
//! fn plugin() -> Plugin {
//!     Plugin::new("adder", "0.1.0").tool(
//!         "add",
//!         "Add two numbers.",
//!         json!({"type": "object", "properties": {"a": {"type": "number"}, "b": {"type": "number"}}, "required": ["a", "b"]}),
//!         |args: Add, _chat: &Conversation| Ok::<_, Error>(args.a + args.b),
//!     )
//! }
//! dingtalk_bot_sdk::export_plugin!(plugin);
//! ```
//!
//! Calling: [`list`], [`call`], [`budget`], [`spend`] and [`settle`] are the host's
//! `tools` interface; the host runs every call in a fresh instance of the tool's
//! plugin, refuses tools the grant does not list, and keeps the turn's bounds.
//! [`crate::ai::agent`] is the loop built on them.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::Error;
pub use crate::bindings::dingtalk::bot::tools::{
    Approval, Called, Decision, Settlement, Tool, TurnBudget, budget, call, list, settle, spend,
};
pub use crate::bindings::dingtalk::bot::types::{Conversation, ToolSpec};

type Run = Box<dyn Fn(&str, &Conversation) -> Result<String, Error>>;

/// A tool a plugin offers: its spec and its function.
pub(crate) struct Offered {
    pub(crate) spec: ToolSpec,
    pub(crate) run: Run,
}

impl Offered {
    /// `f` as a tool taking `A` and answering `R` as JSON.
    pub(crate) fn new<A, R>(
        name: &str,
        description: &str,
        parameters: &Value,
        f: impl Fn(A, &Conversation) -> Result<R, Error> + 'static,
    ) -> Self
    where
        A: DeserializeOwned,
        R: Serialize,
    {
        let run = move |arguments: &str, chat: &Conversation| {
            let args: A = decode(arguments)?;
            let result = f(args, chat)?;
            serde_json::to_string(&result)
                .map_err(|e| Error::Plugin(format!("the result is not JSON: {e}")))
        };
        Self {
            spec: ToolSpec {
                name: name.to_owned(),
                description: description.to_owned(),
                parameters: parameters.to_string(),
            },
            run: Box::new(run),
        }
    }
}

/// A tool's arguments decoded, or the `invalid-argument` error every SDK answers.
pub(crate) fn decode<A: DeserializeOwned>(arguments: &str) -> Result<A, Error> {
    serde_json::from_str(arguments)
        .map_err(|e| Error::InvalidArgument(format!("the arguments do not fit: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Deserialize)]
    struct Args {
        n: i64,
    }

    fn chat() -> Conversation {
        Conversation {
            id: "cid".into(),
            sender: "u1".into(),
            is_group: false,
        }
    }

    #[test]
    fn a_tool_decodes_its_arguments_and_answers_json() {
        let t = Offered::new(
            "double",
            "d",
            &json!({"type": "object"}),
            |a: Args, c: &Conversation| Ok(json!({"n": a.n * 2, "chat": c.id})),
        );
        assert_eq!(
            (t.run)("{\"n\":21}", &chat()).unwrap(),
            "{\"chat\":\"cid\",\"n\":42}"
        );
        let err = (t.run)("{\"n\":\"x\"}", &chat()).unwrap_err();
        assert_eq!(err.kind(), "invalid-argument");
        assert_eq!(t.spec.parameters, "{\"type\":\"object\"}");
    }
}
