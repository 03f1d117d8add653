//! sosreports as files: which archives are read ([`ArchiveKind`]), the files
//! of a tar archive the engine reads ([`read_tar`]), and the text report of
//! [`guestcpu_core::sosreport`]'s examination ([`render_text`]).
//!
//! Shared by `guestcpu sosreport` (crates/cli), which decompresses with xz2
//! and flate2, and the web app's archive worker (crates/sosreport-worker),
//! which decompresses in the browser: both read the tar stream and render
//! the report with this same code, so that a report reads the same in both.

mod archive;
mod render;

pub use archive::{not_a_report, read_tar, ArchiveKind, ReportFiles};
pub use render::render_text;
