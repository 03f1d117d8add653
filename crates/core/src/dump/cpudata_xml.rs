//! libvirt's `<cpudata arch='x86'>` XML: raw CPUID and MSR items.
//!
//! Two layouts exist and both are accepted: libvirt's own (`ecx_in='0x%08x'`,
//! MSR `eax` before `edx`) and that of libvirt's `cpu-data.py`, which wrote the
//! test dumps (`ecx_in='0x%02x'`, MSR `edx` before `eax`, a leading comment).
//! Numbers follow C's base-0 rules as in libvirt. As in libvirt, any child that
//! is neither `cpuid` nor `alias` is read as an `msr`, and items with the same
//! key are ORed together.

use super::text::{self, Line};
use super::ParseError;
use crate::cpuid::{CpuidData, DataKey, Registers};
use crate::facts::{DumpFormat, HostDump};
use crate::xml::{self, Element};

/// Parses a `<cpudata>` document.
pub fn parse(text: &str) -> Result<HostDump, ParseError> {
    from_root(&xml::parse(text)?)
}

/// Reads the data of a parsed `<cpudata>` root element.
pub fn from_root(root: &Element) -> Result<HostDump, ParseError> {
    let mut dump = HostDump::new(DumpFormat::CpuDataXml);
    dump.cpuid = cpuid_data(root)?;
    Ok(dump)
}

/// The CPUID/MSR items of a `<cpudata>` element.
pub fn cpuid_data(root: &Element) -> Result<CpuidData, ParseError> {
    if root.name != "cpudata" {
        return Err(ParseError::new(
            root.offset,
            format!(
                "expected `<cpudata>`, found `<{}>`",
                text::shown(&root.name)
            ),
        ));
    }
    match root.attribute("arch") {
        None => {
            return Err(ParseError::new(
                root.offset,
                "missing attribute `arch` in `<cpudata>`",
            ))
        }
        Some(arch) if arch.value != "x86" => {
            return Err(ParseError::new(
                arch.offset,
                format!(
                    "CPU data for architecture `{}` is not supported, only `x86`",
                    text::shown(&arch.value)
                ),
            ))
        }
        Some(_) => {}
    }
    if root.children.is_empty() {
        return Err(ParseError::new(root.offset, "no x86 CPU data found"));
    }
    let mut data = CpuidData::new();
    for child in &root.children {
        match child.name.as_str() {
            "alias" => {}
            "cpuid" => {
                let key = DataKey::Cpuid {
                    leaf: number(child, "eax_in", Required::Yes)?,
                    subleaf: number(child, "ecx_in", Required::No)?,
                };
                let registers = Registers([
                    number(child, "eax", Required::No)?,
                    number(child, "ebx", Required::No)?,
                    number(child, "ecx", Required::No)?,
                    number(child, "edx", Required::No)?,
                ]);
                data.add(key, registers);
            }
            _ => {
                let key = DataKey::Msr {
                    index: number(child, "index", Required::Yes)?,
                };
                let registers = Registers([
                    number(child, "eax", Required::No)?,
                    0,
                    0,
                    number(child, "edx", Required::No)?,
                ]);
                data.add(key, registers);
            }
        }
    }
    Ok(data)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Required {
    Yes,
    No,
}

/// An attribute read as a C base-0 number; absent optional ones are 0.
fn number(element: &Element, name: &str, required: Required) -> Result<u32, ParseError> {
    let Some(attribute) = element.attribute(name) else {
        return match required {
            Required::Yes => Err(ParseError::new(
                element.offset,
                format!(
                    "missing attribute `{name}` in `<{}>`",
                    text::shown(&element.name)
                ),
            )),
            Required::No => Ok(0),
        };
    };
    text::parse_c_u32(Line {
        offset: attribute.offset,
        text: &attribute.value,
    })
    .map_err(|error| {
        ParseError::new(
            error.offset,
            format!("attribute `{name}`: {}", error.message),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "<!-- Example -->
<cpudata arch='x86'>
  <cpuid eax_in='0x00000000' ecx_in='0x00' eax='0x0000000d' ebx='0x756e6547' ecx='0x6c65746e' edx='0x49656e69'/>
  <cpuid eax_in='0x00000001' ecx_in='0x00000000' eax='0x000306c3' ebx='0x02100800' ecx='0x7ffafbff' edx='0xbfebfbff'/>
  <cpuid eax_in='7' eax='0' ebx='01' ecx='0x0' edx='0x0'/>
  <cpuid eax_in='7' ebx='02'/>
  <msr index='0x10a' edx='0x00000001' eax='0x000001eb'/>
  <msr index='0xcf' eax='0x00000002' edx='0x00000000'/>
</cpudata>
";

    #[test]
    fn parses_both_layouts_and_ors_duplicates() {
        let dump = parse(SAMPLE).expect("valid cpudata");
        assert_eq!(dump.format, DumpFormat::CpuDataXml);
        assert_eq!(dump.cpuid.vendor_string().as_deref(), Some("GenuineIntel"));
        let sig = dump.cpuid.signature();
        assert_eq!((sig.family, sig.model, sig.stepping), (6, 60, 3));
        assert_eq!(
            dump.cpuid.get(DataKey::Cpuid {
                leaf: 7,
                subleaf: 0
            }),
            Some(&Registers([0, 3, 0, 0]))
        );
        assert_eq!(
            dump.cpuid.get(DataKey::Msr { index: 0x10a }),
            Some(&Registers([0x1eb, 0, 0, 1]))
        );
        assert_eq!(
            dump.cpuid.get(DataKey::Msr { index: 0xcf }),
            Some(&Registers([2, 0, 0, 0]))
        );
    }

    #[test]
    fn empty_cpudata_is_an_error() {
        let text = "<!-- c -->\n<cpudata arch='x86'>\n</cpudata>";
        let err = parse(text).expect_err("no items");
        assert_eq!(err.message, "no x86 CPU data found");
        assert_eq!(err.line_column(text), (2, 1));
    }

    #[test]
    fn bad_numbers_point_at_their_element() {
        let text = "<cpudata arch='x86'>\n  <cpuid eax_in='0x1' eax='0xzz'/>\n</cpudata>";
        let err = parse(text).expect_err("bad number");
        assert!(
            err.message
                .starts_with("attribute `eax`: expected a number"),
            "{}",
            err.message
        );
        assert_eq!(err.line_column(text), (2, 23));
        let text = "<cpudata arch='x86'>\n  <msr eax='1'/>\n</cpudata>";
        let err = parse(text).expect_err("missing index");
        assert_eq!(
            (err.message.as_str(), err.line_column(text)),
            ("missing attribute `index` in `<msr>`", (2, 3))
        );
        let text = "<cpudata arch='x86'><cpuid eax_in='4294967296'/></cpudata>";
        assert!(parse(text)
            .expect_err("huge")
            .message
            .contains("does not fit in 32 bits"));
    }

    #[test]
    fn other_architectures_are_refused() {
        let err = parse("<cpudata arch='arm'><cpuid eax_in='0'/></cpudata>").expect_err("arm");
        assert!(err.message.contains("`arm`"), "{}", err.message);
    }

    #[test]
    fn cputest_dumps_parse_with_their_signatures() {
        let dumps = super::super::cputest_dumps("xml");
        for (name, text, expected_signature) in &dumps {
            let dump =
                super::super::parse(text).unwrap_or_else(|e| panic!("{name}: {}", e.render(text)));
            assert_eq!(dump.format, DumpFormat::CpuDataXml, "{name}");
            assert!(!dump.cpuid.is_empty(), "{name}");
            let signature = format!("{:06x}", dump.cpuid.signature().to_eax());
            assert_eq!(&signature, expected_signature, "{name}");
        }
        if super::super::cputest_dir().is_some() {
            assert!(dumps.len() >= 30, "only {} dumps found", dumps.len());
        }
    }
}
