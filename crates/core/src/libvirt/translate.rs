//! Translating a guest CPU to a model the hypervisor supports (libvirt's
//! `virCPUTranslate`): the CPU's data is decoded again with only the allowed
//! models, and the user's own features are put back on top.

use super::decode::{decode, DecodeOptions};
use super::{find_hypervisor_model, model_data, CpuSignals, HypervisorModel, PolicySelector};
use crate::cpudef::{CpuDef, CpuMode, Fallback};
use crate::data::CpuMap;
use crate::error::CpuError;

/// Moves `cpu` to a model in `allowed` when its own model is not there.
pub fn translate(
    map: &CpuMap,
    cpu: &mut CpuDef,
    allowed: &[HypervisorModel],
) -> Result<(), CpuError> {
    if cpu.mode != CpuMode::Custom {
        return Ok(());
    }
    let Some(model_name) = cpu.model.clone() else {
        return Ok(());
    };
    if find_hypervisor_model(allowed, &model_name).is_some() {
        return Ok(());
    }
    if cpu.fallback != Fallback::Allow {
        return Err(CpuError::unsupported(format!(
            "CPU model {model_name} is not supported by hypervisor"
        )));
    }
    let data = model_data(map, cpu, PolicySelector::All)?;
    let model = data.model.map(|id| map.model(id));
    let signals = CpuSignals {
        features: data.features,
        vendor: data.vendor,
        signature: model
            .and_then(|m| m.signatures.first())
            .map(|s| s.lowest())
            .unwrap_or_default(),
    };
    let mut translated = CpuDef::new(cpu.cpu_type);
    translated.fallback = cpu.fallback;
    decode(
        map,
        &mut translated,
        &signals,
        DecodeOptions {
            allowed: Some(allowed),
            ..DecodeOptions::default()
        },
    )?;
    for feature in &cpu.features {
        translated.update_feature(&feature.name, feature.effective_policy());
    }
    cpu.model = translated.model;
    cpu.features = translated.features;
    Ok(())
}
