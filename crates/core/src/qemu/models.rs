//! Which named CPU models a host can run, with the features that block the
//! others: what `virsh domcapabilities` lists under `<mode name='custom'>`.
//!
//! When the host input carries QEMU's own answer (`query-cpu-definitions`, or
//! a domain capabilities document), that answer is returned as libvirt shows
//! it (spec 8.3): only models both QEMU and libvirt know, names sorted,
//! blockers translated to libvirt names, sorted and de-duplicated. Otherwise
//! every libvirt model is predicted with [`super::guest::build_guest_cpu`]: its blockers are
//! the features QEMU would filter from the bare model.
//!
//! What a bare model asks of the host (after the accelerator's defaults and
//! QEMU's feature dependencies) does not depend on the host unless the host
//! is QEMU's own expansion: it is built once per QEMU version and accelerator
//! (kept for the embedded data), and a host's blockers are then one set
//! difference per model with the accelerator's verdict on that host.

use std::sync::OnceLock;

use super::accel::{assess, AccelSupport, HostFeatures};
use super::definitions::{QemuDefinitions, QemuVersion};
use super::guest::{build_guest_cpu_assessed, BuildDetail};
use crate::cpuid::Signature;
use crate::data::CpuMap;
use crate::domain::Accelerator;
use crate::error::CpuError;
use crate::featureset::FeatureSet;
use crate::host::HostFacts;
use crate::libvirt::release::LibvirtVersion;
use crate::libvirt::{Blockers, HypervisorModel, Usability};
use crate::version::QemuRelease;

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

/// The model list for a host, with where it came from; a prepared host
/// keeps it as libvirt does ([`HypervisorModel`]s).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelReport<M = ModelUsability> {
    pub source: UsabilitySource,
    pub models: Vec<M>,
    pub notes: Vec<String>,
}

/// Predicts every model both libvirt's map and the QEMU version have
/// (unversioned and `-vN`), in map order: libvirt lists only the models QEMU
/// reports that it knows (`virQEMUCapsFillDomainCPUCaps`).
pub fn model_usability(
    map: &CpuMap,
    version: &QemuVersion,
    accel: Accelerator,
    host: &HostFeatures,
) -> Vec<ModelUsability> {
    // The host's side is the same for every model: assess it once.
    let support = assess(map, version, accel, host);
    model_usability_assessed(map, version, &support, host)
}

/// [`model_usability`] with the accelerator's verdict on the host already
/// made ([`assess`]), for callers that need that verdict themselves.
pub fn model_usability_assessed(
    map: &CpuMap,
    version: &QemuVersion,
    support: &AccelSupport,
    host: &HostFeatures,
) -> Vec<ModelUsability> {
    predict_each(map, version, support, host, |name, usable, blockers| {
        ModelUsability {
            name: name.to_string(),
            usable,
            blockers: blockers.names(map),
        }
    })
}

/// [`model_usability_assessed`] as libvirt keeps QEMU's list, the blockers
/// left as feature sets until a name is shown.
pub(crate) fn hypervisor_models_assessed(
    map: &CpuMap,
    version: &QemuVersion,
    support: &AccelSupport,
    host: &HostFeatures,
) -> Vec<HypervisorModel> {
    predict_each(map, version, support, host, |name, usable, blockers| {
        HypervisorModel {
            name: name.to_string(),
            usable,
            blockers,
            deprecated: false,
        }
    })
}

/// Every model both the map and `version` define, in map order, with its
/// predicted usability and blockers, each made into a `T` by `make`.
fn predict_each<T>(
    map: &CpuMap,
    version: &QemuVersion,
    support: &AccelSupport,
    host: &HostFeatures,
    mut make: impl FnMut(&str, Usability, Blockers) -> T,
) -> Vec<T> {
    let mut made = |name: &str, request: Result<&BareRequest, &CpuError>| {
        let (usable, blockers) = usability(request, &support.supported);
        make(name, usable, blockers)
    };
    if let HostFeatures::QemuExpansion { .. } = host {
        // What a model asks for depends on what the host's QEMU knows: build
        // each model on this host.
        return map
            .models()
            .filter(|(_, model)| version.model(&model.name).is_some())
            .map(|(_, model)| {
                let build = build_guest_cpu_assessed(
                    map,
                    version,
                    support,
                    host,
                    &model.name,
                    &[],
                    BuildDetail::Blockers,
                );
                let request = build.map(|build| BareRequest {
                    requested: build.requested,
                    qemu_only_filtered: build.qemu_only_filtered,
                });
                made(&model.name, request.as_ref())
            })
            .collect();
    }
    let fresh;
    let requests = match embedded_requests(map, version, support.accel) {
        Some(requests) => requests,
        None => {
            fresh = bare_requests(map, version, support.accel);
            &fresh
        }
    };
    map.models()
        .zip(requests)
        .filter_map(|((_, model), request)| Some(made(&model.name, request.as_ref()?.as_ref())))
        .collect()
}

/// What QEMU asks of the host for one bare model (`-cpu MODEL`, no flags):
/// the features after the accelerator's defaults and QEMU's dependencies,
/// and the QEMU-only flags it filters whatever the host.
#[derive(Debug, Clone)]
struct BareRequest {
    requested: FeatureSet,
    qemu_only_filtered: Vec<String>,
}

/// A model's usability on a host whose accelerator supports `supported`:
/// its blockers are what it requests beyond that.
fn usability(
    request: Result<&BareRequest, &CpuError>,
    supported: &FeatureSet,
) -> (Usability, Blockers) {
    let Ok(request) = request else {
        // Every map model has at least libvirt's own definition.
        return (Usability::Unknown, Blockers::default());
    };
    let blockers = Blockers::Predicted {
        features: request.requested.difference(supported),
        qemu_only: request.qemu_only_filtered.clone(),
    };
    let usable = if blockers.is_empty() {
        Usability::Yes
    } else {
        Usability::No
    };
    (usable, blockers)
}

/// Every map model's [`BareRequest`] under `accel`, in map order; `None`
/// for a model `version` does not define. Without a QEMU expansion of the
/// host, nothing of it depends on the host: the build only looks at the host
/// through the accelerator's verdict, which comes last (libvirt's map has no
/// `host` or `max` model, the passthrough builds that take the host's
/// features as their definition).
fn bare_requests(
    map: &CpuMap,
    version: &QemuVersion,
    accel: Accelerator,
) -> Vec<Option<Result<BareRequest, CpuError>>> {
    let nothing = HostFeatures::Raw {
        features: FeatureSet::new(),
        vendor: None,
        signature: Signature::default(),
        has_vmx_msrs: false,
        mpx_withheld: None,
    };
    let support = assess(map, version, accel, &nothing);
    map.models()
        .map(|(_, model)| {
            version.model(&model.name)?;
            let build = build_guest_cpu_assessed(
                map,
                version,
                &support,
                &nothing,
                &model.name,
                &[],
                BuildDetail::Blockers,
            );
            Some(build.map(|build| BareRequest {
                requested: build.requested,
                qemu_only_filtered: build.qemu_only_filtered,
            }))
        })
        .collect()
}

/// [`bare_requests`] for an embedded map (one per libvirt release) and QEMU
/// version, made once per map, version and accelerator; `None` for any other
/// map or version.
fn embedded_requests(
    map: &CpuMap,
    version: &QemuVersion,
    accel: Accelerator,
) -> Option<&'static [Option<Result<BareRequest, CpuError>>]> {
    type Requests = OnceLock<Vec<Option<Result<BareRequest, CpuError>>>>;
    static REQUESTS: OnceLock<Vec<Vec<[Requests; 2]>>> = OnceLock::new();
    let map_index = CpuMap::embedded_index(map)?;
    let index = QemuDefinitions::embedded().index_of(version)?;
    let tables = REQUESTS.get_or_init(|| {
        LibvirtVersion::WITH_CPU_MAP
            .iter()
            .map(|_| {
                QemuRelease::WITH_DEFINITIONS
                    .iter()
                    .map(|_| [OnceLock::new(), OnceLock::new()])
                    .collect()
            })
            .collect()
    });
    let slot = match accel {
        Accelerator::Kvm => 0,
        Accelerator::Tcg => 1,
    };
    let table = tables[map_index][index][slot].get_or_init(|| bare_requests(map, version, accel));
    Some(table.as_slice())
}

/// QEMU's answer as libvirt lists it: models libvirt knows, minus `host`,
/// sorted by name.
pub fn usability_from_hypervisor(map: &CpuMap, models: &[HypervisorModel]) -> Vec<ModelUsability> {
    let mut list: Vec<ModelUsability> = models
        .iter()
        .filter(|m| m.name != "host" && map.model_id(&m.name).is_some())
        .map(|m| {
            let mut blockers = m.blockers.names(map);
            crate::sort::sort(&mut blockers);
            blockers.dedup();
            ModelUsability {
                name: m.name.clone(),
                usable: m.usable,
                blockers,
            }
        })
        .collect();
    crate::sort::sort_by(&mut list, |a, b| a.name.cmp(&b.name));
    list.dedup_by(|a, b| a.name == b.name);
    list
}

/// The model list for a host's facts under their accelerator: QEMU's own
/// answer when the input has one for that accelerator (QEMU answers for the
/// accelerator it ran with, KVM in every capture libvirt takes), else a
/// prediction.
pub fn models_for_host(
    map: &CpuMap,
    version: &QemuVersion,
    facts: &HostFacts<'_>,
) -> Result<ModelReport, CpuError> {
    models_for_host_with(
        facts,
        |models| usability_from_hypervisor(map, &models),
        || {
            let host = HostFeatures::from_facts(map, facts);
            predictable(&host, facts.accelerator)?;
            let support = assess(map, version, facts.accelerator, &host);
            Ok(model_usability_assessed(map, version, &support, &host))
        },
    )
}

/// [`models_for_host`] as libvirt keeps the list, for a host whose features
/// (`host`, [`HostFeatures::from_facts`]) the accelerator has already
/// assessed (`support`): QEMU's answer as it came, in QEMU's order, or the
/// prediction, reusing that verdict, with its blockers as feature sets.
pub(crate) fn hypervisor_models_for_host(
    map: &CpuMap,
    version: &QemuVersion,
    support: &AccelSupport,
    host: &HostFeatures,
    facts: &HostFacts<'_>,
) -> Result<ModelReport<HypervisorModel>, CpuError> {
    models_for_host_with(
        facts,
        |models| models,
        || {
            predictable(host, support.accel)?;
            Ok(hypervisor_models_assessed(map, version, support, host))
        },
    )
}

/// QEMU's answer when `facts` have one for their accelerator (made into the
/// list by `answer`), else `predict`'s.
fn models_for_host_with<M>(
    facts: &HostFacts<'_>,
    answer: impl FnOnce(Vec<HypervisorModel>) -> Vec<M>,
    predict: impl FnOnce() -> Result<Vec<M>, CpuError>,
) -> Result<ModelReport<M>, CpuError> {
    let mut notes = Vec::new();
    if let Some(models) = facts.hypervisor_models() {
        if facts
            .qemu
            .is_some_and(|qemu| qemu.accelerator == facts.accelerator)
        {
            return Ok(ModelReport {
                source: UsabilitySource::Qemu,
                models: answer(models),
                notes,
            });
        }
        notes.push("QEMU's model list is for KVM; TCG is predicted instead".to_string());
    }
    Ok(ModelReport {
        source: UsabilitySource::Predicted,
        models: predict()?,
        notes,
    })
}

/// Refuses to predict from nothing under KVM (TCG needs nothing of the host).
fn predictable(host: &HostFeatures, accel: Accelerator) -> Result<(), CpuError> {
    if host.features().is_empty() && accel == Accelerator::Kvm {
        return Err(CpuError::unsupported(
            "the host input has neither CPU data nor QEMU's answers; nothing to predict from",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpuid::Signature;
    use crate::qemu::definitions::QemuDefinitions;

    #[test]
    fn models_of_both_libvirt_and_qemu_are_listed_and_blockers_are_sorted() {
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
            mpx_withheld: None,
        };
        let models = model_usability(map, version, Accelerator::Kvm, &host);
        let in_both = map
            .models()
            .filter(|(_, m)| version.model(&m.name).is_some())
            .count();
        assert_eq!(models.len(), in_both);
        // libvirt 11.3 has Icelake-Client, which QEMU dropped in 7.1.
        assert!(in_both < map.models().count());
        assert!(models.iter().all(|m| m.name != "Icelake-Client"));
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
                blockers: Blockers::default(),
                deprecated: false,
            },
            HypervisorModel {
                name: "Skylake-Client".into(),
                usable: Usability::No,
                blockers: Blockers::Named(vec!["rtm".into(), "hle".into(), "rtm".into()]),
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
