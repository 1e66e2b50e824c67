//! DingTalk HTTP APIs: the one HTTP client, its timeouts and its error type.
//!
//! Every call has a connect timeout and a total timeout ([`HttpConfig`]), and every
//! answer is read with a size cap ([`MAX_ANSWER_BYTES`]). Errors name the step that
//! failed and carry DingTalk's own `code`/`message` when it sent one, from either
//! error style: non-2xx with `{"code","message"}` (new APIs) or HTTP 200 with a
//! non-zero `errcode`/`errmsg` (legacy APIs, session webhooks).
//!
//! No error leaving this module contains a URL: URLs carry the access token (media
//! upload's `access_token` query) and the session webhook's key, and errors reach
//! plugins and logs. Transport errors are stripped of theirs (`Error::from_reqwest`).

mod answer;
pub(crate) mod api;
pub(crate) mod cards;
mod client;
mod direct;
pub(crate) mod media;
pub(crate) mod messages;
mod timeouts;
pub mod token;
pub(crate) mod webhook;

pub use answer::{Error, MAX_ANSWER_BYTES, Step};
pub use client::{ClientError, Http};
pub use timeouts::HttpConfig;
