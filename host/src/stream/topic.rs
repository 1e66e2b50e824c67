//! The CALLBACK topics the host itself knows, named once (protocol.md B.3, D.5).

/// Chatbot messages: every plugin may subscribe without a grant.
pub const CHATBOT: &str = "/v1.0/im/bot/messages/get";

/// Chatbot messages delegated to the bot (routed like chatbot messages).
pub const DELEGATE: &str = "/v1.0/im/bot/messages/delegate";

/// Card callbacks: a button pressed on an interactive card.
pub const CARD_CALLBACK: &str = "/v1.0/card/instances/callback";
