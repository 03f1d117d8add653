//! libvirt releases: which versions the engine has a CPU map of, how a check
//! chooses one, and (as named predicates) the behaviour that changed between
//! releases, each citing the release that changed it.
//!
//! A check models one libvirt version. Its CPU map is the embedded map of the
//! newest known release not newer than that version ([`crate::CpuMap::for_version`]);
//! the predicates below take the version itself, so `--libvirt 10.5` uses
//! 9.0's map and 10.5's rules.

use crate::facts::{DumpFormat, HostDump};
use crate::libvirt::Usability;
pub use crate::version::{LibvirtVersion, VersionError};

/// How a check's libvirt version was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionSource {
    /// The user named it (`--libvirt`).
    Option,
    /// The host input tells (with the reason, in words).
    Inferred(&'static str),
    /// Nothing said: the newest known.
    Newest,
    /// The release of the CPU map the caller prepared the host on.
    Map,
}

impl VersionSource {
    /// `option`, `inferred`, `newest` or `map`, as reports print it.
    pub fn as_str(self) -> &'static str {
        match self {
            VersionSource::Option => "option",
            VersionSource::Inferred(_) => "inferred",
            VersionSource::Newest => "newest",
            VersionSource::Map => "map",
        }
    }
}

crate::cpudef::libvirt_spelling!(VersionSource);

/// A check's libvirt version with where it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VersionChoice {
    pub version: LibvirtVersion,
    pub source: VersionSource,
}

impl VersionChoice {
    /// The version the user named, else what `host` tells, else the newest.
    pub fn choose(option: Option<LibvirtVersion>, host: Option<&HostDump>) -> Self {
        if let Some(version) = option {
            return VersionChoice {
                version,
                source: VersionSource::Option,
            };
        }
        if let Some((version, reason)) = host.and_then(inferred_from_dump) {
            return VersionChoice {
                version,
                source: VersionSource::Inferred(reason),
            };
        }
        VersionChoice {
            version: LibvirtVersion::NEWEST,
            source: VersionSource::Newest,
        }
    }

    /// The sentence a report gives for this choice, with a note when the CPU
    /// map is another release's.
    pub fn describe(&self) -> String {
        let why = match self.source {
            VersionSource::Option => "as asked".to_string(),
            VersionSource::Inferred(reason) => format!("inferred: {reason}"),
            VersionSource::Newest => "the newest known; choose another with --libvirt".to_string(),
            VersionSource::Map => "the release of the CPU map given".to_string(),
        };
        let (map, exact) = self.version.map_release();
        if exact {
            format!("libvirt {} ({why})", self.version)
        } else {
            format!(
                "libvirt {} ({why}); no CPU map of this release is embedded, libvirt {map}'s is used",
                self.version
            )
        }
    }
}

/// What a host input tells of the libvirt that wrote it. Only `virsh
/// domcapabilities` says anything: libvirt prints `<blockers>` under an
/// unusable custom model since 10.9 (NEWS.rst, v10.9.0: "Report CPU model
/// blockers in domain capabilities"), so an unusable model without them means
/// an older libvirt.
fn inferred_from_dump(dump: &HostDump) -> Option<(LibvirtVersion, &'static str)> {
    if dump.format != DumpFormat::DomainCapabilities {
        return None;
    }
    let models = dump.domcaps_models.as_ref()?;
    let unusable: Vec<_> = models
        .iter()
        .filter(|m| m.usable == Usability::No)
        .collect();
    if unusable.is_empty() {
        return None;
    }
    if unusable.iter().any(|m| !m.blockers.is_empty()) {
        Some((
            LibvirtVersion::NEWEST,
            "domcapabilities lists <blockers>, printed since libvirt 10.9",
        ))
    } else {
        let older = LibvirtVersion::WITH_CPU_MAP
            .iter()
            .rev()
            .find(|v| **v < BLOCKERS_IN_DOMCAPABILITIES)
            .copied()
            .unwrap_or(LibvirtVersion::WITH_CPU_MAP[0]);
        Some((
            older,
            "domcapabilities lists unusable models without <blockers>, printed since libvirt 10.9",
        ))
    }
}

/// libvirt 10.9 prints `<blockers model='…'>` in domcapabilities
/// (`virDomainCapsCPUCustomFormat`, NEWS.rst v10.9.0).
pub const BLOCKERS_IN_DOMCAPABILITIES: LibvirtVersion = LibvirtVersion::new(10, 9);

// Behaviour that changed between releases, one predicate per change, each
// with the release that made it and where it was read. What a release's CPU
// map says (its models, their `-vN` names, `<check partial='compat'/>`,
// `added`/`removed` features, the feature order of its messages) is data of
// that map, not a predicate here.

/// Every `check` other than `none` refuses a `forbid` feature the full host
/// CPU has (`virCPUCheckForbiddenFeatures` in `qemuProcessUpdateGuestCPU`):
/// NEWS.rst v7.2.0, "Check host CPU for forbidden features". Present in 9.0's
/// and 11.3's qemu_process.c.
pub fn checks_forbidden_features_on_host(version: LibvirtVersion) -> bool {
    version >= LibvirtVersion::new(7, 2)
}

/// `check='partial'` asks QEMU's answer first: a model QEMU reports usable,
/// with no feature other than `disable`d ones, is not compared at all
/// (`virQEMUCapsIsCPUUsable` at the top of `qemuDomainCheckCPU`; commit
/// 2ba73ca83b "qemu: Optimize CPU check='partial' for usable CPUs"). Absent
/// from 9.0's qemu_process.c (a plain `virCPUCompare` against the full host),
/// present in 11.3's. NEWS.rst does not list it; the issue places it between
/// 10.0 and 10.4, and 10.1 is taken here: the exact release is not pinned.
pub fn skips_partial_check_for_usable_models(version: LibvirtVersion) -> bool {
    version >= LibvirtVersion::new(10, 1)
}

/// `check='partial'` compares a model whose map entry does not ask for the
/// compat check (`<check partial='compat'/>`) through QEMU's blockers for it
/// (`virCPUCompareUnusable` in `qemuDomainCheckCPU`), and domcapabilities
/// prints those blockers: NEWS.rst v10.9.0, "Report CPU model blockers in
/// domain capabilities". Before, every model is compared with the full host
/// CPU (9.0's qemu_process.c).
pub fn compares_unusable_models_by_blockers(version: LibvirtVersion) -> bool {
    version >= BLOCKERS_IN_DOMCAPABILITIES
}

/// Versioned QEMU model names (`Haswell-v4`) are accepted in domains:
/// NEWS.rst v10.10.0, "qemu: Add support for versioned CPU models"; v11.0.0
/// adds the `-v1` names of old models ("cpu: Add missing -v1 variants").
/// Which names a release knows is its CPU map's; this tells why an older map
/// has none.
pub fn accepts_versioned_models(version: LibvirtVersion) -> bool {
    version >= LibvirtVersion::new(10, 10)
}

/// `<maxphysaddr limit='N'/>` is read and passed on (`host-phys-bits-limit`):
/// NEWS.rst v9.3.0, "qemu: Improve handling of maximum physical address
/// configuration". 9.0's cpu_conf.c knows no `limit` and drops it.
pub fn reads_maxphysaddr_limit(version: LibvirtVersion) -> bool {
    version >= LibvirtVersion::new(9, 3)
}

/// `ht` and `cmp_legacy`, which QEMU turns on itself from the guest's
/// topology ([`crate::data::TOPOLOGY_FEATURES`]), are stripped from the guest
/// CPU at start with the features QEMU never supported, so neither reaches
/// `-cpu` nor the live XML, whoever asked for them (host-model under TCG,
/// where QEMU's `max` has `cmp-legacy`, or a `require` in the domain).
/// Recorded on the real stacks: 11.3 passes `-cpu qemu64,cmp-legacy=on` and
/// `ht=on`, 12.9 passes `-cpu qemu64` for the same domains
/// (`tests/real/domains/tcg-custom-qemu64-topology-features.xml`), while
/// QEMU 10.0 and 11.1 both report `cmp-legacy` on in `max`'s static and
/// full expansions under TCG and 12.9's domcapabilities still lists
/// `cmp_legacy` in host-model. NEWS.rst's nearest entry is v11.10.0,
/// "qemu: Fix incoming migration to QEMU 10.0.0 and newer" (QEMU 10.0
/// reports `ht` differently); 11.10 is taken here, the exact release is not
/// pinned (12.9's source was not available to read).
pub fn strips_topology_features(version: LibvirtVersion) -> bool {
    version >= LibvirtVersion::new(11, 10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_and_order() {
        assert_eq!(LibvirtVersion::parse("11.3"), Ok(LibvirtVersion::V11_3));
        assert_eq!(LibvirtVersion::parse("9.0.0"), Ok(LibvirtVersion::V9_0));
        assert!(LibvirtVersion::V9_0 < LibvirtVersion::new(10, 10));
        assert!(LibvirtVersion::new(10, 10) < LibvirtVersion::V11_3);
        for bad in ["", "11", "11.", "x.3", "11.3.0.1", "11.3.x", "99999.0"] {
            let err = LibvirtVersion::parse(bad).expect_err(bad);
            assert_eq!(err.text, bad);
            assert!(
                err.to_string()
                    .starts_with(&format!("invalid libvirt version `{bad}`: ")),
                "{err}"
            );
        }
        assert_eq!(LibvirtVersion::V12_9.to_string(), "12.9");
    }

    #[test]
    fn map_release_is_the_newest_not_newer() {
        assert_eq!(
            LibvirtVersion::new(10, 5).map_release(),
            (LibvirtVersion::V9_0, false)
        );
        assert_eq!(
            LibvirtVersion::V11_3.map_release(),
            (LibvirtVersion::V11_3, true)
        );
        assert_eq!(
            LibvirtVersion::new(13, 0).map_release(),
            (LibvirtVersion::V12_9, false)
        );
        assert_eq!(
            LibvirtVersion::new(8, 0).map_release(),
            (LibvirtVersion::V9_0, false)
        );
    }

    #[test]
    fn behaviour_changes_by_release() {
        let bookworm = LibvirtVersion::V9_0;
        let trixie = LibvirtVersion::V11_3;
        assert!(checks_forbidden_features_on_host(bookworm));
        assert!(!checks_forbidden_features_on_host(LibvirtVersion::new(
            7, 1
        )));
        assert!(!skips_partial_check_for_usable_models(bookworm));
        assert!(skips_partial_check_for_usable_models(trixie));
        assert!(!compares_unusable_models_by_blockers(LibvirtVersion::new(
            10, 8
        )));
        assert!(compares_unusable_models_by_blockers(trixie));
        assert!(!accepts_versioned_models(LibvirtVersion::new(10, 9)));
        assert!(accepts_versioned_models(LibvirtVersion::V12_9));
        assert!(!strips_topology_features(trixie));
        assert!(strips_topology_features(LibvirtVersion::V12_9));
    }

    /// domcapabilities with one unusable model, with or without its blockers.
    fn domcapabilities(blockers: &str) -> HostDump {
        let text = format!(
            "<domainCapabilities>\n  <path>/usr/bin/qemu-system-x86_64</path>\n  <domain>kvm</domain>\n  \
             <machine>pc-q35-9.2</machine>\n  <arch>x86_64</arch>\n  <cpu>\n    \
             <mode name='custom' supported='yes'>\n      \
             <model usable='yes' vendor='Intel'>Nehalem</model>\n      \
             <model usable='no' vendor='Intel'>Haswell</model>\n{blockers}    </mode>\n  \
             </cpu>\n</domainCapabilities>\n"
        );
        crate::dump::parse(&text).expect("domcapabilities parse")
    }

    #[test]
    fn domcapabilities_tell_whether_libvirt_prints_blockers() {
        let new = domcapabilities(
            "      <blockers model='Haswell'>\n        <feature name='avx2'/>\n      </blockers>\n",
        );
        let chosen = VersionChoice::choose(None, Some(&new));
        assert_eq!(chosen.version, LibvirtVersion::NEWEST);
        assert_eq!(chosen.source.as_str(), "inferred");
        let old = domcapabilities("");
        let chosen = VersionChoice::choose(None, Some(&old));
        assert_eq!(chosen.version, LibvirtVersion::V9_0);
        assert!(
            chosen.describe().contains("without <blockers>"),
            "{}",
            chosen.describe()
        );
        // The option wins over what the input tells.
        let asked = VersionChoice::choose(Some(LibvirtVersion::V11_3), Some(&old));
        assert_eq!(asked.version, LibvirtVersion::V11_3);
    }

    #[test]
    fn choice_prefers_the_option_then_the_newest() {
        let chosen = VersionChoice::choose(Some(LibvirtVersion::V9_0), None);
        assert_eq!(chosen.version, LibvirtVersion::V9_0);
        assert_eq!(chosen.source, VersionSource::Option);
        let default = VersionChoice::choose(None, None);
        assert_eq!(default.version, LibvirtVersion::NEWEST);
        assert_eq!(default.source.as_str(), "newest");
    }
}
