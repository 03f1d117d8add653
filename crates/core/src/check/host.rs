//! The host as the check needs it: libvirt's three host CPUs (full, reported
//! host-model, migratable host-model), QEMU's model list with blockers, and
//! what QEMU builds for a `-cpu` argument on this host and accelerator.
//!
//! When the input carries QEMU's own answers (QMP replies, domain
//! capabilities), those are used as they are; otherwise QEMU's answers are
//! predicted from the raw CPUID with the QEMU and accelerator data, and
//! what running domains' starts showed about KVM (`HostFacts::kvm_evidence`)
//! corrects that prediction before anything is built on it. The input is
//! read once, as [`HostFacts`] for the accelerator, and only those are read
//! here.

use std::cell::RefCell;
use std::sync::OnceLock;

use crate::cpudef::{CpuCheck, CpuDef, CpuMode, CpuType, Fallback, Policy};
use crate::cpuid::Signature;
use crate::data::CpuMap;
use crate::domain::{Accelerator, Domain};
use crate::error::CpuError;
use crate::featureset::FeatureSet;
use crate::host::{HostFacts, HostInput, Provenance};
use crate::libvirt::compare::host_data;
use crate::libvirt::decode::guest_cpu_from_signals;
use crate::libvirt::expand::expand_features;
use crate::libvirt::release::LibvirtVersion;
use crate::libvirt::{Blockers, CpuSignals, HypervisorModel, Usability};
use crate::qemu::accel::{assess, host_leaves_off, mpx_assumed, AccelSupport, HostFeatures};
use crate::qemu::definitions::QemuVersion;
use crate::qemu::guest::{apply_qemu_verdict, build_guest_cpu_assessed, BuildDetail, GuestBuild};
use crate::qemu::in_qemu_order;
use crate::qemu::models::{
    hypervisor_models_for_host, model_usability_assessed, usability_from_hypervisor,
    UsabilitySource,
};

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
    /// What libvirt's full host CPU is made from ([`full_host`]).
    full_host_source: FullHostSource,
    /// The full host CPU and its data for compat compares, made when a check
    /// first reads them (a batch that only describes hosts never does).
    full_host: OnceLock<FullHost>,
    reported_host_model: Option<CpuDef>,
    migratable_host_model: Option<CpuDef>,
    /// The features QEMU's own expansion names, when the input has one;
    /// otherwise the QEMU version's known features are used.
    qemu_known_features: Option<FeatureSet>,
    /// QEMU's model list with blockers, as libvirt sees it.
    hypervisor_models: Vec<HypervisorModel>,
    /// True when `hypervisor_models` is QEMU's own answer rather than a prediction.
    models_from_qemu: bool,
    /// `hypervisor_models` as reports show them, made when first asked for
    /// (a batch that only describes the host never needs the blockers twice).
    models: OnceLock<ModelList>,
    brief: HostBrief,
    /// The host CPU's physical address bits, when the input tells.
    physical_address_bits: Option<u32>,
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
        let facts = &input.facts(accelerator);
        let provenance = &facts.provenance;
        let mut notes: Vec<String> = provenance
            .contributions
            .iter()
            .map(|part| format!("joined from {part}"))
            .collect();
        notes.extend_from_slice(provenance.notes);
        notes.extend(inside_a_vm_note(map, facts));
        let host_features = HostFeatures::from_facts(map, facts);
        let mut support = assess(map, version, accelerator, &host_features);
        if let Some(evidence) = facts.kvm_evidence {
            notes.extend(support.apply_kvm_evidence(map, &host_features, evidence));
        }
        let (hypervisor_models, models_from_qemu) =
            hypervisor_models(map, facts, version, &support, &host_features, &mut notes)?;
        if accelerator == Accelerator::Kvm {
            notes.extend(what_cannot_be_known(provenance));
            notes.extend(
                mpx_assumed(map, &host_features, &support, facts.kvm_evidence).map(String::from),
            );
        }
        // Under TCG, a capture holding QEMU's TCG run answers with its own
        // `max`; otherwise TCG's host-model is predicted.
        let answered_under_tcg = facts
            .qemu
            .is_some_and(|qemu| qemu.accelerator == Accelerator::Tcg);
        let reported_host_model = match accelerator {
            Accelerator::Tcg if !answered_under_tcg => {
                tcg_host_model(map, version, &hypervisor_models)
            }
            _ => reported_host_model(
                map,
                facts,
                &host_features,
                &support.supported,
                &hypervisor_models,
            ),
        };
        if let Err(error) = &reported_host_model {
            notes.push(format!("no host-model CPU: {error}"));
        }
        let reported_host_model = reported_host_model.ok();
        // A capture naming QEMU's non-migratable properties gives the
        // migratable expansion itself; otherwise QEMU's rule is applied.
        let migratable_host_model = match facts.migratable_host_model_with(Some(&hypervisor_models))
        {
            Some(from_qemu) => from_qemu.ok(),
            None => reported_host_model.as_ref().map(qemu_migratable_host_model),
        };
        let qemu_known_features = facts.qemu_known_features();
        // Read once for the brief and, when a check asks, the full host.
        let host_cpu = facts.host_cpu().ok();
        let full_host_source = FullHostSource {
            probe: facts.cpuid.map(|cpuid| CpuSignals::from_cpuid(map, cpuid)),
            host_cpu: host_cpu.clone(),
        };
        let brief = brief(
            map,
            facts,
            host_cpu,
            &host_features,
            reported_host_model.as_ref(),
        );
        Ok(PreparedHost {
            map,
            accelerator,
            version,
            host_features,
            support,
            full_host_source,
            full_host: OnceLock::new(),
            reported_host_model,
            migratable_host_model,
            qemu_known_features,
            hypervisor_models,
            models_from_qemu,
            models: OnceLock::new(),
            brief,
            physical_address_bits: facts.physical_address_bits(),
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
            full_host: self.full_host(),
            full_host_data: self.full_host_made().data.as_ref(),
            reported_host_model: self.reported_host_model.as_ref(),
            migratable_host_model: self.migratable_host_model.as_ref(),
            hypervisor_models: &self.hypervisor_models,
            qemu_known_features: Some(
                self.qemu_known_features
                    .as_ref()
                    .unwrap_or(&self.version.known_features.known),
            ),
            host_physical_address_bits: self.physical_address_bits,
            build_guest,
        }
    }
}

/// A note when the dump was taken inside a virtual machine: its own CPUID
/// (raw data or the host CPU libvirt decoded from it, not QEMU's answer,
/// which always sets the bit for its guests) has the hypervisor bit
/// (CPUID.01H:ECX[31], which hardware leaves clear) and neither `vmx` nor
/// `svm`, so it describes the VM's virtual CPU and no nested guest can use
/// hardware virtualization there.
fn inside_a_vm_note(map: &CpuMap, facts: &HostFacts<'_>) -> Option<String> {
    if !facts.provenance.own_cpu_dump {
        return None;
    }
    let features = facts.cpuid_features();
    let has = |name: &str| map.feature_id(name).is_some_and(|id| features.contains(id));
    (has("hypervisor") && !has("vmx") && !has("svm")).then(|| {
        "the dump comes from inside a virtual machine (the hypervisor bit is set, neither vmx nor svm): it describes the VM's virtual CPU, not a physical host, and its host CPU model is whatever the outer hypervisor gives (often kvm64 or qemu64)".to_string()
    })
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
            let blockers = entry.blockers.known_features(self.map);
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
                    origin: build.origin(id),
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

    /// The host CPU's physical address bits, when the input tells.
    pub(super) fn physical_address_bits(&self) -> Option<u32> {
        self.physical_address_bits
    }

    /// libvirt's full host CPU, which forbidden features are checked against.
    pub(super) fn full_host(&self) -> Option<&CpuDef> {
        self.full_host_made().cpu.as_ref()
    }

    /// The full host CPU and its data, made on first use. libvirt probes the
    /// host itself only for accelerated domain types
    /// (virQEMUCapsInitHostCPUModel); under TCG its full host is the
    /// reported host-model.
    fn full_host_made(&self) -> &FullHost {
        self.full_host.get_or_init(|| {
            let cpu = match self.accelerator {
                Accelerator::Kvm => full_host(
                    self.map,
                    &self.full_host_source,
                    self.reported_host_model.as_ref(),
                ),
                Accelerator::Tcg => self.reported_host_model.clone(),
            };
            let data = cpu.as_ref().map(|host| host_data(self.map, host));
            FullHost { cpu, data }
        })
    }

    /// The host as the report describes it.
    pub fn brief(&self) -> HostBrief {
        self.brief.clone()
    }

    /// QEMU's models on this host, as `virsh domcapabilities` would list them.
    pub fn models(&self) -> ModelList {
        self.models
            .get_or_init(|| {
                let report = |name: String, usable: Usability, blockers: Vec<String>| ModelReport {
                    name,
                    usable: usable == Usability::Yes,
                    blockers,
                };
                if self.models_from_qemu {
                    usability_from_hypervisor(self.map, &self.hypervisor_models)
                        .into_iter()
                        .map(|m| report(m.name, m.usable, m.blockers))
                        .collect::<Vec<_>>()
                        .into()
                } else {
                    self.hypervisor_models
                        .iter()
                        .map(|m| report(m.name.clone(), m.usable, m.blockers.names(self.map)))
                        .collect::<Vec<_>>()
                        .into()
                }
            })
            .clone()
    }

    /// The names of the models QEMU can run here, in [`Self::models`]' order,
    /// without making that list.
    pub(crate) fn usable_model_names(&self) -> impl Iterator<Item = &str> + '_ {
        self.hypervisor_models
            .iter()
            .filter(|m| m.usable == Usability::Yes)
            .filter(|m| m.name != "host" && self.map.model_id(&m.name).is_some())
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
    facts: &HostFacts<'_>,
    host_cpu: Option<CpuDef>,
    host_features: &HostFeatures,
    reported_host_model: Option<&CpuDef>,
) -> HostBrief {
    let signature = facts.signature();
    let features = *host_features.features();
    HostBrief {
        format: facts.provenance.description.to_string(),
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
    facts: &HostFacts<'_>,
    version: &QemuVersion,
    support: &AccelSupport,
    host: &HostFeatures,
    notes: &mut Vec<String>,
) -> Result<(Vec<HypervisorModel>, bool), CpuError> {
    let report = hypervisor_models_for_host(map, version, support, host, facts)?;
    notes.extend(report.notes);
    if report.source == UsabilitySource::Qemu {
        notes.push("model usability is QEMU's own answer, from the host input".to_string());
        // libvirt keeps QEMU's whole answer, blockers in QEMU's order, for
        // its own checks; only listings sort them ([`PreparedHost::models`]).
        let mut models = report.models;
        fill_unprinted_blockers(map, version, support, host, &mut models);
        return Ok((models, true));
    }
    // The prediction lists only the models this QEMU version defines.
    Ok((report.models, false))
}

/// Domain capabilities print `<blockers>` only since libvirt 10.9 (NEWS
/// v10.9.0, "Report CPU model blockers in domain capabilities"); before, an
/// unusable model comes without them although QEMU named them. Those are
/// predicted here from what the host offers, in QEMU's order.
fn fill_unprinted_blockers(
    map: &CpuMap,
    version: &QemuVersion,
    support: &AccelSupport,
    host: &HostFeatures,
    models: &mut [HypervisorModel],
) {
    let unprinted = |m: &HypervisorModel| m.usable == Usability::No && m.blockers.is_empty();
    if !models.iter().any(unprinted) {
        return;
    }
    let predicted = model_usability_assessed(map, version, support, host);
    for model in models.iter_mut().filter(|m| unprinted(m)) {
        if let Some(prediction) = predicted.iter().find(|p| p.name == model.name) {
            let mut blockers = prediction.blockers.clone();
            in_qemu_order(map, &mut blockers);
            model.blockers = Blockers::Named(blockers);
        }
    }
}

/// The host-model QEMU would report: from its own expansion when present, else
/// predicted by decoding what the accelerator supports on this host
/// (`supported`, the prepared host's own assessment).
fn reported_host_model(
    map: &CpuMap,
    facts: &HostFacts<'_>,
    host: &HostFeatures,
    supported: &FeatureSet,
    models: &[HypervisorModel],
) -> Result<CpuDef, CpuError> {
    let HostFeatures::Raw {
        vendor, signature, ..
    } = host
    else {
        // QEMU's own expansion: libvirt decodes it as it is.
        return facts.host_model_with(Some(models));
    };
    // libvirt's host-model is QEMU's `host` expansion, which leaves some of
    // what KVM offers off (`qemu::accel::host_leaves_off`).
    let signals = CpuSignals {
        features: supported.difference(&host_leaves_off(map, *vendor)),
        vendor: *vendor,
        signature: *signature,
    };
    let mut cpu = guest_cpu_from_signals(map, &signals, Some(models))?;
    cpu.fallback = Fallback::Forbid;
    Ok(cpu)
}

/// What one kind of host input cannot tell under KVM, said plainly: libvirt
/// reads both its own CPUID probe (the full host CPU) and QEMU's answer (what
/// KVM offers guests), and they differ wherever KVM hides a feature the CPU
/// has (nested hosts, kernel choices).
fn what_cannot_be_known(provenance: &Provenance<'_>) -> Option<String> {
    let (has_probe, has_answer) = (provenance.host_probe, provenance.qemu_answer);
    match (has_probe, has_answer) {
        (true, false) => Some(
            "what KVM offers guests is predicted from the CPUID: where KVM hides more \
             (a nested host, the kernel's choices), QEMU filters more and checks differ; \
             give QEMU's answer too (QMP replies or virsh domcapabilities, --host twice)"
                .to_string(),
        ),
        (false, true) => Some(
            "libvirt's own probe of the host CPU is taken to be what KVM offers: a feature \
             the CPU has and KVM hides is missing from the full host CPU the partial and \
             forbidden checks read; give a raw CPUID dump too (--host twice)"
                .to_string(),
        ),
        _ => None,
    }
}

/// libvirt's host-model for a TCG domain: QEMU's `max` CPU, the model
/// `virQEMUCapsProbeQMPHostCPU` expands when the domain type is not
/// accelerated. It is everything TCG emulates, with the vendor `max` sets
/// for TCG (AMD, `max_x86_cpu_initfn`), whatever the host is; the probe of
/// each QEMU version expanded it under TCG.
fn tcg_host_model(
    map: &CpuMap,
    version: &QemuVersion,
    models: &[HypervisorModel],
) -> Result<CpuDef, CpuError> {
    let max = version.model("max").ok_or_else(|| {
        CpuError::internal(format!("QEMU {} has no `max` CPU model", version.version))
    })?;
    let signals = CpuSignals {
        features: max.features.known,
        vendor: max.vendor.as_deref().and_then(|v| map.vendor_by_string(v)),
        signature: Signature::default(),
    };
    let mut cpu = guest_cpu_from_signals(map, &signals, Some(models))?;
    cpu.fallback = Fallback::Forbid;
    Ok(cpu)
}

/// The features QEMU's `host` CPU leaves out under `migratable=on`, its
/// default: those a feature word lists in `unmigratable_flags`
/// (`feature_word_info` in QEMU 10.0's target/i386/cpu.c), `invtsc` alone.
const QEMU_UNMIGRATABLE: &[&str] = &["invtsc"];

/// The host-model guests are started with (`VIR_QEMU_CAPS_HOST_CPU_MIGRATABLE`):
/// libvirt decodes QEMU's migratable expansion of `host` whenever QEMU says
/// which features are migratable (`virQEMUCapsProbeQMPHostCPU`), which every
/// QEMU that expands `host` does, so QEMU's verdict decides, not the map's
/// `migratable='no'` (`xsaves` is migratable to QEMU). Dropping the names
/// from the reported host-model's list is the same as decoding the smaller
/// data as long as no model contains such a feature (`x86Decode`'s note).
fn qemu_migratable_host_model(reported: &CpuDef) -> CpuDef {
    let mut migratable = reported.clone();
    migratable
        .features
        .retain(|f| !QEMU_UNMIGRATABLE.contains(&f.name.as_str()));
    migratable
}

/// The input [`full_host`] reads: the raw CPUID's signals when the input
/// has them, and the host CPU the input carries.
struct FullHostSource {
    probe: Option<CpuSignals>,
    host_cpu: Option<CpuDef>,
}

/// libvirt's full host CPU and its data ([`host_data`]), made once for
/// every check against it.
struct FullHost {
    cpu: Option<CpuDef>,
    data: Option<Result<FeatureSet, CpuError>>,
}

/// libvirt's "full" host CPU (`virQEMUCapsInitHostCPUModel`): its own probe
/// of the host, a guest-type decode of the raw CPUID against every model
/// (`virQEMUCapsProbeHostCPU`), with every feature the expanded reported
/// host-model requires set to `require` in place or appended
/// (`virCPUDefUpdateFeature`). Listing them matters: the forbidden-feature
/// check looks features up by name. Without raw CPUID the host CPU the input
/// carries (`virsh capabilities`) stands in for the probe, and without that
/// the reported host-model does (libvirt itself then falls back to the
/// reported host-model as it is, `virQEMUCapsGetHostModel`, but it always
/// has a probe on a KVM host).
fn full_host(map: &CpuMap, source: &FullHostSource, reported: Option<&CpuDef>) -> Option<CpuDef> {
    let probed = match &source.probe {
        Some(signals) => guest_cpu_from_signals(map, signals, None).ok(),
        None => source
            .host_cpu
            .clone()
            .filter(|cpu| cpu.cpu_type == CpuType::Host),
    };
    let Some(reported) = reported else {
        return probed.or_else(|| source.host_cpu.clone());
    };
    // Without a probe of its own, the host KVM offers stands in for it: on
    // a KVM host libvirt always has one, so the reported host-model alone
    // (libvirt's fallback) would leave its model's features unlisted.
    let mut full = probed.unwrap_or_else(|| reported.clone());
    let mut expanded = reported.clone();
    if expand_features(map, &mut expanded).is_err() {
        return Some(full);
    }
    for feature in expanded
        .features
        .iter()
        .filter(|f| f.policy == Some(Policy::Require))
    {
        full.update_feature(&feature.name, Policy::Require);
    }
    Some(full)
}
