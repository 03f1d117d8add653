//! Test-only access to libvirt's `tests/cputestdata` copy in `../shared`.
//!
//! The reference data live outside the repository, so every test that needs
//! them asks [`dir`] first and skips (with a message saying so) when the folder
//! is absent, instead of failing on machines that only have the sources.

use std::path::PathBuf;

/// The cputestdata folder, or `None` (after printing why the test is skipped).
pub(crate) fn dir() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/libvirt/cputestdata");
    if dir.is_dir() {
        Some(dir)
    } else {
        println!("skipped: libvirt's cputestdata is not at {}", dir.display());
        None
    }
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
