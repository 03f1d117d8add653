//! Where the integration tests find libvirt's reference data (`../shared`,
//! beside the repository), and what they do when it is not there.
//!
//! The data live outside the repository. On a developer's machine without
//! them a test that needs them skips, saying so on the terminal itself (not
//! through the test harness's captured output, which a passing test never
//! shows). Under CI (`CI` set) their absence is a failure: a green run must
//! mean the oracle suites ran.

use std::io::Write as _;
use std::path::PathBuf;

/// `../shared/libvirt/<folder>`, or `None` after saying on standard error
/// that `test` is skipped. Panics when `CI` is set and the folder is missing.
pub fn libvirt_dir(folder: &str, test: &str) -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/libvirt")
        .join(folder);
    if dir.is_dir() {
        return Some(dir);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{} is missing, and CI must run {test} against it",
        dir.display()
    );
    // Written to the stream itself: the harness captures print!/eprint!.
    let _ = writeln!(std::io::stderr(), "skipped: {test} (no {})", dir.display());
    None
}
