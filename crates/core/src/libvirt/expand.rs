//! Feature expansion (libvirt's `virCPUExpandFeatures`): a definition's model is
//! spelled out as an explicit, name-sorted feature list.
//!
//! Expansion is what `virsh cpu-baseline --features` and the live-update test
//! print, so two definitions that describe the same CPU expand identically even
//! when one names a model with many features and the other a smaller model with
//! extra ones.

use super::{features_from_data, lookup_model};
use crate::cpudef::{CpuDef, CpuType, Policy};
use crate::data::CpuMap;
use crate::error::CpuError;

/// Replaces `def`'s feature list with every feature of its model plus its own
/// `require` and `disable` features (for a guest, `force`, `optional` and
/// `forbid` entries are dropped, as libvirt does), sorted byte-wise by name.
///
/// The model name, vendor and `vendor_id` are kept.
pub fn expand_features(map: &CpuMap, def: &mut CpuDef) -> Result<(), CpuError> {
    let is_host = def.cpu_type == CpuType::Host;
    let model_name = def.model.as_deref().unwrap_or("(null)");
    let model = map.model(
        lookup_model(map, model_name)
            .map_err(|_| CpuError::internal(format!("unknown CPU model {model_name}")))?,
    );

    // A scratch def of the same type, so that a host def keeps policy `none`.
    let mut expanded = CpuDef::new(def.cpu_type);
    features_from_data(map, &mut expanded, Policy::Require, &model.features);
    for feature in &def.features {
        let policy = feature.effective_policy();
        if !is_host && !matches!(policy, Policy::Require | Policy::Disable) {
            continue;
        }
        expanded.update_feature(&feature.name, policy);
    }
    if !is_host {
        for removed in &model.removed {
            expanded.add_if_missing(&map.feature(*removed).name, Policy::Disable);
        }
    }
    // libvirt sorts with `strcmp`; `str` ordering is the same byte-wise order.
    crate::sort::sort_by(&mut expanded.features, |a, b| a.name.cmp(&b.name));
    def.features = expanded.features;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guest_keeps_only_require_and_disable_and_adds_removed() {
        let map = CpuMap::embedded();
        let mut def = CpuDef::parse(
            "<cpu><model>Skylake-Client</model><feature policy='force' name='vmx'/><feature policy='disable' name='sse'/><feature policy='require' name='Z-upper-case'/></cpu>",
        )
        .expect("valid cpu");
        expand_features(map, &mut def).expect("expand");
        let names: Vec<&str> = def.features.iter().map(|f| f.name.as_str()).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        assert_eq!(names, sorted);
        // Byte-wise, digits sort before upper case and upper case before lower case.
        assert_eq!(&names[..2], &["3dnowprefetch", "Z-upper-case"]);
        assert!(!names.contains(&"vmx"));
        assert_eq!(
            def.feature("sse").and_then(|f| f.policy),
            Some(Policy::Disable)
        );
        // Skylake-Client lists `mpx` as removed.
        assert_eq!(
            def.feature("mpx").and_then(|f| f.policy),
            Some(Policy::Disable)
        );
    }

    #[test]
    fn host_defs_keep_no_policy() {
        let map = CpuMap::embedded();
        let mut def = CpuDef::parse(
            "<cpu><arch>x86_64</arch><model>Penryn</model><feature name='vmx'/></cpu>",
        )
        .expect("valid host cpu");
        expand_features(map, &mut def).expect("expand");
        assert!(def.features.iter().all(|f| f.policy.is_none()));
        assert!(def.feature("vmx").is_some() && def.feature("sse4.1").is_some());
    }

    #[test]
    fn unknown_model_is_an_internal_error() {
        let map = CpuMap::embedded();
        let mut def = CpuDef::parse("<cpu><model>Pentium-MMX-9000</model></cpu>").expect("cpu");
        let error = expand_features(map, &mut def).expect_err("unknown model");
        assert_eq!(
            error.to_string(),
            "internal error: unknown CPU model Pentium-MMX-9000"
        );
    }
}
