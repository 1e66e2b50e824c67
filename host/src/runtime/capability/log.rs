//! Logging into the host's log, tagged with the plugin's name.
//!
//! The message is a field of the host's line (`text="…"`, quoted and escaped), so
//! a newline in it cannot start a line that looks like the host's own. Per frame a
//! plugin may log [`MAX_LINES`] lines of at most [`MAX_MESSAGE`] bytes each (longer
//! ones are cut with a marker); past that one warning says so and the rest is dropped.
//! An embedder may also keep the lines an app's plugins log ([`Tap`], bounded), as
//! `host test` does for its `log_contains` steps.

use std::sync::Mutex;

use super::args::cap_text;
use crate::runtime::bindings::dingtalk::bot::log;
use crate::runtime::bindings::linked_view;

/// Longest message logged as is.
pub const MAX_MESSAGE: usize = 4096;

/// Lines one frame may log.
pub const MAX_LINES: u32 = 100;

/// Lines one frame has logged so far.
#[derive(Debug, Default)]
pub struct Lines(u32);

/// One line a plugin logged, as a [`Tap`] keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// The plugin's name.
    pub plugin: String,
    /// `trace`, `debug`, `info`, `warn` or `error`.
    pub level: &'static str,
    /// The text, cut as the host's log cuts it.
    pub text: String,
}

/// The last lines an app's plugins logged, at most `max` of them.
#[derive(Debug)]
pub struct Tap {
    lines: Mutex<std::collections::VecDeque<Line>>,
    max: usize,
}

impl Tap {
    /// A tap keeping the last `max` lines.
    pub fn new(max: usize) -> Self {
        Self {
            lines: Mutex::default(),
            max,
        }
    }

    /// The lines kept, oldest first.
    pub fn lines(&self) -> Vec<Line> {
        self.lines
            .lock()
            .map(|l| l.iter().cloned().collect())
            .unwrap_or_default()
    }

    fn keep(&self, line: Line) {
        if let Ok(mut lines) = self.lines.lock() {
            if lines.len() == self.max {
                lines.pop_front();
            }
            lines.push_back(line);
        }
    }
}

/// What `log.log` uses: the plugin's name and its frame's line count.
pub struct View<'a> {
    /// The plugin's name.
    pub plugin: &'a str,
    /// The frame's lines so far.
    pub lines: &'a mut Lines,
    /// Where the app keeps its plugins' lines, if it does.
    pub tap: Option<&'a Tap>,
}

linked_view!(View);

impl log::Host for View<'_> {
    async fn log(&mut self, level: log::Level, message: String) -> wasmtime::Result<()> {
        let plugin = self.plugin;
        self.lines.0 += 1;
        if self.lines.0 > MAX_LINES {
            if self.lines.0 == MAX_LINES + 1 {
                tracing::warn!(
                    plugin,
                    "the plugin logged {MAX_LINES} lines for one frame; the rest of this frame's lines are dropped"
                );
            }
            return Ok(());
        }
        let message = cap_text(message, MAX_MESSAGE);
        let text = message.as_str();
        let name = match level {
            log::Level::Trace => "trace",
            log::Level::Debug => "debug",
            log::Level::Info => "info",
            log::Level::Warn => "warn",
            log::Level::Error => "error",
        };
        match level {
            log::Level::Trace => tracing::trace!(plugin, text, "plugin log"),
            log::Level::Debug => tracing::debug!(plugin, text, "plugin log"),
            log::Level::Info => tracing::info!(plugin, text, "plugin log"),
            log::Level::Warn => tracing::warn!(plugin, text, "plugin log"),
            log::Level::Error => tracing::error!(plugin, text, "plugin log"),
        }
        if let Some(tap) = self.tap {
            tap.keep(Line {
                plugin: plugin.to_owned(),
                level: name,
                text: message,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tap_keeps_only_the_last_lines() {
        let tap = Tap::new(2);
        for text in ["a", "b", "c"] {
            tap.keep(Line {
                plugin: "p".into(),
                level: "info",
                text: text.into(),
            });
        }
        let kept: Vec<String> = tap.lines().into_iter().map(|l| l.text).collect();
        assert_eq!(kept, ["b", "c"]);
    }
}
