//! The CPU database: vendors, features and models of libvirt's x86 CPU map,
//! one map per libvirt release.
//!
//! The generated `data/cpu_map/<release>.json` files are embedded in the
//! binary (packed by `build.rs`, see the `packed` module) and loaded once
//! ([`CpuMap::for_version`]; [`CpuMap::embedded`] is libvirt 11.3's, the release
//! of the test suite the engine is verified against). Features get a
//! [`FeatureId`] in map order, followed by libvirt's hard-coded KVM/Hyper-V
//! features; models get a [`ModelId`] in map order. Both orders matter:
//! libvirt lists features in map order and walks models backwards when it
//! decodes.
//!
//! The maps of all releases share one feature id space, so a [`FeatureSet`]
//! made against one (QEMU's definitions, the accelerator facts) reads the same
//! against every other: the ids follow the newest release's feature order, and
//! features only older releases define come after. Each release's map knows
//! only its own features (the others are there for their ids and names, never
//! found by name or decoded), with the bits that release gives them (libvirt
//! 11.3 reads the VMX secondary controls in MSR `eax`, 9.0 and 12.9 in `edx`).
//! libvirt 11.3's feature order is a subsequence of 12.9's, so its ids keep
//! its map order; 9.0's order (before the feature list was regenerated in
//! CPUID register order) is not kept by the ids.

pub mod file;
mod internal;
mod names;
mod packed;
pub mod qemu_order;

use std::fmt;
use std::sync::OnceLock;

use crate::cpuid::{vendor_registers, CpuidData, DataKey, Register, Registers, Signature};
use crate::error::CpuError;
pub use crate::featureset::FeatureId;
use crate::featureset::{FeatureSet, FEATURE_CAPACITY};
use crate::version::{LibvirtVersion, QemuRelease};
use file::{CpuMapFile, FeatureEntry};

pub use names::{libvirt_to_qemu, qemu_to_libvirt, NEVER_PASSED_TO_QEMU, TOPOLOGY_FEATURES};
pub use packed::load_deferred;
pub(crate) use packed::Packed;
#[cfg(feature = "deferred-releases")]
pub use packed::DEFERRED;

/// Index of a model in map order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ModelId(u16);

impl ModelId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// Index of a vendor in map order (the order detection tries them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VendorId(u8);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vendor {
    pub name: String,
    /// The 12-character CPUID string, e.g. `GenuineIntel`.
    pub string: String,
    registers: Registers,
}

/// Where a feature's bits live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeatureBits {
    pub key: DataKey,
    pub registers: Registers,
}

impl FeatureBits {
    /// The single register that holds the feature's bits, with its mask.
    pub fn register_and_mask(&self) -> (Register, u32) {
        Register::ALL
            .into_iter()
            .map(|r| (r, self.registers.get(r)))
            .find(|(_, mask)| *mask != 0)
            .unwrap_or((Register::Eax, 0))
    }
}

impl fmt::Display for FeatureBits {
    /// Intel's notation: `CPUID.01H:ECX[bit 28]`, with the subleaf where the
    /// leaf has subleaves (`CPUID.(EAX=07H,ECX=0):EBX[bit 4]`), and
    /// `MSR 10AH[bit 5]` for MSR bits.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (register, mask) = self.register_and_mask();
        let bit = mask.trailing_zeros();
        let register_name = register.name().to_ascii_uppercase();
        match self.key {
            DataKey::Cpuid { leaf, subleaf } => {
                let indexed =
                    subleaf != 0 || matches!(leaf, 0x7 | 0xd | 0xf | 0x10 | 0x12 | 0x14 | 0x24);
                if indexed {
                    write!(
                        f,
                        "CPUID.(EAX={leaf:02X}H,ECX={subleaf}):{register_name}[bit {bit}]"
                    )
                } else {
                    write!(f, "CPUID.{leaf:02X}H:{register_name}[bit {bit}]")
                }
            }
            DataKey::Msr { index } => {
                let bit = if register == Register::Edx {
                    bit + 32
                } else {
                    bit
                };
                write!(f, "MSR {index:X}H[bit {bit}]")
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Feature {
    pub name: String,
    pub bits: FeatureBits,
    /// False for migration blockers such as `invtsc`.
    pub migratable: bool,
    pub qemu_aliases: Vec<String>,
    pub linux_aliases: Vec<String>,
    /// Hard-coded KVM/Hyper-V features, never produced by decode.
    pub internal: bool,
}

/// A model signature: family, model and the allowed steppings (a bitmap, or any).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelSignature {
    pub family: u32,
    pub model: u32,
    /// Bit `n` set allows stepping `n`; `None` allows any.
    pub steppings: Option<u16>,
}

impl ModelSignature {
    pub fn matches(&self, signature: Signature) -> bool {
        self.family == signature.family
            && self.model == signature.model
            && self
                .steppings
                .is_none_or(|mask| signature.stepping < 16 && mask & (1 << signature.stepping) != 0)
    }

    /// The signature with the lowest allowed stepping (0 for any).
    pub fn lowest(&self) -> Signature {
        let stepping = self
            .steppings
            .map_or(0, |mask| mask.trailing_zeros().min(15));
        Signature {
            family: self.family,
            model: self.model,
            stepping,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Model {
    pub name: String,
    pub vendor: Option<VendorId>,
    pub signatures: Vec<ModelSignature>,
    /// The model's feature data.
    pub features: FeatureSet,
    pub removed: Vec<FeatureId>,
    pub added: Vec<FeatureId>,
    pub decode_host: bool,
    pub decode_guest: bool,
    pub compat_check: bool,
    pub ancestor: Option<ModelId>,
    /// For an unversioned model, the `-vN` model that is a pure copy of it.
    pub canonical: Option<ModelId>,
}

impl Model {
    pub fn signature_matches(&self, signature: Signature) -> bool {
        self.signatures.iter().any(|s| s.matches(signature))
    }
}

/// Errors found while loading a CPU database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataError {
    /// The file is not valid JSON of the expected shape.
    Malformed(String),
    /// A name refers to something that is not defined (yet).
    UnknownReference(String),
    /// A definition breaks a rule of the map.
    Invalid(String),
}

impl fmt::Display for DataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DataError::Malformed(m) => write!(f, "malformed CPU database: {m}"),
            DataError::UnknownReference(m) | DataError::Invalid(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for DataError {}

/// The whole CPU map of one libvirt release, indexed.
#[derive(Debug, Clone)]
pub struct CpuMap {
    pub source: String,
    /// The libvirt release the map was imported from, read from `source`
    /// (`libvirt 11.3.0 cpu_map`); `None` for a map of unknown origin.
    pub release: Option<LibvirtVersion>,
    vendors: Vec<Vendor>,
    features: Vec<Feature>,
    map_feature_count: usize,
    /// The features this release defines, internal ones included.
    known: FeatureSet,
    /// This release's own map order, when that is not the id order (9.0's,
    /// listed before libvirt regenerated its feature file in CPUID order):
    /// libvirt lists features in its map's order.
    own_order: Option<MapOrder>,
    models: Vec<Model>,
    /// Each feature's position when all are sorted by name (byte order).
    name_ranks: Vec<u16>,
    /// The features sorted by name: `by_name[name_ranks[id]] == id`.
    by_name: Vec<FeatureId>,
    /// Feature names to ids.
    feature_index: NameTable,
    /// Model names to ids.
    model_index: NameTable,
}

/// A feature of the map from its file entry.
fn feature_from_entry(entry: &FeatureEntry) -> Result<Feature, DataError> {
    let bits = match (entry.cpuid, entry.msr) {
        (Some(c), None) => FeatureBits {
            key: DataKey::Cpuid {
                leaf: c.leaf,
                subleaf: c.subleaf,
            },
            registers: Registers([c.eax, c.ebx, c.ecx, c.edx]),
        },
        (None, Some(m)) => FeatureBits {
            key: DataKey::Msr { index: m.index },
            registers: Registers([m.eax, 0, 0, m.edx]),
        },
        _ => {
            return Err(DataError::Invalid(format!(
                "feature {} needs exactly one of cpuid and msr",
                entry.name
            )))
        }
    };
    Ok(Feature {
        name: entry.name.clone(),
        bits,
        migratable: entry.migratable,
        qemu_aliases: entry.qemu_aliases.clone(),
        linux_aliases: entry.linux_aliases.clone(),
        internal: false,
    })
}

/// A release's own feature order: each feature's rank, features the release
/// does not define last, and the features by rank. The ranks run from 0 to
/// the feature count, below [`FEATURE_CAPACITY`], so a [`FeatureSet`] of
/// ranks lists a set's features in this order without sorting them.
#[derive(Debug, Clone)]
struct MapOrder {
    ranks: Vec<u16>,
    by_rank: Vec<FeatureId>,
}

impl MapOrder {
    /// `file`'s own order of `features`, or `None` when that is the order of
    /// the ids already.
    fn of(file: &CpuMapFile, features: &[Feature]) -> Option<MapOrder> {
        let positions = own_ranks(file, features)?;
        let mut by_rank: Vec<FeatureId> = (0..features.len()).map(FeatureId::from_index).collect();
        crate::sort::sort_by_key(&mut by_rank, |id| positions[id.index()]);
        let mut ranks = vec![0u16; features.len()];
        for (rank, id) in by_rank.iter().enumerate() {
            // FEATURE_CAPACITY bounds the count, far below u16::MAX.
            ranks[id.index()] = rank as u16;
        }
        Some(MapOrder { ranks, by_rank })
    }
}

/// Each feature's position in `file`'s own order (those it does not define
/// after all it does), or `None` when that is the order of `features` (the
/// ids) already.
fn own_ranks(file: &CpuMapFile, features: &[Feature]) -> Option<Vec<u16>> {
    let entries = NameTable::of_entries(file);
    let ranks: Vec<u16> = features
        .iter()
        .enumerate()
        .map(|(id, f)| {
            // FEATURE_CAPACITY bounds both, far below u16::MAX.
            entries
                .get(&f.name, &|p| file.features[p].name.as_str())
                .unwrap_or(file.features.len() + id) as u16
        })
        .collect();
    let in_id_order = ranks.windows(2).all(|w| w[0] < w[1]);
    (!in_id_order).then_some(ranks)
}

/// Names to positions in a list: an open-addressing hash table (FNV-1a,
/// linear probing, at most half full) of positions with their names'
/// hashes, comparing names through the list only when the hashes are equal.
/// The keys are the maps' own names, never the user's, so a simple hash
/// serves (lookups are on every check's hot path); and one small non-generic
/// table serves features, models and file entries, where a `HashMap` per key
/// and value type cost the web app's download several KB.
#[derive(Debug, Clone)]
struct NameTable {
    /// Positions plus one (0: an empty slot), each with its name's hash.
    slots: Vec<(u32, u64)>,
}

impl NameTable {
    /// A table for up to `count` names.
    fn with_capacity(count: usize) -> NameTable {
        NameTable {
            slots: vec![(0, 0); (count * 2).next_power_of_two()],
        }
    }

    /// The slot holding `name` (through `name_at`), or the empty slot
    /// where it would go, and the name's hash.
    fn slot<'n>(&self, name: &str, name_at: &dyn Fn(usize) -> &'n str) -> (usize, u64) {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in name.bytes() {
            hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
        let mask = self.slots.len() - 1;
        let mut slot = hash as usize & mask;
        loop {
            match self.slots[slot] {
                (0, _) => return (slot, hash),
                (entry, seen) if seen == hash && name_at(entry as usize - 1) == name => {
                    return (slot, hash)
                }
                _ => slot = (slot + 1) & mask,
            }
        }
    }

    /// Puts `position` under `name`; the position it replaces, if any.
    fn insert<'n>(
        &mut self,
        name: &str,
        position: usize,
        name_at: &dyn Fn(usize) -> &'n str,
    ) -> Option<usize> {
        let (slot, hash) = self.slot(name, name_at);
        let previous = self.slots[slot].0.checked_sub(1);
        // FEATURE_CAPACITY and the model ids bound the positions.
        self.slots[slot] = (position as u32 + 1, hash);
        previous.map(|p| p as usize)
    }

    /// The position under `name`.
    fn get<'n>(&self, name: &str, name_at: &dyn Fn(usize) -> &'n str) -> Option<usize> {
        let (slot, _) = self.slot(name, name_at);
        self.slots[slot].0.checked_sub(1).map(|p| p as usize)
    }

    /// The positions of `file`'s feature entries by name (the last one of a
    /// repeated name).
    fn of_entries(file: &CpuMapFile) -> NameTable {
        let name_at = |p: usize| file.features[p].name.as_str();
        let mut table = NameTable::with_capacity(file.features.len());
        for (position, entry) in file.features.iter().enumerate() {
            table.insert(&entry.name, position, &name_at);
        }
        table
    }
}

/// The path under `data/` of libvirt `release`'s map.
fn map_path(release: LibvirtVersion) -> String {
    format!("cpu_map/{release}.0.json")
}

/// libvirt `release`'s embedded map file, read.
fn map_file(release: LibvirtVersion) -> CpuMapFile {
    let path = map_path(release);
    CpuMapFile::from_value(&Packed::file(&path))
        .unwrap_or_else(|e| panic!("the embedded data/{path} is invalid: {e}"))
}

/// The position of an embedded map's release in [`LibvirtVersion::WITH_CPU_MAP`].
fn release_index(release: LibvirtVersion) -> usize {
    LibvirtVersion::WITH_CPU_MAP
        .iter()
        .position(|v| *v == release)
        .unwrap_or(0)
}

/// One slot per embedded map, filled when the map is first asked for.
fn map_slots() -> &'static [OnceLock<CpuMap>; LibvirtVersion::WITH_CPU_MAP.len()] {
    static SLOTS: [OnceLock<CpuMap>; LibvirtVersion::WITH_CPU_MAP.len()] =
        [const { OnceLock::new() }; LibvirtVersion::WITH_CPU_MAP.len()];
    &SLOTS
}

/// The features every release's map is built over, one id space: the newest
/// map's features in its order, then those only older maps define, in
/// theirs. Read (their features alone) from the maps this binary has when
/// the first map is built;
/// the maps the web app's module loads later define no other feature
/// (`build.rs` holds that), so their ids are the same everywhere.
fn shared_table() -> &'static [FeatureEntry] {
    static TABLE: OnceLock<Vec<FeatureEntry>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut table: Vec<FeatureEntry> = Vec::new();
        for release in LibvirtVersion::WITH_CPU_MAP.iter().rev() {
            let path = map_path(*release);
            if !Packed::has(&path) {
                continue;
            }
            let features = CpuMapFile::features_from_value(&Packed::file(&path))
                .unwrap_or_else(|e| panic!("the embedded data/{path} is invalid: {e}"));
            for entry in features {
                if !table.iter().any(|known| known.name == entry.name) {
                    table.push(entry);
                }
            }
        }
        table
    })
}

/// Whether this binary can check under libvirt `libvirt` and QEMU `qemu`:
/// the map and the QEMU definitions that model them are embedded, or were
/// loaded ([`load_deferred`]). Always true but in the web app's module,
/// which embeds only the newest releases and libvirt 11.3's map.
pub fn stack_is_loaded(libvirt: LibvirtVersion, qemu: QemuRelease) -> bool {
    let (map_release, _) = libvirt.map_release();
    let (qemu_release, _) = qemu.with_definitions();
    Packed::has(&map_path(map_release)) && Packed::has(&format!("qemu/{qemu_release}.json"))
}

/// The release named in a map's source, `libvirt 11.3.0 cpu_map`.
fn release_of_source(source: &str) -> Option<LibvirtVersion> {
    source
        .split_whitespace()
        .nth(1)
        .and_then(|word| LibvirtVersion::parse(word).ok())
}

impl CpuMap {
    /// libvirt 11.3's map, compiled into this binary: the release of the
    /// test suite the engine is verified against. A check chooses its
    /// release's map with [`CpuMap::for_version`].
    pub fn embedded() -> &'static CpuMap {
        Self::for_version(LibvirtVersion::V11_3)
    }

    /// The newest release's map.
    pub fn newest() -> &'static CpuMap {
        Self::for_version(LibvirtVersion::NEWEST)
    }

    /// The map that models libvirt `version`: the embedded map of the newest
    /// release not newer than it ([`LibvirtVersion::map_release`]), built
    /// when first asked for.
    ///
    /// # Panics
    /// When that map was left out of this binary (the web app's module) and
    /// not loaded yet: the caller asks [`stack_is_loaded`] first.
    pub fn for_version(version: LibvirtVersion) -> &'static CpuMap {
        let (release, _) = version.map_release();
        let index = release_index(release);
        map_slots()[index].get_or_init(|| {
            let table: Vec<&FeatureEntry> = shared_table().iter().collect();
            CpuMap::from_file_in(&map_file(release), &table).unwrap_or_else(|e| {
                panic!("the embedded data/{} is invalid: {e}", map_path(release))
            })
        })
    }

    /// Where `map` is among the embedded maps built so far, by its release's
    /// position in [`LibvirtVersion::WITH_CPU_MAP`]; `None` for any other map.
    pub(crate) fn embedded_index(map: &CpuMap) -> Option<usize> {
        map_slots()
            .iter()
            .position(|slot| slot.get().is_some_and(|built| std::ptr::eq(built, map)))
    }

    /// Loads a database from the JSON written by `cargo xtask import-cpu-map`.
    pub fn from_json(text: &str) -> Result<CpuMap, DataError> {
        let file =
            CpuMapFile::from_json(text).map_err(|e| DataError::Malformed(e.describe(text)))?;
        CpuMap::from_file(&file)
    }

    /// Builds the indexed map from its file form, with ids in its own order.
    pub fn from_file(file: &CpuMapFile) -> Result<CpuMap, DataError> {
        let table: Vec<&FeatureEntry> = file.features.iter().collect();
        CpuMap::from_file_in(file, &table)
    }

    /// Builds `file`'s map over the feature ids of `table`, which holds every
    /// feature `file` defines; `file`'s own definitions win.
    fn from_file_in(file: &CpuMapFile, table: &[&FeatureEntry]) -> Result<CpuMap, DataError> {
        let mut vendors = Vec::new();
        for entry in &file.vendors {
            let registers = vendor_registers(&entry.string).ok_or_else(|| {
                DataError::Invalid(format!("Invalid CPU vendor string '{}'", entry.string))
            })?;
            if vendors.iter().any(|v: &Vendor| v.name == entry.name) {
                return Err(DataError::Invalid(format!(
                    "CPU vendor {} already defined",
                    entry.name
                )));
            }
            vendors.push(Vendor {
                name: entry.name.clone(),
                string: entry.string.clone(),
                registers,
            });
        }

        let own_entries = NameTable::of_entries(file);
        let mut features = Vec::new();
        let mut known = FeatureSet::new();
        for (index, shared) in table.iter().enumerate() {
            let own = own_entries
                .get(&shared.name, &|p| file.features[p].name.as_str())
                .map(|position| &file.features[position]);
            if own.is_some() && index < FEATURE_CAPACITY {
                known.insert(FeatureId::from_index(index));
            }
            features.push(feature_from_entry(own.unwrap_or(shared))?);
        }
        if file.features.len() != known.len() {
            let stray = file
                .features
                .iter()
                .find(|f| !table.iter().any(|t| t.name == f.name))
                .map_or("?", |f| f.name.as_str());
            return Err(DataError::Invalid(format!(
                "feature {stray} is missing from the shared feature table"
            )));
        }
        let map_feature_count = features.len();
        features.extend(internal::features());
        if features.len() > FEATURE_CAPACITY {
            return Err(DataError::Invalid(format!(
                "{} features exceed the capacity of {FEATURE_CAPACITY}",
                features.len()
            )));
        }
        for index in map_feature_count..features.len() {
            known.insert(FeatureId::from_index(index));
        }
        let mut feature_index = NameTable::with_capacity(features.len());
        for (i, feature) in features.iter().enumerate() {
            let name_at = |p: usize| features[p].name.as_str();
            if feature_index.insert(&feature.name, i, &name_at).is_some() {
                return Err(DataError::Invalid(format!(
                    "CPU feature {} already defined",
                    feature.name
                )));
            }
        }

        let mut by_name: Vec<FeatureId> = (0..features.len()).map(FeatureId::from_index).collect();
        crate::sort::sort_by(&mut by_name, |a, b| {
            features[a.index()].name.cmp(&features[b.index()].name)
        });
        let mut name_ranks = vec![0u16; features.len()];
        for (rank, id) in by_name.iter().enumerate() {
            // FEATURE_CAPACITY bounds the count, far below u16::MAX.
            name_ranks[id.index()] = rank as u16;
        }
        let own_order = MapOrder::of(file, &features);
        let mut map = CpuMap {
            source: file.source.clone(),
            release: release_of_source(&file.source),
            vendors,
            features,
            map_feature_count,
            known,
            own_order,
            models: Vec::new(),
            name_ranks,
            by_name,
            feature_index,
            model_index: NameTable::with_capacity(file.models.len()),
        };
        for entry in &file.models {
            let model = map.model_from_entry(entry)?;
            let id = ModelId(map.models.len() as u16);
            let models = &map.models;
            let name_at = |p: usize| models[p].name.as_str();
            if map
                .model_index
                .insert(&entry.name, id.index(), &name_at)
                .is_some()
            {
                return Err(DataError::Invalid(format!(
                    "Multiple definitions of CPU model '{}'",
                    entry.name
                )));
            }
            if entry.pure_copy {
                if let Some(ancestor) = model.ancestor {
                    if let Some(existing) = map.models[ancestor.index()].canonical {
                        return Err(DataError::Invalid(format!(
                            "Cannot set CPU model '{}' as canonical name of '{}' which is already an alias of '{}'",
                            entry.name,
                            map.models[ancestor.index()].name,
                            map.models[existing.index()].name
                        )));
                    }
                    map.models[ancestor.index()].canonical = Some(id);
                }
            }
            map.models.push(model);
        }
        Ok(map)
    }

    fn model_from_entry(&self, entry: &file::ModelEntry) -> Result<Model, DataError> {
        let feature_ids = |names: &[String]| -> Result<Vec<FeatureId>, DataError> {
            names
                .iter()
                .map(|n| {
                    self.feature_id(n).ok_or_else(|| {
                        DataError::UnknownReference(format!(
                            "Feature {n} required by CPU model {} not found",
                            entry.name
                        ))
                    })
                })
                .collect()
        };
        let vendor = match &entry.vendor {
            Some(name) => Some(self.vendor_id(name).ok_or_else(|| {
                DataError::UnknownReference(format!(
                    "Unknown vendor {name} referenced by CPU model {}",
                    entry.name
                ))
            })?),
            None => None,
        };
        let ancestor = match &entry.ancestor {
            Some(name) => Some(self.model_id(name).ok_or_else(|| {
                DataError::UnknownReference(format!(
                    "Ancestor model {name} not found for CPU model {}",
                    entry.name
                ))
            })?),
            None => None,
        };
        let signatures = entry
            .signatures
            .iter()
            .map(|s| ModelSignature {
                family: s.family,
                model: s.model,
                steppings: s.steppings.as_ref().map(|list| {
                    list.iter()
                        .filter(|n| **n < 16)
                        .fold(0u16, |mask, n| mask | 1 << n)
                }),
            })
            .collect();
        Ok(Model {
            name: entry.name.clone(),
            vendor,
            signatures,
            features: feature_ids(&entry.features)?.into_iter().collect(),
            removed: feature_ids(&entry.removed)?,
            added: feature_ids(&entry.added)?,
            decode_host: entry.decode_host,
            decode_guest: entry.decode_guest,
            compat_check: entry.compat_check,
            ancestor,
            canonical: None,
        })
    }

    pub fn vendors(&self) -> &[Vendor] {
        &self.vendors
    }

    pub fn vendor(&self, id: VendorId) -> &Vendor {
        &self.vendors[id.0 as usize]
    }

    pub fn vendor_id(&self, name: &str) -> Option<VendorId> {
        self.vendors
            .iter()
            .position(|v| v.name == name)
            .map(|i| VendorId(i as u8))
    }

    /// The first vendor (in map order) whose string bits are all in leaf 0.
    pub fn detect_vendor(&self, data: &CpuidData) -> Option<VendorId> {
        let key = DataKey::Cpuid {
            leaf: 0,
            subleaf: 0,
        };
        let mut wanted_only_strings = |v: &Vendor| {
            let mut registers = v.registers;
            registers.set(Register::Eax, 0);
            data.contains(key, &registers)
        };
        self.vendors
            .iter()
            .position(&mut wanted_only_strings)
            .map(|i| VendorId(i as u8))
    }

    /// The vendor whose CPUID string is exactly `string`.
    pub fn vendor_by_string(&self, string: &str) -> Option<VendorId> {
        self.vendors
            .iter()
            .position(|v| v.string == string)
            .map(|i| VendorId(i as u8))
    }

    /// Every feature, map features first, in id order.
    pub fn features(&self) -> &[Feature] {
        &self.features
    }

    /// Map features only (the ones decode may list) this release defines, in id order.
    pub fn map_features(&self) -> impl Iterator<Item = (FeatureId, &Feature)> + '_ {
        self.features[..self.map_feature_count]
            .iter()
            .enumerate()
            .map(|(i, f)| (FeatureId::from_index(i), f))
            .filter(|(id, _)| self.known.contains(*id))
    }

    /// Ids below this are map features, above it internal ones.
    pub fn map_feature_end(&self) -> usize {
        self.map_feature_count
    }

    /// Does this release define the feature? (Every map shares the feature
    /// ids of all releases; each knows its own.)
    #[inline]
    pub fn knows(&self, id: FeatureId) -> bool {
        self.known.contains(id)
    }

    pub fn feature(&self, id: FeatureId) -> &Feature {
        &self.features[id.index()]
    }

    /// Calls `f` with each feature of `set` in name order (byte order of
    /// the names), without comparing any text.
    pub fn each_by_name(&self, set: &FeatureSet, mut f: impl FnMut(FeatureId)) {
        // Ranks are below FEATURE_CAPACITY, so a set of them holds them all
        // and iterates them in rank order, which is name order.
        let mut ranks = FeatureSet::new();
        for id in set.iter() {
            ranks.insert(FeatureId::from_index(usize::from(
                self.name_ranks[id.index()],
            )));
        }
        for rank in ranks.iter() {
            f(self.by_name[rank.index()]);
        }
    }

    /// Looks a feature up by its canonical name (exact, case-sensitive).
    pub fn feature_id(&self, name: &str) -> Option<FeatureId> {
        self.feature_index
            .get(name, &|p| self.features[p].name.as_str())
            .map(FeatureId::from_index)
            .filter(|id| self.known.contains(*id))
    }

    /// Looks a feature up by a QEMU property name the way libvirt does: through
    /// the fixed translation table only. Other spellings are unknown.
    pub fn feature_by_qemu_name(&self, qemu_name: &str) -> Option<FeatureId> {
        self.feature_id(qemu_to_libvirt(qemu_name))
    }

    /// Looks a feature up by a QEMU property name, also accepting the map's
    /// `source='qemu'` aliases (as libvirt's test-data tooling does).
    pub fn feature_by_qemu_alias(&self, qemu_name: &str) -> Option<FeatureId> {
        self.feature_by_qemu_name(qemu_name).or_else(|| {
            self.features
                .iter()
                .enumerate()
                .position(|(i, f)| {
                    self.known.contains(FeatureId::from_index(i))
                        && f.qemu_aliases.iter().any(|a| a == qemu_name)
                })
                .map(FeatureId::from_index)
        })
    }

    /// Looks a feature up by a Linux `/proc/cpuinfo` flag name.
    pub fn feature_by_linux_name(&self, linux_name: &str) -> Option<FeatureId> {
        self.features
            .iter()
            .enumerate()
            .position(|(i, f)| {
                self.known.contains(FeatureId::from_index(i))
                    && f.linux_aliases.iter().any(|a| a == linux_name)
            })
            .map(FeatureId::from_index)
            .or_else(|| self.feature_id(linux_name))
    }

    pub fn models(&self) -> impl DoubleEndedIterator<Item = (ModelId, &Model)> + '_ {
        self.models
            .iter()
            .enumerate()
            .map(|(i, m)| (ModelId(i as u16), m))
    }

    pub fn model(&self, id: ModelId) -> &Model {
        &self.models[id.index()]
    }

    pub fn model_id(&self, name: &str) -> Option<ModelId> {
        self.model_index
            .get(name, &|p| self.models[p].name.as_str())
            .map(|p| ModelId(p as u16))
    }

    /// The features whose bits are all present in `data`, internal ones included.
    pub fn features_in(&self, data: &CpuidData) -> FeatureSet {
        // The features of one CPUID leaf or MSR mostly come together in the
        // map: each run of them looks its item up once.
        let mut item: Option<(DataKey, Option<&Registers>)> = None;
        let mut found = FeatureSet::new();
        for (index, feature) in self.features.iter().enumerate() {
            let id = FeatureId::from_index(index);
            if !self.known.contains(id) {
                continue;
            }
            let key = feature.bits.key;
            let registers = match item {
                Some((last, registers)) if last == key => registers,
                _ => {
                    let registers = data.get(key);
                    item = Some((key, registers));
                    registers
                }
            };
            // As `CpuidData::contains`: no bits to test is always present.
            if feature.bits.registers.is_zero()
                || registers.is_some_and(|mine| mine.contains(&feature.bits.registers))
            {
                found.insert(id);
            }
        }
        found
    }

    /// Raw register data for a set of features (the inverse of [`Self::features_in`]).
    pub fn data_of(&self, features: &FeatureSet) -> CpuidData {
        let mut data = CpuidData::new();
        for id in features.iter() {
            let bits = self.feature(id).bits;
            data.add(bits.key, bits.registers);
        }
        data
    }

    /// Names of the features in `set`, in this release's map order.
    pub fn names<'a>(&'a self, set: &'a FeatureSet) -> impl Iterator<Item = &'a str> + 'a {
        self.in_map_order(set)
            .into_iter()
            .map(|id| self.feature(id).name.as_str())
    }

    /// Where `id` comes in this release's own map order ([`Self::in_map_order`]).
    pub fn map_order_rank(&self, id: FeatureId) -> usize {
        match &self.own_order {
            Some(order) => usize::from(order.ranks[id.index()]),
            None => id.index(),
        }
    }

    /// The features of `set` in this release's own map order (the id order
    /// but for a release whose feature file had another order, 9.0's).
    pub fn in_map_order(&self, set: &FeatureSet) -> Vec<FeatureId> {
        let mut ids = Vec::with_capacity(set.len());
        self.each_in_map_order(set, |id| ids.push(id));
        ids
    }

    /// Calls `f` on the features of `set` in [`Self::in_map_order`]'s order,
    /// without making a list or comparing anything: the decoder asks for
    /// every candidate model's sets.
    pub fn each_in_map_order(&self, set: &FeatureSet, mut f: impl FnMut(FeatureId)) {
        let Some(order) = &self.own_order else {
            return set.iter().for_each(f);
        };
        let mut ranks = FeatureSet::new();
        for id in set.iter() {
            ranks.insert(FeatureId::from_index(usize::from(order.ranks[id.index()])));
        }
        for rank in ranks.iter() {
            f(order.by_rank[rank.index()]);
        }
    }

    /// The set of features with `migratable='no'`.
    pub fn non_migratable(&self) -> FeatureSet {
        self.map_features()
            .filter(|(_, f)| !f.migratable)
            .map(|(id, _)| id)
            .collect()
    }

    /// Leaf-0 registers carrying a vendor's string.
    pub fn vendor_registers(&self, id: VendorId) -> Registers {
        self.vendor(id).registers
    }
}

/// The id of model `name`, or libvirt's internal error naming it.
pub fn lookup_model(map: &CpuMap, name: &str) -> Result<ModelId, CpuError> {
    map.model_id(name)
        .ok_or_else(|| CpuError::internal(format!("Unknown CPU model {name}")))
}

/// The id of feature `name`, or libvirt's internal error naming it.
pub fn lookup_feature(map: &CpuMap, name: &str) -> Result<FeatureId, CpuError> {
    map.feature_id(name)
        .ok_or_else(|| CpuError::internal(format!("Unknown CPU feature {name}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    include!("at_start.rs");

    #[test]
    fn the_web_app_starts_with_the_releases_a_check_takes_by_default() {
        let at_start = |path: String| AT_START.contains(&path.as_str());
        assert!(at_start(map_path(LibvirtVersion::NEWEST)));
        // Host dumps are read with it (`CpuMap::embedded`).
        assert!(at_start(map_path(LibvirtVersion::V11_3)));
        assert!(at_start(format!("qemu/{}.json", QemuRelease::NEWEST)));
        assert!(at_start("accel/kvm.json".into()) && at_start("accel/tcg.json".into()));
        // Natively every release is embedded.
        for libvirt in LibvirtVersion::WITH_CPU_MAP {
            for qemu in QemuRelease::WITH_DEFINITIONS {
                assert!(stack_is_loaded(libvirt, qemu), "{libvirt} {qemu}");
            }
        }
    }

    #[test]
    fn loading_data_that_is_not_packed_is_refused() {
        assert!(load_deferred(vec![0xff, 0xff]).is_err());
    }

    #[test]
    fn each_release_lists_features_in_its_own_file_order() {
        // 9.0's x86_features.xml starts with CPUID.1:EDX (fpu, vme, …), 11.3's
        // with CPUID.1:ECX (pni, …); the ids are shared, the order is not.
        let names = ["x2apic", "vme", "pni", "fpu"];
        let listed = |version| {
            let map = CpuMap::for_version(version);
            let set: FeatureSet = names.iter().filter_map(|n| map.feature_id(n)).collect();
            map.names(&set).map(str::to_string).collect::<Vec<_>>()
        };
        assert_eq!(
            listed(LibvirtVersion::V9_0),
            ["fpu", "vme", "pni", "x2apic"]
        );
        assert_eq!(
            listed(LibvirtVersion::V11_3),
            ["pni", "x2apic", "fpu", "vme"]
        );
    }

    #[test]
    fn embedded_map_loads_with_map_order() {
        let map = CpuMap::embedded();
        assert_eq!(map.map_features().count(), 364);
        assert_eq!(map.models().count(), 150);
        assert_eq!(
            map.map_features().next().map(|(_, f)| f.name.as_str()),
            Some("pni")
        );
        let haswell = map.model(map.model_id("Haswell").expect("Haswell"));
        assert!(haswell.compat_check && haswell.decode_guest);
        let v1 = map.model_id("Haswell-v1").expect("Haswell-v1");
        assert_eq!(haswell.canonical, Some(v1));
        assert_eq!(map.model(v1).features, haswell.features);
        assert!(map.model(v1).added.is_empty());
        assert_eq!(map.feature_by_qemu_alias("sse3"), map.feature_id("pni"));
        assert_eq!(map.feature_by_qemu_name("sse3"), None);
        assert_eq!(
            map.feature_by_qemu_name("pclmulqdq"),
            map.feature_id("pclmuldq")
        );
        assert!(map
            .feature_id("hv-vapic")
            .is_some_and(|id| map.feature(id).internal));
    }

    #[test]
    fn each_release_knows_its_own_models_and_features() {
        let v9 = CpuMap::for_version(LibvirtVersion::V9_0);
        let v11 = CpuMap::for_version(LibvirtVersion::V11_3);
        let v12 = CpuMap::for_version(LibvirtVersion::V12_9);
        assert_eq!(v9.release, Some(LibvirtVersion::V9_0));
        assert!(std::ptr::eq(v11, CpuMap::embedded()));
        assert!(std::ptr::eq(v12, CpuMap::newest()));
        assert!(v9.model_id("EPYC-v1").is_none() && v11.model_id("EPYC-v1").is_some());
        assert!(v11.model_id("EPYC-Turin").is_none() && v12.model_id("EPYC-Turin").is_some());
        assert_eq!(v12.models().count(), 176);
        // One id space: a feature only 12.9 defines has an id every map
        // shares, which only 12.9 finds by name.
        let cet = v12.feature_id("cet-ss").expect("12.9 defines cet-ss");
        assert!(!v11.knows(cet) && v11.feature_id("cet-ss").is_none());
        assert_eq!(v11.feature(cet).name, "cet-ss");
        assert_eq!(v9.feature_id("pni"), v12.feature_id("pni"));
        // 11.3's ids keep its own map order.
        let order: Vec<&str> = v11.map_features().map(|(_, f)| f.name.as_str()).collect();
        let own =
            CpuMap::from_json(include_str!("../../../../data/cpu_map/11.3.0.json")).expect("valid");
        let own_order: Vec<&str> = own.map_features().map(|(_, f)| f.name.as_str()).collect();
        assert_eq!(order, own_order);
        // Each release keeps its own bits: 11.3 reads VMX secondary controls in eax.
        let xapic = v12.feature_id("vmx-apicv-xapic").expect("known");
        assert_eq!(v11.feature(xapic).bits.registers.get(Register::Eax), 1);
        assert_eq!(v12.feature(xapic).bits.registers.get(Register::Edx), 1);
        assert_eq!(v9.feature(xapic).bits.registers.get(Register::Edx), 1);
        // 9.0 lists features in its own order (EDX of leaf 1 first), the
        // others in id order.
        let pair: FeatureSet = ["pni", "fpu"]
            .iter()
            .map(|n| v9.feature_id(n).expect("known"))
            .collect();
        assert_eq!(v9.names(&pair).collect::<Vec<_>>(), ["fpu", "pni"]);
        assert_eq!(v11.names(&pair).collect::<Vec<_>>(), ["pni", "fpu"]);
        // Models are each release's own: 9.0's Haswell asks for no compat check.
        let haswell = |map: &CpuMap| {
            map.model(map.model_id("Haswell").expect("Haswell"))
                .compat_check
        };
        assert!(!haswell(v9) && haswell(v11));
    }

    #[test]
    fn vendor_detection_from_leaf0() {
        let map = CpuMap::embedded();
        let mut data = CpuidData::new();
        let amd = map.vendor_id("AMD").expect("AMD");
        data.add(
            DataKey::Cpuid {
                leaf: 0,
                subleaf: 0,
            },
            map.vendor_registers(amd),
        );
        assert_eq!(map.detect_vendor(&data), Some(amd));
    }
}
