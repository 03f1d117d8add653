//! The guest CPU QEMU builds for `-cpu MODEL,feat=on,feat=off…` on a host, and
//! the features it filters on the way, with QEMU's own warning lines.
//!
//! QEMU's order, reproduced step by step in [`build_guest_cpu`]:
//!
//! 1. the model's definition (QEMU's own for the version, libvirt's as a
//!    fallback);
//! 2. the accelerator's instance defaults (`default_on`, `default_off` of
//!    `data/accel/*.json`, e.g. KVM's `kvmclock=on` and `svm=off`), applied
//!    before any user flag;
//! 3. the user's flags, in order, the last word winning;
//! 4. `hypervisor`, which every QEMU model sets, unless turned off explicitly;
//! 5. feature dependencies (`x86_cpu_expand_features`): a feature whose
//!    required feature is off is cleared silently, or filtered with QEMU's
//!    "depends on other features" warning when the user asked for it;
//! 6. filtering (`x86_cpu_filter_features`): whatever the accelerator cannot
//!    give on this host is dropped with a `warning: host doesn't support
//!    requested feature: …` (KVM) or `TCG doesn't support …` line.

use std::fmt;

use super::accel::{assess, AccelFacts, AccelSupport, HostFeatures, RuleKind, UnavailableReason};
use super::definitions::{DefinitionSource, QemuVersion};
use super::feature_word_rank;
use crate::cpuid::{DataKey, Register};
use crate::data::{libvirt_to_qemu, CpuMap, FeatureId};
use crate::domain::Accelerator;
use crate::error::CpuError;
use crate::featureset::FeatureSet;

/// Why a requested feature was filtered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FilterReason {
    /// The accelerator cannot provide it on this host.
    Unavailable(UnavailableReason),
    /// It was asked for explicitly, but a feature it depends on is off.
    MissingDependency { requires: Vec<String> },
}

impl fmt::Display for FilterReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FilterReason::Unavailable(reason) => reason.fmt(f),
            FilterReason::MissingDependency { requires } => {
                write!(f, "depends on `{}`, which is off", requires.join("`, `"))
            }
        }
    }
}

/// A feature QEMU was asked for but did not give the guest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilteredFeature {
    pub feature: FeatureId,
    pub reason: FilterReason,
    /// The line QEMU prints, e.g.
    /// `warning: host doesn't support requested feature: CPUID.07H:EBX.hle [bit 4]`.
    pub qemu_warning: String,
}

/// Where a feature's final state came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeatureOrigin {
    /// Part of the model's definition.
    ModelDefinition,
    /// Turned on by the accelerator's instance defaults.
    AcceleratorDefaultOn,
    /// Turned off by the accelerator's instance defaults.
    AcceleratorDefaultOff,
    /// `feat=on` on the command line.
    ExplicitOn,
    /// `feat=off` on the command line.
    ExplicitOff,
    /// `hypervisor`, which QEMU always sets.
    AlwaysOn,
    /// Cleared because a feature it depends on is off.
    DependencyOff,
}

impl FeatureOrigin {
    pub fn as_str(self) -> &'static str {
        match self {
            FeatureOrigin::ModelDefinition => "model definition",
            FeatureOrigin::AcceleratorDefaultOn => "accelerator default (on)",
            FeatureOrigin::AcceleratorDefaultOff => "accelerator default (off)",
            FeatureOrigin::ExplicitOn => "explicit on",
            FeatureOrigin::ExplicitOff => "explicit off",
            FeatureOrigin::AlwaysOn => "always on",
            FeatureOrigin::DependencyOff => "dependency off",
        }
    }
}

crate::cpudef::libvirt_spelling!(FeatureOrigin);

/// What QEMU builds for one `-cpu` argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuestBuild {
    /// The model QEMU resolved the name to, e.g. `Haswell-v1`.
    pub qemu_model: String,
    pub source: DefinitionSource,
    /// Everything asked for, after defaults, flags and dependencies.
    pub requested: FeatureSet,
    /// What the accelerator could not give, in QEMU's warning order.
    pub filtered: Vec<FilteredFeature>,
    /// What the guest gets: `requested` minus `filtered`.
    pub enabled: FeatureSet,
    /// QEMU-only flags of the definition (unknown to libvirt's map) that QEMU
    /// keeps, and those it filters.
    pub qemu_only_enabled: Vec<String>,
    pub qemu_only_filtered: Vec<String>,
    /// Where each feature's state came from, for every feature the
    /// definition, the defaults or the flags touched, in id order.
    pub origins: Vec<(FeatureId, FeatureOrigin)>,
    /// Things worth telling the user, e.g. a fallback definition.
    pub notes: Vec<String>,
}

impl GuestBuild {
    /// Where a feature's state came from, if anything touched it.
    pub fn origin(&self, feature: FeatureId) -> Option<FeatureOrigin> {
        self.origins
            .binary_search_by_key(&feature, |(id, _)| *id)
            .ok()
            .map(|i| self.origins[i].1)
    }

    /// The filtered features as libvirt names them (QEMU-only ones in QEMU's
    /// spelling), sorted and de-duplicated: a model's blockers.
    pub fn blockers(&self, map: &CpuMap) -> Vec<String> {
        let mut names: Vec<String> = self
            .filtered
            .iter()
            .map(|f| map.feature(f.feature).name.clone())
            .chain(self.qemu_only_filtered.iter().cloned())
            .collect();
        crate::sort::sort(&mut names);
        names.dedup();
        names
    }
}

/// Builds the guest CPU QEMU `version` creates for `-cpu model_name` plus
/// `explicit` flags (`true` = `on`) under `accel` on `host`.
pub fn build_guest_cpu(
    map: &CpuMap,
    version: &QemuVersion,
    accel: Accelerator,
    host: &HostFeatures,
    model_name: &str,
    explicit: &[(FeatureId, bool)],
) -> Result<GuestBuild, CpuError> {
    let support = assess(map, version, accel, host);
    build_guest_cpu_assessed(
        map,
        version,
        &support,
        host,
        model_name,
        explicit,
        BuildDetail::Full,
    )
}

/// How much of a [`GuestBuild`] to spell out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BuildDetail {
    /// Everything, QEMU's warning text for each filtered feature included
    /// (the default).
    #[default]
    Full,
    /// What decides usability only: filtered features carry an empty
    /// `qemu_warning`. For model lists, which build every model on a host.
    Blockers,
}

/// [`build_guest_cpu`] with the accelerator's verdict on the host already
/// made. That verdict depends only on the host, the QEMU version and the
/// accelerator, so callers building many models on one host (the model list,
/// the check) assess once instead of once per model.
pub fn build_guest_cpu_assessed(
    map: &CpuMap,
    version: &QemuVersion,
    support: &AccelSupport,
    host: &HostFeatures,
    model_name: &str,
    explicit: &[(FeatureId, bool)],
    detail: BuildDetail,
) -> Result<GuestBuild, CpuError> {
    let accel = support.accel;
    let passthrough = model_name == "host" || (model_name == "max" && accel == Accelerator::Kvm);
    if passthrough {
        return Ok(build_passthrough_cpu(
            map, version, support, model_name, explicit,
        ));
    }
    let definition = version.model_definition(map, model_name)?;
    let facts = AccelFacts::embedded(accel);
    let mut notes: Vec<String> = definition.note.iter().cloned().collect();
    let mut origins = vec![None; map.features().len()];
    let mut requested = definition.features.known;
    for id in requested.iter() {
        origins[id.index()] = Some(FeatureOrigin::ModelDefinition);
    }

    for id in facts.default_on.difference(&requested).iter() {
        requested.insert(id);
        origins[id.index()] = Some(FeatureOrigin::AcceleratorDefaultOn);
    }
    for id in facts.default_off.iter() {
        if requested.contains(id) {
            origins[id.index()] = Some(FeatureOrigin::AcceleratorDefaultOff);
        }
        requested.remove(id);
    }

    let mut explicitly_on = FeatureSet::new();
    let mut explicitly_off = FeatureSet::new();
    for &(id, on) in explicit {
        if on {
            requested.insert(id);
            explicitly_on.insert(id);
            explicitly_off.remove(id);
            origins[id.index()] = Some(FeatureOrigin::ExplicitOn);
        } else {
            requested.remove(id);
            explicitly_off.insert(id);
            explicitly_on.remove(id);
            origins[id.index()] = Some(FeatureOrigin::ExplicitOff);
        }
    }

    if let Some(hypervisor) = map.feature_id("hypervisor") {
        if !explicitly_off.contains(hypervisor) && !requested.contains(hypervisor) {
            requested.insert(hypervisor);
            origins[hypervisor.index()] = Some(FeatureOrigin::AlwaysOn);
        }
    }

    // A feature the host's QEMU has no property for cannot be part of its
    // models: that QEMU is older than the definitions used here.
    if let HostFeatures::QemuExpansion { known, .. } = host {
        let unknown = requested.difference(known).difference(&explicitly_on);
        if !unknown.is_empty() {
            notes.push(format!(
                "the host's QEMU does not know {}; left out",
                map.names(&unknown).collect::<Vec<_>>().join(", ")
            ));
            requested.subtract(&unknown);
        }
    }

    let mut filtered = Vec::new();
    for rule in facts.rules_of(RuleKind::RequiresGuestFeature) {
        if requested.is_superset(&rule.requires) {
            continue;
        }
        let dependents = requested.intersection(&rule.features.features);
        for id in dependents.iter() {
            requested.remove(id);
            if explicitly_on.contains(id) {
                let requires: Vec<String> = map.names(&rule.requires).map(str::to_string).collect();
                filtered.push(FilteredFeature {
                    feature: id,
                    qemu_warning: qemu_warning(
                        map,
                        version,
                        "This feature depends on other features that were not requested",
                        id,
                    ),
                    reason: FilterReason::MissingDependency { requires },
                });
            } else {
                origins[id.index()] = Some(FeatureOrigin::DependencyOff);
            }
        }
    }

    let mut unsupported = requested.difference(&support.supported);
    if model_name == "max" {
        // `max` asks for exactly what the accelerator reports it supports
        // (`max_features`, x86_cpu_expand_features), and the probe expanded
        // it under TCG: QEMU filters none of its own features.
        unsupported.subtract(&definition.features.known);
    }
    filtered.extend(unavailable(map, version, support, &unsupported, detail));
    crate::sort::sort_by_key(&mut filtered, |f| warning_order(map, f));
    let enabled = requested.difference(&unsupported);

    let (qemu_only_filtered, qemu_only_enabled) = split_qemu_only(
        version,
        accel,
        facts,
        model_name,
        &definition.features.qemu_only,
    );

    Ok(GuestBuild {
        qemu_model: definition.qemu_model,
        source: definition.source,
        requested,
        filtered,
        enabled,
        qemu_only_enabled,
        qemu_only_filtered,
        origins: origins
            .into_iter()
            .enumerate()
            .filter_map(|(i, origin)| origin.map(|o| (FeatureId::from_index(i), o)))
            .collect(),
        notes,
    })
}

/// `-cpu host` (and `max` under KVM): everything the accelerator supports on
/// this host, then the user's flags; only flags asking for more are filtered.
fn build_passthrough_cpu(
    map: &CpuMap,
    version: &QemuVersion,
    support: &AccelSupport,
    model_name: &str,
    explicit: &[(FeatureId, bool)],
) -> GuestBuild {
    let mut requested = support.supported;
    let mut origins: Vec<Option<FeatureOrigin>> = vec![None; map.features().len()];
    for id in requested.iter() {
        origins[id.index()] = Some(FeatureOrigin::ModelDefinition);
    }
    for &(id, on) in explicit {
        if on {
            requested.insert(id);
            origins[id.index()] = Some(FeatureOrigin::ExplicitOn);
        } else {
            requested.remove(id);
            origins[id.index()] = Some(FeatureOrigin::ExplicitOff);
        }
    }
    let unsupported = requested.difference(&support.supported);
    let mut filtered = unavailable(map, version, support, &unsupported, BuildDetail::Full);
    crate::sort::sort_by_key(&mut filtered, |f| warning_order(map, f));
    GuestBuild {
        qemu_model: model_name.to_string(),
        source: DefinitionSource::Qemu(version.version.clone()),
        enabled: requested.difference(&unsupported),
        requested,
        filtered,
        qemu_only_enabled: Vec::new(),
        qemu_only_filtered: Vec::new(),
        origins: origins
            .into_iter()
            .enumerate()
            .filter_map(|(i, origin)| origin.map(|o| (FeatureId::from_index(i), o)))
            .collect(),
        notes: vec![format!(
            "`-cpu {model_name}` gives the guest everything the accelerator supports on this host"
        )],
    }
}

/// Replaces the prediction for a model's own features with QEMU's verdict for
/// that model on this host (`query-cpu-definitions`' `unavailable-features`,
/// as libvirt names them in `qemu_blockers`). Features the user turned on
/// explicitly keep their prediction: QEMU's verdict is about the bare model.
pub fn apply_qemu_verdict(
    map: &CpuMap,
    version: &QemuVersion,
    accel: Accelerator,
    build: &mut GuestBuild,
    qemu_blockers: &FeatureSet,
) {
    let explicit: FeatureSet = build
        .origins
        .iter()
        .filter(|(_, origin)| {
            matches!(
                origin,
                FeatureOrigin::ExplicitOn | FeatureOrigin::ExplicitOff
            )
        })
        .map(|(id, _)| *id)
        .collect();
    // Everything else is the model's business, including features the host's
    // (possibly older) QEMU had in its definition of the model and this data
    // does not: QEMU's verdict names them.
    let judged_by_qemu = build.requested.union(qemu_blockers).difference(&explicit);
    build.filtered.retain(|filtered| {
        let keep =
            !judged_by_qemu.contains(filtered.feature) || qemu_blockers.contains(filtered.feature);
        if !keep {
            build.enabled.insert(filtered.feature);
        }
        keep
    });
    let prefix = unavailable_warning_prefix(accel);
    for id in judged_by_qemu.intersection(qemu_blockers).iter() {
        if build.filtered.iter().any(|f| f.feature == id) {
            continue;
        }
        build.enabled.remove(id);
        build.filtered.push(FilteredFeature {
            feature: id,
            reason: FilterReason::Unavailable(UnavailableReason::ReportedByQemu),
            qemu_warning: qemu_warning(map, version, prefix, id),
        });
    }
    crate::sort::sort_by_key(&mut build.filtered, |f| warning_order(map, f));
}

/// The start of QEMU's warning for a feature the accelerator cannot give.
fn unavailable_warning_prefix(accel: Accelerator) -> &'static str {
    match accel {
        Accelerator::Kvm => "host doesn't support requested feature",
        Accelerator::Tcg => "TCG doesn't support requested feature",
    }
}

/// The filtered entries of `unsupported` features, with the accelerator's
/// reason and (for [`BuildDetail::Full`]) QEMU's warning line.
fn unavailable(
    map: &CpuMap,
    version: &QemuVersion,
    support: &AccelSupport,
    unsupported: &FeatureSet,
    detail: BuildDetail,
) -> Vec<FilteredFeature> {
    let prefix = unavailable_warning_prefix(support.accel);
    unsupported
        .iter()
        .map(|id| FilteredFeature {
            feature: id,
            reason: FilterReason::Unavailable(
                support
                    .reason(id)
                    .cloned()
                    .unwrap_or(UnavailableReason::NotInHostCpuid),
            ),
            qemu_warning: match detail {
                BuildDetail::Full => qemu_warning(map, version, prefix, id),
                BuildDetail::Blockers => String::new(),
            },
        })
        .collect()
}

/// QEMU-only flags are judged by name: TCG by what the probe saw filtered,
/// KVM by its `never` list (anything else is assumed passed through).
fn split_qemu_only(
    version: &QemuVersion,
    accel: Accelerator,
    facts: &AccelFacts,
    model_name: &str,
    names: &[String],
) -> (Vec<String>, Vec<String>) {
    let tcg_unavailable = version
        .resolve(model_name)
        .map(|m| m.tcg_unavailable.qemu_only.as_slice())
        .unwrap_or_default();
    names.iter().cloned().partition(|name| match accel {
        Accelerator::Tcg => tcg_unavailable.contains(name),
        Accelerator::Kvm => facts.never.matches_qemu_name(name),
    })
}

/// Whether a QEMU version prints the bracketed `CPUID[eax=07h,ecx=00h]` form
/// (QEMU 10.1 and later) rather than `CPUID.07H`.
fn uses_bracketed_words(version: &QemuVersion) -> bool {
    let mut parts = version.version.split('.');
    let major: u32 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    let minor: u32 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    (major, minor) >= (10, 1)
}

/// Leaves whose QEMU feature words have a subleaf (`needs_ecx`).
fn leaf_has_subleaves(leaf: u32) -> bool {
    matches!(leaf, 0x7 | 0xd | 0x14 | 0x19 | 0x1d | 0x1e | 0x24)
}

/// QEMU's feature-word description and bit of a feature, as
/// `feature_word_description` and `mark_unavailable_features` print them.
fn qemu_warning(map: &CpuMap, version: &QemuVersion, prefix: &str, id: FeatureId) -> String {
    let feature = map.feature(id);
    let (register, mask) = feature.bits.register_and_mask();
    let bracketed = uses_bracketed_words(version);
    let (word, bit) = match feature.bits.key {
        DataKey::Cpuid { leaf, subleaf } => {
            let register = register.name().to_ascii_uppercase();
            let word = match (bracketed, leaf_has_subleaves(leaf)) {
                (false, _) => format!("CPUID.{leaf:02X}H:{register}"),
                (true, false) => format!("CPUID[eax={leaf:02X}h].{register}"),
                (true, true) => format!("CPUID[eax={leaf:02X}h,ecx={subleaf:02X}h].{register}"),
            };
            (word, mask.trailing_zeros())
        }
        DataKey::Msr { index } => {
            let word = if bracketed {
                format!("MSR({index:02X}h)")
            } else {
                format!("MSR({index:02X}H)")
            };
            let bit = mask.trailing_zeros() + if register == Register::Edx { 32 } else { 0 };
            (word, bit)
        }
    };
    format!(
        "warning: {prefix}: {word}.{} [bit {bit}]",
        libvirt_to_qemu(&feature.name)
    )
}

/// The order of QEMU's warnings: the dependency ones first, as
/// `x86_cpu_expand_features` marks them before `x86_cpu_filter_features`
/// looks at the host, then feature word by feature word, bit by bit
/// ([`super::feature_word_rank`]).
fn warning_order(map: &CpuMap, filtered: &FilteredFeature) -> (bool, (usize, u32)) {
    let host_check = !matches!(filtered.reason, FilterReason::MissingDependency { .. });
    (
        host_check,
        feature_word_rank(&map.feature(filtered.feature).bits),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpuid::Signature;
    use crate::qemu::definitions::QemuDefinitions;
    use crate::version::QemuRelease;

    fn id(map: &CpuMap, name: &str) -> FeatureId {
        map.feature_id(name)
            .unwrap_or_else(|| panic!("feature {name}"))
    }

    fn host_with(features: FeatureSet) -> HostFeatures {
        HostFeatures::Raw {
            features,
            vendor: None,
            signature: Signature::default(),
            has_vmx_msrs: false,
            mpx_withheld: None,
        }
    }

    /// A host with every feature of QEMU's `Haswell-v1` (the same in 7.2 and 10.0).
    fn haswell_host(map: &CpuMap) -> FeatureSet {
        let version = QemuDefinitions::embedded().newest();
        let mut host = version
            .resolve("Haswell-v1")
            .expect("Haswell-v1")
            .features
            .known;
        host.insert(id(map, "vme"));
        host
    }

    #[test]
    fn host_with_every_haswell_feature_blocks_nothing() {
        let map = CpuMap::embedded();
        for version in QemuDefinitions::embedded().versions() {
            let build = build_guest_cpu(
                map,
                version,
                Accelerator::Kvm,
                &host_with(haswell_host(map)),
                "Haswell",
                &[],
            )
            .expect("Haswell");
            assert_eq!(build.qemu_model, "Haswell-v1");
            assert_eq!(
                build.blockers(map),
                Vec::<String>::new(),
                "{}",
                version.version
            );
            assert!(build.enabled.contains(id(map, "hypervisor")));
            assert_eq!(
                build.origin(id(map, "avx2")),
                Some(FeatureOrigin::ModelDefinition)
            );
        }
    }

    #[test]
    fn missing_tsx_is_filtered_with_qemu_warnings() {
        let map = CpuMap::embedded();
        let mut host = haswell_host(map);
        host.remove(id(map, "hle"));
        host.remove(id(map, "rtm"));
        let version = QemuDefinitions::embedded()
            .find(QemuRelease::new(7, 2))
            .version;
        let build = build_guest_cpu(
            map,
            version,
            Accelerator::Kvm,
            &host_with(host),
            "Haswell",
            &[],
        )
        .expect("Haswell");
        assert_eq!(build.blockers(map), ["hle", "rtm"]);
        let warnings: Vec<&str> = build
            .filtered
            .iter()
            .map(|f| f.qemu_warning.as_str())
            .collect();
        assert_eq!(
            warnings,
            [
                "warning: host doesn't support requested feature: CPUID.07H:EBX.hle [bit 4]",
                "warning: host doesn't support requested feature: CPUID.07H:EBX.rtm [bit 11]",
            ]
        );
        assert_eq!(
            build.filtered[0].reason,
            FilterReason::Unavailable(UnavailableReason::NotInHostCpuid)
        );
        // Turning them off explicitly leaves nothing to filter.
        let off = [(id(map, "hle"), false), (id(map, "rtm"), false)];
        let mut host = haswell_host(map);
        host.remove(id(map, "hle"));
        let build = build_guest_cpu(
            map,
            version,
            Accelerator::Kvm,
            &host_with(host),
            "Haswell",
            &off,
        )
        .expect("Haswell");
        assert!(build.filtered.is_empty());
        assert_eq!(
            build.origin(id(map, "rtm")),
            Some(FeatureOrigin::ExplicitOff)
        );
    }

    #[test]
    fn tcg_blocks_pcid_in_7_2_whatever_the_host() {
        let map = CpuMap::embedded();
        let version = QemuDefinitions::embedded()
            .find(QemuRelease::new(7, 2))
            .version;
        let build = build_guest_cpu(
            map,
            version,
            Accelerator::Tcg,
            &host_with(haswell_host(map)),
            "Haswell",
            &[],
        )
        .expect("Haswell");
        assert!(build.blockers(map).contains(&"pcid".to_string()));
        let pcid = build
            .filtered
            .iter()
            .find(|f| f.feature == id(map, "pcid"))
            .expect("pcid filtered");
        assert_eq!(
            pcid.qemu_warning,
            "warning: TCG doesn't support requested feature: CPUID.01H:ECX.pcid [bit 17]"
        );
        // TCG's default turns vme off; KVM keeps it.
        assert!(!build.enabled.contains(id(map, "vme")));
    }

    #[test]
    fn vmx_controls_only_count_with_vmx() {
        let map = CpuMap::embedded();
        // QEMU 10.0 still words its warnings `MSR(48BH)`, before 10.1's brackets.
        let version = QemuDefinitions::embedded()
            .find(QemuRelease::new(10, 0))
            .version;
        let ept = id(map, "vmx-ept");
        let host = host_with(haswell_host(map));
        let build = build_guest_cpu(
            map,
            version,
            Accelerator::Kvm,
            &host,
            "Haswell",
            &[(ept, true)],
        )
        .expect("Haswell");
        assert!(!build.enabled.contains(ept));
        assert_eq!(build.blockers(map), ["vmx-ept"]);
        assert!(build.filtered[0]
            .qemu_warning
            .starts_with("warning: This feature depends on other features that were not requested: MSR(48BH).vmx-ept"));
        let mut vmx_host = haswell_host(map);
        vmx_host.insert(id(map, "vmx"));
        let build = build_guest_cpu(
            map,
            version,
            Accelerator::Kvm,
            &host_with(vmx_host),
            "Haswell",
            &[(id(map, "vmx"), true), (ept, true)],
        )
        .expect("Haswell");
        assert!(build.enabled.contains(ept));
        assert!(build.filtered.is_empty());
    }

    #[test]
    fn msr_and_bracketed_warning_forms() {
        let map = CpuMap::embedded();
        let mut version = QemuDefinitions::embedded()
            .find(QemuRelease::new(7, 2))
            .version
            .clone();
        let rdctl = id(map, "rdctl-no");
        assert_eq!(
            qemu_warning(
                map,
                &version,
                "TCG doesn't support requested feature",
                rdctl
            ),
            "warning: TCG doesn't support requested feature: MSR(10AH).rdctl-no [bit 0]"
        );
        version.version = "10.1".into();
        assert_eq!(
            qemu_warning(map, &version, "p", id(map, "hle")),
            "warning: p: CPUID[eax=07h,ecx=00h].EBX.hle [bit 4]"
        );
        assert_eq!(
            qemu_warning(map, &version, "p", id(map, "invtsc")),
            "warning: p: CPUID[eax=80000007h].EDX.invtsc [bit 8]"
        );
    }
}
