//! libvirt release numbers (`MAJOR.MINOR`) and the releases whose CPU map the
//! engine embeds. The behaviour that changed between releases is named in
//! `libvirt::release`; the maps are chosen in `data::CpuMap::for_version`.
//! [`VirshVersion`] reads the releases `virsh version` prints.

use std::fmt;

/// A libvirt release, `MAJOR.MINOR` (libvirt's micro releases change no CPU rule).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LibvirtVersion {
    pub major: u16,
    pub minor: u16,
}

impl LibvirtVersion {
    pub const fn new(major: u16, minor: u16) -> Self {
        LibvirtVersion { major, minor }
    }

    /// Debian bookworm's libvirt.
    pub const V9_0: LibvirtVersion = LibvirtVersion::new(9, 0);
    /// Debian trixie's libvirt, and the release of the test suite in
    /// `../shared/libvirt` the engine is verified against.
    pub const V11_3: LibvirtVersion = LibvirtVersion::new(11, 3);
    /// Debian trixie-backports' libvirt, the newest known.
    pub const V12_9: LibvirtVersion = LibvirtVersion::new(12, 9);

    /// The releases whose CPU map is embedded (`data/cpu_map/<version>.json`), oldest first.
    pub const WITH_CPU_MAP: [LibvirtVersion; 3] = [Self::V9_0, Self::V11_3, Self::V12_9];

    /// The newest release the engine knows, the default of every check.
    pub const NEWEST: LibvirtVersion = Self::V12_9;

    /// Reads `MAJOR.MINOR` or `MAJOR.MINOR.MICRO` (`11.3`, `11.3.0`).
    pub fn parse(text: &str) -> Result<Self, VersionError> {
        let invalid = || VersionError {
            text: text.to_string(),
        };
        let mut parts = text.split('.');
        let mut number = || -> Result<u16, VersionError> {
            parts
                .next()
                .filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|p| p.parse().ok())
                .ok_or_else(invalid)
        };
        let major = number()?;
        let minor = number()?;
        match parts.next() {
            None => {}
            Some(micro) if !micro.is_empty() && micro.bytes().all(|b| b.is_ascii_digit()) => {}
            Some(_) => return Err(invalid()),
        }
        if parts.next().is_some() {
            return Err(invalid());
        }
        Ok(LibvirtVersion::new(major, minor))
    }

    /// The release whose CPU map models this version: the newest embedded
    /// map not newer than it, else the oldest (with `false`: not exact).
    pub fn map_release(self) -> (LibvirtVersion, bool) {
        match Self::WITH_CPU_MAP.iter().rev().find(|v| **v <= self) {
            Some(release) => (*release, *release == self),
            None => (Self::WITH_CPU_MAP[0], false),
        }
    }
}

impl fmt::Display for LibvirtVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// A report writes a version as it displays, `MAJOR.MINOR`.
impl serde::Serialize for LibvirtVersion {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// A text that is not a libvirt version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionError {
    /// The text as given.
    pub text: String,
}

impl fmt::Display for VersionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid libvirt version `{}`: expected `MAJOR.MINOR`, e.g. `{}`",
            self.text,
            LibvirtVersion::NEWEST
        )
    }
}

impl std::error::Error for VersionError {}
/// The releases `virsh version` prints (virsh's `cmdVersion`,
/// tools/virsh-host.c): `Using library: libvirt X.Y.Z` and `Running
/// hypervisor: QEMU X.Y.Z`, each `None` when its line is missing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VirshVersion {
    /// The libvirt library virsh ran with, `X.Y.Z`.
    pub libvirt: Option<String>,
    /// The QEMU the daemon runs, `X.Y.Z`.
    pub qemu: Option<String>,
}

impl VirshVersion {
    /// Reads the two lines from `virsh version`'s output; other lines are ignored.
    pub fn parse(text: &str) -> Self {
        let after = |prefix: &str| {
            text.lines()
                .find_map(|line| line.trim().strip_prefix(prefix))
                .map(|version| version.trim().to_string())
        };
        VirshVersion {
            libvirt: after("Using library: libvirt "),
            qemu: after("Running hypervisor: QEMU "),
        }
    }
}
