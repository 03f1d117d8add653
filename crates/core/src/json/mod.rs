//! JSON of the project's own: a reader giving a tree with byte offsets
//! ([`parse`], [`parse_many`]) and a serde writer ([`to_string`],
//! [`to_string_pretty`]).
//!
//! It replaces serde_json in everything the engine and the web app run, so the
//! WebAssembly module carries neither serde_json nor the visitor code serde
//! derives for reading: the embedded `data/` files, QMP dumps, the share link
//! and the JS API's options are read from a [`Value`] tree by hand-written
//! readers, which also point errors at the exact value. Reports are written
//! through their `Serialize` derives, byte-identical to serde_json's output.

mod read;
mod write;

pub use read::{parse, parse_many, Error, Kind, Object, Value, Values, MAX_DEPTH};
pub use write::{to_string, to_string_pretty, WriteError};
