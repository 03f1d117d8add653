//! libvirt's hard-coded KVM and Hyper-V features.
//!
//! They are not in the CPU map, so they are part of libvirt's code rather than of
//! its data, and so they are here. They are recognised when QEMU's properties are
//! turned into CPU data and when a feature is looked up in data, but decode never
//! lists them.

use super::{Feature, FeatureBits};
use crate::cpuid::{DataKey, Registers};

/// `(name, leaf, eax mask, edx mask)`, all at subleaf 0.
const INTERNAL_FEATURES: [(&str, u32, u32, u32); 19] = [
    ("kvm_pv_unhalt", 0x4000_0001, 0x80, 0),
    ("hv-runtime", 0x4000_0003, 0x1, 0),
    ("hv-synic", 0x4000_0003, 0x4, 0),
    ("hv-stimer", 0x4000_0003, 0x8, 0),
    ("hv-xmm_input", 0x4000_0003, 0x10, 0),
    ("hv-relaxed", 0x4000_0003, 0x20, 0),
    ("hv-vapic", 0x4000_0003, 0x30, 0),
    ("hv-vpindex", 0x4000_0003, 0x40, 0),
    ("hv-reset", 0x4000_0003, 0x80, 0),
    ("hv-frequencies", 0x4000_0003, 0x800, 0),
    ("hv-reenlightenment", 0x4000_0003, 0x2000, 0),
    ("hv-stimer-direct", 0x4000_0003, 0, 0x80000),
    ("hv-tlbflush-direct", 0x4000_0003, 0, 0x4000),
    ("hv-tlbflush", 0x4000_0004, 0x4, 0),
    ("hv-avic", 0x4000_0004, 0x200, 0),
    ("hv-ipi", 0x4000_0004, 0x400, 0),
    ("hv-evmcs", 0x4000_0004, 0x4000, 0),
    ("hv-tlbflush-ext", 0x4000_0004, 0, 0x4000),
    ("hv-emsr_bitmap", 0x4000_000A, 0x80000, 0),
];

pub(super) fn features() -> impl Iterator<Item = Feature> {
    INTERNAL_FEATURES
        .iter()
        .map(|(name, leaf, eax, edx)| Feature {
            name: (*name).to_string(),
            bits: FeatureBits {
                key: DataKey::Cpuid {
                    leaf: *leaf,
                    subleaf: 0,
                },
                registers: Registers([*eax, 0, 0, *edx]),
            },
            migratable: true,
            qemu_aliases: Vec::new(),
            linux_aliases: Vec::new(),
            internal: true,
        })
}
