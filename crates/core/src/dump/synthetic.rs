//! Host dumps synthesized from a CPU model definition, so that tests,
//! benchmarks and the web app's examples have realistic hosts without
//! shipping anyone's real dump.
//!
//! The dump is libvirt's `<cpudata>` XML: the vendor string in leaf 0, the
//! model's first signature (lowest stepping) in leaf 1 `eax`, and every bit of
//! the model's features, plus any extra features asked for.

use std::fmt::Write as _;

use crate::cpuid::{CpuidData, DataKey, Register, Registers};
use crate::data::{lookup_feature, lookup_model, CpuMap};
use crate::error::CpuError;
use crate::featureset::FeatureSet;

/// CPUID data of a host whose CPU is exactly `model` plus `extra_features`.
pub fn synthesize_cpuid(
    map: &CpuMap,
    model: &str,
    extra_features: &[&str],
) -> Result<CpuidData, CpuError> {
    let model = map.model(lookup_model(map, model)?);
    let mut features: FeatureSet = model.features;
    for name in extra_features {
        features.insert(lookup_feature(map, name)?);
    }
    let mut data = map.data_of(&features);
    let vendor = model.vendor.or_else(|| map.vendor_id("Intel"));
    let mut leaf0 = vendor.map(|v| map.vendor_registers(v)).unwrap_or_default();
    // The highest basic leaf used by any feature bit.
    let highest_basic = data
        .items()
        .filter_map(|(key, _)| match key {
            DataKey::Cpuid { leaf, .. } if leaf < 0x4000_0000 => Some(leaf),
            _ => None,
        })
        .max()
        .unwrap_or(1)
        .max(1);
    leaf0.set(Register::Eax, highest_basic);
    data.add(
        DataKey::Cpuid {
            leaf: 0,
            subleaf: 0,
        },
        leaf0,
    );
    if let Some(signature) = model.signatures.first() {
        let mut leaf1 = Registers::default();
        leaf1.set(Register::Eax, signature.lowest().to_eax());
        data.add(
            DataKey::Cpuid {
                leaf: 1,
                subleaf: 0,
            },
            leaf1,
        );
    }
    Ok(data)
}

/// The same host as libvirt `<cpudata>` XML text.
pub fn synthesize_cpudata_xml(
    map: &CpuMap,
    model: &str,
    extra_features: &[&str],
) -> Result<String, CpuError> {
    let data = synthesize_cpuid(map, model, extra_features)?;
    Ok(cpudata_xml(&data))
}

/// Formats CPUID data as the etallen `cpuid` tool prints it raw: `cpuid -1r`
/// for one CPU (`CPU:`), `cpuid -r` for several (`CPU 0:`, `CPU 1:`, ...).
pub fn cpuid_tool_text(data: &CpuidData, cpus: usize) -> String {
    let mut out = String::new();
    for cpu in 0..cpus.max(1) {
        if cpus <= 1 {
            out.push_str("CPU:\n");
        } else {
            let _ = writeln!(out, "CPU {cpu}:");
        }
        for (key, registers) in data.items() {
            if let DataKey::Cpuid { leaf, subleaf } = key {
                let [eax, ebx, ecx, edx] = registers.0;
                let _ = writeln!(
                    out,
                    "   0x{leaf:08x} 0x{subleaf:02x}: eax=0x{eax:08x} ebx=0x{ebx:08x} ecx=0x{ecx:08x} edx=0x{edx:08x}"
                );
            }
        }
    }
    out
}

/// Formats CPUID data as libvirt's `<cpudata arch='x86'>` document.
pub fn cpudata_xml(data: &CpuidData) -> String {
    let mut out = String::from("<cpudata arch='x86'>\n");
    for (key, registers) in data.items() {
        let [eax, ebx, ecx, edx] = registers.0;
        let _ = match key {
            DataKey::Cpuid { leaf, subleaf } => writeln!(
                out,
                "  <cpuid eax_in='0x{leaf:08x}' ecx_in='0x{subleaf:08x}' eax='0x{eax:08x}' ebx='0x{ebx:08x}' ecx='0x{ecx:08x}' edx='0x{edx:08x}'/>"
            ),
            DataKey::Msr { index } => writeln!(out, "  <msr index='0x{index:x}' eax='0x{eax:08x}' edx='0x{edx:08x}'/>"),
        };
    }
    out.push_str("</cpudata>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::libvirt::decode::host_cpu_from_cpuid;

    #[test]
    fn a_synthesized_host_decodes_to_its_model() {
        let map = CpuMap::embedded();
        let text = synthesize_cpudata_xml(map, "SandyBridge", &["vmx"]).expect("known model");
        let dump = crate::dump::parse(&text).expect("parses back");
        let host = host_cpu_from_cpuid(map, &dump.cpuid).expect("decodes");
        assert_eq!(host.vendor.as_deref(), Some("Intel"));
        assert!(
            host.model
                .as_deref()
                .is_some_and(|m| m.starts_with("SandyBridge")),
            "{:?}",
            host.model
        );
        assert!(host.features.iter().any(|f| f.name == "vmx"));
    }

    #[test]
    fn unknown_names_are_errors() {
        let map = CpuMap::embedded();
        assert!(synthesize_cpuid(map, "Bogus", &[]).is_err());
        assert!(synthesize_cpuid(map, "Haswell", &["bogus"]).is_err());
    }
}
