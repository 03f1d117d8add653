//! Engine-owned host facts: what every host input format is parsed into.
//!
//! `dump/` reads the text formats (raw CPUID dumps, QMP replies, `virsh
//! capabilities` and `domcapabilities`, `/proc/cpuinfo`) and builds these
//! types; the engine (`host`, `libvirt`, `qemu`, `check`) reads only them and
//! never the parsers, so a new format changes `dump/` alone. QEMU's answers
//! keep QEMU's own spelling (property names, `unavailable-features`), as
//! libvirt reads them; [`props_to_cpuid`] is libvirt's one reading of an
//! expansion as CPU data, shared by the parser (which synthesises the
//! registers) and the host-model.

use std::fmt;

use crate::cpuid::{vendor_registers, CpuidData, DataKey, Registers, Signature};
use crate::data::CpuMap;
use crate::xml::Element;

/// The kind of host input, as [`crate::dump::detect`] recognises it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DumpFormat {
    /// libvirt's `<cpudata arch='x86'>` XML (its own format and `cpu-data.py`'s).
    CpuDataXml,
    /// Todd Allen's `cpuid -1r` or `cpuid -r` (all CPUs; CPU 0 is used).
    CpuidTool,
    /// Linux's `tools/arch/x86/kcpuid` run as `kcpuid -r`.
    Kcpuid,
    /// QMP replies: `query-cpu-model-expansion` of `host`, optionally followed by
    /// `query-cpu-definitions`.
    Qmp,
    /// `virsh capabilities`.
    Capabilities,
    /// `virsh domcapabilities`.
    DomainCapabilities,
    /// Linux's `/proc/cpuinfo`.
    ProcCpuinfo,
}

impl DumpFormat {
    pub const ALL: [DumpFormat; 7] = [
        DumpFormat::CpuidTool,
        DumpFormat::Kcpuid,
        DumpFormat::CpuDataXml,
        DumpFormat::Qmp,
        DumpFormat::Capabilities,
        DumpFormat::DomainCapabilities,
        DumpFormat::ProcCpuinfo,
    ];

    /// A short human description, e.g. `libvirt cpudata XML`.
    pub fn description(self) -> &'static str {
        match self {
            DumpFormat::CpuDataXml => "libvirt cpudata XML",
            DumpFormat::CpuidTool => "cpuid -r",
            DumpFormat::Kcpuid => "kcpuid -r",
            DumpFormat::Qmp => "QMP replies",
            DumpFormat::Capabilities => "virsh capabilities",
            DumpFormat::DomainCapabilities => "virsh domcapabilities",
            DumpFormat::ProcCpuinfo => "/proc/cpuinfo",
        }
    }
}

impl fmt::Display for DumpFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.description())
    }
}

/// Everything one host input says about the host CPU, in the engine's types.
#[derive(Debug, Clone, PartialEq)]
pub struct HostDump {
    pub format: DumpFormat,
    /// The input described for people, with what was taken from it, e.g.
    /// `cpuid -r, CPU 0 of 16` or `QMP replies (model expansion + 42 CPU definitions)`.
    pub description: String,
    /// Raw CPUID/MSR items, real or synthesised (empty when the format has none),
    /// with the APIC-ID bits masked as libvirt's `cpu-data.py` does.
    pub cpuid: CpuidData,
    /// QEMU's view of the host, from QMP replies.
    pub qemu: Option<QemuReplies>,
    /// The host CPU as libvirt shows it, as a `<cpu>` element ready for
    /// [`crate::CpuDef::from_element`]: the host CPU of `virsh capabilities`
    /// (host type, with `<arch>`), or the host-model CPU of `virsh
    /// domcapabilities` rewritten as `<cpu mode='custom' match='exact'>`.
    pub host_cpu_xml: Option<Element>,
    /// The custom-mode CPU models of `virsh domcapabilities` with their usability.
    pub domcaps_models: Option<Vec<ModelUsability>>,
    /// Things worth telling the user about the input, e.g. unknown flags.
    pub notes: Vec<String>,
}

impl HostDump {
    /// An input of `format` that says nothing yet; each parser fills it in.
    pub(crate) fn new(format: DumpFormat) -> Self {
        HostDump {
            format,
            description: format.description().to_owned(),
            cpuid: CpuidData::new(),
            qemu: None,
            host_cpu_xml: None,
            domcaps_models: None,
            notes: Vec::new(),
        }
    }
}

/// The value of one CPU property in a model expansion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QemuPropValue {
    Bool(bool),
    /// Any JSON integer (QEMU uses both signed and unsigned 64-bit properties).
    Integer(i128),
    String(String),
    /// Fractions, objects, arrays and null, which libvirt ignores.
    Other,
}

/// The properties of a model expansion by name, in name order (as libvirt
/// walks them). An expansion has a few hundred; a vector sorted by name holds
/// them in less code than a map (the web app's download).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QemuProps(Vec<(String, QemuPropValue)>);

impl QemuProps {
    /// Where the property `name` is, or where it would go.
    fn position(&self, name: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|(key, _)| key.as_str().cmp(name))
    }

    pub fn get(&self, name: &str) -> Option<&QemuPropValue> {
        let at = self.position(name).ok()?;
        Some(&self.0[at].1)
    }

    /// Sets the property `name`, replacing its value if it has one.
    pub fn insert(&mut self, name: String, value: QemuPropValue) {
        match self.position(&name) {
            Ok(at) => self.0[at].1 = value,
            Err(at) => self.0.insert(at, (name, value)),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &QemuPropValue)> + '_ {
        self.0.iter().map(|(name, value)| (name, value))
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&String, &mut QemuPropValue)> + '_ {
        self.0.iter_mut().map(|(name, value)| (&*name, value))
    }

    pub fn keys(&self) -> impl Iterator<Item = &String> + '_ {
        self.0.iter().map(|(name, _)| name)
    }

    /// Keeps the properties `keep` is true for.
    pub fn retain(&mut self, mut keep: impl FnMut(&String, &mut QemuPropValue) -> bool) {
        self.0.retain_mut(|(name, value)| keep(name, value));
    }
}

impl<'a> IntoIterator for &'a QemuProps {
    type Item = (&'a String, &'a QemuPropValue);
    type IntoIter = std::iter::Map<
        std::slice::Iter<'a, (String, QemuPropValue)>,
        fn(&'a (String, QemuPropValue)) -> (&'a String, &'a QemuPropValue),
    >;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter().map(|(name, value)| (name, value))
    }
}

/// A repeated name keeps its last value, as in a JSON object read by `JSON.parse`.
impl FromIterator<(String, QemuPropValue)> for QemuProps {
    fn from_iter<I: IntoIterator<Item = (String, QemuPropValue)>>(props: I) -> Self {
        let mut props: Vec<(String, QemuPropValue)> = props.into_iter().collect();
        crate::sort::sort_by(&mut props, |a, b| a.0.cmp(&b.0));
        // `later` goes when it repeats `earlier`'s name, after giving it its value.
        props.dedup_by(|later, earlier| {
            let repeated = later.0 == earlier.0;
            if repeated {
                std::mem::swap(&mut later.1, &mut earlier.1);
            }
            repeated
        });
        QemuProps(props)
    }
}

/// The reply of `query-cpu-model-expansion`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QemuExpansion {
    /// The model the expansion is based on (`base` for a static expansion).
    pub model_name: String,
    /// The properties; those in [`Self::non_migratable`] are set `true`.
    pub props: QemuProps,
    /// Properties `false` in the migratable expansion but `true` when QEMU
    /// was asked for `migratable: false` (libvirt marks them
    /// `migratable='no'` and leaves them out of the migratable host-model).
    /// In name order.
    pub non_migratable: Vec<String>,
}

/// One entry of `query-cpu-definitions`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QemuCpuDefinition {
    pub name: String,
    pub typename: Option<String>,
    /// QEMU's feature names that block the model on this host; `None` when QEMU
    /// did not say, which libvirt reports as `usable='unknown'`.
    pub unavailable_features: Option<Vec<String>>,
    pub deprecated: bool,
    /// The versioned model this name is an alias of, e.g. `Haswell-v1`.
    pub alias_of: Option<String>,
    pub is_static: bool,
    pub migration_safe: Option<bool>,
}

/// Everything the QMP replies said.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QemuReplies {
    pub expansion: Option<QemuExpansion>,
    pub definitions: Option<Vec<QemuCpuDefinition>>,
    /// TCG's answers (its `max` expansion and model list) when the input also
    /// holds a run of QEMU under TCG, as libvirt's captures do.
    pub tcg: Option<Box<QemuReplies>>,
}

/// Builds CPU data from model-expansion props as libvirt does: every boolean
/// property that is `true` and names a feature through libvirt's fixed
/// QEMU→libvirt translation adds that feature's bits (unknown names are
/// ignored), `vendor` becomes leaf 0, and `family`, `model` and `stepping`
/// become leaf 1 `eax`. Everything else is ignored (spec 8.1; libvirt's
/// `virQEMUCapsInitCPUModelX86`, `src/qemu/qemu_capabilities.c`).
pub fn props_to_cpuid(props: &QemuProps, map: &CpuMap) -> CpuidData {
    let mut data = CpuidData::new();
    let mut signature = Signature::default();
    for (name, value) in props {
        match (name.as_str(), value) {
            (_, QemuPropValue::Bool(true)) => {
                if let Some(id) = map.feature_by_qemu_name(name) {
                    let bits = map.feature(id).bits;
                    data.add(bits.key, bits.registers);
                }
            }
            ("vendor", QemuPropValue::String(vendor)) => {
                if let Some(registers) = vendor_registers(vendor) {
                    data.add(
                        DataKey::Cpuid {
                            leaf: 0,
                            subleaf: 0,
                        },
                        registers,
                    );
                }
            }
            ("family", QemuPropValue::Integer(n)) => {
                signature.family = u32::try_from(*n).unwrap_or(0)
            }
            ("model", QemuPropValue::Integer(n)) => {
                signature.model = u32::try_from(*n).unwrap_or(0)
            }
            ("stepping", QemuPropValue::Integer(n)) => {
                signature.stepping = u32::try_from(*n).unwrap_or(0)
            }
            _ => {}
        }
    }
    data.add(
        DataKey::Cpuid {
            leaf: 1,
            subleaf: 0,
        },
        Registers([signature.to_eax(), 0, 0, 0]),
    );
    data
}

/// Whether QEMU can run a model, as `query-cpu-definitions` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Usability {
    Yes,
    No,
    Unknown,
}

impl Usability {
    pub fn as_str(self) -> &'static str {
        match self {
            Usability::Yes => "yes",
            Usability::No => "no",
            Usability::Unknown => "unknown",
        }
    }
}

/// One custom-mode CPU model of the domain capabilities.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelUsability {
    pub name: String,
    pub usable: Usability,
    /// Features (libvirt names) that the host lacks for this model.
    pub blockers: Vec<String>,
    pub deprecated: bool,
    /// The versioned model this one is a copy of, e.g. `Haswell-v1`.
    pub canonical: Option<String>,
    pub vendor: Option<String>,
}
