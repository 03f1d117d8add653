//! Host CPU inputs in every format guestcpu accepts, detected automatically and
//! turned into one [`HostDump`].
//!
//! Users paste whatever their host gives them: a raw CPUID dump (`cpuid -1r`,
//! `cpuid -r`, `kcpuid -r`, libvirt's `<cpudata>` XML), QEMU's QMP replies,
//! `virsh capabilities` or `virsh domcapabilities`, or `/proc/cpuinfo`. Each
//! format has its own module; [`detect`] recognises the format from its shape
//! and [`parse`] hands the text to the right module. Every format ends in the
//! same [`HostDump`] (an engine-owned type of [`crate::facts`]), so the engine
//! never sees the text formats, nor imports this folder. Formats without
//! raw registers (`/proc/cpuinfo`, QMP) get register data synthesised from what
//! they do say, so the engine can treat them like a dump.
//!
//! Errors carry a byte offset; [`ParseError::line_column`] turns it into a
//! position for people. Bad input of any kind is an error, never a panic.

pub mod capabilities;
pub mod cpudata_xml;
pub mod cpuid_tool;
pub mod domcapabilities;
pub mod kcpuid;
pub mod proc_cpuinfo;
pub mod qmp;
pub mod synthetic;
mod text;

use crate::cpuid::{CpuidData, DataKey, Register};
use crate::xml::{self, Element};

use crate::facts::{DumpFormat, HostDump};

/// Largest input accepted: real dumps are a few hundred kilobytes at most.
pub const MAX_DUMP_BYTES: usize = 16 * 1024 * 1024;

/// File signatures of binary formats people hand in by mistake (an
/// executable, a compressed dump, a screenshot), with their names.
const BINARY_SIGNATURES: [(&[u8], &str); 8] = [
    (b"\x7fELF", "an ELF executable"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"\xfd7zXZ\x00", "an xz archive"),
    (b"\x28\xb5\x2f\xfd", "a zstd archive"),
    (b"BZh", "a bzip2 archive"),
    (b"PK\x03\x04", "a zip archive"),
    (b"\x89PNG", "a PNG image"),
    (b"%PDF", "a PDF document"),
];

/// What binary file `bytes` are, when they are not text: a known file
/// signature, else any NUL byte (no input guestcpu reads has one). `None`
/// for text.
pub fn binary_kind(bytes: &[u8]) -> Option<&'static str> {
    BINARY_SIGNATURES
        .iter()
        .find(|(signature, _)| bytes.starts_with(signature))
        .map(|(_, name)| *name)
        .or_else(|| {
            bytes
                .contains(&0)
                .then_some("a binary file (it has NUL bytes)")
        })
}

/// A problem in a host input, with the byte offset where it was found.
pub type ParseError = crate::position::Positioned;

/// How a user produces `format`, for error messages.
fn how_to_get(format: DumpFormat) -> &'static str {
    match format {
        DumpFormat::CpuDataXml => "libvirt `<cpudata>` XML",
        DumpFormat::CpuidTool => "`cpuid -1r` or `cpuid -r`",
        DumpFormat::Kcpuid => "`kcpuid -r`",
        DumpFormat::Qmp => "QMP replies of `query-cpu-model-expansion` (JSON)",
        DumpFormat::Capabilities => "`virsh capabilities`",
        DumpFormat::DomainCapabilities => "`virsh domcapabilities`",
        DumpFormat::ProcCpuinfo => "`/proc/cpuinfo`",
    }
}

/// Recognises the format of a host input from its shape.
pub fn detect(text: &str) -> Result<DumpFormat, ParseError> {
    sniff(text).map(|sniffed| sniffed.format())
}

/// Detects the format of a host input and parses it.
pub fn parse(text: &str) -> Result<HostDump, ParseError> {
    // XML inputs were parsed to be recognised; their tree is read as it is.
    let mut dump = match sniff(text)? {
        Sniffed::Xml(DumpFormat::CpuDataXml, root) => cpudata_xml::from_root(&root)?,
        Sniffed::Xml(DumpFormat::Capabilities, root) => capabilities::from_root(&root)?,
        Sniffed::Xml(_, root) => domcapabilities::from_root(&root)?,
        Sniffed::Text(format) => return parse_as(format, text),
    };
    mask_volatile_fields(&mut dump.cpuid);
    Ok(dump)
}

/// Parses `text` as `format`, without detection: for callers that know the
/// format, and for fuzzing each parser on its own.
pub fn parse_as(format: DumpFormat, text: &str) -> Result<HostDump, ParseError> {
    refuse_oversized(text)?;
    let mut dump = match format {
        DumpFormat::CpuDataXml => cpudata_xml::parse(text)?,
        DumpFormat::Capabilities => capabilities::parse(text)?,
        DumpFormat::DomainCapabilities => domcapabilities::parse(text)?,
        DumpFormat::CpuidTool => cpuid_tool::parse(text)?,
        DumpFormat::Kcpuid => kcpuid::parse(text)?,
        DumpFormat::Qmp => qmp::parse(text)?,
        DumpFormat::ProcCpuinfo => proc_cpuinfo::parse(text, crate::data::CpuMap::embedded())?,
    };
    mask_volatile_fields(&mut dump.cpuid);
    Ok(dump)
}

/// Clears the bits that differ between CPUs of one host or between runs, as
/// `cpu-data.py` does: the initial APIC ID in leaf 1 `ebx[31:24]` and the
/// x2APIC ID in `edx` of the topology leaves 0xb and 0x1f.
pub fn mask_volatile_fields(data: &mut CpuidData) {
    if let Some(leaf1) = data.get_mut(DataKey::Cpuid {
        leaf: 1,
        subleaf: 0,
    }) {
        leaf1.set(Register::Ebx, leaf1.get(Register::Ebx) & 0x00ff_ffff);
    }
    let topology_keys: Vec<DataKey> = data
        .items()
        .map(|(key, _)| key)
        .filter(|key| {
            matches!(
                key,
                DataKey::Cpuid {
                    leaf: 0xb | 0x1f,
                    ..
                }
            )
        })
        .collect();
    for key in topology_keys {
        if let Some(registers) = data.get_mut(key) {
            registers.set(Register::Edx, 0);
        }
    }
}

/// What detection found: XML formats keep their parsed tree for the parser.
enum Sniffed {
    Xml(DumpFormat, Element),
    Text(DumpFormat),
}

impl Sniffed {
    fn format(&self) -> DumpFormat {
        match self {
            Sniffed::Xml(format, _) | Sniffed::Text(format) => *format,
        }
    }
}

fn accepted_formats() -> String {
    let names: Vec<&str> = DumpFormat::ALL.iter().map(|f| how_to_get(*f)).collect();
    format!("expected one of: {}", names.join(", "))
}

/// Refuses inputs over [`MAX_DUMP_BYTES`] before any parser sees them.
fn refuse_oversized(text: &str) -> Result<(), ParseError> {
    if text.len() > MAX_DUMP_BYTES {
        return Err(ParseError::new(
            0,
            format!(
                "the input is {} bytes long; host inputs over {} MiB are refused",
                text.len(),
                MAX_DUMP_BYTES >> 20
            ),
        ));
    }
    Ok(())
}

fn sniff(text: &str) -> Result<Sniffed, ParseError> {
    refuse_oversized(text)?;
    let body = text.trim_start_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
    let start = text.len() - body.len();
    if body.is_empty() {
        return Err(ParseError::new(
            start,
            format!("the input is empty; {}", accepted_formats()),
        ));
    }
    if body.starts_with('<') {
        let root = xml::parse(text)?;
        let format = match root.name.as_str() {
            "cpudata" => DumpFormat::CpuDataXml,
            "capabilities" => DumpFormat::Capabilities,
            "domainCapabilities" => DumpFormat::DomainCapabilities,
            other => {
                return Err(ParseError::new(
                    root.offset,
                    format!(
                        "`<{}>` is not a host CPU input; {}",
                        text::shown(other),
                        accepted_formats()
                    ),
                ))
            }
        };
        return Ok(Sniffed::Xml(format, root));
    }
    if body.starts_with('{') {
        return Ok(Sniffed::Text(DumpFormat::Qmp));
    }
    sniff_text_lines(text, start)
}

fn sniff_text_lines(text: &str, start: usize) -> Result<Sniffed, ParseError> {
    let mut has_rule = false;
    let mut has_kcpuid_registers = false;
    let mut has_cpuid_tool_registers = false;
    let mut has_cpuinfo_keys = false;
    let mut has_decoded_cpuid = false;
    for line in text::lines(text) {
        let trimmed = line.text.trim();
        if trimmed.starts_with("=====") {
            has_rule = true;
        } else if trimmed.starts_with("0x") {
            has_kcpuid_registers |= trimmed.contains("EAX=");
            has_cpuid_tool_registers |= trimmed.contains(": eax=");
        } else if let Some((key, _)) = trimmed.split_once(':') {
            has_cpuinfo_keys |= matches!(key.trim(), "flags" | "vendor_id" | "processor");
        } else {
            has_decoded_cpuid |= trimmed.starts_with("vendor_id = ");
        }
    }
    if has_rule && has_kcpuid_registers {
        Ok(Sniffed::Text(DumpFormat::Kcpuid))
    } else if has_cpuid_tool_registers {
        Ok(Sniffed::Text(DumpFormat::CpuidTool))
    } else if has_cpuinfo_keys {
        Ok(Sniffed::Text(DumpFormat::ProcCpuinfo))
    } else if has_decoded_cpuid {
        Err(ParseError::new(
            start,
            "this looks like decoded `cpuid` output; run `cpuid -1r` for the raw registers",
        ))
    } else if has_rule {
        Err(ParseError::new(
            start,
            "this looks like `kcpuid` output without `-r`; run `kcpuid -r` for the raw registers",
        ))
    } else {
        Err(ParseError::new(
            start,
            format!("unrecognised host input; {}", accepted_formats()),
        ))
    }
}

/// Where libvirt's test data live, relative to this crate; `None` (with a
/// message) when the shared folder is absent.
#[cfg(test)]
pub(crate) fn cputest_dir() -> Option<std::path::PathBuf> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/libvirt/cputestdata");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!("skipping: {} is absent", dir.display());
        None
    }
}

/// The raw dumps of libvirt's test data, as `(name, xml text, first line of .sig)`.
#[cfg(test)]
pub(crate) fn cputest_dumps(extension: &str) -> Vec<(String, String, String)> {
    let Some(dir) = cputest_dir() else {
        return Vec::new();
    };
    let mut found = Vec::new();
    let entries = std::fs::read_dir(&dir).expect("readable cputestdata folder");
    for entry in entries {
        let path = entry.expect("directory entry").path();
        let file_name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        let Some(name) = file_name
            .strip_prefix("x86_64-cpuid-")
            .and_then(|n| n.strip_suffix(".sig"))
        else {
            continue;
        };
        let data_path = dir.join(format!("x86_64-cpuid-{name}.{extension}"));
        let Ok(data) = std::fs::read_to_string(&data_path) else {
            continue;
        };
        let signature = std::fs::read_to_string(&path).expect("readable .sig file");
        let first_line = signature
            .lines()
            .next()
            .unwrap_or_default()
            .trim()
            .to_owned();
        found.push((name.to_owned(), data, first_line));
    }
    crate::sort::sort(&mut found);
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpuid::Registers;

    #[test]
    fn binary_files_are_named() {
        assert_eq!(binary_kind(b"\x7fELF\x02\x01"), Some("an ELF executable"));
        assert_eq!(binary_kind(b"\x1f\x8b\x08"), Some("a gzip archive"));
        assert_eq!(
            binary_kind(b"abc\0def"),
            Some("a binary file (it has NUL bytes)")
        );
        assert_eq!(binary_kind("<cpu>Penryn</cpu>".as_bytes()), None);
    }

    #[test]
    fn detects_every_format() {
        let cases: [(&str, DumpFormat); 7] = [
            (
                "CPU:\n   0x00000000 0x00: eax=0x1 ebx=0x2 ecx=0x3 edx=0x4\n",
                DumpFormat::CpuidTool,
            ),
            (
                "Basic Leafs :\n================\n0x00000000: EAX=0x1, EBX=0x2, ECX=0x3, EDX=0x4\n",
                DumpFormat::Kcpuid,
            ),
            ("<!-- x -->\n<cpudata arch='x86'/>", DumpFormat::CpuDataXml),
            ("\n{\"return\": {}}", DumpFormat::Qmp),
            (
                "<capabilities><host/></capabilities>",
                DumpFormat::Capabilities,
            ),
            ("<domainCapabilities/>", DumpFormat::DomainCapabilities),
            (
                "processor\t: 0\nvendor_id\t: GenuineIntel\n",
                DumpFormat::ProcCpuinfo,
            ),
        ];
        for (text, format) in cases {
            assert_eq!(detect(text), Ok(format), "{text}");
        }
    }

    #[test]
    fn parse_as_agrees_with_detection_and_refuses_other_formats() {
        let map = crate::data::CpuMap::embedded();
        let xml = synthetic::synthesize_cpudata_xml(map, "Haswell", &[]).expect("Haswell");
        let text = synthetic::cpuid_tool_text(&parse(&xml).expect("synthesized").cpuid, 4);
        for (format, input) in [
            (DumpFormat::CpuDataXml, &xml),
            (DumpFormat::CpuidTool, &text),
        ] {
            assert_eq!(parse_as(format, input), parse(input), "{format}");
            for other in DumpFormat::ALL.into_iter().filter(|f| *f != format) {
                let err = parse_as(other, input).expect_err("another format");
                assert!(err.offset <= input.len(), "{other}: {err:?}");
            }
        }
        let huge = " ".repeat(MAX_DUMP_BYTES + 1);
        let err = parse_as(DumpFormat::ProcCpuinfo, &huge).expect_err("oversized");
        assert!(err.message.contains("over 16 MiB"), "{}", err.message);
    }

    #[test]
    fn unknown_input_lists_accepted_formats() {
        let text = "\n\nhello world\n";
        let err = detect(text).expect_err("unknown");
        assert!(
            err.message
                .starts_with("unrecognised host input; expected one of: `cpuid -1r`"),
            "{}",
            err.message
        );
        assert!(err.message.contains("`/proc/cpuinfo`"));
        assert_eq!(err.line_column(text), (3, 1));
        assert!(err.render(text).starts_with("3:1: unrecognised"));
    }

    #[test]
    fn wrong_xml_root_is_named() {
        let text = "<?xml version='1.0'?>\n<domain type='kvm'/>";
        let err = detect(text).expect_err("domain XML");
        assert!(
            err.message
                .starts_with("`<domain>` is not a host CPU input"),
            "{}",
            err.message
        );
        assert_eq!(err.line_column(text), (2, 1));
    }

    #[test]
    fn empty_and_oversized_inputs_are_refused() {
        let err = detect(" \n\t").expect_err("empty");
        assert!(
            err.message.starts_with("the input is empty"),
            "{}",
            err.message
        );
        let huge = " ".repeat(MAX_DUMP_BYTES + 1);
        let err = detect(&huge).expect_err("huge");
        assert_eq!(err.offset, 0);
        assert!(err.message.contains("over 16 MiB"), "{}", err.message);
    }

    #[test]
    fn decoded_cpuid_output_gets_a_hint() {
        let text = "CPU 0:\n   vendor_id = \"GenuineIntel\"\n";
        let err = detect(text).expect_err("decoded");
        assert!(err.message.contains("`cpuid -1r`"), "{}", err.message);
    }

    #[test]
    fn binary_garbage_is_an_error_not_a_panic() {
        let mut garbage = String::new();
        let mut state = 0x1234_5678_u32;
        for _ in 0..4096 {
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12345);
            garbage.push(char::from_u32(state >> 16 & 0x7ff).unwrap_or('?'));
        }
        for prefix in ["", "<", "{", "0x00000000 0x00: eax=", "=====\n0x1: EAX="] {
            let text = format!("{prefix}{garbage}");
            assert!(parse(&text).is_err(), "{prefix}");
        }
        // Unknown /proc/cpuinfo flags are notes, not errors: only no panic here.
        let _ = parse(&format!("flags\t: {garbage}"));
    }

    #[test]
    fn masking_clears_apic_ids() {
        let mut data = CpuidData::new();
        data.add(
            DataKey::Cpuid {
                leaf: 1,
                subleaf: 0,
            },
            Registers([0x306c3, 0x0710_0800, 1, 1]),
        );
        data.add(
            DataKey::Cpuid {
                leaf: 0xb,
                subleaf: 1,
            },
            Registers([1, 2, 0x201, 0x17]),
        );
        data.add(
            DataKey::Cpuid {
                leaf: 0x1f,
                subleaf: 0,
            },
            Registers([0, 0, 0, 0x17]),
        );
        mask_volatile_fields(&mut data);
        assert_eq!(
            data.get(DataKey::Cpuid {
                leaf: 1,
                subleaf: 0
            }),
            Some(&Registers([0x306c3, 0x0010_0800, 1, 1]))
        );
        assert_eq!(
            data.get(DataKey::Cpuid {
                leaf: 0xb,
                subleaf: 1
            }),
            Some(&Registers([1, 2, 0x201, 0]))
        );
        assert_eq!(
            data.get(DataKey::Cpuid {
                leaf: 0x1f,
                subleaf: 0
            }),
            None
        );
    }
}
