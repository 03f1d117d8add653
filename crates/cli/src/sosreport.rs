//! `guestcpu sosreport PATH...`: reads sosreports (a `.tar.xz`, `.tar.gz` or
//! `.tar` archive, or an unpacked folder), hands the files the engine reads
//! to [`guestcpu_core::sosreport`] as `(path, text)` pairs, and renders every
//! domain's check; several reports also get the fleet view.
//!
//! Only the files [`report_path`] names are read, each bounded in size. An
//! archive is decompressed here and its tar stream read by
//! [`guestcpu_sosreport::read_tar`]: one that ends early is read up to where
//! it breaks, and the break is one of the report's missing parts. The text
//! report is [`guestcpu_sosreport::render_text`], the one the web app shows.

use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use anyhow::{anyhow, bail, Context as _};
use guestcpu_core::check::Verdict;
use guestcpu_core::dump::MAX_DUMP_BYTES;
use guestcpu_core::json;
use guestcpu_core::sosreport::{
    examine_with, fleet, report_path, Fleet, SosExamination, StartEvidence,
};
use guestcpu_sosreport::{not_a_report, read_tar, render_text, ArchiveKind, ReportFiles};
use serde::Serialize;

use crate::batch::{csv_cell, progress_bar, BatchFormat};

/// Reports below this many show no progress bar.
const PROGRESS_MIN_REPORTS: usize = 2;

/// Examines every report and renders them, with the fleet when several.
pub fn run(
    paths: &[String],
    evidence: StartEvidence,
    format: BatchFormat,
) -> anyhow::Result<String> {
    let progress = progress_bar(paths.len(), PROGRESS_MIN_REPORTS, "reports");
    let mut reports = Vec::with_capacity(paths.len());
    for path in paths {
        let (files, problems) = read_report(Path::new(path))?;
        reports.push(examine_with(path, &files, &problems, evidence));
        progress.inc(1);
    }
    progress.finish_and_clear();
    let fleet = (reports.len() > 1).then(|| fleet(&reports));
    match format {
        BatchFormat::Table => Ok(render_text(&reports, fleet.as_ref())),
        BatchFormat::Csv => Ok(render_csv(&reports)),
        BatchFormat::Json => {
            #[derive(Serialize)]
            struct Output<'r> {
                reports: &'r [SosExamination],
                fleet: Option<&'r Fleet>,
            }
            let output = Output {
                reports: &reports,
                fleet: fleet.as_ref(),
            };
            Ok(format!("{}\n", json::to_string_pretty(&output)?))
        }
    }
}

/// The files of one report the engine reads, and what went wrong reading it.
fn read_report(path: &Path) -> anyhow::Result<(ReportFiles, Vec<String>)> {
    if path.is_dir() {
        let mut files = Vec::new();
        walk(path, path, &mut files)?;
        files.sort();
        return Ok((files, Vec::new()));
    }
    let name = path.to_string_lossy();
    let file = File::open(path).map_err(|error| anyhow!("{name}: cannot read: {error}"))?;
    let reader = BufReader::new(file);
    // Decompressed as the tar reader asks: an archive cut short is read up
    // to its break.
    let stream: Box<dyn Read> = match ArchiveKind::of(&name) {
        Some(ArchiveKind::Xz) => Box::new(xz2::bufread::XzDecoder::new(reader)),
        Some(ArchiveKind::Gzip) => Box::new(flate2::bufread::GzDecoder::new(reader)),
        Some(ArchiveKind::Tar) => Box::new(reader),
        None => bail!(not_a_report(&name)),
    };
    Ok(read_tar(stream))
}

/// Every file under `folder` the engine reads, with its path relative to `base`.
fn walk(base: &Path, folder: &Path, files: &mut Vec<(String, String)>) -> anyhow::Result<()> {
    let entries =
        std::fs::read_dir(folder).with_context(|| format!("{}: cannot read", folder.display()))?;
    for entry in entries {
        let entry = entry?;
        let path = entry.path();
        let kind = entry.file_type()?;
        if kind.is_dir() {
            walk(base, &path, files)?;
            continue;
        }
        let Ok(relative) = path.strip_prefix(base) else {
            continue;
        };
        let relative = relative.to_string_lossy();
        let Some(read) = report_path(&relative) else {
            continue;
        };
        let mut bytes = Vec::new();
        let limit = u64::try_from(MAX_DUMP_BYTES).unwrap_or(u64::MAX);
        File::open(&path)
            .and_then(|file| file.take(limit).read_to_end(&mut bytes))
            .map_err(|error| anyhow!("{}: cannot read: {error}", path.display()))?;
        files.push((
            read.to_string(),
            String::from_utf8_lossy(&bytes).into_owned(),
        ));
    }
    Ok(())
}

fn render_csv(reports: &[SosExamination]) -> String {
    let mut out = String::from(
        "report,domain,state,check,own_verdict,none,partial,full,filtered,qemu_cpu_arg,last_start\n",
    );
    for report in reports {
        for domain in &report.domains {
            let state = if domain.running {
                "running"
            } else {
                "shut off"
            };
            let mut cells = vec![report.name.clone(), domain.name.clone(), state.to_string()];
            match &domain.check {
                Some(check) => {
                    let word = |verdict: &Verdict| verdict.word().to_string();
                    let own = [
                        &check.verdicts.none,
                        &check.verdicts.partial,
                        &check.verdicts.full,
                    ]
                    .into_iter()
                    .find(|verdict| verdict.own)
                    .map_or_else(String::new, word);
                    cells.extend([
                        check.check.to_string(),
                        own,
                        word(&check.verdicts.none),
                        word(&check.verdicts.partial),
                        word(&check.verdicts.full),
                        check
                            .filtered
                            .iter()
                            .map(|f| f.name.as_str())
                            .collect::<Vec<_>>()
                            .join(" "),
                        check.qemu_cpu_arg.clone().unwrap_or_default(),
                    ]);
                }
                None => {
                    cells.extend(std::iter::repeat_n(String::new(), 7));
                    if let Some(error) = &domain.error {
                        cells[4] = format!("error: {error}");
                    }
                }
            }
            cells.push(match &domain.last_start {
                Some(last) if last.confirmed() => "confirmed".to_string(),
                Some(last) if last.compared.is_empty() => "nothing to compare".to_string(),
                Some(last) => format!(
                    "differs: {}",
                    last.differences
                        .iter()
                        .map(|difference| difference.aspect.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                None => String::new(),
            });
            let row: Vec<String> = cells.iter().map(|cell| csv_cell(cell)).collect();
            let _ = writeln!(out, "{}", row.join(","));
        }
    }
    out
}
