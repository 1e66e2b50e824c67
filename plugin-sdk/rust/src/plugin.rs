//! The entry point: a [`Plugin`] with its handlers registered on it.
//!
//! The shape is the TypeScript and Python SDKs' too: the subscriptions `describe`
//! reports are read off the registrations, so a plugin cannot subscribe to a topic
//! nothing handles, nor handle one it never asked for. Dispatch is the same in every
//! SDK: an EVENT goes to the event handler as an [`Event`]; a CALLBACK of the
//! chatbot (or delegate) topic to the message handler as a decoded
//! [`ChatbotMessage`]; any other callback topic to its handler as parsed JSON (an
//! empty body is an empty object). A frame nothing handles is done.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::tools::{Conversation, Offered};
use crate::{ChatbotMessage, Description, Error, Event, Frame, FrameKind, Outcome, Subscription};

/// The topic of messages sent to the robot.
pub const CHATBOT_TOPIC: &str = "/v1.0/im/bot/messages/get";
/// The topic of messages a delegate ("hosted") robot receives.
pub const DELEGATE_TOPIC: &str = "/v1.0/im/bot/messages/delegate";

type Handler<T> = Box<dyn Fn(T) -> Result<Outcome, Error>>;

/// A plugin: its name, version and handlers. Build it in the function given to
/// [`export_plugin!`](crate::export_plugin).
pub struct Plugin {
    name: String,
    version: String,
    message: Option<Handler<ChatbotMessage>>,
    delegate: Option<Handler<ChatbotMessage>>,
    event: Option<Handler<Event>>,
    callbacks: Vec<(String, Handler<Value>)>,
    tools: Vec<Offered>,
}

impl Plugin {
    /// A plugin called `name` at `version`, handling nothing yet.
    pub fn new(name: impl Into<String>, version: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            version: version.into(),
            message: None,
            delegate: None,
            event: None,
            callbacks: Vec::new(),
            tools: Vec::new(),
        }
    }

    /// Handle messages sent to the robot (topic [`CHATBOT_TOPIC`]).
    pub fn on_message(
        mut self,
        f: impl Fn(ChatbotMessage) -> Result<Outcome, Error> + 'static,
    ) -> Self {
        self.message = Some(Box::new(f));
        self
    }

    /// Handle messages a delegate robot receives (topic [`DELEGATE_TOPIC`], which
    /// the operator must grant).
    pub fn on_delegate(
        mut self,
        f: impl Fn(ChatbotMessage) -> Result<Outcome, Error> + 'static,
    ) -> Self {
        self.delegate = Some(Box::new(f));
        self
    }

    /// Handle every event chosen in the developer console (EVENT frames, topic `*`).
    pub fn on_event(mut self, f: impl Fn(Event) -> Result<Outcome, Error> + 'static) -> Self {
        self.event = Some(Box::new(f));
        self
    }

    /// Handle another callback topic (card callbacks: [`crate::cards::CALLBACK_TOPIC`]),
    /// given its data as JSON.
    pub fn on_callback(
        mut self,
        topic: impl Into<String>,
        f: impl Fn(Value) -> Result<Outcome, Error> + 'static,
    ) -> Self {
        let topic = topic.into();
        self.callbacks.retain(|(t, _)| *t != topic);
        self.callbacks.push((topic, Box::new(f)));
        self
    }

    /// Offer agents a tool (see [`crate::tools`]): `name` (`^[a-z][a-z0-9_-]{0,47}$`),
    /// what it does for the model, the JSON Schema of its arguments, and the
    /// function, given its decoded arguments and the conversation the call serves.
    /// A second tool of the same name replaces the first.
    pub fn tool<A, R>(
        mut self,
        name: &str,
        description: &str,
        parameters: Value,
        f: impl Fn(A, &Conversation) -> Result<R, Error> + 'static,
    ) -> Self
    where
        A: DeserializeOwned,
        R: Serialize,
    {
        self.tools.retain(|t| t.spec.name != name);
        self.tools
            .push(Offered::new(name, description, &parameters, f));
        self
    }

    /// Run the tool `name` on `arguments` (JSON text) for `conversation`.
    pub fn call_tool(
        &self,
        name: &str,
        arguments: &str,
        conversation: &Conversation,
    ) -> Result<String, Error> {
        match self.tools.iter().find(|t| t.spec.name == name) {
            Some(t) => (t.run)(arguments, conversation),
            None => Err(Error::InvalidArgument(format!("no tool {name:?} here"))),
        }
    }

    /// Name, version, one subscription per registered handler, and the tools.
    pub fn describe(&self) -> Description {
        let callback = |topic: &str| Subscription {
            kind: FrameKind::Callback,
            topic: topic.to_owned(),
        };
        let mut subscriptions = Vec::new();
        if self.message.is_some() {
            subscriptions.push(callback(CHATBOT_TOPIC));
        }
        if self.delegate.is_some() {
            subscriptions.push(callback(DELEGATE_TOPIC));
        }
        subscriptions.extend(self.callbacks.iter().map(|(t, _)| callback(t)));
        if self.event.is_some() {
            subscriptions.push(Subscription {
                kind: FrameKind::Event,
                topic: "*".to_owned(),
            });
        }
        Description {
            name: self.name.clone(),
            version: self.version.clone(),
            subscriptions,
            tools: self.tools.iter().map(|t| t.spec.clone()).collect(),
        }
    }

    /// Hand `frame` to the handler registered for it; its result is the ACK.
    pub fn handle(&self, frame: Frame) -> Result<Outcome, Error> {
        match frame.kind {
            FrameKind::Event => match &self.event {
                Some(f) => f(Event::from_frame(&frame)?),
                None => Ok(Outcome::Done),
            },
            FrameKind::Callback => {
                let message = match frame.topic.as_str() {
                    CHATBOT_TOPIC => Some(&self.message),
                    DELEGATE_TOPIC => Some(&self.delegate),
                    _ => None,
                };
                if let Some(Some(f)) = message {
                    return f(ChatbotMessage::from_json(&frame.data)?);
                }
                match self.callbacks.iter().find(|(t, _)| *t == frame.topic) {
                    Some((_, f)) => f(crate::frame::json_or_empty(&frame.data)?),
                    None => Ok(Outcome::Done),
                }
            }
        }
    }
}
