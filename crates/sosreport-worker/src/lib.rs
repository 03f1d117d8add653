//! The web app's sosreport worker: a second WebAssembly module, run in a Web
//! Worker that the page starts only when an sosreport archive is dropped, so
//! that the xz decoder, the tar reader and the report stay out of the page
//! loaded at start.
//!
//! The page posts the dropped archives (`File`s); the worker decompresses them in the
//! browser — gzip with the browser's own `DecompressionStream`, xz with
//! lzma-rust2 — reads the tar stream and renders the report with the CLI's
//! own code ([`guestcpu_sosreport`]), with the fleet view when several were
//! dropped together, and posts the report's text back.
//! Nothing leaves the page. [`browser`] holds the glue; the rest is pure and
//! tested natively.

pub mod browser;

use std::io::{self, Read};

use guestcpu_core::sosreport::{fleet, SosExamination};
use guestcpu_sosreport::{read_tar, render_text, ReportFiles};
use lzma_rust2::{Action, Status, XzStream};

/// The text report of the examined sosreports, with the fleet view when
/// there are several, as `guestcpu sosreport NAME...` prints it.
pub fn report_text(reports: &[SosExamination]) -> String {
    let fleet = (reports.len() > 1).then(|| fleet(reports));
    render_text(reports, fleet.as_ref())
}

/// The files of an xz-compressed tar archive, decompressed as the tar reader
/// asks: an archive cut short is read up to its break.
pub fn read_xz(compressed: &[u8]) -> (ReportFiles, Vec<String>) {
    read_tar(XzDecoder {
        compressed,
        // sos writes one xz stream: its footer ends the archive (waiting for a
        // further stream, the decoder could not tell a cut archive from a whole one).
        stream: XzStream::new(false),
    })
}

/// lzma-rust2's push decoder as a stream the tar reader pulls from. Its
/// blocking `XzReader` reads each LZMA2 chunk (up to 2 MiB of tar) whole
/// before decoding it, so an archive cut short would lose the chunk it
/// breaks in — all of a small sosreport. The push decoder gives the bytes
/// up to the break, but for the last ones it cannot decode without the
/// input that follows (about 1.4 KB of tar in the e2e test's cut, where
/// xz2, the CLI's, gives them all): the file they hold is then counted
/// missing.
struct XzDecoder<'c> {
    compressed: &'c [u8],
    stream: XzStream,
}

impl Read for XzDecoder<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            // `Run`, never `Finish`: told that the input is all there, the
            // decoder refuses a cut stream before it hands over what it
            // decoded of it. A whole stream ends with its footer all the same.
            let result = self.stream.process(self.compressed, buf, Action::Run)?;
            self.compressed = &self.compressed[result.bytes_consumed..];
            if result.bytes_produced > 0 || result.status == Status::StreamEnd || buf.is_empty() {
                return Ok(result.bytes_produced);
            }
            if result.bytes_consumed == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the xz stream is cut short",
                ));
            }
        }
    }
}

/// The files of a tar archive whose bytes the browser decompressed: `tar`
/// is what it delivered, `stopped` why it stopped before the end (a gzip
/// archive cut short), which the tar reader meets as a read error where the
/// bytes end.
pub fn read_decompressed(tar: &[u8], stopped: Option<&str>) -> (ReportFiles, Vec<String>) {
    match stopped {
        None => read_tar(tar),
        Some(reason) => read_tar(tar.chain(Stopped(reason))),
    }
}

/// A stream that fails with the reason the decompression stopped.
struct Stopped<'r>(&'r str);

impl Read for Stopped<'_> {
    fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
        Err(io::Error::new(io::ErrorKind::UnexpectedEof, self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A recorded sosreport (`tests/sosreport/`).
    fn recorded(name: &str) -> Vec<u8> {
        let path = format!(
            "{}/../../tests/sosreport/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read(&path).unwrap_or_else(|error| panic!("{path}: {error}"))
    }

    /// The tar inside a recorded `.tar.xz`, decompressed by lzma-rust2.
    fn tar_of(compressed: &[u8]) -> Vec<u8> {
        let mut tar = Vec::new();
        lzma_rust2::XzReader::new(compressed, true)
            .read_to_end(&mut tar)
            .expect("xz");
        tar
    }

    #[test]
    fn an_xz_archive_and_its_tar_give_the_same_files() {
        let xz = recorded("trixie.tar.xz");
        let (files, problems) = read_xz(&xz);
        assert!(problems.is_empty(), "{problems:?}");
        assert!(
            files.iter().any(|(path, _)| path == "proc/cpuinfo"),
            "{files:?}"
        );
        assert!(
            files
                .iter()
                .any(|(path, _)| path == "etc/libvirt/qemu/gc-host-model.xml"),
            "{files:?}"
        );
        assert_eq!(read_decompressed(&tar_of(&xz), None), (files, problems));
    }

    #[test]
    fn a_truncated_xz_archive_is_read_up_to_its_break() {
        let xz = recorded("bookworm.tar.xz");
        let (files, problems) = read_xz(&xz[..xz.len() * 3 / 4]);
        assert_eq!(problems.len(), 1, "{problems:?}");
        let read = files.len();
        assert!(
            read > 0,
            "the files before the break are read: {problems:?}"
        );
        assert!(
            problems[0].starts_with(&format!(
                "the archive breaks after {read} of the files guestcpu reads ("
            )) && problems[0].ends_with("): the files after the break are missing"),
            "{problems:?}"
        );
    }

    #[test]
    fn a_decompression_that_stopped_early_is_a_break() {
        let tar = tar_of(&recorded("bookworm.tar.xz"));
        let (whole, _) = read_decompressed(&tar, None);
        let (files, problems) =
            read_decompressed(&tar[..tar.len() / 2], Some("the gzip stream ends early"));
        assert!(
            files.len() < whole.len(),
            "{} of {}",
            files.len(),
            whole.len()
        );
        assert_eq!(
            problems,
            vec![format!(
                "the archive breaks after {} of the files guestcpu reads (the gzip stream ends early): the files after the break are missing",
                files.len()
            )]
        );
    }

    #[test]
    fn the_report_names_every_domain_with_its_verdicts() {
        let (files, problems) = read_xz(&recorded("trixie.tar.xz"));
        let report = guestcpu_core::sosreport::examine("trixie.tar.xz", &files, &problems);
        let text = report_text(&[report]);
        assert!(
            text.starts_with(
                "== sosreport trixie.tar.xz\nlibvirt 11.3.0, QEMU 10.0.13 (virsh -r version)\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("\ngc-custom-haswell-full (shut off, check='full')\n"),
            "{text}"
        );
    }
}
