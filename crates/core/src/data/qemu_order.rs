//! QEMU's order of features: the feature word and bit each feature's CPUID
//! or MSR bits sit in. QEMU lists features word by word, so its warnings and
//! `unavailable-features` follow this order; the host facts and the check
//! both sort by it, and the order follows from the map's bits alone.

use super::{CpuMap, FeatureBits};
use crate::cpuid::{DataKey, Register};

/// Where QEMU lists a feature among others: the index of its feature word
/// (`enum FeatureWord` in QEMU 10.0's target/i386/cpu.h), then its bit.
/// QEMU names features word by word, bit by bit (`x86_cpu_list_feature_names`),
/// so `unavailable-features` and the "doesn't support requested feature"
/// warnings come in this order. Bits no word holds sort last.
pub fn feature_word_rank(bits: &FeatureBits) -> (usize, u32) {
    use Register::{Eax, Ebx, Ecx, Edx};
    let (register, mask) = bits.register_and_mask();
    let bit = mask.trailing_zeros();
    let word = match bits.key {
        DataKey::Cpuid { leaf, subleaf } => match (leaf, subleaf, register) {
            (0x1, _, Edx) => Some(0),
            (0x1, _, Ecx) => Some(1),
            (0x7, 0, Ebx) => Some(2),
            (0x7, 0, Ecx) => Some(3),
            (0x7, 0, Edx) => Some(4),
            (0x7, 1, Eax) => Some(5),
            (0x8000_0001, _, Edx) => Some(6),
            (0x8000_0001, _, Ecx) => Some(7),
            (0x8000_0007, _, Ebx) => Some(8),
            (0x8000_0007, _, Edx) => Some(9),
            (0x8000_0008, _, Ebx) => Some(10),
            (0x8000_0021, _, Eax) => Some(11),
            (0x8000_0021, _, Ebx) => Some(12),
            (0x8000_0022, _, Eax) => Some(13),
            (0xC000_0001, _, Edx) => Some(14),
            (0x4000_0001, _, Eax) => Some(15),
            (0x4000_0001, _, Edx) => Some(16),
            (0x8000_000A, _, Edx) => Some(17),
            (0xD, 1, Eax) => Some(18),
            (0x6, _, Eax) => Some(19),
            (0xD, 0, Eax) => Some(20),
            (0xD, 0, Edx) => Some(21),
            (0x14, 0, Ecx) => Some(34),
            (0x12, 0, Eax) => Some(35),
            (0x12, 0, Ebx) => Some(36),
            (0x12, 1, Eax) => Some(37),
            (0xD, 1, Ecx) => Some(38),
            (0xD, 1, Edx) => Some(39),
            (0x7, 1, Edx) => Some(40),
            (0x7, 2, Edx) => Some(41),
            (0x24, 0, Ebx) => Some(42),
            _ => None,
        },
        DataKey::Msr { index } => match index {
            0x10A => Some(22),
            0xCF => Some(23),
            0x345 => Some(24),
            0x482 | 0x48E => Some(25),
            0x48B => Some(26),
            0x481 | 0x48D => Some(27),
            0x483 | 0x48F => Some(28),
            0x484 | 0x490 => Some(29),
            0x485 => Some(30),
            0x48C => Some(31),
            0x480 => Some(32),
            0x491 => Some(33),
            _ => None,
        },
    };
    // A 64-bit MSR word keeps its high half (EDX) above its low half.
    let bit = if matches!(bits.key, DataKey::Msr { .. }) && register == Edx {
        bit + 32
    } else {
        bit
    };
    (word.unwrap_or(usize::MAX), bit)
}

/// `names` (libvirt feature names) in QEMU's order ([`feature_word_rank`]);
/// names the map does not know keep their place after the known ones.
pub fn in_qemu_order(map: &CpuMap, names: &mut [String]) {
    crate::sort::sort_by_key(names, |name| {
        map.feature_id(name)
            .map(|id| feature_word_rank(&map.feature(id).bits))
            .unwrap_or((usize::MAX, u32::MAX))
    });
}
