//! The adapter between the web app and `guestcpu-core`: every call into the engine
//! is made here, so wiring a new engine API is a change to this file alone.
//!
//! Inputs are read once each ([`read_domain`], [`read_host`]) so that a keystroke
//! in one text does not re-parse the others. A [`ParsedHost`] also keeps the
//! host prepared for the check (QEMU's model list, host-model, …, most of a
//! check's work) per accelerator and QEMU version, so a keystroke in the domain
//! editor re-runs only the domain's part; [`analyze`] then joins them into
//! core's [`Report`], which the components render as is and the JavaScript API
//! serializes to the same JSON as `guestcpu check --json`. Errors arrive here as
//! byte offsets and leave as [`InputError`]s with line and column for display.

use std::cell::RefCell;
use std::fmt;
use std::rc::Rc;

use guestcpu_core::check::{
    qemu_release_for, CheckError, CheckOptions, HostSettings, PreparedHost, Question,
};
use guestcpu_core::data::stack_is_loaded;
use guestcpu_core::domain::{Accelerator, CpuPlace, Domain};
use guestcpu_core::host::{self, HostInput};
use guestcpu_core::libvirt::release::{LibvirtVersion, VersionChoice};
use guestcpu_core::version::{QemuRelease, Stack, StackError, VersionError};
use guestcpu_core::{xml, CpuMap};

pub use guestcpu_core::check::host_brief::HostBrief;
pub use guestcpu_core::check::upgrade::UpgradePreview;
pub use guestcpu_core::check::{
    FilteredReport, Migration, ModelList, ModelReport, Remedy, Report, Verdict, NO_REMEDY,
};

/// What the user chose besides the texts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AnalysisOptions<'a> {
    /// `None`: the domain's machine type's version, else the newest known.
    pub qemu_version: Option<&'a str>,
    /// `None`: the domain type's accelerator.
    pub accelerator: Option<Accelerator>,
    /// `None`: what the host input tells (a domcapabilities host), else the
    /// newest libvirt known.
    pub libvirt_version: Option<&'a str>,
}

/// Which input a problem was found in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    Domain,
    HostDump,
    SecondHostDump,
}

impl fmt::Display for InputKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            InputKind::Domain => "domain XML",
            InputKind::HostDump => "host dump",
            InputKind::SecondHostDump => "second host dump",
        })
    }
}

/// A problem in one of the user's texts, positioned for display.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError {
    pub input: InputKind,
    /// 1-based line of the problem.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// The engine's message: lowercase, no trailing period.
    pub message: String,
}

impl InputError {
    fn at_offset(input: InputKind, text: &str, offset: usize, message: String) -> Self {
        let (line, column) = xml::line_column(text, offset);
        InputError {
            input,
            line,
            column,
            message,
        }
    }
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}:{}: {}",
            self.input, self.line, self.column, self.message
        )
    }
}

/// Why there is no report to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnalysisError {
    /// The domain or a host dump is empty; nothing to say yet.
    MissingInput(InputKind),
    /// An input does not parse.
    Input(InputError),
    /// The inputs parse but the engine cannot check them (an unknown model or
    /// QEMU version, …), in the engine's words.
    Refused(String),
    /// The check needs an older release's data, which the page's module
    /// leaves out and loads when a check first asks for it
    /// (`js_api::load_releases`): ask again once that is in.
    Loading,
}

impl fmt::Display for AnalysisError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AnalysisError::MissingInput(kind) => write!(f, "no {kind} yet"),
            AnalysisError::Input(error) => error.fmt(f),
            AnalysisError::Refused(message) => f.write_str(message),
            AnalysisError::Loading => {
                f.write_str("Loading the data of older libvirt and QEMU releases…")
            }
        }
    }
}

/// The parts of the domain's `<cpu>` the page shows under the editor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainSummary {
    /// `custom`, `host-model`, `host-passthrough` or `maximum`.
    pub mode: &'static str,
    pub model: Option<String>,
    /// The domain's own `check`, `None` when it leaves libvirt's default.
    pub check: Option<&'static str>,
    pub feature_count: usize,
}

fn missing_if_blank(kind: InputKind, text: &str) -> Result<(), AnalysisError> {
    if text.trim().is_empty() {
        Err(AnalysisError::MissingInput(kind))
    } else {
        Ok(())
    }
}

/// A domain text parsed once: what the editor shows, and what every check of
/// it asks (core's [`Question::of_parsed`]), so a keystroke parses it once.
#[derive(Debug, Clone)]
pub struct ParsedDomain {
    pub summary: DomainSummary,
    domain: Domain,
    place: CpuPlace,
}

impl ParsedDomain {
    /// The byte range of the domain's `<cpu>` in its text, if it has one.
    pub fn cpu_range(&self) -> Option<(usize, usize)> {
        match self.place {
            CpuPlace::Bare(range) => Some(range),
            CpuPlace::InDomain(range) => range,
        }
    }
}

/// Parses the domain XML (a whole `<domain>` or a `<cpu>`) and summarizes its CPU.
pub fn read_domain(text: &str) -> Result<ParsedDomain, AnalysisError> {
    missing_if_blank(InputKind::Domain, text)?;
    let (domain, place) = Domain::parse_placed(text).map_err(|error| {
        AnalysisError::Input(InputError::at_offset(
            InputKind::Domain,
            text,
            error.offset,
            error.message,
        ))
    })?;
    let cpu = &domain.cpu;
    Ok(ParsedDomain {
        summary: DomainSummary {
            mode: cpu.mode.as_str(),
            model: cpu.model.clone(),
            check: cpu.check.map(|check| check.as_str()),
            feature_count: cpu.features.len(),
        },
        domain,
        place,
    })
}

/// How many prepared hosts (one per accelerator and QEMU version) a
/// [`ParsedHost`] keeps: enough to switch back and forth between choices.
const PREPARED_PER_HOST: usize = 4;

/// A host input, parsed once and kept for every analysis until its text changes.
#[derive(Clone)]
pub struct ParsedHost {
    /// The files (name, text) the host is read from, joined into one host
    /// when there are several; read again with another libvirt release's CPU
    /// map when a check models that release.
    parts: Rc<[HostPart]>,
    /// The input as libvirt 11.3's map reads it; shared by clones, which
    /// read the same text.
    input: Rc<HostInput<'static>>,
    /// How the input was read, e.g. "cpuid -1r, CPU 0 of 16".
    pub format: String,
    /// What each file gave when several were joined, in core's words:
    /// "NAME (FORMAT): what it contributed"; empty for one file.
    pub contributions: Vec<String>,
    /// The host prepared for the settings checks asked for, most recent
    /// first; shared by clones, which read the same text.
    prepared: Rc<RefCell<Vec<Rc<PreparedHost<'static>>>>>,
}

impl fmt::Debug for ParsedHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ParsedHost")
            .field("input", &self.input)
            .field("format", &self.format)
            .field("prepared", &self.prepared.borrow().len())
            .finish()
    }
}

impl ParsedHost {
    /// The host prepared for `settings` on `map` (a libvirt release's), from
    /// the cache or prepared now.
    fn prepared(
        &self,
        settings: HostSettings,
        map: &'static CpuMap,
    ) -> Result<Rc<PreparedHost<'static>>, CheckError> {
        let mut cache = self.prepared.borrow_mut();
        if let Some(index) = cache
            .iter()
            .position(|p| p.settings() == settings && std::ptr::eq(p.map(), map))
        {
            let hit = cache.remove(index);
            cache.insert(0, Rc::clone(&hit));
            return Ok(hit);
        }
        let prepared = if std::ptr::eq(map, CpuMap::embedded()) {
            settings.prepare(map, &self.input)?
        } else {
            // The files parsed once already; they parse again.
            let input = parse_parts(InputKind::HostDump, map, &self.parts)
                .map_err(|error| CheckError::Option(error.to_string()))?;
            settings.prepare(map, &input)?
        };
        let prepared = Rc::new(prepared);
        cache.insert(0, Rc::clone(&prepared));
        cache.truncate(PREPARED_PER_HOST);
        Ok(prepared)
    }
}

/// One host file: its name (for messages) and its text.
pub type HostPart = (Rc<str>, Rc<str>);

/// Reads `parts` with `map`: one file as it is, several joined into one host by
/// core's [`host::join_hosts`] (a raw CPUID dump with QMP replies or
/// domcapabilities, as libvirt itself joins them).
fn parse_parts(
    kind: InputKind,
    map: &'static CpuMap,
    parts: &[HostPart],
) -> Result<HostInput<'static>, AnalysisError> {
    let joined = parts.len() > 1;
    let mut inputs = Vec::with_capacity(parts.len());
    for (name, text) in parts {
        missing_if_blank(kind, text)?;
        let input = host::parse_host(map, text).map_err(|error| {
            let message = if joined {
                format!("{name}: {}", error.message)
            } else {
                error.message
            };
            AnalysisError::Input(InputError::at_offset(kind, text, error.offset, message))
        })?;
        inputs.push((name.to_string(), input));
    }
    if joined {
        host::join_hosts(map, inputs).map_err(AnalysisError::Refused)
    } else {
        inputs
            .pop()
            .map(|(_, input)| input)
            .ok_or(AnalysisError::MissingInput(kind))
    }
}

/// Detects the format of a host input (any dump format, or a `<cpu>`) and parses it.
pub fn read_host(kind: InputKind, text: &str) -> Result<ParsedHost, AnalysisError> {
    read_host_files(kind, &[(Rc::from("host dump"), Rc::from(text))])
}

/// Reads one host from one or several files (see `parse_parts`).
pub fn read_host_files(kind: InputKind, parts: &[HostPart]) -> Result<ParsedHost, AnalysisError> {
    let input = parse_parts(kind, CpuMap::embedded(), parts)?;
    Ok(ParsedHost {
        parts: parts.into(),
        format: input.format().to_string(),
        contributions: input.contributions().to_vec(),
        input: Rc::new(input),
        prepared: Rc::default(),
    })
}

/// Checks the domain (`parsed` from `domain_xml`) on `host` (and migration to
/// `second_host` when given), preparing each host only for settings it was not
/// prepared for before.
pub fn analyze(
    domain_xml: &str,
    parsed: &ParsedDomain,
    host: &ParsedHost,
    second_host: Option<&ParsedHost>,
    options: AnalysisOptions<'_>,
) -> Result<Report, AnalysisError> {
    // The versions as the menus, share links and the JavaScript API name
    // them, read here, once, for the engine.
    let refused = |error: VersionError| AnalysisError::Refused(error.to_string());
    let libvirt = options.libvirt_version.map(LibvirtVersion::parse);
    let qemu = options.qemu_version.map(QemuRelease::parse);
    let releases = (
        libvirt.transpose().map_err(refused)?,
        qemu.transpose().map_err(refused)?,
    );
    analyze_on_stack(
        domain_xml,
        parsed,
        host,
        second_host,
        releases,
        options.accelerator,
    )
}

/// [`analyze`] under libvirt and QEMU releases read already (`None`: the
/// engine's default).
fn analyze_on_stack(
    domain_xml: &str,
    parsed: &ParsedDomain,
    host: &ParsedHost,
    second_host: Option<&ParsedHost>,
    (libvirt, qemu): (Option<LibvirtVersion>, Option<QemuRelease>),
    accelerator: Option<Accelerator>,
) -> Result<Report, AnalysisError> {
    let libvirt = VersionChoice::choose(libvirt, host.input.dump());
    let options = CheckOptions {
        qemu_version: qemu,
        qemu_inferred_from: None,
        accelerator,
        libvirt: Some(libvirt),
    };
    let (qemu, _) = qemu_release_for(&parsed.domain, &options);
    if !stack_is_loaded(libvirt.version, qemu) {
        return Err(AnalysisError::Loading);
    }
    let map = CpuMap::for_version(libvirt.version);
    let report = || -> Result<Report, CheckError> {
        // The domain parsed already: its settings and answer read that parse.
        let question = Question::of_parsed(domain_xml, &parsed.domain, parsed.place, &options)?;
        let settings = question.settings();
        let prepared = host.prepared(settings, map)?;
        let second = second_host
            .map(|parsed| parsed.prepared(settings, map))
            .transpose()?;
        question.answer(&prepared, second.as_deref())
    };
    report().map_err(|error| match error {
        CheckError::Domain(error) => AnalysisError::Input(InputError::at_offset(
            InputKind::Domain,
            domain_xml,
            error.offset,
            error.message,
        )),
        other => AnalysisError::Refused(other.to_string()),
    })
}

/// The same check under a second stack, `stack` = `LIBVIRT:QEMU` (as `guestcpu
/// check --upgrade-to` takes it), beside `before` (the check under the chosen
/// one): core's [`UpgradePreview`] of what changes for the domain.
pub fn preview_upgrade(
    domain_xml: &str,
    parsed: &ParsedDomain,
    host: &ParsedHost,
    before: &Report,
    stack: &str,
    accelerator: Option<Accelerator>,
) -> Result<UpgradePreview, AnalysisError> {
    let stack: Stack = stack
        .parse()
        .map_err(|error: StackError| AnalysisError::Refused(error.to_string()))?;
    let releases = (Some(stack.libvirt), Some(stack.qemu));
    let after = analyze_on_stack(domain_xml, parsed, host, None, releases, accelerator)?;
    Ok(UpgradePreview::new(before.clone(), after))
}

thread_local! {
    /// The hosts the JavaScript API read last, with their texts, so repeated
    /// calls on the same dumps reuse their parse and preparation.
    static RECENT_HOSTS: RefCell<Vec<(Vec<String>, ParsedHost)>> = const { RefCell::new(Vec::new()) };
}

/// How many hosts [`RECENT_HOSTS`] keeps: a host and a second host.
const RECENT_HOST_TEXTS: usize = 2;

/// [`read_host_files`] on `texts` (named "host file N" when several),
/// reusing a recent reading of the same texts.
fn read_host_cached(kind: InputKind, texts: &[String]) -> Result<ParsedHost, AnalysisError> {
    let hit = RECENT_HOSTS.with(|recent| {
        recent
            .borrow()
            .iter()
            .find(|(seen, _)| seen == texts)
            .map(|(_, parsed)| parsed.clone())
    });
    if let Some(parsed) = hit {
        return Ok(parsed);
    }
    let parts: Vec<HostPart> = texts
        .iter()
        .enumerate()
        .map(|(index, text)| {
            (
                Rc::from(format!("host file {}", index + 1)),
                Rc::from(&**text),
            )
        })
        .collect();
    let parsed = read_host_files(kind, &parts)?;
    RECENT_HOSTS.with(|recent| {
        let mut recent = recent.borrow_mut();
        recent.insert(0, (texts.to_vec(), parsed.clone()));
        recent.truncate(RECENT_HOST_TEXTS);
    });
    Ok(parsed)
}

/// The whole check from texts, as the JavaScript API needs it: the host from
/// one file or several joined.
pub fn analyze_texts(
    domain_xml: &str,
    host_dumps: &[String],
    second_host_dump: Option<&str>,
    options: AnalysisOptions<'_>,
) -> Result<Report, AnalysisError> {
    let parsed = read_domain(domain_xml)?;
    let host = read_host_cached(InputKind::HostDump, host_dumps)?;
    let second_host = second_host_dump
        .map(|text| read_host_cached(InputKind::SecondHostDump, &[text.to_string()]))
        .transpose()?;
    analyze(domain_xml, &parsed, &host, second_host.as_ref(), options)
}

/// The QEMU versions the engine models, newest first (named only: their
/// definitions are read when a check asks for them).
pub fn qemu_versions() -> Vec<String> {
    QemuRelease::WITH_DEFINITIONS
        .iter()
        .rev()
        .map(QemuRelease::to_string)
        .collect()
}

/// The libvirt releases with a CPU map, newest first.
pub fn libvirt_versions() -> Vec<String> {
    LibvirtVersion::WITH_CPU_MAP
        .iter()
        .rev()
        .map(LibvirtVersion::to_string)
        .collect()
}

/// The names of every CPU model in the embedded database, in its order.
pub fn model_names() -> Vec<&'static str> {
    CpuMap::embedded()
        .models()
        .map(|(_, model)| model.name.as_str())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::examples::HOST_EXAMPLES;

    /// A host with CPUID data (synthesized from `/proc/cpuinfo`).
    const HOST_CPU: &str = HOST_EXAMPLES[0].dump;

    /// [`analyze`] on a domain read from `domain_xml` first, as the page does.
    fn check(
        domain_xml: &str,
        host: &ParsedHost,
        second_host: Option<&ParsedHost>,
        options: AnalysisOptions<'_>,
    ) -> Result<Report, AnalysisError> {
        let parsed = read_domain(domain_xml)?;
        analyze(domain_xml, &parsed, host, second_host, options)
    }

    #[test]
    fn a_domain_error_carries_line_and_column() {
        let text = "<domain>\n  <cpu mode='custom'>\n    <model>Haswell</model>\n  </domain>";
        let Err(AnalysisError::Input(error)) = read_domain(text) else {
            panic!("a mismatched end tag must be an input error");
        };
        assert_eq!(error.input, InputKind::Domain);
        assert_eq!(error.line, 4, "{error}");
    }

    #[test]
    fn an_empty_input_is_missing_not_wrong() {
        assert!(matches!(
            read_domain("  \n"),
            Err(AnalysisError::MissingInput(InputKind::Domain))
        ));
        assert!(matches!(
            read_host(InputKind::SecondHostDump, ""),
            Err(AnalysisError::MissingInput(InputKind::SecondHostDump))
        ));
    }

    #[test]
    fn a_domain_summary_names_mode_model_and_check() {
        let summary = read_domain(
            "<domain><cpu mode='custom' check='partial'><model>Haswell</model></cpu></domain>",
        )
        .expect("valid domain")
        .summary;
        assert_eq!(summary.mode, "custom");
        assert_eq!(summary.model.as_deref(), Some("Haswell"));
        assert_eq!(summary.check, Some("partial"));
    }

    #[test]
    fn a_host_error_carries_its_input_and_position() {
        let Err(AnalysisError::Input(error)) = read_host(InputKind::HostDump, "<cpu>\n<oops>")
        else {
            panic!("broken XML must be an input error");
        };
        assert_eq!(error.input, InputKind::HostDump);
        assert_eq!(error.line, 2, "{error}");
    }

    #[test]
    fn a_check_gives_three_verdicts_with_the_domains_own_marked() {
        let host = read_host(InputKind::HostDump, HOST_CPU).expect("valid host");
        let report = check(
            "<cpu mode='host-model' check='partial'/>",
            &host,
            None,
            AnalysisOptions::default(),
        )
        .expect("a report");
        assert_eq!(report.check, guestcpu_core::CpuCheck::Partial);
        assert!(report.verdicts.partial.own);
        assert!(!report.verdicts.none.own && !report.verdicts.full.own);
        assert!(!report.models.is_empty());
    }

    #[test]
    fn the_libvirt_version_chooses_its_cpu_map() {
        let host = read_host(InputKind::HostDump, HOST_CPU).expect("valid host");
        let domain = "<domain type='kvm'><cpu mode='custom' check='partial'><model>Haswell-v1</model></cpu></domain>";
        let report = |libvirt_version| {
            check(
                domain,
                &host,
                None,
                AnalysisOptions {
                    libvirt_version,
                    ..AnalysisOptions::default()
                },
            )
            .expect("a report")
        };
        let old = report(Some("9.0"));
        assert_eq!(old.settings.libvirt_version.to_string(), "9.0");
        assert_eq!(
            old.verdicts.partial.message,
            "internal error: Unknown CPU model Haswell-v1"
        );
        let newest = report(None);
        assert_eq!(newest.settings.libvirt_version.to_string(), "12.9");
        assert_eq!(newest.settings.libvirt_version_source.as_str(), "newest");
        assert!(!newest
            .verdicts
            .partial
            .message
            .contains("Unknown CPU model"));
        assert_eq!(libvirt_versions(), ["12.9", "11.3", "9.0"]);
        assert!(matches!(
            check(
                domain,
                &host,
                None,
                AnalysisOptions {
                    libvirt_version: Some("nine"),
                    ..AnalysisOptions::default()
                }
            ),
            Err(AnalysisError::Refused(_))
        ));
    }

    #[test]
    fn a_prepared_host_is_reused_and_answers_as_a_fresh_one() {
        let host = read_host(InputKind::HostDump, HOST_CPU).expect("valid host");
        let second = read_host(InputKind::SecondHostDump, HOST_CPU).expect("valid host");
        let domains = [
            "<cpu mode='host-model' check='partial'/>",
            "<domain type='kvm'><cpu mode='custom'><model>Nehalem</model></cpu></domain>",
            "<domain type='qemu'><cpu mode='custom'><model>Nehalem</model></cpu></domain>",
        ];
        for accelerator in [None, Some(Accelerator::Tcg), Some(Accelerator::Kvm)] {
            let options = AnalysisOptions {
                accelerator,
                ..AnalysisOptions::default()
            };
            for domain_xml in domains {
                let cached = check(domain_xml, &host, Some(&second), options);
                let newest = CpuMap::newest();
                let fresh = guestcpu_core::check::analyze(
                    newest,
                    domain_xml,
                    &host::parse_host(newest, HOST_CPU).expect("valid"),
                    Some(&host::parse_host(newest, HOST_CPU).expect("valid")),
                    &CheckOptions {
                        qemu_version: None,
                        qemu_inferred_from: None,
                        accelerator,
                        libvirt: Some(VersionChoice {
                            version: LibvirtVersion::NEWEST,
                            source: guestcpu_core::libvirt::release::VersionSource::Newest,
                        }),
                    },
                );
                assert_eq!(cached.ok(), fresh.ok(), "{domain_xml}");
            }
        }
        // KVM and TCG, each prepared once and kept.
        assert_eq!(host.prepared.borrow().len(), 2);
        let texts = [HOST_CPU.to_string()];
        let js = analyze_texts(domains[0], &texts, None, AnalysisOptions::default());
        let again = analyze_texts(domains[0], &texts, None, AnalysisOptions::default());
        assert_eq!(js.ok(), again.ok());
    }

    #[test]
    fn several_files_make_one_host_saying_what_each_gave() {
        let fixture = |name: &str| -> HostPart {
            let path = format!(
                "{}/../cli/tests/fixtures/{name}",
                env!("CARGO_MANIFEST_DIR")
            );
            let text = std::fs::read_to_string(&path).expect("fixture");
            (Rc::from(name), Rc::from(text))
        };
        let parts = [fixture("cpudata-penryn.xml"), fixture("qmp-replies.json")];
        let host = read_host_files(InputKind::HostDump, &parts).expect("joined");
        assert_eq!(
            host.contributions,
            [
                "qmp-replies.json (QMP replies (model expansion + 2 CPU definitions)): \
                 QEMU's answer: host-model and model usability",
                "cpudata-penryn.xml (libvirt cpudata XML): raw CPUID: the host CPU and libvirt's full host",
            ]
        );
        let report = check(
            "<cpu mode='host-model'/>",
            &host,
            None,
            AnalysisOptions {
                libvirt_version: Some("11.3"),
                ..AnalysisOptions::default()
            },
        )
        .expect("a report");
        assert!(
            report
                .notes
                .iter()
                .any(|note| note.starts_with("joined from qmp-replies.json")),
            "{:?}",
            report.notes
        );
        // Two answers from QEMU are one too many for one host.
        let twice = [fixture("qmp-replies.json"), fixture("qmp-replies.json")];
        assert!(matches!(
            read_host_files(InputKind::HostDump, &twice),
            Err(AnalysisError::Refused(message)) if message.contains("one host takes one of each")
        ));
        let broken = [
            parts[0].clone(),
            (Rc::from("broken.xml"), Rc::from("<cpu>\n<oops>")),
        ];
        let Err(AnalysisError::Input(error)) = read_host_files(InputKind::HostDump, &broken) else {
            panic!("a broken file must be an input error");
        };
        assert!(error.message.starts_with("broken.xml: "), "{error}");
        assert_eq!(error.line, 2);
    }

    #[test]
    fn an_upgrade_preview_says_what_changes_between_two_stacks() {
        let host = read_host(InputKind::HostDump, HOST_CPU).expect("valid host");
        let domain = "<domain type='kvm'><cpu mode='custom' check='partial'>\
                      <model>Haswell-v1</model></cpu></domain>";
        let old_stack = AnalysisOptions {
            libvirt_version: Some("9.0"),
            qemu_version: Some("7.2"),
            ..AnalysisOptions::default()
        };
        let before = check(domain, &host, None, old_stack).expect("a report");
        let parsed = read_domain(domain).expect("valid domain");
        let preview =
            preview_upgrade(domain, &parsed, &host, &before, "11.3:10.0", None).expect("a preview");
        assert_eq!(preview.after.settings.libvirt_version.to_string(), "11.3");
        assert_eq!(preview.after.settings.qemu_version, "10.0");
        // libvirt 9.0 knows no `-vN` model names; 11.3 does.
        let verdict = preview
            .changes
            .iter()
            .find(|change| change.what.starts_with("verdict (check='partial'"))
            .expect("the start verdict changes");
        assert!(
            verdict.before.contains("Unknown CPU model Haswell-v1"),
            "{verdict:?}"
        );
        assert!(matches!(
            preview_upgrade(domain, &parsed, &host, &before, "11.3", None),
            Err(AnalysisError::Refused(_))
        ));
    }

    #[test]
    fn an_invalid_qemu_version_is_refused_in_the_engines_words() {
        let host = read_host(InputKind::HostDump, HOST_CPU).expect("valid host");
        let options = AnalysisOptions {
            qemu_version: Some("latest"),
            ..AnalysisOptions::default()
        };
        match check("<cpu mode='host-model'/>", &host, None, options) {
            Err(AnalysisError::Refused(message)) => {
                assert!(message.contains("`latest`"), "{message}");
            }
            Err(other) => panic!("expected a refusal, got {other}"),
            Ok(_) => panic!("an invalid version must be refused"),
        }
    }

    #[test]
    fn the_embedded_data_has_models_and_versions() {
        assert!(model_names().contains(&"Haswell"));
        assert!(!qemu_versions().is_empty());
    }
}
