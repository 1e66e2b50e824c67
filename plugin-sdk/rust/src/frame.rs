//! Helpers on the pushed [`Frame`].

use serde_json::{Map, Value};

use crate::{Error, Frame};

impl Frame {
    /// The value of header `name` (e.g. `eventType`), if the frame has it.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A frame's `data` as JSON; an empty body is an empty object (in every SDK).
pub(crate) fn json_or_empty(data: &str) -> Result<Value, Error> {
    if data.trim().is_empty() {
        return Ok(Value::Object(Map::new()));
    }
    Ok(serde_json::from_str(data)?)
}
