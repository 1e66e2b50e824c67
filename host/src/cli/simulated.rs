//! What `host demo` and `host dev` add to the operator's settings so the example
//! plugins work against the embedded simulator as they would against DingTalk and a
//! model provider:
//! - cardbot may take card callbacks (its button answers presses);
//! - every plugin may reach the simulator's model endpoint (`http`), with its API key
//!   injected from a secret (`http_headers`), and aibot's `base-url` and `model` point
//!   there unless the config file says otherwise;
//! - aibot is an agent: unless the config file grants it tools, it may call every
//!   tool the other loaded plugins offer, todobot's destructive `clear` only after a
//!   yes on the approval card (whose buttons reach it as card callbacks);
//! - with calcbot, cardbot and aibot all loaded and no routing rules of the
//!   operator's, arithmetic (or `/calc`) goes to calcbot, `py …` to pycalc, `js …`
//!   to jscalc, `todo …` to todobot, `/card` to cardbot and everything else to
//!   aibot, as the README's `host.toml` routes them.

use std::path::PathBuf;

use sim::Sim;

use crate::PluginConfigs;
use crate::runtime::capability::grant::Grant as _;
use crate::runtime::capability::routing;
use crate::runtime::capability::tools::{self, Approvals, ToolPattern};
use crate::runtime::file_stem;
use crate::secrets::Secrets;
use crate::stream::topic::CARD_CALLBACK;

/// The secret the simulator's model key is kept in.
const KEY_SECRET: &str = "sim_model_key";

/// The routing the README's example uses: the arithmetic calcbot accepts.
pub const CALC_PATTERN: &str = r"^[\s\d.+\-*/%()]+$";

/// What pycalc answers (`py <expression>`); it ignores everything else anyway.
pub const PYCALC_PATTERN: &str = r"^py(\s|$)";

/// What jscalc answers (`js <expression>`); it ignores everything else anyway.
pub const JSCALC_PATTERN: &str = r"^js(\s|$)";

/// What todobot answers (`todo add …`); it ignores everything else anyway.
pub const TODOBOT_PATTERN: &str = r"^todo(\s|$)";

/// `configs` and `secrets` with the simulator's model endpoint granted to every
/// plugin among `paths`, and the example routing when the operator gave none.
pub fn settings(
    sim: &Sim,
    paths: &[PathBuf],
    mut configs: PluginConfigs,
    secrets: Secrets,
) -> anyhow::Result<(PluginConfigs, Secrets)> {
    let names: Vec<String> = paths
        .iter()
        .filter_map(|p| file_stem(p).map(str::to_owned))
        .collect();
    let origin = sim.url();
    let header: toml::Table = toml::from_str(&format!(
        "http = [\"{origin}\"]\n[http_headers.\"{origin}\"]\nAuthorization = \"Bearer {{secret.{KEY_SECRET}}}\"\n"
    ))?;
    let http =
        crate::runtime::capability::http::Grant::parse(&header).map_err(anyhow::Error::msg)?;
    let examples = ["calcbot", "cardbot", "aibot"]
        .iter()
        .all(|n| names.iter().any(|m| m == n));
    let unrouted = configs.values().all(|s| s.grants.routing.is_empty());
    for name in &names {
        let settings = configs.entry(name.clone()).or_default();
        let grants = &mut settings.grants;
        grants.http.origins.extend(http.origins.iter().cloned());
        grants.http.headers.extend(http.headers.iter().cloned());
        // cardbot's `回传请求` button and aibot's approval buttons answer presses
        // once the plugin may take card callbacks and its config switch is on.
        let switch = match name.as_str() {
            "cardbot" => Some("button-callbacks"),
            "aibot" => Some("approval-buttons"),
            _ => None,
        };
        if let Some(switch) = switch {
            let callbacks = crate::runtime::capability::topics::Grant::from_entries(&[format!(
                "CALLBACK {CARD_CALLBACK}"
            )])
            .map_err(anyhow::Error::msg)?;
            grants.topics.topics.extend(callbacks.topics);
            grants
                .config
                .values
                .entry(switch.into())
                .or_insert_with(|| "true".into());
        }
        if name == "aibot" {
            if grants.tools.is_empty() {
                grants.tools = agent_tools(&names);
            }
            let values = &mut grants.config.values;
            values
                .entry("base-url".into())
                .or_insert_with(|| sim.model_url());
            values
                .entry("model".into())
                .or_insert_with(|| "sim-model".into());
        }
        if examples && unrouted {
            let rule = match name.as_str() {
                "calcbot" => format!("commands = [\"/calc\"]\nmatch = '{CALC_PATTERN}'\n"),
                "cardbot" => "commands = [\"/card\"]\n".to_owned(),
                "aibot" => "fallback = true\n".to_owned(),
                "pycalc" => format!("match = '{PYCALC_PATTERN}'\n"),
                "todobot" => format!("match = '{TODOBOT_PATTERN}'\n"),
                "jscalc" => format!("match = '{JSCALC_PATTERN}'\n"),
                _ => continue,
            };
            grants.routing =
                routing::Grant::parse(&toml::from_str(&rule)?).map_err(anyhow::Error::msg)?;
        }
    }
    Ok((configs, secrets.with(KEY_SECRET, sim.model_key())))
}

/// Every other loaded plugin's tools, `todobot.clear` needing the sender's yes.
fn agent_tools(names: &[String]) -> tools::Grant {
    let every = |plugin: &str| ToolPattern {
        plugin: plugin.to_owned(),
        tool: None,
    };
    let clear = ToolPattern {
        plugin: "todobot".into(),
        tool: Some("clear".into()),
    };
    tools::Grant {
        patterns: names
            .iter()
            .filter(|n| *n != "aibot")
            .map(|n| every(n))
            .collect(),
        approvals: Approvals {
            rules: vec![(clear, true)],
            ..Approvals::default()
        },
    }
}
