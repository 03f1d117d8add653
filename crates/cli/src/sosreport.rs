//! `guestcpu sosreport PATH...`: reads sosreports (a `.tar.xz`, `.tar.gz` or
//! `.tar` archive, or an unpacked folder), hands the files the engine reads
//! to [`guestcpu_core::sosreport`] as `(path, text)` pairs, and renders every
//! domain's check; several reports also get the fleet view.
//!
//! Only the files [`report_path`] names are read, each bounded in size. An
//! archive that ends early is read up to where it breaks, and the break is
//! one of the report's missing parts.

use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use anyhow::{anyhow, bail, Context as _};
use guestcpu_core::check::Verdict;
use guestcpu_core::dump::MAX_DUMP_BYTES;
use guestcpu_core::json;
use guestcpu_core::sosreport::{
    examine_with, fleet, report_path, DomainExamination, Fleet, SosExamination, StartEvidence,
};
use serde::Serialize;

use crate::batch::{csv_cell, progress_bar, verdict_word, BatchFormat};

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

/// A report's `(path, text)` pairs the engine reads.
type ReportFiles = Vec<(String, String)>;

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
    let stream: Box<dyn Read> = if name.ends_with(".tar.xz") || name.ends_with(".txz") {
        Box::new(xz2::bufread::XzDecoder::new(reader))
    } else if name.ends_with(".tar.gz") || name.ends_with(".tgz") {
        Box::new(flate2::bufread::GzDecoder::new(reader))
    } else if name.ends_with(".tar") {
        Box::new(reader)
    } else {
        bail!("{name}: not an sosreport: give its folder or its .tar.xz, .tar.gz or .tar archive");
    };
    let mut problems = Vec::new();
    let files = read_tar(stream, &mut problems);
    Ok((files, problems))
}

/// The entries of a tar archive the engine reads; a broken entry (a
/// damaged or truncated archive) ends the reading with a problem.
fn read_tar(stream: impl Read, problems: &mut Vec<String>) -> Vec<(String, String)> {
    let mut files = Vec::new();
    let mut tar = tar::Archive::new(stream);
    let entries = match tar.entries() {
        Ok(entries) => entries,
        Err(error) => {
            problems.push(format!("not a tar archive: {error}"));
            return files;
        }
    };
    let broken = |files: &[(String, String)], error: &dyn std::fmt::Display| {
        format!(
            "the archive breaks after {} of the files guestcpu reads ({error}): the files after the break are missing",
            files.len()
        )
    };
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
        let limit = u64::try_from(MAX_DUMP_BYTES).unwrap_or(u64::MAX);
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
    files
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

fn render_text(reports: &[SosExamination], fleet: Option<&Fleet>) -> String {
    let mut out = String::new();
    for (index, report) in reports.iter().enumerate() {
        if index > 0 {
            out.push('\n');
        }
        render_report(&mut out, report);
    }
    if let Some(fleet) = fleet {
        render_fleet(&mut out, fleet);
    }
    out
}

fn render_report(out: &mut String, report: &SosExamination) {
    let _ = writeln!(out, "== sosreport {}", report.name);
    let version = |v: &Option<String>| v.clone().unwrap_or_else(|| "unknown".to_string());
    let _ = writeln!(
        out,
        "libvirt {}, QEMU {} ({})",
        version(&report.libvirt),
        version(&report.qemu),
        report.versions_from
    );
    for part in &report.host_files {
        let _ = writeln!(out, "host: {part}");
    }
    if let Some(host) = &report.host {
        let _ = writeln!(
            out,
            "host CPU: {}; host-model: {}; {}",
            host.host_cpu_model.as_deref().unwrap_or("-"),
            host.host_model.as_deref().unwrap_or("-"),
            host.x86_64_level.as_deref().unwrap_or("below x86-64-v1")
        );
    }
    for parameter in &report.kvm_parameters {
        let _ = writeln!(out, "KVM: {parameter}");
    }
    for line in &report.kvm_evidence {
        let _ = writeln!(out, "evidence: {line}");
    }
    for missing in &report.missing {
        let _ = writeln!(out, "missing: {missing}");
    }
    for note in &report.notes {
        let _ = writeln!(out, "note: {note}");
    }
    for domain in &report.domains {
        out.push('\n');
        render_domain(out, domain);
    }
}

fn render_domain(out: &mut String, domain: &DomainExamination) {
    let state = if domain.running {
        "running"
    } else {
        "shut off"
    };
    let Some(check) = &domain.check else {
        let _ = writeln!(
            out,
            "{} ({state}): not checked: {}",
            domain.name,
            domain.error.as_deref().unwrap_or("no answer")
        );
        return;
    };
    let _ = writeln!(out, "{} ({state}, check='{}')", domain.name, check.check);
    for (name, verdict) in [
        ("none", &check.verdicts.none),
        ("partial", &check.verdicts.partial),
        ("full", &check.verdicts.full),
    ] {
        let own = if verdict.own { " (own)" } else { "" };
        let _ = writeln!(
            out,
            "  {name:<8}{:<9}{own} {}",
            verdict_word(verdict),
            one_line(&verdict.message)
        );
    }
    if !check.filtered.is_empty() {
        let names: Vec<&str> = check.filtered.iter().map(|f| f.name.as_str()).collect();
        let _ = writeln!(out, "  filtered: {}", names.join(", "));
    }
    if let Some(arg) = &check.qemu_cpu_arg {
        let _ = writeln!(out, "  -cpu {arg}");
    }
    if let Some(live) = &check.live_cpu {
        let _ = writeln!(out, "  live: {}", live.replace('\n', ""));
    }
    if let Some(last) = &domain.last_start {
        if !last.own_evidence.is_empty() {
            let _ = writeln!(
                out,
                "  known only from this start: KVM does not offer {}",
                last.own_evidence.join(", ")
            );
        }
        if last.confirmed() {
            let _ = writeln!(
                out,
                "  confirmed by the last start ({})",
                last.compared.join(", ")
            );
        } else if last.compared.is_empty() {
            let _ = writeln!(out, "  the last start left nothing to compare with");
        } else {
            let _ = writeln!(out, "  the last start differs:");
            for difference in &last.differences {
                let shown = |text: &str| {
                    if text.is_empty() {
                        "(none)".to_string()
                    } else {
                        text.replace('\n', "")
                    }
                };
                let _ = writeln!(out, "  - {}:", difference.aspect);
                let _ = writeln!(out, "      predicted {}", shown(&difference.predicted));
                let _ = writeln!(out, "      observed  {}", shown(&difference.observed));
            }
        }
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn render_fleet(out: &mut String, fleet: &Fleet) {
    let cluster = &fleet.cluster;
    let _ = writeln!(
        out,
        "\n== fleet of {} reports ({} without a usable host)",
        cluster.hosts, cluster.failed
    );
    match (&cluster.baseline_model, &cluster.baseline_error) {
        (Some(model), _) => {
            let _ = writeln!(out, "baseline CPU every host runs: {model}");
        }
        (None, Some(error)) => {
            let _ = writeln!(out, "no baseline CPU: {error}");
        }
        (None, None) => {}
    }
    let _ = writeln!(
        out,
        "models usable everywhere: {}",
        if cluster.models_everywhere.is_empty() {
            "none".to_string()
        } else {
            cluster.models_everywhere.join(", ")
        }
    );
    for domain in &fleet.domains {
        let summary = &domain.summary;
        let _ = writeln!(out, "{} (defined in {})", domain.name, domain.defined_in);
        match &summary.migration_source {
            Some(source) => {
                let _ = writeln!(out, "  starts on {source}, the migration source");
            }
            None => {
                let _ = writeln!(out, "  starts on no host");
            }
        }
        for problem in &summary.does_not_start {
            let _ = writeln!(
                out,
                "  does not start on {}: {}",
                problem.host,
                one_line(&problem.reason)
            );
        }
        for problem in &summary.does_not_migrate {
            let _ = writeln!(
                out,
                "  cannot migrate to {}: {}",
                problem.host,
                one_line(&problem.reason)
            );
        }
        for problem in &summary.filtered {
            let _ = writeln!(out, "  filtered on {}: {}", problem.host, problem.reason);
        }
    }
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
                    let word = |verdict: &Verdict| verdict_word(verdict).to_string();
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
