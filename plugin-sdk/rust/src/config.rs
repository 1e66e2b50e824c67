//! Values the operator configured for this plugin in the host's config file.

/// The value of `key` for this plugin, or `None` when unset.
pub fn get(key: &str) -> Option<String> {
    crate::bindings::dingtalk::bot::config::get(key)
}
