//! Logging into the host's log, tagged with the plugin's name.
//!
//! The message is a field of the host's line (`text="…"`, quoted and escaped), so
//! a newline in it cannot start a line that looks like the host's own. Per frame a
//! plugin may log [`MAX_LINES`] lines of at most [`MAX_MESSAGE`] bytes each (longer
//! ones are cut with a marker); past that one warning says so and the rest is dropped.

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

/// What `log.log` uses: the plugin's name and its frame's line count.
pub struct View<'a> {
    /// The plugin's name.
    pub plugin: &'a str,
    /// The frame's lines so far.
    pub lines: &'a mut Lines,
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
        let message = message.as_str();
        match level {
            log::Level::Trace => tracing::trace!(plugin, text = message, "plugin log"),
            log::Level::Debug => tracing::debug!(plugin, text = message, "plugin log"),
            log::Level::Info => tracing::info!(plugin, text = message, "plugin log"),
            log::Level::Warn => tracing::warn!(plugin, text = message, "plugin log"),
            log::Level::Error => tracing::error!(plugin, text = message, "plugin log"),
        }
        Ok(())
    }
}
