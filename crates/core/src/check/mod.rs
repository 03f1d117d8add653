//! The check: one domain on one host, answered before anyone starts it.
//!
//! It joins the libvirt layer (defaults, update, translate, compare, live
//! update) with the QEMU layer (model definitions, accelerator filter, `-cpu`)
//! into a [`Report`]: the effective settings, the guest CPU QEMU would build,
//! the features it would filter, a verdict for each `check` value, the live XML
//! libvirt would keep, the `-cpu` argument, optionally whether the running
//! guest could migrate to a second host, a one-line headline, and the remedy
//! (`remedy`): the domain changed only in `<cpu>` so that it starts under
//! `check='full'` with nothing filtered on every host asked about.

pub mod defaults;
mod host;
pub mod host_brief;
mod remedy;
pub mod start;
pub mod upgrade;

use std::borrow::Cow;
use std::ops::Deref;
use std::sync::Arc;

use serde::Serialize;

use crate::cpudef::{CpuCheck, CpuDef, CpuMatch, CpuMode, Fallback, Policy};
use crate::data::CpuMap;
use crate::domain::{Accelerator, CpuPlace, Domain, DomainError};
use crate::error::CpuError;
use crate::host::HostInput;
use crate::libvirt::release::{LibvirtVersion, VersionChoice, VersionSource};
use crate::qemu::cpu_arg::{domain_flags, flags_outside_cpu_arg, DomainFlag};
use crate::qemu::definitions::{QemuDefinitions, QemuVersion};
use crate::qemu::guest::FeatureOrigin;
use crate::version::QemuRelease;
use defaults::{apply_defaults, default_cpu_model, AppliedDefaults};
use host_brief::HostBrief;
use start::{simulate_checks, simulate_start, StartKind, StartOutcome};

use host::BuildOnce;
pub use host::PreparedHost;
pub use remedy::Remedy;
pub(crate) use remedy::RemedyHost;

/// How the caller wants the question asked; every field has a default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckOptions {
    /// QEMU release; default: the machine type's, else the newest known.
    pub qemu_version: Option<QemuRelease>,
    /// What the host input told `qemu_version` from (e.g. a capture
    /// bundle's `virsh version`); `None` when it was asked for. The report's
    /// source is then `inferred`, with a note saying why.
    pub qemu_inferred_from: Option<&'static str>,
    /// Accelerator; default: the domain type's (`kvm`, or `qemu` → tcg).
    pub accelerator: Option<Accelerator>,
    /// The libvirt version modelled and why ([`VersionChoice::choose`]); the
    /// host must be prepared on that version's map ([`CpuMap::for_version`]).
    /// Default: the release of the map the host was prepared on.
    pub libvirt: Option<VersionChoice>,
}

/// Why a check could not be made at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckError {
    /// The domain XML is malformed or invalid, at a byte offset of the domain text.
    Domain(DomainError),
    /// The engine cannot describe this host or definition (unknown model, …).
    Cpu(CpuError),
    /// An option names something unknown (e.g. a QEMU version).
    Option(String),
    /// A prepared host was made for another accelerator or QEMU version than
    /// the check asks for ([`host_settings`] tells which one to prepare).
    Mismatch(String),
}

impl std::fmt::Display for CheckError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CheckError::Domain(e) => write!(f, "{e}"),
            CheckError::Cpu(e) => write!(f, "{e}"),
            CheckError::Option(message) | CheckError::Mismatch(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for CheckError {}

/// The outcome of starting the domain under one `check` value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    /// Does the domain start?
    pub starts: bool,
    /// Does the guest see exactly the CPU defined (nothing filtered)?
    pub abi_stable: bool,
    /// libvirt's error when it does not start; otherwise what to know.
    pub message: String,
    /// True for the domain's own (effective) `check`.
    pub own: bool,
}

impl Verdict {
    /// The verdict in one word, as the CLI's tables and the sosreport report
    /// show it: `FAILS` (the domain does not start), `filtered` (it starts
    /// with features dropped) or `starts`.
    pub fn word(&self) -> &'static str {
        match (self.starts, self.abi_stable) {
            (false, _) => "FAILS",
            (true, true) => "starts",
            (true, false) => "filtered",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdicts {
    pub none: Verdict,
    pub partial: Verdict,
    pub full: Verdict,
}

/// The effective CPU settings after libvirt's defaults.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Settings {
    pub mode: CpuMode,
    #[serde(rename = "match")]
    pub match_mode: CpuMatch,
    pub check: CpuCheck,
    pub fallback: Fallback,
    pub model: Option<String>,
    pub vendor_id: Option<String>,
    pub features: Vec<FeaturePolicy>,
    pub accelerator: Accelerator,
    pub qemu_version: String,
    /// Where the QEMU version came from.
    pub qemu_version_source: QemuVersionSource,
    /// The libvirt version modelled, `MAJOR.MINOR`.
    pub libvirt_version: LibvirtVersion,
    /// Where it came from: `option`, `inferred` (from the host input),
    /// `newest`, or `map` (the release of the map the host was prepared on).
    pub libvirt_version_source: VersionSource,
    /// What libvirt filled in, in words.
    pub defaults_applied: Vec<String>,
    /// The `-cpu` flags other domain elements give (timers, `<features>`,
    /// `<panic>`, `<cache>`, `<maxphysaddr>`), in the argument's order.
    pub cpu_flags: Vec<DomainFlag>,
    /// Elements near the CPU that QEMU gets elsewhere than `-cpu`, or never.
    pub outside_cpu_arg: Vec<DomainFlag>,
}

/// Where a check's QEMU version came from, as [`Settings`] gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QemuVersionSource {
    /// [`CheckOptions::qemu_version`], asked for.
    Option,
    /// [`CheckOptions::qemu_version`], told by the host input
    /// ([`CheckOptions::qemu_inferred_from`]).
    Inferred,
    /// The version in the domain's machine type (`pc-q35-7.2`).
    Machine,
    /// Nothing said: the newest QEMU known.
    Newest,
}

impl QemuVersionSource {
    /// `option`, `inferred`, `machine` or `newest`, as reports print it.
    pub fn as_str(self) -> &'static str {
        match self {
            QemuVersionSource::Option => "option",
            QemuVersionSource::Inferred => "inferred",
            QemuVersionSource::Machine => "machine",
            QemuVersionSource::Newest => "newest",
        }
    }
}

crate::cpudef::libvirt_spelling!(QemuVersionSource);

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FeaturePolicy {
    pub name: String,
    pub policy: Policy,
}

/// A feature QEMU would drop.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FilteredReport {
    /// libvirt's name.
    pub name: String,
    /// Where the feature lives, e.g. `CPUID.07H:EBX[bit 4]`.
    pub cpuid: String,
    /// Why the host or accelerator cannot provide it.
    pub reason: String,
    /// The warning QEMU prints for it.
    pub qemu_warning: String,
}

/// One feature of the guest CPU with where it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GuestFeature {
    pub name: String,
    /// Where QEMU's build took the feature from; written `""` when it did not say.
    #[serde(serialize_with = "origin_or_empty")]
    pub origin: Option<FeatureOrigin>,
}

fn origin_or_empty<S: serde::Serializer>(
    origin: &Option<FeatureOrigin>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(origin.map_or("", FeatureOrigin::as_str))
}

/// The CPU QEMU would give the guest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GuestCpu {
    /// The QEMU model (after alias resolution), `host` or `max`.
    pub qemu_model: String,
    /// Whose definition was used, e.g. "QEMU 10.0" or a libvirt fallback note.
    pub definition: String,
    pub features: Vec<GuestFeature>,
    /// The CPU definition handed to QEMU, as libvirt XML.
    pub xml: String,
}

/// Migration of the running guest to a second host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Migration {
    pub host: HostBrief,
    pub starts: bool,
    pub message: String,
    /// Features the target would filter from the live definition.
    pub filtered: Vec<FilteredReport>,
}

/// A model's usability on the host, as `virsh domcapabilities` would list it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModelReport {
    pub name: String,
    pub usable: bool,
    pub blockers: Vec<String>,
}

/// QEMU's models on a host ([`ModelReport`]s), made once when the host is
/// prepared and shared by every report made on it: a clone is another handle
/// on the same list. It reads as the list (`models.len()`, `models.iter()`)
/// and serialises as the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelList(Arc<[ModelReport]>);

impl From<Vec<ModelReport>> for ModelList {
    fn from(models: Vec<ModelReport>) -> Self {
        ModelList(models.into())
    }
}

impl Deref for ModelList {
    type Target = [ModelReport];

    fn deref(&self) -> &[ModelReport] {
        &self.0
    }
}

impl Serialize for ModelList {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

/// Everything the check found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// One line for the domain's own check, the first thing to read; the CLI
    /// and the web app show the same sentence.
    pub headline: String,
    /// The domain's effective `check`.
    pub check: CpuCheck,
    pub verdicts: Verdicts,
    pub settings: Settings,
    pub filtered: Vec<FilteredReport>,
    pub guest_cpu: Option<GuestCpu>,
    /// The domain XML libvirt keeps after start (for the domain's own check),
    /// or `None` when it does not start.
    pub live_xml: Option<String>,
    /// The `-cpu` argument as QEMU receives it (not quoted for a shell).
    pub qemu_cpu_arg: Option<String>,
    pub host: HostBrief,
    pub models: ModelList,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub migration: Option<Migration>,
    /// A domain that starts under `check='full'` with nothing filtered on
    /// the host (and the migration target), or `None` when this one does.
    pub remedy: Option<Remedy>,
    pub notes: Vec<String>,
}

/// How a report's note begins when no `<cpu>` makes the domain start under
/// `check='full'` with nothing filtered (what stops it lies outside `<cpu>`).
pub const NO_REMEDY: &str =
    "no remedy: no <cpu> makes this domain start under check='full' with nothing filtered";

/// Checks `domain_xml` on `host`, and on `migration_target` when given.
///
/// Prepares both hosts for the accelerator and QEMU version the domain and
/// `options` ask for, then answers as [`analyze_prepared`]. A caller that
/// checks several domains (or one domain as it is edited) on the same host
/// should keep [`PreparedHost`]s instead.
pub fn analyze(
    map: &CpuMap,
    domain_xml: &str,
    host: &HostInput<'_>,
    migration_target: Option<&HostInput<'_>>,
    options: &CheckOptions,
) -> Result<Report, CheckError> {
    let question = Question::new(domain_xml, options)?;
    let prepare = |input: &HostInput<'_>| {
        PreparedHost::new(map, input, question.accelerator, question.version)
            .map_err(CheckError::Cpu)
    };
    let side = prepare(host)?;
    let target = migration_target.map(prepare).transpose()?;
    Ok(question.report_with_migration(&side, target.as_ref()))
}

/// The accelerator and QEMU version a check asks of its hosts: what a
/// [`PreparedHost`] must be prepared for to answer it.
#[derive(Debug, Clone, Copy)]
pub struct HostSettings {
    pub accelerator: Accelerator,
    pub version: &'static QemuVersion,
}

impl PartialEq for HostSettings {
    fn eq(&self, other: &Self) -> bool {
        self.accelerator == other.accelerator && self.version.version == other.version.version
    }
}

impl Eq for HostSettings {}

impl HostSettings {
    /// Prepares `host` for these settings.
    pub fn prepare<'m>(
        &self,
        map: &'m CpuMap,
        host: &HostInput<'_>,
    ) -> Result<PreparedHost<'m>, CheckError> {
        PreparedHost::new(map, host, self.accelerator, self.version).map_err(CheckError::Cpu)
    }
}

impl PreparedHost<'_> {
    /// The accelerator and QEMU version this host was prepared for.
    pub fn settings(&self) -> HostSettings {
        HostSettings {
            accelerator: self.accelerator,
            version: self.version,
        }
    }
}

/// The settings `domain_xml` with `options` asks of its hosts: `options`
/// first, else the domain's type and machine type, else KVM and the newest
/// QEMU known. Fails as [`analyze`] does on a malformed domain or unknown
/// QEMU version.
pub fn host_settings(domain_xml: &str, options: &CheckOptions) -> Result<HostSettings, CheckError> {
    Ok(Question::new(domain_xml, options)?.settings())
}

/// Checks `domain_xml` on a prepared host, and migration to a prepared
/// `migration_target` when given: the same report as [`analyze`] on the
/// hosts they were prepared from.
///
/// Both hosts must have been prepared for the settings the domain and
/// `options` ask for ([`host_settings`]); otherwise the check is refused with
/// [`CheckError::Mismatch`] rather than answered for other settings.
pub fn analyze_prepared(
    domain_xml: &str,
    host: &PreparedHost<'_>,
    migration_target: Option<&PreparedHost<'_>>,
    options: &CheckOptions,
) -> Result<Report, CheckError> {
    Question::new(domain_xml, options)?.answer(host, migration_target)
}

/// The remedy of `domain_xml` on several prepared hosts at once (a fleet):
/// `Ok(None)` when the domain already starts under `check='full'` with
/// nothing filtered on each, `Err` with why when no `<cpu>` does. Every host
/// must be prepared for the settings the domain asks for.
pub(crate) fn remedy_on_hosts(
    question: &Question<'_>,
    sides: &[RemedyHost<'_, '_>],
) -> Result<Result<Option<Remedy>, String>, CheckError> {
    for side in sides {
        question.matches(side.host)?;
    }
    Ok(question.remedy(sides))
}

/// What a batch reads of a check on one host ([`analyze_prepared_answer`]):
/// the fields of the same name of the [`Report`], and the arrival.
pub(crate) struct DomainAnswer {
    pub check: CpuCheck,
    pub verdicts: Verdicts,
    pub filtered: Vec<FilteredReport>,
    pub live_xml: Option<String>,
    pub notes: Vec<String>,
    pub arrival: Option<Migration>,
}

/// A check on a prepared host as a batch row reads it, with the arrival of
/// `arriving` there when given: [`analyze_prepared`] without the parts of the
/// report a batch does not read (the guest CPU, settings, model list, `-cpu`
/// argument).
pub(crate) fn analyze_prepared_answer(
    question: &Question<'_>,
    host: &PreparedHost<'_>,
    arriving: Option<&CpuDef>,
) -> Result<DomainAnswer, CheckError> {
    question.matches(host)?;
    Ok(question.answer_on(host, arriving))
}

/// A host described without a domain: its brief, the models it can run and
/// notes, for the accelerator and QEMU version of `options` (default: KVM and
/// the newest QEMU known).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostDescription {
    pub host: HostBrief,
    pub models: Vec<ModelReport>,
    pub notes: Vec<String>,
}

/// Describes `host` as the check sees it, without a domain.
pub fn describe_host(
    map: &CpuMap,
    host: &HostInput<'_>,
    options: &CheckOptions,
) -> Result<HostDescription, CheckError> {
    let (settings, note) = description_settings(options)?;
    let side = settings.prepare(map, host)?;
    Ok(HostDescription {
        host: side.brief(),
        models: side.models().to_vec(),
        notes: description_notes(&side, note),
    })
}

/// The settings [`describe_host`] prepares a host for: those of `options`,
/// else KVM and the newest QEMU known; with a note when the QEMU version
/// asked for has no exact match.
pub(crate) fn description_settings(
    options: &CheckOptions,
) -> Result<(HostSettings, Option<&'static str>), CheckError> {
    let definitions = QemuDefinitions::embedded();
    let (version, note) = match options.qemu_version {
        Some(wanted) => {
            let choice = definitions.find(wanted);
            (choice.version, choice.note)
        }
        None => (definitions.newest(), None),
    };
    let accelerator = options.accelerator.unwrap_or(Accelerator::Kvm);
    Ok((
        HostSettings {
            accelerator,
            version,
        },
        note,
    ))
}

/// [`HostDescription::notes`]: the prepared host's, then the version's `note`.
pub(crate) fn description_notes(side: &PreparedHost<'_>, note: Option<&str>) -> Vec<String> {
    side.notes()
        .into_iter()
        .chain(note.map(str::to_string))
        .collect()
}

/// The domain and the options, settled before any host is looked at: the
/// domain parsed once, libvirt's defaults applied, the accelerator and the
/// QEMU version chosen. [`Question::settings`] says what a host must be
/// prepared for, [`Question::answer`] answers on prepared hosts; the CLI,
/// batch and the web app ask one question of as many hosts as they have.
pub struct Question<'d> {
    domain_xml: &'d str,
    /// Owned when the question parsed it, borrowed from a caller that keeps
    /// the parse ([`Question::of_parsed`]).
    domain: Cow<'d, Domain>,
    /// Where the domain's `<cpu>` lies in `domain_xml`.
    cpu_place: CpuPlace,
    accelerator: Accelerator,
    version: &'static QemuVersion,
    version_source: QemuVersionSource,
    version_note: Option<&'static str>,
    /// [`CheckOptions::qemu_inferred_from`].
    qemu_inferred_from: Option<&'static str>,
    libvirt: Option<VersionChoice>,
    /// The domain's CPU after libvirt's defaults.
    cpu: CpuDef,
    applied: AppliedDefaults,
    own_check: CpuCheck,
}

impl<'d> Question<'d> {
    /// Parses `domain_xml` and settles `options` against it. Fails as
    /// [`analyze`] does on a malformed domain or an unknown QEMU version.
    pub fn new(domain_xml: &'d str, options: &CheckOptions) -> Result<Self, CheckError> {
        let (domain, cpu_place) = Domain::parse_placed(domain_xml).map_err(CheckError::Domain)?;
        Question::settled(domain_xml, Cow::Owned(domain), cpu_place, options)
    }

    /// [`Question::new`] on a domain [`Domain::parse_placed`] read from
    /// `domain_xml` already, so a caller that keeps the parse (the web app,
    /// per keystroke) does not parse again.
    pub fn of_parsed(
        domain_xml: &'d str,
        domain: &'d Domain,
        cpu_place: CpuPlace,
        options: &CheckOptions,
    ) -> Result<Self, CheckError> {
        Question::settled(domain_xml, Cow::Borrowed(domain), cpu_place, options)
    }

    /// The question on `domain` (read from `domain_xml`) with `options`
    /// settled against it.
    fn settled(
        domain_xml: &'d str,
        domain: Cow<'d, Domain>,
        cpu_place: CpuPlace,
        options: &CheckOptions,
    ) -> Result<Self, CheckError> {
        let accelerator = options.accelerator.unwrap_or(domain.accelerator);
        let (version, version_source, version_note) = choose_qemu_version(&domain, options);
        let mut cpu = domain.cpu.clone();
        let applied = apply_defaults(
            &mut cpu,
            accelerator,
            default_cpu_model(domain.machine.as_deref()),
        );
        let own_check = cpu.check.unwrap_or(CpuCheck::None);
        Ok(Question {
            domain_xml,
            domain,
            cpu_place,
            accelerator,
            version,
            version_source,
            version_note,
            qemu_inferred_from: options.qemu_inferred_from,
            libvirt: options.libvirt,
            cpu,
            applied,
            own_check,
        })
    }

    /// The accelerator and QEMU version this question asks of its hosts
    /// ([`host_settings`]).
    pub fn settings(&self) -> HostSettings {
        HostSettings {
            accelerator: self.accelerator,
            version: self.version,
        }
    }

    /// The report on `host`, and on migration to `migration_target` when
    /// given ([`analyze_prepared`]); a host prepared for other settings is
    /// refused with [`CheckError::Mismatch`].
    pub fn answer(
        &self,
        host: &PreparedHost<'_>,
        migration_target: Option<&PreparedHost<'_>>,
    ) -> Result<Report, CheckError> {
        self.matches(host)?;
        if let Some(target) = migration_target {
            self.matches(target)?;
        }
        Ok(self.report_with_migration(host, migration_target))
    }

    /// Refuses a host prepared for other settings than this question's.
    fn matches(&self, host: &PreparedHost<'_>) -> Result<(), CheckError> {
        if let Some(choice) = self.libvirt {
            let wanted = choice.version.map_release().0;
            if host.map.release != Some(wanted) {
                return Err(CheckError::Mismatch(format!(
                    "the host was prepared on another CPU map than libvirt {wanted}'s, which libvirt {} uses",
                    choice.version
                )));
            }
        }
        let prepared = host.settings();
        if prepared == self.settings() {
            return Ok(());
        }
        Err(CheckError::Mismatch(format!(
            "the host was prepared for {} and QEMU {}, but the check asks for {} and QEMU {}",
            prepared.accelerator.as_str(),
            prepared.version.version,
            self.accelerator.as_str(),
            self.version.version
        )))
    }

    /// The report on `side`, with migration to `target` when given.
    fn report_with_migration(
        &self,
        side: &PreparedHost<'_>,
        target: Option<&PreparedHost<'_>>,
    ) -> Report {
        let (mut report, own) = self.report_on(side);
        report.migration = match (target, &own.live_cpu, own.starts()) {
            (Some(target), Some(live), true) => Some(migrate(
                &self.domain,
                live,
                target,
                self.libvirt_choice(target).version,
            )),
            (Some(target), _, _) => Some(Migration {
                host: target.brief(),
                starts: false,
                message:
                    "the domain does not start on the source host, so there is nothing to migrate"
                        .to_string(),
                filtered: Vec::new(),
            }),
            (None, _, _) => None,
        };
        let mut sides = vec![RemedyHost {
            host: side,
            label: if target.is_some() {
                "the source host"
            } else {
                "the host"
            },
        }];
        sides.extend(target.map(|host| RemedyHost {
            host,
            label: "the target host",
        }));
        report.headline = headline(&report, self.cpu.mode);
        match self.remedy(&sides) {
            Ok(remedy) => report.remedy = remedy,
            Err(error) => report.notes.push(format!("{NO_REMEDY}: {error}")),
        }
        report
    }

    /// The starts under every `check` value on one prepared host, and the
    /// index of the domain's own.
    fn starts_on(&self, side: &PreparedHost<'_>) -> (Vec<(CpuCheck, StartOutcome)>, usize) {
        let builds = BuildOnce::new(side);
        let libvirt = self.libvirt_choice(side).version;
        let environment = side.environment(&self.domain, libvirt, &builds);
        let outcomes = simulate_checks(&environment, &self.cpu, &CpuCheck::ALL);
        let own_index = outcomes
            .iter()
            .position(|(check, _)| *check == self.own_check)
            .unwrap_or(0);
        (outcomes, own_index)
    }

    /// What QEMU would build and filter, even when the domain's own check
    /// stops the start before QEMU runs: the most permissive start shows it.
    fn built(outcomes: &[(CpuCheck, StartOutcome)], own_index: usize) -> Option<&StartOutcome> {
        std::iter::once(&outcomes[own_index].1)
            .chain(outcomes.iter().map(|(_, outcome)| outcome))
            .find(|outcome| outcome.build.is_some())
    }

    fn verdicts(&self, outcomes: &[(CpuCheck, StartOutcome)], side: &PreparedHost<'_>) -> Verdicts {
        let verdict = |check: CpuCheck| {
            let outcome = outcomes.iter().find(|(c, _)| *c == check).map(|(_, o)| o);
            verdict_of(outcome, check == self.own_check, side)
        };
        Verdicts {
            none: verdict(CpuCheck::None),
            partial: verdict(CpuCheck::Partial),
            full: verdict(CpuCheck::Full),
        }
    }

    /// The live domain XML the report shows: after a start under the
    /// domain's own check, when it starts.
    fn live_xml(&self, own: &StartOutcome) -> Option<String> {
        own.live_cpu
            .as_ref()
            .filter(|_| own.starts())
            .map(|live| live_domain_xml(self.domain_xml, self.cpu_place, live))
    }

    /// The parts of [`Self::report_on`] a batch reads, and the arrival of
    /// `arriving` on `side` when given.
    fn answer_on(&self, side: &PreparedHost<'_>, arriving: Option<&CpuDef>) -> DomainAnswer {
        let (mut outcomes, own_index) = self.starts_on(side);
        let filtered = Self::built(&outcomes, own_index)
            .and_then(|o| o.build.as_ref())
            .map(|b| side.filtered_report(b))
            .unwrap_or_default();
        let verdicts = self.verdicts(&outcomes, side);
        let own = outcomes.swap_remove(own_index).1;
        DomainAnswer {
            check: self.own_check,
            verdicts,
            filtered,
            live_xml: self.live_xml(&own),
            notes: self.notes(side),
            arrival: arriving
                .map(|live| migrate(&self.domain, live, side, self.libvirt_choice(side).version)),
        }
    }

    /// The prepared host's notes, then the QEMU version's.
    fn notes(&self, side: &PreparedHost<'_>) -> Vec<String> {
        side.notes()
            .into_iter()
            .chain(self.version_note.map(str::to_string))
            .chain(
                self.qemu_inferred_from
                    .map(|why| format!("QEMU {} (inferred: {why})", self.version.version)),
            )
            .chain(std::iter::once(self.libvirt_choice(side).describe()))
            .collect()
    }

    /// The libvirt version modelled: the option's, else the release of the
    /// map `side` was prepared on.
    fn libvirt_choice(&self, side: &PreparedHost<'_>) -> VersionChoice {
        self.libvirt.unwrap_or(VersionChoice {
            version: side.map.release.unwrap_or(LibvirtVersion::NEWEST),
            source: VersionSource::Map,
        })
    }

    /// The report on one prepared host (without migration), and the outcome
    /// of the start under the domain's own `check`.
    fn report_on(&self, side: &PreparedHost<'_>) -> (Report, StartOutcome) {
        let (mut outcomes, own_index) = self.starts_on(side);
        let built = Self::built(&outcomes, own_index);
        let filtered = built
            .and_then(|o| o.build.as_ref())
            .map(|b| side.filtered_report(b))
            .unwrap_or_default();
        let guest_cpu = built
            .and_then(|o| o.build.as_ref().zip(o.cpu_for_qemu.as_ref()))
            .map(|(b, c)| side.guest_cpu(b, c, self.own_check));
        // The argument libvirt builds before QEMU runs, even when QEMU's
        // build or the checks after it then stop the start.
        let qemu_cpu_arg = std::iter::once(&outcomes[own_index].1)
            .chain(outcomes.iter().map(|(_, outcome)| outcome))
            .find_map(|outcome| outcome.qemu_cpu_arg.clone());
        let verdicts = self.verdicts(&outcomes, side);
        let own = outcomes.swap_remove(own_index).1;
        let report = Report {
            headline: String::new(),
            check: self.own_check,
            verdicts,
            settings: settings(
                &self.cpu,
                &self.domain,
                self.accelerator,
                side,
                (self.version_source, self.libvirt_choice(side)),
                &self.applied,
            ),
            filtered,
            guest_cpu,
            live_xml: self.live_xml(&own),
            qemu_cpu_arg,
            host: side.brief(),
            models: side.models(),
            migration: None,
            remedy: None,
            notes: self.notes(side),
        };
        (report, own)
    }
}

/// The report's first line: whether the domain starts under its own check,
/// what QEMU drops, and what that means for the guest ABI; then whether the
/// running guest migrates when a target was given.
fn headline(report: &Report, mode: CpuMode) -> String {
    let own = [
        &report.verdicts.none,
        &report.verdicts.partial,
        &report.verdicts.full,
    ]
    .into_iter()
    .find(|v| v.own)
    .unwrap_or(&report.verdicts.none);
    let dropped = match report.filtered.len() {
        1 => "1 feature".to_string(),
        n => format!("{n} features"),
    };
    let first = if !own.starts && !report.filtered.is_empty() && report.check == CpuCheck::Full {
        format!("Does not start: QEMU would drop {dropped} and check='full' refuses a changed CPU")
    } else if !own.starts {
        format!("Does not start: {}", own.message)
    } else if !report.filtered.is_empty() {
        format!("Starts, but QEMU drops {dropped} — the guest ABI may change on migration")
    } else if mode != CpuMode::Custom {
        format!(
            "Starts with the host's CPU ({}) — the guest ABI follows the host it starts on",
            mode.as_str()
        )
    } else if report.check == CpuCheck::Full {
        "Starts with exactly the CPU defined — check='full' keeps the guest ABI fixed".to_string()
    } else {
        format!(
            "Starts with exactly the CPU defined — check='{}' would not stop a host that drops features",
            report.check
        )
    };
    match &report.migration {
        Some(migration) if own.starts && !migration.starts => {
            format!("{first}; migration to the target fails")
        }
        Some(migration) if migration.starts => format!("{first}; migrates to the target"),
        _ => first,
    }
}

/// The QEMU release a check of `domain` under `options` models, and where
/// that choice came from: the one asked for, else the machine type's, else
/// the newest. Nothing is read for it, so a caller can tell which release's
/// data a check needs before asking it (`data::stack_is_loaded`).
pub fn qemu_release_for(
    domain: &Domain,
    options: &CheckOptions,
) -> (QemuRelease, QemuVersionSource) {
    if let Some(wanted) = options.qemu_version {
        let source = if options.qemu_inferred_from.is_some() {
            QemuVersionSource::Inferred
        } else {
            QemuVersionSource::Option
        };
        return (wanted, source);
    }
    match domain.machine_qemu_version() {
        Some(release) => (release, QemuVersionSource::Machine),
        None => (QemuRelease::NEWEST, QemuVersionSource::Newest),
    }
}

/// The QEMU version to model ([`qemu_release_for`]), where that choice came
/// from, and a note when the data had no exact match.
fn choose_qemu_version(
    domain: &Domain,
    options: &CheckOptions,
) -> (
    &'static QemuVersion,
    QemuVersionSource,
    Option<&'static str>,
) {
    let (release, source) = qemu_release_for(domain, options);
    let choice = QemuDefinitions::embedded().find(release);
    (choice.version, source, choice.note)
}

fn verdict_of(outcome: Option<&StartOutcome>, own: bool, side: &PreparedHost<'_>) -> Verdict {
    let Some(outcome) = outcome else {
        return Verdict {
            starts: false,
            abi_stable: false,
            message: "not evaluated".to_string(),
            own,
        };
    };
    if let Some(error) = &outcome.error {
        return Verdict {
            starts: false,
            abi_stable: false,
            message: error.to_string(),
            own,
        };
    }
    let filtered: Vec<String> = outcome
        .build
        .as_ref()
        .map(|b| {
            b.filtered
                .iter()
                .map(|f| side.map.feature(f.feature).name.clone())
                .collect()
        })
        .unwrap_or_default();
    let message = if filtered.is_empty() {
        "starts; the guest gets exactly the CPU defined".to_string()
    } else {
        format!(
            "starts, but QEMU filters {}: {}; the live XML records them as disabled",
            if filtered.len() == 1 {
                "1 feature".to_string()
            } else {
                format!("{} features", filtered.len())
            },
            filtered.join(", ")
        )
    };
    Verdict {
        starts: true,
        abi_stable: filtered.is_empty(),
        message,
        own,
    }
}

fn settings(
    cpu: &CpuDef,
    domain: &Domain,
    accelerator: Accelerator,
    side: &PreparedHost<'_>,
    (version_source, libvirt): (QemuVersionSource, VersionChoice),
    applied: &AppliedDefaults,
) -> Settings {
    let mut defaults_applied = Vec::new();
    if let Some(model) = &applied.default_model {
        let machine = match &domain.machine {
            Some(machine) => format!("machine type '{machine}'"),
            None => "the default machine type".to_string(),
        };
        defaults_applied.push(format!(
            "model {model}: QEMU's default CPU type for {machine}, with check='none' and fallback='forbid'"
        ));
    }
    if let Some(check) = applied.default_check {
        defaults_applied.push(format!(
            "check='{}': libvirt's default for this mode and domain type",
            check.as_str()
        ));
    }
    if applied.default_migratable {
        defaults_applied
            .push("migratable='on': libvirt's default for host-passthrough".to_string());
    }
    Settings {
        mode: cpu.mode,
        match_mode: cpu.match_mode,
        check: cpu.check.unwrap_or(CpuCheck::None),
        fallback: cpu.fallback,
        model: cpu.model.clone(),
        vendor_id: cpu.vendor_id.clone(),
        features: cpu
            .features
            .iter()
            .map(|f| FeaturePolicy {
                name: f.name.clone(),
                policy: f.effective_policy(),
            })
            .collect(),
        accelerator,
        qemu_version: side.version.version.clone(),
        qemu_version_source: version_source,
        libvirt_version: libvirt.version,
        libvirt_version_source: libvirt.source,
        defaults_applied,
        cpu_flags: domain_flags(cpu, &domain.flags),
        outside_cpu_arg: flags_outside_cpu_arg(&domain.flags),
    }
}

/// Migrating the running guest: its live definition (check='full') starts as an
/// incoming domain on the target.
fn migrate(
    domain: &Domain,
    live: &CpuDef,
    target: &PreparedHost<'_>,
    libvirt: LibvirtVersion,
) -> Migration {
    let environment = target.environment(domain, libvirt, target);
    let outcome = simulate_start(&environment, live, StartKind::Incoming);
    let filtered = outcome
        .build
        .as_ref()
        .map(|b| target.filtered_report(b))
        .unwrap_or_default();
    let message = match &outcome.error {
        Some(error) => error.to_string(),
        None => "the live definition starts on the target with the same CPU".to_string(),
    };
    Migration {
        host: target.brief(),
        starts: outcome.starts(),
        message,
        filtered,
    }
}

/// The input document with its `<cpu>` replaced by the live one (or the live
/// `<cpu>` alone when the input was a bare `<cpu>`).
fn live_domain_xml(text: &str, place: CpuPlace, live: &CpuDef) -> String {
    let CpuPlace::InDomain(cpu) = place else {
        return live.to_xml();
    };
    match cpu {
        Some((offset, end)) => {
            // Replace whole lines when `<cpu>` starts its line; otherwise (a
            // domain on one line) replace just the element.
            let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
            let (start, indent) = if text[line_start..offset].trim().is_empty() {
                (line_start, offset - line_start)
            } else {
                (offset, 0)
            };
            let replacement = live.to_xml_indented(indent);
            format!(
                "{}{}{}",
                &text[..start],
                replacement.trim_end_matches('\n'),
                &text[end..]
            )
        }
        None => {
            let close = text.rfind("</domain>").unwrap_or(text.len());
            let line_start = text[..close].rfind('\n').map_or(close, |i| i + 1);
            format!(
                "{}{}{}",
                &text[..line_start],
                live.to_xml_indented(2),
                &text[line_start..]
            )
        }
    }
}
