//! The `-cpu` argument libvirt gives QEMU for a guest CPU that has been updated
//! and translated (libvirt's `qemuBuildCpuModelArgStr` and
//! `qemuBuildCpuCommandLine`, `src/qemu/qemu_command.c`): the model and its
//! features, then the flags other domain elements give ([`domain_flags`],
//! which the check's settings also list), as QEMU receives it; a command line
//! shown to people quotes it with [`shell_quote`].
//!
//! libvirt never passes `enforce`: all checking is its own, after QEMU starts.

use std::fmt::Write as _;

use serde::Serialize;

use crate::cpudef::{CpuDef, CpuMode, Policy};
use crate::data::{libvirt_to_qemu, CpuMap};
use crate::domain::CpuFlags;
use crate::featureset::FeatureSet;

/// What QEMU tells libvirt that shapes the argument.
#[derive(Debug, Clone)]
pub struct CpuArgContext<'a> {
    pub map: &'a CpuMap,
    /// The features QEMU knows (its host-model expansion has a property for
    /// them); `None` when QEMU gave no expansion, in which case every disabled
    /// feature is written.
    pub known_features: Option<&'a FeatureSet>,
    /// Whether QEMU supports `migratable` on `host`/`max` (every current QEMU does).
    pub supports_migratable: bool,
}

/// Builds the value of `-cpu` (without shell quoting), or `None` when libvirt
/// would pass no `-cpu` at all.
pub fn cpu_arg(cpu: &CpuDef, flags: &CpuFlags, context: &CpuArgContext<'_>) -> Option<String> {
    let mut arg = String::new();
    match cpu.mode {
        CpuMode::HostPassthrough | CpuMode::Maximum => {
            arg.push_str(if cpu.mode == CpuMode::Maximum {
                "max"
            } else {
                "host"
            });
            if let (true, Some(migratable)) = (context.supports_migratable, cpu.migratable) {
                let _ = write!(arg, ",migratable={}", on_off(migratable));
            }
        }
        CpuMode::Custom | CpuMode::HostModel => {
            if let Some(model) = &cpu.model {
                arg.push_str(model);
            }
        }
    }
    let has_model_token = !arg.is_empty();
    if let Some(vendor_id) = &cpu.vendor_id {
        let _ = write!(arg, ",vendor={vendor_id}");
    }
    for feature in &cpu.features {
        let qemu_name = libvirt_to_qemu(&feature.name);
        match feature.effective_policy() {
            Policy::Force | Policy::Require => {
                let _ = write!(arg, ",{qemu_name}=on");
            }
            Policy::Disable | Policy::Forbid => {
                let known = context.known_features.is_none_or(|known| {
                    context
                        .map
                        .feature_id(&feature.name)
                        .is_some_and(|id| known.contains(id))
                });
                if known {
                    let _ = write!(arg, ",{qemu_name}=off");
                }
            }
            Policy::Optional => {}
        }
    }
    let flag_text = flags_text(cpu, flags);
    if !has_model_token {
        if flag_text.is_empty() {
            return None;
        }
        arg.push_str("qemu64");
    }
    arg.push_str(&flag_text);
    Some(arg)
}

/// One `-cpu` flag that a domain element gives, for the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DomainFlag {
    /// The domain element it comes from, e.g. `<features><pmu/>`.
    pub element: String,
    /// What QEMU receives, e.g. `pmu=on` (in `-cpu`, or elsewhere as said).
    pub qemu: String,
}

impl DomainFlag {
    fn new(element: impl Into<String>, qemu: impl Into<String>) -> Self {
        DomainFlag {
            element: element.into(),
            qemu: qemu.into(),
        }
    }
}

/// Clock, paravirtualisation, Hyper-V, PMU, cache and address-size flags, in
/// libvirt's order, each with its leading comma.
fn flags_text(cpu: &CpuDef, flags: &CpuFlags) -> String {
    domain_flags(cpu, flags)
        .iter()
        .fold(String::new(), |mut text, flag| {
            let _ = write!(text, ",{}", flag.qemu);
            text
        })
}

/// The `-cpu` flags the domain's elements give besides the model and its
/// features, in the order libvirt's `qemuBuildCpuCommandLine` writes them.
pub fn domain_flags(cpu: &CpuDef, flags: &CpuFlags) -> Vec<DomainFlag> {
    let mut list = Vec::new();
    if let Some(kvmclock) = flags.kvmclock {
        list.push(DomainFlag::new(
            format!(
                "<timer name='kvmclock' present='{}'/>",
                if kvmclock { "yes" } else { "no" }
            ),
            format!("kvmclock={}", on_off(kvmclock)),
        ));
    }
    if flags.hypervclock {
        list.push(DomainFlag::new(
            "<timer name='hypervclock' present='yes'/>",
            "hv-time=on",
        ));
    }
    if let Some(frequency) = flags.tsc_frequency {
        list.push(DomainFlag::new(
            format!("<timer name='tsc' frequency='{frequency}'/>"),
            format!("tsc-frequency={frequency}"),
        ));
    }
    if let Some(eoi) = flags.apic_eoi {
        list.push(DomainFlag::new(
            format!("<apic eoi='{}'/>", on_off(eoi)),
            format!("kvm-pv-eoi={}", on_off(eoi)),
        ));
    }
    if let Some(pvspinlock) = flags.pvspinlock {
        list.push(DomainFlag::new(
            format!("<pvspinlock state='{}'/>", on_off(pvspinlock)),
            format!("kvm-pv-unhalt={}", on_off(pvspinlock)),
        ));
    }
    if flags.hyperv_passthrough {
        list.push(DomainFlag::new(
            "<hyperv mode='passthrough'>",
            "hv-passthrough=on",
        ));
    }
    for feature in &flags.hyperv {
        let name = libvirt_to_qemu(&format!("hv-{}", feature.name)).to_string();
        let qemu = match (&feature.name[..], &feature.value) {
            // libvirt writes the retry count in hexadecimal.
            ("spinlocks", Some(retries)) => {
                let retries: u64 = retries.parse().unwrap_or(0);
                format!("{name}={retries:#x}")
            }
            (_, Some(value)) => format!("{name}={value}"),
            (_, None) => format!("{name}=on"),
        };
        list.push(DomainFlag::new(format!("<hyperv><{}>", feature.name), qemu));
    }
    if flags.hyperv_crash {
        list.push(DomainFlag::new("<panic model='hyperv'/>", "hv-crash"));
    }
    if flags.kvm_hidden {
        list.push(DomainFlag::new("<kvm><hidden state='on'/>", "kvm=off"));
    }
    if flags.kvm_hint_dedicated {
        list.push(DomainFlag::new(
            "<kvm><hint-dedicated state='on'/>",
            "kvm-hint-dedicated=on",
        ));
    }
    if flags.kvm_poll_control {
        list.push(DomainFlag::new(
            "<kvm><poll-control state='on'/>",
            "kvm-poll-control=on",
        ));
    }
    if flags.kvm_pv_ipi == Some(false) {
        list.push(DomainFlag::new(
            "<kvm><pv-ipi state='off'/>",
            "kvm-pv-ipi=off",
        ));
    }
    if let Some(pmu) = flags.pmu {
        list.push(DomainFlag::new(
            format!("<pmu state='{}'/>", on_off(pmu)),
            format!("pmu={}", on_off(pmu)),
        ));
    }
    if let Some(cache) = &cpu.cache {
        let element = match cache.level {
            Some(level) => format!("<cache level='{level}' mode='{}'/>", cache.mode),
            None => format!("<cache mode='{}'/>", cache.mode),
        };
        let qemu = match cache.mode.as_str() {
            "passthrough" => Some("host-cache-info=on,l3-cache=off"),
            "emulate" if cpu.mode.is_passthrough() => Some("l3-cache=on,host-cache-info=off"),
            "emulate" => Some("l3-cache=on"),
            "disable" if cpu.mode.is_passthrough() => Some("host-cache-info=off,l3-cache=off"),
            "disable" => Some("l3-cache=off"),
            _ => None,
        };
        if let Some(qemu) = qemu {
            list.push(DomainFlag::new(element, qemu));
        }
    }
    if let Some(max) = &cpu.maxphysaddr {
        let qemu = match (max.mode.as_str(), max.bits, max.limit) {
            ("passthrough", _, Some(limit)) => {
                Some(format!("host-phys-bits=on,host-phys-bits-limit={limit}"))
            }
            ("passthrough", _, None) => Some("host-phys-bits=on".to_string()),
            ("emulate", Some(bits), _) => Some(format!("phys-bits={bits}")),
            ("emulate", None, _) => Some("host-phys-bits=off".to_string()),
            _ => None,
        };
        if let Some(qemu) = qemu {
            list.push(DomainFlag::new(
                format!("<maxphysaddr mode='{}'/>", max.mode),
                qemu,
            ));
        }
    }
    list
}

/// The domain elements near the CPU that do not reach `-cpu`, and where
/// QEMU gets them instead (libvirt's `qemuBuildAccelCommandLine` and
/// `qemuBuildAsyncTeardownCommandLine`; `<msrs>` is read by the Xen driver
/// only, `<ibs>` is ppc64's `cap-ibs`).
pub fn flags_outside_cpu_arg(flags: &CpuFlags) -> Vec<DomainFlag> {
    let mut list = Vec::new();
    if let Some(size) = flags.kvm_dirty_ring_size {
        list.push(DomainFlag::new(
            format!("<kvm><dirty-ring state='on' size='{size}'/>"),
            format!("-accel kvm,dirty-ring-size={size} (not -cpu)"),
        ));
    }
    if let Some(enabled) = flags.async_teardown {
        list.push(DomainFlag::new(
            format!(
                "<async-teardown enabled='{}'/>",
                if enabled { "yes" } else { "no" }
            ),
            format!("-run-with async-teardown={} (not -cpu)", on_off(enabled)),
        ));
    }
    if let Some(unknown) = &flags.msrs_unknown {
        list.push(DomainFlag::new(
            format!("<msrs unknown='{unknown}'/>"),
            "nothing: libvirt's QEMU driver ignores it (Xen only)",
        ));
    }
    if let Some(value) = &flags.ibs {
        list.push(DomainFlag::new(
            format!("<ibs value='{value}'/>"),
            "nothing on x86: it is ppc64's machine capability cap-ibs",
        ));
    }
    list
}

fn on_off(value: bool) -> &'static str {
    if value {
        "on"
    } else {
        "off"
    }
}

/// Quotes an argument for a shell the way libvirt's test files show it.
pub fn shell_quote(arg: &str) -> String {
    let safe = arg
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b",._-=+/:@".contains(&b));
    if safe {
        arg.to_string()
    } else {
        format!("'{}'", arg.replace('\'', "'\\''"))
    }
}
