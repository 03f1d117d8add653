//! `guestcpu batch`: every host dump under the given paths, examined on all
//! cores, then the cluster summary, as a table, CSV or one JSON object.
//!
//! The engine's [`guestcpu_core::batch`] does the work one host at a time; this
//! module finds the files, reads them, runs the hosts on a scoped thread per
//! core, shows progress on a terminal, and renders. A file that cannot be
//! read or parsed is a row with its `error:` and position, never the end of
//! the run. With `--upgrade-to`, every readable host is checked again under
//! the second stack and what changes for the domain is a column and a section.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use anyhow::{bail, Context as _};
use guestcpu_core::batch::{
    examine_host_kept, fleet_remedy_prepared, summarize, summarize_upgrade, upgrade_host,
    BatchQuestion, BatchReport, ClusterSummary, DomainOnHost, HostOutcome, HostResult, HostText,
    HostUpgrade, SettledQuestion, UpgradeStack, UpgradeSummary,
};
use guestcpu_core::check::{CheckOptions, PreparedHost};
use guestcpu_core::position::render_at;
use guestcpu_core::{json, CpuDef, CpuMap};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use crate::input::InputReader;

/// How `guestcpu batch` prints its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BatchFormat {
    /// Aligned columns, then the cluster summary.
    Table,
    /// One row per host, with a header.
    Csv,
    /// One object: `{"hosts": [...], "cluster": {...}}`.
    Json,
}

/// Runs below this many hosts show no progress bar: they end too soon.
const PROGRESS_MIN_HOSTS: usize = 200;

/// One host's outcome with its error already placed in its file.
struct Examined<'m> {
    result: HostResult,
    /// `PATH:LINE:COLUMN: message` (or `PATH: message`) for a failed host.
    error: Option<String>,
    /// The dump's text and the host as the domain's check prepared it, kept
    /// for the fleet's remedy when the output shows it.
    kept: Option<(String, PreparedHost<'m>)>,
}

/// What the upgrade changes on every host, and across them.
struct Upgrades {
    summary: UpgradeSummary,
    /// One per host, in the hosts' order: `None` for a host that could not be
    /// read at all (its error is already listed), else the preview or why
    /// the upgrade stack could not check it.
    hosts: Vec<Option<Result<HostUpgrade, String>>>,
}

/// Examines every host file under `paths` and renders the report; `source`
/// names the migration source (default: the first host the domain starts on);
/// `upgrade_to`, a second stack to check the domain under on every host.
pub fn run(
    map: &CpuMap,
    paths: &[String],
    domain_xml: Option<&str>,
    source: Option<&str>,
    options: &CheckOptions,
    upgrade_to: Option<UpgradeStack<'_>>,
    format: BatchFormat,
) -> anyhow::Result<String> {
    let files = collect_files(paths)?;
    if files.is_empty() {
        bail!("no files found under {}", paths.join(", "));
    }
    let named_source = source.map(|path| find_source(&files, path)).transpose()?;
    let source_name = named_source.map(|index| files[index].to_string_lossy().into_owned());
    let question = BatchQuestion {
        domain_xml,
        options,
        source: source_name.as_deref(),
    };
    // The domain is parsed once for every host.
    let settled = SettledQuestion::new(&question);
    // CSV rows never show the fleet's remedy; the other formats make it
    // from the hosts as their checks prepared them.
    let shows_remedy = !matches!(format, BatchFormat::Csv);
    let examine = Examine {
        map,
        question: &settled,
        keep: shows_remedy && domain_xml.is_some(),
    };
    let progress = progress_bar(files.len(), PROGRESS_MIN_HOSTS, "hosts");

    // The migration source is the host named with --source, else the first
    // host the domain starts on; find it in order, a core's worth of hosts at
    // a time, then examine every other host in parallel with its live
    // definition.
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut examined: Vec<Option<Examined<'_>>> = (0..files.len()).map(|_| None).collect();
    let mut live: Option<CpuDef> = None;
    let mut source = None;
    let mut searched: Vec<usize> = Vec::new();
    let starting_live = |done: &Examined<'_>| {
        done.result
            .report()
            .and_then(|r| r.domain.as_ref())
            .filter(|d| d.starts())
            .and_then(|d| d.live_cpu.clone())
    };
    if let (Some(index), Some(_)) = (named_source, domain_xml) {
        let done = examine.in_parallel(&files[index..=index], None, &progress);
        for done in done {
            live = starting_live(&done);
            examined[index] = Some(done);
        }
        source = Some(index);
        searched.push(index);
    } else if domain_xml.is_some() {
        let mut next = 0;
        while next < files.len() && source.is_none() {
            let end = (next + workers).min(files.len());
            let done = examine.in_parallel(&files[next..end], None, &progress);
            for (index, done) in (next..end).zip(done) {
                if source.is_none() {
                    live = starting_live(&done);
                    if live.is_some() {
                        source = Some(index);
                    }
                }
                examined[index] = Some(done);
                searched.push(index);
            }
            next = end;
        }
    }
    let rest: Vec<usize> = (0..files.len()).filter(|i| !searched.contains(i)).collect();
    let rest_files: Vec<PathBuf> = rest.iter().map(|&index| files[index].clone()).collect();
    let done = examine.in_parallel(&rest_files, live.as_ref(), &progress);
    for (index, done) in rest.into_iter().zip(done) {
        examined[index] = Some(done);
    }
    // Hosts searched before the source's live definition was known: ask them
    // again whether the guest can arrive (off the progress bar, which counted
    // them once).
    if let (Some(source), Some(live)) = (source, &live) {
        let again: Vec<usize> = searched.into_iter().filter(|&i| i != source).collect();
        let again_files: Vec<PathBuf> = again.iter().map(|&index| files[index].clone()).collect();
        let redone = examine.in_parallel(&again_files, Some(live), &ProgressBar::hidden());
        for (index, done) in again.into_iter().zip(redone) {
            examined[index] = Some(done);
        }
    }
    progress.finish_and_clear();

    let examined: Vec<Examined<'_>> = examined.into_iter().flatten().collect();
    let results: Vec<HostResult> = examined.iter().map(|e| e.result.clone()).collect();
    let mut cluster = summarize(map, &results, &question);
    if let Some(domain) = cluster.domain.as_mut().filter(|_| shows_remedy) {
        // Identical dumps (a fleet of one hardware type) are one host to it.
        let mut seen = std::collections::HashSet::new();
        let hosts: Vec<(&str, &PreparedHost<'_>)> = examined
            .iter()
            .filter_map(|e| {
                let (text, host) = e.kept.as_ref()?;
                seen.insert(text.as_str())
                    .then_some((e.result.name.as_str(), host))
            })
            .collect();
        (domain.remedy, domain.remedy_note) = fleet_remedy_prepared(&settled, &hosts);
    }
    let report = BatchReport {
        hosts: results,
        cluster,
    };
    let upgrades = match (domain_xml, upgrade_to) {
        (Some(domain_xml), Some(after)) => {
            let before = UpgradeStack { map, options };
            Some(upgrade_hosts(
                &files,
                &report.hosts,
                domain_xml,
                before,
                after,
            ))
        }
        _ => None,
    };
    let errors: Vec<Option<&str>> = examined.iter().map(|e| e.error.as_deref()).collect();
    match format {
        BatchFormat::Table => {
            let mut table = render_table(&report, &errors, upgrades.as_ref());
            if let Some(choice) = options.libvirt {
                let _ = writeln!(table, "\nmodelled: {}", choice.describe());
            }
            Ok(table)
        }
        BatchFormat::Csv => Ok(render_csv(&report, &errors, upgrades.as_ref())),
        BatchFormat::Json => render_json(&report, &errors, upgrades.as_ref()),
    }
}

/// Checks the domain on every readable host under both stacks, one scoped
/// thread per core, and counts what changes.
fn upgrade_hosts(
    files: &[PathBuf],
    results: &[HostResult],
    domain_xml: &str,
    before: UpgradeStack<'_>,
    after: UpgradeStack<'_>,
) -> Upgrades {
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(files.len().max(1));
    let next = AtomicUsize::new(0);
    let slots: Vec<Mutex<Option<Result<HostUpgrade, String>>>> =
        files.iter().map(|_| Mutex::new(None)).collect();
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                let (Some(file), Some(result)) = (files.get(index), results.get(index)) else {
                    break;
                };
                if result.report().is_none() {
                    continue;
                }
                let upgrade = match InputReader::default().read(&file.to_string_lossy()) {
                    Ok(input) => upgrade_host(&input.text, domain_xml, before, after)
                        .map_err(|failure| failure.message),
                    Err(error) => Err(format!("{error:#}")),
                };
                if let Ok(mut slot) = slots[index].lock() {
                    *slot = Some(upgrade);
                }
            });
        }
    });
    let hosts: Vec<Option<Result<HostUpgrade, String>>> = slots
        .into_iter()
        .map(|slot| slot.into_inner().ok().flatten())
        .collect();
    let compared: Vec<&HostUpgrade> = hosts.iter().flatten().flatten().collect();
    Upgrades {
        summary: summarize_upgrade(&compared),
        hosts,
    }
}

/// The upgrade column: the own verdict's change (`FAILS->starts`), else how
/// many other things change.
fn upgrade_cell(upgrade: &Result<HostUpgrade, String>) -> String {
    match upgrade {
        Err(_) => "error".to_string(),
        Ok(upgrade) if upgrade.verdict_changes() => format!(
            "{}->{}",
            upgrade.verdict_before.word(),
            upgrade.verdict_after.word()
        ),
        Ok(upgrade) if upgrade.changes.is_empty() => "unchanged".to_string(),
        Ok(upgrade) => match upgrade.changes.len() {
            1 => "1 change".to_string(),
            n => format!("{n} changes"),
        },
    }
}

/// The upgrade section: the count, then each host's changes.
fn render_upgrade_section(out: &mut String, report: &BatchReport, upgrades: &Upgrades) {
    let summary = &upgrades.summary;
    let _ = writeln!(
        out,
        "\nupgrade from {} to {}: the verdict changes on {} of {} hosts, something changes on {}",
        summary.stack_before.as_deref().unwrap_or("-"),
        summary.stack_after.as_deref().unwrap_or("-"),
        summary.hosts_changing_verdict,
        summary.hosts,
        summary.hosts_changing
    );
    for (result, upgrade) in report.hosts.iter().zip(&upgrades.hosts) {
        match upgrade {
            None => {}
            Some(Err(error)) => {
                let _ = writeln!(out, "  {}: error: {error}", result.name);
            }
            Some(Ok(upgrade)) if upgrade.changes.is_empty() => {}
            Some(Ok(upgrade)) => {
                let _ = writeln!(out, "  {}:", result.name);
                for change in &upgrade.changes {
                    let _ = writeln!(
                        out,
                        "    {}:\n      before: {}\n      after:  {}",
                        change.what, change.before, change.after
                    );
                }
            }
        }
    }
}

/// The index among `files` of the `--source` file (the same file, however
/// its path is written).
fn find_source(files: &[PathBuf], source: &str) -> anyhow::Result<usize> {
    let wanted =
        std::fs::canonicalize(source).with_context(|| format!("--source {source}: cannot read"))?;
    files
        .iter()
        .position(|file| std::fs::canonicalize(file).is_ok_and(|path| path == wanted))
        .ok_or_else(|| anyhow::anyhow!("--source {source} is not one of the hosts examined"))
}

/// Every file under `paths`, folders walked recursively, each folder's
/// entries sorted so that runs are reproducible.
fn collect_files(paths: &[String]) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for path in paths {
        let path = Path::new(path);
        let metadata =
            std::fs::metadata(path).with_context(|| format!("{}: cannot read", path.display()))?;
        if metadata.is_dir() {
            walk(path, &mut files)?;
        } else {
            files.push(path.to_path_buf());
        }
    }
    Ok(files)
}

fn walk(folder: &Path, files: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(folder)
        .with_context(|| format!("{}: cannot read the folder", folder.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for entry in entries {
        if entry.is_dir() {
            walk(&entry, files)?;
        } else {
            files.push(entry);
        }
    }
    Ok(())
}

/// How every host of a run is examined.
struct Examine<'r, 'm> {
    map: &'m CpuMap,
    question: &'r SettledQuestion<'r>,
    /// Keep each host's text and prepared host ([`Examined::kept`]).
    keep: bool,
}

impl<'m> Examine<'_, 'm> {
    /// Reads and examines one file; a file that cannot be read becomes a failed host.
    fn file(&self, path: &Path, arriving: Option<&CpuDef>) -> Examined<'m> {
        let name = path.to_string_lossy();
        let input = match InputReader::default().read(&name) {
            Ok(input) => input,
            Err(error) => {
                let message = format!("{error:#}");
                let detail = message
                    .strip_prefix(&format!("{name}:"))
                    .unwrap_or(&message)
                    .trim()
                    .to_string();
                return Examined {
                    result: HostResult {
                        name: name.to_string(),
                        outcome: HostOutcome::Failed(guestcpu_core::batch::HostFailure {
                            offset: None,
                            message: detail,
                        }),
                    },
                    error: Some(message),
                    kept: None,
                };
            }
        };
        let (result, prepared) = examine_host_kept(
            self.map,
            HostText {
                name: &name,
                text: &input.text,
            },
            self.question,
            arriving,
        );
        let error = match &result.outcome {
            HostOutcome::Ok(_) => None,
            HostOutcome::Failed(failure) => Some(match failure.offset {
                Some(offset) => render_at(&name, &input.text, offset, &failure.message),
                None => format!("{name}: {}", failure.message),
            }),
        };
        let kept = prepared
            .filter(|_| self.keep)
            .map(|prepared| (input.text, prepared));
        Examined {
            result,
            error,
            kept,
        }
    }

    /// Examines `files` on one scoped thread per core, each taking the next file
    /// as it finishes one; the results keep the files' order.
    fn in_parallel(
        &self,
        files: &[PathBuf],
        arriving: Option<&CpuDef>,
        progress: &ProgressBar,
    ) -> Vec<Examined<'m>> {
        let workers = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(files.len().max(1));
        let next = AtomicUsize::new(0);
        let slots: Vec<Mutex<Option<Examined<'m>>>> =
            files.iter().map(|_| Mutex::new(None)).collect();
        std::thread::scope(|scope| {
            for _ in 0..workers {
                scope.spawn(|| loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(file) = files.get(index) else {
                        break;
                    };
                    let done = self.file(file, arriving);
                    if let Ok(mut slot) = slots[index].lock() {
                        *slot = Some(done);
                    }
                    progress.inc(1);
                });
            }
        });
        slots
            .into_iter()
            .zip(files)
            .map(|(slot, file)| {
                slot.into_inner()
                    .ok()
                    .flatten()
                    .unwrap_or_else(|| Examined {
                        result: HostResult {
                            name: file.to_string_lossy().into_owned(),
                            outcome: HostOutcome::Failed(guestcpu_core::batch::HostFailure {
                                offset: None,
                                message: "the worker examining this host failed".to_string(),
                            }),
                        },
                        error: Some(format!(
                            "{}: the worker examining this host failed",
                            file.display()
                        )),
                        kept: None,
                    })
            })
            .collect()
    }
}

/// The run's progress bar on standard error, for runs long enough to need
/// one; indicatif draws it only when standard error is a terminal, at most
/// 20 times a second, and is safe to advance from every worker.
pub(crate) fn progress_bar(total: usize, minimum: usize, unit: &str) -> ProgressBar {
    if total < minimum {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total as u64);
    let template = format!("[{{bar:40}}] {{pos}}/{{len}} {unit}, {{per_sec}}");
    if let Ok(style) = ProgressStyle::with_template(&template) {
        bar.set_style(style.progress_chars("# "));
    }
    bar
}

fn render_table(
    report: &BatchReport,
    errors: &[Option<&str>],
    upgrades: Option<&Upgrades>,
) -> String {
    let with_domain = report.cluster.domain.is_some();
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut header = vec!["host", "host CPU", "host-model", "level", "usable"];
    if with_domain {
        header.extend(["none", "partial", "full", "migrates", "filtered"]);
    }
    if upgrades.is_some() {
        header.push("upgrade");
    }
    rows.push(header.iter().map(|h| h.to_string()).collect());
    for (index, result) in report.hosts.iter().enumerate() {
        let Some(host) = result.report() else {
            continue;
        };
        let mut row = vec![
            result.name.clone(),
            dash(host.host_cpu_model.as_deref()),
            dash(host.host_model.as_deref()),
            dash(host.x86_64_level.as_deref()),
            host.usable_models.len().to_string(),
        ];
        if let Some(domain) = &host.domain {
            row.extend([
                domain.verdicts.none.word().to_string(),
                domain.verdicts.partial.word().to_string(),
                domain.verdicts.full.word().to_string(),
                migrates_cell(report, result, domain),
                domain
                    .filtered
                    .iter()
                    .map(|f| f.name.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
            ]);
        }
        if let Some(Some(upgrade)) = upgrades.and_then(|u| u.hosts.get(index)) {
            row.push(upgrade_cell(upgrade));
        }
        rows.push(row);
    }
    let mut out = String::new();
    if rows.len() > 1 {
        let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
        let widths: Vec<usize> = (0..columns)
            .map(|c| {
                rows.iter()
                    .filter_map(|r| r.get(c))
                    .map(|cell| cell.chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        for row in &rows {
            let line: Vec<String> = row
                .iter()
                .zip(&widths)
                .map(|(cell, width)| format!("{cell:<width$}"))
                .collect();
            out.push_str(line.join("  ").trim_end());
            out.push('\n');
        }
    }
    let failed: Vec<&str> = errors.iter().flatten().copied().collect();
    if !failed.is_empty() {
        let _ = writeln!(out, "\nunreadable ({}):", failed.len());
        for error in failed {
            let _ = writeln!(out, "  error: {error}");
        }
    }

    let cluster = &report.cluster;
    let _ = writeln!(
        out,
        "\ncluster: {} hosts, {} readable",
        cluster.hosts,
        cluster.hosts - cluster.failed
    );
    let _ = writeln!(
        out,
        "best model on every host: {}",
        cluster.best_model.as_deref().unwrap_or("none")
    );
    if let Some(domain) = &cluster.domain {
        render_domain_summary(&mut out, cluster, domain);
    }
    if let Some(upgrades) = upgrades {
        render_upgrade_section(&mut out, report, upgrades);
    }
    match (&cluster.baseline_xml, &cluster.baseline_error) {
        (Some(xml), _) => {
            let _ = writeln!(out, "\nbaseline CPU (runs on every host, migratable):");
            for line in xml.lines() {
                let _ = writeln!(out, "  {line}");
            }
        }
        (None, Some(error)) => {
            let _ = writeln!(out, "\nbaseline CPU: none ({error})");
        }
        (None, None) => {}
    }
    let _ = writeln!(
        out,
        "\nmodels usable everywhere ({}): {}",
        cluster.models_everywhere.len(),
        cluster.models_everywhere.join(" ")
    );
    out
}

/// The domain's part of the summary: where it starts, the migration source
/// and why, the hosts with problems, and the fleet's remedy.
fn render_domain_summary(
    out: &mut String,
    cluster: &ClusterSummary,
    domain: &guestcpu_core::batch::DomainSummary,
) {
    let _ = writeln!(
        out,
        "\ndomain: starts on {} of {} hosts",
        cluster.hosts - domain.does_not_start.len(),
        cluster.hosts
    );
    let _ = writeln!(
        out,
        "migration source: {} ({})",
        domain.migration_source.as_deref().unwrap_or("none"),
        domain.migration_source_reason
    );
    for (title, problems) in [
        ("does not start on", &domain.does_not_start),
        ("does not migrate to", &domain.does_not_migrate),
        ("starts with features filtered on", &domain.filtered),
    ] {
        if problems.is_empty() {
            continue;
        }
        let _ = writeln!(out, "{title} ({}):", problems.len());
        for problem in problems {
            let _ = writeln!(out, "  {}: {}", problem.host, problem.reason);
        }
    }
    match (&domain.remedy, &domain.remedy_note) {
        (Some(remedy), _) => {
            let _ = writeln!(out, "\nFix for every host:");
            for change in &remedy.changes {
                let _ = writeln!(out, "  - {change}");
            }
            let _ = writeln!(out, "  {}", remedy.explanation);
            let _ = writeln!(out, "remedied domain:");
            for line in remedy.domain_xml.lines() {
                let _ = writeln!(out, "  {line}");
            }
        }
        (None, Some(note)) => {
            let _ = writeln!(out, "\nFix for every host: {note}");
        }
        (None, None) => {}
    }
}

fn migrates_cell(report: &BatchReport, result: &HostResult, domain: &DomainOnHost) -> String {
    let is_source = report
        .cluster
        .domain
        .as_ref()
        .and_then(|d| d.migration_source.as_deref())
        == Some(result.name.as_str());
    match &domain.arrival {
        _ if is_source => "source".to_string(),
        None => "-".to_string(),
        Some(arrival) if arrival.starts => "yes".to_string(),
        Some(_) => "NO".to_string(),
    }
}

fn dash(value: Option<&str>) -> String {
    value.unwrap_or("-").to_string()
}

fn render_csv(
    report: &BatchReport,
    errors: &[Option<&str>],
    upgrades: Option<&Upgrades>,
) -> String {
    let with_domain = report.cluster.domain.is_some();
    let mut header = vec![
        "host",
        "status",
        "format",
        "vendor",
        "host_cpu_model",
        "host_model",
        "x86_64_level",
        "usable_models",
    ];
    if with_domain {
        header.extend(["check", "none", "partial", "full", "migrates", "filtered"]);
    }
    if upgrades.is_some() {
        header.extend([
            "upgrade_verdict",
            "upgrade_filtered",
            "upgrade_cpu",
            "upgrade_changes",
        ]);
    }
    header.push("error");
    let mut out = header.join(",");
    out.push('\n');
    for (index, (result, error)) in report.hosts.iter().zip(errors).enumerate() {
        let mut row = vec![result.name.clone()];
        match result.report() {
            Some(host) => {
                row.extend([
                    "ok".to_string(),
                    host.format.clone(),
                    host.vendor.clone().unwrap_or_default(),
                    host.host_cpu_model.clone().unwrap_or_default(),
                    host.host_model.clone().unwrap_or_default(),
                    host.x86_64_level.clone().unwrap_or_default(),
                    host.usable_models.join(" "),
                ]);
                if let Some(domain) = &host.domain {
                    row.extend([
                        domain.check.to_string(),
                        domain.verdicts.none.word().to_string(),
                        domain.verdicts.partial.word().to_string(),
                        domain.verdicts.full.word().to_string(),
                        migrates_cell(report, result, domain).to_lowercase(),
                        domain
                            .filtered
                            .iter()
                            .map(|f| f.name.as_str())
                            .collect::<Vec<_>>()
                            .join(" "),
                    ]);
                }
                match upgrades.and_then(|u| u.hosts.get(index)) {
                    Some(Some(Ok(upgrade))) => row.extend([
                        upgrade.verdict_after.word().to_string(),
                        upgrade.filtered_after.join(" "),
                        upgrade.qemu_cpu_arg_after.clone().unwrap_or_default(),
                        upgrade
                            .changes
                            .iter()
                            .map(|c| c.what.as_str())
                            .collect::<Vec<_>>()
                            .join("; "),
                    ]),
                    Some(Some(Err(error))) => {
                        row.extend([String::new(), String::new(), String::new()]);
                        row.push(format!("error: {error}"));
                    }
                    Some(None) => row.extend(vec![String::new(); 4]),
                    None => {}
                }
                row.push(String::new());
            }
            None => {
                row.push("error".to_string());
                let empty_columns = header.len() - 3;
                row.extend(vec![String::new(); empty_columns]);
                row.push(error.unwrap_or_default().to_string());
            }
        }
        let cells: Vec<String> = row.iter().map(|cell| csv_cell(cell)).collect();
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    out
}

/// Quotes a CSV cell when it holds a comma, a quote or a line break (RFC 4180).
pub(crate) fn csv_cell(cell: &str) -> String {
    if cell.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", cell.replace('"', "\"\""))
    } else {
        cell.to_string()
    }
}

/// One host as `--format json` lists it: the engine's result and, for a host
/// that could not be read, the error line the table shows.
#[derive(Serialize)]
struct HostJson<'r> {
    #[serde(flatten)]
    result: &'r HostResult,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    /// With `--upgrade-to`: what changes on this host.
    #[serde(skip_serializing_if = "Option::is_none")]
    upgrade: Option<&'r HostUpgrade>,
    /// With `--upgrade-to`: why the upgrade stack could not check this host.
    #[serde(skip_serializing_if = "Option::is_none")]
    upgrade_error: Option<&'r str>,
}

#[derive(Serialize)]
struct BatchJson<'r> {
    hosts: Vec<HostJson<'r>>,
    cluster: &'r ClusterSummary,
    #[serde(skip_serializing_if = "Option::is_none")]
    upgrade: Option<&'r UpgradeSummary>,
}

fn render_json(
    report: &BatchReport,
    errors: &[Option<&str>],
    upgrades: Option<&Upgrades>,
) -> anyhow::Result<String> {
    let hosts = report
        .hosts
        .iter()
        .zip(errors)
        .enumerate()
        .map(|(index, (result, error))| {
            let upgrade = upgrades
                .and_then(|u| u.hosts.get(index))
                .and_then(Option::as_ref);
            HostJson {
                result,
                error: error.map(|error| format!("error: {error}")),
                upgrade: upgrade.and_then(|u| u.as_ref().ok()),
                upgrade_error: upgrade.and_then(|u| u.as_ref().err()).map(String::as_str),
            }
        })
        .collect();
    let batch = BatchJson {
        hosts,
        cluster: &report.cluster,
        upgrade: upgrades.map(|u| &u.summary),
    };
    Ok(format!("{}\n", json::to_string_pretty(&batch)?))
}
