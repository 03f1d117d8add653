//! Reading the user's inputs: files or standard input, bounded in size, binary
//! files named as such, checked for UTF-8, and turned into positioned `PATH:LINE:COLUMN: message` errors.
//!
//! The engine reports byte offsets; only here, where the path is known, do they
//! become the positions people read.

use std::fs::File;
use std::io::{self, Read};

use anyhow::{anyhow, bail};
use guestcpu_core::dump::{binary_kind, MAX_DUMP_BYTES};
use guestcpu_core::position::render_at;

/// What the user passes to mean standard input.
pub const STDIN_PATH: &str = "-";

/// One input's text and the name errors show for it.
#[derive(Debug)]
pub struct Input {
    /// The path as given, or `<stdin>`.
    pub name: String,
    pub text: String,
}

impl Input {
    /// An error at byte `offset` of this input, as `NAME:LINE:COLUMN: message`.
    pub fn error_at(&self, offset: usize, message: &str) -> anyhow::Error {
        anyhow!("{}", render_at(&self.name, &self.text, offset, message))
    }

    /// An error about this input as a whole, as `NAME: message`.
    pub fn error(&self, message: impl std::fmt::Display) -> anyhow::Error {
        anyhow!("{}: {message}", self.name)
    }
}

/// Reads inputs, making sure standard input is asked for at most once.
#[derive(Debug, Default)]
pub struct InputReader {
    stdin_taken: bool,
}

impl InputReader {
    /// Reads `path`, or standard input for `-`.
    pub fn read(&mut self, path: &str) -> anyhow::Result<Input> {
        let (name, bytes) = if path == STDIN_PATH {
            if self.stdin_taken {
                bail!("`-` (standard input) can be given only once");
            }
            self.stdin_taken = true;
            ("<stdin>", read_bounded(io::stdin().lock()))
        } else {
            (path, File::open(path).and_then(read_bounded))
        };
        let bytes = bytes.map_err(|error| anyhow!("{name}: cannot read: {error}"))?;
        into_text(name, bytes)
    }
}

/// Reads at most one byte more than the limit, so an oversized input is
/// recognised without reading all of it.
fn read_bounded(reader: impl Read) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    let limit = u64::try_from(MAX_DUMP_BYTES)
        .unwrap_or(u64::MAX)
        .saturating_add(1);
    reader.take(limit).read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Checks the size and the encoding of what was read.
fn into_text(name: &str, bytes: Vec<u8>) -> anyhow::Result<Input> {
    if bytes.len() > MAX_DUMP_BYTES {
        bail!(
            "{name}: the input is larger than {} MiB; larger inputs are refused",
            MAX_DUMP_BYTES >> 20
        );
    }
    if let Some(kind) = binary_kind(&bytes) {
        bail!(
            "{name}:1:1: this is {kind}, not text; guestcpu reads domain XML and host dumps as text"
        );
    }
    String::from_utf8(bytes)
        .map(|text| Input {
            name: name.to_string(),
            text,
        })
        .map_err(|error| {
            let valid = error.utf8_error().valid_up_to();
            let prefix = Input {
                name: name.to_string(),
                text: String::from_utf8_lossy(&error.as_bytes()[..valid]).into_owned(),
            };
            prefix.error_at(valid, "the input is not valid UTF-8")
        })
}
