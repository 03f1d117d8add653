//! Updating a guest CPU against a host (libvirt's `virCPUUpdate`): optional
//! features are resolved, `host-model` and `match='minimum'` become the host CPU,
//! and the model's removed features are made explicit.

use super::{lookup_model, model_data, PolicySelector};
use crate::cpudef::{CpuDef, CpuMatch, CpuMode, CpuType, Policy};
use crate::data::CpuMap;
use crate::error::CpuError;

/// Updates `guest` against `host`. `removed_policy` is `disable` for a new start
/// and `require` for an incoming migration, a restore or a reconnect.
pub fn update(
    map: &CpuMap,
    guest: &mut CpuDef,
    host: Option<&CpuDef>,
    removed_policy: Policy,
) -> Result<(), CpuError> {
    if guest.mode.is_passthrough() {
        return Ok(());
    }
    let relative = guest.mode == CpuMode::HostModel
        || guest.match_mode == CpuMatch::Minimum
        || guest
            .features
            .iter()
            .any(|f| f.policy == Some(Policy::Optional));
    if relative {
        let host = host
            .filter(|h| h.model.is_some())
            .ok_or_else(|| CpuError::internal("unknown host CPU model"))?;
        let host_data = model_data(map, host, PolicySelector::All)?.features;
        for feature in guest
            .features
            .iter_mut()
            .filter(|f| f.policy == Some(Policy::Optional))
        {
            let id = super::lookup_feature(map, &feature.name)?;
            feature.policy = Some(if host_data.contains(id) {
                Policy::Require
            } else {
                Policy::Disable
            });
        }
        if guest.mode == CpuMode::HostModel || guest.match_mode == CpuMatch::Minimum {
            replace_with_host(guest, host);
        }
    }
    let Some(model_name) = guest.model.clone() else {
        return Ok(());
    };
    let model = map.model(lookup_model(map, &model_name)?);
    for removed in &model.removed {
        guest.add_if_missing(&map.feature(*removed).name, removed_policy);
    }
    Ok(())
}

/// Replaces a host-model or minimum guest CPU with the host CPU, keeping the
/// guest's own features on top (spec 6.2).
fn replace_with_host(guest: &mut CpuDef, host: &CpuDef) {
    let mut merged = CpuDef::new(CpuType::Guest);
    for feature in &host.features {
        let policy = match host.cpu_type {
            CpuType::Host => Policy::Require,
            CpuType::Guest => feature.effective_policy(),
        };
        merged.features.push(crate::CpuFeature {
            name: feature.name.clone(),
            policy: Some(policy),
        });
    }
    for feature in &guest.features {
        merged.update_feature(&feature.name, feature.effective_policy());
    }
    guest.model = host.model.clone();
    guest.features = merged.features;
    if guest.mode == CpuMode::HostModel {
        guest.vendor = host.vendor.clone();
        if guest.vendor_id.is_none() {
            guest.vendor_id = host.vendor_id.clone();
        }
    }
    guest.mode = CpuMode::Custom;
    guest.match_mode = CpuMatch::Exact;
}
