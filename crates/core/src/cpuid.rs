//! Raw CPUID and MSR data as libvirt keeps it: register items keyed by leaf and
//! subleaf (or MSR index), plus the two facts read straight from the registers,
//! the vendor string and the family/model/stepping signature.
//!
//! Host dumps are parsed into [`CpuidData`]; the engine then turns the bits that
//! belong to map features into a [`crate::FeatureSet`] and never looks at the raw
//! registers again, apart from vendor and signature.

use std::fmt;

/// Where a group of four (CPUID) or two (MSR) registers lives.
///
/// The derived order is libvirt's: CPUID items before MSR items, then by leaf and
/// subleaf or by index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DataKey {
    Cpuid { leaf: u32, subleaf: u32 },
    Msr { index: u32 },
}

/// One of the four CPUID output registers; MSR values use `Eax` (low half) and
/// `Edx` (high half).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Register {
    Eax,
    Ebx,
    Ecx,
    Edx,
}

impl Register {
    pub const ALL: [Register; 4] = [Register::Eax, Register::Ebx, Register::Ecx, Register::Edx];

    pub fn name(self) -> &'static str {
        match self {
            Register::Eax => "eax",
            Register::Ebx => "ebx",
            Register::Ecx => "ecx",
            Register::Edx => "edx",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Register values of one item, indexed by [`Register`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Registers(pub [u32; 4]);

impl Registers {
    pub fn get(&self, register: Register) -> u32 {
        self.0[register.index()]
    }

    pub fn set(&mut self, register: Register, value: u32) {
        self.0[register.index()] = value;
    }

    pub fn is_zero(&self) -> bool {
        self.0 == [0; 4]
    }

    /// True when every bit of `other` is set here.
    pub fn contains(&self, other: &Registers) -> bool {
        self.0
            .iter()
            .zip(other.0.iter())
            .all(|(mine, theirs)| mine & theirs == *theirs)
    }
}

impl fmt::Display for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DataKey::Cpuid { leaf, subleaf } => write!(f, "CPUID.{leaf:X}H:{subleaf:X}H"),
            DataKey::Msr { index } => write!(f, "MSR {index:#x}"),
        }
    }
}

/// CPUID leaves and MSR values. Items whose registers are all zero count as absent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CpuidData {
    /// Sorted by key, each key once: a dump has a few dozen items, which a
    /// sorted vector holds in less code than a map (the web app's download).
    items: Vec<(DataKey, Registers)>,
}

impl CpuidData {
    pub fn new() -> Self {
        Self::default()
    }

    /// Where the item at `key` is, or where it would go.
    fn position(&self, key: DataKey) -> Result<usize, usize> {
        self.items.binary_search_by(|(k, _)| k.cmp(&key))
    }

    /// The item at `key`, created (all zero) when missing.
    fn item_mut(&mut self, key: DataKey) -> &mut Registers {
        let at = match self.position(key) {
            Ok(at) => at,
            Err(at) => {
                self.items.insert(at, (key, Registers::default()));
                at
            }
        };
        &mut self.items[at].1
    }

    /// ORs `registers` into the item at `key`, creating it when missing.
    pub fn add(&mut self, key: DataKey, registers: Registers) {
        let item = self.item_mut(key);
        for register in Register::ALL {
            item.set(register, item.get(register) | registers.get(register));
        }
    }

    /// Replaces the item at `key`.
    pub fn set(&mut self, key: DataKey, registers: Registers) {
        *self.item_mut(key) = registers;
    }

    pub fn get(&self, key: DataKey) -> Option<&Registers> {
        self.position(key)
            .ok()
            .map(|at| &self.items[at].1)
            .filter(|r| !r.is_zero())
    }

    pub fn get_mut(&mut self, key: DataKey) -> Option<&mut Registers> {
        let at = self.position(key).ok()?;
        Some(&mut self.items[at].1)
    }

    /// The non-zero items in libvirt's order.
    pub fn items(&self) -> impl Iterator<Item = (DataKey, &Registers)> + '_ {
        self.items
            .iter()
            .filter(|(_, r)| !r.is_zero())
            .map(|(k, r)| (*k, r))
    }

    pub fn is_empty(&self) -> bool {
        self.items().next().is_none()
    }

    /// True when every bit of `registers` is set in the item at `key`.
    pub fn contains(&self, key: DataKey, registers: &Registers) -> bool {
        if registers.is_zero() {
            return true;
        }
        self.get(key).is_some_and(|mine| mine.contains(registers))
    }

    /// The 12-character vendor string of leaf 0, when it is printable ASCII.
    pub fn vendor_string(&self) -> Option<String> {
        let leaf0 = self.get(DataKey::Cpuid {
            leaf: 0,
            subleaf: 0,
        })?;
        let mut bytes = Vec::with_capacity(12);
        for register in [Register::Ebx, Register::Edx, Register::Ecx] {
            bytes.extend_from_slice(&leaf0.get(register).to_le_bytes());
        }
        let text = String::from_utf8(bytes).ok()?;
        text.chars()
            .all(|c| c.is_ascii_graphic() || c == ' ')
            .then_some(text)
    }

    /// The leaf-1 signature masked as libvirt does, or 0 when leaf 1 is absent.
    pub fn signature(&self) -> Signature {
        let eax = self
            .get(DataKey::Cpuid {
                leaf: 1,
                subleaf: 0,
            })
            .map_or(0, |r| r.get(Register::Eax));
        Signature::from_eax(eax)
    }
}

/// The leaf-0 registers that carry a 12-byte vendor string.
pub fn vendor_registers(vendor: &str) -> Option<Registers> {
    let bytes = vendor.as_bytes();
    if bytes.len() != 12 {
        return None;
    }
    let word = |i: usize| u32::from_le_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
    Some(Registers([0, word(0), word(8), word(4)]))
}

/// Family, model and stepping decoded from CPUID leaf 1 `eax`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Signature {
    pub family: u32,
    pub model: u32,
    pub stepping: u32,
}

impl Signature {
    /// Mask that keeps bits 0–13 and 16–27 of leaf 1 `eax`.
    const EAX_MASK: u32 = 0x0fff_3fff;

    /// Decodes leaf-1 `eax`, always adding the extended family and model.
    pub fn from_eax(eax: u32) -> Self {
        let sig = eax & Self::EAX_MASK;
        Signature {
            family: ((sig >> 20) & 0xff) + ((sig >> 8) & 0xf),
            model: ((sig >> 12) & 0xf0) + ((sig >> 4) & 0xf),
            stepping: sig & 0xf,
        }
    }

    /// Encodes back into leaf-1 `eax` (processor type 0).
    pub fn to_eax(self) -> u32 {
        let mut family = self.family;
        let mut eax = 0;
        if family > 0xf {
            eax |= (family - 0xf) << 20;
            family = 0xf;
        }
        eax | ((self.model >> 4) & 0xf) << 16
            | (family & 0xf) << 8
            | (self.model & 0xf) << 4
            | (self.stepping & 0xf)
    }

    /// Signature 0 switches signature matching off.
    pub fn is_zero(self) -> bool {
        self.family == 0 && self.model == 0 && self.stepping == 0
    }
}

impl fmt::Display for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "family {} model {} stepping {}",
            self.family, self.model, self.stepping
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_round_trip_with_extended_family() {
        let sig = Signature::from_eax(0x00100f23);
        assert_eq!(
            sig,
            Signature {
                family: 16,
                model: 2,
                stepping: 3
            }
        );
        assert_eq!(sig.to_eax(), 0x100f23);
        let haswell = Signature::from_eax(0x000306c3);
        assert_eq!(
            (haswell.family, haswell.model, haswell.stepping),
            (6, 60, 3)
        );
    }

    #[test]
    fn vendor_string_round_trip() {
        let mut data = CpuidData::new();
        let regs = vendor_registers("GenuineIntel").expect("12 bytes");
        data.add(
            DataKey::Cpuid {
                leaf: 0,
                subleaf: 0,
            },
            regs,
        );
        assert_eq!(data.vendor_string().as_deref(), Some("GenuineIntel"));
        assert!(vendor_registers("Intel").is_none());
    }

    #[test]
    fn zero_items_are_absent() {
        let mut data = CpuidData::new();
        data.add(
            DataKey::Cpuid {
                leaf: 3,
                subleaf: 0,
            },
            Registers::default(),
        );
        assert!(data.is_empty());
    }
}
