//! Capture bundles: the one JSON file `guestcpu capture` writes on a host,
//! read as a host input by every verb.
//!
//! A bundle is an object whose first key is `"guestcpu-capture"` (its format
//! version) and whose `parts` each name what they hold, say how they were
//! obtained (`how`) and carry either the text (`text`, in the format the
//! matching dump reader takes) or why it is missing (`missing`):
//!
//! ```json
//! {"guestcpu-capture": 1, "host": "...", "kernel": "...",
//!  "parts": [{"name": "cpuid", "how": "/dev/cpu/N/cpuid", "text": "CPU 0:\n   0x00000000 ..."},
//!            {"name": "msr", "how": "/dev/cpu/0/msr", "missing": "..."}, ...]}
//! ```
//!
//! Part names: `cpuid` (`cpuid -r` format), `msr`, `kvm-parameters`, `qmp`
//! (QMP replies, libvirt's cputestdata format), `virsh-version`,
//! `capabilities`, `domcapabilities`, and `domain:NAME` (a domain's XML).

use crate::json;
use crate::version::VirshVersion;

/// The first key of every bundle.
pub const FORMAT_KEY: &str = "guestcpu-capture";

/// The bundle format this release writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// One part of a bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundlePart {
    pub name: String,
    /// How it was obtained (a device, a command), or `None` when it was not.
    pub how: Option<String>,
    pub text: Option<String>,
    /// Why it is missing.
    pub missing: Option<String>,
    /// Byte offset of the part in the bundle.
    pub offset: usize,
}

/// Whether `text` is a bundle: a JSON object whose first key is [`FORMAT_KEY`].
pub fn is_bundle(text: &str) -> bool {
    let body = text.trim_start_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
    body.strip_prefix('{')
        .map(str::trim_start)
        .is_some_and(|rest| rest.starts_with(&format!("\"{FORMAT_KEY}\"")))
}

/// The parts of a bundle, in order.
pub fn read_bundle(text: &str) -> Result<Vec<BundlePart>, json::Error> {
    let root = json::parse(text)?;
    let object = root.object()?;
    let version = object.field(FORMAT_KEY)?;
    if version.as_integer() != Some(i128::from(FORMAT_VERSION)) {
        return Err(json::Error::new(
            version.offset,
            format!("unknown bundle format; this guestcpu reads `{FORMAT_KEY}`: {FORMAT_VERSION}"),
        ));
    }
    let mut parts = Vec::new();
    for part in object.field("parts")?.array()? {
        let fields = part.object()?;
        parts.push(BundlePart {
            name: fields.string("name")?,
            how: fields.optional_string("how")?,
            text: fields.optional_string("text")?,
            missing: fields.optional_string("missing")?,
            offset: part.offset,
        });
    }
    Ok(parts)
}

/// The parts that describe the host's CPU, in the order libvirt joins them
/// ([`crate::host::join_hosts`]): raw CPUID, libvirt's host CPU, and one
/// answer of QEMU's, the domain capabilities when libvirt gave them (its own
/// view of QEMU), else QEMU's QMP replies.
pub fn host_parts(parts: &[BundlePart]) -> Vec<&BundlePart> {
    let with_text = |name: &str| {
        parts
            .iter()
            .find(|part| part.name == name && part.text.is_some())
    };
    let answer = with_text("domcapabilities").or_else(|| with_text("qmp"));
    [with_text("cpuid"), with_text("capabilities"), answer]
        .into_iter()
        .flatten()
        .collect()
}

/// The releases of the bundle's `virsh-version` part, when it has one.
pub fn virsh_version(parts: &[BundlePart]) -> Option<VirshVersion> {
    parts
        .iter()
        .find(|part| part.name == "virsh-version")
        .and_then(|part| part.text.as_deref())
        .map(VirshVersion::parse)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BUNDLE: &str = r#"{"guestcpu-capture": 1, "parts": [
        {"name": "cpuid", "how": "cpuid -r", "text": "CPU 0:\n"},
        {"name": "msr", "how": null, "missing": "no /dev/cpu/0/msr"},
        {"name": "qmp", "how": "qemu", "text": "{}"},
        {"name": "domcapabilities", "how": "virsh", "text": "<domainCapabilities/>"},
        {"name": "virsh-version", "how": "virsh", "text": "Using library: libvirt 9.0.0\nRunning hypervisor: QEMU 7.2.22\n"}
    ]}"#;

    #[test]
    fn bundles_are_known_by_their_first_key() {
        assert!(is_bundle(BUNDLE));
        assert!(!is_bundle(r#"{"return": {}, "guestcpu-capture": 1}"#));
        assert!(!is_bundle("<cpu/>"));
    }

    #[test]
    fn the_host_parts_take_one_answer_of_qemus() {
        let parts = read_bundle(BUNDLE).expect("bundle");
        assert_eq!(parts.len(), 5);
        assert_eq!(parts[1].missing.as_deref(), Some("no /dev/cpu/0/msr"));
        let names: Vec<&str> = host_parts(&parts).iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["cpuid", "domcapabilities"]);
    }

    #[test]
    fn virsh_version_gives_the_releases() {
        let parts = read_bundle(BUNDLE).expect("bundle");
        assert_eq!(
            virsh_version(&parts),
            Some(VirshVersion {
                libvirt: Some("9.0.0".to_string()),
                qemu: Some("7.2.22".to_string()),
            })
        );
        assert_eq!(virsh_version(&parts[..4]), None);
    }

    #[test]
    fn another_format_version_is_refused_at_its_value() {
        let text = r#"{"guestcpu-capture": 2, "parts": []}"#;
        let error = read_bundle(text).expect_err("version 2");
        assert_eq!(error.offset, text.find('2').expect("digit"));
    }
}
