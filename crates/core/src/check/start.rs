//! One simulated domain start: what libvirt does before QEMU is launched, what
//! QEMU builds, and libvirt's live update afterwards (spec section 10.2).
//!
//! The same steps serve every `check` value and an incoming migration; only the
//! definition's `check` and the policy for removed features differ.

use crate::cpudef::{CpuCheck, CpuDef, CpuMode, CpuType, Policy};
use crate::data::{CpuMap, NEVER_PASSED_TO_QEMU, TOPOLOGY_FEATURES};
use crate::domain::{Accelerator, CpuFlags};
use crate::error::CpuError;
use crate::featureset::FeatureSet;
use crate::libvirt::compare::{check_forbidden_features, compare_with_data, host_data};
use crate::libvirt::expand::expand_features;
use crate::libvirt::release::{
    checks_forbidden_features_on_host, compares_unusable_models_by_blockers,
    reads_maxphysaddr_limit, skips_partial_check_for_usable_models, strips_topology_features,
    LibvirtVersion,
};
use crate::libvirt::translate::translate;
use crate::libvirt::update::update;
use crate::libvirt::update_live::update_live;
use crate::libvirt::{find_hypervisor_model, lookup_feature, HypervisorModel, Usability};
use crate::qemu::cpu_arg::{cpu_arg, CpuArgContext};
use crate::qemu::guest::GuestBuild;

/// Everything a start depends on besides the definition itself.
pub struct StartEnvironment<'a> {
    pub map: &'a CpuMap,
    /// The libvirt release whose rules apply (`libvirt::release`).
    pub libvirt: LibvirtVersion,
    pub accelerator: Accelerator,
    pub arch: &'a str,
    pub flags: &'a CpuFlags,
    /// libvirt's full host CPU (its own probe plus the host-model's features),
    /// used by the forbidden-feature check and the compat compare.
    pub full_host: Option<&'a CpuDef>,
    /// `full_host`'s data for the compat compare, made once
    /// ([`crate::libvirt::compare::host_data`]); `None` makes it on each
    /// compare instead.
    pub full_host_data: Option<&'a Result<FeatureSet, CpuError>>,
    /// The host-model QEMU reports (`fallback='forbid'` when it came from QEMU).
    pub reported_host_model: Option<&'a CpuDef>,
    /// The migratable host-model, the one guests are started with.
    pub migratable_host_model: Option<&'a CpuDef>,
    /// The models this QEMU supports, with their blockers on this host.
    pub hypervisor_models: &'a [HypervisorModel],
    /// The features QEMU knows, deciding which `=off` flags are written.
    pub qemu_known_features: Option<&'a FeatureSet>,
    /// The host CPU's physical address bits, when the host input tells.
    pub host_physical_address_bits: Option<u32>,
    /// What QEMU builds for a `-cpu` argument on this host.
    pub build_guest: &'a dyn GuestBuilder,
}

/// Builds the CPU QEMU creates for the definition libvirt hands it.
pub trait GuestBuilder {
    fn build(&self, cpu: &CpuDef) -> Result<GuestBuild, CpuError>;
}

impl<F: Fn(&CpuDef) -> Result<GuestBuild, CpuError>> GuestBuilder for F {
    fn build(&self, cpu: &CpuDef) -> Result<GuestBuild, CpuError> {
        self(cpu)
    }
}

/// Whether a start is new or continues a running guest elsewhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartKind {
    New,
    /// Incoming migration, restore or snapshot revert.
    Incoming,
}

/// What happened, step by step, as far as the start got.
#[derive(Debug, Clone)]
pub struct StartOutcome {
    /// The error that stopped the start, as libvirt words it.
    pub error: Option<CpuError>,
    /// The definition after update and translation, as handed to QEMU.
    pub cpu_for_qemu: Option<CpuDef>,
    pub qemu_cpu_arg: Option<String>,
    /// What QEMU built.
    pub build: Option<GuestBuild>,
    /// The live definition libvirt keeps once the guest runs.
    pub live_cpu: Option<CpuDef>,
}

impl StartOutcome {
    pub fn starts(&self) -> bool {
        self.error.is_none()
    }

    fn failed(error: CpuError) -> Self {
        StartOutcome {
            error: Some(error),
            cpu_for_qemu: None,
            qemu_cpu_arg: None,
            build: None,
            live_cpu: None,
        }
    }
}

/// libvirt's steps before QEMU is launched: the definition handed to QEMU and
/// its `-cpu` argument, or the error that stops the start.
pub fn prepare_for_qemu(
    env: &StartEnvironment<'_>,
    cpu: &CpuDef,
    kind: StartKind,
) -> Result<(CpuDef, Option<String>), CpuError> {
    let mut cpu = cpu.clone();
    prepare_head(env, &mut cpu, kind)?;
    check_gates(env, &cpu)?;
    prepare_tail(env, cpu, kind)
}

/// Runs libvirt's and QEMU's start-up steps for `cpu` (defaults already applied).
pub fn simulate_start(env: &StartEnvironment<'_>, cpu: &CpuDef, kind: StartKind) -> StartOutcome {
    match prepare_for_qemu(env, cpu, kind) {
        Ok((cpu, qemu_cpu_arg)) => run_qemu(env, cpu, qemu_cpu_arg),
        Err(error) => StartOutcome::failed(error),
    }
}

/// New starts of `cpu` under each of `checks` (defaults already applied): the
/// same outcomes as [`simulate_start`] of `cpu` with each `check` set, with
/// the steps that do not read `check` (libvirt's update and translation, the
/// `-cpu` argument) made once for all of them.
pub fn simulate_checks(
    env: &StartEnvironment<'_>,
    cpu: &CpuDef,
    checks: &[CpuCheck],
) -> Vec<(CpuCheck, StartOutcome)> {
    let kind = StartKind::New;
    let mut head = cpu.clone();
    let head = prepare_head(env, &mut head, kind).map(|()| head);
    let mut tail: Option<Result<(CpuDef, Option<String>), CpuError>> = None;
    checks
        .iter()
        .map(|&check| {
            let prepared = head.clone().and_then(|mut variant| {
                variant.check = Some(check);
                check_gates(env, &variant)?;
                let (mut cpu, qemu_cpu_arg) = tail
                    .get_or_insert_with(|| prepare_tail(env, variant, kind))
                    .clone()?;
                cpu.check = Some(check);
                Ok((cpu, qemu_cpu_arg))
            });
            let outcome = match prepared {
                Ok((cpu, qemu_cpu_arg)) => run_qemu(env, cpu, qemu_cpu_arg),
                Err(error) => StartOutcome::failed(error),
            };
            (check, outcome)
        })
        .collect()
}

/// QEMU's build of the definition libvirt hands it, and libvirt's checks and
/// live update once it runs.
fn run_qemu(env: &StartEnvironment<'_>, cpu: CpuDef, qemu_cpu_arg: Option<String>) -> StartOutcome {
    let build = match env.build_guest.build(&cpu) {
        Ok(build) => build,
        Err(error) => {
            return StartOutcome {
                error: Some(error),
                cpu_for_qemu: Some(cpu),
                qemu_cpu_arg,
                build: None,
                live_cpu: None,
            }
        }
    };
    let mut live = cpu.clone();
    let after_start = check_after_start(env, &mut live, &build);
    StartOutcome {
        error: after_start.err(),
        live_cpu: Some(live),
        cpu_for_qemu: Some(cpu),
        qemu_cpu_arg,
        build: Some(build),
    }
}

/// The steps before the `check`-dependent ones (spec 10.2 steps 1–3): the
/// mode an incoming host-model becomes, and what QEMU cannot accept at all.
fn prepare_head(
    env: &StartEnvironment<'_>,
    cpu: &mut CpuDef,
    kind: StartKind,
) -> Result<(), CpuError> {
    if cpu.mode == CpuMode::HostModel && kind == StartKind::Incoming && cpu.model.is_some() {
        cpu.mode = CpuMode::Custom;
    }
    if cpu.mode == CpuMode::HostPassthrough && env.accelerator == Accelerator::Tcg {
        return Err(CpuError::unsupported(format!(
            "CPU mode '{}' for {arch} qemu domain on {arch} host is not supported by hypervisor",
            cpu.mode.as_str(),
            arch = env.arch
        )));
    }
    if !reads_maxphysaddr_limit(env.libvirt) {
        if let Some(address) = &mut cpu.maxphysaddr {
            address.limit = None;
        }
    }
    validate_cache_and_address_bits(cpu, env.host_physical_address_bits)?;
    for feature in &cpu.features {
        lookup_feature(env.map, &feature.name)
            .map_err(|_| CpuError::unsupported(format!("unknown CPU feature: {}", feature.name)))?;
    }
    Ok(())
}

/// The steps `check` decides (spec 10.2 step 4): forbidden features under
/// `partial` and `full`, the compat check under `partial`. They only refuse;
/// the definition is not changed.
fn check_gates(env: &StartEnvironment<'_>, cpu: &CpuDef) -> Result<(), CpuError> {
    let check = cpu.check.unwrap_or(CpuCheck::None);
    if check != CpuCheck::None && checks_forbidden_features_on_host(env.libvirt) {
        if let Some(host) = env.full_host {
            check_forbidden_features(env.map, cpu, host)?;
        }
    }
    if !cpu.mode.is_passthrough() && check == CpuCheck::Partial {
        partial_check(env, cpu)?;
    }
    Ok(())
}

/// The steps after the checks (spec 10.2 steps 5–6): libvirt's update and
/// translation, then the `-cpu` argument. None of them reads `check`.
fn prepare_tail(
    env: &StartEnvironment<'_>,
    mut cpu: CpuDef,
    kind: StartKind,
) -> Result<(CpuDef, Option<String>), CpuError> {
    let map = env.map;
    if !cpu.mode.is_passthrough() {
        let removed_policy = match kind {
            StartKind::New => Policy::Disable,
            StartKind::Incoming => Policy::Require,
        };
        update(map, &mut cpu, env.migratable_host_model, removed_policy)?;
        if !env.hypervisor_models.is_empty() {
            translate(map, &mut cpu, env.hypervisor_models)?;
        }
        cpu.fallback = crate::cpudef::Fallback::Forbid;
    }
    // virQEMUCapsCPUFilterFeatures in qemuProcessUpdateGuestCPU.
    let strips_topology = strips_topology_features(env.libvirt);
    let never_passed = |name: &str| {
        NEVER_PASSED_TO_QEMU.contains(&name)
            || (strips_topology && TOPOLOGY_FEATURES.contains(&name))
    };
    cpu.features.retain(|f| !never_passed(&f.name));
    let context = CpuArgContext {
        map,
        known_features: env.qemu_known_features,
        supports_migratable: true,
    };
    let qemu_cpu_arg = cpu_arg(&cpu, env.flags, &context);
    Ok((cpu, qemu_cpu_arg))
}

/// The QEMU driver's validation of `<cache>` and `<maxphysaddr>`.
fn validate_cache_and_address_bits(
    cpu: &CpuDef,
    host_physical_address_bits: Option<u32>,
) -> Result<(), CpuError> {
    if let Some(cache) = &cpu.cache {
        match cache.mode.as_str() {
            "emulate" if cache.level != Some(3) => {
                return Err(CpuError::unsupported(
                    "CPU cache mode 'emulate' can only be used with level='3'",
                ))
            }
            "passthrough" if !cpu.mode.is_passthrough() => {
                return Err(CpuError::unsupported(
                    "CPU cache mode 'passthrough' can only be used with 'host-passthrough' / 'maximum' CPUs",
                ))
            }
            "passthrough" if cache.level.is_some() => {
                return Err(CpuError::unsupported(
                    "unsupported CPU cache level for mode 'passthrough'",
                ))
            }
            _ => {}
        }
    }
    if let Some(address) = &cpu.maxphysaddr {
        // qemuValidateDomainDefCpu: emulated bits beyond the host's.
        let beyond_host = address
            .bits
            .zip(host_physical_address_bits)
            .is_some_and(|(bits, host)| bits > host);
        if address.mode == "emulate" && beyond_host {
            return Err(CpuError::unsupported(
                "The number of virtual CPU address bits cannot exceed the number supported by the host CPU",
            ));
        }
        if address.mode == "passthrough" && address.bits.is_some() {
            return Err(CpuError::unsupported(
                "CPU maximum physical address bits number specification cannot be used with mode='passthrough'",
            ));
        }
    }
    Ok(())
}

/// libvirt's `qemuDomainCheckCPU` for `check='partial'` (spec 10.2); before
/// the releases that ask QEMU's answer first
/// ([`skips_partial_check_for_usable_models`],
/// [`compares_unusable_models_by_blockers`]), a compare with the full host.
fn partial_check(env: &StartEnvironment<'_>, cpu: &CpuDef) -> Result<(), CpuError> {
    let map = env.map;
    let qemu_entry = cpu
        .model
        .as_deref()
        .and_then(|m| find_hypervisor_model(env.hypervisor_models, m));
    let all_disabled = cpu
        .features
        .iter()
        .all(|f| f.policy == Some(Policy::Disable));
    if skips_partial_check_for_usable_models(env.libvirt)
        && qemu_entry.is_some_and(|m| m.usable == Usability::Yes)
        && all_disabled
    {
        return Ok(());
    }
    let map_model = cpu
        .model
        .as_deref()
        .and_then(|m| map.model_id(m))
        .map(|id| map.model(id));
    let compat = !compares_unusable_models_by_blockers(env.libvirt)
        || cpu.model.is_none()
        || env
            .reported_host_model
            .is_none_or(|h| h.fallback != crate::cpudef::Fallback::Forbid)
        || qemu_entry.is_none()
        || map_model.is_some_and(|m| m.compat_check);
    if compat {
        let made;
        let host_data = match env.full_host_data {
            Some(data) => Some(data),
            None => {
                made = env.full_host.map(|host| host_data(map, host));
                made.as_ref()
            }
        };
        compare_with_data(map, env.full_host.zip(host_data), cpu, true)?;
        return Ok(());
    }
    compare_unusable(env, cpu, qemu_entry)
}

/// libvirt's `virCPUCompareUnusable` (spec 5.4).
fn compare_unusable(
    env: &StartEnvironment<'_>,
    cpu: &CpuDef,
    qemu_entry: Option<&HypervisorModel>,
) -> Result<(), CpuError> {
    let mut missing: Vec<String> = Vec::new();
    for blocker in qemu_entry
        .map(|m| m.blockers.names(env.map))
        .unwrap_or_default()
    {
        let disabled = cpu
            .feature(&blocker)
            .is_some_and(|f| f.policy == Some(Policy::Disable));
        if !disabled {
            missing.push(blocker);
        }
    }
    if let Some(host_model) = env.reported_host_model {
        let mut expanded = host_model.clone();
        expand_features(env.map, &mut expanded)?;
        for feature in cpu
            .features
            .iter()
            .filter(|f| f.policy == Some(Policy::Require))
        {
            let required_there = expanded
                .feature(&feature.name)
                .is_some_and(|f| f.policy == Some(Policy::Require));
            if !required_there && !missing.contains(&feature.name) {
                missing.push(feature.name.clone());
            }
        }
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(CpuError::incompatible(format!(
            "Host CPU does not provide required features: {}",
            missing.join(", ")
        )))
    }
}

/// After QEMU starts: libvirt's checks of the vCPU and its live update (spec 9).
fn check_after_start(
    env: &StartEnvironment<'_>,
    live: &mut CpuDef,
    build: &GuestBuild,
) -> Result<(), CpuError> {
    let map = env.map;
    if env.flags.pvspinlock == Some(true) {
        let unhalt = map.feature_id("kvm_pv_unhalt");
        if unhalt.is_some_and(|id| !build.enabled.contains(id)) {
            return Err(CpuError::operation_failed(
                "host doesn't support paravirtual spinlocks",
            ));
        }
    }
    if let Some(invtsc) = map.feature_id("invtsc") {
        let wants_invtsc =
            crate::libvirt::compare::has_feature(map, live, "invtsc").unwrap_or(false);
        if wants_invtsc && !build.enabled.contains(invtsc) {
            return Err(CpuError::operation_failed(
                "host doesn't support invariant TSC",
            ));
        }
    }
    let disabled: FeatureSet = build.filtered.iter().map(|f| f.feature).collect();
    let outcome = update_live(map, live, &build.enabled, &disabled)?;
    outcome.apply_driver_check(live);
    debug_assert!(live.cpu_type == CpuType::Guest);
    Ok(())
}
