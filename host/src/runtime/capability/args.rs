//! Argument checks every capability makes before it parses, copies or sends
//! anything, and the cap on guest text that reaches an ACK or a log.

use serde_json::Value;

use crate::runtime::bindings::{HostResult, invalid};

/// Longest id-like argument (card ids, template ids, keys, user ids, download codes).
pub const MAX_ID: usize = 256;

/// Longest URL argument.
pub const MAX_URL: usize = 2048;

/// Refuse `value` when it is longer than `max` bytes, naming `what`.
pub fn check_len(what: &str, value: &str, max: usize) -> HostResult<()> {
    if value.len() > max {
        return Err(invalid(format!(
            "{what} is {} bytes; at most {max} are allowed",
            value.len()
        )));
    }
    Ok(())
}

/// Refuse a list with more than `max` entries, or an entry longer than `max_each`.
pub fn check_list(what: &str, items: &[String], max: usize, max_each: usize) -> HostResult<()> {
    if items.len() > max {
        return Err(invalid(format!(
            "{what} has {} entries; at most {max} are allowed",
            items.len()
        )));
    }
    items.iter().try_for_each(|i| check_len(what, i, max_each))
}

/// Parse a guest-supplied JSON object of at most `max` bytes (checked first).
pub fn json_object(
    what: &str,
    text: &str,
    max: usize,
) -> HostResult<serde_json::Map<String, Value>> {
    check_len(what, text, max)?;
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(invalid(format!("{what} must be a JSON object"))),
        Err(e) => Err(invalid(format!("{what} is not valid JSON: {e}"))),
    }
}

/// Longest guest-supplied text that reaches an ACK or a log line.
pub const MAX_REPORTED: usize = 1024;

/// `text` cut to at most `max` bytes at a char boundary, with a marker saying how
/// much was cut; returned as is (no copy) when it fits.
pub fn cap_text(mut text: String, max: usize) -> String {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let cut = text.len() - end;
    text.truncate(end);
    text.push_str(&format!("…[{cut} bytes cut]"));
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::bindings::{HostError, WitError};

    #[test]
    fn long_text_is_cut_at_a_char_boundary_with_a_marker() {
        assert_eq!(cap_text("short".to_owned(), 10), "short");
        let cut = cap_text("é".repeat(10), 5);
        assert_eq!(cut, "éé…[16 bytes cut]");
        assert!(cap_text("x".repeat(60 << 20), MAX_REPORTED).len() < MAX_REPORTED + 32);
    }

    #[test]
    fn lengths_are_checked_before_json_is_parsed() {
        let big = format!("{{\"a\":\"{}\"}}", "x".repeat(100));
        let err = json_object("the card", &big, 50).unwrap_err();
        assert!(
            matches!(err, HostError::Guest(WitError::InvalidArgument(ref m)) if m.contains("at most 50")),
            "{err:?}"
        );
        assert!(json_object("the card", "[1]", 50).is_err());
        assert!(json_object("the card", "{\"a\":1}", 50).is_ok());
        assert!(check_list("user ids", &vec!["a".to_owned(); 3], 2, 10).is_err());
    }
}
