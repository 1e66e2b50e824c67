//! One conversation test, run on its own [`Rig`]: simulator, stand-in origins,
//! host, key-value store and clock.
//!
//! Invariants: the test's timeout bounds its steps (loading the plugins is bounded
//! apart by the caller, so a first compile is not counted); every wait of a step
//! ends by that timeout; a request no stand-in route answered fails the test even
//! when every step held.

use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;
use sim::Sim;

use super::file::{Expect, Step, Test, Update};
use super::origins::{Recorded, Server};
use super::rig::{Rig, Setup};
use crate::clock::Clock;
use crate::kv::{Backend, Namespace};
use crate::runtime::capability::log::{Line, Tap};
use crate::runtime::{Engine, file_stem};
use crate::stream::topic::CARD_CALLBACK;

/// How long `no_reply` waits for a reply that must not come.
const QUIET: Duration = Duration::from_millis(300);
/// How often a step that waits looks again.
const POLL: Duration = Duration::from_millis(20);
/// How long past its timeout a test is stopped outright: the steps' own waits end
/// at the timeout, and say what they were waiting for.
const GRACE: Duration = Duration::from_millis(500);

/// Run `test` on its own simulator, host and store (under `dir`). With `update`, a
/// snapshot step that does not hold is not a failure: what happened instead is
/// answered, to be written into the file.
pub(super) async fn one(
    test: &Test,
    engine: &Engine,
    dir: &Path,
    update: bool,
) -> anyhow::Result<Vec<Update>> {
    let setup = Setup {
        plugins: &test.plugins,
        config: test.config.as_deref(),
        origins: test.origins.clone(),
        model: test.model.clone(),
    };
    let rig = Rig::start(setup, engine, dir).await?;
    let talk = Talk {
        test,
        sim: &rig.sim,
        origins: &rig.origins,
        kv: rig.kv.as_ref(),
        clock: &rig.clock,
        logged: &rig.logged,
        app: rig.app().to_owned(),
        update,
        updates: Mutex::default(),
    };
    // The timeout is the conversation's: compiling a large component the first time
    // (later runs take it from the artifact cache) is not the test's fault.
    let result = match tokio::time::timeout(test.timeout + GRACE, talk.steps()).await {
        Ok(r) => r
            .and_then(|()| talk.nothing_unexpected())
            .map(|()| talk.updates.into_inner().unwrap_or_default()),
        Err(_) => Err(anyhow::anyhow!(
            "stopped: the conversation took longer than {:?}",
            test.timeout
        )),
    };
    rig.stop().await;
    result
}

/// What one running test talks to.
struct Talk<'a> {
    test: &'a Test,
    sim: &'a Sim,
    origins: &'a Server,
    kv: &'a dyn Backend,
    clock: &'a Clock,
    logged: &'a Tap,
    app: String,
    /// `--update`: snapshot steps that do not hold are recorded, not failed.
    update: bool,
    updates: Mutex<Vec<Update>>,
}

impl Talk<'_> {
    /// Under `--update`, record `actual` as step `step`'s new `key`; whether it was.
    fn snapshot(&self, step: usize, key: &'static str, actual: &str) -> bool {
        if !self.update {
            return false;
        }
        if let Ok(mut updates) = self.updates.lock() {
            updates.push(Update {
                file: self.test.file.clone(),
                test: self.test.index,
                step,
                key,
                value: actual.to_owned(),
            });
        }
        true
    }

    async fn steps(&self) -> anyhow::Result<()> {
        let (test, sim) = (self.test, self.sim);
        // The session of the last message said, and how many of its replies were
        // checked; the last frame pushed (a message or a press), for `ack`.
        let mut session: Option<String> = None;
        let mut frame: Option<String> = None;
        let mut seen = 0;
        // Cards recorded before the last message (the sim keeps them all).
        let mut cards_before = 0;
        // Every wait ends at the test's timeout.
        let deadline = Instant::now() + test.timeout;
        let left = || deadline.saturating_duration_since(Instant::now());
        for (index, (line, step)) in test.steps.iter().enumerate() {
            let at = |e: String| anyhow::anyhow!("{}:{line}: {e}", test.file.display());
            match step {
                Step::Say(spec) => {
                    cards_before = sim.cards().len();
                    let pushed = sim
                        .push_chatbot((**spec).clone())
                        .await
                        .map_err(|e| at(format!("the message could not be pushed: {e:?}")))?;
                    frame = Some(pushed.message_id);
                    session = Some(pushed.session);
                    seen = 0;
                }
                Step::Press { button, by } => {
                    cards_before = sim.cards().len();
                    let by = by.as_deref().unwrap_or(sim::DEFAULT_STAFF_ID);
                    let (card, action) = pressable(sim, button).ok_or_else(|| {
                        at(format!("no card sent so far has a button {button:?}"))
                    })?;
                    let action_id = action["id"].as_str().unwrap_or_default();
                    let data = sim::card_press(&card, action_id, &action["params"], by);
                    let id = sim
                        .push_callback(CARD_CALLBACK, data)
                        .await
                        .map_err(|e| at(format!("the press could not be pushed: {e:?}")))?;
                    frame = Some(id);
                }
                Step::Reply(expect, markdown) => {
                    let session = session
                        .as_ref()
                        .ok_or_else(|| at("a reply before anything was said".into()))?;
                    let replies = sim.wait_replies(session, seen + 1, left()).await;
                    let Some(reply) = replies.get(seen) else {
                        return Err(at(format!(
                            "expected a reply {}\n  actual: no reply ({seen} before it)",
                            expect.describe()
                        )));
                    };
                    seen += 1;
                    if *markdown && reply.body["msgtype"] != "markdown" {
                        return Err(at(format!(
                            "expected a markdown reply\n  actual: {}",
                            reply.body
                        )));
                    }
                    let actual = reply
                        .text()
                        .or_else(|| reply.body["markdown"]["text"].as_str())
                        .map_or_else(|| reply.body.to_string(), str::to_owned);
                    let key = if *markdown { "markdown" } else { "reply" };
                    let updated = || expect.is_exact() && self.snapshot(index, key, &actual);
                    if !(expect.holds(&actual) || updated()) {
                        return Err(at(format!(
                            "expected a reply {}\n  actual: {actual:?}",
                            expect.describe()
                        )));
                    }
                }
                Step::NoReply => {
                    let session = session
                        .as_ref()
                        .ok_or_else(|| at("no_reply before anything was said".into()))?;
                    let replies = sim.wait_replies(session, seen + 1, QUIET.min(left())).await;
                    if let Some(extra) = replies.get(seen) {
                        return Err(at(format!(
                            "expected no further reply\n  actual: {}",
                            extra
                                .text()
                                .map_or_else(|| extra.body.to_string(), |t| format!("{t:?}"))
                        )));
                    }
                }
                Step::AiCard(expect) => {
                    let finished = until(deadline, || {
                        sim.cards()
                            .into_iter()
                            .skip(cards_before)
                            .find(|c| c.action == "instance.stream" && c.card["isFinalize"] == true)
                    })
                    .await;
                    let actual = finished
                        .as_ref()
                        .map(|c| c.card["content"].as_str().unwrap_or_default().to_owned());
                    let updated =
                        |a: &String| expect.is_exact() && self.snapshot(index, "ai_card", a);
                    if !actual
                        .as_ref()
                        .is_some_and(|a| expect.holds(a) || updated(a))
                    {
                        return Err(at(format!(
                            "expected an AI card finished with text {}\n  actual: {}",
                            expect.describe(),
                            actual.map_or("none finished".into(), |a| format!("{a:?}"))
                        )));
                    }
                }
                Step::CardContains(needle) => {
                    let found = until(deadline, || {
                        sim.cards()
                            .into_iter()
                            .skip(cards_before)
                            .find(|c| c.card.to_string().contains(needle.as_str()))
                    })
                    .await;
                    if found.is_none() {
                        return Err(at(format!(
                            "expected a card holding {needle:?}\n  actual: {} card calls, none holding it",
                            sim.cards().len() - cards_before
                        )));
                    }
                }
                Step::Ack(code) => {
                    let id = frame
                        .as_ref()
                        .ok_or_else(|| at("an ack before anything was said".into()))?;
                    let ack = sim
                        .wait_ack(id, left())
                        .await
                        .ok_or_else(|| at("expected an ACK\n  actual: none".into()))?;
                    if ack.code != *code {
                        return Err(at(format!(
                            "expected ACK {code}\n  actual: ACK {} {:?}",
                            ack.code, ack.message
                        )));
                    }
                }
                Step::Request {
                    line: expected,
                    body,
                } => {
                    let matches = |r: &Recorded| {
                        r.is(expected) && body.as_ref().is_none_or(|b| r.body.contains(b.as_str()))
                    };
                    let found = until(deadline, || {
                        self.origins.recorded().into_iter().find(|r| matches(r))
                    })
                    .await;
                    if found.is_none() {
                        let made: Vec<String> = self
                            .origins
                            .recorded()
                            .into_iter()
                            .map(|r| r.line)
                            .collect();
                        return Err(at(format!(
                            "expected a request {expected}{}\n  actual: {}",
                            body.as_ref()
                                .map_or(String::new(), |b| format!(" whose body holds {b:?}")),
                            if made.is_empty() {
                                "none made".into()
                            } else {
                                made.join(", ")
                            }
                        )));
                    }
                }
                Step::Log { text, level } => {
                    let holds = |l: &Line| {
                        l.text.contains(text.as_str())
                            && level.as_ref().is_none_or(|want| want == l.level)
                    };
                    let found =
                        until(deadline, || self.logged.lines().into_iter().find(holds)).await;
                    if found.is_none() {
                        let lines = self.logged.lines();
                        let shown: Vec<String> = lines
                            .iter()
                            .rev()
                            .take(5)
                            .rev()
                            .map(|l| format!("{} {}: {:?}", l.level, l.plugin, l.text))
                            .collect();
                        return Err(at(format!(
                            "expected a {}log line containing {text:?}\n  actual: {}",
                            level.as_ref().map_or(String::new(), |l| format!("{l} ")),
                            if shown.is_empty() {
                                "nothing logged".into()
                            } else {
                                shown.join("\n          ")
                            }
                        )));
                    }
                }
                Step::Wait(by) => {
                    self.clock.advance(*by);
                }
                Step::Kv { plugin, key, value } => {
                    // Under --update a value settles briefly, then is what it is.
                    let deadline = match self.update {
                        true => deadline.min(Instant::now() + QUIET),
                        false => deadline,
                    };
                    let (plugin, shown) = self
                        .kv_read(plugin.as_deref(), key, value.as_ref(), deadline)
                        .await
                        .map_err(at)?;
                    let held = match (value, &shown) {
                        (None, None) => true,
                        (Some(e), Some(v)) => {
                            e.holds(v) || (e.is_exact() && self.snapshot(index, "equals", v))
                        }
                        _ => false,
                    };
                    if !held {
                        return Err(at(format!(
                            "expected {plugin}'s key {key:?} {}\n  actual: {}",
                            value
                                .as_ref()
                                .map_or("absent".into(), |e| format!("to be {}", e.describe())),
                            shown.map_or("absent".into(), |v| format!("{v:?}"))
                        )));
                    }
                }
            }
        }
        Ok(())
    }

    /// The plugin whose store is read (`plugin`, else the tested one) and the value
    /// of `key` there, read again until it holds `value` or `deadline` passes (an
    /// absent key is read once: waiting cannot make it more absent).
    async fn kv_read(
        &self,
        plugin: Option<&str>,
        key: &str,
        value: Option<&Expect>,
        deadline: Instant,
    ) -> Result<(String, Option<String>), String> {
        let plugin = match plugin {
            Some(p) => p.to_owned(),
            None => file_stem(&self.test.plugins[0])
                .unwrap_or_default()
                .to_owned(),
        };
        let ns = Namespace::new(&self.app, &plugin);
        loop {
            let stored = self
                .kv
                .get(ns.clone(), key.to_owned())
                .await
                .map_err(|e| format!("the store could not be read: {e}"))?;
            let shown = stored.map(|v| String::from_utf8_lossy(&v).into_owned());
            let done = match (value, &shown) {
                (Some(e), Some(v)) => e.holds(v),
                (Some(_), None) => false,
                (None, _) => true,
            };
            if done || Instant::now() >= deadline {
                return Ok((plugin, shown));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Requests no stand-in route answered fail the test, each named.
    fn nothing_unexpected(&self) -> anyhow::Result<()> {
        let unexpected: Vec<String> = self
            .origins
            .recorded()
            .into_iter()
            .filter(|r| !r.answered)
            .map(|r| r.line)
            .collect();
        anyhow::ensure!(
            unexpected.is_empty(),
            "unexpected outbound requests (no [[origin]] route answers them):\n  {}",
            unexpected.join("\n  ")
        );
        Ok(())
    }
}

/// What `probe` finds, looking again until `deadline`.
async fn until<T>(deadline: Instant, mut probe: impl FnMut() -> Option<T>) -> Option<T> {
    loop {
        let found = probe();
        if found.is_some() || Instant::now() >= deadline {
            return found;
        }
        tokio::time::sleep(POLL).await;
    }
}

/// The card (its id) and the button whose label or action id is `button`, among
/// the cards sent or updated so far, the newest first; links are not pressable.
fn pressable(sim: &Sim, button: &str) -> Option<(String, Value)> {
    sim.cards().into_iter().rev().find_map(|c| {
        let contents = c.card["contents"].as_array()?;
        contents
            .iter()
            .filter(|part| part["type"] == "action")
            .flat_map(|part| part["actions"].as_array().into_iter().flatten())
            .find(|a| {
                a["actionType"] != "openLink" && (a["label"]["text"] == button || a["id"] == button)
            })
            .map(|a| (c.biz_id.clone(), a.clone()))
    })
}
