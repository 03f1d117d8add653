//! Live update after QEMU has started (libvirt's `virCPUUpdateLive`, spec 9.2).
//!
//! QEMU reports which features the vCPU really got (`enabled`) and which it
//! had to filter out (`disabled`). Outside `check='full'` the differences are
//! recorded in the live definition, so that it describes the CPU that was
//! created; under `check='full'` any difference makes the start fail. Once the
//! update has run, the QEMU driver switches the live definition to
//! `check='full'` ([`LiveUpdate::apply_driver_check`]) so that later migrations
//! verify exactly that CPU.

use super::{feature_names, model_data, PolicySelector};
use crate::cpudef::{CpuCheck, CpuDef, CpuMode, Policy};
use crate::data::CpuMap;
use crate::error::CpuError;
use crate::featureset::FeatureSet;

/// Whether [`update_live`] looked at the definition at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LiveUpdate {
    /// The definition was checked against the vCPU (and possibly edited).
    Updated,
    /// host-passthrough or maximum without `check='full'`: nothing to compare.
    NotUpdated,
}

impl LiveUpdate {
    /// The QEMU driver's step after a successful live update: a definition that
    /// was updated now describes the vCPU exactly, so its check becomes `full`
    /// whatever it was before (even `none`). A definition that was not updated
    /// keeps its check.
    pub fn apply_driver_check(self, cpu: &mut CpuDef) {
        if self == LiveUpdate::Updated {
            cpu.check = Some(CpuCheck::Full);
        }
    }
}

/// What QEMU did to one feature, compared with what the definition expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expectation {
    Enabled,
    Disabled,
    /// host-passthrough and maximum expect nothing of features they do not name.
    Anything,
}

/// Compares `cpu` with the vCPU QEMU created and records the differences
/// (spec 9.2). `enabled` and `disabled` are the features QEMU reports as on and
/// as filtered out. Errors are libvirt's "operation failed" messages, feature
/// names joined by `,` in map order.
pub fn update_live(
    map: &CpuMap,
    cpu: &mut CpuDef,
    enabled: &FeatureSet,
    disabled: &FeatureSet,
) -> Result<LiveUpdate, CpuError> {
    let check_full = cpu.check == Some(CpuCheck::Full);
    if cpu.mode != CpuMode::Custom && !check_full {
        return Ok(LiveUpdate::NotUpdated);
    }
    let host_passthrough = cpu.mode.is_passthrough();
    let described = model_data(map, cpu, PolicySelector::All)?;
    let explicitly_disabled = model_data(map, cpu, PolicySelector::Only(Policy::Disable))?.features;
    let model = described.model.map(|id| map.model(id));
    // As a bitset: it is asked once per map feature.
    let added: FeatureSet = model
        .map(|m| m.added.iter().copied().collect())
        .unwrap_or_default();

    let mut still_disabled = *disabled;
    let mut extra = FeatureSet::new();
    let mut missing = FeatureSet::new();
    // Only a feature QEMU enabled or filtered, or the definition asks for,
    // can change anything: walk those, in map order.
    let map_features = map.map_feature_end();
    let touched = enabled.union(disabled).union(&described.features);
    for id in map
        .in_map_order(&touched)
        .into_iter()
        .filter(|id| id.index() < map_features && map.knows(*id))
    {
        let feature = map.feature(id);
        let (explicit, expectation) = if described.features.contains(id) {
            (true, Expectation::Enabled)
        } else if explicitly_disabled.contains(id) {
            (true, Expectation::Disabled)
        } else if !host_passthrough {
            (false, Expectation::Disabled)
        } else {
            (false, Expectation::Anything)
        };
        let is_enabled = enabled.contains(id);
        let is_disabled = still_disabled.contains(id);
        if is_enabled && is_disabled {
            return Err(CpuError::operation_failed(format!(
                "hypervisor provided conflicting CPU data: feature '{}' is both enabled and disabled at the same time",
                feature.name
            )));
        }
        // Changes to a model's "added" features are expected: libvirt learned
        // of them after QEMU's model already had them.
        let ignore = !explicit && added.contains(id);
        if expectation == Expectation::Disabled && is_enabled {
            if check_full && !ignore {
                extra.insert(id);
            } else {
                cpu.update_feature(&feature.name, Policy::Require);
            }
        }
        if is_disabled || (expectation == Expectation::Enabled && !is_enabled) {
            if check_full && !ignore {
                missing.insert(id);
            } else {
                cpu.update_feature(&feature.name, Policy::Disable);
                still_disabled.remove(id);
            }
        }
    }
    for removed in model.map(|m| m.removed.as_slice()).unwrap_or_default() {
        cpu.add_if_missing(&map.feature(*removed).name, Policy::Disable);
    }

    let prefix = "guest CPU doesn't match specification";
    let extra_names = feature_names(map, &extra, ",");
    let missing_names = feature_names(map, &missing, ",");
    match (extra.is_empty(), missing.is_empty()) {
        (false, false) => Err(CpuError::operation_failed(format!(
            "{prefix}: extra features: {extra_names}, missing features: {missing_names}"
        ))),
        (false, true) => Err(CpuError::operation_failed(format!(
            "{prefix}: extra features: {extra_names}"
        ))),
        (true, false) => Err(CpuError::operation_failed(format!(
            "{prefix}: missing features: {missing_names}"
        ))),
        (true, true) if check_full && !still_disabled.is_empty() => {
            Err(CpuError::operation_failed(prefix))
        }
        (true, true) => Ok(LiveUpdate::Updated),
    }
}

/// How a live-updated CPU differs from the expected one, as cputest's
/// `cpuTestUpdateLive` judges it (spec 9.3 step 4). Both sides must already be
/// expanded ([`super::expand::expand_features`]), so their lists are sorted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LiveDifferences {
    /// `(actual, expected)` model names when they differ.
    pub model_mismatch: Option<(Option<String>, Option<String>)>,
    /// Features the expected CPU requires that the actual one lacks.
    pub lacks: Vec<String>,
    /// Features the actual CPU has that the expected one does not want.
    pub extra: Vec<String>,
}

impl LiveDifferences {
    pub fn is_empty(&self) -> bool {
        self.model_mismatch.is_none() && self.lacks.is_empty() && self.extra.is_empty()
    }
}

/// Walks the two name-sorted feature lists side by side (spec 9.3 step 4).
pub fn live_differences(actual: &CpuDef, expected: &CpuDef) -> LiveDifferences {
    let mut differences = LiveDifferences::default();
    if actual.model != expected.model {
        differences.model_mismatch = Some((actual.model.clone(), expected.model.clone()));
        return differences;
    }
    let (mut a, mut e) = (0, 0);
    while a < actual.features.len() || e < expected.features.len() {
        let in_actual = actual.features.get(a);
        let in_expected = expected.features.get(e);
        match (in_actual, in_expected) {
            (Some(act), Some(exp)) if act.name == exp.name => {
                match (exp.effective_policy(), act.effective_policy()) {
                    (Policy::Require, Policy::Disable) => differences.lacks.push(act.name.clone()),
                    (Policy::Disable, Policy::Require) => differences.extra.push(act.name.clone()),
                    _ => {}
                }
                a += 1;
                e += 1;
            }
            (Some(act), exp) if exp.is_none_or(|exp| act.name < exp.name) => {
                if act.effective_policy() == Policy::Require {
                    differences.extra.push(act.name.clone());
                }
                a += 1;
            }
            (_, Some(exp)) => {
                match exp.effective_policy() {
                    Policy::Require => differences.lacks.push(exp.name.clone()),
                    Policy::Disable => differences.extra.push(exp.name.clone()),
                    _ => {}
                }
                e += 1;
            }
            (_, None) => break,
        }
    }
    differences
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorClass;
    use crate::libvirt::expand::expand_features;
    use crate::libvirt::host_model::hypervisor_models;
    use crate::libvirt::translate::translate;
    use crate::libvirt::{cputestdata, find_hypervisor_model, HypervisorModel};

    /// The features whose bits are in a `<cpudata>` file.
    fn features_of(dir: &std::path::Path, file: &str) -> FeatureSet {
        let dump = crate::dump::cpudata_xml::parse(&cputestdata::read(dir, file))
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        CpuMap::embedded().features_in(&dump.cpuid)
    }

    /// cputest's `cpuTestUpdateLive` for one CPU (spec 9.3).
    fn check_cputest_live_update(dir: &std::path::Path, name: &str, mode: &str) {
        let map = CpuMap::embedded();
        let read_cpu = |suffix: &str| {
            let file = format!("x86_64-cpuid-{name}-{suffix}.xml");
            CpuDef::parse(&cputestdata::read(dir, &file)).unwrap_or_else(|e| panic!("{file}: {e}"))
        };
        let mut actual = read_cpu("guest");
        let mut expected = read_cpu("json");
        let enabled = features_of(dir, &format!("x86_64-cpuid-{name}-enabled.xml"));
        let disabled = features_of(dir, &format!("x86_64-cpuid-{name}-disabled.xml"));

        if let Some(expected_model) = expected
            .model
            .clone()
            .filter(|m| actual.model.as_ref() != Some(m))
        {
            // Only the expected model is allowed; its blockers come from QEMU's
            // definitions in `models*` tests.
            let mut allowed = HypervisorModel::named(&expected_model);
            if mode.starts_with("models") {
                let file = format!("x86_64-cpuid-{name}.json");
                let replies = crate::dump::qmp::parse(&cputestdata::read(dir, &file))
                    .unwrap_or_else(|e| panic!("{file}: {e}"))
                    .qemu
                    .unwrap_or_default();
                let models = hypervisor_models(replies.definitions.as_deref().unwrap_or_default());
                if let Some(entry) = find_hypervisor_model(&models, &expected_model) {
                    allowed = entry.clone();
                }
            }
            let fallback = actual.fallback;
            actual.fallback = crate::cpudef::Fallback::Allow;
            // cputest ignores a failed translation; the comparison then fails.
            let _ = translate(map, &mut actual, &[allowed]);
            actual.fallback = fallback;
        }

        update_live(map, &mut actual, &enabled, &disabled)
            .unwrap_or_else(|e| panic!("{name}: live update: {e}"));
        expand_features(map, &mut actual).unwrap_or_else(|e| panic!("{name}: {e}"));
        expand_features(map, &mut expected).unwrap_or_else(|e| panic!("{name}: {e}"));
        let differences = live_differences(&actual, &expected);
        assert!(differences.is_empty(), "{name}: {differences:?}");
    }

    #[test]
    fn cputest_live_updates_match_the_host_model() {
        let Some(dir) = cputestdata::dir() else {
            return;
        };
        let mut checked = 0;
        for case in cputestdata::cases(&dir, "cpuid") {
            let [name, mode] = case.as_slice() else {
                panic!("malformed cpuid case {case:?}");
            };
            if mode != "none" {
                check_cputest_live_update(&dir, name, mode);
                checked += 1;
            }
        }
        assert_eq!(checked, 34);
    }

    fn ids(map: &CpuMap, names: &[&str]) -> FeatureSet {
        names
            .iter()
            .map(|n| map.feature_id(n).expect("known feature"))
            .collect()
    }

    fn cpu(text: &str) -> CpuDef {
        CpuDef::parse(text).expect("valid cpu")
    }

    #[test]
    fn records_filtered_and_extra_features_outside_check_full() {
        let map = CpuMap::embedded();
        let mut def =
            cpu("<cpu><model>Westmere</model><feature name='vmx' policy='disable'/></cpu>");
        let model = map.model(map.model_id("Westmere").expect("Westmere"));
        let mut enabled = model.features;
        enabled.subtract(&ids(map, &["aes"]));
        enabled.union_with(&ids(map, &["hypervisor", "vmx"]));
        let disabled = ids(map, &["aes"]);
        let outcome = update_live(map, &mut def, &enabled, &disabled).expect("updated");
        assert_eq!(outcome, LiveUpdate::Updated);
        let listed: Vec<(&str, Option<Policy>)> = def
            .features
            .iter()
            .map(|f| (f.name.as_str(), f.policy))
            .collect();
        // vmx is updated in place; then map order: aes (filtered), hypervisor (extra).
        assert_eq!(
            listed,
            vec![
                ("vmx", Some(Policy::Require)),
                ("aes", Some(Policy::Disable)),
                ("hypervisor", Some(Policy::Require)),
            ]
        );
        assert_eq!(def.check, None);
        outcome.apply_driver_check(&mut def);
        assert_eq!(def.check, Some(CpuCheck::Full));
    }

    #[test]
    fn check_full_reports_differences_in_map_order() {
        let map = CpuMap::embedded();
        let mut def = cpu("<cpu check='full'><model>Westmere</model></cpu>");
        let model = map.model(map.model_id("Westmere").expect("Westmere"));
        let mut enabled = model.features;
        enabled.subtract(&ids(map, &["aes", "sse"]));
        enabled.union_with(&ids(map, &["hypervisor", "vme"]));
        let error =
            update_live(map, &mut def, &enabled, &FeatureSet::new()).expect_err("differences");
        assert_eq!(error.class, ErrorClass::OperationFailed);
        assert_eq!(
            error.to_string(),
            "operation failed: guest CPU doesn't match specification: extra features: hypervisor,vme, missing features: aes,sse"
        );
    }

    #[test]
    fn conflicting_data_is_an_error() {
        let map = CpuMap::embedded();
        let mut def = cpu("<cpu><model>Westmere</model></cpu>");
        let both = ids(map, &["sse"]);
        let error = update_live(map, &mut def, &both, &both).expect_err("conflict");
        assert_eq!(
            error.message,
            "hypervisor provided conflicting CPU data: feature 'sse' is both enabled and disabled at the same time"
        );
    }

    #[test]
    fn passthrough_without_check_full_is_left_alone() {
        let map = CpuMap::embedded();
        let mut def = cpu("<cpu mode='host-passthrough' check='partial'/>");
        let outcome =
            update_live(map, &mut def, &ids(map, &["sse"]), &ids(map, &["aes"])).expect("ok");
        assert_eq!(outcome, LiveUpdate::NotUpdated);
        outcome.apply_driver_check(&mut def);
        assert_eq!(def.check, Some(CpuCheck::Partial));
        assert!(def.features.is_empty());
    }

    #[test]
    fn check_full_fails_on_filtered_data_nobody_asked_for() {
        let map = CpuMap::embedded();
        // Passthrough expects nothing of `aes`, but QEMU filtered it anyway.
        let mut def = cpu("<cpu mode='host-passthrough' check='full'/>");
        let error = update_live(map, &mut def, &FeatureSet::new(), &ids(map, &["aes"]))
            .expect_err("filtered");
        assert_eq!(
            error.message,
            "guest CPU doesn't match specification: missing features: aes"
        );
    }

    #[test]
    fn differences_walk_sorted_lists() {
        let actual = cpu("<cpu><model>M</model><feature name='a' policy='disable'/><feature name='b'/><feature name='d' policy='disable'/></cpu>");
        let expected = cpu("<cpu><model>M</model><feature name='a'/><feature name='c'/><feature name='e' policy='disable'/></cpu>");
        let differences = live_differences(&actual, &expected);
        assert_eq!(differences.lacks, vec!["a", "c"]);
        assert_eq!(differences.extra, vec!["b", "e"]);
        let other = cpu("<cpu><model>N</model></cpu>");
        assert!(live_differences(&actual, &other).model_mismatch.is_some());
    }
}
