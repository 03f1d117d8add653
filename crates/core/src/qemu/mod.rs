//! QEMU's side of the guest CPU: the `-cpu` argument libvirt builds, QEMU's own
//! model definitions per version and what each accelerator can provide.

pub mod accel;
mod accel_facts;
pub mod cpu_arg;
pub mod definitions;
pub mod guest;
pub mod models;

use std::fmt;

use crate::json;

pub use crate::data::qemu_order::{feature_word_rank, in_qemu_order};

/// A QEMU data file (`data/qemu/*.json`, `data/accel/*.json`) the engine
/// cannot use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataFileError {
    /// Not JSON of the file's shape, at a position of the text.
    Malformed(json::Error),
    /// A QEMU version string without `MAJOR.MINOR`.
    UnreadableQemuVersion(String),
    /// An accelerator other than `kvm` and `tcg`.
    UnknownAccelerator(String),
}

impl DataFileError {
    /// The message, with the line and column in `text` of a malformed file.
    pub fn describe(&self, text: &str) -> String {
        match self {
            DataFileError::Malformed(error) => error.describe(text),
            other => other.to_string(),
        }
    }
}

impl fmt::Display for DataFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DataFileError::Malformed(error) => f.write_str(&error.message),
            DataFileError::UnreadableQemuVersion(version) => {
                write!(f, "unreadable QEMU version `{version}`")
            }
            DataFileError::UnknownAccelerator(accel) => write!(f, "unknown accelerator `{accel}`"),
        }
    }
}

impl std::error::Error for DataFileError {}

impl From<json::Error> for DataFileError {
    fn from(error: json::Error) -> Self {
        DataFileError::Malformed(error)
    }
}
