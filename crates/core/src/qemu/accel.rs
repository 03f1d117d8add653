//! What an accelerator (KVM or TCG) can give a guest on a given host, and why
//! it cannot give the rest.
//!
//! The facts come from `data/accel/{kvm,tcg}.json` (written by `cargo xtask
//! gen-accel`, embedded here in `build.rs`'s packed form). Names there are QEMU's; a name ending in `*`
//! stands for every feature with that prefix. How a feature's availability is
//! decided, first matching rule wins:
//!
//! * **TCG**: the host does not matter. The fixed `supported` set (QEMU 10.0's
//!   TCG masks) minus everything the probed QEMU version reported TCG could
//!   not give any of its models (older QEMUs support less, e.g. `x2apic` is
//!   missing in 7.2).
//! * **KVM, raw host CPUID**: `never` features are never there; for a
//!   `requires_nested` feature the host must have it and its `requires`
//!   (nested virtualisation itself is assumed on, the kernel default);
//!   `emulated` features always are; `host_conditional` features need the host
//!   bit and their `requires` host features; `host_derived` features need any
//!   of `requires_any` on the host; `msr` features need the bit in the host's
//!   feature MSR (for `vmx-*`: assumed present when the dump has no VMX MSRs
//!   and the host has `vmx`); everything else is passed through from the host.
//! * **KVM, QEMU's own `host` expansion**: its `true` properties are what KVM
//!   supports, plus the `emulated` features whose rule has no condition (the
//!   `host` model may show `topoext` off, yet QEMU gives it to named models);
//!   otherwise the facts only explain why a feature is missing.

use std::fmt;
use std::sync::OnceLock;

use serde::Serialize;

use super::definitions::QemuVersion;
use crate::cpuid::{CpuidData, DataKey, Signature};
use crate::data::{libvirt_to_qemu, CpuMap, FeatureId, Packed, VendorId};
use crate::domain::Accelerator;
use crate::dump::{HostDump, QemuExpansion, QemuPropValue};
use crate::featureset::FeatureSet;
use crate::host::HostInput;
use crate::json;
use crate::libvirt::{model_data, PolicySelector};

/// What a rule of the accelerator facts says about its features; written by
/// `cargo xtask gen-accel` (through `Serialize`), read here ([`RuleKind::from_name`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleKind {
    /// Available whatever the host CPUID says.
    Emulated,
    /// Never available under this accelerator.
    Never,
    /// Passed from the host, but only under an extra condition (see `condition`;
    /// `requires` lists host features that must be present too).
    HostConditional,
    /// Set from other host features rather than from the same bit
    /// (available when the host has any of `requires_any`).
    HostDerived,
    /// Passed from the host only when nested virtualisation is enabled.
    RequiresNested,
    /// Cleared by QEMU, without a warning, unless the guest CPU has every `requires` feature.
    RequiresGuestFeature,
    /// Passed from the host, but QEMU blocks migration while it is on.
    Unmigratable,
    /// Set on by QEMU in every built-in model under this accelerator.
    DefaultOn,
    /// Set off by QEMU in every built-in model under this accelerator.
    DefaultOff,
    /// The complete set this accelerator can provide, independent of the host.
    Supported,
    /// A bit of a feature MSR; `condition` says how KVM fills it.
    Msr,
}

impl RuleKind {
    /// Every kind.
    pub const ALL: [RuleKind; 11] = [
        RuleKind::Emulated,
        RuleKind::Never,
        RuleKind::HostConditional,
        RuleKind::HostDerived,
        RuleKind::RequiresNested,
        RuleKind::RequiresGuestFeature,
        RuleKind::Unmigratable,
        RuleKind::DefaultOn,
        RuleKind::DefaultOff,
        RuleKind::Supported,
        RuleKind::Msr,
    ];

    /// The kind's name in the facts files, e.g. `host_conditional`.
    pub fn name(self) -> &'static str {
        match self {
            RuleKind::Emulated => "emulated",
            RuleKind::Never => "never",
            RuleKind::HostConditional => "host_conditional",
            RuleKind::HostDerived => "host_derived",
            RuleKind::RequiresNested => "requires_nested",
            RuleKind::RequiresGuestFeature => "requires_guest_feature",
            RuleKind::Unmigratable => "unmigratable",
            RuleKind::DefaultOn => "default_on",
            RuleKind::DefaultOff => "default_off",
            RuleKind::Supported => "supported",
            RuleKind::Msr => "msr",
        }
    }

    /// Parses [`RuleKind::name`] back.
    pub fn from_name(name: &str) -> Option<RuleKind> {
        RuleKind::ALL.into_iter().find(|kind| kind.name() == name)
    }
}

/// A set of QEMU feature names resolved against libvirt's map, keeping the
/// original names (and `*` patterns) for QEMU-only features.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeaturePattern {
    /// The map features the names stand for.
    pub features: FeatureSet,
    names: Vec<String>,
}

impl FeaturePattern {
    fn resolve(map: &CpuMap, names: &[String]) -> Self {
        let mut features = FeatureSet::new();
        for (index, feature) in map.features().iter().enumerate() {
            let qemu_name = libvirt_to_qemu(&feature.name);
            let matches = |pattern: &String| match pattern.strip_suffix('*') {
                Some(prefix) => qemu_name.starts_with(prefix),
                None => {
                    pattern == qemu_name
                        || pattern == &feature.name
                        || feature.qemu_aliases.iter().any(|a| a == pattern)
                }
            };
            if names.iter().any(matches) {
                if let Some(id) = map.feature_id(&feature.name) {
                    debug_assert_eq!(id.index(), index);
                    features.insert(id);
                }
            }
        }
        FeaturePattern {
            features,
            names: names.to_vec(),
        }
    }

    /// Whether a QEMU-only name is covered by the patterns.
    pub fn matches_qemu_name(&self, qemu_name: &str) -> bool {
        self.names
            .iter()
            .any(|pattern| match pattern.strip_suffix('*') {
                Some(prefix) => qemu_name.starts_with(prefix),
                None => pattern == qemu_name,
            })
    }
}

/// One fact about an accelerator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccelRule {
    pub kind: RuleKind,
    pub features: FeaturePattern,
    /// Features that must be present as well (on the host, or in the guest
    /// for [`RuleKind::RequiresGuestFeature`]).
    pub requires: FeatureSet,
    /// For [`RuleKind::HostDerived`]: any one of these on the host suffices.
    pub requires_any: FeatureSet,
    pub condition: String,
}

/// Everything known about one accelerator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccelFacts {
    pub accel: Accelerator,
    /// Set on in every built-in model before the user's flags.
    pub default_on: FeatureSet,
    /// Set off in every built-in model before the user's flags.
    pub default_off: FeatureSet,
    pub emulated: FeaturePattern,
    pub never: FeaturePattern,
    /// Whether a feature must be in the host CPU (KVM) or not (TCG).
    pub passthrough_requires_host: bool,
    /// TCG: the complete set it can provide (QEMU 10.0).
    pub supported: FeaturePattern,
    pub rules: Vec<AccelRule>,
    /// For each rule kind, the index in `rules` of the first rule naming
    /// each feature (by feature index), so that [`AccelFacts::rule_for`]
    /// does not scan the rules for every feature of every host.
    first_rule_by_kind: Vec<(RuleKind, Vec<Option<usize>>)>,
}

/// `data/accel/*.json`, mirrored for reading only.
struct AccelFile {
    accel: String,
    default_off: Vec<String>,
    default_on: Vec<String>,
    emulated: Vec<String>,
    never: Vec<String>,
    passthrough_requires_host: bool,
    rules: Vec<RuleEntry>,
    supported: Vec<String>,
}

struct RuleEntry {
    kind: RuleKind,
    features: Vec<String>,
    requires: Vec<String>,
    requires_any: Vec<String>,
    condition: String,
}

impl AccelFile {
    fn from_value(root: &json::Value<'_>) -> Result<AccelFile, json::Error> {
        let root = root.object()?;
        let rules = root
            .field("rules")?
            .array()?
            .iter()
            .map(|rule| {
                let kind = rule.object()?.field("kind")?;
                let rule = rule.object()?;
                Ok(RuleEntry {
                    kind: RuleKind::from_name(kind.string()?).ok_or_else(|| {
                        json::Error::new(kind.offset, "unknown rule kind".to_owned())
                    })?,
                    features: rule.field("features")?.strings()?,
                    requires: rule.strings_or_empty("requires")?,
                    requires_any: rule.strings_or_empty("requires_any")?,
                    condition: rule.optional_string("condition")?.unwrap_or_default(),
                })
            })
            .collect::<Result<_, json::Error>>()?;
        Ok(AccelFile {
            accel: root.string("accel")?,
            default_off: root.field("default_off")?.strings()?,
            default_on: root.field("default_on")?.strings()?,
            emulated: root.field("emulated")?.strings()?,
            never: root.field("never")?.strings()?,
            passthrough_requires_host: root.field("passthrough_requires_host")?.boolean()?,
            rules,
            supported: root.strings_or_empty("supported")?,
        })
    }
}

impl AccelFacts {
    /// The facts compiled into this binary, loaded on first use against the
    /// newest CPU map (feature ids are shared by every release's map).
    pub fn embedded(accel: Accelerator) -> &'static AccelFacts {
        static KVM: OnceLock<AccelFacts> = OnceLock::new();
        static TCG: OnceLock<AccelFacts> = OnceLock::new();
        let cell = match accel {
            Accelerator::Kvm => &KVM,
            Accelerator::Tcg => &TCG,
        };
        cell.get_or_init(|| {
            let file = Packed::file(&format!("accel/{}.json", accel.as_str()));
            AccelFacts::from_value(CpuMap::newest(), &file).unwrap_or_else(|e| {
                panic!(
                    "the embedded data/accel/{}.json is invalid: {e}",
                    accel.as_str()
                )
            })
        })
    }

    /// Parses a file written by `cargo xtask gen-accel`.
    pub fn from_json(map: &CpuMap, text: &str) -> Result<AccelFacts, String> {
        let file = json::parse(text)
            .and_then(|root| AccelFile::from_value(&root))
            .map_err(|e| e.describe(text))?;
        AccelFacts::from_file(map, &file)
    }

    /// Reads the facts from a file's value tree (the embedded, packed form).
    pub(crate) fn from_value(map: &CpuMap, root: &json::Value<'_>) -> Result<AccelFacts, String> {
        AccelFacts::from_file(
            map,
            &AccelFile::from_value(root).map_err(|e| e.to_string())?,
        )
    }

    fn from_file(map: &CpuMap, file: &AccelFile) -> Result<AccelFacts, String> {
        let accel = Accelerator::parse(&file.accel)
            .ok_or_else(|| format!("unknown accelerator `{}`", file.accel))?;
        let rules = file
            .rules
            .iter()
            .map(|rule| AccelRule {
                kind: rule.kind,
                features: FeaturePattern::resolve(map, &rule.features),
                requires: FeaturePattern::resolve(map, &rule.requires).features,
                requires_any: FeaturePattern::resolve(map, &rule.requires_any).features,
                condition: rule.condition.clone(),
            })
            .collect::<Vec<AccelRule>>();
        let mut first_rule_by_kind: Vec<(RuleKind, Vec<Option<usize>>)> = Vec::new();
        for (index, rule) in rules.iter().enumerate() {
            let position = match first_rule_by_kind
                .iter()
                .position(|(kind, _)| *kind == rule.kind)
            {
                Some(position) => position,
                None => {
                    first_rule_by_kind.push((rule.kind, vec![None; map.features().len()]));
                    first_rule_by_kind.len() - 1
                }
            };
            let firsts = &mut first_rule_by_kind[position].1;
            for feature in rule.features.features.iter() {
                if let Some(slot) = firsts.get_mut(feature.index()) {
                    slot.get_or_insert(index);
                }
            }
        }
        Ok(AccelFacts {
            accel,
            default_on: FeaturePattern::resolve(map, &file.default_on).features,
            default_off: FeaturePattern::resolve(map, &file.default_off).features,
            emulated: FeaturePattern::resolve(map, &file.emulated),
            never: FeaturePattern::resolve(map, &file.never),
            passthrough_requires_host: file.passthrough_requires_host,
            supported: FeaturePattern::resolve(map, &file.supported),
            rules,
            first_rule_by_kind,
        })
    }

    /// The rules of one kind.
    pub fn rules_of(&self, kind: RuleKind) -> impl Iterator<Item = &AccelRule> + '_ {
        self.rules.iter().filter(move |rule| rule.kind == kind)
    }

    /// The first rule of `kind` that names `feature`.
    fn rule_for(&self, kind: RuleKind, feature: FeatureId) -> Option<&AccelRule> {
        let (_, firsts) = self.first_rule_by_kind.iter().find(|(k, _)| *k == kind)?;
        let index = (*firsts.get(feature.index())?)?;
        self.rules.get(index)
    }
}

/// What is known about the host, in one of the two forms the engine accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostFeatures {
    /// A raw CPUID (and MSR) dump: every map feature whose bits are set.
    Raw {
        features: FeatureSet,
        vendor: Option<VendorId>,
        signature: Signature,
        /// Whether the dump carries any VMX capability MSR (0x480–0x491).
        has_vmx_msrs: bool,
    },
    /// The properties of QEMU's own `host` expansion under KVM: what is `true`
    /// is exactly what KVM supports.
    QemuExpansion {
        /// The properties that are `true`.
        features: FeatureSet,
        /// Every map feature the expansion has a property for, `true` or not.
        /// A feature this QEMU has no property for cannot be in its models.
        known: FeatureSet,
    },
}

impl HostFeatures {
    /// Reads a raw CPUID/MSR dump.
    pub fn from_cpuid(map: &CpuMap, data: &CpuidData) -> HostFeatures {
        let has_vmx_msrs = data.items().any(|(key, _)| {
            matches!(
                key,
                DataKey::Msr {
                    index: 0x480..=0x491
                }
            )
        });
        HostFeatures::Raw {
            features: map.features_in(data),
            vendor: map.detect_vendor(data),
            signature: data.signature(),
            has_vmx_msrs,
        }
    }

    /// Reads QEMU's `host` model expansion (all spellings QEMU lists resolve
    /// to the same feature).
    pub fn from_expansion(map: &CpuMap, expansion: &QemuExpansion) -> HostFeatures {
        let mut features = FeatureSet::new();
        let mut known = FeatureSet::new();
        for (name, value) in &expansion.props {
            let QemuPropValue::Bool(on) = value else {
                continue;
            };
            if let Some(id) = map.feature_by_qemu_alias(name) {
                known.insert(id);
                if *on {
                    features.insert(id);
                }
            }
        }
        HostFeatures::QemuExpansion { features, known }
    }

    /// The best description a host dump allows: QEMU's expansion when there
    /// is one, else the raw CPUID; `None` when the dump has neither.
    pub fn from_dump(map: &CpuMap, dump: &HostDump) -> Option<HostFeatures> {
        if let Some(expansion) = dump.qemu.as_ref().and_then(|q| q.expansion.as_ref()) {
            return Some(HostFeatures::from_expansion(map, expansion));
        }
        (!dump.cpuid.is_empty()).then(|| HostFeatures::from_cpuid(map, &dump.cpuid))
    }

    /// What any host input offers QEMU: its own expansion of `host` when the
    /// input has it (that is exactly what KVM supports), else the raw CPUID,
    /// else the features of the host CPU definition it carries.
    pub fn from_host_input(map: &CpuMap, input: &HostInput<'_>) -> HostFeatures {
        let expansion = input
            .dump()
            .and_then(|dump| dump.qemu.as_ref()?.expansion.as_ref());
        if let Some(expansion) = expansion {
            return HostFeatures::from_expansion(map, expansion);
        }
        if let Some(host_model) = input.reported_host_model() {
            // The host-model of domain capabilities is libvirt's decode of
            // QEMU's expansion of `host`: what KVM offers, as an expansion
            // is. It does not say which properties that QEMU has.
            return HostFeatures::QemuExpansion {
                features: model_data(map, host_model, PolicySelector::All)
                    .map(|data| data.features)
                    .unwrap_or_default(),
                known: (0..map.features().len())
                    .map(FeatureId::from_index)
                    .collect(),
            };
        }
        if let Some(features) = input
            .dump()
            .and_then(|dump| HostFeatures::from_dump(map, dump))
        {
            return features;
        }
        let host_cpu = input.host_cpu().ok();
        HostFeatures::Raw {
            features: input.cpuid_features(),
            vendor: host_cpu
                .as_ref()
                .and_then(|c| c.vendor.as_deref())
                .and_then(|v| map.vendor_id(v)),
            signature: input.signature().unwrap_or_default(),
            has_vmx_msrs: false,
        }
    }

    /// The features the host itself shows.
    pub fn features(&self) -> &FeatureSet {
        match self {
            HostFeatures::Raw { features, .. } | HostFeatures::QemuExpansion { features, .. } => {
                features
            }
        }
    }
}

/// Why an accelerator cannot give a guest a feature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnavailableReason {
    /// The host CPU does not have it.
    NotInHostCpuid,
    /// QEMU's own `host` expansion has it off.
    NotInQemuHostModel,
    /// KVM never passes it to a guest.
    KvmNever,
    /// TCG cannot emulate it (in this QEMU version).
    TcgCannot,
    /// Passed through only with nested virtualisation and these host features.
    NeedsNested { host_features: Vec<String> },
    /// Needs these other host features as well.
    NeedsHostFeatures { host_features: Vec<String> },
    /// A bit of `IA32_ARCH_CAPABILITIES` the host's MSR does not have.
    NeedsArchCapabilitiesMsr,
    /// A VMX control the host's VMX capability MSRs do not allow.
    NeedsVmxCapabilityMsr,
    /// Available only under a condition that does not hold by default.
    Conditional { condition: String },
    /// QEMU itself lists it in the model's `unavailable-features` on this host.
    ReportedByQemu,
}

impl fmt::Display for UnavailableReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UnavailableReason::NotInHostCpuid => f.write_str("not in the host CPUID"),
            UnavailableReason::NotInQemuHostModel => {
                f.write_str("QEMU's host CPU model under KVM does not have it")
            }
            UnavailableReason::KvmNever => f.write_str("KVM never provides it"),
            UnavailableReason::TcgCannot => f.write_str("TCG cannot emulate it"),
            UnavailableReason::NeedsNested { host_features } => write!(
                f,
                "needs nested virtualisation and `{}` on the host",
                host_features.join("`, `")
            ),
            UnavailableReason::NeedsHostFeatures { host_features } => {
                write!(f, "needs `{}` on the host too", host_features.join("`, `"))
            }
            UnavailableReason::NeedsArchCapabilitiesMsr => {
                f.write_str("not set in the host's IA32_ARCH_CAPABILITIES MSR")
            }
            UnavailableReason::NeedsVmxCapabilityMsr => {
                f.write_str("not allowed by the host's VMX capability MSRs")
            }
            UnavailableReason::Conditional { condition } => f.write_str(condition),
            UnavailableReason::ReportedByQemu => {
                f.write_str("QEMU reports it unavailable for this model on this host")
            }
        }
    }
}

/// What an accelerator can give on a host: the supported set, and a reason
/// for every map feature outside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccelSupport {
    pub accel: Accelerator,
    pub supported: FeatureSet,
    reasons: Vec<(FeatureId, UnavailableReason)>,
}

impl AccelSupport {
    /// Why `feature` is unavailable; `None` when it is supported.
    pub fn reason(&self, feature: FeatureId) -> Option<&UnavailableReason> {
        self.reasons
            .binary_search_by_key(&feature, |(id, _)| *id)
            .ok()
            .map(|i| &self.reasons[i].1)
    }
}

/// The features `accel` can provide to a guest on `host` under QEMU `version`.
pub fn supported(
    map: &CpuMap,
    version: &QemuVersion,
    accel: Accelerator,
    host: &HostFeatures,
) -> FeatureSet {
    assess(map, version, accel, host).supported
}

/// [`supported`], with the reason for each unsupported feature.
pub fn assess(
    map: &CpuMap,
    version: &QemuVersion,
    accel: Accelerator,
    host: &HostFeatures,
) -> AccelSupport {
    let facts = AccelFacts::embedded(accel);
    let mut supported = FeatureSet::new();
    // One verdict per feature at most: no regrowing (and moving) the list.
    let mut reasons = Vec::with_capacity(map.features().len());
    let tcg_supported = tcg_supported(facts, version);
    // QEMU's `host` model can show an emulated feature off (`topoext` without
    // matching cache data) while every named model still gets it.
    let unconditionally_emulated: FeatureSet = facts
        .rules_of(RuleKind::Emulated)
        .filter(|rule| rule.condition.is_empty())
        .fold(FeatureSet::new(), |set, rule| {
            set.union(&rule.features.features)
        });
    for index in 0..map.features().len() {
        let id = FeatureId::from_index(index);
        let verdict = match accel {
            Accelerator::Tcg => {
                if tcg_supported.contains(id) {
                    Ok(())
                } else {
                    Err(UnavailableReason::TcgCannot)
                }
            }
            Accelerator::Kvm => match host {
                HostFeatures::QemuExpansion { features, .. } => {
                    if features.contains(id) || unconditionally_emulated.contains(id) {
                        Ok(())
                    } else if facts.never.features.contains(id) {
                        Err(UnavailableReason::KvmNever)
                    } else {
                        Err(UnavailableReason::NotInQemuHostModel)
                    }
                }
                HostFeatures::Raw {
                    features,
                    has_vmx_msrs,
                    ..
                } => kvm_from_cpuid(map, facts, features, *has_vmx_msrs, id),
            },
        };
        match verdict {
            Ok(()) => supported.insert(id),
            Err(reason) => reasons.push((id, reason)),
        }
    }
    AccelSupport {
        accel,
        supported,
        reasons,
    }
}

/// TCG's set for one QEMU version: the facts' set minus whatever that
/// version's TCG could not give one of its models.
fn tcg_supported(facts: &AccelFacts, version: &QemuVersion) -> FeatureSet {
    let mut set = facts.supported.features;
    for model in &version.models {
        set.subtract(&model.tcg_unavailable.known);
    }
    // `max` under TCG turns on every feature TCG reports it supports
    // (max_features, x86_cpu_expand_features); the probe expanded it under
    // TCG, so what it has, this QEMU's TCG provides.
    if let Some(max) = version.model("max") {
        set.union_with(&max.features.known);
    }
    set
}

fn names(map: &CpuMap, set: &FeatureSet) -> Vec<String> {
    map.names(set).map(str::to_string).collect()
}

/// KVM's verdict on one feature from raw host CPUID (rules in the module docs).
fn kvm_from_cpuid(
    map: &CpuMap,
    facts: &AccelFacts,
    host: &FeatureSet,
    has_vmx_msrs: bool,
    id: FeatureId,
) -> Result<(), UnavailableReason> {
    let on_host = host.contains(id);
    if facts.never.features.contains(id) {
        return Err(UnavailableReason::KvmNever);
    }
    if let Some(rule) = facts.rule_for(RuleKind::RequiresNested, id) {
        if !on_host {
            return Err(UnavailableReason::NotInHostCpuid);
        }
        if !host.is_superset(&rule.requires) {
            return Err(UnavailableReason::NeedsNested {
                host_features: names(map, &rule.requires.difference(host)),
            });
        }
        return Ok(());
    }
    if facts.emulated.features.contains(id) {
        return Ok(());
    }
    if let Some(rule) = facts.rule_for(RuleKind::HostConditional, id) {
        if !on_host {
            return Err(UnavailableReason::NotInHostCpuid);
        }
        if !host.is_superset(&rule.requires) {
            return Err(UnavailableReason::NeedsHostFeatures {
                host_features: names(map, &rule.requires.difference(host)),
            });
        }
        return Ok(());
    }
    if let Some(rule) = facts.rule_for(RuleKind::HostDerived, id) {
        let sources = if rule.requires_any.is_empty() {
            FeatureSet::single(id)
        } else {
            rule.requires_any
        };
        return if host.intersection(&sources).is_empty() {
            Err(UnavailableReason::NotInHostCpuid)
        } else {
            Ok(())
        };
    }
    let feature = map.feature(id);
    if let DataKey::Msr { index } = feature.bits.key {
        if on_host {
            return Ok(());
        }
        return match index {
            0x10a => Err(UnavailableReason::NeedsArchCapabilitiesMsr),
            0x480..=0x491 if !has_vmx_msrs && facts.rule_for(RuleKind::Msr, id).is_some() => {
                // Without the VMX MSRs in the dump, nested VMX is assumed to
                // offer what the host's `vmx` implies.
                match map.feature_id("vmx") {
                    Some(vmx) if host.contains(vmx) => Ok(()),
                    _ => Err(UnavailableReason::NotInHostCpuid),
                }
            }
            0x480..=0x491 => Err(UnavailableReason::NeedsVmxCapabilityMsr),
            _ => Err(UnavailableReason::NotInHostCpuid),
        };
    }
    if on_host {
        Ok(())
    } else {
        Err(UnavailableReason::NotInHostCpuid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::qemu::definitions::QemuDefinitions;

    fn id(map: &CpuMap, name: &str) -> FeatureId {
        map.feature_id(name)
            .unwrap_or_else(|| panic!("feature {name}"))
    }

    #[test]
    fn rule_kind_names_are_the_ones_xtask_writes() {
        for kind in RuleKind::ALL {
            let written = crate::json::to_string(&kind).expect("a unit variant");
            assert_eq!(written, format!("\"{}\"", kind.name()));
            assert_eq!(RuleKind::from_name(kind.name()), Some(kind));
        }
    }

    fn raw(features: FeatureSet) -> HostFeatures {
        HostFeatures::Raw {
            features,
            vendor: None,
            signature: Signature::default(),
            has_vmx_msrs: false,
        }
    }

    #[test]
    fn tcg_is_host_independent_and_versioned() {
        let map = CpuMap::embedded();
        let definitions = QemuDefinitions::embedded();
        let v72 = definitions.find("7.2").expect("7.2").version;
        let v10 = definitions.find("10.0").expect("10.0").version;
        let empty = raw(FeatureSet::new());
        let everything = raw(map.map_features().map(|(id, _)| id).collect());
        let on_empty = supported(map, v72, Accelerator::Tcg, &empty);
        assert_eq!(on_empty, supported(map, v72, Accelerator::Tcg, &everything));
        assert!(!on_empty.contains(id(map, "pcid")));
        assert!(!on_empty.contains(id(map, "x2apic")));
        assert!(supported(map, v10, Accelerator::Tcg, &empty).contains(id(map, "x2apic")));
        let support = assess(map, v72, Accelerator::Tcg, &empty);
        assert_eq!(
            support.reason(id(map, "pcid")),
            Some(&UnavailableReason::TcgCannot)
        );
    }

    #[test]
    fn kvm_passes_host_bits_and_applies_rules() {
        let map = CpuMap::embedded();
        let v10 = QemuDefinitions::embedded().newest();
        let host: FeatureSet = ["sse2", "avx", "ds", "pku", "svm", "npt", "amd-ssbd"]
            .iter()
            .map(|n| id(map, n))
            .collect();
        let support = assess(map, v10, Accelerator::Kvm, &raw(host));
        assert!(support.supported.contains(id(map, "avx")));
        assert!(support.supported.contains(id(map, "x2apic")), "emulated");
        assert!(support.supported.contains(id(map, "npt")), "nested");
        assert!(support.supported.contains(id(map, "ssbd")), "derived");
        assert!(!support.supported.contains(id(map, "amd-stibp")));
        assert_eq!(
            support.reason(id(map, "ds")),
            Some(&UnavailableReason::KvmNever)
        );
        assert_eq!(
            support.reason(id(map, "avx2")),
            Some(&UnavailableReason::NotInHostCpuid)
        );
        assert_eq!(
            support.reason(id(map, "pku")),
            Some(&UnavailableReason::NeedsHostFeatures {
                host_features: vec!["ospke".into()]
            })
        );
        assert_eq!(
            support.reason(id(map, "rdctl-no")),
            Some(&UnavailableReason::NeedsArchCapabilitiesMsr)
        );
        // KVM sets these ARCH_CAPABILITIES bits whatever the host's MSR holds.
        for emulated in ["pschange-mc-no", "skip-l1dfl-vmentry"] {
            assert!(support.supported.contains(id(map, emulated)), "{emulated}");
        }
        // KVM never advertises MONITOR (libvirt never asks for cpu-pm=on).
        let with_monitor = raw(FeatureSet::single(id(map, "monitor")));
        assert_eq!(
            assess(map, v10, Accelerator::Kvm, &with_monitor).reason(id(map, "monitor")),
            Some(&UnavailableReason::KvmNever)
        );
    }

    /// Linux derives `spec-ctrl` from IBPB and IBRS together: an AMD host
    /// with only IBPB (Zen 1) does not get it, one with IBRS does; Intel's
    /// `spec-ctrl` gives AMD's `ibpb` and `ibrs`.
    #[test]
    fn speculation_controls_follow_the_host_kernel() {
        let map = CpuMap::embedded();
        let v10 = QemuDefinitions::embedded().newest();
        let host = |names: &[&str]| raw(names.iter().map(|n| id(map, n)).collect());
        let zen1 = assess(map, v10, Accelerator::Kvm, &host(&["ibpb"]));
        assert!(!zen1.supported.contains(id(map, "spec-ctrl")));
        assert!(zen1.supported.contains(id(map, "ibpb")));
        let zen2 = assess(map, v10, Accelerator::Kvm, &host(&["ibpb", "ibrs"]));
        assert!(zen2.supported.contains(id(map, "spec-ctrl")));
        let intel = assess(map, v10, Accelerator::Kvm, &host(&["spec-ctrl"]));
        assert!(intel.supported.contains(id(map, "ibpb")));
        assert!(intel.supported.contains(id(map, "ibrs")));
        assert!(!intel.supported.contains(id(map, "stibp")));
    }

    #[test]
    fn expansion_is_taken_as_is() {
        let map = CpuMap::embedded();
        let v10 = QemuDefinitions::embedded().newest();
        let host = HostFeatures::QemuExpansion {
            features: FeatureSet::single(id(map, "avx")),
            known: [id(map, "avx"), id(map, "avx2")].into_iter().collect(),
        };
        let support = assess(map, v10, Accelerator::Kvm, &host);
        assert!(support.supported.contains(id(map, "avx")));
        assert!(support.supported.contains(id(map, "topoext")), "emulated");
        assert!(
            !support.supported.contains(id(map, "arch-capabilities")),
            "conditional"
        );
        assert_eq!(
            support.reason(id(map, "avx2")),
            Some(&UnavailableReason::NotInQemuHostModel)
        );
    }
}
