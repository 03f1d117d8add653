//! The engine's view of any host input: a libvirt `<cpu>` definition or a host
//! dump in any format [`crate::dump`] reads.
//!
//! Whatever the user hands in, the questions asked of a host are the same: what
//! host CPU libvirt would report (`virsh capabilities`), what the host-model
//! guest CPU is (`virsh domcapabilities`), which named models the hypervisor
//! can run, and the CPU signature. [`HostInput::facts`] reads the input once
//! into [`HostFacts`], its facts sorted by who told them (libvirt's own view
//! of the host CPU, QEMU's answers, where each came from); the rules (`qemu`)
//! and the check read a host only through them, and [`HostFacts`] answers
//! from the best source the input has, in the order libvirt itself prefers:
//! QEMU's own answers over a raw CPUID decode, and a raw decode over a CPU
//! definition that was already decoded elsewhere.

use std::sync::{Arc, OnceLock};

use crate::capture;
use crate::cpudef::{CpuDef, CpuMode, CpuType, Policy};
use crate::cpuid::{CpuidData, Signature};
use crate::data::qemu_order::in_qemu_order;
use crate::data::{CpuMap, FeatureId};
use crate::domain::Accelerator;
use crate::dump::{self, MAX_DUMP_BYTES};
use crate::error::CpuError;
use crate::facts::{
    props_to_cpuid, DumpFormat, HostDump, ModelUsability, QemuCpuDefinition, QemuExpansion,
    QemuPropValue,
};
use crate::featureset::FeatureSet;
use crate::libvirt::decode::{guest_cpu_from_signals, host_cpu_from_cpuid, order_as_decoded};
use crate::libvirt::host_model::{host_model_from_qmp, hypervisor_models};
use crate::libvirt::update::update;
use crate::libvirt::{model_data, Blockers, CpuSignals, HypervisorModel, PolicySelector};
use crate::xml;

/// A host input that cannot be read, with the byte offset of the problem.
pub type InputError = crate::position::Positioned;

/// Where a [`HostInput`]'s facts come from.
#[derive(Debug, Clone)]
enum HostSource {
    /// A `<cpu>` definition: a host CPU (`<arch>`) or a guest CPU such as the
    /// host-model of domain capabilities.
    Definition(Box<CpuDef>),
    /// A host dump in one of [`dump`]'s formats.
    Dump(Box<DumpFacts>),
}

/// A parsed dump (or several joined, [`join_hosts`]) with its embedded
/// `<cpu>` elements already read, so that no later question can fail on syntax.
#[derive(Debug, Clone)]
struct DumpFacts {
    dump: HostDump,
    /// The host CPU of `virsh capabilities`.
    host_cpu: Option<CpuDef>,
    /// The host-model of `virsh domcapabilities`.
    host_model: Option<CpuDef>,
    /// What each joined file contributed, for people; empty for one file.
    contributions: Vec<String>,
    /// Whether `dump.cpuid` is a real CPUID dump, not made from QEMU's
    /// properties.
    raw_cpuid: bool,
}

impl DumpFacts {
    fn new(dump: HostDump) -> Result<DumpFacts, InputError> {
        let cpu = dump
            .host_cpu_xml
            .as_ref()
            .map(CpuDef::from_element)
            .transpose()?;
        let (host_cpu, host_model) = match dump.format {
            DumpFormat::DomainCapabilities => (None, cpu),
            _ => (cpu, None),
        };
        let raw_cpuid = !dump.cpuid.is_empty() && dump.qemu.is_none();
        Ok(DumpFacts {
            dump,
            host_cpu,
            host_model,
            contributions: Vec::new(),
            raw_cpuid,
        })
    }
}

/// Any host input, ready to answer the engine's questions about the host.
#[derive(Debug, Clone)]
pub struct HostInput<'m> {
    map: &'m CpuMap,
    source: HostSource,
    /// [`HostFacts::host_cpu`], decoded on first use: the check and the
    /// batch ask for it several times per host.
    decoded_host_cpu: OnceLock<Result<CpuDef, CpuError>>,
    /// The accelerator whose QEMU answers the input's own questions read
    /// ([`HostInput::under`]); the check asks [`HostInput::facts`] for its own.
    accelerator: Accelerator,
    /// What the running domains' last starts showed about this host's KVM
    /// ([`HostInput::with_kvm_evidence`]).
    kvm_evidence: Option<Arc<KvmEvidence>>,
}

/// Reads a host input: a libvirt `<cpu>` XML (host or guest type), any dump
/// format [`dump::parse`] recognises, or a capture bundle
/// ([`crate::capture`]), whose host parts are joined ([`join_hosts`]).
pub fn parse_host<'m>(map: &'m CpuMap, text: &str) -> Result<HostInput<'m>, InputError> {
    if text.len() > MAX_DUMP_BYTES {
        return Err(InputError {
            offset: 0,
            message: format!(
                "the input is {} bytes long; host inputs over {} MiB are refused",
                text.len(),
                MAX_DUMP_BYTES >> 20
            ),
        });
    }
    if capture::is_bundle(text) {
        return parse_bundle(map, text);
    }
    if let Some(definition) = parse_cpu_definition(text)? {
        return Ok(HostInput {
            map,
            source: HostSource::Definition(Box::new(definition)),
            decoded_host_cpu: OnceLock::new(),
            accelerator: Accelerator::Kvm,
            kvm_evidence: None,
        });
    }
    let mut dump = dump::parse(text)?;
    // libvirt turns QEMU's feature names into CPUID bits through its own map
    // (`virQEMUCapsInitCPUModelX86`), and the releases place some bits
    // differently (11.3 reads the VMX secondary controls in MSR `eax`), so the
    // bits are made again with this map when it is not the one parsing used.
    // The same holds for Linux's flag names, which name features of the map.
    if !std::ptr::eq(map, CpuMap::embedded()) {
        if let Some(expansion) = dump.qemu.as_ref().and_then(|q| q.expansion.as_ref()) {
            dump.cpuid = props_to_cpuid(&expansion.props, map);
        }
        if dump.format == DumpFormat::ProcCpuinfo {
            dump = dump::proc_cpuinfo::parse(text, map)?;
        }
    }
    let mut facts = DumpFacts::new(dump)?;
    if let Some(host_model) = &mut facts.host_model {
        order_as_decoded(map, host_model);
    }
    Ok(HostInput {
        map,
        source: HostSource::Dump(Box::new(facts)),
        decoded_host_cpu: OnceLock::new(),
        accelerator: Accelerator::Kvm,
        kvm_evidence: None,
    })
}

/// A capture bundle's host parts, each read as its own input and joined.
/// An error in a part points at the part in the bundle.
fn parse_bundle<'m>(map: &'m CpuMap, text: &str) -> Result<HostInput<'m>, InputError> {
    let parts = capture::read_bundle(text).map_err(|error| InputError {
        offset: error.offset,
        message: error.message,
    })?;
    let mut inputs = Vec::new();
    let mut first_offset = 0;
    for part in capture::host_parts(&parts) {
        let part_text = part.text.as_deref().unwrap_or_default();
        let input = parse_host(map, part_text).map_err(|error| InputError {
            offset: part.offset,
            message: format!("bundle part `{}`: {}", part.name, error.render(part_text)),
        })?;
        if inputs.is_empty() {
            first_offset = part.offset;
        }
        inputs.push((
            format!(
                "bundle part `{}` ({})",
                part.name,
                part.how.as_deref().unwrap_or("?")
            ),
            input,
        ));
    }
    match inputs.len() {
        0 => Err(InputError {
            offset: 0,
            message: "the capture bundle holds no host CPU data (no cpuid, capabilities, domcapabilities or qmp part with text)".to_string(),
        }),
        1 => Ok(inputs.remove(0).1),
        _ => join_hosts(map, inputs).map_err(|message| InputError {
            offset: first_offset,
            message,
        }),
    }
}

/// What a file gives when joined with others ([`join_hosts`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Contribution {
    /// Raw CPUID: libvirt's own probe of the host (`virCPUGetHost`).
    RawCpuid,
    /// `virsh capabilities`: libvirt's host CPU, decoded already.
    LibvirtHostCpu,
    /// QMP replies or domain capabilities: QEMU's answer (host-model, models).
    QemuAnswer,
}

impl Contribution {
    fn of(facts: &DumpFacts) -> Contribution {
        // QMP replies carry CPUID data too, made from QEMU's properties.
        if facts.dump.qemu.is_some()
            || facts.host_model.is_some()
            || facts.dump.domcaps_models.is_some()
        {
            Contribution::QemuAnswer
        } else if !facts.dump.cpuid.is_empty() {
            Contribution::RawCpuid
        } else {
            Contribution::LibvirtHostCpu
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Contribution::RawCpuid => "raw CPUID: the host CPU and libvirt's full host",
            Contribution::LibvirtHostCpu => "libvirt's host CPU",
            Contribution::QemuAnswer => "QEMU's answer: host-model and model usability",
        }
    }
}

/// Joins several files about one host as libvirt itself does
/// (`virQEMUCapsInitHostCPUModel`): its own probe of the host (a raw CPUID
/// dump, or the host CPU of `virsh capabilities`) with QEMU's answer (QMP
/// replies, or `virsh domcapabilities`). Each part must be a dump, at most
/// one of each kind; `names` name the parts in errors and in what the
/// joined input says each contributed.
pub fn join_hosts<'m>(
    map: &'m CpuMap,
    parts: Vec<(String, HostInput<'m>)>,
) -> Result<HostInput<'m>, String> {
    let mut raw: Option<(String, DumpFacts)> = None;
    let mut host_cpu: Option<(String, DumpFacts)> = None;
    let mut answer: Option<(String, DumpFacts)> = None;
    for (name, part) in parts {
        let HostSource::Dump(facts) = part.source else {
            return Err(format!(
                "{name}: a <cpu> definition cannot be joined with other host files"
            ));
        };
        let slot = match Contribution::of(&facts) {
            Contribution::RawCpuid => &mut raw,
            Contribution::LibvirtHostCpu => &mut host_cpu,
            Contribution::QemuAnswer => &mut answer,
        };
        if let Some((earlier, _)) = slot {
            return Err(format!(
                "{name} and {earlier} both give {}; one host takes one of each",
                Contribution::of(&facts).describe()
            ));
        }
        *slot = Some((name, *facts));
    }
    let mut contributions = Vec::new();
    let mut joined: Option<DumpFacts> = None;
    // QEMU's answer first: its format decides how the input is described.
    for (name, facts) in [answer, raw, host_cpu].into_iter().flatten() {
        let contribution = Contribution::of(&facts);
        contributions.push(format!(
            "{name} ({}): {}",
            facts.dump.description,
            contribution.describe()
        ));
        match &mut joined {
            None => joined = Some(facts),
            Some(into) => {
                if contribution == Contribution::RawCpuid {
                    into.dump.cpuid = facts.dump.cpuid;
                    into.raw_cpuid = true;
                }
                into.host_cpu = into.host_cpu.take().or(facts.host_cpu);
                into.dump.description =
                    format!("{} + {}", into.dump.description, facts.dump.description);
                into.dump.notes.extend(facts.dump.notes);
            }
        }
    }
    let mut joined = joined.ok_or_else(|| "no host file to join".to_string())?;
    if contributions.len() > 1 {
        joined.contributions = contributions;
    }
    Ok(HostInput {
        map,
        source: HostSource::Dump(Box::new(joined)),
        decoded_host_cpu: OnceLock::new(),
        accelerator: Accelerator::Kvm,
        kvm_evidence: None,
    })
}

/// What the starts of this host's running domains showed about what its
/// KVM offers guests: QEMU's filtering warnings and the live `<cpu>`
/// libvirt wrote after asking QEMU what the vCPU got (gathered by
/// [`crate::start_evidence`]). Each fact says where it was seen.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KvmEvidence {
    pub facts: Vec<KvmFact>,
}

/// One thing a start showed: KVM offers `feature`, or does not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvmFact {
    pub feature: FeatureId,
    pub offered: bool,
    /// Where it was seen, e.g. "QEMU warned when starting domain web1".
    pub seen: String,
    /// The domain whose start showed it.
    pub domain: String,
}

/// The facts of a [`KvmEvidence`] feature by feature: those all starts
/// agree on, and those they disagree on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SettledEvidence {
    pub offered: FeatureSet,
    pub withheld: FeatureSet,
    /// Features some start showed offered and another withheld.
    pub disputed: FeatureSet,
}

impl KvmEvidence {
    /// Sorts the facts out: a feature is offered (or withheld) when every
    /// start that tells about it says so, disputed otherwise.
    pub fn settle(&self) -> SettledEvidence {
        let mut said_offered = FeatureSet::new();
        let mut said_withheld = FeatureSet::new();
        for fact in &self.facts {
            if fact.offered {
                said_offered.insert(fact.feature);
            } else {
                said_withheld.insert(fact.feature);
            }
        }
        let disputed = said_offered.intersection(&said_withheld);
        SettledEvidence {
            offered: said_offered.difference(&disputed),
            withheld: said_withheld.difference(&disputed),
            disputed,
        }
    }

    /// The first place `feature` was seen offered (or withheld).
    pub fn seen(&self, feature: FeatureId, offered: bool) -> Option<&KvmFact> {
        self.facts
            .iter()
            .find(|fact| fact.feature == feature && fact.offered == offered)
    }

    /// Whether nothing was seen.
    pub fn is_empty(&self) -> bool {
        self.facts.is_empty()
    }

    /// One line for people: how many features the starts showed offered,
    /// and which withheld: by name when there are a few, else how many (a
    /// host-model start withholds every feature QEMU's answer lacks; the
    /// lines of what the evidence changed name those that matter).
    pub fn summary(&self, map: &CpuMap) -> String {
        const NAMED_AT_MOST: usize = 12;
        let settled = self.settle();
        let mut line = format!("{} features offered", settled.offered.len());
        let withheld = settled.withheld.len();
        if withheld > NAMED_AT_MOST {
            line.push_str(&format!(", {withheld} not offered"));
        } else if withheld > 0 {
            line.push_str(&format!(
                ", not offered: {}",
                map.names(&settled.withheld).collect::<Vec<_>>().join(", ")
            ));
        }
        if !settled.disputed.is_empty() {
            line.push_str(&format!(
                ", disputed between starts: {}",
                map.names(&settled.disputed).collect::<Vec<_>>().join(", ")
            ));
        }
        line
    }
}

/// A document whose root is `<cpu>`, parsed; `None` for anything else (which
/// [`dump::parse`] then judges).
fn parse_cpu_definition(text: &str) -> Result<Option<CpuDef>, InputError> {
    let body = text.trim_start_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
    if !body.starts_with('<') {
        return Ok(None);
    }
    let root = xml::parse(text)?;
    if root.name != "cpu" {
        return Ok(None);
    }
    // A host CPU names its architecture; only x86 ones are read.
    if let Some(arch) = root.child("arch") {
        dump::capabilities::check_x86_arch(Some(arch), &root)?;
    }
    Ok(Some(CpuDef::from_element(&root)?))
}

/// Reads every CPU a `baseline` input holds: a libvirt `<cpuTest>` file or any
/// document with `<cpu>` children, a single `<cpu>`, or a dump, which
/// contributes its host CPU.
pub fn parse_cpu_list(map: &CpuMap, text: &str) -> Result<Vec<CpuDef>, CpuListError> {
    let host = match parse_host(map, text) {
        Ok(host) => host,
        Err(dump_error) => {
            // Not a `<cpu>` nor a dump: maybe a `<cpuTest>`-like list. Report
            // the dump parser's error when the list does not parse either,
            // since it names the formats accepted.
            let body = text.trim_start_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
            if body.starts_with('<') {
                if let Ok(cpus) = crate::libvirt::baseline::parse_cpu_test(text) {
                    return Ok(cpus);
                }
            }
            return Err(CpuListError::Input(dump_error));
        }
    };
    host.host_cpu()
        .map(|cpu| vec![cpu])
        .map_err(CpuListError::Cpu)
}

/// Why [`parse_cpu_list`] gave no CPUs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CpuListError {
    /// The text does not parse.
    Input(InputError),
    /// The text is a dump, but libvirt's rules find no host CPU in it.
    Cpu(CpuError),
}

impl<'m> HostInput<'m> {
    /// The input's facts for a check under `accelerator`: the one place that
    /// asks what kind of input this is (a `<cpu>` definition or a dump,
    /// with QEMU's replies or not). QEMU's answers are those of a capture's
    /// TCG run for TCG when it has one, as libvirt's capabilities keep one
    /// answer per accelerator; otherwise those QEMU gave under KVM.
    pub fn facts(&self, accelerator: Accelerator) -> HostFacts<'_> {
        let mut facts = HostFacts {
            map: self.map,
            accelerator,
            provenance: Provenance {
                description: self.format(),
                contributions: self.contributions(),
                notes: self.notes(),
                host_probe: false,
                qemu_answer: false,
                own_cpu_dump: false,
            },
            cpuid: None,
            libvirt_cpu: None,
            reported_host_model: None,
            kvm_expansion: None,
            qemu: None,
            kvm_evidence: self.kvm_evidence.as_deref(),
            decoded_host_cpu: &self.decoded_host_cpu,
        };
        let dump = match &self.source {
            HostSource::Definition(cpu) => {
                facts.provenance.host_probe = cpu.cpu_type == CpuType::Host;
                facts.libvirt_cpu = Some(cpu);
                return facts;
            }
            HostSource::Dump(dump) => dump,
        };
        let replies = dump.dump.qemu.as_ref();
        let tcg_run = replies
            .and_then(|qemu| qemu.tcg.as_deref())
            .filter(|_| accelerator == Accelerator::Tcg);
        let answered = tcg_run.or(replies);
        facts.provenance.host_probe = dump.raw_cpuid || dump.host_cpu.is_some();
        facts.provenance.qemu_answer = replies.is_some() || dump.host_model.is_some();
        facts.provenance.own_cpu_dump = !matches!(
            dump.dump.format,
            DumpFormat::Qmp | DumpFormat::DomainCapabilities
        );
        facts.cpuid = Some(&dump.dump.cpuid).filter(|cpuid| !cpuid.is_empty());
        facts.libvirt_cpu = dump.host_cpu.as_ref();
        facts.reported_host_model = dump.host_model.as_ref();
        facts.kvm_expansion = replies.and_then(|qemu| qemu.expansion.as_ref());
        let has_answer =
            replies.is_some() || dump.host_model.is_some() || dump.dump.domcaps_models.is_some();
        facts.qemu = has_answer.then(|| QemuAnswer {
            accelerator: if tcg_run.is_some() {
                Accelerator::Tcg
            } else {
                Accelerator::Kvm
            },
            expansion: answered.and_then(|qemu| qemu.expansion.as_ref()),
            definitions: answered.and_then(|qemu| qemu.definitions.as_deref()),
            domcaps_models: dump.dump.domcaps_models.as_deref(),
        });
        facts
    }

    /// [`Self::facts`] for the accelerator [`Self::under`] chose (KVM
    /// unless told otherwise).
    fn own_facts(&self) -> HostFacts<'_> {
        self.facts(self.accelerator)
    }

    /// What the input is, for people, e.g. `libvirt <cpu> (host CPU)` or
    /// `cpuid -r, CPU 0 of 16`.
    pub fn format(&self) -> &str {
        match &self.source {
            HostSource::Definition(cpu) => match cpu.cpu_type {
                CpuType::Host => "libvirt <cpu> (host CPU)",
                CpuType::Guest => "libvirt <cpu> (guest CPU)",
            },
            HostSource::Dump(facts) => &facts.dump.description,
        }
    }

    /// The parsed dump, `None` for a `<cpu>` definition.
    pub fn dump(&self) -> Option<&HostDump> {
        match &self.source {
            HostSource::Definition(_) => None,
            HostSource::Dump(facts) => Some(&facts.dump),
        }
    }

    /// What each file of a joined input ([`join_hosts`]) contributed; empty
    /// for one file.
    pub fn contributions(&self) -> &[String] {
        match &self.source {
            HostSource::Definition(_) => &[],
            HostSource::Dump(facts) => &facts.contributions,
        }
    }

    /// The input with what running domains' starts showed about this
    /// host's KVM joined in, under `name` in what each part contributed
    /// ([`Self::contributions`]). Which of it the check believes, and over
    /// what, is QEMU's rule to settle (`qemu::accel`); nothing seen leaves
    /// the input as it is.
    pub fn with_kvm_evidence(mut self, name: &str, evidence: KvmEvidence) -> HostInput<'m> {
        if evidence.is_empty() {
            return self;
        }
        if let HostSource::Dump(facts) = &mut self.source {
            if facts.contributions.is_empty() {
                let itself = format!(
                    "{} ({})",
                    facts.dump.description,
                    Contribution::of(facts).describe()
                );
                facts.contributions.push(itself);
            }
            facts.contributions.push(format!(
                "{name}: what KVM offers guests, as QEMU's starts showed it ({})",
                evidence.summary(self.map)
            ));
        }
        self.kvm_evidence = Some(Arc::new(evidence));
        self
    }

    /// What running domains' starts showed about this host's KVM, when
    /// [`Self::with_kvm_evidence`] joined any.
    pub fn kvm_evidence(&self) -> Option<&KvmEvidence> {
        self.kvm_evidence.as_deref()
    }

    /// Notes about the input worth showing (e.g. unknown `/proc/cpuinfo` flags).
    pub fn notes(&self) -> &[String] {
        match &self.source {
            HostSource::Definition(_) => &[],
            HostSource::Dump(facts) => &facts.dump.notes,
        }
    }

    /// [`HostFacts::host_cpu`].
    pub fn host_cpu(&self) -> Result<CpuDef, CpuError> {
        self.own_facts().host_cpu()
    }

    /// The host-model guest CPU, with the hypervisor's model list when the input
    /// has one (as libvirt's daemon decodes it).
    pub fn host_model(&self) -> Result<CpuDef, CpuError> {
        let facts = self.own_facts();
        let models = facts.hypervisor_models();
        facts.host_model_with(models.as_deref())
    }

    /// [`HostFacts::host_model_with`].
    pub fn host_model_with(&self, allowed: Option<&[HypervisorModel]>) -> Result<CpuDef, CpuError> {
        self.own_facts().host_model_with(allowed)
    }

    /// The input as QEMU under `accelerator` answers it ([`Self::facts`]):
    /// a capture holding TCG's run as well answers TCG's questions
    /// (host-model, models, known features) from that run; the host CPU
    /// itself is still the one KVM's run shows.
    pub fn under(&self, accelerator: Accelerator) -> HostInput<'m> {
        HostInput {
            map: self.map,
            source: self.source.clone(),
            decoded_host_cpu: self.decoded_host_cpu.clone(),
            accelerator,
            kvm_evidence: self.kvm_evidence.clone(),
        }
    }

    /// [`HostFacts::qemu_known_features`].
    pub fn qemu_known_features(&self) -> Option<FeatureSet> {
        self.own_facts().qemu_known_features()
    }

    /// [`HostFacts::hypervisor_models`].
    pub fn hypervisor_models(&self) -> Option<Vec<HypervisorModel>> {
        self.own_facts().hypervisor_models()
    }

    /// [`HostFacts::signature`].
    pub fn signature(&self) -> Option<Signature> {
        self.own_facts().signature()
    }

    /// [`HostFacts::cpuid_features`].
    pub fn cpuid_features(&self) -> FeatureSet {
        self.own_facts().cpuid_features()
    }
}

/// A host input's facts under one accelerator ([`HostInput::facts`]),
/// sorted by who told them: the raw CPUID, libvirt's view of the host CPU,
/// QEMU's answers, and where they came from. The rules (`qemu`) and the
/// check read a host through these alone; the answers below are made from
/// the fields, never from the kind of input.
#[derive(Debug, Clone)]
pub struct HostFacts<'i> {
    map: &'i CpuMap,
    /// The accelerator the facts were read for.
    pub accelerator: Accelerator,
    /// Where the facts came from.
    pub provenance: Provenance<'i>,
    /// Raw CPUID/MSR items: a CPUID dump's, or made from QEMU's properties
    /// (QMP replies); `None` when the input has none.
    pub cpuid: Option<&'i CpuidData>,
    /// libvirt's view of the host CPU: the `<cpu>` given (host or guest
    /// type), or the host CPU of `virsh capabilities`.
    pub libvirt_cpu: Option<&'i CpuDef>,
    /// The host-model `virsh domcapabilities` reported: QEMU's answer under
    /// KVM as libvirt decoded it.
    pub reported_host_model: Option<&'i CpuDef>,
    /// QEMU's expansion of `host` under KVM (QMP replies), whatever the
    /// accelerator: what KVM offers.
    pub kvm_expansion: Option<&'i QemuExpansion>,
    /// QEMU's answers for the accelerator asked for, when the input has any.
    pub qemu: Option<QemuAnswer<'i>>,
    /// What running domains' starts showed about this host's KVM.
    pub kvm_evidence: Option<&'i KvmEvidence>,
    /// The input's cache of [`Self::host_cpu`].
    decoded_host_cpu: &'i OnceLock<Result<CpuDef, CpuError>>,
}

/// Where a [`HostFacts`]'s facts came from, for people and for the notes
/// that depend on it.
#[derive(Debug, Clone)]
pub struct Provenance<'i> {
    /// How the input was read, e.g. `cpuid -r, CPU 0 of 16`.
    pub description: &'i str,
    /// What each file of a joined input contributed; empty for one file.
    pub contributions: &'i [String],
    /// Things worth telling about the input (e.g. unknown `/proc/cpuinfo` flags).
    pub notes: &'i [String],
    /// libvirt's own view of the host CPU is there: a raw CPUID dump, or the
    /// host CPU of `virsh capabilities` (or a host `<cpu>`).
    pub host_probe: bool,
    /// QEMU's answer is there: QMP replies or domain capabilities.
    pub qemu_answer: bool,
    /// The input (the first file of a joined one, which names it) is a dump
    /// of the host's own CPU, neither QEMU's answer nor a `<cpu>` definition.
    pub own_cpu_dump: bool,
}

/// QEMU's answers about the host for one accelerator.
#[derive(Debug, Clone, Copy)]
pub struct QemuAnswer<'i> {
    /// The accelerator QEMU answered under: TCG when TCG was asked for and
    /// the input holds a run under TCG, else KVM (the run every capture
    /// has, and domain capabilities' default).
    pub accelerator: Accelerator,
    /// `query-cpu-model-expansion` (`host` under KVM, `max` under TCG).
    pub expansion: Option<&'i QemuExpansion>,
    /// `query-cpu-definitions`.
    definitions: Option<&'i [QemuCpuDefinition]>,
    /// The custom-mode models of `virsh domcapabilities`.
    domcaps_models: Option<&'i [ModelUsability]>,
}

impl HostFacts<'_> {
    /// The host CPU libvirt would report: the `<cpu>` itself, the host `<cpu>`
    /// of `virsh capabilities`, or the decode of the raw CPUID data as in
    /// cputest's `-host.xml`. Domain capabilities have no host CPU of their
    /// own; their host-model stands in for it.
    pub fn host_cpu(&self) -> Result<CpuDef, CpuError> {
        self.decoded_host_cpu
            .get_or_init(|| {
                if let Some(cpu) = self.libvirt_cpu {
                    return Ok(cpu.clone());
                }
                if let Some(cpuid) = self.cpuid {
                    return host_cpu_from_cpuid(self.map, cpuid);
                }
                self.reported_host_model.cloned().ok_or_else(no_cpu_data)
            })
            .clone()
    }

    /// The host-model guest CPU decoded with `allowed` as the hypervisor's
    /// models (`None`: every model): from QMP replies as cputest's
    /// `-json.xml`, from raw CPUID as its `-guest.xml`, from domain
    /// capabilities as they say. A host CPU definition (or capabilities)
    /// becomes a guest CPU the way libvirt turns a `host-model` guest into its
    /// host (spec 6.2).
    pub fn host_model_with(&self, allowed: Option<&[HypervisorModel]>) -> Result<CpuDef, CpuError> {
        if let Some(expansion) = self.qemu.and_then(|qemu| qemu.expansion) {
            return host_model_from_qmp(self.map, &expansion.props, allowed);
        }
        if let Some(cpu) = self.reported_host_model {
            return Ok(cpu.clone());
        }
        if let Some(cpuid) = self.cpuid {
            let signals = CpuSignals::from_cpuid(self.map, cpuid);
            return guest_cpu_from_signals(self.map, &signals, allowed);
        }
        match self.libvirt_cpu {
            Some(cpu) => self.host_model_of_definition(cpu),
            None => Err(no_cpu_data()),
        }
    }

    /// A guest CPU stays as it is; a host CPU becomes what a `host-model`
    /// guest updated against it becomes.
    fn host_model_of_definition(&self, cpu: &CpuDef) -> Result<CpuDef, CpuError> {
        if cpu.cpu_type == CpuType::Guest {
            return Ok(cpu.clone());
        }
        let mut guest = CpuDef::new(CpuType::Guest);
        guest.mode = CpuMode::HostModel;
        update(self.map, &mut guest, Some(cpu), Policy::Disable)?;
        Ok(guest)
    }

    /// The migratable host-model from QEMU's expansion without the
    /// properties QEMU marked non-migratable (libvirt's
    /// `virQEMUCapsInitCPUModelX86` with `migratable`); `None` when the input
    /// does not say which properties those are.
    pub fn migratable_host_model_with(
        &self,
        allowed: Option<&[HypervisorModel]>,
    ) -> Option<Result<CpuDef, CpuError>> {
        let expansion = self.qemu?.expansion?;
        if expansion.non_migratable.is_empty() {
            return None;
        }
        let mut props = expansion.props.clone();
        props.retain(|name, _| !expansion.non_migratable.contains(name));
        Some(host_model_from_qmp(self.map, &props, allowed))
    }

    /// The features QEMU knows for this accelerator: those its host-model
    /// expansion has a property for, whatever the value. `None` without an
    /// expansion.
    pub fn qemu_known_features(&self) -> Option<FeatureSet> {
        let expansion = self.qemu?.expansion?;
        Some(
            expansion
                .props
                .keys()
                .filter_map(|name| self.map.feature_by_qemu_name(name))
                .collect(),
        )
    }

    /// The models the hypervisor reports, with usability and blockers: from
    /// `query-cpu-definitions` or from domain capabilities. `None` when the
    /// input says nothing about them.
    pub fn hypervisor_models(&self) -> Option<Vec<HypervisorModel>> {
        let qemu = self.qemu?;
        if let Some(definitions) = qemu.definitions {
            return Some(hypervisor_models(definitions));
        }
        // Domain capabilities sort each model's blockers by name
        // (virDomainCapsCPUModelsSort); QEMU's own order, which libvirt's
        // checks print, follows from where each feature sits in CPUID.
        qemu.domcaps_models.map(|models| {
            models
                .iter()
                .map(|model| {
                    let mut blockers = model.blockers.clone();
                    in_qemu_order(self.map, &mut blockers);
                    HypervisorModel {
                        name: model.name.clone(),
                        usable: model.usable,
                        blockers: Blockers::Named(blockers),
                        deprecated: model.deprecated,
                    }
                })
                .collect()
        })
    }

    /// The CPU signature: from QEMU's `family`, `model` and `stepping` under
    /// KVM, else from raw CPUID leaf 1, else from the `<signature>` of
    /// libvirt's host CPU or reported host-model. `None` when the input does
    /// not say.
    pub fn signature(&self) -> Option<Signature> {
        if let Some(expansion) = self.kvm_expansion {
            let number = |name: &str| match expansion.props.get(name) {
                Some(QemuPropValue::Integer(n)) => u32::try_from(*n).ok(),
                _ => None,
            };
            let signature = Signature {
                family: number("family")?,
                model: number("model")?,
                stepping: number("stepping")?,
            };
            // Re-encoding applies libvirt's mask, as for a dump.
            return Some(Signature::from_eax(signature.to_eax()));
        }
        let leaf1 = crate::cpuid::DataKey::Cpuid {
            leaf: 1,
            subleaf: 0,
        };
        if let Some(cpuid) = self.cpuid.filter(|cpuid| cpuid.get(leaf1).is_some()) {
            return Some(cpuid.signature());
        }
        self.libvirt_cpu
            .or(self.reported_host_model)
            .and_then(|cpu| {
                cpu.signature.map(|(family, model, stepping)| Signature {
                    family,
                    model,
                    stepping,
                })
            })
    }

    /// How many physical address bits the host CPU has, as libvirt's host
    /// CPU carries them (`virHostCPUGetPhysAddrSize`, the `address sizes` of
    /// `/proc/cpuinfo`, which is `CPUID.80000008H:EAX[7:0]`): from raw CPUID,
    /// else the `<maxphysaddr>` of libvirt's host CPU (`virsh capabilities`,
    /// a `<cpu>`) or of the host-model of `virsh domcapabilities`. `None`
    /// when the input does not say.
    pub fn physical_address_bits(&self) -> Option<u32> {
        let from_definition = |cpu: &CpuDef| {
            cpu.maxphysaddr
                .as_ref()
                .and_then(|addr| addr.bits.or(addr.limit))
        };
        let leaf = crate::cpuid::DataKey::Cpuid {
            leaf: 0x8000_0008,
            subleaf: 0,
        };
        self.cpuid
            .and_then(|cpuid| cpuid.get(leaf))
            .map(|registers| registers.get(crate::cpuid::Register::Eax) & 0xff)
            .filter(|bits| *bits != 0)
            .or_else(|| self.libvirt_cpu.and_then(from_definition))
            .or_else(|| self.reported_host_model.and_then(from_definition))
    }

    /// Every map feature the input describes: the features present in raw
    /// CPUID data (such as QEMU's `-enabled.xml`), else all of the `<cpu>`
    /// it is or carries (the host CPU of `virsh capabilities`, the
    /// host-model of `virsh domcapabilities`).
    pub fn cpuid_features(&self) -> FeatureSet {
        match (self.cpuid, self.libvirt_cpu.or(self.reported_host_model)) {
            (Some(cpuid), _) => self.map.features_in(cpuid),
            (None, Some(cpu)) => model_data(self.map, cpu, PolicySelector::All)
                .map(|data| data.features)
                .unwrap_or_default(),
            (None, None) => FeatureSet::EMPTY,
        }
    }
}

fn no_cpu_data() -> CpuError {
    CpuError::invalid_argument("the input has no host CPU data")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::qemu::definitions::QemuDefinitions;
    use crate::qemu::models::{models_for_host, UsabilitySource};

    /// A libvirt capture: KVM's run (Haswell usable, `host` expanded), then
    /// TCG's (`486` usable, `max` expanded).
    const CAPTURE: &str = r#"{"execute": "qmp_capabilities", "id": "libvirt-1"}
{"return": {}, "id": "libvirt-1"}
{"execute": "query-cpu-definitions", "id": "libvirt-2"}
{"return": [{"name": "Haswell", "typename": "Haswell-x86_64-cpu", "unavailable-features": []}], "id": "libvirt-2"}
{"execute": "query-cpu-model-expansion", "arguments": {"type": "static", "model": {"name": "host"}}, "id": "libvirt-3"}
{"return": {"model": {"name": "base", "props": {"vendor": "GenuineIntel", "family": 6, "model": 60, "stepping": 3, "sse4.2": true}}}, "id": "libvirt-3"}
{"execute": "qmp_capabilities", "id": "libvirt-1"}
{"return": {}, "id": "libvirt-1"}
{"execute": "query-cpu-definitions", "id": "libvirt-2"}
{"return": [{"name": "486", "typename": "486-x86_64-cpu", "unavailable-features": []}], "id": "libvirt-2"}
{"execute": "query-cpu-model-expansion", "arguments": {"type": "static", "model": {"name": "max"}}, "id": "libvirt-3"}
{"return": {"model": {"name": "base", "props": {"vendor": "AuthenticAMD", "sse4.2": true}}}, "id": "libvirt-3"}
"#;

    fn model_names(facts: &HostFacts<'_>) -> Vec<String> {
        let models = facts.hypervisor_models().expect("QEMU's models");
        models.into_iter().map(|model| model.name).collect()
    }

    #[test]
    fn facts_take_qemus_answers_for_the_accelerator_asked() {
        let map = CpuMap::embedded();
        let input = parse_host(map, CAPTURE).expect("a capture");
        let kvm = input.facts(Accelerator::Kvm);
        let tcg = input.facts(Accelerator::Tcg);
        assert_eq!(kvm.qemu.map(|q| q.accelerator), Some(Accelerator::Kvm));
        assert_eq!(tcg.qemu.map(|q| q.accelerator), Some(Accelerator::Tcg));
        assert_eq!(model_names(&kvm), ["Haswell"]);
        assert_eq!(model_names(&tcg), ["486"]);
        // What KVM offers, and the CPU's signature, are KVM's run's under
        // either accelerator.
        for facts in [&kvm, &tcg] {
            let expansion = facts.kvm_expansion.expect("KVM's expansion");
            assert_eq!(
                expansion.props.get("vendor"),
                Some(&QemuPropValue::String("GenuineIntel".to_string()))
            );
            assert_eq!(facts.signature().map(|s| s.model), Some(60));
            let provenance = &facts.provenance;
            assert!(provenance.qemu_answer);
            assert!(!provenance.host_probe && !provenance.own_cpu_dump);
        }
        // Either accelerator's list is QEMU's own answer.
        let version = QemuDefinitions::embedded().newest();
        for facts in [&kvm, &tcg] {
            let report = models_for_host(map, version, facts).expect("models");
            assert_eq!(report.source, UsabilitySource::Qemu);
        }
    }

    #[test]
    fn a_cpu_definition_is_libvirts_view_alone() {
        let map = CpuMap::embedded();
        let text = "<cpu><arch>x86_64</arch><model>Penryn</model><vendor>Intel</vendor></cpu>";
        let input = parse_host(map, text).expect("a host <cpu>");
        let facts = input.facts(Accelerator::Kvm);
        assert_eq!(facts.provenance.description, "libvirt <cpu> (host CPU)");
        assert!(facts.provenance.host_probe && !facts.provenance.qemu_answer);
        assert!(facts.qemu.is_none() && facts.cpuid.is_none());
        assert_eq!(
            facts.libvirt_cpu.and_then(|cpu| cpu.model.as_deref()),
            Some("Penryn")
        );
        // A host-model guest updated against the host CPU.
        let host_model = facts.host_model_with(None).expect("host-model");
        assert_eq!(host_model.cpu_type, CpuType::Guest);
        assert_eq!(host_model.model.as_deref(), Some("Penryn"));
        assert_eq!(facts.hypervisor_models(), None);
    }
}
