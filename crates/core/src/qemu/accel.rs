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
//!   and the host has `vmx`); `mpx` also needs the host's XCR0 and VMX
//!   controls, which the dump may show lacking (`mpx_withheld`) and else
//!   are assumed, said in a note ([`mpx_assumed`]); everything else is
//!   passed through from the host.
//! * **KVM, QEMU's own `host` expansion**: its `true` properties are what KVM
//!   supports, plus the `emulated` features whose rule has no condition (the
//!   `host` model may show `topoext` off, yet QEMU gives it to named models);
//!   otherwise the facts only explain why a feature is missing.
//!
//! What running domains' starts showed about the host's KVM
//! ([`KvmEvidence`], [`AccelSupport::apply_kvm_evidence`]) comes after, in
//! this order of precedence: QEMU's own answer in the input (its expansion,
//! or the host-model of domain capabilities) first, then what the starts
//! showed, then the prediction from CPUID. Evidence that contradicts QEMU's
//! answer, or starts that contradict each other, are reported and change
//! nothing.

use std::fmt;

pub use super::accel_facts::{AccelFacts, AccelRule, FeaturePattern, RuleKind};
use super::definitions::QemuVersion;
use crate::cpuid::{CpuidData, DataKey, Register, Signature};
use crate::data::{CpuMap, FeatureId, VendorId};
use crate::domain::Accelerator;
use crate::facts::{QemuExpansion, QemuPropValue};
use crate::featureset::FeatureSet;
use crate::host::{HostFacts, KvmEvidence, KvmFact};
use crate::libvirt::{model_data, PolicySelector};

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
        /// Why KVM cannot give the host's `mpx`, when the dump shows it
        /// (`mpx_withheld`); `None` when it cannot tell.
        mpx_withheld: Option<UnavailableReason>,
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
            mpx_withheld: mpx_withheld(data),
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

    /// What a host offers QEMU, from its facts: QEMU's own expansion of
    /// `host` under KVM when the input has it (that is exactly what KVM
    /// supports), else the host-model domain capabilities reported, else
    /// the raw CPUID, else the features of libvirt's host CPU.
    pub fn from_facts(map: &CpuMap, facts: &HostFacts<'_>) -> HostFeatures {
        if let Some(expansion) = facts.kvm_expansion {
            return HostFeatures::from_expansion(map, expansion);
        }
        if let Some(host_model) = facts.reported_host_model {
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
        if let Some(cpuid) = facts.cpuid {
            return HostFeatures::from_cpuid(map, cpuid);
        }
        let host_cpu = facts.host_cpu().ok();
        HostFeatures::Raw {
            features: facts.cpuid_features(),
            vendor: host_cpu
                .as_ref()
                .and_then(|c| c.vendor.as_deref())
                .and_then(|v| map.vendor_id(v)),
            signature: facts.signature().unwrap_or_default(),
            has_vmx_msrs: false,
            mpx_withheld: None,
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
    /// A running domain's start showed KVM does not offer it; `seen` says
    /// where ("QEMU warned when starting domain web1").
    NotOfferedAtStart { seen: String },
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
            UnavailableReason::NotOfferedAtStart { seen } => {
                write!(f, "this host's KVM does not offer it: {seen}")
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

    /// Joins what running domains' starts showed (`evidence`) into KVM's
    /// verdict on `host`, by the precedence of the module docs, and says
    /// what it changed and what it could not settle, one line each. TCG's
    /// verdict does not depend on the host's KVM and is left alone.
    pub fn apply_kvm_evidence(
        &mut self,
        map: &CpuMap,
        host: &HostFeatures,
        evidence: &KvmEvidence,
    ) -> Vec<String> {
        if self.accel != Accelerator::Kvm {
            return Vec::new();
        }
        let settled = evidence.settle();
        let answered_by_qemu = matches!(host, HostFeatures::QemuExpansion { .. });
        let standing = if answered_by_qemu {
            "QEMU's answer in the host input stands"
        } else {
            "the prediction from CPUID stands"
        };
        let mut notes = Vec::new();
        for feature in map.in_map_order(&settled.disputed) {
            let said = |offered: bool| {
                evidence
                    .seen(feature, offered)
                    .map_or_else(String::new, |fact| fact.seen.clone())
            };
            notes.push(format!(
                "conflict: the starts disagree on `{}` (offered: {}; not offered: {}); {standing}",
                map.feature(feature).name,
                said(true),
                said(false)
            ));
        }
        let gained = settled.offered.difference(&self.supported);
        let lost = settled.withheld.intersection(&self.supported);
        for (set, offered) in [(gained, true), (lost, false)] {
            for feature in map.in_map_order(&set) {
                let Some(fact) = evidence.seen(feature, offered) else {
                    continue;
                };
                let name = &map.feature(feature).name;
                if answered_by_qemu {
                    notes.push(format!(
                        "conflict: {}, but QEMU's answer in the host input says it {}; QEMU's answer is kept",
                        fact_line(name, fact),
                        if offered { "does not" } else { "does" }
                    ));
                    continue;
                }
                if offered {
                    self.supported.insert(feature);
                    self.reasons.retain(|(id, _)| *id != feature);
                } else {
                    self.supported.remove(feature);
                    let at = self
                        .reasons
                        .binary_search_by_key(&feature, |(id, _)| *id)
                        .unwrap_or_else(|at| at);
                    self.reasons.insert(
                        at,
                        (
                            feature,
                            UnavailableReason::NotOfferedAtStart {
                                seen: fact.seen.clone(),
                            },
                        ),
                    );
                }
                notes.push(format!(
                    "{} (predicted from CPUID: {})",
                    fact_line(name, fact),
                    if offered { "not offered" } else { "offered" }
                ));
            }
        }
        notes
    }
}

/// The map features QEMU's `host` and `max` leave off unless asked,
/// whatever the accelerator offers: the `no_autoenable_flags` of their
/// feature words (`ht` and `topoext`; the KVM hints are internal features),
/// skipped by `max_features` in `x86_cpu_expand_features`, QEMU's
/// target/i386/cpu.c. KVM gives `topoext` whenever asked
/// (`kvm_arch_get_supported_cpuid`), yet no host-model has it.
pub const NOT_AUTO_ENABLED: [&str; 2] = ["ht", "topoext"];

/// The map features QEMU gives only a vCPU of AMD's: for any other vendor
/// `x86_cpu_get_supported_feature_word` (QEMU's target/i386/cpu.c) makes
/// CPUID 0x80000007 EBX unavailable, although `kvm_arch_get_supported_cpuid`
/// adds both bits to what KVM offers on every host.
pub const AMD_ONLY: [&str; 2] = ["overflow-recov", "succor"];

/// What QEMU's `host` leaves off a vCPU of `vendor` whatever KVM offers
/// ([`NOT_AUTO_ENABLED`], and [`AMD_ONLY`] for any other vendor): taken out
/// of the host-model predicted from a raw dump, which libvirt would read
/// from that expansion.
pub fn host_leaves_off(map: &CpuMap, vendor: Option<VendorId>) -> FeatureSet {
    let amd = vendor.is_some() && vendor == map.vendor_id("AMD");
    NOT_AUTO_ENABLED
        .iter()
        .chain(AMD_ONLY.iter().filter(|_| !amd))
        .filter_map(|name| map.feature_id(name))
        .collect()
}

/// How the lines [`AccelSupport::apply_kvm_evidence`] writes begin: a
/// fact it applied, or a conflict it left unsettled.
pub const KVM_EVIDENCE_NOTES: [&str; 2] = ["this host's KVM ", "conflict: "];

/// "this host's KVM does (not) offer NAME: SEEN".
fn fact_line(name: &str, fact: &KvmFact) -> String {
    format!(
        "this host's KVM {} `{name}`: {}",
        if fact.offered {
            "offers"
        } else {
            "does not offer"
        },
        fact.seen
    )
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
    let mpx = map.feature_id("mpx");
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
                    mpx_withheld,
                    ..
                } => match mpx_withheld {
                    Some(reason) if Some(id) == mpx && features.contains(id) => Err(reason.clone()),
                    _ => kvm_from_cpuid(map, facts, features, *has_vmx_msrs, id),
                },
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

/// TCG's set for one QEMU version. `max` under TCG turns on every feature
/// that QEMU's TCG supports (the `.tcg_features` of each feature word), save
/// the few QEMU never turns on by itself (`no_autoenable_flags`: `ht`, which
/// follows the topology, `topoext`, the KVM hints): `max_features` in
/// `x86_cpu_expand_features`, QEMU's target/i386/cpu.c. The probe expanded
/// `max` under TCG, so its features are that release's TCG set (7.2's lacks
/// `x2apic`, `rdpid` and `cmp-legacy`, which QEMU 10.0's TCG has), and asked
/// a realized TCG CPU for the rest (`tcg_given_when_asked`: `ht` from 10.0
/// on). Without `max` the facts' set (read in QEMU 10.0's masks) stands.
/// Either way, what the release's TCG could not give one of its models is
/// taken out.
fn tcg_supported(facts: &AccelFacts, version: &QemuVersion) -> FeatureSet {
    let mut set = match version.model("max") {
        Some(max) => max
            .features
            .known
            .union(&version.tcg_given_when_asked.known),
        None => facts.supported.features,
    };
    for model in &version.models {
        set.subtract(&model.tcg_unavailable.known);
    }
    set
}

fn names(map: &CpuMap, set: &FeatureSet) -> Vec<String> {
    map.names(set).map(str::to_string).collect()
}

/// Why KVM cannot give a host's `mpx`, as far as a raw dump shows; `None`
/// when it cannot tell. Linux offers `mpx` only when `kvm_mpx_supported()`
/// (arch/x86/kvm/x86.h): both MPX state components, BNDREGS and BNDCSR
/// (XCR0 bits 3 and 4), in `kvm_caps.supported_xcr0`, which starts as the
/// host's XCR0 (`kvm_x86_vendor_init`, arch/x86/kvm/x86.c) and loses both
/// when VMX cannot load IA32_BNDCFGS on VM entry (`vmx_hardware_setup`,
/// arch/x86/kvm/vmx/vmx.c, with `cpu_has_vmx_mpx`), a control
/// `setup_vmcs_config` keeps only with its pair, clear IA32_BNDCFGS on exit.
///
/// * XCR0: CPUID.(EAX=0DH,ECX=0):EBX is the size of the XSAVE area of the
///   components XCR0 enables (Intel SDM vol. 2A, CPUID leaf 0DH); below the
///   end of BNDCSR's area (subleaf 4: offset in EBX, size in EAX) BNDCSR is
///   not enabled. At or above it a later component may be the one enabled.
/// * VMX: the allowed-1 settings (high half) of IA32_VMX_ENTRY_CTLS (0x484)
///   bit 16 and IA32_VMX_EXIT_CTLS (0x483) bit 23, which KVM reads, or of
///   their TRUE variants (0x490, 0x48F), whose allowed-1 settings are the
///   same (SDM vol. 3, appendix A.4, A.5).
fn mpx_withheld(data: &CpuidData) -> Option<UnavailableReason> {
    let xsave = |subleaf| data.get(DataKey::Cpuid { leaf: 0xd, subleaf });
    if let (Some(enabled), Some(bndcsr)) = (xsave(0), xsave(4)) {
        let bndcsr_end = bndcsr
            .get(Register::Ebx)
            .saturating_add(bndcsr.get(Register::Eax));
        if enabled.get(Register::Ebx) < bndcsr_end {
            return Some(UnavailableReason::Conditional {
                condition: "the host OS has not enabled MPX state in XCR0 \
                            (CPUID 0xD's XSAVE size ends before BNDCSR)"
                    .to_string(),
            });
        }
    }
    let may_set = |indexes: [u32; 2], bit: u32| {
        indexes
            .into_iter()
            .find_map(|index| data.get(DataKey::Msr { index }))
            .map(|msr| msr.get(Register::Edx) & 1 << bit != 0)
    };
    if may_set([0x484, 0x490], 16) == Some(false) || may_set([0x483, 0x48f], 23) == Some(false) {
        return Some(UnavailableReason::NeedsVmxCapabilityMsr);
    }
    None
}

/// What a raw dump cannot tell of KVM's `mpx` (`mpx_withheld`), said
/// plainly when the host's CPUID has it and the prediction (not corrected by
/// what a start showed) assumes KVM gives it, as the kernel does by default.
pub fn mpx_assumed(
    map: &CpuMap,
    host: &HostFeatures,
    support: &AccelSupport,
    evidence: Option<&KvmEvidence>,
) -> Option<&'static str> {
    let HostFeatures::Raw {
        features,
        mpx_withheld: None,
        ..
    } = host
    else {
        return None;
    };
    let mpx = map.feature_id("mpx")?;
    let seen = evidence.and_then(|evidence| evidence.seen(mpx, true));
    (support.accel == Accelerator::Kvm
        && features.contains(mpx)
        && support.supported.contains(mpx)
        && seen.is_none())
    .then_some(
        "KVM offers `mpx` only if the host OS enabled MPX state in XCR0 and VMX can load and \
         clear IA32_BNDCFGS (Linux's kvm_mpx_supported); the dump does not show both, so \
         `mpx` is assumed offered",
    )
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
    use crate::cpuid::Registers;
    use crate::qemu::definitions::QemuDefinitions;
    use crate::version::QemuRelease;

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
            mpx_withheld: None,
        }
    }

    #[test]
    fn tcg_is_host_independent_and_versioned() {
        let map = CpuMap::embedded();
        let definitions = QemuDefinitions::embedded();
        let v72 = definitions.find(QemuRelease::new(7, 2)).version;
        let v10 = definitions.find(QemuRelease::new(10, 0)).version;
        let empty = raw(FeatureSet::new());
        let everything = raw(map.map_features().map(|(id, _)| id).collect());
        let on_empty = supported(map, v72, Accelerator::Tcg, &empty);
        assert_eq!(on_empty, supported(map, v72, Accelerator::Tcg, &everything));
        assert!(!on_empty.contains(id(map, "pcid")));
        assert!(!on_empty.contains(id(map, "x2apic")));
        assert!(supported(map, v10, Accelerator::Tcg, &empty).contains(id(map, "x2apic")));
        // ht: never in `max`; a TCG CPU asked for it keeps it from 10.0 on.
        assert!(!on_empty.contains(id(map, "ht")));
        assert!(supported(map, v10, Accelerator::Tcg, &empty).contains(id(map, "ht")));
        assert!(!on_empty.contains(id(map, "cmp_legacy")));
        assert!(supported(map, v10, Accelerator::Tcg, &empty).contains(id(map, "cmp_legacy")));
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

    /// Evidence of the starts corrects a prediction from CPUID, but not
    /// QEMU's own answer, which it only contradicts in a note.
    #[test]
    fn start_evidence_corrects_the_cpuid_prediction_but_not_qemus_answer() {
        use crate::host::{KvmEvidence, KvmFact};
        let map = CpuMap::embedded();
        let v10 = QemuDefinitions::embedded().newest();
        let fact = |name: &str, offered: bool| KvmFact {
            feature: id(map, name),
            offered,
            seen: format!("seen on domain d ({name})"),
            domain: "d".to_string(),
        };
        let evidence = KvmEvidence {
            facts: vec![fact("pni", false), fact("avx", true)],
        };
        let host: FeatureSet = ["sse2", "pni"].iter().map(|n| id(map, n)).collect();
        let mut predicted = assess(map, v10, Accelerator::Kvm, &raw(host));
        let notes = predicted.apply_kvm_evidence(map, &raw(host), &evidence);
        assert!(!predicted.supported.contains(id(map, "pni")));
        assert_eq!(
            predicted
                .reason(id(map, "pni"))
                .map(ToString::to_string)
                .as_deref(),
            Some("this host's KVM does not offer it: seen on domain d (pni)")
        );
        assert!(predicted.supported.contains(id(map, "avx")));
        assert_eq!(predicted.reason(id(map, "avx")), None);
        assert_eq!(
            notes,
            [
                "this host's KVM offers `avx`: seen on domain d (avx) (predicted from CPUID: not offered)",
                "this host's KVM does not offer `pni`: seen on domain d (pni) (predicted from CPUID: offered)",
            ]
        );

        let answer = HostFeatures::QemuExpansion {
            features: host,
            known: host,
        };
        let mut answered = assess(map, v10, Accelerator::Kvm, &answer);
        let before = answered.clone();
        let notes = answered.apply_kvm_evidence(map, &answer, &evidence);
        assert_eq!(answered, before);
        assert_eq!(notes.len(), 2, "{notes:?}");
        assert!(notes
            .iter()
            .all(|note| note.starts_with("conflict: ") && note.ends_with("QEMU's answer is kept")));

        let mut tcg = assess(map, v10, Accelerator::Tcg, &raw(host));
        assert!(tcg
            .apply_kvm_evidence(map, &raw(host), &evidence)
            .is_empty());
    }

    /// `mpx` is withheld when the XSAVE size shows no MPX state in XCR0 or
    /// a VMX capability MSR (plain or TRUE) may not set a BNDCFGS control;
    /// otherwise the dump cannot tell.
    #[test]
    fn mpx_follows_xcr0_and_the_vmx_bndcfgs_controls() {
        let xsave = |enabled_size: u32| {
            let mut data = CpuidData::new();
            let cpuid = |subleaf| DataKey::Cpuid { leaf: 0xd, subleaf };
            data.set(cpuid(0), Registers([0x1b, enabled_size, 0x440, 0]));
            data.set(cpuid(4), Registers([0x40, 0x400, 0, 0]));
            data
        };
        let msr = |data: &mut CpuidData, index, high| {
            data.set(DataKey::Msr { index }, Registers([0xff, 0, 0, high]));
        };
        assert!(matches!(
            mpx_withheld(&xsave(0x240)),
            Some(UnavailableReason::Conditional { .. })
        ));
        assert_eq!(mpx_withheld(&xsave(0x440)), None);
        assert_eq!(mpx_withheld(&CpuidData::new()), None);
        let mut true_msrs = xsave(0xa88);
        msr(&mut true_msrs, 0x490, 1 << 16);
        msr(&mut true_msrs, 0x48f, 1 << 23);
        assert_eq!(mpx_withheld(&true_msrs), None);
        // The plain MSR, which KVM reads, comes first.
        msr(&mut true_msrs, 0x483, 1 << 22);
        assert_eq!(
            mpx_withheld(&true_msrs),
            Some(UnavailableReason::NeedsVmxCapabilityMsr)
        );
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
