//! Which named CPU models a host can run, with the features that block the
//! others: what `virsh domcapabilities` lists under `<mode name='custom'>`.
//!
//! When the host input carries QEMU's own answer (`query-cpu-definitions`, or
//! a domain capabilities document), that answer is returned as libvirt shows
//! it (spec 8.3): only models both QEMU and libvirt know, names sorted,
//! blockers translated to libvirt names, sorted and de-duplicated. Otherwise
//! every libvirt model is predicted with [`super::guest::build_guest_cpu`]: its blockers are
//! the features QEMU would filter from the bare model.

use super::accel::{assess, HostFeatures};
use super::definitions::QemuVersion;
use super::guest::{build_guest_cpu_assessed, BuildDetail};
use crate::data::CpuMap;
use crate::domain::Accelerator;
use crate::error::CpuError;
use crate::host::HostInput;
use crate::libvirt::{HypervisorModel, Usability};

/// One named model and whether the host can run it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelUsability {
    pub name: String,
    pub usable: Usability,
    /// Features (libvirt names) the host cannot give, sorted.
    pub blockers: Vec<String>,
}

/// Where a model list came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsabilitySource {
    /// QEMU's own answer, carried by the host input.
    Qemu,
    /// Predicted from the host's features and QEMU's model definitions.
    Predicted,
}

/// The model list for a host, with where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelReport {
    pub source: UsabilitySource,
    pub models: Vec<ModelUsability>,
    pub notes: Vec<String>,
}

/// Predicts every libvirt model (unversioned and `-vN`), in map order.
pub fn model_usability(
    map: &CpuMap,
    version: &QemuVersion,
    accel: Accelerator,
    host: &HostFeatures,
) -> Vec<ModelUsability> {
    // The host's side is the same for every model: assess it once.
    let support = assess(map, version, accel, host);
    map.models()
        .map(|(_, model)| {
            let build = build_guest_cpu_assessed(
                map,
                version,
                &support,
                host,
                &model.name,
                &[],
                BuildDetail::Blockers,
            );
            match build {
                Ok(build) => {
                    let blockers = build.blockers(map);
                    ModelUsability {
                        name: model.name.clone(),
                        usable: if blockers.is_empty() {
                            Usability::Yes
                        } else {
                            Usability::No
                        },
                        blockers,
                    }
                }
                // Every map model has at least libvirt's own definition.
                Err(_) => ModelUsability {
                    name: model.name.clone(),
                    usable: Usability::Unknown,
                    blockers: Vec::new(),
                },
            }
        })
        .collect()
}

/// QEMU's answer as libvirt lists it: models libvirt knows, minus `host`,
/// sorted by name.
pub fn usability_from_hypervisor(map: &CpuMap, models: &[HypervisorModel]) -> Vec<ModelUsability> {
    let mut list: Vec<ModelUsability> = models
        .iter()
        .filter(|m| m.name != "host" && map.model_id(&m.name).is_some())
        .map(|m| {
            let mut blockers = m.blockers.clone();
            blockers.sort();
            blockers.dedup();
            ModelUsability {
                name: m.name.clone(),
                usable: m.usable,
                blockers,
            }
        })
        .collect();
    list.sort_by(|a, b| a.name.cmp(&b.name));
    list.dedup_by(|a, b| a.name == b.name);
    list
}

/// The model list for a parsed host input: QEMU's own answer when the input
/// has one and the accelerator is KVM (QEMU answers for the accelerator it
/// ran with, KVM in every capture libvirt takes), else a prediction.
pub fn models_for_host(
    map: &CpuMap,
    version: &QemuVersion,
    accel: Accelerator,
    input: &HostInput<'_>,
) -> Result<ModelReport, CpuError> {
    let mut notes = Vec::new();
    if let Some(models) = input.hypervisor_models() {
        if accel == Accelerator::Kvm {
            return Ok(ModelReport {
                source: UsabilitySource::Qemu,
                models: usability_from_hypervisor(map, &models),
                notes,
            });
        }
        notes.push("QEMU's model list is for KVM; TCG is predicted instead".to_string());
    }
    let host = HostFeatures::from_host_input(map, input);
    if host.features().is_empty() && accel == Accelerator::Kvm {
        return Err(CpuError::unsupported(
            "the host input has neither CPU data nor QEMU's answers; nothing to predict from",
        ));
    }
    Ok(ModelReport {
        source: UsabilitySource::Predicted,
        models: model_usability(map, version, accel, &host),
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpuid::Signature;
    use crate::qemu::definitions::QemuDefinitions;

    #[test]
    fn every_libvirt_model_is_listed_and_blockers_are_sorted() {
        let map = CpuMap::embedded();
        let version = QemuDefinitions::embedded().newest();
        let haswell = version
            .resolve("Haswell-v1")
            .expect("Haswell-v1")
            .features
            .known;
        let host = HostFeatures::Raw {
            features: haswell,
            vendor: None,
            signature: Signature::default(),
            has_vmx_msrs: false,
        };
        let models = model_usability(map, version, Accelerator::Kvm, &host);
        assert_eq!(models.len(), map.models().count());
        let find = |name: &str| models.iter().find(|m| m.name == name).expect(name);
        assert_eq!(find("Haswell").usable, Usability::Yes);
        assert_eq!(find("Haswell-v2").usable, Usability::Yes);
        assert_eq!(find("Haswell-v4").blockers, ["spec-ctrl"]);
        let skylake = find("Skylake-Client");
        assert_eq!(skylake.usable, Usability::No);
        let mut sorted = skylake.blockers.clone();
        sorted.sort();
        assert_eq!(skylake.blockers, sorted);
        assert!(skylake.blockers.contains(&"xsavec".to_string()));
    }

    #[test]
    fn qemu_answer_is_returned_as_libvirt_shows_it() {
        let map = CpuMap::embedded();
        let models = [
            HypervisorModel {
                name: "host".into(),
                usable: Usability::Yes,
                blockers: vec![],
                deprecated: false,
            },
            HypervisorModel {
                name: "Skylake-Client".into(),
                usable: Usability::No,
                blockers: vec!["rtm".into(), "hle".into(), "rtm".into()],
                deprecated: false,
            },
            HypervisorModel::named("Broadwell"),
            HypervisorModel::named("max"),
        ];
        let list = usability_from_hypervisor(map, &models);
        let names: Vec<&str> = list.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["Broadwell", "Skylake-Client"]);
        assert_eq!(list[1].blockers, ["hle", "rtm"]);
        assert_eq!(list[0].usable, Usability::Unknown);
    }
}
