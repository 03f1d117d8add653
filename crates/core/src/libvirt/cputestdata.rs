//! Test-only access to libvirt's `tests/cputestdata` copy in `../shared`.
//!
//! The reference data live outside the repository, so every test that needs
//! them asks [`dir`] first. Without the folder a test skips and says so on
//! the terminal itself; under CI (`CI` set) the absence is a failure, so a
//! green CI run means the suite ran.

use std::io::Write as _;
use std::path::PathBuf;

/// The cputestdata folder, or `None` after saying the test is skipped.
/// Panics when `CI` is set and the folder is missing.
pub(crate) fn dir() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/libvirt/cputestdata");
    if dir.is_dir() {
        return Some(dir);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{} is missing, and CI must run libvirt's cputest cases",
        dir.display()
    );
    // Written to the stream itself: the harness captures print!/eprint!.
    let _ = writeln!(
        std::io::stderr(),
        "skipped: libvirt's cputestdata is not at {}",
        dir.display()
    );
    None
}

/// Reads one file of the folder; tests treat a missing file as a failure.
pub(crate) fn read(dir: &std::path::Path, name: &str) -> String {
    let path = dir.join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The rows of `cases.tsv` whose kind is `kind`, without the kind column.
pub(crate) fn cases(dir: &std::path::Path, kind: &str) -> Vec<Vec<String>> {
    read(dir, "cases.tsv")
        .lines()
        .filter(|line| !line.starts_with('#'))
        .map(|line| line.split('\t').map(str::to_string).collect::<Vec<_>>())
        .filter(|columns| columns.first().is_some_and(|k| k == kind))
        .map(|columns| columns[1..].to_vec())
        .collect()
}
