//! The defaults libvirt's QEMU driver fills in when it parses a domain's CPU
//! (spec section 10.1): a default model for a CPU without one, the default
//! `check` per mode and accelerator, and `migratable` for host-passthrough.

use crate::cpudef::{CpuCheck, CpuDef, CpuMatch, CpuMode, Fallback};
use crate::domain::Accelerator;

/// QEMU's default CPU type for an x86 machine type, which libvirt gives a
/// CPU without a model (`qemuDomainDefSetDefaultCPU`, from `query-machines`'
/// `default-cpu-type`): `486` for `isapc` (QEMU's `hw/i386/pc_piix.c`,
/// `isapc_machine_options`), `qemu64` for every other machine of
/// `qemu-system-x86_64` (`pc`, `q35`, `microvm`; KVM and TCG alike).
pub fn default_cpu_model(machine: Option<&str>) -> &'static str {
    match machine {
        Some("isapc") => "486",
        _ => "qemu64",
    }
}

/// What was filled in, for the report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppliedDefaults {
    /// The model QEMU's default CPU type gave a CPU without one.
    pub default_model: Option<String>,
    /// The `check` value chosen because the domain named none.
    pub default_check: Option<CpuCheck>,
    /// `migratable='on'` added to a new host-passthrough definition.
    pub default_migratable: bool,
}

/// Applies the post-parse defaults to `cpu` in place; `default_model` is the
/// machine type's default CPU ([`default_cpu_model`]).
pub fn apply_defaults(
    cpu: &mut CpuDef,
    accelerator: Accelerator,
    default_model: &str,
) -> AppliedDefaults {
    let mut applied = AppliedDefaults::default();
    if cpu.mode == CpuMode::Custom && cpu.model.is_none() {
        // Rule 1 overwrites any `check` the user gave.
        cpu.model = Some(default_model.to_string());
        cpu.match_mode = CpuMatch::Exact;
        cpu.check = Some(CpuCheck::None);
        cpu.fallback = Fallback::Forbid;
        applied.default_model = cpu.model.clone();
    }
    if cpu.check.is_none() {
        let check = match (cpu.mode, accelerator) {
            (CpuMode::HostPassthrough | CpuMode::Maximum, _) => CpuCheck::None,
            (CpuMode::HostModel, _) => CpuCheck::Partial,
            (CpuMode::Custom, Accelerator::Kvm) => CpuCheck::Partial,
            (CpuMode::Custom, Accelerator::Tcg) => CpuCheck::None,
        };
        cpu.check = Some(check);
        applied.default_check = Some(check);
    }
    if cpu.mode == CpuMode::HostPassthrough && cpu.migratable.is_none() {
        cpu.migratable = Some(true);
        applied.default_migratable = true;
    }
    applied
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpudef::CpuType;

    fn parsed(xml: &str) -> CpuDef {
        CpuDef::parse(xml).expect("valid cpu")
    }

    #[test]
    fn empty_cpu_gets_qemu64_with_check_none() {
        let mut cpu = CpuDef::new(CpuType::Guest);
        apply_defaults(&mut cpu, Accelerator::Kvm, default_cpu_model(None));
        assert_eq!(cpu.to_xml(), "<cpu mode='custom' match='exact' check='none'>\n  <model fallback='forbid'>qemu64</model>\n</cpu>\n");
    }

    #[test]
    fn isapc_machines_default_to_486() {
        let mut cpu = CpuDef::new(CpuType::Guest);
        apply_defaults(&mut cpu, Accelerator::Tcg, default_cpu_model(Some("isapc")));
        assert_eq!(cpu.model.as_deref(), Some("486"));
        assert_eq!(default_cpu_model(Some("pc-q35-10.0")), "qemu64");
    }

    #[test]
    fn default_check_by_mode_and_accelerator() {
        let cases = [
            (
                "<cpu mode='host-passthrough'/>",
                Accelerator::Kvm,
                CpuCheck::None,
            ),
            (
                "<cpu mode='host-model'/>",
                Accelerator::Tcg,
                CpuCheck::Partial,
            ),
            (
                "<cpu><model>core2duo</model></cpu>",
                Accelerator::Kvm,
                CpuCheck::Partial,
            ),
            (
                "<cpu><model>core2duo</model></cpu>",
                Accelerator::Tcg,
                CpuCheck::None,
            ),
        ];
        for (xml, accelerator, expected) in cases {
            let mut cpu = parsed(xml);
            apply_defaults(&mut cpu, accelerator, "qemu64");
            assert_eq!(cpu.check, Some(expected), "{xml}");
        }
        let mut passthrough = parsed("<cpu mode='host-passthrough'/>");
        apply_defaults(&mut passthrough, Accelerator::Kvm, "qemu64");
        assert_eq!(
            passthrough.to_xml(),
            "<cpu mode='host-passthrough' check='none' migratable='on'/>\n"
        );
    }
}
