//! QEMU's own CPU model definitions, one set per probed QEMU version.
//!
//! The files `data/qemu/<major>.<minor>.json` are written by `cargo xtask
//! probe-qemu` and embedded here (in `build.rs`'s packed form, which shares
//! the feature names and the unchanged models between versions); they are
//! read once, on first use, against
//! the newest CPU map. Each model's feature list becomes a libvirt
//! [`FeatureSet`]; QEMU flags libvirt's map does not know are kept aside by
//! name, so nothing QEMU asks for is lost.
//!
//! Where `/dev/kvm` existed, the probe expanded every model under KVM and TCG
//! and put the model's own definition together from both (each accelerator's
//! instance defaults taken from the other's expansion); such a model is
//! recorded `expanded_under: ["kvm", "tcg"]` and read as it is. A model
//! expanded under TCG alone (every model of a probe without KVM, and `max`,
//! which is the host's CPU under KVM) still has TCG's instance defaults
//! applied: every feature TCG turns off by default (`vme`, the `default_off`
//! list of `data/accel/tcg.json`) is missing from it. The rule that undoes
//! this, without any per-model table: such a feature belongs to a QEMU model
//! exactly when libvirt's model of the same name (or of the versioned name it
//! is an alias of) has it. libvirt's models are copies of QEMU's definitions,
//! so this restores `vme` on `Skylake-Client` and leaves it off `qemu64`,
//! whose QEMU definition never had it. Its limit: libvirt's older models
//! (`Haswell`, `Broadwell`, …) lack `vme` although QEMU's have it, so it is
//! missing from those; no host that runs KVM lacks `vme`, so blockers are
//! unaffected. `vmx-*` bits of a definition are lost the same way when the
//! model lacks `vmx` (QEMU clears them while expanding); they only matter
//! when a user turns `vmx` on.
//!
//! A model a version does not have falls back to libvirt's own definition,
//! and says so ([`DefinitionSource::LibvirtFallback`]).

use std::fmt;
use std::sync::OnceLock;

use super::accel_facts::AccelFacts;
use super::DataFileError;
use crate::data::{CpuMap, Packed};
use crate::domain::Accelerator;
use crate::error::CpuError;
use crate::featureset::FeatureSet;
use crate::json;
use crate::version::QemuRelease;

/// A set of features split into the ones libvirt's map knows and QEMU-only names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QemuFeatures {
    /// Features of libvirt's map, by id.
    pub known: FeatureSet,
    /// QEMU property names libvirt's map has no feature for, sorted.
    pub qemu_only: Vec<String>,
}

impl QemuFeatures {
    /// Splits QEMU primary names into map features and QEMU-only names.
    pub fn from_qemu_names<'a>(map: &CpuMap, names: impl IntoIterator<Item = &'a str>) -> Self {
        let mut features = QemuFeatures::default();
        for name in names {
            match map.feature_by_qemu_alias(name) {
                Some(id) => features.known.insert(id),
                None => features.qemu_only.push(name.to_string()),
            }
        }
        crate::sort::sort(&mut features.qemu_only);
        features.qemu_only.dedup();
        features
    }
}

/// One CPU model as a QEMU version defines it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QemuModel {
    pub name: String,
    /// The versioned model this name stands for (`Haswell` → `Haswell-v1`).
    pub alias_of: Option<String>,
    pub deprecated: bool,
    /// The CPUID vendor string, e.g. `GenuineIntel`.
    pub vendor: Option<String>,
    /// What the definition asks for (TCG's default-off features restored).
    pub features: QemuFeatures,
    /// What TCG could not provide when this QEMU was probed.
    pub tcg_unavailable: QemuFeatures,
}

/// Everything one QEMU version says about its CPU models.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QemuVersion {
    /// `MAJOR.MINOR`, e.g. `7.2`.
    pub version: String,
    /// The full version string the probe saw, e.g. `7.2.22 (Debian …)`.
    pub full_version: String,
    /// Every model but `host`, sorted by name.
    pub models: Vec<QemuModel>,
    /// Every CPUID/MSR flag this QEMU recognises.
    pub known_features: QemuFeatures,
    /// Flags TCG's `max` lacks that a TCG CPU asked for them keeps (`ht`
    /// where TCG gives it); empty where no probe asked (derived versions).
    pub tcg_given_when_asked: QemuFeatures,
}

/// Where a model definition came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DefinitionSource {
    /// QEMU's own definition, from the probe of this `MAJOR.MINOR` version.
    Qemu(String),
    /// The QEMU version has no such model: libvirt's definition of the same
    /// name stands in for it.
    LibvirtFallback,
}

impl fmt::Display for DefinitionSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DefinitionSource::Qemu(version) => write!(f, "QEMU {version}"),
            DefinitionSource::LibvirtFallback => f.write_str("libvirt's definition (fallback)"),
        }
    }
}

/// A model resolved to the definition QEMU would use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelDefinition {
    /// The versioned name QEMU resolves the requested name to, e.g. `Haswell-v1`.
    pub qemu_model: String,
    pub source: DefinitionSource,
    pub features: QemuFeatures,
    /// Said when the definition is a fallback.
    pub note: Option<String>,
}

/// The version a caller asked for, with a note when it was not an exact match.
#[derive(Debug, Clone, Copy)]
pub struct VersionChoice<'a> {
    pub version: &'a QemuVersion,
    pub note: Option<&'static str>,
}

/// All embedded QEMU versions, oldest first, each read when first asked for.
#[derive(Debug)]
pub struct QemuDefinitions {
    versions: [OnceLock<QemuVersion>; QemuRelease::WITH_DEFINITIONS.len()],
}

impl QemuDefinitions {
    /// The versions compiled into this binary, read against the newest CPU
    /// map: feature ids are shared by every release's map, and a newer QEMU's
    /// features (`its-no`) must not be lost to an older map.
    pub fn embedded() -> &'static QemuDefinitions {
        static DEFINITIONS: QemuDefinitions = QemuDefinitions {
            versions: [const { OnceLock::new() }; QemuRelease::WITH_DEFINITIONS.len()],
        };
        &DEFINITIONS
    }

    /// The version at `index` of [`QemuRelease::WITH_DEFINITIONS`].
    ///
    /// # Panics
    /// When its file was left out of this binary (the web app's module) and
    /// not loaded yet: the caller asks [`crate::data::stack_is_loaded`] first.
    fn at(&self, index: usize) -> &QemuVersion {
        self.versions[index].get_or_init(|| {
            let name = QemuRelease::WITH_DEFINITIONS[index];
            let file = Packed::file(&format!("qemu/{name}.json"));
            QemuVersion::from_value(CpuMap::newest(), &file)
                .unwrap_or_else(|e| panic!("the embedded data/qemu/{name}.json is invalid: {e}"))
        })
    }

    /// Every version, oldest first.
    pub fn versions(&self) -> impl Iterator<Item = &QemuVersion> {
        (0..self.versions.len()).map(|index| self.at(index))
    }

    /// The newest version.
    pub fn newest(&self) -> &QemuVersion {
        self.at(self.versions.len() - 1)
    }

    /// Where `version` is among the versions read so far, by its position in
    /// [`QemuRelease::WITH_DEFINITIONS`]; `None` for a version not embedded.
    pub(crate) fn index_of(&self, version: &QemuVersion) -> Option<usize> {
        self.versions
            .iter()
            .position(|slot| slot.get().is_some_and(|read| std::ptr::eq(read, version)))
    }

    /// The definitions of release `wanted` ([`QemuRelease::with_definitions`]:
    /// without an exact match, the nearest lower version, or the oldest, with
    /// a note).
    pub fn find(&self, wanted: QemuRelease) -> VersionChoice<'_> {
        let (release, note) = wanted.with_definitions();
        let index = QemuRelease::WITH_DEFINITIONS
            .iter()
            .position(|r| *r == release)
            .unwrap_or(0);
        VersionChoice {
            version: self.at(index),
            note,
        }
    }
}

/// `data/qemu/*.json`, mirrored for reading only.
struct ProbeFile {
    expansion_accel: String,
    known_features: Vec<String>,
    models: Vec<ProbeModel>,
    tcg_given_when_asked: Vec<String>,
    version: String,
}

struct ProbeModel {
    alias_of: Option<String>,
    deprecated: bool,
    /// The accelerators the features were put together from; empty in files
    /// written before KVM was probed, which mean the file's `expansion_accel`.
    expanded_under: Vec<String>,
    features: Vec<String>,
    name: String,
    tcg_unavailable: Vec<String>,
    vendor: Option<String>,
}

impl ProbeFile {
    fn from_value(root: &json::Value<'_>) -> Result<ProbeFile, json::Error> {
        let mut root = json::Fields::of(&root.object()?);
        let models = root.each("models", |model| ProbeModel {
            alias_of: model.optional_string("alias_of"),
            deprecated: model.boolean("deprecated"),
            expanded_under: model.strings_or_empty("expanded_under"),
            features: model.strings("features"),
            name: model.string("name"),
            tcg_unavailable: model.strings("tcg_unavailable"),
            vendor: model.optional_string("vendor"),
        });
        let file = ProbeFile {
            expansion_accel: root.string("expansion_accel"),
            known_features: root.strings("known_features"),
            models,
            tcg_given_when_asked: root.strings_or_empty("tcg_given_when_asked"),
            version: root.string("version"),
        };
        root.finish(file)
    }
}

impl QemuVersion {
    /// Parses one probe file; `MAJOR.MINOR` is taken from its version string.
    pub fn from_json(map: &CpuMap, text: &str) -> Result<QemuVersion, DataFileError> {
        let file = json::parse(text).and_then(|root| ProbeFile::from_value(&root))?;
        QemuVersion::from_file(map, &file)
    }

    /// Reads one probe file's value tree (the embedded, packed form).
    pub(crate) fn from_value(
        map: &CpuMap,
        root: &json::Value<'_>,
    ) -> Result<QemuVersion, DataFileError> {
        QemuVersion::from_file(map, &ProbeFile::from_value(root)?)
    }

    fn from_file(map: &CpuMap, file: &ProbeFile) -> Result<QemuVersion, DataFileError> {
        let release =
            QemuRelease::parse(file.version.split_whitespace().next().unwrap_or_default())
                .map_err(|_| DataFileError::UnreadableQemuVersion(file.version.clone()))?;
        let expansion_accel = Accelerator::parse(&file.expansion_accel)
            .ok_or_else(|| DataFileError::UnknownAccelerator(file.expansion_accel.clone()))?;
        let lost_in_expansion = AccelFacts::embedded(expansion_accel).default_off;
        let models = file
            .models
            .iter()
            .map(|model| {
                let mut features =
                    QemuFeatures::from_qemu_names(map, model.features.iter().map(String::as_str));
                let libvirt_name = map
                    .model_id(&model.name)
                    .or_else(|| model.alias_of.as_deref().and_then(|a| map.model_id(a)));
                // Put together from two accelerators' expansions, the list is
                // the definition itself; from one, its defaults are undone.
                let from_one_accelerator = model.expanded_under.len() <= 1;
                if let Some(id) = libvirt_name.filter(|_| from_one_accelerator) {
                    features
                        .known
                        .union_with(&map.model(id).features.intersection(&lost_in_expansion));
                }
                QemuModel {
                    name: model.name.clone(),
                    alias_of: model.alias_of.clone(),
                    deprecated: model.deprecated,
                    vendor: model.vendor.clone(),
                    features,
                    tcg_unavailable: QemuFeatures::from_qemu_names(
                        map,
                        model.tcg_unavailable.iter().map(String::as_str),
                    ),
                }
            })
            .collect();
        Ok(QemuVersion {
            version: release.to_string(),
            full_version: file.version.clone(),
            models,
            known_features: QemuFeatures::from_qemu_names(
                map,
                file.known_features.iter().map(String::as_str),
            ),
            tcg_given_when_asked: QemuFeatures::from_qemu_names(
                map,
                file.tcg_given_when_asked.iter().map(String::as_str),
            ),
        })
    }

    /// The model of this exact name (an alias entry stays unresolved).
    pub fn model(&self, name: &str) -> Option<&QemuModel> {
        self.models
            .binary_search_by(|m| m.name.as_str().cmp(name))
            .ok()
            .map(|i| &self.models[i])
    }

    /// The model a name stands for, following `alias_of`.
    pub fn resolve(&self, name: &str) -> Option<&QemuModel> {
        let mut model = self.model(name)?;
        // Aliases point at versioned models, which are never aliases; the bound
        // only guards against a malformed file.
        for _ in 0..4 {
            match model
                .alias_of
                .as_deref()
                .and_then(|target| self.model(target))
            {
                Some(target) => model = target,
                None => break,
            }
        }
        Some(model)
    }

    /// The definition QEMU uses for `name`, or libvirt's when this version
    /// has no such model.
    pub fn model_definition(&self, map: &CpuMap, name: &str) -> Result<ModelDefinition, CpuError> {
        if let Some(model) = self.resolve(name) {
            return Ok(ModelDefinition {
                qemu_model: model.name.clone(),
                source: DefinitionSource::Qemu(self.version.clone()),
                features: model.features.clone(),
                note: None,
            });
        }
        let id = map.model_id(name).ok_or_else(|| {
            CpuError::unsupported(format!(
                "CPU model `{name}` is known neither to QEMU {} nor to libvirt",
                self.version
            ))
        })?;
        let model = map.model(id);
        let qemu_model = model
            .canonical
            .map_or_else(|| model.name.clone(), |c| map.model(c).name.clone());
        Ok(ModelDefinition {
            qemu_model,
            source: DefinitionSource::LibvirtFallback,
            features: QemuFeatures {
                known: model.features,
                qemu_only: Vec::new(),
            },
            note: Some(format!(
                "QEMU {} has no CPU model `{name}`; libvirt's definition is used instead",
                self.version
            )),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(map: &CpuMap, set: &FeatureSet) -> Vec<String> {
        map.names(set).map(str::to_string).collect()
    }

    #[test]
    fn versions_load_and_resolve_aliases() {
        let definitions = QemuDefinitions::embedded();
        let versions: Vec<&str> = definitions.versions().map(|v| v.version.as_str()).collect();
        assert_eq!(
            versions,
            [
                "5.2", "6.2", "7.0", "7.1", "7.2", "8.0", "8.1", "8.2", "9.0", "9.1", "9.2",
                "10.0", "11.1"
            ]
        );
        assert_eq!(definitions.newest().version, "11.1");
        // Each release lists its own models: EPYC-Genoa came with 8.1,
        // EPYC-Turin after 10.0, Icelake-Client went in 7.1.
        let has = |version: &str, model: &str| {
            let release = QemuRelease::parse(version).expect("a release");
            definitions.find(release).version.model(model).is_some()
        };
        assert!(!has("7.2", "EPYC-Genoa") && !has("8.0", "EPYC-Genoa") && has("8.1", "EPYC-Genoa"));
        assert!(!has("10.0", "EPYC-Turin") && has("11.1", "EPYC-Turin-v2"));
        assert!(has("7.0", "Icelake-Client") && !has("7.1", "Icelake-Client"));
        assert!(
            has("5.2", "Snowridge-v2") && !has("5.2", "Snowridge-v3") && has("6.2", "Snowridge-v3")
        );
        // 5.2 is probed under KVM as well: its definitions keep the `vme`
        // TCG's instance defaults turn off, even where libvirt's map has no
        // model of the name to restore it from.
        let map = CpuMap::embedded();
        let v52 = definitions.find(QemuRelease::new(5, 2)).version;
        let vme = map.feature_id("vme").expect("vme");
        assert!(v52
            .resolve("Haswell")
            .expect("Haswell")
            .features
            .known
            .contains(vme));
        let v72 = definitions.find(QemuRelease::new(7, 2)).version;
        let haswell = v72.resolve("Haswell").expect("Haswell");
        assert_eq!(haswell.name, "Haswell-v1");
        assert!(haswell.features.qemu_only.is_empty());
    }

    #[test]
    fn version_lookup_falls_back_lower() {
        let definitions = QemuDefinitions::embedded();
        let exact = definitions.find(QemuRelease::new(7, 2));
        assert_eq!((exact.version.version.as_str(), exact.note), ("7.2", None));
        let lower = definitions.find(QemuRelease::new(8, 3));
        assert_eq!(lower.version.version, "8.2");
        assert!(lower.note.is_some());
        let older = definitions.find(QemuRelease::new(4, 2));
        assert_eq!(older.version.version, "5.2");
        assert!(older.note.is_some());
        let between = definitions.find(QemuRelease::new(6, 0));
        assert_eq!(between.version.version, "5.2");
        let newer = definitions.find(QemuRelease::new(11, 0));
        assert_eq!(newer.version.version, "10.0");
    }

    #[test]
    fn tcg_default_off_features_are_restored_from_libvirt() {
        let map = CpuMap::embedded();
        let v72 = QemuDefinitions::embedded()
            .find(QemuRelease::new(7, 2))
            .version;
        let vme = map.feature_id("vme").expect("vme");
        let skylake = &v72
            .resolve("Skylake-Client")
            .expect("Skylake-Client")
            .features;
        assert!(skylake.known.contains(vme));
        assert!(!v72
            .resolve("qemu64")
            .expect("qemu64")
            .features
            .known
            .contains(vme));
        // Apart from that, libvirt's model is a copy of QEMU's definition.
        let libvirt = map
            .model(map.model_id("Skylake-Client").expect("Skylake-Client"))
            .features;
        assert_eq!(
            names(map, &libvirt.difference(&skylake.known)),
            Vec::<String>::new()
        );
    }

    #[test]
    fn missing_models_fall_back_to_libvirt() {
        let map = CpuMap::embedded();
        let v72 = QemuDefinitions::embedded()
            .find(QemuRelease::new(7, 2))
            .version;
        let definition = v72
            .model_definition(map, "SapphireRapids")
            .expect("fallback");
        assert_eq!(definition.source, DefinitionSource::LibvirtFallback);
        assert_eq!(definition.qemu_model, "SapphireRapids-v1");
        assert!(definition.note.is_some());
        let native = v72.model_definition(map, "Haswell").expect("Haswell");
        assert_eq!(native.source, DefinitionSource::Qemu("7.2".into()));
        assert!(v72.model_definition(map, "Pentium-Z").is_err());
    }
}
