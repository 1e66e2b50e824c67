//! Tools for agents: plugins offer tools (`describe`), the operator grants an agent
//! some of them (`tools = ["calcbot.*", "todobot.add"]`), and the agent calls them
//! through this interface; each call runs in a fresh instance of the tool's plugin,
//! with that plugin's grants, limits and key-value namespace (never the agent's).
//!
//! Invariants:
//! - The host brokers every call: a name the grant does not list is refused before
//!   anything runs, and nothing a model or a tool result says can widen the list.
//! - A turn's bounds (`tool_calls_per_turn`, `same_call_per_turn`, the turn's clock,
//!   today's tokens) are counted here, per frame, and carried over an approval into
//!   the frame that settles it; every refusal is a sentence naming the bound.
//! - A call that needs approval runs only after an approver settles it, once
//!   ([`Board`] forgets it on settling), before it expires; whoever else presses is
//!   refused and nothing changes.
//! - A tool instance cannot call tools (no recursion between plugins).
//! - Everything kept per app is bounded: pending approvals per agent
//!   ([`MAX_PENDING`]), conversation allowances, token counters and seen admins
//!   ([`MAX_REMEMBERED`] each, oldest dropped).
//! - Approval expiry and the day tokens are counted in are read from the app's
//!   clock ([`Board::clock_to`]; the system's unless a `host test` moves it).
//!
//! Limits: tool names `^[a-z][a-z0-9_-]{0,47}$`, descriptions of at most
//! [`MAX_DESCRIPTION`] bytes, schemas of at most [`MAX_PARAMETERS`] (a JSON object),
//! at most [`MAX_TOOLS`] tools per plugin; arguments of at most [`MAX_ARGUMENTS`]
//! bytes, a JSON object.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use serde::Deserialize;
use serde_json::Value;

use super::args::{MAX_ID, cap_text};
use super::grant::{Grant as GrantTrait, GrantError};
use crate::clock::Clock;
use crate::runtime::bindings::dingtalk::bot::tools::{
    self as wit, Approval, Called, Decision, Settlement, Tool, TurnBudget,
};
use crate::runtime::bindings::linked_view;
use crate::runtime::bindings::{HostResult, denied, invalid, limit};
use crate::runtime::limits::Limits;
pub use crate::runtime::scope::{Conversation, Talk};

/// Most tools one plugin may offer.
pub const MAX_TOOLS: usize = 32;
/// Longest tool name.
pub const MAX_TOOL_NAME: usize = 48;
/// Longest tool description.
pub const MAX_DESCRIPTION: usize = 1024;
/// Largest JSON Schema of a tool's arguments.
pub const MAX_PARAMETERS: usize = 8 << 10;
/// Largest argument object of one call.
pub const MAX_ARGUMENTS: usize = 64 << 10;
/// Most approvals one agent may have waiting at once.
pub const MAX_PENDING: usize = 256;
/// Most entries of each per-app memory (allowances, token counters, admins).
pub const MAX_REMEMBERED: usize = 10_000;
/// Most `list` calls per frame.
pub const MAX_LISTS: u32 = 8;
/// How long an approval waits by default.
pub const DEFAULT_EXPIRY: Duration = Duration::from_secs(600);

/// A tool a loaded plugin offers, checked at load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offered {
    /// Its name within the plugin.
    pub name: String,
    /// For the model.
    pub description: String,
    /// Its arguments' JSON Schema, as JSON text.
    pub parameters: String,
}

/// Check what `describe` offered: names, sizes, schemas, no duplicates.
pub fn offered(specs: &[(String, String, String)]) -> Result<Vec<Offered>, String> {
    if specs.len() > MAX_TOOLS {
        return Err(format!(
            "it offers {} tools; at most {MAX_TOOLS} are allowed",
            specs.len()
        ));
    }
    let mut out: Vec<Offered> = Vec::with_capacity(specs.len());
    for (name, description, parameters) in specs {
        if !tool_name_ok(name) {
            return Err(format!(
                "a tool is called {:?}; a tool name is a lower-case letter, then at most {} of a-z, 0-9, _ and -",
                cap_text(name.clone(), 64),
                MAX_TOOL_NAME - 1
            ));
        }
        if out.iter().any(|o| o.name == *name) {
            return Err(format!("it offers the tool {name:?} twice"));
        }
        if description.len() > MAX_DESCRIPTION {
            return Err(format!(
                "the description of tool {name:?} is {} bytes; at most {MAX_DESCRIPTION} are allowed",
                description.len()
            ));
        }
        if parameters.len() > MAX_PARAMETERS {
            return Err(format!(
                "the parameters of tool {name:?} are {} bytes; at most {MAX_PARAMETERS} are allowed",
                parameters.len()
            ));
        }
        match serde_json::from_str::<Value>(parameters) {
            Ok(Value::Object(_)) => {}
            _ => {
                return Err(format!(
                    "the parameters of tool {name:?} are not a JSON Schema object"
                ));
            }
        }
        out.push(Offered {
            name: name.clone(),
            description: description.clone(),
            parameters: parameters.clone(),
        });
    }
    Ok(out)
}

/// How remote MCP servers' tools start: `mcp.<server>.<tool>`.
pub const REMOTE_PREFIX: &str = "mcp.";
/// Longest MCP server name (the `<server>` of `[mcp.<server>]`).
pub const MAX_SERVER_NAME: usize = 32;
/// Longest MCP tool name (the MCP specification's bound).
pub const MAX_REMOTE_TOOL_NAME: usize = 128;

/// An MCP server's name as the config gives it: `[a-z0-9_-]{1,32}`.
pub fn server_name_ok(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_SERVER_NAME
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

/// An MCP tool's name as the specification allows it: 1 to 128 of `A-Z a-z 0-9 _ - .`.
pub fn remote_tool_name_ok(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_REMOTE_TOOL_NAME
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
}

fn tool_name_ok(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() <= MAX_TOOL_NAME
        && chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

/// Why a tool call gave no result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolFailure {
    /// The tool refused its arguments (its `invalid-argument`).
    Refused(String),
    /// The tool failed, trapped or ran out of a limit.
    Failed(String),
    /// The tool did not answer within its time.
    Timeout(Duration),
    /// The tool could not run now (its plugin is busy or unloaded).
    Unavailable(String),
}

impl fmt::Display for ToolFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ToolFailure::Refused(why) => write!(f, "the tool refused its arguments: {why}"),
            ToolFailure::Failed(why) => write!(f, "the tool failed: {why}"),
            ToolFailure::Timeout(t) => write!(f, "the tool did not answer within {t:?}"),
            ToolFailure::Unavailable(why) => write!(f, "the tool is unavailable: {why}"),
        }
    }
}

/// A source of tools: a loaded plugin (`runtime::Plugin`) or a remote MCP server
/// (`mcp::client::Remote`).
pub trait ToolProvider: Send + Sync {
    /// Its name as tool names start with: the plugin's, or `mcp.<server>`.
    fn provider(&self) -> &str;
    /// What it offers now (a remote server's list changes when it reconnects).
    fn offered(&self) -> Arc<[Offered]>;
    /// Run `tool` on `arguments` for `conversation` in a fresh instance, for at most
    /// `timeout`; its result as JSON text.
    fn run<'a>(
        &'a self,
        tool: &'a str,
        arguments: &'a str,
        conversation: &'a Conversation,
        timeout: Duration,
    ) -> BoxFuture<'a, Result<String, ToolFailure>>;
}

/// `plugin.tool` or `plugin.*`, as the config names tools.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolPattern {
    /// The plugin.
    pub plugin: String,
    /// One tool, or every tool of the plugin (`*`).
    pub tool: Option<String>,
}

impl ToolPattern {
    fn parse(key: &str, entry: &str) -> Result<Self, GrantError> {
        let bad = |why: &str| GrantError::new(key, format!("entry {entry:?} {why}"));
        // `mcp.<server>.<tool>`: a remote server's tool, named as the server names it.
        if let Some(rest) = entry.strip_prefix(REMOTE_PREFIX) {
            let (server, tool) = rest
                .split_once('.')
                .ok_or_else(|| bad("is not `mcp.<server>.<tool>` or `mcp.<server>.*`"))?;
            if !server_name_ok(server) {
                return Err(bad("does not name an MCP server"));
            }
            let tool = match tool {
                "*" => None,
                t if remote_tool_name_ok(t) => Some(t.to_owned()),
                _ => return Err(bad("does not name an MCP tool (or `*`)")),
            };
            return Ok(Self {
                plugin: format!("{REMOTE_PREFIX}{server}"),
                tool,
            });
        }
        let (plugin, tool) = entry
            .split_once('.')
            .ok_or_else(|| bad("is not `<plugin>.<tool>` or `<plugin>.*`"))?;
        if plugin.is_empty()
            || plugin.len() > MAX_ID
            || !plugin
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(bad("does not name a plugin"));
        }
        let tool = match tool {
            "*" => None,
            t if tool_name_ok(t) => Some(t.to_owned()),
            _ => return Err(bad("does not name a tool (or `*`)")),
        };
        Ok(Self {
            plugin: plugin.to_owned(),
            tool,
        })
    }

    /// Whether it names `provider` (every tool of it, or some).
    pub fn names_provider(&self, provider: &str) -> bool {
        self.plugin == provider
    }

    fn matches(&self, plugin: &str, tool: &str) -> bool {
        self.plugin == plugin && self.tool.as_deref().is_none_or(|t| t == tool)
    }
}

impl fmt::Display for ToolPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.plugin, self.tool.as_deref().unwrap_or("*"))
    }
}

/// Who may settle an approval.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Approvers {
    /// The person whose message started the turn.
    #[default]
    Sender,
    /// These staff ids.
    Staff(Vec<String>),
    /// An administrator of the group (`isAdmin` on their message; a card press
    /// counts when the presser was seen as an admin of that group).
    GroupAdmins,
}

impl Approvers {
    fn describe(&self) -> String {
        match self {
            Approvers::Sender => "the sender".to_owned(),
            Approvers::Staff(ids) => format!("one of {}", ids.join(", ")),
            Approvers::GroupAdmins => "a group admin".to_owned(),
        }
    }
}

/// `[plugins.<name>.approvals]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Approvals {
    /// Tool patterns and whether each call needs a yes (`"always"`) or not
    /// (`"never"`); the last matching rule wins.
    pub rules: Vec<(ToolPattern, bool)>,
    /// Who may say yes.
    pub approvers: Approvers,
    /// How long a request waits before it counts as denied.
    pub expire: Duration,
}

impl Default for Approvals {
    fn default() -> Self {
        Self {
            rules: Vec::new(),
            approvers: Approvers::Sender,
            expire: DEFAULT_EXPIRY,
        }
    }
}

impl Approvals {
    fn needed(&self, plugin: &str, tool: &str) -> bool {
        self.rules
            .iter()
            .rev()
            .find(|(p, _)| p.matches(plugin, tool))
            .is_some_and(|(_, always)| *always)
    }

    fn parse(table: &toml::Table) -> Result<Self, GrantError> {
        let mut out = Self::default();
        for (key, value) in table {
            let at = format!("approvals.{key}");
            match key.as_str() {
                "approvers" => {
                    out.approvers = match value {
                        toml::Value::String(s) if s == "sender" => Approvers::Sender,
                        toml::Value::String(s) if s == "group-admins" => Approvers::GroupAdmins,
                        toml::Value::Array(ids) => {
                            let ids: Option<Vec<String>> = ids
                                .iter()
                                .map(|v| v.as_str().filter(|s| !s.is_empty()).map(str::to_owned))
                                .collect();
                            match ids {
                                Some(ids) if !ids.is_empty() => Approvers::Staff(ids),
                                _ => {
                                    return Err(GrantError::new(
                                        &at,
                                        "must list at least one staff id, each a non-empty string",
                                    ));
                                }
                            }
                        }
                        _ => {
                            return Err(GrantError::new(
                                &at,
                                "must be \"sender\", \"group-admins\" or a list of staff ids",
                            ));
                        }
                    }
                }
                "expire_ms" => {
                    let ms = value
                        .as_integer()
                        .and_then(|v| u64::try_from(v).ok())
                        .filter(|v| *v > 0)
                        .ok_or_else(|| {
                            GrantError::new(&at, "must be a positive number of milliseconds")
                        })?;
                    out.expire = Duration::from_millis(ms);
                }
                tool => {
                    let pattern = ToolPattern::parse(&at, tool)?;
                    let always = match value.as_str() {
                        Some("always") => true,
                        Some("never") => false,
                        _ => return Err(GrantError::new(&at, "must be \"always\" or \"never\"")),
                    };
                    out.rules.push((pattern, always));
                }
            }
        }
        Ok(out)
    }
}

/// `tools = [...]` and `[approvals]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Keys {
    #[serde(default)]
    tools: Vec<String>,
    #[serde(default)]
    approvals: toml::Table,
}

/// The tools an agent may call, and which of them wait for a person.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grant {
    /// `tools`.
    pub patterns: Vec<ToolPattern>,
    /// `approvals`.
    pub approvals: Approvals,
}

impl Grant {
    /// Whether any tool is granted.
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// Whether `provider`'s `tool` is granted.
    pub fn allows(&self, provider: &str, tool: &str) -> bool {
        self.patterns.iter().any(|p| p.matches(provider, tool))
    }

    /// Whether a call of `provider`'s `tool` waits for a person's yes.
    pub fn needs_approval(&self, provider: &str, tool: &str) -> bool {
        self.approvals.needed(provider, tool)
    }
}

impl GrantTrait for Grant {
    const KEYS: &'static [&'static str] = &["tools", "approvals"];

    type Keys = Keys;

    fn from_keys(keys: Keys) -> Result<Self, GrantError> {
        let patterns = keys
            .tools
            .iter()
            .map(|e| ToolPattern::parse("tools", e))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            patterns,
            approvals: Approvals::parse(&keys.approvals)?,
        })
    }

    fn show(&self) -> Vec<String> {
        let mut lines: Vec<String> = self
            .patterns
            .iter()
            .map(|p| format!("tools:      {p}"))
            .collect();
        for (p, always) in &self.approvals.rules {
            let when = if *always { "always" } else { "never" };
            lines.push(format!(
                "approvals:  {p} {when}, by {}, expiring after {:?}",
                self.approvals.approvers.describe(),
                self.approvals.expire
            ));
        }
        lines
    }
}

/// What one turn has spent, carried across an approval.
#[derive(Debug, Clone, Default)]
pub struct Spent {
    calls: u32,
    same: HashMap<(String, String), u32>,
    rounds: u32,
    worked: Duration,
}

/// The per-frame state: the turn's spending and its conversation.
#[derive(Debug)]
pub struct Turn {
    spent: Spent,
    started: Instant,
    conversation: Option<Conversation>,
    /// A tool call's own instance: it may not call tools.
    nested: bool,
    /// No person stands behind the turn (an MCP client's call): a call that needs
    /// approval is refused rather than left waiting.
    unattended: bool,
    /// `list` calls so far in this frame.
    lists: u32,
}

impl Turn {
    /// The turn of a frame served in `talk`'s conversation (if any).
    pub fn new(talk: Option<&Talk>) -> Self {
        Self {
            spent: Spent::default(),
            started: Instant::now(),
            conversation: talk.map(|t| t.conversation.clone()),
            nested: false,
            unattended: false,
            lists: 0,
        }
    }

    /// The turn of one call from a client with no person behind it, serving `talk`.
    pub fn unattended(talk: &Talk) -> Self {
        Self {
            unattended: true,
            ..Self::new(Some(talk))
        }
    }

    /// The state of a tool call's instance: no tools.
    pub fn nested() -> Self {
        Self {
            nested: true,
            ..Self::new(None)
        }
    }

    fn worked(&self) -> Duration {
        self.spent.worked + self.started.elapsed()
    }
}

struct Pending {
    agent: String,
    provider: String,
    tool: String,
    arguments: String,
    conversation: Conversation,
    approvers: Approvers,
    /// When it expires, in ms since the epoch by the board's clock.
    expires: u64,
    spent: Spent,
}

/// A bounded set of keys, the oldest dropped first.
#[derive(Debug, Default)]
struct Remembered<K> {
    set: HashSet<K>,
    order: VecDeque<K>,
}

impl<K: Clone + Eq + std::hash::Hash> Remembered<K> {
    fn insert(&mut self, key: K) {
        if self.set.insert(key.clone()) {
            self.order.push_back(key);
            while self.order.len() > MAX_REMEMBERED {
                if let Some(old) = self.order.pop_front() {
                    self.set.remove(&old);
                }
            }
        }
    }

    fn contains(&self, key: &K) -> bool {
        self.set.contains(key)
    }
}

/// One app's tools: who offers what, waiting approvals, conversation allowances,
/// today's tokens per conversation, and the group admins seen.
#[derive(Default)]
pub struct Board {
    providers: RwLock<BTreeMap<String, Arc<dyn ToolProvider>>>,
    remote: RwLock<Vec<Arc<dyn ToolProvider>>>,
    pending: Mutex<HashMap<String, Pending>>,
    settled: Mutex<Remembered<String>>,
    allowed: Mutex<Remembered<(String, String, String)>>,
    tokens: Mutex<BTreeMap<(String, String), (u64, u64)>>,
    admins: Mutex<Remembered<(String, String)>>,
    /// Where approval decisions are recorded, with the app's name (set once when the
    /// app is assembled; unset, decisions are only logged).
    audit: std::sync::OnceLock<(crate::audit::Audit, String)>,
    /// What now is for approvals and token days (set once when the app is
    /// assembled; unset, the system clock).
    clock: std::sync::OnceLock<Clock>,
}

impl fmt::Debug for Board {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Board").finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A granted tool as one agent sees it: its provider and its place in the
/// provider's offer as it was listed (nothing of the offer is copied until then).
struct Listed {
    model_name: String,
    provider: Arc<dyn ToolProvider>,
    offer: Arc<[Offered]>,
    index: usize,
}

impl Listed {
    fn tool(&self) -> &Offered {
        &self.offer[self.index]
    }

    fn qualified(&self) -> String {
        format!("{}.{}", self.provider.provider(), self.tool().name)
    }
}

/// `calcbot.calc` as a model-facing name (`^[a-zA-Z0-9_-]{1,64}$`).
fn model_name(plugin: &str, tool: &str) -> String {
    let mut name: String = format!("{plugin}_{tool}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    name.truncate(60);
    name
}

impl Board {
    /// Record this app's approval decisions in `audit` (the first call wins).
    pub fn audit_to(&self, audit: crate::audit::Audit, app: &str) {
        let _ = self.audit.set((audit, app.to_owned()));
    }

    /// Read now from `clock` (set once, when the app is assembled).
    pub fn clock_to(&self, clock: Clock) {
        let _ = self.clock.set(clock);
    }

    /// Now, in ms since the epoch, by the board's clock.
    fn now_ms(&self) -> u64 {
        self.clock
            .get()
            .map_or_else(|| Clock::default().now_ms(), Clock::now_ms)
    }

    /// Today's number (days since the epoch), by the board's clock.
    fn today(&self) -> u64 {
        self.now_ms() / 86_400_000
    }

    /// One approval decision about `agent`'s call of `tool`.
    fn decided(&self, agent: &str, tool: &str, decision: &str, detail: serde_json::Value) {
        if let Some((audit, app)) = self.audit.get() {
            let mut fields = serde_json::json!({ "tool": tool, "decision": decision });
            if let (Some(f), serde_json::Value::Object(more)) = (fields.as_object_mut(), detail) {
                f.extend(more);
            }
            audit.record("approval", app, agent, fields);
        }
    }

    /// Serve the tools of `providers` from now on (the plugins of a new table).
    pub fn publish(&self, providers: Vec<Arc<dyn ToolProvider>>) {
        let table = providers
            .into_iter()
            .filter(|p| !p.offered().is_empty())
            .map(|p| (p.provider().to_owned(), p))
            .collect();
        *self
            .providers
            .write()
            .unwrap_or_else(PoisonError::into_inner) = table;
    }

    /// Serve the tools of remote MCP servers too, beside whatever plugins are
    /// published; they stay across plugin reloads.
    pub fn attach(&self, remote: Vec<Arc<dyn ToolProvider>>) {
        *self.remote.write().unwrap_or_else(PoisonError::into_inner) = remote;
    }

    /// Remember that `staff` administers group `conversation` (their message said so).
    pub fn saw_admin(&self, conversation: &str, staff: &str) {
        lock(&self.admins).insert((conversation.to_owned(), staff.to_owned()));
    }

    /// What `grant` lets one agent see, in a stable order, each with a model-facing
    /// name unique among them (a clash gets a numbered suffix).
    fn granted(&self, grant: &Grant) -> Vec<Listed> {
        let providers = self
            .providers
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        let remote = self.remote.read().unwrap_or_else(PoisonError::into_inner);
        let mut taken = HashSet::new();
        let mut out = Vec::new();
        for provider in providers.values().chain(remote.iter()) {
            let name = provider.provider();
            if !grant.patterns.iter().any(|p| p.names_provider(name)) {
                continue;
            }
            let offer = provider.offered();
            for (index, tool) in offer.iter().enumerate() {
                if !grant.allows(name, &tool.name) {
                    continue;
                }
                let base = model_name(name, &tool.name);
                let mut model_name = base.clone();
                let mut n = 2;
                while !taken.insert(model_name.clone()) {
                    model_name = format!("{base}_{n}");
                    n += 1;
                }
                out.push(Listed {
                    model_name,
                    provider: provider.clone(),
                    offer: offer.clone(),
                    index,
                });
            }
        }
        out
    }

    fn tokens_left(&self, agent: &str, conversation: &str, per_day: u64) -> u64 {
        let tokens = lock(&self.tokens);
        match tokens.get(&(agent.to_owned(), conversation.to_owned())) {
            Some((day, used)) if *day == self.today() => per_day.saturating_sub(*used),
            _ => per_day,
        }
    }

    fn spend(&self, agent: &str, conversation: &str, tokens: u64, per_day: u64) -> u64 {
        let day = self.today();
        let mut all = lock(&self.tokens);
        if all.len() >= MAX_REMEMBERED {
            all.retain(|_, (d, _)| *d == day);
        }
        if all.len() >= MAX_REMEMBERED {
            // Still full of today's counters: forget the smallest spenders' first.
            if let Some(k) = all
                .iter()
                .min_by_key(|(_, (_, u))| *u)
                .map(|(k, _)| k.clone())
            {
                all.remove(&k);
            }
        }
        let entry = all
            .entry((agent.to_owned(), conversation.to_owned()))
            .or_insert((day, 0));
        if entry.0 != day {
            *entry = (day, 0);
        }
        entry.1 = entry.1.saturating_add(tokens);
        per_day.saturating_sub(entry.1)
    }
}

/// A granted tool as a caller sees it: an agent through `list`, an MCP client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Served {
    /// The model-facing name (`calcbot_calc`).
    pub name: String,
    /// `<plugin>.<tool>`.
    pub qualified: String,
    /// For the model.
    pub description: String,
    /// The JSON Schema of its arguments, as JSON text.
    pub parameters: String,
    /// Whether a call waits for a person's yes.
    pub needs_approval: bool,
}

impl Board {
    /// What `grant` lets a caller see, in a stable order (the tools interface's
    /// `list`, and an MCP client's).
    pub fn served(&self, grant: &Grant) -> Vec<Served> {
        self.granted(grant)
            .into_iter()
            .map(|l| {
                let tool = l.tool();
                Served {
                    qualified: l.qualified(),
                    needs_approval: grant.approvals.needed(l.provider.provider(), &tool.name),
                    description: tool.description.clone(),
                    parameters: tool.parameters.clone(),
                    name: l.model_name,
                }
            })
            .collect()
    }

    /// Call `name` for `caller`, a client outside any frame (an MCP client), as one
    /// unattended turn of its own: the same broker as an agent's call (grant,
    /// arguments, bounds, a fresh instance of the tool's plugin, the result cut, the
    /// audit line); a tool needing approval is refused, since no person stands behind
    /// the call to give it. The result as JSON text, or why there is none.
    pub async fn serve_call(
        &self,
        caller: &str,
        grant: &Grant,
        limits: &Limits,
        talk: &Talk,
        name: &str,
        arguments: &str,
    ) -> Result<String, String> {
        let mut turn = Turn::unattended(talk);
        let mut view = View {
            agent: caller,
            grant,
            limits,
            board: self,
            talk: Some(talk),
            presser: None,
            turn: &mut turn,
        };
        match wit::Host::call(&mut view, name.to_owned(), arguments.to_owned()).await {
            Ok(Called::Ok(text)) => Ok(text),
            Ok(Called::Failed(why)) => Err(why),
            // Not reached: an unattended turn refuses instead of waiting.
            Ok(Called::Pending(a)) => Err(format!("{} waits for approval", a.tool)),
            Err(crate::runtime::bindings::HostError::Guest(e)) => {
                Err(crate::runtime::bindings::describe_error(&e))
            }
            Err(crate::runtime::bindings::HostError::Trap(e)) => {
                Err(format!("the host could not run the call: {e}"))
            }
        }
    }
}

/// What the tools interface uses: the agent's grant and limits, its app's board,
/// the person behind the frame, and the turn.
pub struct View<'a> {
    /// The agent plugin's name.
    pub agent: &'a str,
    /// Its grant.
    pub grant: &'a Grant,
    /// Its limits.
    pub limits: &'a Limits,
    /// The app's tools.
    pub board: &'a Board,
    /// The chatbot message being handled, if it is one.
    pub talk: Option<&'a Talk>,
    /// Who pressed the card button, for a card callback.
    pub presser: Option<&'a str>,
    /// This frame's turn.
    pub turn: &'a mut Turn,
}

linked_view!(View);

fn unnamed(tool: &str) -> String {
    format!("no tool {tool:?} is granted to this plugin; nothing ran")
}

impl View<'_> {
    fn remaining(&self) -> Duration {
        self.limits.turn_timeout.saturating_sub(self.turn.worked())
    }

    fn tokens_left(&self) -> u64 {
        match &self.turn.conversation {
            Some(c) => self.board.tokens_left(
                self.agent,
                &c.id,
                self.limits.tokens_per_conversation_per_day,
            ),
            None => self.limits.tokens_per_conversation_per_day,
        }
    }

    /// Refuse a call past one of the turn's bounds, with the sentence the card shows.
    fn within_bounds(&self, key: &(String, String)) -> HostResult<()> {
        let l = self.limits;
        if self.turn.spent.calls >= l.tool_calls_per_turn {
            return Err(limit(format!(
                "this turn made {} tool calls, the most `tool_calls_per_turn` allows; no more run",
                self.turn.spent.calls
            )));
        }
        if self.turn.spent.same.get(key).copied().unwrap_or(0) >= l.same_call_per_turn {
            return Err(limit(format!(
                "{} was already called {} times with these arguments this turn, the most `same_call_per_turn` allows; it did not run again",
                key.0, l.same_call_per_turn
            )));
        }
        if self.remaining().is_zero() {
            return Err(limit(format!(
                "this turn has worked for {:?}, the most `turn_timeout_ms` allows; no more tools run",
                l.turn_timeout
            )));
        }
        if self.tokens_left() == 0 {
            return Err(limit(format!(
                "this conversation used today's {} tokens (`tokens_per_conversation_per_day`); no more tools run today",
                l.tokens_per_conversation_per_day
            )));
        }
        Ok(())
    }

    async fn run(&self, listed: &Listed, arguments: &str, conversation: &Conversation) -> Called {
        let timeout = self.limits.tool_timeout;
        let started = Instant::now();
        let result = listed
            .provider
            .run(&listed.tool().name, arguments, conversation, timeout)
            .await;
        let ms = started.elapsed().as_millis() as u64;
        let qualified = listed.qualified();
        match result {
            Ok(text) => {
                tracing::info!(agent = %self.agent, tool = %qualified, ms, "tool call ok");
                Called::Ok(cut(text, self.limits.tool_result_bytes))
            }
            Err(e) => {
                tracing::info!(agent = %self.agent, tool = %qualified, ms, error = %e, "tool call failed");
                Called::Failed(cut(e.to_string(), self.limits.tool_result_bytes))
            }
        }
    }
}

/// `text` cut to `max` bytes on a character boundary, with a marker saying so.
fn cut(text: String, max: usize) -> String {
    if text.len() <= max {
        return text;
    }
    let total = text.len();
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let mut out = text;
    out.truncate(end);
    out.push_str(&format!(
        "\n[cut: the result was {total} bytes; at most {max} reach the model]"
    ));
    out
}

/// The canonical text of an argument object (keys sorted), so that identical calls
/// compare equal however the model spaced them.
fn canonical(arguments: &str) -> HostResult<String> {
    if arguments.len() > MAX_ARGUMENTS {
        return Err(invalid(format!(
            "the arguments are {} bytes; at most {MAX_ARGUMENTS} are allowed",
            arguments.len()
        )));
    }
    match serde_json::from_str::<Value>(arguments) {
        Ok(v @ Value::Object(_)) => Ok(v.to_string()),
        _ => Err(invalid("the arguments are not a JSON object")),
    }
}

fn new_id() -> String {
    use rand::Rng as _;
    let bytes: [u8; 12] = rand::rng().random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl wit::Host for View<'_> {
    async fn list(&mut self) -> HostResult<Vec<Tool>> {
        if self.turn.nested {
            return Ok(Vec::new());
        }
        // The answer is built anew each time (up to every tool's schema): a frame
        // asks a few times, never in a loop the CPU budget does not see.
        self.turn.lists += 1;
        if self.turn.lists > MAX_LISTS {
            return Err(limit(format!(
                "at most {MAX_LISTS} tool listings per frame; the tools do not change within one"
            )));
        }
        Ok(self
            .board
            .served(self.grant)
            .into_iter()
            .map(|t| Tool {
                name: t.name,
                qualified: t.qualified,
                description: t.description,
                parameters: t.parameters,
                needs_approval: t.needs_approval,
            })
            .collect())
    }

    async fn call(&mut self, name: String, arguments: String) -> HostResult<Called> {
        if self.turn.nested {
            return Err(denied("a tool cannot call tools"));
        }
        if name.len() > MAX_ID {
            return Err(denied(unnamed(&cap_text(name, 64))));
        }
        let listed = self
            .board
            .granted(self.grant)
            .into_iter()
            .find(|l| l.model_name == name || l.qualified() == name)
            .ok_or_else(|| denied(unnamed(&name)))?;
        let arguments = canonical(&arguments)?;
        let qualified = listed.qualified();
        let key = (qualified.clone(), arguments.clone());
        self.within_bounds(&key)?;
        let conversation = self.turn.conversation.clone().ok_or_else(|| {
            denied("a tool call needs the conversation of a chatbot message; this frame has none")
        })?;
        self.turn.spent.calls += 1;
        *self.turn.spent.same.entry(key).or_insert(0) += 1;
        let provider = listed.provider.provider().to_owned();
        let allowed_here = lock(&self.board.allowed).contains(&(
            self.agent.to_owned(),
            conversation.id.clone(),
            qualified.clone(),
        ));
        if self.grant.approvals.needed(&provider, &listed.tool().name) && !allowed_here {
            if self.turn.unattended {
                tracing::info!(agent = %self.agent, tool = %qualified, "tool call refused: it needs approval and no person stands behind it");
                self.board.decided(
                    self.agent,
                    &qualified,
                    "refused",
                    serde_json::json!({ "reason": "needs approval; no person stands behind the call" }),
                );
                return Err(denied(format!(
                    "{qualified} needs a person's approval, which this client cannot give; nothing ran"
                )));
            }
            let now = self.board.now_ms();
            let mut pending = lock(&self.board.pending);
            let mine = |pending: &HashMap<String, Pending>| {
                pending.values().filter(|p| p.agent == self.agent).count()
            };
            if mine(&pending) >= MAX_PENDING {
                // Expired requests stay to be answered "expired" until room is needed.
                pending.retain(|_, p| p.expires > now);
            }
            if mine(&pending) >= MAX_PENDING {
                return Err(limit(format!(
                    "{MAX_PENDING} approvals already wait for a person; settle some first"
                )));
            }
            let id = new_id();
            let approvers = self.grant.approvals.approvers.clone();
            let expire = self.grant.approvals.expire;
            let mut spent = self.turn.spent.clone();
            spent.worked = self.turn.worked();
            pending.insert(
                id.clone(),
                Pending {
                    agent: self.agent.to_owned(),
                    provider,
                    tool: listed.tool().name.clone(),
                    arguments: arguments.clone(),
                    conversation,
                    approvers: approvers.clone(),
                    expires: now
                        .saturating_add(u64::try_from(expire.as_millis()).unwrap_or(u64::MAX)),
                    spent,
                },
            );
            tracing::info!(agent = %self.agent, tool = %qualified, approval = %id, "tool call waits for approval");
            self.board.decided(
                self.agent,
                &qualified,
                "asked",
                serde_json::json!({ "approval": id }),
            );
            return Ok(Called::Pending(Approval {
                id,
                tool: qualified,
                arguments,
                approvers: approvers.describe(),
                expires_in_ms: u64::try_from(expire.as_millis()).unwrap_or(u64::MAX),
            }));
        }
        Ok(self.run(&listed, &arguments, &conversation).await)
    }

    async fn budget(&mut self) -> wasmtime::Result<TurnBudget> {
        let l = self.limits;
        let spent = &self.turn.spent;
        Ok(TurnBudget {
            tool_calls: l.tool_calls_per_turn.saturating_sub(spent.calls),
            same_call: l.same_call_per_turn,
            model_rounds: l.model_rounds_per_turn.saturating_sub(spent.rounds),
            remaining_ms: u64::try_from(self.remaining().as_millis()).unwrap_or(u64::MAX),
            tokens: self.tokens_left(),
        })
    }

    async fn spend(&mut self, tokens: u64) -> wasmtime::Result<u64> {
        self.turn.spent.rounds = self.turn.spent.rounds.saturating_add(1);
        let per_day = self.limits.tokens_per_conversation_per_day;
        Ok(match &self.turn.conversation {
            Some(c) => self.board.spend(self.agent, &c.id, tokens, per_day),
            None => per_day.saturating_sub(tokens),
        })
    }

    async fn settle(&mut self, id: String, decision: Decision) -> HostResult<Settlement> {
        if self.turn.nested {
            return Err(denied("a tool cannot settle approvals"));
        }
        let who = match (self.presser, self.talk) {
            (Some(p), _) => p.to_owned(),
            (None, Some(t)) => t.conversation.sender.clone(),
            (None, None) => {
                return Err(denied(
                    "settling an approval needs a person: a card button press or a chat message",
                ));
            }
        };
        let id = cap_text(id, 64);
        let taken = {
            let mut pending = lock(&self.board.pending);
            let Some(p) = pending.get(&id).filter(|p| p.agent == self.agent) else {
                let why = if lock(&self.board.settled).contains(&id) {
                    format!("approval {id} is already settled; nothing changed")
                } else {
                    format!("no approval {id} is waiting; nothing changed")
                };
                return Ok(Settlement::Refused(why));
            };
            if !self.may_approve(p, &who) {
                return Ok(Settlement::Refused(format!(
                    "only {} may settle this request; {who} may not, nothing changed",
                    p.approvers.describe()
                )));
            }
            let taken = pending.remove(&id);
            lock(&self.board.settled).insert(id.clone());
            taken
        };
        let Some(p) = taken else {
            return Ok(Settlement::Refused(format!(
                "no approval {id} is waiting; nothing changed"
            )));
        };
        self.turn.spent = p.spent.clone();
        self.turn.started = Instant::now();
        self.turn.conversation = Some(p.conversation.clone());
        let qualified = format!("{}.{}", p.provider, p.tool);
        if p.expires <= self.board.now_ms() {
            self.board.decided(
                self.agent,
                &qualified,
                "expired",
                serde_json::json!({ "approval": id, "by": who }),
            );
            return Ok(Settlement::Denied(format!(
                "the request to run {qualified} expired; nothing ran"
            )));
        }
        if decision == Decision::Deny {
            tracing::info!(agent = %self.agent, tool = %qualified, approval = %id, by = %who, "tool call denied");
            self.board.decided(
                self.agent,
                &qualified,
                "denied",
                serde_json::json!({ "approval": id, "by": who }),
            );
            return Ok(Settlement::Denied(format!(
                "{who} denied running {qualified}; nothing ran"
            )));
        }
        if decision == Decision::AllowConversation {
            lock(&self.board.allowed).insert((
                self.agent.to_owned(),
                p.conversation.id.clone(),
                qualified.clone(),
            ));
        }
        tracing::info!(agent = %self.agent, tool = %qualified, approval = %id, by = %who, "tool call approved");
        let scope = if decision == Decision::AllowConversation {
            "conversation"
        } else {
            "once"
        };
        self.board.decided(
            self.agent,
            &qualified,
            "approved",
            serde_json::json!({ "approval": id, "by": who, "for": scope }),
        );
        let listed = self
            .board
            .granted(self.grant)
            .into_iter()
            .find(|l| l.qualified() == qualified);
        Ok(Settlement::Ran(match listed {
            Some(l) => self.run(&l, &p.arguments, &p.conversation).await,
            None => Called::Failed(format!(
                "{qualified} is no longer granted or loaded; nothing ran"
            )),
        }))
    }
}

impl View<'_> {
    fn may_approve(&self, p: &Pending, who: &str) -> bool {
        match &p.approvers {
            Approvers::Sender => p.conversation.sender == who,
            Approvers::Staff(ids) => ids.iter().any(|id| id == who),
            Approvers::GroupAdmins => {
                p.conversation.is_group
                    && match self.talk {
                        Some(t) if self.presser.is_none() => {
                            t.is_admin && t.conversation.id == p.conversation.id
                        }
                        _ => lock(&self.board.admins)
                            .contains(&(p.conversation.id.clone(), who.to_owned())),
                    }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(text: &str) -> Result<Grant, GrantError> {
        Grant::parse(&toml::from_str(text).unwrap())
    }

    #[test]
    fn tool_patterns_and_approval_rules_are_read_and_refused_by_key() {
        let g = grant(
            "tools = [\"calcbot.*\", \"todobot.clear\"]\n[approvals]\n\"todobot.clear\" = \"always\"\napprovers = [\"u1\"]\nexpire_ms = 1000\n",
        )
        .unwrap();
        assert!(g.allows("calcbot", "calc") && g.allows("todobot", "clear"));
        assert!(!g.allows("todobot", "add") && !g.allows("calcbotx", "calc"));
        assert!(g.approvals.needed("todobot", "clear"));
        assert!(!g.approvals.needed("calcbot", "calc"));
        assert_eq!(g.approvals.approvers, Approvers::Staff(vec!["u1".into()]));
        assert_eq!(g.approvals.expire, Duration::from_millis(1000));
        for (text, key) in [
            ("tools = [\"calcbot\"]\n", "tools"),
            ("tools = [\"*.*\"]\n", "tools"),
            ("tools = [\"calcbot.Calc\"]\n", "tools"),
            ("[approvals]\n\"a.b\" = \"sometimes\"\n", "approvals.a.b"),
            ("[approvals]\napprovers = []\n", "approvals.approvers"),
            (
                "[approvals]\napprovers = \"everyone\"\n",
                "approvals.approvers",
            ),
        ] {
            let err = grant(text).unwrap_err();
            assert_eq!(err.key, key, "{text}: {err}");
        }
    }

    #[test]
    fn an_mcp_pattern_names_a_server_and_its_tool_as_the_server_spells_it() {
        let g = grant(
            "tools = [\"mcp.tracker.searchIssues\", \"mcp.wiki.*\"]\n[approvals]\n\"mcp.wiki.page.edit\" = \"always\"\n",
        )
        .unwrap();
        assert!(g.allows("mcp.tracker", "searchIssues"));
        assert!(
            !g.allows("mcp.tracker", "create_issue") && !g.allows("mcp", "tracker.searchIssues")
        );
        assert!(g.allows("mcp.wiki", "page.edit") && g.approvals.needed("mcp.wiki", "page.edit"));
        for bad in [
            "mcp.tracker",
            "mcp.Tracker.x",
            "mcp..x",
            "mcp.t.a b",
            "mcp.t.a/b",
        ] {
            let err = grant(&format!("tools = [\"{bad}\"]\n")).unwrap_err();
            assert_eq!(err.key, "tools", "{bad}: {err}");
        }
        assert!(grant(&format!("tools = [\"mcp.t.{}\"]\n", "x".repeat(129))).is_err());
    }

    #[test]
    fn a_remote_servers_tools_are_offered_beside_the_plugins_and_survive_a_publish() {
        let board = Board::default();
        counting(&board);
        let remote = Arc::new(Counting {
            name: "mcp.peer",
            offered: Arc::from([Offered {
                name: "add".into(),
                description: "d".into(),
                parameters: "{}".into(),
            }]),
            runs: Default::default(),
        });
        board.attach(vec![remote as Arc<dyn ToolProvider>]);
        let g = grant("tools = [\"p.*\", \"mcp.peer.*\"]\n").unwrap();
        let names =
            |b: &Board| -> Vec<String> { b.served(&g).into_iter().map(|t| t.qualified).collect() };
        assert_eq!(names(&board), ["p.t", "mcp.peer.add"]);
        assert_eq!(board.served(&g)[1].name, "mcp_peer_add");
        board.publish(Vec::new());
        assert_eq!(names(&board), ["mcp.peer.add"]);
    }

    #[test]
    fn model_facing_names_fit_the_pattern_and_never_collide() {
        let name = model_name("my.plugin", "t");
        assert_eq!(name, "my_plugin_t");
        let long = model_name(&"p".repeat(200), "tool");
        assert!(long.len() <= 64);
        assert!(
            long.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        );
    }

    #[test]
    fn offered_tools_are_checked_for_name_size_schema_and_duplicates() {
        let ok = ("calc".to_owned(), "d".to_owned(), "{}".to_owned());
        assert!(offered(std::slice::from_ref(&ok)).is_ok());
        assert!(
            offered(&[ok.clone(), ok.clone()])
                .unwrap_err()
                .contains("twice")
        );
        let bad_name = ("Calc".to_owned(), "d".to_owned(), "{}".to_owned());
        assert!(offered(&[bad_name]).is_err());
        let bad_schema = ("calc".to_owned(), "d".to_owned(), "[1]".to_owned());
        assert!(offered(&[bad_schema]).unwrap_err().contains("JSON Schema"));
        let many: Vec<_> = (0..=MAX_TOOLS)
            .map(|i| (format!("t{i}"), String::new(), "{}".to_owned()))
            .collect();
        assert!(offered(&many).unwrap_err().contains("at most"));
    }

    #[test]
    fn a_result_is_cut_on_a_character_boundary_with_a_marker() {
        let out = cut("é".repeat(10), 5);
        assert!(
            out.starts_with("éé\n[cut: the result was 20 bytes"),
            "{out}"
        );
        assert_eq!(cut("short".into(), 5), "short");
    }

    #[test]
    fn identical_arguments_compare_equal_however_they_are_spaced() {
        assert_eq!(
            canonical("{\"b\": 1, \"a\": [1, 2]}").unwrap(),
            canonical("{\"a\":[1,2],\"b\":1}").unwrap()
        );
        assert!(canonical("[1]").is_err());
        assert!(canonical(&"x".repeat(MAX_ARGUMENTS + 1)).is_err());
    }

    #[tokio::test]
    async fn listing_more_often_than_the_bound_in_one_frame_is_refused() {
        use crate::runtime::bindings::{HostError, WitError};
        let (grant, limits, board) = (Grant::default(), Limits::default(), Board::default());
        let mut turn = Turn::new(None);
        let mut view = View {
            agent: "a",
            grant: &grant,
            limits: &limits,
            board: &board,
            talk: None,
            presser: None,
            turn: &mut turn,
        };
        for _ in 0..MAX_LISTS {
            assert!(wit::Host::list(&mut view).await.is_ok());
        }
        assert!(matches!(
            wit::Host::list(&mut view).await,
            Err(HostError::Guest(WitError::Limit(_)))
        ));
    }

    /// A provider that counts its runs (the e2e tests run real plugins).
    struct Counting {
        name: &'static str,
        offered: Arc<[Offered]>,
        runs: std::sync::atomic::AtomicUsize,
    }

    impl ToolProvider for Counting {
        fn provider(&self) -> &str {
            self.name
        }
        fn offered(&self) -> Arc<[Offered]> {
            self.offered.clone()
        }
        fn run<'a>(
            &'a self,
            _: &'a str,
            _: &'a str,
            _: &'a Conversation,
            _: Duration,
        ) -> BoxFuture<'a, Result<String, ToolFailure>> {
            self.runs.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Box::pin(async { Ok("1".to_owned()) })
        }
    }

    fn counting(board: &Board) -> Arc<Counting> {
        let p = Arc::new(Counting {
            name: "p",
            offered: Arc::from([Offered {
                name: "t".into(),
                description: "d".into(),
                parameters: "{}".into(),
            }]),
            runs: Default::default(),
        });
        board.publish(vec![p.clone() as Arc<dyn ToolProvider>]);
        p
    }

    fn talk(sender: &str) -> Talk {
        Talk {
            conversation: Conversation {
                id: "c".into(),
                sender: sender.into(),
                is_group: false,
            },
            is_admin: false,
        }
    }

    async fn ask(agent: &str, grant: &Grant, board: &Board, talk: &Talk) -> HostResult<Called> {
        let limits = Limits::default();
        let mut turn = Turn::new(Some(talk));
        let mut view = View {
            agent,
            grant,
            limits: &limits,
            board,
            talk: Some(talk),
            presser: None,
            turn: &mut turn,
        };
        wit::Host::call(&mut view, "p_t".into(), "{}".into()).await
    }

    #[tokio::test]
    async fn an_approval_whose_tool_was_unloaded_meanwhile_runs_nothing_when_allowed() {
        let board = Board::default();
        let provider = counting(&board);
        let grant = grant("tools = [\"p.*\"]\n[approvals]\n\"p.t\" = \"always\"\n").unwrap();
        let sender = talk("u1");
        let Ok(Called::Pending(approval)) = ask("a", &grant, &board, &sender).await else {
            panic!("the call waits for a yes");
        };
        board.publish(Vec::new());
        let limits = Limits::default();
        let mut turn = Turn::new(Some(&sender));
        let mut view = View {
            agent: "a",
            grant: &grant,
            limits: &limits,
            board: &board,
            talk: Some(&sender),
            presser: None,
            turn: &mut turn,
        };
        let settled = wit::Host::settle(&mut view, approval.id, Decision::AllowOnce).await;
        let Ok(Settlement::Ran(Called::Failed(why))) = settled else {
            panic!("allowed, but there is nothing to run: {settled:?}");
        };
        assert!(why.contains("no longer granted or loaded"), "{why}");
        assert_eq!(provider.runs.load(std::sync::atomic::Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn past_the_bound_of_waiting_approvals_an_agents_call_is_refused_and_others_still_ask() {
        use crate::runtime::bindings::{HostError, WitError};
        let board = Board::default();
        let provider = counting(&board);
        let grant = grant("tools = [\"p.*\"]\n[approvals]\n\"p.t\" = \"always\"\n").unwrap();
        let sender = talk("u1");
        for _ in 0..MAX_PENDING {
            assert!(matches!(
                ask("a", &grant, &board, &sender).await,
                Ok(Called::Pending(_))
            ));
        }
        let refused = ask("a", &grant, &board, &sender).await;
        assert!(
            matches!(&refused, Err(HostError::Guest(WitError::Limit(why))) if why.contains("settle some first")),
            "{refused:?}"
        );
        assert!(matches!(
            ask("b", &grant, &board, &sender).await,
            Ok(Called::Pending(_))
        ));
        assert_eq!(provider.runs.load(std::sync::atomic::Ordering::SeqCst), 0);
    }

    #[test]
    fn tokens_are_counted_per_agent_and_conversation() {
        let board = Board::default();
        assert_eq!(board.spend("a", "c1", 40, 100), 60);
        assert_eq!(board.spend("a", "c1", 70, 100), 0);
        assert_eq!(board.tokens_left("a", "c2", 100), 100);
        assert_eq!(board.tokens_left("b", "c1", 100), 100);
    }
}
