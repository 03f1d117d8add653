//! The host as the check needs it: libvirt's three host CPUs (full, reported
//! host-model, migratable host-model), QEMU's model list with blockers, and
//! what QEMU builds for a `-cpu` argument on this host and accelerator.
//!
//! When the input carries QEMU's own answers (QMP replies, domain
//! capabilities), those are used as they are; otherwise QEMU's answers are
//! predicted from the raw CPUID with the QEMU and accelerator data.

use std::cell::RefCell;
use std::sync::OnceLock;

use crate::cpudef::{CpuCheck, CpuDef, CpuMode, CpuType, Fallback, Policy};
use crate::data::CpuMap;
use crate::domain::{Accelerator, Domain};
use crate::error::CpuError;
use crate::featureset::FeatureSet;
use crate::host::HostInput;
use crate::libvirt::compare::host_data;
use crate::libvirt::decode::guest_cpu_from_signals;
use crate::libvirt::expand::expand_features;
use crate::libvirt::release::LibvirtVersion;
use crate::libvirt::{
    copy_migratable, model_data, CpuSignals, HypervisorModel, PolicySelector, Usability,
};
use crate::qemu::accel::{assess, AccelSupport, HostFeatures};
use crate::qemu::definitions::QemuVersion;
use crate::qemu::guest::{apply_qemu_verdict, build_guest_cpu_assessed, BuildDetail, GuestBuild};
use crate::qemu::models::{models_for_host_assessed, UsabilitySource};

use super::host_brief::{x86_64_level, HostBrief};
use super::start::{GuestBuilder, StartEnvironment};
use super::{FilteredReport, GuestCpu, GuestFeature, ModelList, ModelReport};

/// One host prepared under one accelerator and QEMU version: everything the
/// check computes from the host alone (QEMU's model list with blockers, the
/// host-model and full host CPUs, the accelerator's verdict on every host
/// feature, the host's brief). Preparing costs most of a check; a prepared
/// host answers any number of checks ([`super::analyze_prepared`]) of domains
/// that ask for the same accelerator and QEMU version
/// ([`super::host_settings`]).
///
/// It owns what it computed and borrows only the CPU map, so a caller may keep
/// it while the host's text is unchanged.
pub struct PreparedHost<'m> {
    pub(super) map: &'m CpuMap,
    pub(super) accelerator: Accelerator,
    pub(super) version: &'static QemuVersion,
    host_features: HostFeatures,
    /// The accelerator's verdict on every feature of this host, made once for
    /// every guest built here.
    support: AccelSupport,
    full_host: Option<CpuDef>,
    /// `full_host`'s data, made once for every compat compare against it.
    full_host_data: Option<Result<FeatureSet, CpuError>>,
    reported_host_model: Option<CpuDef>,
    migratable_host_model: Option<CpuDef>,
    /// QEMU's model list with blockers, as libvirt sees it.
    hypervisor_models: Vec<HypervisorModel>,
    /// True when `hypervisor_models` is QEMU's own answer rather than a prediction.
    models_from_qemu: bool,
    /// `hypervisor_models` as reports show them, made when first asked for
    /// (a batch that only describes the host never needs the blockers twice).
    models: OnceLock<ModelList>,
    brief: HostBrief,
    notes: Vec<String>,
}

impl<'m> PreparedHost<'m> {
    /// Prepares `input` for checks under `accelerator` and QEMU `version`.
    pub fn new(
        map: &'m CpuMap,
        input: &HostInput<'_>,
        accelerator: Accelerator,
        version: &'static QemuVersion,
    ) -> Result<Self, CpuError> {
        let mut notes: Vec<String> = input.notes().to_vec();
        let host_features = HostFeatures::from_host_input(map, input);
        let support = assess(map, version, accelerator, &host_features);
        let (hypervisor_models, models_from_qemu) =
            hypervisor_models(map, input, version, &support, &host_features, &mut notes)?;
        let reported_host_model = reported_host_model(
            map,
            input,
            &host_features,
            &support.supported,
            &hypervisor_models,
        );
        if let Err(error) = &reported_host_model {
            notes.push(format!("no host-model CPU: {error}"));
        }
        let reported_host_model = reported_host_model.ok();
        let migratable_host_model = reported_host_model
            .as_ref()
            .map(|cpu| copy_migratable(map, cpu));
        let full_host = full_host(map, input, reported_host_model.as_ref());
        let full_host_data = full_host.as_ref().map(|host| host_data(map, host));
        let brief = brief(map, input, &host_features, reported_host_model.as_ref());
        Ok(PreparedHost {
            map,
            accelerator,
            version,
            host_features,
            support,
            full_host,
            full_host_data,
            reported_host_model,
            migratable_host_model,
            hypervisor_models,
            models_from_qemu,
            models: OnceLock::new(),
            brief,
            notes,
        })
    }

    /// The CPU map (a libvirt release's) this host was prepared on.
    pub fn map(&self) -> &'m CpuMap {
        self.map
    }

    /// The accelerator this host was prepared for.
    pub fn accelerator(&self) -> Accelerator {
        self.accelerator
    }

    /// The QEMU version this host was prepared for.
    pub fn qemu_version(&self) -> &'static QemuVersion {
        self.version
    }

    /// The environment one simulated start runs in, QEMU's builds made by
    /// `build_guest` (this host, or a [`BuildOnce`] over it).
    pub(super) fn environment<'s>(
        &'s self,
        domain: &'s Domain,
        libvirt: LibvirtVersion,
        build_guest: &'s dyn GuestBuilder,
    ) -> StartEnvironment<'s> {
        StartEnvironment {
            map: self.map,
            libvirt,
            accelerator: self.accelerator,
            arch: &domain.arch,
            flags: &domain.flags,
            full_host: self.full_host.as_ref(),
            full_host_data: self.full_host_data.as_ref(),
            reported_host_model: self.reported_host_model.as_ref(),
            migratable_host_model: self.migratable_host_model.as_ref(),
            hypervisor_models: &self.hypervisor_models,
            qemu_known_features: Some(&self.version.known_features.known),
            build_guest,
        }
    }
}

/// A prepared host's guest builds, each distinct input built once: the
/// starts of one check (under `none`, `partial` and `full`) usually hand QEMU
/// the same definition.
pub(super) struct BuildOnce<'p, 'm> {
    host: &'p PreparedHost<'m>,
    builds: RefCell<Vec<(CpuDef, Result<GuestBuild, CpuError>)>>,
}

impl<'p, 'm> BuildOnce<'p, 'm> {
    pub(super) fn new(host: &'p PreparedHost<'m>) -> Self {
        BuildOnce {
            host,
            builds: RefCell::new(Vec::new()),
        }
    }
}

impl GuestBuilder for BuildOnce<'_, '_> {
    fn build(&self, cpu: &CpuDef) -> Result<GuestBuild, CpuError> {
        let built = self
            .builds
            .borrow()
            .iter()
            .find(|(input, _)| same_build_input(input, cpu))
            .map(|(_, build)| build.clone());
        if let Some(build) = built {
            return build;
        }
        let build = self.host.build(cpu);
        self.builds.borrow_mut().push((cpu.clone(), build.clone()));
        build
    }
}

/// Whether QEMU gets the same `-cpu` from `a` and `b`: the same mode, model
/// and features with the same effective policies, in the same order (what
/// [`PreparedHost`]'s build reads of a definition).
fn same_build_input(a: &CpuDef, b: &CpuDef) -> bool {
    a.mode == b.mode
        && a.model == b.model
        && a.features.len() == b.features.len()
        && a.features
            .iter()
            .zip(&b.features)
            .all(|(x, y)| x.name == y.name && x.effective_policy() == y.effective_policy())
}

impl GuestBuilder for PreparedHost<'_> {
    /// What QEMU builds for the definition libvirt hands it.
    fn build(&self, cpu: &CpuDef) -> Result<GuestBuild, CpuError> {
        let model = match cpu.mode {
            CpuMode::HostPassthrough => "host".to_string(),
            CpuMode::Maximum => "max".to_string(),
            CpuMode::Custom | CpuMode::HostModel => cpu
                .model
                .clone()
                .ok_or_else(|| CpuError::internal("the CPU has no model to give QEMU"))?,
        };
        let mut explicit = Vec::new();
        for feature in &cpu.features {
            let id = crate::libvirt::lookup_feature(self.map, &feature.name)?;
            match feature.effective_policy() {
                Policy::Force | Policy::Require => explicit.push((id, true)),
                Policy::Disable | Policy::Forbid => explicit.push((id, false)),
                Policy::Optional => {}
            }
        }
        let mut build = build_guest_cpu_assessed(
            self.map,
            self.version,
            &self.support,
            &self.host_features,
            &model,
            &explicit,
            BuildDetail::Full,
        )?;
        let qemu_entry = self
            .hypervisor_models
            .iter()
            .find(|m| m.name == model)
            .filter(|m| self.models_from_qemu && m.usable != Usability::Unknown);
        if let Some(entry) = qemu_entry {
            let blockers: FeatureSet = entry
                .blockers
                .iter()
                .filter_map(|name| self.map.feature_id(name))
                .collect();
            apply_qemu_verdict(
                self.map,
                self.version,
                self.accelerator,
                &mut build,
                &blockers,
            );
        }
        Ok(build)
    }
}

impl PreparedHost<'_> {
    pub(super) fn filtered_report(&self, build: &GuestBuild) -> Vec<FilteredReport> {
        build
            .filtered
            .iter()
            .map(|filtered| {
                let feature = self.map.feature(filtered.feature);
                FilteredReport {
                    name: feature.name.clone(),
                    cpuid: feature.bits.to_string(),
                    reason: filtered.reason.to_string(),
                    qemu_warning: filtered.qemu_warning.clone(),
                }
            })
            .collect()
    }

    /// The guest CPU report; `check` is the domain's own, whichever start built it.
    pub(super) fn guest_cpu(&self, build: &GuestBuild, cpu: &CpuDef, check: CpuCheck) -> GuestCpu {
        let mut handed_to_qemu = cpu.clone();
        handed_to_qemu.check = Some(check);
        GuestCpu {
            qemu_model: build.qemu_model.clone(),
            definition: build.source.to_string(),
            features: build
                .enabled
                .iter()
                .map(|id| GuestFeature {
                    name: self.map.feature(id).name.clone(),
                    origin: build.origin(id).map_or("", |o| o.as_str()),
                })
                .collect(),
            xml: handed_to_qemu.to_xml(),
        }
    }

    /// The host-model QEMU would report on this host, as predicted (or as
    /// QEMU's own expansion has it); `None` when there is none.
    pub fn host_model(&self) -> Option<&CpuDef> {
        self.reported_host_model.as_ref()
    }

    /// The host as the report describes it.
    pub fn brief(&self) -> HostBrief {
        self.brief.clone()
    }

    /// QEMU's models on this host, as `virsh domcapabilities` would list them.
    pub fn models(&self) -> ModelList {
        self.models
            .get_or_init(|| {
                self.hypervisor_models
                    .iter()
                    .map(|m| ModelReport {
                        name: m.name.clone(),
                        usable: m.usable == Usability::Yes,
                        blockers: m.blockers.clone(),
                    })
                    .collect::<Vec<_>>()
                    .into()
            })
            .clone()
    }

    /// The names of the models QEMU can run here, in [`Self::models`]' order,
    /// without making that list.
    pub(crate) fn usable_model_names(&self) -> impl Iterator<Item = &str> + '_ {
        self.hypervisor_models
            .iter()
            .filter(|m| m.usable == Usability::Yes)
            .map(|m| m.name.as_str())
    }

    /// What to know about how the host was read and predicted.
    pub fn notes(&self) -> Vec<String> {
        self.notes.clone()
    }
}

/// The host's brief: how it was read, its CPU, and the host-model predicted.
fn brief(
    map: &CpuMap,
    input: &HostInput<'_>,
    host_features: &HostFeatures,
    reported_host_model: Option<&CpuDef>,
) -> HostBrief {
    let host_cpu = input.host_cpu().ok();
    let signature = input.signature();
    let features = *host_features.features();
    HostBrief {
        format: input.format(),
        vendor: host_cpu.as_ref().and_then(|c| c.vendor.clone()),
        family: signature.map(|s| s.family),
        model: signature.map(|s| s.model),
        stepping: signature.map(|s| s.stepping),
        host_cpu_model: host_cpu.as_ref().and_then(|c| c.model.clone()),
        host_model: reported_host_model.and_then(|c| c.model.clone()),
        host_model_xml: reported_host_model.map(CpuDef::to_xml),
        x86_64_level: x86_64_level(map, &features),
    }
}

/// QEMU's model list with blockers: QEMU's own answer when the input has one,
/// else predicted for every model this QEMU version defines.
fn hypervisor_models(
    map: &CpuMap,
    input: &HostInput<'_>,
    version: &QemuVersion,
    support: &AccelSupport,
    host: &HostFeatures,
    notes: &mut Vec<String>,
) -> Result<(Vec<HypervisorModel>, bool), CpuError> {
    let report = models_for_host_assessed(map, version, support, host, input)?;
    notes.extend(report.notes);
    let predicted = report.source == UsabilitySource::Predicted;
    if !predicted {
        notes.push("model usability is QEMU's own answer, from the host input".to_string());
    }
    let models = report
        .models
        .into_iter()
        .filter(|m| !predicted || version.resolve(&m.name).is_some())
        .map(|m| HypervisorModel {
            name: m.name,
            usable: m.usable,
            blockers: m.blockers,
            deprecated: false,
        })
        .collect();
    Ok((models, !predicted))
}

/// The host-model QEMU would report: from its own expansion when present, else
/// predicted by decoding what the accelerator supports on this host
/// (`supported`, the prepared host's own assessment).
fn reported_host_model(
    map: &CpuMap,
    input: &HostInput<'_>,
    host: &HostFeatures,
    supported: &FeatureSet,
    models: &[HypervisorModel],
) -> Result<CpuDef, CpuError> {
    let HostFeatures::Raw {
        vendor, signature, ..
    } = host
    else {
        // QEMU's own expansion: libvirt decodes it as it is.
        return input.host_model_with(Some(models));
    };
    let signals = CpuSignals {
        features: *supported,
        vendor: *vendor,
        signature: *signature,
    };
    let mut cpu = guest_cpu_from_signals(map, &signals, Some(models))?;
    cpu.fallback = Fallback::Forbid;
    Ok(cpu)
}

/// libvirt's "full" host CPU: its own view of the host plus every feature the
/// reported host-model requires (features KVM emulates, for instance).
fn full_host(map: &CpuMap, input: &HostInput<'_>, reported: Option<&CpuDef>) -> Option<CpuDef> {
    let mut full = input.host_cpu().ok()?;
    if full.cpu_type != CpuType::Host {
        return Some(full);
    }
    let Some(reported) = reported else {
        return Some(full);
    };
    let mut expanded = reported.clone();
    if expand_features(map, &mut expanded).is_err() {
        return Some(full);
    }
    let present: FeatureSet = model_data(map, &full, PolicySelector::All)
        .map(|d| d.features)
        .unwrap_or_default();
    for feature in expanded
        .features
        .iter()
        .filter(|f| f.policy == Some(Policy::Require))
    {
        if map
            .feature_id(&feature.name)
            .is_some_and(|id| !present.contains(id))
        {
            full.add_if_missing(&feature.name, Policy::Require);
        }
    }
    Some(full)
}
