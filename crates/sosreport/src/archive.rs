//! The archives an sosreport comes as, and reading the files the engine
//! reads out of the tar stream inside.
//!
//! Only the files [`report_path`] names are kept, each bounded to
//! [`MAX_DUMP_BYTES`]. The tar stream is read as its decompressor delivers
//! it: an archive that ends early (a truncated download) is read up to
//! where it breaks, and the break is one of the report's problems.

use std::io::Read;

use guestcpu_core::dump::MAX_DUMP_BYTES;
use guestcpu_core::sosreport::report_path;

/// A report's `(path, text)` pairs the engine reads, paths relative to the
/// report's top folder.
pub type ReportFiles = Vec<(String, String)>;

/// How an sosreport archive is compressed, told by its file name as `sos`
/// names it (`sosreport-HOST-DATE.tar.xz`; `--compression-type gzip` gives
/// `.tar.gz`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchiveKind {
    Xz,
    Gzip,
    Tar,
}

impl ArchiveKind {
    /// The kind of the archive named `name`, or `None` when the name is not
    /// one of an archive.
    pub fn of(name: &str) -> Option<ArchiveKind> {
        let name = name.to_ascii_lowercase();
        if name.ends_with(".tar.xz") || name.ends_with(".txz") {
            Some(ArchiveKind::Xz)
        } else if name.ends_with(".tar.gz") || name.ends_with(".tgz") {
            Some(ArchiveKind::Gzip)
        } else if name.ends_with(".tar") {
            Some(ArchiveKind::Tar)
        } else {
            None
        }
    }
}

/// The error for a path `name` that is neither an sosreport's folder nor
/// one of its archives.
pub fn not_a_report(name: &str) -> String {
    format!("{name}: not an sosreport: give its folder or its .tar.xz, .tar.gz or .tar archive")
}

/// The entries of a tar stream the engine reads, and what went wrong: a
/// broken entry (a damaged or truncated archive, or a decompressor that
/// fails) ends the reading with one problem saying how far it got.
pub fn read_tar(stream: impl Read) -> (ReportFiles, Vec<String>) {
    let mut files = Vec::new();
    let mut problems = Vec::new();
    let mut tar = tar::Archive::new(stream);
    let entries = match tar.entries() {
        Ok(entries) => entries,
        Err(error) => {
            problems.push(format!("not a tar archive: {error}"));
            return (files, problems);
        }
    };
    let broken = |files: &[(String, String)], error: &dyn std::fmt::Display| {
        format!(
            "the archive breaks after {} of the files guestcpu reads ({error}): the files after the break are missing",
            files.len()
        )
    };
    let limit = u64::try_from(MAX_DUMP_BYTES).unwrap_or(u64::MAX);
    for entry in entries {
        let mut entry = match entry {
            Ok(entry) => entry,
            Err(error) => {
                problems.push(broken(&files, &error));
                break;
            }
        };
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let Ok(entry_path) = entry.path() else {
            continue;
        };
        let relative = report_path(&entry_path.to_string_lossy()).map(str::to_string);
        let mut bytes = Vec::new();
        // Every entry is read through, so that a break inside one is seen.
        let read = match &relative {
            Some(_) => entry.by_ref().take(limit).read_to_end(&mut bytes).map(drop),
            None => std::io::copy(&mut entry, &mut std::io::sink()).map(drop),
        };
        if let Err(error) = read {
            problems.push(broken(&files, &error));
            break;
        }
        if let Some(relative) = relative {
            files.push((relative, String::from_utf8_lossy(&bytes).into_owned()));
        }
    }
    (files, problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tar archive of `entries` (path, content), as `tar` writes it.
    fn tar_of(entries: &[(&str, &str)]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (path, content) in entries {
            let mut header = tar::Header::new_gnu();
            header.set_size(content.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            builder
                .append_data(&mut header, path, content.as_bytes())
                .expect("tar entry");
        }
        builder.into_inner().expect("tar")
    }

    #[test]
    fn archive_kinds_are_told_by_their_names() {
        assert_eq!(
            ArchiveKind::of("sosreport-host-2026.tar.xz"),
            Some(ArchiveKind::Xz)
        );
        assert_eq!(ArchiveKind::of("report.TGZ"), Some(ArchiveKind::Gzip));
        assert_eq!(ArchiveKind::of("report.tar.gz"), Some(ArchiveKind::Gzip));
        assert_eq!(ArchiveKind::of("report.tar"), Some(ArchiveKind::Tar));
        assert_eq!(ArchiveKind::of("cpuid.txt"), None);
    }

    #[test]
    fn only_the_files_the_engine_reads_are_kept() {
        let tar = tar_of(&[
            ("sosreport-h/proc/cpuinfo", "processor : 0\n"),
            ("sosreport-h/etc/hosts", "127.0.0.1 localhost\n"),
        ]);
        let (files, problems) = read_tar(tar.as_slice());
        assert_eq!(
            files,
            vec![("proc/cpuinfo".to_string(), "processor : 0\n".to_string())]
        );
        assert!(problems.is_empty(), "{problems:?}");
    }

    #[test]
    fn a_truncated_archive_is_read_up_to_its_break() {
        let content = "x".repeat(2000);
        let tar = tar_of(&[
            ("sosreport-h/proc/cpuinfo", "processor : 0\n"),
            ("sosreport-h/etc/libvirt/qemu/a.xml", &content),
        ]);
        // Cut inside the second entry's header (the first entry is a header
        // and one block of data).
        let (files, problems) = read_tar(&tar[..512 * 2 + 100]);
        assert_eq!(files.len(), 1, "{files:?}");
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].starts_with("the archive breaks after 1 of the files guestcpu reads (")
                && problems[0].ends_with("): the files after the break are missing"),
            "{problems:?}"
        );
    }
}
