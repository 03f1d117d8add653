//! The engine's view of any host input: a libvirt `<cpu>` definition or a host
//! dump in any format [`crate::dump`] reads.
//!
//! Whatever the user hands in, the questions asked of a host are the same: what
//! host CPU libvirt would report (`virsh capabilities`), what the host-model
//! guest CPU is (`virsh domcapabilities`), which named models the hypervisor
//! can run, and the CPU signature. [`HostInput`] answers them from the best
//! source the input has, in the order libvirt itself prefers: QEMU's own
//! answers over a raw CPUID decode, and a raw decode over a CPU definition
//! that was already decoded elsewhere.

use std::fmt;
use std::sync::OnceLock;

use crate::cpudef::{CpuDef, CpuMode, CpuType, Policy};
use crate::cpuid::{CpuidData, Signature};
use crate::data::CpuMap;
use crate::dump::{self, DumpFormat, HostDump, QemuPropValue, MAX_DUMP_BYTES};
use crate::error::CpuError;
use crate::featureset::FeatureSet;
use crate::libvirt::decode::{guest_cpu_from_signals, host_cpu_from_cpuid};
use crate::libvirt::host_model::{host_model_from_qmp, hypervisor_models};
use crate::libvirt::update::update;
use crate::libvirt::{model_data, CpuSignals, HypervisorModel, PolicySelector};
use crate::xml;

/// A host input that cannot be read, with the byte offset of the problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError {
    /// Byte offset into the input.
    pub offset: usize,
    /// What is wrong, lowercase, without a trailing period.
    pub message: String,
}

impl InputError {
    /// The 1-based line and column (in characters) of the error in `text`.
    pub fn line_column(&self, text: &str) -> (usize, usize) {
        xml::line_column(text, self.offset)
    }

    /// The error as `line:column: message`, for people.
    pub fn render(&self, text: &str) -> String {
        let (line, column) = self.line_column(text);
        format!("{line}:{column}: {}", self.message)
    }
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for InputError {}

impl From<dump::ParseError> for InputError {
    fn from(error: dump::ParseError) -> Self {
        InputError {
            offset: error.offset,
            message: error.message,
        }
    }
}

impl From<xml::XmlError> for InputError {
    fn from(error: xml::XmlError) -> Self {
        InputError {
            offset: error.offset,
            message: error.message,
        }
    }
}

/// Where a [`HostInput`]'s facts come from.
#[derive(Debug, Clone)]
enum HostSource {
    /// A `<cpu>` definition: a host CPU (`<arch>`) or a guest CPU such as the
    /// host-model of domain capabilities.
    Definition(Box<CpuDef>),
    /// A host dump in one of [`dump`]'s formats.
    Dump(Box<DumpFacts>),
}

/// A parsed dump with its embedded `<cpu>` (capabilities, domcapabilities)
/// already read, so that no later question can fail on syntax.
#[derive(Debug, Clone)]
struct DumpFacts {
    dump: HostDump,
    cpu: Option<CpuDef>,
}

/// Any host input, ready to answer the engine's questions about the host.
#[derive(Debug, Clone)]
pub struct HostInput<'m> {
    map: &'m CpuMap,
    source: HostSource,
    /// [`HostInput::host_cpu`], decoded on first use: the check and the
    /// batch ask for it several times per host.
    decoded_host_cpu: OnceLock<Result<CpuDef, CpuError>>,
}

/// Reads a host input: a libvirt `<cpu>` XML (host or guest type) or any dump
/// format [`dump::parse`] recognises.
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
    if let Some(definition) = parse_cpu_definition(text)? {
        return Ok(HostInput {
            map,
            source: HostSource::Definition(Box::new(definition)),
            decoded_host_cpu: OnceLock::new(),
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
            dump.cpuid = dump::qmp::props_to_cpuid(&expansion.props, map);
        }
        if dump.format == DumpFormat::ProcCpuinfo {
            dump = dump::proc_cpuinfo::parse(text, map)?;
        }
    }
    let cpu = dump
        .host_cpu_xml
        .as_ref()
        .map(CpuDef::from_element)
        .transpose()?;
    Ok(HostInput {
        map,
        source: HostSource::Dump(Box::new(DumpFacts { dump, cpu })),
        decoded_host_cpu: OnceLock::new(),
    })
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
    /// What the input is, for people, e.g. `libvirt <cpu> (host CPU)` or
    /// `cpuid -r, CPU 0 of 16`.
    pub fn format(&self) -> String {
        match &self.source {
            HostSource::Definition(cpu) => match cpu.cpu_type {
                CpuType::Host => "libvirt <cpu> (host CPU)".to_string(),
                CpuType::Guest => "libvirt <cpu> (guest CPU)".to_string(),
            },
            HostSource::Dump(facts) => facts.dump.description.clone(),
        }
    }

    /// The dump format, `None` for a `<cpu>` definition.
    pub fn dump_format(&self) -> Option<DumpFormat> {
        match &self.source {
            HostSource::Definition(_) => None,
            HostSource::Dump(facts) => Some(facts.dump.format),
        }
    }

    /// The parsed dump, `None` for a `<cpu>` definition.
    pub fn dump(&self) -> Option<&HostDump> {
        match &self.source {
            HostSource::Definition(_) => None,
            HostSource::Dump(facts) => Some(&facts.dump),
        }
    }

    /// Notes about the input worth showing (e.g. unknown `/proc/cpuinfo` flags).
    pub fn notes(&self) -> &[String] {
        match &self.source {
            HostSource::Definition(_) => &[],
            HostSource::Dump(facts) => &facts.dump.notes,
        }
    }

    /// The host CPU libvirt would report: the `<cpu>` itself, the host `<cpu>`
    /// of `virsh capabilities`, or the decode of the raw CPUID data as in
    /// cputest's `-host.xml`. Domain capabilities have no host CPU of their
    /// own; their host-model stands in for it.
    pub fn host_cpu(&self) -> Result<CpuDef, CpuError> {
        self.decoded_host_cpu
            .get_or_init(|| self.decode_host_cpu())
            .clone()
    }

    fn decode_host_cpu(&self) -> Result<CpuDef, CpuError> {
        match &self.source {
            HostSource::Definition(cpu) => Ok(cpu.as_ref().clone()),
            HostSource::Dump(facts) => {
                if facts.dump.format == DumpFormat::Capabilities {
                    if let Some(cpu) = &facts.cpu {
                        return Ok(cpu.clone());
                    }
                }
                if !facts.dump.cpuid.is_empty() {
                    return host_cpu_from_cpuid(self.map, &facts.dump.cpuid);
                }
                facts.cpu.clone().ok_or_else(no_cpu_data)
            }
        }
    }

    /// The host-model guest CPU, with the hypervisor's model list when the input
    /// has one (as libvirt's daemon decodes it).
    pub fn host_model(&self) -> Result<CpuDef, CpuError> {
        let models = self.hypervisor_models();
        self.host_model_with(models.as_deref())
    }

    /// The host-model guest CPU decoded with `allowed` as the hypervisor's
    /// models (`None`: every model): from QMP replies as cputest's
    /// `-json.xml`, from raw CPUID as its `-guest.xml`, from domain
    /// capabilities as they say. A host CPU definition (or capabilities)
    /// becomes a guest CPU the way libvirt turns a `host-model` guest into its
    /// host (spec 6.2).
    pub fn host_model_with(&self, allowed: Option<&[HypervisorModel]>) -> Result<CpuDef, CpuError> {
        match &self.source {
            HostSource::Definition(cpu) => self.host_model_of_definition(cpu),
            HostSource::Dump(facts) => {
                if let Some(expansion) = facts
                    .dump
                    .qemu
                    .as_ref()
                    .and_then(|qemu| qemu.expansion.as_ref())
                {
                    return host_model_from_qmp(self.map, &expansion.props, allowed);
                }
                if facts.dump.format == DumpFormat::DomainCapabilities {
                    if let Some(cpu) = &facts.cpu {
                        return Ok(cpu.clone());
                    }
                }
                if !facts.dump.cpuid.is_empty() {
                    let signals = CpuSignals::from_cpuid(self.map, &facts.dump.cpuid);
                    return guest_cpu_from_signals(self.map, &signals, allowed);
                }
                match &facts.cpu {
                    Some(cpu) => self.host_model_of_definition(cpu),
                    None => Err(no_cpu_data()),
                }
            }
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

    /// The models the hypervisor reports, with usability and blockers: from
    /// `query-cpu-definitions` or from domain capabilities. `None` when the
    /// input says nothing about them.
    pub fn hypervisor_models(&self) -> Option<Vec<HypervisorModel>> {
        let HostSource::Dump(facts) = &self.source else {
            return None;
        };
        if let Some(definitions) = facts
            .dump
            .qemu
            .as_ref()
            .and_then(|qemu| qemu.definitions.as_ref())
        {
            return Some(hypervisor_models(definitions));
        }
        facts.dump.domcaps_models.as_ref().map(|models| {
            models
                .iter()
                .map(|model| HypervisorModel {
                    name: model.name.clone(),
                    usable: model.usable,
                    blockers: model.blockers.clone(),
                    deprecated: model.deprecated,
                })
                .collect()
        })
    }

    /// The CPU signature: from raw CPUID leaf 1, else from QEMU's `family`,
    /// `model` and `stepping`, else from a definition's `<signature>`. `None`
    /// when the input does not say.
    pub fn signature(&self) -> Option<Signature> {
        let from_definition = |cpu: &CpuDef| {
            cpu.signature.map(|(family, model, stepping)| Signature {
                family,
                model,
                stepping,
            })
        };
        match &self.source {
            HostSource::Definition(cpu) => from_definition(cpu),
            HostSource::Dump(facts) => {
                if let Some(expansion) = facts
                    .dump
                    .qemu
                    .as_ref()
                    .and_then(|qemu| qemu.expansion.as_ref())
                {
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
                if facts.dump.cpuid.get(leaf1).is_some() {
                    return Some(facts.dump.cpuid.signature());
                }
                facts.cpu.as_ref().and_then(from_definition)
            }
        }
    }

    /// The raw CPUID data, empty for a definition.
    pub fn cpuid(&self) -> CpuidData {
        match &self.source {
            HostSource::Definition(_) => CpuidData::new(),
            HostSource::Dump(facts) => facts.dump.cpuid.clone(),
        }
    }

    /// Every map feature the input describes: the features present in raw
    /// CPUID data (such as QEMU's `-enabled.xml`), or all of a definition's.
    pub fn cpuid_features(&self) -> FeatureSet {
        match &self.source {
            HostSource::Definition(cpu) => model_data(self.map, cpu, PolicySelector::All)
                .map(|data| data.features)
                .unwrap_or_default(),
            HostSource::Dump(facts) => self.map.features_in(&facts.dump.cpuid),
        }
    }
}

fn no_cpu_data() -> CpuError {
    CpuError::invalid_argument("the input has no host CPU data")
}
