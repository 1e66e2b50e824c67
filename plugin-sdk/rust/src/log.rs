//! Log lines into the host's log, tagged with the plugin's name.

use crate::bindings::dingtalk::bot::log::{Level, log};

/// Log at trace level (the most detailed).
pub fn trace(message: &str) {
    log(Level::Trace, message);
}

/// Log at debug level.
pub fn debug(message: &str) {
    log(Level::Debug, message);
}

/// Log at info level.
pub fn info(message: &str) {
    log(Level::Info, message);
}

/// Log at warn level.
pub fn warn(message: &str) {
    log(Level::Warn, message);
}

/// Log at error level.
pub fn error(message: &str) {
    log(Level::Error, message);
}
