//! The `-cpu` argument libvirt gives QEMU for a guest CPU that has been updated
//! and translated (libvirt's `qemuBuildCpuArgStr`).
//!
//! libvirt never passes `enforce`: all checking is its own, after QEMU starts.

use std::fmt::Write as _;

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

/// Clock, paravirtualisation, Hyper-V, PMU, cache and address-size flags, in
/// libvirt's order, each with its leading comma.
fn flags_text(cpu: &CpuDef, flags: &CpuFlags) -> String {
    let mut text = String::new();
    if let Some(kvmclock) = flags.kvmclock {
        let _ = write!(text, ",kvmclock={}", on_off(kvmclock));
    }
    if flags.hypervclock {
        text.push_str(",hv-time=on");
    }
    if let Some(frequency) = flags.tsc_frequency {
        let _ = write!(text, ",tsc-frequency={frequency}");
    }
    if let Some(eoi) = flags.apic_eoi {
        let _ = write!(text, ",kvm-pv-eoi={}", on_off(eoi));
    }
    if let Some(pvspinlock) = flags.pvspinlock {
        let _ = write!(text, ",kvm-pv-unhalt={}", on_off(pvspinlock));
    }
    if flags.hyperv_passthrough {
        text.push_str(",hv-passthrough=on");
    }
    for feature in &flags.hyperv {
        let name = libvirt_to_qemu(&format!("hv-{}", feature.name)).to_string();
        match (&feature.name[..], &feature.value) {
            ("spinlocks", Some(retries)) => {
                let retries: u64 = retries.parse().unwrap_or(0);
                let _ = write!(text, ",{name}={retries:#x}");
            }
            (_, Some(value)) => {
                let _ = write!(text, ",{name}={value}");
            }
            (_, None) => {
                let _ = write!(text, ",{name}=on");
            }
        }
    }
    if flags.hyperv_crash {
        text.push_str(",hv-crash");
    }
    if flags.kvm_hidden {
        text.push_str(",kvm=off");
    }
    if flags.kvm_hint_dedicated {
        text.push_str(",kvm-hint-dedicated=on");
    }
    if flags.kvm_poll_control {
        text.push_str(",kvm-poll-control=on");
    }
    if flags.kvm_pv_ipi == Some(false) {
        text.push_str(",kvm-pv-ipi=off");
    }
    if let Some(pmu) = flags.pmu {
        let _ = write!(text, ",pmu={}", on_off(pmu));
    }
    if let Some(cache) = &cpu.cache {
        match (cache.mode.as_str(), cache.level) {
            ("passthrough", _) => text.push_str(",host-cache-info=on,l3-cache=off"),
            ("emulate", _) => text.push_str(",l3-cache=on,host-cache-info=off"),
            ("disable", _) if cpu.mode.is_passthrough() => {
                text.push_str(",host-cache-info=off,l3-cache=off")
            }
            ("disable", _) => text.push_str(",l3-cache=off"),
            _ => {}
        }
    }
    if let Some(max) = &cpu.maxphysaddr {
        match max.mode.as_str() {
            "passthrough" => {
                text.push_str(",host-phys-bits=on");
                if let Some(limit) = max.limit {
                    let _ = write!(text, ",host-phys-bits-limit={limit}");
                }
            }
            "emulate" => match max.bits {
                Some(bits) => {
                    let _ = write!(text, ",phys-bits={bits}");
                }
                None => text.push_str(",host-phys-bits=off"),
            },
            _ => {}
        }
    }
    text
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
