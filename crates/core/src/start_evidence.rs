//! What the running domains' last starts show about the host's KVM: the
//! facts a support engineer reads off an sosreport by hand, as
//! [`KvmEvidence`] for the host ([`crate::host::HostInput::with_kvm_evidence`]).
//!
//! Four rules, each about a domain accelerated by KVM (`<domain
//! type='kvm'>`; a TCG domain's start tells nothing about KVM):
//!
//! * **QEMU warned**: QEMU prints `warning: host doesn't support requested
//!   feature: WORD.NAME [bit N]` for each feature it was asked for and
//!   could not give (`x86_cpu_filter_features` → `mark_unavailable_features`,
//!   target/i386/cpu.c; the "host" wording whenever the accelerator uses the
//!   host's CPUID, `accel_uses_host_cpuid`): KVM does not offer it. QEMU's
//!   name becomes libvirt's through the map's translation table.
//! * **the live `<cpu>` disables what was asked**: after a start libvirt
//!   asks QEMU which features the vCPU got and writes every feature it
//!   expected but QEMU left off as `policy='disable'` (`x86UpdateLive`,
//!   src/cpu/cpu_x86.c), then switches the live definition to
//!   `check='full'` (qemuProcessUpdateGuestCPU). A feature disabled there
//!   that the definition required (`require`/`force`) or the `-cpu` turned
//!   on (`NAME=on`) was asked of QEMU and not given: KVM does not offer it,
//!   unless a feature it depends on is off in that vCPU (QEMU clears it
//!   then, `x86_cpu_expand_features`, and warns that it "depends on other
//!   features": the accelerator facts' `requires_guest_feature` rules).
//! * **the live `<cpu>` has it**: the same live definition lists what the
//!   vCPU got; its model's features and its required ones, less those it
//!   disables, are what QEMU gave the guest under KVM: KVM offers them.
//! * **a host-model `<cpu>` lacks it**: libvirt starts a host-model guest
//!   with the host-model it decoded from QEMU's `query-cpu-model-expansion`
//!   of `host` under KVM, written out as a custom `<cpu>`; a feature that
//!   live `<cpu>` lacks (disabled, or not there at all) is one QEMU did not
//!   find under KVM: KVM does not offer it, unless the lack has another
//!   cause (`lacked_by_host_model` lists them). Without QEMU's answer in
//!   the report this is the only source for most of what KVM hides, so
//!   the domain's own check names what it took from its own start.
//!
//! Only a live `<cpu>` libvirt updated this way counts: a custom one with a
//! model and `check='full'`. A host-passthrough guest's live `<cpu>` names
//! no features.

use crate::cpudef::{CpuCheck, CpuDef, CpuMode, Policy};
use crate::data::{CpuMap, NEVER_PASSED_TO_QEMU, TOPOLOGY_FEATURES};
use crate::domain::{Accelerator, Domain};
use crate::domain_log::{FeatureWarning, FilteredBy, StartLog};
use crate::featureset::FeatureSet;
use crate::host::{KvmEvidence, KvmFact};
use crate::libvirt::{model_data, PolicySelector};
use crate::qemu::accel::{AccelFacts, RuleKind, AMD_ONLY, NOT_AUTO_ENABLED};

/// One running domain as a report holds it.
#[derive(Debug, Clone, Copy)]
pub struct RunningDomain<'t> {
    pub name: &'t str,
    /// The persistent definition (a whole `<domain>`).
    pub definition: &'t str,
    /// The live `<cpu>` element, when the report has the live XML.
    pub live_cpu: Option<&'t str>,
    /// The last start in the domain's QEMU log, when the report has it.
    pub start: Option<&'t StartLog>,
}

/// What the starts of `domains` show about the host's KVM, read with
/// `map` (the release whose libvirt wrote the live XML), and one line for
/// each thing that could not be read.
pub fn gather(map: &CpuMap, domains: &[RunningDomain<'_>]) -> (KvmEvidence, Vec<String>) {
    let mut evidence = KvmEvidence::default();
    let mut unread = Vec::new();
    for domain in domains {
        let definition = match Domain::parse(domain.definition) {
            Ok(definition) => definition,
            Err(error) => {
                unread.push(format!(
                    "domain {}: its definition cannot be read ({}); its start is not used",
                    domain.name, error.message
                ));
                continue;
            }
        };
        if definition.accelerator != Accelerator::Kvm {
            continue;
        }
        let mut fact = |feature, offered, seen: String| {
            evidence.facts.push(KvmFact {
                feature,
                offered,
                seen,
                domain: domain.name.to_string(),
            });
        };
        if let Some(start) = domain.start {
            for line in &start.warnings {
                let Some(warning) = FeatureWarning::parse(line) else {
                    continue;
                };
                if warning.by != FilteredBy::Host {
                    continue;
                }
                match warning
                    .qemu_name
                    .and_then(|name| map.feature_by_qemu_alias(name))
                {
                    Some(feature) => fact(
                        feature,
                        false,
                        format!("QEMU warned when starting domain {}", domain.name),
                    ),
                    None => unread.push(format!(
                        "domain {}: QEMU warned `{line}`, which names no feature of libvirt's map",
                        domain.name
                    )),
                }
            }
        }
        let Some(live_text) = domain.live_cpu else {
            continue;
        };
        let live = match CpuDef::parse(live_text) {
            Ok(live) => live,
            Err(error) => {
                unread.push(format!(
                    "domain {}: its live <cpu> cannot be read ({}); only its QEMU log is used",
                    domain.name,
                    error.render(live_text)
                ));
                continue;
            }
        };
        if live.mode != CpuMode::Custom
            || live.model.is_none()
            || live.check != Some(CpuCheck::Full)
        {
            continue;
        }
        let (enabled, disabled) = match (
            model_data(map, &live, PolicySelector::All),
            live_disabled(map, &live),
        ) {
            (Ok(enabled), Some(disabled)) => (enabled.features, disabled),
            _ => {
                unread.push(format!(
                    "domain {}: its live <cpu> names a model or feature libvirt's map does not know; only its QEMU log is used",
                    domain.name
                ));
                continue;
            }
        };
        let asked = asked_of_qemu(map, &definition.cpu, domain.start);
        let withheld = disabled
            .intersection(&asked)
            .difference(&cleared_for_dependencies(
                &enabled,
                &FeatureSet::new(),
                domain.start,
                map,
            ));
        for feature in map.in_map_order(&withheld) {
            fact(
                feature,
                false,
                format!(
                    "domain {}'s live <cpu> disables it although its start asked for it",
                    domain.name
                ),
            );
        }
        if definition.cpu.mode == CpuMode::HostModel {
            let lacked = lacked_by_host_model(map, &definition.cpu, &enabled);
            let lacked = lacked.difference(&cleared_for_dependencies(
                &enabled,
                &lacked,
                domain.start,
                map,
            ));
            for feature in map.in_map_order(&lacked) {
                fact(
                    feature,
                    false,
                    format!(
                        "domain {}'s host-model <cpu> (QEMU's answer under KVM) lacks it",
                        domain.name
                    ),
                );
            }
        }
        for feature in map.in_map_order(&enabled) {
            fact(
                feature,
                true,
                format!("domain {}'s live <cpu> has it", domain.name),
            );
        }
    }
    (evidence, unread)
}

/// The features a host-model domain's live `<cpu>` lacks (not among
/// `enabled`) for want of KVM. libvirt starts a host-model guest from the
/// migratable host-model it built from QEMU's `query-cpu-model-expansion`
/// of `host` under KVM (`virQEMUCapsInitCPUModelX86`, spec 8.2) and writes
/// it as a custom `<cpu>` (`virCPUUpdate`, `x86UpdateHostModel`, spec
/// 6.2): a feature it lacks is one QEMU did not find under KVM, except
///
/// * a feature the definition itself disables or forbids;
/// * a feature QEMU will not migrate (the accelerator facts' `unmigratable`
///   rules, `invtsc`): libvirt starts the guest with the migratable
///   host-model, which leaves it out whatever KVM offers (spec 8.1; QEMU's
///   verdict decides, not the map's `migratable='no'`, as
///   `check::host`'s migratable host-model says);
/// * a KVM or Hyper-V feature of the map's own (`internal`): decode never
///   writes one into a `<cpu>`;
/// * a feature QEMU's `host` never turns on by itself although KVM may
///   give it (`qemu::accel::NOT_AUTO_ENABLED`);
/// * AMD's machine-check features (`qemu::accel::AMD_ONLY`): another vendor's
///   host-model lacks them whatever KVM offers, and an AMD one always has
///   them, so their lack never tells about KVM;
/// * a feature libvirt strips before the `-cpu` argument
///   (`virQEMUCapsCPUFilterFeatures` in qemuProcessUpdateGuestCPU; the
///   topology features newer releases strip too, whatever the release).
fn lacked_by_host_model(map: &CpuMap, definition: &CpuDef, enabled: &FeatureSet) -> FeatureSet {
    let refused: Vec<&str> = definition
        .features
        .iter()
        .filter(|feature| matches!(feature.effective_policy(), Policy::Disable | Policy::Forbid))
        .map(|feature| feature.name.as_str())
        .collect();
    let unmigratable = AccelFacts::embedded(Accelerator::Kvm)
        .rules_of(RuleKind::Unmigratable)
        .fold(FeatureSet::new(), |set, rule| {
            set.union(&rule.features.features)
        });
    map.features()
        .iter()
        .filter(|feature| {
            !feature.internal
                && !refused.contains(&feature.name.as_str())
                && !NEVER_PASSED_TO_QEMU.contains(&feature.name.as_str())
                && !TOPOLOGY_FEATURES.contains(&feature.name.as_str())
                && !NOT_AUTO_ENABLED.contains(&feature.name.as_str())
                && !AMD_ONLY.contains(&feature.name.as_str())
        })
        .filter_map(|feature| map.feature_id(&feature.name))
        .filter(|id| !enabled.contains(*id) && !unmigratable.contains(*id))
        .collect()
}

/// The features a live `<cpu>` lists as `disable` or `forbid`; `None` when
/// one is unknown to the map.
fn live_disabled(map: &CpuMap, live: &CpuDef) -> Option<FeatureSet> {
    live.features
        .iter()
        .filter(|feature| matches!(feature.effective_policy(), Policy::Disable | Policy::Forbid))
        .map(|feature| map.feature_id(&feature.name))
        .collect()
}

/// The features QEMU clears whatever KVM offers, because a feature they
/// depend on is not among `enabled` (the accelerator facts'
/// `requires_guest_feature` rules), and those the start's log names in a
/// dependency warning. A rule whose missing features are all among
/// `kvm_lacks` (what KVM is known not to offer) clears nothing beyond
/// KVM's doing: no vCPU on the host can have its features, so they stay
/// KVM's verdict.
fn cleared_for_dependencies(
    enabled: &FeatureSet,
    kvm_lacks: &FeatureSet,
    start: Option<&StartLog>,
    map: &CpuMap,
) -> FeatureSet {
    let mut cleared = AccelFacts::embedded(Accelerator::Kvm)
        .rules_of(RuleKind::RequiresGuestFeature)
        .filter(|rule| {
            let missing = rule.requires.difference(enabled);
            !missing.is_empty() && !kvm_lacks.is_superset(&missing)
        })
        .fold(FeatureSet::new(), |set, rule| {
            set.union(&rule.features.features)
        });
    let warned = start
        .into_iter()
        .flat_map(|start| &start.warnings)
        .filter_map(|line| FeatureWarning::parse(line))
        .filter(|warning| warning.by == FilteredBy::Dependency)
        .filter_map(|warning| map.feature_by_qemu_alias(warning.qemu_name?));
    for feature in warned {
        cleared.insert(feature);
    }
    cleared
}

/// What the start asked QEMU to turn on explicitly: the definition's
/// `require` and `force` features (libvirt passes them as `NAME=on`,
/// qemuBuildCpuFeature) and whatever the `-cpu` of the log turned on,
/// less what the definition itself disables.
fn asked_of_qemu(map: &CpuMap, definition: &CpuDef, start: Option<&StartLog>) -> FeatureSet {
    let mut asked = FeatureSet::new();
    let mut refused = FeatureSet::new();
    for feature in &definition.features {
        let Some(id) = map.feature_id(&feature.name) else {
            continue;
        };
        match feature.effective_policy() {
            Policy::Require | Policy::Force => asked.insert(id),
            Policy::Disable | Policy::Forbid => refused.insert(id),
            Policy::Optional => {}
        }
    }
    let turned_on = start
        .and_then(|start| start.cpu_arg.as_deref())
        .into_iter()
        .flat_map(|arg| arg.split(',').skip(1))
        .filter_map(|flag| flag.strip_suffix("=on"))
        .filter_map(|name| map.feature_by_qemu_alias(name));
    for id in turned_on {
        asked.insert(id);
    }
    asked.difference(&refused)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONROE: &str = "<domain type='kvm'><name>c</name><cpu mode='custom' match='exact' check='none'><model fallback='allow'>Conroe</model><feature policy='require' name='aes'/></cpu></domain>";

    fn names(map: &CpuMap, evidence: &KvmEvidence, offered: bool) -> Vec<String> {
        evidence
            .facts
            .iter()
            .filter(|fact| fact.offered == offered)
            .map(|fact| map.feature(fact.feature).name.clone())
            .collect()
    }

    /// What one running domain's start tells.
    fn gather_one(
        map: &CpuMap,
        definition: &str,
        live_cpu: &str,
        start: Option<&StartLog>,
    ) -> (KvmEvidence, Vec<String>) {
        gather(
            map,
            &[RunningDomain {
                name: "d",
                definition,
                live_cpu: Some(live_cpu),
                start,
            }],
        )
    }

    #[test]
    fn warnings_and_the_live_cpu_tell_what_kvm_offers() {
        let map = CpuMap::embedded();
        let start = StartLog {
            cpu_arg: Some("Conroe,aes=on".to_string()),
            warnings: vec![
                "warning: host doesn't support requested feature: CPUID[eax=01h].ECX.ssse3 [bit 9]".to_string(),
                "warning: This feature depends on other features that were not requested: MSR(10AH).rdctl-no [bit 0]".to_string(),
            ],
            other_qemu_lines: Vec::new(),
        };
        let live = "<cpu mode='custom' match='exact' check='full'><model fallback='forbid'>Conroe</model><feature policy='disable' name='ssse3'/><feature policy='disable' name='aes'/><feature policy='require' name='x2apic'/></cpu>";
        let (evidence, unread) = gather_one(map, CONROE, live, Some(&start));
        assert!(unread.is_empty(), "{unread:?}");
        // ssse3 from the warning, aes from the live <cpu>; the dependency
        // warning is no verdict on the host, and Conroe's own ssse3 was
        // not asked for explicitly.
        assert_eq!(names(map, &evidence, false), ["ssse3", "aes"]);
        let offered = names(map, &evidence, true);
        assert!(offered.contains(&"x2apic".to_string()) && offered.contains(&"sse2".to_string()));
        assert!(!offered.contains(&"ssse3".to_string()) && !offered.contains(&"aes".to_string()));
        let settled = evidence.settle();
        assert!(settled.disputed.is_empty());
        assert_eq!(settled.withheld.len(), 2);
    }

    /// `rdctl-no` lives in `IA32_ARCH_CAPABILITIES`: with
    /// `arch-capabilities` off QEMU clears it whatever KVM offers.
    #[test]
    fn a_feature_cleared_for_its_dependency_tells_nothing_about_kvm() {
        let map = CpuMap::embedded();
        let definition = "<domain type='kvm'><name>h</name><cpu mode='host-model'><feature policy='disable' name='arch-capabilities'/></cpu></domain>";
        let start = StartLog {
            cpu_arg: Some("Skylake-Client,rdctl-no=on,arch-capabilities=off".to_string()),
            warnings: Vec::new(),
            other_qemu_lines: Vec::new(),
        };
        let live = "<cpu mode='custom' match='exact' check='full'><model>Skylake-Client</model><feature policy='disable' name='arch-capabilities'/><feature policy='disable' name='rdctl-no'/></cpu>";
        let (evidence, _) = gather_one(map, definition, live, Some(&start));
        let withheld = names(map, &evidence, false);
        assert!(
            !withheld
                .iter()
                .any(|name| name == "rdctl-no" || name == "arch-capabilities"),
            "{withheld:?}"
        );
    }

    /// kvm64 with `pni` disabled and `x2apic` required: `pni` and what
    /// kvm64 lacks (`ssse3`, `avx`) are not offered; what the definition
    /// refuses (`aes`), QEMU's unmigratable `invtsc` and `topoext`, which
    /// QEMU's `host` never turns on, tell nothing.
    #[test]
    fn what_a_host_model_cpu_lacks_kvm_does_not_offer() {
        let map = CpuMap::embedded();
        let definition = "<domain type='kvm'><name>h</name><cpu mode='host-model'><feature policy='disable' name='aes'/></cpu></domain>";
        let live = "<cpu mode='custom' match='exact' check='full'><model fallback='forbid'>kvm64</model><vendor>Intel</vendor><feature policy='require' name='x2apic'/><feature policy='disable' name='aes'/><feature policy='disable' name='pni'/></cpu>";
        let (evidence, unread) = gather_one(map, definition, live, None);
        assert!(unread.is_empty(), "{unread:?}");
        let withheld = names(map, &evidence, false);
        for feature in ["pni", "ssse3", "avx"] {
            assert!(withheld.iter().any(|name| name == feature), "{withheld:?}");
        }
        for feature in ["aes", "invtsc", "topoext", "x2apic", "sse2"] {
            assert!(
                !withheld.iter().any(|name| name == feature),
                "{feature}: {withheld:?}"
            );
        }
        assert!(evidence.settle().disputed.is_empty());
    }

    /// `xsaveopt` needs `xsave` in the vCPU: lacking because KVM does not
    /// offer `xsave`, it is not offered either; lacking because the
    /// definition disables `xsave`, it tells nothing.
    #[test]
    fn a_host_model_feature_cleared_for_its_dependency_follows_the_reason() {
        let map = CpuMap::embedded();
        let live = "<cpu mode='custom' match='exact' check='full'><model fallback='forbid'>kvm64</model></cpu>";
        let withheld = |definition: &str| {
            let (evidence, _) = gather_one(map, definition, live, None);
            names(map, &evidence, false)
        };
        let plain = withheld("<domain type='kvm'><cpu mode='host-model'/></domain>");
        assert!(plain.iter().any(|name| name == "xsaveopt"), "{plain:?}");
        let refused = withheld(
            "<domain type='kvm'><cpu mode='host-model'><feature policy='disable' name='xsave'/></cpu></domain>",
        );
        assert!(
            !refused
                .iter()
                .any(|name| name == "xsaveopt" || name == "xsave"),
            "{refused:?}"
        );
    }

    #[test]
    fn a_tcg_domain_and_a_live_cpu_libvirt_did_not_update_tell_nothing() {
        let map = CpuMap::embedded();
        let tcg = CONROE.replace("type='kvm'", "type='qemu'");
        let start = StartLog {
            cpu_arg: Some("Conroe".to_string()),
            warnings: vec![
                "warning: TCG doesn't support requested feature: CPUID.01H:ECX.ssse3 [bit 9]"
                    .to_string(),
            ],
            other_qemu_lines: Vec::new(),
        };
        let passthrough = "<cpu mode='host-passthrough' check='none'/>";
        let (evidence, _) = gather(
            map,
            &[
                RunningDomain {
                    name: "tcg",
                    definition: &tcg,
                    live_cpu: Some("<cpu mode='custom' check='full'><model>Conroe</model></cpu>"),
                    start: Some(&start),
                },
                RunningDomain {
                    name: "passthrough",
                    definition: CONROE,
                    live_cpu: Some(passthrough),
                    start: None,
                },
            ],
        );
        assert!(evidence.is_empty(), "{evidence:?}");
    }

    #[test]
    fn starts_that_disagree_leave_the_feature_disputed() {
        let map = CpuMap::embedded();
        let warned = StartLog {
            cpu_arg: Some("Conroe".to_string()),
            warnings: vec![
                "warning: host doesn't support requested feature: CPUID.01H:ECX.ssse3 [bit 9]"
                    .to_string(),
            ],
            other_qemu_lines: Vec::new(),
        };
        let live = "<cpu mode='custom' match='exact' check='full'><model>Conroe</model></cpu>";
        let (evidence, _) = gather(
            map,
            &[
                RunningDomain {
                    name: "a",
                    definition: CONROE,
                    live_cpu: None,
                    start: Some(&warned),
                },
                RunningDomain {
                    name: "b",
                    definition: CONROE,
                    live_cpu: Some(live),
                    start: None,
                },
            ],
        );
        let settled = evidence.settle();
        let ssse3 = map.feature_id("ssse3").expect("ssse3");
        assert!(settled.disputed.contains(ssse3));
        assert!(!settled.withheld.contains(ssse3) && !settled.offered.contains(ssse3));
    }
}
