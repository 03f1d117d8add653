//! Many hosts at once: a report per host dump and a summary of the cluster.
//!
//! The caller reads the files; this module gets their texts as
//! [`HostText`]s and answers, for each, what [`crate::check`] answers for one
//! host (the host CPU, host-model, x86-64 level and usable models, and with a
//! domain its verdicts and filtered features). [`summarize`] then joins the
//! hosts: the baseline CPU every host runs (libvirt's baseline of the
//! host-model CPUs, migratable), the models usable everywhere, and the hosts
//! the domain would not start on or not migrate to.
//!
//! A host that cannot be read is a [`HostOutcome::Failed`] with a byte offset,
//! never a stop of the whole run. Nothing here spawns threads: [`examine_host`]
//! is a pure function of one text, so the caller may run it on any number of
//! threads (with the domain parsed once for all of them, [`SettledQuestion`]),
//! and [`analyze`] is the sequential reference that ties the steps together
//! in the order the CLI follows.
//!
//! Migration is judged from one source: the host the caller names
//! ([`BatchQuestion::source`]), else the first host (in input order) the
//! domain starts on; the summary says which and why. Its live definition
//! (what libvirt keeps after start, `check='full'`) is started as an incoming
//! guest on every other host. [`fleet_remedy`] makes one domain that starts
//! under `check='full'` with nothing filtered on every readable host.
//!
//! With an upgrade stack ([`UpgradeStack`]), [`upgrade_host`] checks the
//! domain on each host again under the second libvirt and QEMU and keeps the
//! [`UpgradePreview`]'s changes; [`summarize_upgrade`] counts the hosts whose
//! verdict changes.

use serde::Serialize;

use crate::check::upgrade::{StackChange, UpgradePreview};
use crate::check::{
    analyze_prepared_answer, description_notes, description_settings, remedy_on_hosts, CheckError,
    CheckOptions, FilteredReport, PreparedHost, Question, Remedy, RemedyHost, Verdict, Verdicts,
};
use crate::cpudef::{CpuCheck, CpuDef, CpuType};
use crate::data::CpuMap;
use crate::host::{parse_host, HostInput};
use crate::libvirt::baseline::baseline;

/// One host input as read by the caller: the name to show (a path) and its text.
#[derive(Debug, Clone, Copy)]
pub struct HostText<'t> {
    pub name: &'t str,
    pub text: &'t str,
}

/// What every host is asked, besides its own text.
#[derive(Debug, Clone, Copy)]
pub struct BatchQuestion<'q> {
    /// A `<domain>` or bare `<cpu>` to check on every host; `None` describes
    /// the hosts only.
    pub domain_xml: Option<&'q str>,
    /// QEMU version and accelerator, as for one check.
    pub options: &'q CheckOptions,
    /// The name of the host to migrate from; `None`: the first host the
    /// domain starts on.
    pub source: Option<&'q str>,
}

/// A host input that could not be used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostFailure {
    /// Byte offset into the host's text; `None` when the problem is not at a
    /// place in the text (e.g. the host has no CPU data libvirt can decode).
    pub offset: Option<usize>,
    /// What is wrong, lowercase, without a trailing period.
    pub message: String,
}

/// What the domain does on one host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DomainOnHost {
    /// The domain's effective `check`.
    pub check: CpuCheck,
    pub verdicts: Verdicts,
    /// The features QEMU would filter from the guest CPU.
    pub filtered: Vec<FilteredReport>,
    /// The live definition after a start with the domain's own `check`, as a
    /// `<cpu>`; `None` when it does not start.
    #[serde(skip)]
    pub live_cpu: Option<CpuDef>,
    /// Whether the guest running on the migration source can migrate here;
    /// `None` on the source itself and when nothing was migrated.
    pub arrival: Option<Arrival>,
}

/// An incoming migration from the cluster's source host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Arrival {
    pub starts: bool,
    pub message: String,
    /// Features this host would filter from the live definition.
    pub filtered: Vec<String>,
}

/// One readable host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostReport {
    /// How the input was read, e.g. `cpuid -r, CPU 0 of 16`.
    pub format: String,
    pub vendor: Option<String>,
    /// The host CPU model libvirt reports.
    pub host_cpu_model: Option<String>,
    /// The host-model guest CPU's model.
    pub host_model: Option<String>,
    /// The host-model guest CPU itself, the input of the cluster baseline.
    #[serde(skip)]
    pub host_model_cpu: Option<CpuDef>,
    pub x86_64_level: Option<String>,
    /// Names of the models the host can run, in the order they are listed.
    pub usable_models: Vec<String>,
    /// With a domain: what it does here.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<DomainOnHost>,
    pub notes: Vec<String>,
}

/// The outcome for one host input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum HostOutcome {
    Ok(Box<HostReport>),
    Failed(HostFailure),
}

/// One host input with its outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostResult {
    pub name: String,
    #[serde(flatten)]
    pub outcome: HostOutcome,
}

impl HostResult {
    /// The report, `None` for a failed host.
    pub fn report(&self) -> Option<&HostReport> {
        match &self.outcome {
            HostOutcome::Ok(report) => Some(report),
            HostOutcome::Failed(_) => None,
        }
    }
}

/// A host the domain does not start on or cannot migrate to, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostProblem {
    pub host: String,
    pub reason: String,
}

/// What the domain does across the cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DomainSummary {
    /// The source of every migration: the host named as the source, else the
    /// first host the domain starts on.
    pub migration_source: Option<String>,
    /// Why that host is the source, or why there is none.
    pub migration_source_reason: String,
    /// Hosts where the domain's own `check` stops the start.
    pub does_not_start: Vec<HostProblem>,
    /// Hosts the running guest cannot migrate to.
    pub does_not_migrate: Vec<HostProblem>,
    /// Hosts where it starts but QEMU filters features, with their names.
    pub filtered: Vec<HostProblem>,
    /// The domain remedied to start under `check='full'` with nothing
    /// filtered on every readable host ([`fleet_remedy`]); `None` when it
    /// already does, or when no `<cpu>` does (`remedy_note` says why).
    pub remedy: Option<Remedy>,
    pub remedy_note: Option<String>,
}

/// The cluster as a whole.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClusterSummary {
    /// Hosts read, and how many of them could not be used.
    pub hosts: usize,
    pub failed: usize,
    /// The baseline CPU every host runs (libvirt's baseline of the host-model
    /// CPUs, migratable features only), as libvirt XML.
    pub baseline_xml: Option<String>,
    /// The baseline's model.
    pub baseline_model: Option<String>,
    /// Why there is no baseline, when there is none.
    pub baseline_error: Option<String>,
    /// The most capable model every readable host can run: the one with
    /// the most features, the newer (later in libvirt's map) on a tie.
    pub best_model: Option<String>,
    /// Models every readable host can run.
    pub models_everywhere: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<DomainSummary>,
}

/// Everything a batch run found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BatchReport {
    pub hosts: Vec<HostResult>,
    pub cluster: ClusterSummary,
}

/// A [`BatchQuestion`] settled once for a whole run: the domain parsed, its
/// defaults applied and the QEMU version chosen before any host is looked
/// at, so that each host costs only its own preparation and check
/// ([`examine_host_settled`]).
pub struct SettledQuestion<'q> {
    /// The domain's check; `None` without a domain, the error every host
    /// reports when the domain cannot be checked.
    domain: Option<Result<Question<'q>, CheckError>>,
    options: &'q CheckOptions,
}

impl<'q> SettledQuestion<'q> {
    pub fn new(question: &BatchQuestion<'q>) -> Self {
        SettledQuestion {
            domain: question
                .domain_xml
                .map(|xml| Question::new(xml, question.options)),
            options: question.options,
        }
    }
}

/// Examines one host: parses it and asks the check's questions. `arriving` is
/// the live definition of the guest on the migration source, to try as an
/// incoming migration here.
pub fn examine_host(
    map: &CpuMap,
    host: HostText<'_>,
    question: &BatchQuestion<'_>,
    arriving: Option<&CpuDef>,
) -> HostResult {
    examine_host_settled(map, host, &SettledQuestion::new(question), arriving)
}

/// [`examine_host`] with the question settled once for every host of the run.
pub fn examine_host_settled(
    map: &CpuMap,
    host: HostText<'_>,
    question: &SettledQuestion<'_>,
    arriving: Option<&CpuDef>,
) -> HostResult {
    examine_host_kept(map, host, question, arriving).0
}

/// One host's outcome, and the host as prepared for it (`None` when it could
/// not be read or prepared).
type Examined<'m> = (Result<HostReport, HostFailure>, Option<PreparedHost<'m>>);

fn examine<'m>(
    map: &'m CpuMap,
    text: &str,
    question: &SettledQuestion<'_>,
    arriving: Option<&CpuDef>,
) -> Examined<'m> {
    match parse_host(map, text) {
        Ok(input) => examine_input(map, &input, question, arriving),
        Err(error) => (
            Err(HostFailure {
                offset: Some(error.offset),
                message: error.message,
            }),
            None,
        ),
    }
}

/// [`examine_host_settled`] that also hands back the host as prepared for
/// the domain's check, for the fleet's remedy ([`fleet_remedy_prepared`]);
/// `None` without a domain or when the host could not be prepared.
pub fn examine_host_kept<'m>(
    map: &'m CpuMap,
    host: HostText<'_>,
    question: &SettledQuestion<'_>,
    arriving: Option<&CpuDef>,
) -> (HostResult, Option<PreparedHost<'m>>) {
    let (report, prepared) = examine(map, host.text, question, arriving);
    let outcome = match report {
        Ok(report) => HostOutcome::Ok(Box::new(report)),
        Err(failure) => HostOutcome::Failed(failure),
    };
    let result = HostResult {
        name: host.name.to_string(),
        outcome,
    };
    (result, prepared.filter(|_| question.domain.is_some()))
}

/// [`examine_host`] on a host already read (a host joined from several
/// files, e.g. an sosreport's).
pub fn examine_host_input(
    map: &CpuMap,
    name: &str,
    input: &HostInput<'_>,
    question: &BatchQuestion<'_>,
    arriving: Option<&CpuDef>,
) -> HostResult {
    let question = SettledQuestion::new(question);
    let outcome = match examine_input(map, input, &question, arriving).0 {
        Ok(report) => HostOutcome::Ok(Box::new(report)),
        Err(failure) => HostOutcome::Failed(failure),
    };
    HostResult {
        name: name.to_string(),
        outcome,
    }
}

fn examine_input<'m>(
    map: &'m CpuMap,
    input: &HostInput<'_>,
    question: &SettledQuestion<'_>,
    arriving: Option<&CpuDef>,
) -> Examined<'m> {
    // One prepared host answers every question asked of this dump: the
    // domain's start, the host's brief and models, the arrival.
    let settings = match &question.domain {
        None => description_settings(question.options),
        Some(Err(error)) => Err(error.clone()),
        Some(Ok(domain_question)) => Ok((domain_question.settings(), None)),
    };
    let prepared = settings.and_then(|(settings, note)| Ok((settings.prepare(map, input)?, note)));
    match prepared {
        Ok((prepared, note)) => {
            let report = report_on(&prepared, note, question, arriving);
            (report, Some(prepared))
        }
        Err(error) => (Err(failure(error)), None),
    }
}

/// The host's report on `prepared`: its brief and models, and with a domain
/// what the domain does there; `note` is the QEMU version's without one.
fn report_on(
    prepared: &PreparedHost<'_>,
    note: Option<&str>,
    question: &SettledQuestion<'_>,
    arriving: Option<&CpuDef>,
) -> Result<HostReport, HostFailure> {
    let (notes, domain) = match &question.domain {
        Some(Ok(domain_question)) => {
            let report =
                analyze_prepared_answer(domain_question, prepared, arriving).map_err(failure)?;
            let live_cpu = report
                .live_xml
                .as_deref()
                .and_then(|xml| CpuDef::parse(xml).ok());
            let domain = DomainOnHost {
                check: report.check,
                verdicts: report.verdicts,
                filtered: report.filtered,
                live_cpu,
                arrival: report.arrival.map(|migration| Arrival {
                    starts: migration.starts,
                    message: migration.message,
                    filtered: migration.filtered.into_iter().map(|f| f.name).collect(),
                }),
            };
            (report.notes, Some(domain))
        }
        _ => (description_notes(prepared, note), None),
    };
    let brief = prepared.brief();
    Ok(HostReport {
        format: brief.format,
        vendor: brief.vendor,
        host_cpu_model: brief.host_cpu_model,
        host_model: brief.host_model,
        // The host-model QEMU would report on this host, as the check predicted it.
        host_model_cpu: prepared.host_model().cloned(),
        x86_64_level: brief.x86_64_level,
        usable_models: prepared.usable_model_names().map(str::to_string).collect(),
        domain,
        notes,
    })
}

fn failure(error: CheckError) -> HostFailure {
    HostFailure {
        offset: match &error {
            CheckError::Domain(xml) => Some(xml.offset),
            CheckError::Cpu(_) | CheckError::Option(_) | CheckError::Mismatch(_) => None,
        },
        message: error.to_string(),
    }
}

impl DomainOnHost {
    /// Does the domain start here with its own `check`?
    pub fn starts(&self) -> bool {
        self.own_verdict().starts
    }

    /// The verdict for the domain's own `check`.
    pub fn own_verdict(&self) -> &crate::check::Verdict {
        [
            &self.verdicts.none,
            &self.verdicts.partial,
            &self.verdicts.full,
        ]
        .into_iter()
        .find(|v| v.own)
        .unwrap_or(&self.verdicts.none)
    }
}

/// The index of the migration source among `results`: the host named
/// `source` when given (whether or not the domain starts there), else the
/// first host the domain starts on.
pub fn migration_source(results: &[HostResult], source: Option<&str>) -> Option<usize> {
    if let Some(name) = source {
        return results.iter().position(|result| result.name == name);
    }
    results.iter().position(|result| {
        result
            .report()
            .and_then(|r| r.domain.as_ref())
            .is_some_and(|d| d.starts() && d.live_cpu.is_some())
    })
}

/// Why the source is the source, in words.
fn migration_source_reason(results: &[HostResult], source: Option<usize>, named: bool) -> String {
    match (source, named) {
        (Some(index), true) => {
            let starts = results[index]
                .report()
                .and_then(|r| r.domain.as_ref())
                .is_some_and(DomainOnHost::starts);
            if starts {
                "named with --source".to_string()
            } else {
                "named with --source, but the domain does not start there, so nothing migrates"
                    .to_string()
            }
        }
        (Some(_), false) => {
            "the first host (in input order) the domain starts on; name another with --source"
                .to_string()
        }
        (None, _) => "none: the domain starts on no host".to_string(),
    }
}

/// The most capable of `models` (names of `map`): the most features, the
/// later in the map on a tie. A `-vN` model that is a pure copy of an unversioned one in `models`
/// gives way to the name people write.
fn best_model(map: &CpuMap, models: &[String]) -> Option<String> {
    let known: Vec<_> = models
        .iter()
        .filter_map(|name| map.model_id(name))
        .collect();
    let copies: Vec<_> = known
        .iter()
        .filter_map(|id| map.model(*id).canonical)
        .collect();
    known
        .into_iter()
        .filter(|id| !copies.contains(id))
        .max_by_key(|id| (map.model(*id).features.len(), id.index()))
        .map(|id| map.model(id).name.clone())
}

/// Joins the per-host results into the cluster summary.
pub fn summarize(
    map: &CpuMap,
    results: &[HostResult],
    question: &BatchQuestion<'_>,
) -> ClusterSummary {
    let with_domain = question.domain_xml.is_some();
    let reports: Vec<(&str, &HostReport)> = results
        .iter()
        .filter_map(|r| r.report().map(|report| (r.name.as_str(), report)))
        .collect();

    let host_models: Vec<CpuDef> = reports
        .iter()
        .filter_map(|(_, r)| r.host_model_cpu.clone())
        .map(|mut cpu| {
            // A host-model guest CPU is a CPU libvirt's baseline reads like
            // any other; its `check`/`mode` do not matter there.
            cpu.cpu_type = CpuType::Guest;
            cpu
        })
        .collect();
    let (baseline_xml, baseline_model, baseline_error) = if reports.is_empty() {
        (None, None, Some("no readable host".to_string()))
    } else if host_models.len() < reports.len() {
        (
            None,
            None,
            Some("some hosts have no host-model CPU".to_string()),
        )
    } else {
        match baseline(map, &host_models, None, None, true) {
            Ok(cpu) => (Some(cpu.to_xml()), cpu.model.clone(), None),
            Err(error) => (None, None, Some(error.to_string())),
        }
    };

    let models_everywhere = match reports.split_first() {
        None => Vec::new(),
        Some(((_, first), rest)) => first
            .usable_models
            .iter()
            .filter(|name| rest.iter().all(|(_, r)| r.usable_models.contains(name)))
            .cloned()
            .collect(),
    };

    let domain = with_domain.then(|| domain_summary(results, question.source));
    ClusterSummary {
        hosts: results.len(),
        failed: results.len() - reports.len(),
        baseline_xml,
        baseline_model,
        baseline_error,
        best_model: best_model(map, &models_everywhere),
        models_everywhere,
        domain,
    }
}

fn domain_summary(results: &[HostResult], named_source: Option<&str>) -> DomainSummary {
    let source = migration_source(results, named_source);
    let source_starts = source
        .and_then(|index| results[index].report())
        .and_then(|r| r.domain.as_ref())
        .is_some_and(DomainOnHost::starts);
    let mut summary = DomainSummary {
        migration_source: source.map(|index| results[index].name.clone()),
        migration_source_reason: migration_source_reason(results, source, named_source.is_some()),
        does_not_start: Vec::new(),
        does_not_migrate: Vec::new(),
        filtered: Vec::new(),
        remedy: None,
        remedy_note: None,
    };
    for (index, result) in results.iter().enumerate() {
        let problem = |reason: String| HostProblem {
            host: result.name.clone(),
            reason,
        };
        let Some(domain) = result.report().and_then(|r| r.domain.as_ref()) else {
            if let HostOutcome::Failed(failure) = &result.outcome {
                summary
                    .does_not_start
                    .push(problem(format!("unreadable: {}", failure.message)));
            }
            continue;
        };
        let own = domain.own_verdict();
        if !own.starts {
            summary.does_not_start.push(problem(own.message.clone()));
        } else if !domain.filtered.is_empty() {
            let names: Vec<&str> = domain.filtered.iter().map(|f| f.name.as_str()).collect();
            summary
                .filtered
                .push(problem(format!("QEMU filters {}", names.join(", "))));
        }
        if Some(index) == source {
            continue;
        }
        match &domain.arrival {
            Some(arrival) if !arrival.starts => {
                summary
                    .does_not_migrate
                    .push(problem(arrival.message.clone()));
            }
            None if source_starts => summary
                .does_not_migrate
                .push(problem("not checked".to_string())),
            _ => {}
        }
    }
    summary
}

/// The whole run, sequentially: every host, the migration source's live
/// definition tried on every other host, the summary and the fleet's remedy.
pub fn analyze(map: &CpuMap, hosts: &[HostText<'_>], question: &BatchQuestion<'_>) -> BatchReport {
    let results: Vec<HostResult> = hosts
        .iter()
        .map(|host| examine_host(map, *host, question, None))
        .collect();
    finish(map, hosts, question, results)
}

/// Completes a run whose hosts were examined without an arrival: every host
/// but the migration source is examined again with the source's live
/// definition, then the summary and the fleet's remedy are made.
pub fn finish(
    map: &CpuMap,
    hosts: &[HostText<'_>],
    question: &BatchQuestion<'_>,
    mut results: Vec<HostResult>,
) -> BatchReport {
    let source = migration_source(&results, question.source);
    let live = source
        .and_then(|index| results[index].report())
        .and_then(|r| r.domain.as_ref())
        .and_then(|d| d.live_cpu.clone());
    if let (Some(source), Some(live)) = (source, live) {
        for (index, (result, host)) in results.iter_mut().zip(hosts).enumerate() {
            if index != source {
                *result = examine_host(map, *host, question, Some(&live));
            }
        }
    }
    let mut cluster = summarize(map, &results, question);
    if let Some(domain) = &mut cluster.domain {
        (domain.remedy, domain.remedy_note) = fleet_remedy(map, hosts, question);
    }
    BatchReport {
        hosts: results,
        cluster,
    }
}

/// The domain remedied for every readable host of `hosts` at once (the
/// check's remedy with all of them as sides): the remedy, or `None` with a
/// note when there is nothing to remedy or no `<cpu>` helps.
pub fn fleet_remedy(
    map: &CpuMap,
    hosts: &[HostText<'_>],
    question: &BatchQuestion<'_>,
) -> (Option<Remedy>, Option<String>) {
    let Some(domain_xml) = question.domain_xml else {
        return (None, None);
    };
    let Ok(domain_question) = Question::new(domain_xml, question.options) else {
        return (None, Some("the domain cannot be checked".to_string()));
    };
    let settings = domain_question.settings();
    // Identical dumps (a fleet of one hardware type) are one host to it.
    let mut seen = std::collections::HashSet::new();
    let prepared: Vec<(&str, PreparedHost<'_>)> = hosts
        .iter()
        .filter(|host| seen.insert(host.text))
        .filter_map(|host| {
            let input = parse_host(map, host.text).ok()?;
            Some((host.name, settings.prepare(map, &input).ok()?))
        })
        .collect();
    let prepared: Vec<(&str, &PreparedHost<'_>)> =
        prepared.iter().map(|(name, host)| (*name, host)).collect();
    remedy_of_fleet(&domain_question, &prepared)
}

/// [`fleet_remedy`] on the fleet's hosts as the domain's check prepared
/// them ([`examine_host_kept`]), each distinct dump once, in input order.
pub fn fleet_remedy_prepared(
    question: &SettledQuestion<'_>,
    hosts: &[(&str, &PreparedHost<'_>)],
) -> (Option<Remedy>, Option<String>) {
    match &question.domain {
        None => (None, None),
        Some(Err(_)) => (None, Some("the domain cannot be checked".to_string())),
        Some(Ok(domain)) => remedy_of_fleet(domain, hosts),
    }
}

/// The remedy on `hosts` (name, prepared host), or the note why there is none.
fn remedy_of_fleet(
    question: &Question<'_>,
    hosts: &[(&str, &PreparedHost<'_>)],
) -> (Option<Remedy>, Option<String>) {
    if hosts.is_empty() {
        return (None, Some("no readable host".to_string()));
    }
    let labels: Vec<String> = hosts
        .iter()
        .map(|(name, _)| format!("host {name}"))
        .collect();
    let sides: Vec<RemedyHost<'_, '_>> = hosts
        .iter()
        .zip(&labels)
        .map(|((_, host), label)| RemedyHost { host, label })
        .collect();
    match remedy_on_hosts(question, &sides) {
        Ok(Ok(Some(remedy))) => (Some(remedy), None),
        Ok(Ok(None)) => (
            None,
            Some("none needed: the domain starts under check='full' with nothing filtered on every host".to_string()),
        ),
        Ok(Err(reason)) => (
            None,
            Some(format!("no <cpu> makes the domain start on every host: {reason}")),
        ),
        Err(error) => (None, Some(error.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dump::synthetic::synthesize_cpudata_xml;

    /// A `<cpudata>` dump of a host whose CPU has exactly `model`'s features
    /// and `vme`, which every CPU that runs KVM has: libvirt's older models
    /// lack it, QEMU's definitions (probed under KVM) have it.
    fn cpudata_of_model(map: &CpuMap, model: &str) -> String {
        synthesize_cpudata_xml(map, model, &["vme"]).expect("known model")
    }

    /// The cluster the fleet tests share: a Nehalem host and a SandyBridge
    /// host, whose dumps the caller keeps while it borrows them as hosts.
    struct TwoHosts {
        nehalem: String,
        sandybridge: String,
    }

    impl TwoHosts {
        fn new(map: &CpuMap) -> Self {
            TwoHosts {
                nehalem: cpudata_of_model(map, "Nehalem"),
                sandybridge: cpudata_of_model(map, "SandyBridge"),
            }
        }

        fn nehalem(&self) -> HostText<'_> {
            HostText {
                name: "nehalem.xml",
                text: &self.nehalem,
            }
        }

        fn sandybridge(&self) -> HostText<'_> {
            HostText {
                name: "sandybridge.xml",
                text: &self.sandybridge,
            }
        }
    }

    /// A domain that starts on the SandyBridge host only.
    const SANDYBRIDGE_DOMAIN: &str = "<domain type='kvm'><cpu mode='custom' match='exact' \
         check='partial'><model fallback='forbid'>SandyBridge</model></cpu></domain>";

    /// libvirt 9.0 refuses `<vendor>Intel</vendor>` on an AMD host for a
    /// usable model under `check='partial'`; 11.3 starts it. The same stack
    /// twice changes nothing.
    #[test]
    fn an_upgrade_counts_the_hosts_whose_verdict_changes() {
        use crate::libvirt::release::{LibvirtVersion, VersionChoice, VersionSource};
        let stack = |version: LibvirtVersion, qemu: &str| CheckOptions {
            qemu_version: Some(qemu.parse().expect("a QEMU release")),
            qemu_inferred_from: None,
            accelerator: None,
            libvirt: Some(VersionChoice {
                version,
                source: VersionSource::Option,
            }),
        };
        let (bookworm, trixie) = (
            stack(LibvirtVersion::V9_0, "7.2"),
            stack(LibvirtVersion::V11_3, "10.0"),
        );
        let before = UpgradeStack {
            map: CpuMap::for_version(LibvirtVersion::V9_0),
            options: &bookworm,
        };
        let after = UpgradeStack {
            map: CpuMap::for_version(LibvirtVersion::V11_3),
            options: &trixie,
        };
        let epyc = cpudata_of_model(before.map, "EPYC");
        let domain = "<domain type='kvm'><cpu mode='custom' match='exact' check='partial'>\
                      <model fallback='forbid'>qemu64</model><vendor>Intel</vendor></cpu></domain>";
        let upgrade = upgrade_host(&epyc, domain, before, after).expect("checks");
        assert_eq!(upgrade.stack_before, "libvirt 9.0, QEMU 7.2");
        assert_eq!(upgrade.stack_after, "libvirt 11.3, QEMU 10.0");
        assert!(!upgrade.verdict_before.starts, "{upgrade:?}");
        assert!(upgrade.verdict_after.starts, "{upgrade:?}");
        assert!(upgrade.verdict_changes());
        let same = upgrade_host(&epyc, domain, after, after).expect("checks");
        assert!(
            !same.verdict_changes() && same.changes.is_empty(),
            "{same:?}"
        );
        let summary = summarize_upgrade(&[&upgrade, &same]);
        assert_eq!(
            (
                summary.hosts,
                summary.hosts_changing_verdict,
                summary.hosts_changing
            ),
            (2, 1, 1)
        );
        let broken = upgrade_host("<cpudata>", domain, before, after).expect_err("no host");
        assert!(broken.offset.is_some(), "{broken:?}");
    }

    #[test]
    fn a_cluster_of_two_hosts_and_one_broken_input() {
        let map = CpuMap::embedded();
        let cluster = TwoHosts::new(map);
        let hosts = [
            cluster.nehalem(),
            HostText {
                name: "broken.xml",
                text: "<cpudata>\n<cpuid",
            },
            cluster.sandybridge(),
        ];
        let options = CheckOptions::default();
        let question = BatchQuestion {
            domain_xml: Some(SANDYBRIDGE_DOMAIN),
            options: &options,
            source: None,
        };
        let report = analyze(map, &hosts, &question);
        assert_eq!(report.cluster.hosts, 3);
        assert_eq!(report.cluster.failed, 1);
        let HostOutcome::Failed(failure) = &report.hosts[1].outcome else {
            panic!("broken input accepted");
        };
        assert!(failure.offset.is_some(), "{failure:?}");
        assert!(report
            .cluster
            .models_everywhere
            .contains(&"Nehalem".to_string()));
        assert!(!report
            .cluster
            .models_everywhere
            .contains(&"SandyBridge".to_string()));
        assert!(
            report.cluster.baseline_xml.is_some(),
            "{:?}",
            report.cluster
        );
        let domain = report.cluster.domain.expect("domain summary");
        assert_eq!(domain.migration_source.as_deref(), Some("sandybridge.xml"));
        let not_started: Vec<&str> = domain
            .does_not_start
            .iter()
            .map(|p| p.host.as_str())
            .collect();
        assert_eq!(not_started, ["nehalem.xml", "broken.xml"]);
        assert_eq!(domain.does_not_migrate.len(), 1, "{domain:?}");
        assert_eq!(domain.does_not_migrate[0].host, "nehalem.xml");
    }

    #[test]
    fn a_named_source_is_kept_and_the_fleet_gets_one_remedy() {
        let map = CpuMap::embedded();
        let cluster = TwoHosts::new(map);
        let hosts = [cluster.nehalem(), cluster.sandybridge()];
        let options = CheckOptions::default();
        let question = BatchQuestion {
            domain_xml: Some(SANDYBRIDGE_DOMAIN),
            options: &options,
            source: Some("nehalem.xml"),
        };
        let report = analyze(map, &hosts, &question);
        assert_eq!(report.cluster.best_model.as_deref(), Some("Nehalem"));
        let summary = report.cluster.domain.expect("domain summary");
        assert_eq!(summary.migration_source.as_deref(), Some("nehalem.xml"));
        assert_eq!(
            summary.migration_source_reason,
            "named with --source, but the domain does not start there, so nothing migrates"
        );
        assert!(summary.does_not_migrate.is_empty(), "{summary:?}");
        let remedy = summary.remedy.expect("a remedy for both hosts");
        for host in &hosts {
            let input = parse_host(map, host.text).expect("host");
            let again = crate::check::analyze(map, &remedy.domain_xml, &input, None, &options)
                .expect("check");
            assert!(
                again.verdicts.full.own && again.verdicts.full.abi_stable,
                "{again:?}"
            );
            assert!(again.remedy.is_none(), "{:?}", again.remedy);
        }
    }

    #[test]
    fn hosts_without_a_domain_are_described() {
        let map = CpuMap::embedded();
        let nehalem = cpudata_of_model(map, "Nehalem");
        let options = CheckOptions::default();
        let question = BatchQuestion {
            domain_xml: None,
            options: &options,
            source: None,
        };
        let report = analyze(
            map,
            &[HostText {
                name: "a",
                text: &nehalem,
            }],
            &question,
        );
        let host = report.hosts[0].report().expect("readable");
        assert_eq!(host.x86_64_level.as_deref(), Some("x86-64-v2"));
        assert!(host.usable_models.iter().any(|m| m == "Nehalem"));
        assert!(report.cluster.domain.is_none());
        assert!(report.cluster.baseline_model.is_some());
    }
}

/// One libvirt and QEMU stack: its CPU map and the check's options.
#[derive(Debug, Clone, Copy)]
pub struct UpgradeStack<'s> {
    pub map: &'s CpuMap,
    pub options: &'s CheckOptions,
}

/// What changes for the domain on one host from the batch's stack to the
/// upgrade stack.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostUpgrade {
    /// The two stacks as the checks modelled them, e.g. `libvirt 9.0, QEMU 7.2`.
    pub stack_before: String,
    pub stack_after: String,
    /// The verdict for the domain's own `check`, before and after.
    pub verdict_before: Verdict,
    pub verdict_after: Verdict,
    /// The features QEMU filters after the upgrade.
    pub filtered_after: Vec<String>,
    /// The `-cpu` argument after the upgrade; `None` when QEMU is not started.
    pub qemu_cpu_arg_after: Option<String>,
    /// Everything that differs ([`UpgradePreview`]'s changes), in its order.
    pub changes: Vec<StackChange>,
}

impl HostUpgrade {
    /// Does the domain's own verdict change: it starts or not, with
    /// features filtered or not?
    pub fn verdict_changes(&self) -> bool {
        let outcome = |v: &Verdict| (v.starts, v.abi_stable);
        outcome(&self.verdict_before) != outcome(&self.verdict_after)
    }
}

/// The upgrade across the cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UpgradeSummary {
    /// The two stacks, as the first readable host's checks modelled them;
    /// `None` when no host could be compared.
    pub stack_before: Option<String>,
    pub stack_after: Option<String>,
    /// Hosts compared (the readable ones), and those whose verdict for the
    /// domain's own `check` changes.
    pub hosts: usize,
    pub hosts_changing_verdict: usize,
    /// Hosts with any change at all.
    pub hosts_changing: usize,
}

/// Checks `domain_xml` on the host `text` under both stacks (no migration
/// target) and keeps what changes; an unreadable host or domain is a
/// [`HostFailure`], as in [`examine_host`].
pub fn upgrade_host(
    text: &str,
    domain_xml: &str,
    before: UpgradeStack<'_>,
    after: UpgradeStack<'_>,
) -> Result<HostUpgrade, HostFailure> {
    let report = |stack: UpgradeStack<'_>| {
        let host = parse_host(stack.map, text).map_err(|error| HostFailure {
            offset: Some(error.offset),
            message: error.message,
        })?;
        crate::check::analyze(stack.map, domain_xml, &host, None, stack.options).map_err(failure)
    };
    let preview = UpgradePreview::new(report(before)?, report(after)?);
    let own = |verdicts: &Verdicts| {
        [&verdicts.none, &verdicts.partial, &verdicts.full]
            .into_iter()
            .find(|v| v.own)
            .unwrap_or(&verdicts.none)
            .clone()
    };
    let stack = |report: &crate::check::Report| {
        format!(
            "libvirt {}, QEMU {}",
            report.settings.libvirt_version, report.settings.qemu_version
        )
    };
    Ok(HostUpgrade {
        stack_before: stack(&preview.before),
        stack_after: stack(&preview.after),
        verdict_before: own(&preview.before.verdicts),
        verdict_after: own(&preview.after.verdicts),
        filtered_after: preview
            .after
            .filtered
            .iter()
            .map(|f| f.name.clone())
            .collect(),
        qemu_cpu_arg_after: preview.after.qemu_cpu_arg.clone(),
        changes: preview.changes,
    })
}

/// Counts the hosts `upgrades` (one per compared host) change.
pub fn summarize_upgrade(upgrades: &[&HostUpgrade]) -> UpgradeSummary {
    let first = upgrades.first();
    UpgradeSummary {
        stack_before: first.map(|u| u.stack_before.clone()),
        stack_after: first.map(|u| u.stack_after.clone()),
        hosts: upgrades.len(),
        hosts_changing_verdict: upgrades.iter().filter(|u| u.verdict_changes()).count(),
        hosts_changing: upgrades.iter().filter(|u| !u.changes.is_empty()).count(),
    }
}
