//! sosreports: a customer host's dump as support receives it, every domain
//! on it checked at once.
//!
//! The caller hands over the report's files as `(path, text)` pairs, paths
//! relative to the report's top folder ([`report_path`] finds it and says
//! which files to read at all). Of what sos's `processor`, `kernel`,
//! `libvirt` and `virsh` plugins collect, this module reads:
//!
//! * the host: `sos_commands/processor/cpuid_-r` (raw CPUID; `/proc/cpuinfo`
//!   when it is missing), `virsh -r capabilities` and `virsh -r
//!   domcapabilities` (when it holds capabilities: libvirt 9.0, 11.3 and 12.9
//!   all refuse it on the read-only connection sos uses), joined as libvirt joins its
//!   own probe with QEMU's answer ([`join_hosts`]), and KVM's module
//!   parameters (`sys/module/kvm*/parameters/*`);
//! * the releases: `virsh -r version` ("Using library: libvirt X",
//!   "Running hypervisor: QEMU Y"), else QEMU's from the newest machine type
//!   of `virsh -r capabilities` and libvirt's as the host input tells;
//! * the domains: every persistent definition `etc/libvirt/qemu/NAME.xml`;
//!   for a running one (a status XML `run/libvirt/qemu/NAME.xml`) the live
//!   XML (`virsh -r dumpxml NAME`, else the status XML's `<domain>`) and the
//!   last start in its log `var/log/libvirt/qemu/NAME.log`.
//!
//! What the running domains' last starts show about the host's KVM (QEMU's
//! warnings, the live `<cpu>`: [`crate::start_evidence`]) is joined into the
//! host ([`HostInput::with_kvm_evidence`]) before any domain is checked, so
//! that every domain's prediction uses it: over the prediction from CPUID,
//! never over QEMU's own answer (`qemu::accel` states the precedence);
//! [`SosExamination::kvm_evidence`] says what it changed and where it
//! conflicts. Each domain is checked with the report's libvirt and QEMU; a
//! running one's prediction is compared with its last start: the live
//! `<cpu>`, the `-cpu` argument and QEMU's warnings about features it
//! filtered ([`LastStart::own_evidence`] names what the prediction took from
//! that start alone). What the report lacks is said in one line each
//! ([`SosExamination::missing`]), with what could still be checked.

use serde::Serialize;

use crate::batch::{
    examine_host_input, migration_source, summarize, BatchQuestion, ClusterSummary, DomainSummary,
    HostFailure, HostOutcome, HostResult,
};
use crate::check::host_brief::HostBrief;
use crate::check::{analyze, describe_host, CheckError, CheckOptions, FilteredReport, Verdicts};
use crate::cpudef::{CpuCheck, CpuDef, CpuMode};
use crate::data::CpuMap;
use crate::data::FeatureId;
use crate::domain::{Accelerator, Domain};
use crate::domain_log::{FeatureWarning, StartLog};
use crate::dump;
use crate::facts::DumpFormat;
use crate::featureset::FeatureSet;
use crate::host::{join_hosts, parse_host, HostInput};
use crate::libvirt::release::VersionChoice;
use crate::qemu::accel::AccelFacts;
use crate::qemu::accel::KVM_EVIDENCE_NOTES;
use crate::start_evidence::{gather, RunningDomain};
use crate::version::{LibvirtVersion, QemuRelease, VirshVersion};

const CPUID: &str = "sos_commands/processor/cpuid_-r";
const CPUINFO: &str = "proc/cpuinfo";
const VIRSH: &str = "sos_commands/virsh/virsh_-r_";
const DEFINITIONS: &str = "etc/libvirt/qemu/";
const STATUS: &str = "run/libvirt/qemu/";
const LOGS: &str = "var/log/libvirt/qemu/";
const KVM_MODULES: &str = "sys/module/kvm";

/// KVM's module parameters that decide what KVM offers guests, with what
/// they decide (Linux's `arch/x86/kvm/{x86,vmx/vmx,svm/svm}.c` module params).
const KVM_PARAMETERS: [(&str, &str); 3] = [
    ("nested", "vmx or svm in guests"),
    ("enable_pmu", "the PMU: pdcm, arch-perfmon leaf 0xa"),
    ("pt_mode", "intel-pt in guests (1: host-guest mode)"),
];

/// The path of a report file relative to the report's top folder, when it
/// is one this module reads: `path` as it is, or without its first folder
/// (`sosreport-HOST-DATE/` in sos's archives).
pub fn report_path(path: &str) -> Option<&str> {
    let path = path.trim_start_matches("./");
    if is_read(path) {
        return Some(path);
    }
    let (_, rest) = path.split_once('/')?;
    is_read(rest).then_some(rest)
}

fn is_read(path: &str) -> bool {
    let in_folder = |folder: &str, suffix: &str| {
        path.strip_prefix(folder)
            .is_some_and(|name| !name.is_empty() && !name.contains('/') && name.ends_with(suffix))
    };
    path == CPUID
        || path == CPUINFO
        || path
            .strip_prefix(KVM_MODULES)
            .and_then(|rest| rest.split_once("/parameters/"))
            .is_some_and(|(module, name)| !module.contains('/') && !name.contains('/'))
        || in_folder(VIRSH, "")
        || in_folder(DEFINITIONS, ".xml")
        || in_folder(STATUS, ".xml")
        || in_folder(LOGS, ".log")
}

/// One sosreport as read.
#[derive(Debug, Clone, Serialize)]
pub struct SosExamination {
    pub name: String,
    /// libvirt's release and where it was read.
    pub libvirt: Option<String>,
    pub qemu: Option<String>,
    pub versions_from: String,
    /// What each host file contributed to the joined host.
    pub host_files: Vec<String>,
    pub host: Option<HostBrief>,
    /// KVM's module parameters that decide features, as
    /// `module.name=value (what it decides)`.
    pub kvm_parameters: Vec<String>,
    /// What the running domains' starts showed about the host's KVM that
    /// changed the prediction, and where they conflict with each other or
    /// with QEMU's answer, one line each.
    pub kvm_evidence: Vec<String>,
    /// Notes of the host input, and what of the running domains' starts
    /// could not be read.
    pub notes: Vec<String>,
    /// One line per missing part: what is missing and what is still checked.
    pub missing: Vec<String>,
    pub domains: Vec<DomainExamination>,
    /// The joined host, for a fleet of reports ([`fleet`]).
    #[serde(skip)]
    host_input: Option<HostInput<'static>>,
    /// The releases the domains were checked with.
    #[serde(skip)]
    options: CheckOptions,
    /// The persistent definitions: (domain, XML).
    #[serde(skip)]
    definitions: Vec<(String, String)>,
}

/// One persistent domain of the report.
#[derive(Debug, Clone, Serialize)]
pub struct DomainExamination {
    pub name: String,
    pub running: bool,
    /// The check's answer, or why there is none.
    pub check: Option<DomainCheck>,
    pub error: Option<String>,
    /// For a running domain: what its last start did.
    pub last_start: Option<LastStart>,
}

/// What the check predicts for a domain.
#[derive(Debug, Clone, Serialize)]
pub struct DomainCheck {
    pub check: CpuCheck,
    pub verdicts: Verdicts,
    pub filtered: Vec<FilteredReport>,
    /// The live `<cpu>` predicted for the domain's own check.
    pub live_cpu: Option<String>,
    pub qemu_cpu_arg: Option<String>,
    pub notes: Vec<String>,
}

impl DomainCheck {
    /// Whether the domain starts under its own `check`.
    pub fn starts(&self) -> bool {
        [
            &self.verdicts.none,
            &self.verdicts.partial,
            &self.verdicts.full,
        ]
        .into_iter()
        .any(|verdict| verdict.own && verdict.starts)
    }
}

/// A running domain's last start, and how the prediction compares with it.
#[derive(Debug, Clone, Serialize)]
pub struct LastStart {
    /// The live `<cpu>` (indentation removed), from where it was read.
    pub live_cpu: Option<String>,
    pub live_from: Option<String>,
    pub qemu_cpu_arg: Option<String>,
    /// QEMU's warnings about features it filtered.
    pub qemu_warnings: Vec<String>,
    /// Each aspect where the prediction differs; empty when the last start
    /// confirms the prediction.
    pub differences: Vec<Difference>,
    /// Features the prediction filters (or, for host-model, leaves out of
    /// the host-model) only because this very start showed KVM does not
    /// offer them: a confirmation says nothing about those.
    pub own_evidence: Vec<String>,
    /// The aspects compared.
    pub compared: Vec<String>,
}

/// One aspect where the prediction and the last start differ.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Difference {
    /// `start`, `live <cpu>`, `-cpu` or `filtered`.
    pub aspect: String,
    pub predicted: String,
    pub observed: String,
}

impl LastStart {
    pub fn confirmed(&self) -> bool {
        self.differences.is_empty() && !self.compared.is_empty()
    }
}

/// The report's files, looked up by path.
struct Files<'f> {
    files: &'f [(String, String)],
}

impl<'f> Files<'f> {
    fn get(&self, path: &str) -> Option<&'f str> {
        self.files
            .iter()
            .find(|(name, _)| name == path)
            .map(|(_, text)| text.as_str())
    }

    /// Files directly in `folder` ending in `suffix`: (name without both, text).
    fn in_folder(
        &self,
        folder: &'f str,
        suffix: &'f str,
    ) -> impl Iterator<Item = (&'f str, &'f str)> + 'f {
        self.files.iter().filter_map(move |(path, text)| {
            let name = path.strip_prefix(folder)?.strip_suffix(suffix)?;
            (!name.contains('/')).then_some((name, text.as_str()))
        })
    }
}

/// Whether the running domains' starts are joined into the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartEvidence {
    /// Joined: every domain is predicted with what they showed about KVM.
    Joined,
    /// Left out: predicted from the host files alone, to see what the
    /// starts change.
    Ignored,
}

/// Reads one sosreport and checks every persistent domain on its host, with
/// what the running domains' starts showed about KVM joined in.
/// `files` are `(path relative to the report, text)`; `problems` are what
/// the caller met reading it (a truncated archive), reported as missing.
pub fn examine(name: &str, files: &[(String, String)], problems: &[String]) -> SosExamination {
    examine_with(name, files, problems, StartEvidence::Joined)
}

/// [`examine`], with the running domains' starts joined into the host or not.
pub fn examine_with(
    name: &str,
    files: &[(String, String)],
    problems: &[String],
    start_evidence: StartEvidence,
) -> SosExamination {
    let files = Files { files };
    let mut result = SosExamination {
        name: name.to_string(),
        libvirt: None,
        qemu: None,
        versions_from: String::new(),
        host_files: Vec::new(),
        host: None,
        kvm_parameters: kvm_parameters(&files),
        kvm_evidence: Vec::new(),
        notes: Vec::new(),
        missing: problems.to_vec(),
        domains: Vec::new(),
        host_input: None,
        options: CheckOptions::default(),
        definitions: Vec::new(),
    };
    let definitions: Vec<(&str, &str)> = files.in_folder(DEFINITIONS, ".xml").collect();
    if let Some(arch) = foreign_architecture(&files) {
        result.missing.push(format!(
            "the host is {arch}, not x86: guestcpu checks x86 hosts only; nothing checked \
             ({} domain definitions listed)",
            definitions.len()
        ));
        result.domains = definitions
            .iter()
            .map(|(domain, _)| unchecked(domain, "the host is not x86"))
            .collect();
        return result;
    }
    let version = read_versions(&files, &mut result);
    let map = CpuMap::for_version(version.version);
    let options = CheckOptions {
        // A release virsh printed that is not one (never seen) leaves the
        // choice to each domain's machine type, as an unreadable libvirt
        // release leaves it to the host files (`read_versions`).
        qemu_version: result
            .qemu
            .as_deref()
            .and_then(|release| QemuRelease::parse(release).ok()),
        qemu_inferred_from: None,
        accelerator: None,
        libvirt: Some(version),
    };
    let host = read_host(map, &files, &mut result);
    result.options = options.clone();
    result.definitions = definitions
        .iter()
        .map(|(domain, xml)| (domain.to_string(), xml.to_string()))
        .collect();
    if definitions.is_empty() {
        result.missing.push(if files.in_folder(VIRSH, "").next().is_none() {
            "no libvirt on this host (no etc/libvirt/qemu, no virsh output): only the host is described"
                .to_string()
        } else {
            "no persistent domain (etc/libvirt/qemu/*.xml; the libvirt plugin did not run, or none is defined): only the host is described".to_string()
        });
    }
    let Some(host) = host else {
        result.domains = definitions
            .iter()
            .map(|(domain, _)| unchecked(domain, "no host CPU data in the report"))
            .collect();
        return result;
    };
    let observed: Vec<Option<Observed>> = definitions
        .iter()
        .map(|(domain, _)| observe(&files, domain))
        .collect();
    let running: Vec<RunningDomain<'_>> = definitions
        .iter()
        .zip(&observed)
        .filter_map(|((name, definition), observed)| {
            let observed = observed.as_ref()?;
            Some(RunningDomain {
                name,
                definition,
                live_cpu: observed.live_cpu.as_deref(),
                start: observed.log.then_some(&observed.start),
            })
        })
        .collect();
    let (evidence, unread) = match start_evidence {
        StartEvidence::Joined => gather(map, &running),
        StartEvidence::Ignored => Default::default(),
    };
    result.notes.extend(unread);
    let host = if evidence.is_empty() {
        host
    } else {
        let joined = host.with_kvm_evidence("the running domains' last starts", evidence);
        result
            .host_files
            .extend(joined.contributions().last().cloned());
        joined
    };
    if let Ok(description) = describe_host(map, &host, &options) {
        result.host = Some(description.host);
        result.kvm_evidence = description
            .notes
            .into_iter()
            .filter(|note| {
                KVM_EVIDENCE_NOTES
                    .iter()
                    .any(|start| note.starts_with(start))
            })
            .collect();
    }
    for ((domain, xml), observed) in definitions.into_iter().zip(observed) {
        result
            .domains
            .push(examine_domain(map, &host, &options, domain, xml, observed));
    }
    let differs = result
        .domains
        .iter()
        .filter_map(|domain| domain.last_start.as_ref())
        .any(|start| !start.differences.is_empty());
    let has_qemu_answer = result
        .host_files
        .iter()
        .any(|part| part.contains("QEMU's answer"));
    if differs && !has_qemu_answer {
        result.notes.push(
            "running domains differ from their last start, predicted without QEMU's answer: a host's KVM can offer less than its CPUID shows; `virsh domcapabilities` over a read-write connection, or `guestcpu capture` on the host, gives it".to_string(),
        );
    }
    result.host_input = Some(host);
    result
}

/// Several reports as one fleet: batch's cluster of their hosts, and for
/// every domain defined on any of them where it starts and where the
/// running guest can migrate ([`crate::batch`]).
#[derive(Debug, Clone, Serialize)]
pub struct Fleet {
    /// The hosts' baseline CPU and the models usable everywhere.
    pub cluster: ClusterSummary,
    pub domains: Vec<FleetDomain>,
}

/// One domain across the fleet.
#[derive(Debug, Clone, Serialize)]
pub struct FleetDomain {
    pub name: String,
    /// The report whose definition was checked (the first defining it).
    pub defined_in: String,
    #[serde(flatten)]
    pub summary: DomainSummary,
}

/// The fleet view of `reports` (those without a usable host are counted
/// as failed hosts). Each host is checked with its own report's releases;
/// the migration source is the first host, in the given order, the domain
/// starts on.
pub fn fleet(reports: &[SosExamination]) -> Fleet {
    // The newest map knows every report's models, for the baseline.
    let map = CpuMap::newest();
    let results_for = |domain_xml: Option<&str>| -> Vec<HostResult> {
        let examine = |report: &SosExamination, arriving: Option<&CpuDef>| {
            let question = BatchQuestion {
                domain_xml,
                options: &report.options,
                source: None,
            };
            match &report.host_input {
                Some(input) => {
                    let map = report
                        .options
                        .libvirt
                        .map_or(map, |choice| CpuMap::for_version(choice.version));
                    examine_host_input(map, &report.name, input, &question, arriving)
                }
                None => HostResult {
                    name: report.name.clone(),
                    outcome: HostOutcome::Failed(HostFailure {
                        offset: None,
                        message: "the report has no usable host CPU data".to_string(),
                    }),
                },
            }
        };
        let mut results: Vec<HostResult> =
            reports.iter().map(|report| examine(report, None)).collect();
        if let Some(source) = migration_source(&results, None) {
            let live = results[source]
                .report()
                .and_then(|r| r.domain.as_ref())
                .and_then(|d| d.live_cpu.clone());
            for (index, report) in reports.iter().enumerate() {
                if index != source {
                    results[index] = examine(report, live.as_ref());
                }
            }
        }
        results
    };
    // The summary reads which question was asked, not its per-report options.
    let summary_of = |results: &[HostResult], domain_xml: Option<&str>| {
        let question = BatchQuestion {
            domain_xml,
            options: &CheckOptions::default(),
            source: None,
        };
        summarize(map, results, &question)
    };
    let cluster = summary_of(&results_for(None), None);
    let mut domains: Vec<FleetDomain> = Vec::new();
    for report in reports {
        for (name, xml) in &report.definitions {
            if domains.iter().any(|domain| &domain.name == name) {
                continue;
            }
            let results = results_for(Some(xml));
            if let Some(summary) = summary_of(&results, Some(xml)).domain {
                domains.push(FleetDomain {
                    name: name.clone(),
                    defined_in: report.name.clone(),
                    summary,
                });
            }
        }
    }
    Fleet { cluster, domains }
}

fn unchecked(domain: &str, why: &str) -> DomainExamination {
    DomainExamination {
        name: domain.to_string(),
        running: false,
        check: None,
        error: Some(why.to_string()),
        last_start: None,
    }
}

/// The architecture of a host that is not x86, from `/proc/cpuinfo` or the
/// host's `<arch>` in `virsh capabilities`.
fn foreign_architecture(files: &Files<'_>) -> Option<String> {
    if let Some(capabilities) = files.get(&format!("{VIRSH}capabilities")) {
        let arch = capabilities
            .split("<arch>")
            .nth(1)
            .and_then(|rest| rest.split("</arch>").next())?;
        return (arch != "x86_64" && arch != "i686").then(|| arch.to_string());
    }
    let cpuinfo = files.get(CPUINFO)?;
    if cpuinfo.lines().any(|line| line.starts_with("vendor_id")) {
        return None;
    }
    let field = |key: &str| {
        cpuinfo
            .lines()
            .find_map(|line| line.strip_prefix(key)?.trim_start().strip_prefix(':'))
            .map(str::trim)
    };
    Some(if field("CPU implementer").is_some() {
        "ARM (aarch64)".to_string()
    } else if field("cpu").is_some_and(|cpu| cpu.starts_with("POWER")) {
        "POWER (ppc64)".to_string()
    } else if cpuinfo.lines().any(|line| line.starts_with("isa")) {
        "RISC-V or another non-x86".to_string()
    } else {
        "not recognisably x86 (no vendor_id in /proc/cpuinfo)".to_string()
    })
}

/// The releases, from `virsh -r version` or else from what the host tells.
fn read_versions(files: &Files<'_>, result: &mut SosExamination) -> VersionChoice {
    let versions = VirshVersion::parse(files.get(&format!("{VIRSH}version")).unwrap_or(""));
    result.libvirt = versions.libvirt;
    result.qemu = versions.qemu;
    let mut from = vec![];
    if result.libvirt.is_some() || result.qemu.is_some() {
        from.push("virsh -r version".to_string());
    } else {
        result.missing.push(
            "no virsh -r version (the virsh plugin, which Debian's sos skips unless enabled with -e virsh): releases guessed from the host files".to_string(),
        );
    }
    if result.qemu.is_none() {
        if let Some(machine) = files
            .get(&format!("{VIRSH}capabilities"))
            .and_then(newest_machine_version)
        {
            from.push(format!("QEMU from the newest machine type ({machine})"));
            result.qemu = Some(machine);
        }
    }
    let telling = files
        .get(&format!("{VIRSH}domcapabilities"))
        .or_else(|| files.get(&format!("{VIRSH}capabilities")))
        .and_then(|text| dump::parse(text).ok());
    // A release virsh printed that is not one (never seen) is left to the
    // host files, as no `virsh version` is.
    let printed = result
        .libvirt
        .as_deref()
        .and_then(|release| LibvirtVersion::parse(release).ok());
    let choice = VersionChoice::choose(printed, telling.as_ref());
    if result.libvirt.is_none() {
        from.push(choice.describe());
    }
    result.versions_from = from.join("; ");
    choice
}

/// The newest `pc-i440fx-X.Y` / `pc-q35-X.Y` machine type: the QEMU release.
fn newest_machine_version(capabilities: &str) -> Option<String> {
    capabilities
        .split("<machine")
        .skip(1)
        .filter_map(|rest| rest.split_once('>')?.1.split('<').next())
        .filter_map(|machine| {
            let version = machine
                .strip_prefix("pc-i440fx-")
                .or_else(|| machine.strip_prefix("pc-q35-"))?;
            let (major, minor) = version.split_once('.')?;
            Some((major.parse::<u32>().ok()?, minor.parse::<u32>().ok()?))
        })
        .max()
        .map(|(major, minor)| format!("{major}.{minor}"))
}

/// The host joined from the report's files; `None` when it has none.
fn read_host(
    map: &'static CpuMap,
    files: &Files<'_>,
    result: &mut SosExamination,
) -> Option<HostInput<'static>> {
    let mut parts = Vec::new();
    // Reads one host file: whether it was there, `Err(why)` when it is
    // present but unusable.
    let mut add = |path: &str| -> Result<bool, String> {
        let Some(text) = files.get(path) else {
            return Ok(false);
        };
        match parse_host(map, text) {
            Ok(input) => {
                parts.push((path.to_string(), input));
                Ok(true)
            }
            Err(error) => {
                let first_line = text.lines().find(|line| !line.trim().is_empty());
                Err(match first_line {
                    Some(line) if line.starts_with("error:") => {
                        format!("{path} holds an error (`{}`)", line.trim())
                    }
                    _ => format!("{path} cannot be read: {}", error.render(text)),
                })
            }
        }
    };
    let mut read = |path: &str, result: &mut SosExamination| {
        add(path).unwrap_or_else(|why| {
            result.missing.push(why);
            false
        })
    };
    let have_cpuid = read(CPUID, result);
    if !have_cpuid {
        result.missing.push(format!(
            "no raw CPUID ({CPUID}: the cpuid tool was not installed, or the processor plugin did not run): the host CPU comes from {}",
            if files.get(&format!("{VIRSH}capabilities")).is_some() { "virsh capabilities" } else { "/proc/cpuinfo" }
        ));
    }
    let have_capabilities = read(&format!("{VIRSH}capabilities"), result);
    if !have_cpuid && !have_capabilities {
        read(CPUINFO, result);
    }
    let domcapabilities = format!("{VIRSH}domcapabilities");
    if let Some(text) = files.get(&domcapabilities) {
        match read_domcapabilities(&mut add, &domcapabilities, text) {
            Ok(None) => {}
            Ok(Some(why)) | Err(why) => result.missing.push(why),
        }
    } else {
        result.missing.push(format!(
            "no {domcapabilities}: QEMU's usable models and host-model are predicted from the CPU data"
        ));
    }
    let host = match parts.len() {
        0 => {
            result.missing.push(
                "no host CPU data (no cpuid_-r, virsh capabilities or /proc/cpuinfo): no domain can be checked".to_string(),
            );
            return None;
        }
        1 => {
            let (name, input) = parts.pop()?;
            result.host_files.push(format!(
                "{name} ({})",
                input
                    .dump()
                    .map_or("<cpu>", |dump| dump.description.as_str())
            ));
            input
        }
        _ => match join_hosts(map, parts) {
            Ok(joined) => {
                result.host_files = joined.contributions().to_vec();
                joined
            }
            Err(message) => {
                result
                    .missing
                    .push(format!("the host files cannot be joined: {message}"));
                return None;
            }
        },
    };
    result.notes.extend(host.notes().iter().cloned());
    if host
        .dump()
        .is_some_and(|dump| dump.format == DumpFormat::ProcCpuinfo)
    {
        result.notes.push(
            "/proc/cpuinfo names features, not CPUID leaves: the host CPU is approximate"
                .to_string(),
        );
    }
    Some(host)
}

/// Reads the domain capabilities; `Ok(Some(why))` when they lack the
/// blockers, `Err(why)` when they cannot be used at all.
fn read_domcapabilities(
    add: &mut impl FnMut(&str) -> Result<bool, String>,
    path: &str,
    text: &str,
) -> Result<Option<String>, String> {
    match add(path) {
        // virConnectGetDomainCapabilities refuses a read-only connection
        // ("read only access prevents ...", its virCheckReadOnlyGoto,
        // src/libvirt-domain.c), and sos's virsh plugin runs `virsh -r`:
        // 9.0, 11.3 and 12.9 alike in the recorded reports.
        Err(why) => Err(format!(
            "{why}: sos's `virsh -r` connection is refused domcapabilities, so QEMU's usable models and host-model are predicted from the CPU data"
        )),
        Ok(false) => Ok(None),
        // domcapabilities prints what blocks an unusable model since
        // libvirt 10.9 (the engine's `release` module); older releases do not.
        Ok(true) if text.contains("usable='no'") && !text.contains("<blockers") => Ok(Some(
            "domcapabilities lists no <blockers> (libvirt before 10.9): what QEMU filters from an unusable model is predicted from the CPU data".to_string(),
        )),
        Ok(true) => Ok(None),
    }
}

/// KVM's module parameters that decide features, as `module.name=value`.
fn kvm_parameters(files: &Files<'_>) -> Vec<String> {
    let mut found = Vec::new();
    for (path, text) in files.files {
        let Some((module, name)) = path
            .strip_prefix("sys/module/")
            .and_then(|rest| rest.split_once("/parameters/"))
        else {
            continue;
        };
        if let Some((_, decides)) = KVM_PARAMETERS.iter().find(|(known, _)| *known == name) {
            found.push(format!("{module}.{name}={} ({decides})", text.trim()));
        }
    }
    crate::sort::sort(&mut found);
    found
}

/// What a report shows of a running domain's last start.
struct Observed {
    /// The live `<cpu>` (indentation removed), from where it was read.
    live_cpu: Option<String>,
    live_from: String,
    /// Whether the report has the domain's QEMU log.
    log: bool,
    /// The last start in that log (empty without one).
    start: StartLog,
}

/// The last start of `domain` when it runs (a status XML, or a live XML
/// with an id); `None` when it is shut off.
fn observe(files: &Files<'_>, domain: &str) -> Option<Observed> {
    let status = files.get(&format!("{STATUS}{domain}.xml"));
    let dumpxml = files
        .get(&format!("{VIRSH}dumpxml_{domain}"))
        .filter(|text| has_domain_id(text));
    if status.is_none() && dumpxml.is_none() {
        return None;
    }
    let (live_cpu, live_from) = match dumpxml {
        Some(text) => (cpu_element(text), format!("{VIRSH}dumpxml_{domain}")),
        None => (
            status
                .and_then(|text| text.find("<domain").map(|at| &text[at..]))
                .and_then(cpu_element),
            format!("{STATUS}{domain}.xml"),
        ),
    };
    let log = files.get(&format!("{LOGS}{domain}.log"));
    Some(Observed {
        live_cpu,
        live_from,
        log: log.is_some(),
        start: log
            .and_then(StartLog::last_start)
            .map(StartLog::parse)
            .unwrap_or_default(),
    })
}

fn examine_domain(
    map: &'static CpuMap,
    host: &HostInput<'_>,
    options: &CheckOptions,
    domain: &str,
    xml: &str,
    observed: Option<Observed>,
) -> DomainExamination {
    let mut result = DomainExamination {
        name: domain.to_string(),
        running: observed.is_some(),
        check: None,
        error: None,
        last_start: None,
    };
    match analyze(map, xml, host, None, options) {
        Ok(report) => {
            result.check = Some(DomainCheck {
                check: report.check,
                verdicts: report.verdicts,
                filtered: report.filtered,
                live_cpu: report.live_xml.as_deref().and_then(cpu_element),
                qemu_cpu_arg: report.qemu_cpu_arg,
                notes: report.notes,
            });
        }
        Err(CheckError::Domain(error)) => {
            result.error = Some(format!("{DEFINITIONS}{domain}.xml: {}", error.message));
        }
        Err(other) => result.error = Some(other.to_string()),
    }
    if let Some(observed) = observed {
        let mut last = LastStart {
            live_cpu: observed.live_cpu,
            live_from: Some(observed.live_from),
            qemu_cpu_arg: observed.start.cpu_arg,
            qemu_warnings: observed
                .start
                .warnings
                .into_iter()
                .filter(|line| FeatureWarning::parse(line).is_some())
                .collect(),
            differences: Vec::new(),
            own_evidence: Vec::new(),
            compared: Vec::new(),
        };
        if let Some(check) = &result.check {
            compare(check, &mut last, observed.log);
            let host_model = Domain::parse(xml)
                .is_ok_and(|definition| definition.cpu.mode == CpuMode::HostModel);
            last.own_evidence = own_evidence(map, host, check, domain, host_model);
        }
        result.last_start = Some(last);
    }
    result
}

/// The features `check` filters for want of KVM that only `domain`'s own
/// start showed KVM does not offer; for a host-model domain also those of
/// the host's CPUID that only its own start showed KVM hides, because its
/// predicted host-model leaves them out (`start_evidence`'s host-model
/// rule reads them off this very start).
fn own_evidence(
    map: &CpuMap,
    host: &HostInput<'_>,
    check: &DomainCheck,
    domain: &str,
    host_model: bool,
) -> Vec<String> {
    let Some(evidence) = host.kvm_evidence() else {
        return Vec::new();
    };
    let withheld_only_here = |feature: FeatureId| {
        let mut withheld_by = evidence
            .facts
            .iter()
            .filter(|fact| fact.feature == feature && !fact.offered)
            .peekable();
        withheld_by.peek().is_some() && withheld_by.all(|fact| fact.domain == domain)
    };
    let filtered: FeatureSet = check
        .filtered
        .iter()
        .filter_map(|filtered| map.feature_id(&filtered.name))
        .collect();
    let mut own: Vec<String> = check
        .filtered
        .iter()
        .filter(|filtered| {
            map.feature_id(&filtered.name)
                .is_some_and(withheld_only_here)
        })
        .map(|filtered| filtered.name.clone())
        .collect();
    if host_model {
        // What KVM never gives is known without any start.
        let hidden = host
            .cpuid_features()
            .difference(&AccelFacts::embedded(Accelerator::Kvm).never.features)
            .difference(&filtered);
        own.extend(
            map.in_map_order(&hidden)
                .into_iter()
                .filter(|feature| withheld_only_here(*feature))
                .map(|feature| map.feature(feature).name.clone()),
        );
    }
    own
}

/// Whether a domain XML is a running domain's (`<domain ... id='N'>`).
fn has_domain_id(xml: &str) -> bool {
    xml.find("<domain")
        .and_then(|at| xml[at..].split_once('>'))
        .is_some_and(|(tag, _)| tag.contains(" id='"))
}

/// Compares the prediction with the last start, aspect by aspect.
fn compare(check: &DomainCheck, last: &mut LastStart, have_log: bool) {
    let mut differ = |aspect: &str, predicted: String, observed: String| {
        last.differences.push(Difference {
            aspect: aspect.to_string(),
            predicted,
            observed,
        });
    };
    let mut compared = vec!["start"];
    if !check.starts() {
        differ(
            "start",
            format!("does not start under check '{}'", check.check),
            "runs".to_string(),
        );
    }
    if let Some(live) = &last.live_cpu {
        compared.push("live <cpu>");
        if check.live_cpu.as_ref() != Some(live) {
            differ(
                "live <cpu>",
                check.live_cpu.clone().unwrap_or_default(),
                live.clone(),
            );
        }
    }
    if have_log {
        if let Some(observed) = &last.qemu_cpu_arg {
            compared.extend(["-cpu", "filtered"]);
            if check.qemu_cpu_arg.as_ref() != Some(observed) {
                differ(
                    "-cpu",
                    check.qemu_cpu_arg.clone().unwrap_or_default(),
                    observed.clone(),
                );
            }
            let predicted: Vec<&str> = check
                .filtered
                .iter()
                .map(|f| f.qemu_warning.as_str())
                .collect();
            if predicted != last.qemu_warnings {
                let names = |lines: &mut dyn Iterator<Item = &str>| {
                    lines
                        .filter_map(|line| FeatureWarning::parse(line)?.qemu_name)
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                differ(
                    "filtered",
                    names(&mut predicted.iter().copied()),
                    names(&mut last.qemu_warnings.iter().map(String::as_str)),
                );
            }
        }
    }
    last.compared = compared.into_iter().map(str::to_string).collect();
}

/// The first `<cpu>` element of a domain XML (not `<cputune>`), each line
/// trimmed of its indentation and empty lines dropped.
fn cpu_element(xml: &str) -> Option<String> {
    let mut search = 0;
    let start = loop {
        let at = search + xml[search..].find("<cpu")?;
        let next = xml[at + 4..].chars().next()?;
        if matches!(next, '>' | ' ' | '/' | '\n' | '\t') {
            break at;
        }
        search = at + 4;
    };
    let rest = &xml[start..];
    let open_end = rest.find('>')?;
    let end = if rest[..open_end].ends_with('/') {
        open_end + 1
    } else {
        rest.find("</cpu>")? + "</cpu>".len()
    };
    Some(
        rest[..end]
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty())
            .collect::<Vec<_>>()
            .join("\n"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_paths_drop_the_top_folder() {
        assert_eq!(
            report_path("sosreport-vm-2026/proc/cpuinfo"),
            Some("proc/cpuinfo")
        );
        assert_eq!(report_path("proc/cpuinfo"), Some("proc/cpuinfo"));
        assert_eq!(
            report_path("x/sys/module/kvm_intel/parameters/nested"),
            Some("sys/module/kvm_intel/parameters/nested")
        );
        assert_eq!(report_path("x/etc/libvirt/qemu/networks/default.xml"), None);
        assert_eq!(report_path("x/sos_logs/sos.log"), None);
    }

    #[test]
    fn the_cpu_element_is_not_cputune() {
        let xml = "<domain>\n  <cputune>\n  </cputune>\n  <cpu mode='host-model'>\n    <model/>\n  </cpu>\n</domain>";
        assert_eq!(
            cpu_element(xml).as_deref(),
            Some("<cpu mode='host-model'>\n<model/>\n</cpu>")
        );
    }

    #[test]
    fn machine_types_give_qemus_release() {
        let caps = "<machine maxCpus='255'>pc-i440fx-7.2</machine><machine>pc-q35-7.1</machine><machine>pc</machine>";
        assert_eq!(newest_machine_version(caps).as_deref(), Some("7.2"));
    }
}
