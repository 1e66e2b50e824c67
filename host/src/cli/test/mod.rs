//! `host test`: conversation tests for plugin authors, in TOML (the format the
//! config already uses), run against the embedded simulator with the real host and
//! the plugin under its real grants. `file.rs` reads and checks a test file,
//! `origins.rs` serves its stand-in origins, `rig.rs` starts what a test (or a
//! `host replay`) runs against, `conversation.rs` runs one test, `run.rs` is the
//! command.

mod conversation;
mod file;
mod origins;
pub(crate) mod rig;
mod run;

pub use run::{Options, conversations};
pub(super) use run::{TestArgs, test};
