//! libvirt and QEMU release numbers (`MAJOR.MINOR`), read once where a user
//! or a file gives them, and the releases whose CPU map and QEMU model
//! definitions the engine embeds. The behaviour that changed between
//! releases is named in `libvirt::release`; the maps are chosen in
//! `data::CpuMap::for_version`, QEMU's definitions in
//! `qemu::definitions::QemuDefinitions::find`. [`VirshVersion`] reads the
//! releases `virsh version` prints.

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
            product: Product::Libvirt,
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
        nearest_release(&Self::WITH_CPU_MAP, self)
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

impl std::str::FromStr for LibvirtVersion {
    type Err = VersionError;

    fn from_str(text: &str) -> Result<Self, VersionError> {
        LibvirtVersion::parse(text)
    }
}

/// The release of `releases` (oldest first, not empty) whose data models
/// `wanted`: the newest not newer than it, else the oldest; `true` when it
/// is `wanted` itself.
fn nearest_release<T: Ord + Copy>(releases: &[T], wanted: T) -> (T, bool) {
    match releases.iter().rev().find(|release| **release <= wanted) {
        Some(release) => (*release, *release == wanted),
        None => (releases[0], false),
    }
}

/// A QEMU release, `MAJOR.MINOR` (a micro release changes no CPU model).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct QemuRelease {
    pub major: u32,
    pub minor: u32,
}

impl QemuRelease {
    pub const fn new(major: u32, minor: u32) -> Self {
        QemuRelease { major, minor }
    }

    /// The releases whose model definitions are embedded
    /// (`data/qemu/MAJOR.MINOR.json`), oldest first: probed (5.2, 7.2, 10.0,
    /// 11.1) or derived from libvirt's captures of the release's model list
    /// with the probed definitions (`cargo xtask derive-qemu`).
    pub const WITH_DEFINITIONS: [QemuRelease; 13] = [
        QemuRelease::new(5, 2),
        QemuRelease::new(6, 2),
        QemuRelease::new(7, 0),
        QemuRelease::new(7, 1),
        QemuRelease::new(7, 2),
        QemuRelease::new(8, 0),
        QemuRelease::new(8, 1),
        QemuRelease::new(8, 2),
        QemuRelease::new(9, 0),
        QemuRelease::new(9, 1),
        QemuRelease::new(9, 2),
        QemuRelease::new(10, 0),
        QemuRelease::new(11, 1),
    ];

    /// The newest release with definitions, the default of every check.
    pub const NEWEST: QemuRelease = Self::WITH_DEFINITIONS[Self::WITH_DEFINITIONS.len() - 1];

    /// The release whose definitions model this one: itself when embedded,
    /// else the nearest older one, else the oldest; with a note when not
    /// itself.
    pub fn with_definitions(self) -> (QemuRelease, Option<&'static str>) {
        match nearest_release(&Self::WITH_DEFINITIONS, self) {
            (release, true) => (release, None),
            (older, false) if older < self => (
                older,
                Some("no data for this QEMU version; using the nearest older version"),
            ),
            (oldest, false) => (
                oldest,
                Some("older than every QEMU version with data; using the oldest"),
            ),
        }
    }

    /// Reads `MAJOR`, `MAJOR.MINOR` or a longer version whose first two
    /// numbers are those (`7`, `7.2`, `7.2.0`), blanks around it ignored.
    pub fn parse(text: &str) -> Result<Self, VersionError> {
        let invalid = || VersionError {
            product: Product::Qemu,
            text: text.to_string(),
        };
        let mut parts = text.trim().split('.');
        let major = parts
            .next()
            .and_then(|p| p.parse().ok())
            .ok_or_else(invalid)?;
        let minor = match parts.next() {
            None => 0,
            Some(p) => p.parse().map_err(|_| invalid())?,
        };
        Ok(QemuRelease::new(major, minor))
    }
}

impl fmt::Display for QemuRelease {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

impl std::str::FromStr for QemuRelease {
    type Err = VersionError;

    fn from_str(text: &str) -> Result<Self, VersionError> {
        QemuRelease::parse(text)
    }
}

/// A libvirt release with the QEMU release it drives, as `--upgrade-to`
/// and the page's upgrade preview name them: `LIBVIRT:QEMU` (`11.3:10.0`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stack {
    pub libvirt: LibvirtVersion,
    pub qemu: QemuRelease,
}

impl std::str::FromStr for Stack {
    type Err = StackError;

    fn from_str(text: &str) -> Result<Self, StackError> {
        let (libvirt, qemu) = text
            .split_once(':')
            .ok_or_else(|| StackError::NotAPair(text.to_string()))?;
        Ok(Stack {
            libvirt: libvirt.parse().map_err(StackError::Version)?,
            qemu: qemu.parse().map_err(StackError::Version)?,
        })
    }
}

/// A text that is not `LIBVIRT:QEMU`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StackError {
    /// No `:` between two versions.
    NotAPair(String),
    Version(VersionError),
}

impl fmt::Display for StackError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StackError::NotAPair(text) => write!(
                f,
                "a stack is LIBVIRT:QEMU, e.g. {}:{}, not `{text}`",
                LibvirtVersion::V11_3,
                QemuRelease::new(10, 0)
            ),
            StackError::Version(error) => error.fmt(f),
        }
    }
}

impl std::error::Error for StackError {}

/// Whose release a version number is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Product {
    Libvirt,
    Qemu,
}

/// A text that is not a libvirt or QEMU version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionError {
    pub product: Product,
    /// The text as given.
    pub text: String,
}

impl fmt::Display for VersionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (product, example) = match self.product {
            Product::Libvirt => ("libvirt", LibvirtVersion::NEWEST.to_string()),
            Product::Qemu => ("QEMU", QemuRelease::NEWEST.to_string()),
        };
        write!(
            f,
            "invalid {product} version `{}`: expected `MAJOR.MINOR`, e.g. `{example}`",
            self.text
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_qemu_release_is_read_from_its_first_two_numbers() {
        let read = |text: &str| QemuRelease::parse(text).map(|release| release.to_string());
        assert_eq!(read("7.2").as_deref(), Ok("7.2"));
        assert_eq!(read(" 7.2.0 ").as_deref(), Ok("7.2"));
        assert_eq!(read("10.0.7").as_deref(), Ok("10.0"));
        assert_eq!(read("9").as_deref(), Ok("9.0"));
        let error = QemuRelease::parse("seven").expect_err("not a number");
        assert_eq!(
            error.to_string(),
            format!(
                "invalid QEMU version `seven`: expected `MAJOR.MINOR`, e.g. `{}`",
                QemuRelease::NEWEST
            )
        );
        assert!(QemuRelease::parse("7.2+dfsg").is_err());
        assert!(LibvirtVersion::parse("eleven").is_err());
        let stack: Stack = "11.3:10.0".parse().expect("a stack");
        assert_eq!(
            (stack.libvirt, stack.qemu),
            (LibvirtVersion::V11_3, QemuRelease::new(10, 0))
        );
        let error = "11.3".parse::<Stack>().expect_err("no QEMU");
        assert_eq!(
            error.to_string(),
            "a stack is LIBVIRT:QEMU, e.g. 11.3:10.0, not `11.3`"
        );
        assert!("11.3:ten".parse::<Stack>().is_err());
        assert_eq!(QemuRelease::NEWEST, QemuRelease::new(11, 1));
    }
}
