//! The accelerator facts: what KVM and TCG can give a guest, as rules over
//! QEMU's feature names, read from `data/accel/{kvm,tcg}.json` (written by
//! `cargo xtask gen-accel`, embedded in `build.rs`'s packed form). How the
//! rules decide a feature on a host is in `qemu::accel`; QEMU's definitions
//! read `default_off` from here to undo what an expansion switched off.

use std::sync::OnceLock;

use serde::Serialize;

use crate::data::{libvirt_to_qemu, CpuMap, FeatureId, Packed};
use crate::domain::Accelerator;
use crate::featureset::FeatureSet;
use crate::json;

use super::DataFileError;

/// What a rule of the accelerator facts says about its features; written by
/// `cargo xtask gen-accel` (through `Serialize`), read here ([`RuleKind::from_name`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleKind {
    /// Available whatever the host CPUID says.
    Emulated,
    /// Never available under this accelerator.
    Never,
    /// Passed from the host, but only under an extra condition (see `condition`;
    /// `requires` lists host features that must be present too).
    HostConditional,
    /// Set from other host features rather than from the same bit
    /// (available when the host has any of `requires_any`).
    HostDerived,
    /// Passed from the host only when nested virtualisation is enabled.
    RequiresNested,
    /// Cleared by QEMU, without a warning, unless the guest CPU has every `requires` feature.
    RequiresGuestFeature,
    /// Passed from the host, but QEMU blocks migration while it is on.
    Unmigratable,
    /// Set on by QEMU in every built-in model under this accelerator.
    DefaultOn,
    /// Set off by QEMU in every built-in model under this accelerator.
    DefaultOff,
    /// The complete set this accelerator can provide, independent of the host.
    Supported,
    /// A bit of a feature MSR; `condition` says how KVM fills it.
    Msr,
}

impl RuleKind {
    /// Every kind.
    pub const ALL: [RuleKind; 11] = [
        RuleKind::Emulated,
        RuleKind::Never,
        RuleKind::HostConditional,
        RuleKind::HostDerived,
        RuleKind::RequiresNested,
        RuleKind::RequiresGuestFeature,
        RuleKind::Unmigratable,
        RuleKind::DefaultOn,
        RuleKind::DefaultOff,
        RuleKind::Supported,
        RuleKind::Msr,
    ];

    /// The kind's name in the facts files, e.g. `host_conditional`.
    pub fn name(self) -> &'static str {
        match self {
            RuleKind::Emulated => "emulated",
            RuleKind::Never => "never",
            RuleKind::HostConditional => "host_conditional",
            RuleKind::HostDerived => "host_derived",
            RuleKind::RequiresNested => "requires_nested",
            RuleKind::RequiresGuestFeature => "requires_guest_feature",
            RuleKind::Unmigratable => "unmigratable",
            RuleKind::DefaultOn => "default_on",
            RuleKind::DefaultOff => "default_off",
            RuleKind::Supported => "supported",
            RuleKind::Msr => "msr",
        }
    }

    /// Parses [`RuleKind::name`] back.
    pub fn from_name(name: &str) -> Option<RuleKind> {
        RuleKind::ALL.into_iter().find(|kind| kind.name() == name)
    }
}

/// A set of QEMU feature names resolved against libvirt's map, keeping the
/// original names (and `*` patterns) for QEMU-only features.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeaturePattern {
    /// The map features the names stand for.
    pub features: FeatureSet,
    names: Vec<String>,
}

impl FeaturePattern {
    fn resolve(map: &CpuMap, names: &[String]) -> Self {
        let mut features = FeatureSet::new();
        for (index, feature) in map.features().iter().enumerate() {
            let qemu_name = libvirt_to_qemu(&feature.name);
            let matches = |pattern: &String| match pattern.strip_suffix('*') {
                Some(prefix) => qemu_name.starts_with(prefix),
                None => {
                    pattern == qemu_name
                        || pattern == &feature.name
                        || feature.qemu_aliases.iter().any(|a| a == pattern)
                }
            };
            if names.iter().any(matches) {
                if let Some(id) = map.feature_id(&feature.name) {
                    debug_assert_eq!(id.index(), index);
                    features.insert(id);
                }
            }
        }
        FeaturePattern {
            features,
            names: names.to_vec(),
        }
    }

    /// Whether a QEMU-only name is covered by the patterns.
    pub fn matches_qemu_name(&self, qemu_name: &str) -> bool {
        self.names
            .iter()
            .any(|pattern| match pattern.strip_suffix('*') {
                Some(prefix) => qemu_name.starts_with(prefix),
                None => pattern == qemu_name,
            })
    }
}

/// One fact about an accelerator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccelRule {
    pub kind: RuleKind,
    pub features: FeaturePattern,
    /// Features that must be present as well (on the host, or in the guest
    /// for [`RuleKind::RequiresGuestFeature`]).
    pub requires: FeatureSet,
    /// For [`RuleKind::HostDerived`]: any one of these on the host suffices.
    pub requires_any: FeatureSet,
    pub condition: String,
}

/// Everything known about one accelerator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccelFacts {
    pub accel: Accelerator,
    /// Set on in every built-in model before the user's flags.
    pub default_on: FeatureSet,
    /// Set off in every built-in model before the user's flags.
    pub default_off: FeatureSet,
    pub emulated: FeaturePattern,
    pub never: FeaturePattern,
    /// Whether a feature must be in the host CPU (KVM) or not (TCG).
    pub passthrough_requires_host: bool,
    /// TCG: the complete set it can provide (QEMU 10.0).
    pub supported: FeaturePattern,
    pub rules: Vec<AccelRule>,
    /// For each rule kind, the index in `rules` of the first rule naming
    /// each feature (by feature index), so that [`AccelFacts::rule_for`]
    /// does not scan the rules for every feature of every host.
    first_rule_by_kind: Vec<(RuleKind, Vec<Option<usize>>)>,
}

/// `data/accel/*.json`, mirrored for reading only.
struct AccelFile {
    accel: String,
    default_off: Vec<String>,
    default_on: Vec<String>,
    emulated: Vec<String>,
    never: Vec<String>,
    passthrough_requires_host: bool,
    rules: Vec<RuleEntry>,
    supported: Vec<String>,
}

struct RuleEntry {
    kind: RuleKind,
    features: Vec<String>,
    requires: Vec<String>,
    requires_any: Vec<String>,
    condition: String,
}

impl AccelFile {
    fn from_value(root: &json::Value<'_>) -> Result<AccelFile, json::Error> {
        let mut root = json::Fields::of(&root.object()?);
        let rules = root.each("rules", |rule| {
            let kind = rule.member("kind", |kind| {
                RuleKind::from_name(kind.string()?)
                    .ok_or_else(|| json::Error::new(kind.offset, "unknown rule kind".to_owned()))
            });
            let features = rule.strings("features");
            let requires = rule.strings_or_empty("requires");
            let requires_any = rule.strings_or_empty("requires_any");
            let condition = rule.optional_string("condition").unwrap_or_default();
            kind.map(|kind| RuleEntry {
                kind,
                features,
                requires,
                requires_any,
                condition,
            })
        });
        let file = AccelFile {
            accel: root.string("accel"),
            default_off: root.strings("default_off"),
            default_on: root.strings("default_on"),
            emulated: root.strings("emulated"),
            never: root.strings("never"),
            passthrough_requires_host: root.boolean("passthrough_requires_host"),
            // A rule without a kind left its error in `root`, which
            // `finish` gives instead of the file.
            rules: rules.into_iter().flatten().collect(),
            supported: root.strings_or_empty("supported"),
        };
        root.finish(file)
    }
}

impl AccelFacts {
    /// The facts compiled into this binary, loaded on first use against the
    /// newest CPU map (feature ids are shared by every release's map).
    pub fn embedded(accel: Accelerator) -> &'static AccelFacts {
        static KVM: OnceLock<AccelFacts> = OnceLock::new();
        static TCG: OnceLock<AccelFacts> = OnceLock::new();
        let cell = match accel {
            Accelerator::Kvm => &KVM,
            Accelerator::Tcg => &TCG,
        };
        cell.get_or_init(|| {
            let file = Packed::file(&format!("accel/{}.json", accel.as_str()));
            AccelFacts::from_value(CpuMap::newest(), &file).unwrap_or_else(|e| {
                panic!(
                    "the embedded data/accel/{}.json is invalid: {e}",
                    accel.as_str()
                )
            })
        })
    }

    /// Parses a file written by `cargo xtask gen-accel`.
    pub fn from_json(map: &CpuMap, text: &str) -> Result<AccelFacts, DataFileError> {
        let file = json::parse(text).and_then(|root| AccelFile::from_value(&root))?;
        AccelFacts::from_file(map, &file)
    }

    /// Reads the facts from a file's value tree (the embedded, packed form).
    pub(crate) fn from_value(
        map: &CpuMap,
        root: &json::Value<'_>,
    ) -> Result<AccelFacts, DataFileError> {
        AccelFacts::from_file(map, &AccelFile::from_value(root)?)
    }

    fn from_file(map: &CpuMap, file: &AccelFile) -> Result<AccelFacts, DataFileError> {
        let accel = Accelerator::parse(&file.accel)
            .ok_or_else(|| DataFileError::UnknownAccelerator(file.accel.clone()))?;
        let rules = file
            .rules
            .iter()
            .map(|rule| AccelRule {
                kind: rule.kind,
                features: FeaturePattern::resolve(map, &rule.features),
                requires: FeaturePattern::resolve(map, &rule.requires).features,
                requires_any: FeaturePattern::resolve(map, &rule.requires_any).features,
                condition: rule.condition.clone(),
            })
            .collect::<Vec<AccelRule>>();
        let mut first_rule_by_kind: Vec<(RuleKind, Vec<Option<usize>>)> = Vec::new();
        for (index, rule) in rules.iter().enumerate() {
            let position = match first_rule_by_kind
                .iter()
                .position(|(kind, _)| *kind == rule.kind)
            {
                Some(position) => position,
                None => {
                    first_rule_by_kind.push((rule.kind, vec![None; map.features().len()]));
                    first_rule_by_kind.len() - 1
                }
            };
            let firsts = &mut first_rule_by_kind[position].1;
            for feature in rule.features.features.iter() {
                if let Some(slot) = firsts.get_mut(feature.index()) {
                    slot.get_or_insert(index);
                }
            }
        }
        Ok(AccelFacts {
            accel,
            default_on: FeaturePattern::resolve(map, &file.default_on).features,
            default_off: FeaturePattern::resolve(map, &file.default_off).features,
            emulated: FeaturePattern::resolve(map, &file.emulated),
            never: FeaturePattern::resolve(map, &file.never),
            passthrough_requires_host: file.passthrough_requires_host,
            supported: FeaturePattern::resolve(map, &file.supported),
            rules,
            first_rule_by_kind,
        })
    }

    /// The rules of one kind.
    pub fn rules_of(&self, kind: RuleKind) -> impl Iterator<Item = &AccelRule> + '_ {
        self.rules.iter().filter(move |rule| rule.kind == kind)
    }

    /// The first rule of `kind` that names `feature`.
    pub(super) fn rule_for(&self, kind: RuleKind, feature: FeatureId) -> Option<&AccelRule> {
        let (_, firsts) = self.first_rule_by_kind.iter().find(|(k, _)| *k == kind)?;
        let index = (*firsts.get(feature.index())?)?;
        self.rules.get(index)
    }
}
