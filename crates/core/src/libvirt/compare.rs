//! Compare a CPU definition with a host CPU (libvirt's `virCPUCompare`), and the
//! feature probes and forbidden-feature check that sit beside it.

use super::{feature_names, lookup_feature, model_data, PolicySelector};
use crate::cpudef::{CpuDef, CpuMatch, CpuType, Policy};
use crate::data::CpuMap;
use crate::error::CpuError;
use crate::featureset::{FeatureSet, SetRelation};

/// What `virsh cpu-compare` answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CompareResult {
    /// The host is exactly the CPU described.
    Identical,
    /// The host can run the CPU and has more.
    Superset,
    /// The host cannot run the CPU; the reason is libvirt's message.
    Incompatible(String),
}

impl CompareResult {
    pub fn as_str(&self) -> &'static str {
        match self {
            CompareResult::Identical => "identical",
            CompareResult::Superset => "superset",
            CompareResult::Incompatible(_) => "incompatible",
        }
    }
}

/// Compares `cpu` with `host`. With `fail_incompatible`, an incompatible result
/// becomes a CPU-incompatible error, as the QEMU driver asks for.
pub fn compare(
    map: &CpuMap,
    host: Option<&CpuDef>,
    cpu: &CpuDef,
    fail_incompatible: bool,
) -> Result<CompareResult, CpuError> {
    let host_data = host.map(|h| host_data(map, h));
    compare_with_data(map, host.zip(host_data.as_ref()), cpu, fail_incompatible)
}

/// The data [`compare`] reads of a host CPU: its whole definition
/// ([`model_data`]), or the error making it gives. A caller comparing many
/// definitions with one host makes it once and calls [`compare_with_data`].
pub fn host_data(map: &CpuMap, host: &CpuDef) -> Result<FeatureSet, CpuError> {
    model_data(map, host, PolicySelector::All).map(|data| data.features)
}

/// [`compare`] with the host's data already made ([`host_data`]).
pub fn compare_with_data(
    map: &CpuMap,
    host: Option<(&CpuDef, &Result<FeatureSet, CpuError>)>,
    cpu: &CpuDef,
    fail_incompatible: bool,
) -> Result<CompareResult, CpuError> {
    let result = compare_inner(map, host, cpu)?;
    match result {
        CompareResult::Incompatible(reason) if fail_incompatible => {
            Err(CpuError::incompatible(reason))
        }
        other => Ok(other),
    }
}

fn compare_inner(
    map: &CpuMap,
    host: Option<(&CpuDef, &Result<FeatureSet, CpuError>)>,
    cpu: &CpuDef,
) -> Result<CompareResult, CpuError> {
    let Some((host, host_data)) = host.filter(|(h, _)| h.model.is_some()) else {
        return Ok(CompareResult::Incompatible("unknown host CPU".to_string()));
    };
    if let Some(arch) = cpu
        .arch
        .as_deref()
        .filter(|a| !matches!(*a, "i686" | "x86_64"))
    {
        return Ok(CompareResult::Incompatible(format!(
            "CPU arch {arch} does not match host arch"
        )));
    }
    if let Some(vendor) = &cpu.vendor {
        if host.vendor.as_ref() != Some(vendor) {
            return Ok(CompareResult::Incompatible(format!(
                "host CPU vendor does not match required CPU vendor {vendor}"
            )));
        }
    }
    let host_data = host_data.clone()?;
    let forced = model_data(map, cpu, PolicySelector::Only(Policy::Force))?.features;
    let mut required = model_data(map, cpu, PolicySelector::Only(Policy::Require))?.features;
    let optional = model_data(map, cpu, PolicySelector::Only(Policy::Optional))?.features;
    let disabled = model_data(map, cpu, PolicySelector::Only(Policy::Disable))?.features;
    let forbidden = model_data(map, cpu, PolicySelector::Only(Policy::Forbid))?.features;

    let provided_forbidden = forbidden.intersection(&host_data);
    if !provided_forbidden.is_empty() {
        return Ok(CompareResult::Incompatible(format!(
            "Host CPU provides forbidden features: {}",
            feature_names(map, &provided_forbidden, ", ")
        )));
    }
    // Explicit policies override what the model itself brings in.
    required.subtract(&forced);
    required.subtract(&optional);
    required.subtract(&disabled);
    if matches!(
        host_data.relation(&required),
        SetRelation::Subset | SetRelation::Unrelated
    ) {
        return Ok(CompareResult::Incompatible(format!(
            "Host CPU does not provide required features: {}",
            feature_names(map, &required.difference(&host_data), ", ")
        )));
    }
    let extra = host_data
        .difference(&optional)
        .difference(&required)
        .difference(&disabled)
        .difference(&forced);
    if extra.is_empty() {
        return Ok(CompareResult::Identical);
    }
    if cpu.cpu_type == CpuType::Guest && cpu.match_mode == CpuMatch::Strict {
        return Ok(CompareResult::Incompatible(format!(
            "Host CPU does not strictly match guest CPU: Extra features: {}",
            feature_names(map, &extra, ", ")
        )));
    }
    Ok(CompareResult::Superset)
}

/// libvirt's `virCPUCheckFeature`: does the definition (model plus features) have
/// the feature? Internal KVM/Hyper-V names are accepted too.
pub fn has_feature(map: &CpuMap, def: &CpuDef, name: &str) -> Result<bool, CpuError> {
    let id = map
        .feature_id(name)
        .ok_or_else(|| CpuError::internal(format!("unknown CPU feature {name}")))?;
    let data = model_data(map, def, PolicySelector::All)?.features;
    Ok(data.contains(id) || implied_by_bits(map, &data, id))
}

/// A feature whose bits are all covered by other features present (only the
/// two-bit `hv-vapic` can be, through `hv-xmm_input` and `hv-relaxed`).
fn implied_by_bits(map: &CpuMap, data: &FeatureSet, id: crate::FeatureId) -> bool {
    let wanted = map.feature(id).bits;
    if wanted.registers.is_zero() {
        return true;
    }
    // Only the present features at the same CPUID leaf or MSR can cover it.
    let mut covered = [0u32; 4];
    for bits in data
        .iter()
        .map(|present| map.feature(present).bits)
        .filter(|bits| bits.key == wanted.key)
    {
        for (register, value) in covered.iter_mut().zip(bits.registers.0) {
            *register |= value;
        }
    }
    crate::cpuid::Registers(covered).contains(&wanted.registers)
}

/// libvirt's `virCPUCheckForbiddenFeatures`: a guest `forbid` feature the host
/// lists (with any policy but `disable`) refuses the start.
pub fn check_forbidden_features(
    map: &CpuMap,
    guest: &CpuDef,
    host: &CpuDef,
) -> Result<(), CpuError> {
    for feature in guest
        .features
        .iter()
        .filter(|f| f.policy == Some(Policy::Forbid))
    {
        lookup_feature(map, &feature.name)?;
        let host_has = host
            .feature(&feature.name)
            .is_some_and(|f| f.policy != Some(Policy::Disable));
        if host_has {
            return Err(CpuError::incompatible(format!(
                "Host CPU provides forbidden feature '{}'",
                feature.name
            )));
        }
    }
    Ok(())
}
