//! libvirt's x86 CPU driver, rule for rule (see `../shared/spec/libvirt-cpu-behaviour.md`).
//!
//! This module holds the set algebra every operation shares: turning a CPU
//! definition into feature data by policy ([`model_data`]) and data back into a
//! feature list ([`features_from_data`]). The operations live in the submodules,
//! each named after the libvirt API it reproduces.

pub mod baseline;
pub mod compare;
#[cfg(test)]
mod cputestdata;
pub mod decode;
pub mod expand;
pub mod host_model;
pub mod release;
pub mod translate;
pub mod update;
pub mod update_live;

use crate::cpudef::{CpuDef, CpuType, Policy};
use crate::cpuid::{CpuidData, Signature};
use crate::data::{CpuMap, ModelId, VendorId};
use crate::error::CpuError;
use crate::featureset::FeatureSet;

pub use crate::data::{lookup_feature, lookup_model};
pub use crate::facts::Usability;

/// Which features of a definition [`model_data`] collects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicySelector {
    /// The whole definition: model plus `force`/`require`, minus `disable`/`forbid`.
    All,
    /// Only the features listed with this policy (plus the model for `require`).
    Only(Policy),
}

/// The data described by a CPU definition, with what its model carries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModelData {
    pub features: FeatureSet,
    pub model: Option<ModelId>,
    pub vendor: Option<VendorId>,
}

/// libvirt's `x86ModelFromCPU`: the data of one policy, or of the whole definition.
pub fn model_data(
    map: &CpuMap,
    def: &CpuDef,
    selector: PolicySelector,
) -> Result<ModelData, CpuError> {
    let mut result = ModelData::default();
    let wants_model = matches!(
        selector,
        PolicySelector::All | PolicySelector::Only(Policy::Require)
    );
    if def.cpu_type == CpuType::Host && !wants_model {
        return Ok(result);
    }
    if wants_model {
        if let Some(name) = &def.model {
            let id = lookup_model(map, name)?;
            let model = map.model(id);
            result.features = model.features;
            result.model = Some(id);
            result.vendor = model.vendor;
        }
    }
    for feature in &def.features {
        let policy = feature.effective_policy();
        let (add, remove) = match selector {
            PolicySelector::All => match policy {
                Policy::Optional => continue,
                Policy::Force | Policy::Require => (true, false),
                Policy::Disable | Policy::Forbid => (false, true),
            },
            PolicySelector::Only(wanted) if wanted == policy => (true, false),
            PolicySelector::Only(_) => continue,
        };
        let id = lookup_feature(map, &feature.name)?;
        if add {
            result.features.insert(id);
        }
        if remove {
            result.features.remove(id);
        }
    }
    Ok(result)
}

/// libvirt's `x86DataToCPUFeatures`: appends every map feature in `data` (map
/// order) with `policy`.
pub fn features_from_data(map: &CpuMap, def: &mut CpuDef, policy: Policy, data: &FeatureSet) {
    // In the release's map order; map features come first. A feature this
    // release does not define (a set made against another release's map) is
    // not in its data.
    let map_features = map.map_feature_end();
    for id in map
        .in_map_order(data)
        .into_iter()
        .filter(|id| id.index() < map_features && map.knows(*id))
    {
        let feature = map.feature(id);
        if def.add_exclusive(&feature.name, policy).is_err() {
            // Already listed: libvirt fails here, but its callers never list a
            // feature twice, so this only skips the duplicate.
            continue;
        }
    }
}

/// Names of the map features in `set`, in map order, joined by `separator`.
pub fn feature_names(map: &CpuMap, set: &FeatureSet, separator: &str) -> String {
    map.names(set).collect::<Vec<_>>().join(separator)
}

/// CPU data as the decoder sees it: feature bits, the vendor and the signature.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CpuSignals {
    pub features: FeatureSet,
    pub vendor: Option<VendorId>,
    pub signature: Signature,
}

impl CpuSignals {
    /// Reads raw CPUID data: vendor detection, signature and every feature present.
    pub fn from_cpuid(map: &CpuMap, data: &CpuidData) -> CpuSignals {
        CpuSignals {
            features: map.features_in(data),
            vendor: map.detect_vendor(data),
            signature: data.signature(),
        }
    }
}

/// One model the hypervisor supports, with the features that block it (libvirt names).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HypervisorModel {
    pub name: String,
    pub usable: Usability,
    pub blockers: Blockers,
    pub deprecated: bool,
}

impl HypervisorModel {
    /// A model with nothing known about its usability (a plain allowed name).
    pub fn named(name: &str) -> Self {
        HypervisorModel {
            name: name.to_string(),
            usable: Usability::Unknown,
            blockers: Blockers::default(),
            deprecated: false,
        }
    }
}

/// The features that block a model: QEMU's answer as names, or a prediction
/// kept as a feature set until a name is shown (a host's prediction blocks
/// most of the map's models by a dozen features each, and most are never
/// shown).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Blockers {
    /// libvirt names in the order QEMU's answer gives them.
    Named(Vec<String>),
    /// Predicted: the map's features the host cannot give, and the
    /// QEMU-only flags QEMU filters whatever the host; listed sorted by name.
    Predicted {
        features: FeatureSet,
        qemu_only: Vec<String>,
    },
}

impl Default for Blockers {
    fn default() -> Self {
        Blockers::Named(Vec::new())
    }
}

impl Blockers {
    pub fn is_empty(&self) -> bool {
        match self {
            Blockers::Named(names) => names.is_empty(),
            Blockers::Predicted {
                features,
                qemu_only,
            } => features.is_empty() && qemu_only.is_empty(),
        }
    }

    /// The names, in QEMU's order when they came from QEMU, else sorted.
    pub fn names(&self, map: &CpuMap) -> Vec<String> {
        match self {
            Blockers::Named(names) => names.clone(),
            Blockers::Predicted {
                features,
                qemu_only,
            } if qemu_only.is_empty() => {
                // Map names are distinct: nothing to deduplicate.
                let mut names = Vec::with_capacity(features.len());
                map.each_by_name(features, |id| names.push(map.feature(id).name.clone()));
                names
            }
            Blockers::Predicted {
                features,
                qemu_only,
            } => {
                let mut names: Vec<&str> = Vec::with_capacity(features.len() + qemu_only.len());
                names.extend(map.names(features));
                names.extend(qemu_only.iter().map(String::as_str));
                crate::sort::sort(&mut names);
                names.dedup();
                names.into_iter().map(str::to_string).collect()
            }
        }
    }

    /// The blockers the map knows, as a set.
    pub fn known_features(&self, map: &CpuMap) -> FeatureSet {
        match self {
            Blockers::Named(names) => names.iter().filter_map(|n| map.feature_id(n)).collect(),
            Blockers::Predicted {
                features,
                qemu_only,
            } => {
                let mut known = *features;
                for id in qemu_only.iter().filter_map(|n| map.feature_id(n)) {
                    known.insert(id);
                }
                known
            }
        }
    }
}

/// Finds a model in a hypervisor's list by exact name.
pub fn find_hypervisor_model<'a>(
    models: &'a [HypervisorModel],
    name: &str,
) -> Option<&'a HypervisorModel> {
    models.iter().find(|m| m.name == name)
}

/// libvirt's `virCPUDefCopyMigratable`: drops the features marked `migratable='no'`.
pub fn copy_migratable(map: &CpuMap, def: &CpuDef) -> CpuDef {
    let mut copy = def.clone();
    copy.features.retain(|f| {
        map.feature_id(&f.name)
            .is_none_or(|id| map.feature(id).migratable)
    });
    copy
}
