//! Helpers on the pushed [`Frame`].

use crate::{ChatbotMessage, Error, Frame};

impl Frame {
    /// The value of header `name` (e.g. `eventType`), if the frame has it.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Parse `data` as JSON into any type.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, Error> {
        Ok(serde_json::from_str(&self.data)?)
    }

    /// Parse `data` as a chatbot message (topic `/v1.0/im/bot/messages/get`).
    pub fn chatbot_message(&self) -> Result<ChatbotMessage, Error> {
        self.json()
    }
}
