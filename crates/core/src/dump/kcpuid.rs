//! Raw output of Linux's `kcpuid -r` (`tools/arch/x86/kcpuid`).
//!
//! The tool prints each range under a title and a `=====` rule, then one line
//! per leaf, `0x00000001: EAX=0x…, EBX=0x…, ECX=0x…, EDX=0x…`. A leaf with
//! subleaves is a `0x00000007: subleafs:` line followed by one line per subleaf,
//! ` 0: EAX=0x…, …`, numbered in decimal. The tool leaves out all-zero leaves,
//! which libvirt treats as absent anyway.

use super::text::{self, Line};
use super::ParseError;
use crate::cpuid::DataKey;
use crate::facts::{DumpFormat, HostDump};

/// Parses `kcpuid -r` output.
pub fn parse(input: &str) -> Result<HostDump, ParseError> {
    let mut dump = HostDump::new(DumpFormat::Kcpuid);
    // The leaf whose `subleafs:` line opened the current group of subleaf lines.
    let mut subleaf_group: Option<u32> = None;
    let mut leaf_lines = 0usize;
    for line in text::lines(input) {
        let line = line.trimmed();
        if line.text.is_empty() || line.text.starts_with('=') {
            continue;
        }
        let Some(colon) = line.text.find(':') else {
            return Err(unexpected_line(line));
        };
        let label = Line {
            offset: line.offset,
            text: &line.text[..colon],
        };
        let rest = line.tail(colon + 1).trimmed();
        if label.text.starts_with("0x") {
            let leaf = text::parse_hex_u32(label)?;
            if rest.text == "subleafs:" {
                subleaf_group = Some(leaf);
                continue;
            }
            subleaf_group = None;
            dump.cpuid.add(
                DataKey::Cpuid { leaf, subleaf: 0 },
                text::parse_register_list(rest)?,
            );
            leaf_lines += 1;
        } else if label.text.starts_with(|c: char| c.is_ascii_digit()) {
            let subleaf = text::parse_decimal_u32(label)?;
            let leaf = subleaf_group.ok_or_else(|| {
                ParseError::new(
                    label.offset,
                    "a subleaf line without a `0x…: subleafs:` line before it",
                )
            })?;
            dump.cpuid.add(
                DataKey::Cpuid { leaf, subleaf },
                text::parse_register_list(rest)?,
            );
            leaf_lines += 1;
        } else if rest.text.is_empty() && !label.text.contains('=') {
            // A range title such as `Basic Leafs :`.
            subleaf_group = None;
        } else {
            return Err(unexpected_line(line));
        }
    }
    if leaf_lines == 0 {
        return Err(ParseError::new(input.len(), "no CPUID leaf lines found"));
    }
    Ok(dump)
}

fn unexpected_line(line: Line<'_>) -> ParseError {
    ParseError::new(
        line.offset,
        format!(
            "expected a `kcpuid -r` line like `0x00000000: EAX=0x…, EBX=0x…, ECX=0x…, EDX=0x…`, found `{}`",
            text::shown(line.text)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpuid::{Register, Registers};

    const SAMPLE: &str = "Basic Leafs :
================
0x00000000: EAX=0x0000001b, EBX=0x68747541, ECX=0x444d4163, EDX=0x69746e65
0x00000001: EAX=0x00a20f12, EBX=0x0a100800, ECX=0x7ef8320b, EDX=0x178bfbff
0x00000007: subleafs:
  0: EAX=0x00000001, EBX=0x219c97a9, ECX=0x0040068c, EDX=0x00000010
  1: EAX=0x00000000, EBX=0x00000000, ECX=0x00000000, EDX=0x00000000
0x0000000d: subleafs:
  0: EAX=0x00000207, EBX=0x00000988, ECX=0x00000988, EDX=0x00000000
 11: EAX=0x00000010, EBX=0x00000000, ECX=0x00000001, EDX=0x00000000
Extended Leafs :
================
0x80000001: EAX=0x00a20f12, EBX=0x20000000, ECX=0x75c237ff, EDX=0x2fd3fbff
";

    #[test]
    fn parses_leaves_and_subleaves() {
        assert_eq!(crate::dump::detect(SAMPLE), Ok(DumpFormat::Kcpuid));
        let dump = crate::dump::parse(SAMPLE).expect("valid kcpuid -r");
        assert_eq!(dump.description, "kcpuid -r");
        assert_eq!(dump.cpuid.vendor_string().as_deref(), Some("AuthenticAMD"));
        assert_eq!(dump.cpuid.signature().family, 25);
        let leaf1 = dump
            .cpuid
            .get(DataKey::Cpuid {
                leaf: 1,
                subleaf: 0,
            })
            .expect("leaf 1");
        assert_eq!(leaf1.get(Register::Ebx), 0x0010_0800, "APIC ID masked");
        assert_eq!(
            dump.cpuid.get(DataKey::Cpuid {
                leaf: 0xd,
                subleaf: 11
            }),
            Some(&Registers([0x10, 0, 1, 0]))
        );
        assert!(dump
            .cpuid
            .get(DataKey::Cpuid {
                leaf: 7,
                subleaf: 0
            })
            .is_some());
        assert_eq!(dump.cpuid.items().count(), 6);
    }

    #[test]
    fn errors_carry_positions() {
        let text = "Basic Leafs :\n=====\n  3: EAX=0x1, EBX=0x2, ECX=0x3, EDX=0x4\n";
        let err = parse(text).expect_err("orphan subleaf");
        assert_eq!(err.line_column(text), (3, 3));
        let text = "=====\n0x00000000: EAX=0x1, EBX=0x2, ECX=0x3,\n";
        let err = parse(text).expect_err("truncated");
        assert_eq!(
            (err.message.as_str(), err.line_column(text)),
            ("expected `edx=`, found end of line", (2, 39))
        );
        let text = "=====\n0xnothex: EAX=0x1, EBX=0x2, ECX=0x3, EDX=0x4\n";
        assert_eq!(parse(text).expect_err("bad leaf").line_column(text), (2, 1));
        let text = "=====\nrandom words\n";
        assert_eq!(parse(text).expect_err("stray").line_column(text), (2, 1));
    }
}
