//! Raw output of Todd Allen's `cpuid` tool: `cpuid -1r` (one CPU) or `cpuid -r`
//! (every CPU, of which CPU 0 is used).
//!
//! Each CPU starts with a `CPU:` or `CPU N:` line, followed by one line per leaf
//! and subleaf: `0x00000007 0x00: eax=0x00000000 ebx=0x… ecx=0x… edx=0x…`. The
//! lines of the other CPUs are checked too, so that a damaged file is reported
//! rather than half read, but only the first CPU's registers are kept: guests
//! see one CPU model, and libvirt's `cpu-data.py` also reads a single CPU.

use super::text::{self, Line};
use super::ParseError;
use crate::cpuid::DataKey;
use crate::facts::{DumpFormat, HostDump};

/// Parses `cpuid -1r` or `cpuid -r` output.
pub fn parse(input: &str) -> Result<HostDump, ParseError> {
    let mut dump = HostDump::new(DumpFormat::CpuidTool);
    let mut cpu_headers: Vec<Option<u32>> = Vec::new();
    let mut leaf_lines = 0usize;
    for line in text::lines(input) {
        let line = line.trimmed();
        if line.text.is_empty() {
            continue;
        }
        if let Some(header) = line
            .text
            .strip_prefix("CPU")
            .and_then(|h| h.strip_suffix(':'))
        {
            let number = line.tail(3);
            let number = Line {
                offset: number.offset,
                text: header,
            }
            .trimmed();
            cpu_headers.push(if number.text.is_empty() {
                None
            } else {
                Some(text::parse_decimal_u32(number)?)
            });
            continue;
        }
        if !line.text.starts_with("0x") {
            return Err(ParseError::new(
                line.offset,
                format!(
                    "expected a `cpuid -r` line like `0x00000000 0x00: eax=0x… ebx=0x… ecx=0x… edx=0x…`, found `{}`",
                    text::shown(line.text)
                ),
            ));
        }
        let (key, registers) = parse_leaf_line(line)?;
        leaf_lines += 1;
        if cpu_headers.len() <= 1 {
            dump.cpuid.add(key, registers);
        }
    }
    if leaf_lines == 0 {
        return Err(ParseError::new(input.len(), "no CPUID leaf lines found"));
    }
    match cpu_headers.first() {
        Some(Some(first)) => {
            let count = cpu_headers.len();
            dump.description = format!("cpuid -r, CPU {first} of {count}");
            if count > 1 {
                dump.notes.push(format!(
                    "used CPU {first} of {count}; the other CPUs are assumed to be the same"
                ));
            }
        }
        _ => dump.description = "cpuid -1r".to_owned(),
    }
    Ok(dump)
}

/// Reads `0xLEAF 0xSUB: eax=… ebx=… ecx=… edx=…`.
fn parse_leaf_line(line: Line<'_>) -> Result<(DataKey, crate::cpuid::Registers), ParseError> {
    let colon = line.text.find(':').ok_or_else(|| {
        ParseError::new(
            line.end(),
            "expected `:` after the leaf and subleaf, found end of line",
        )
    })?;
    let mut inputs = text::words(
        Line {
            offset: line.offset,
            text: &line.text[..colon],
        },
        &[],
    );
    let leaf = inputs.next().map(text::parse_hex_u32).transpose()?;
    let subleaf = inputs.next().map(text::parse_hex_u32).transpose()?;
    let (Some(leaf), Some(subleaf)) = (leaf, subleaf) else {
        return Err(ParseError::new(
            line.offset,
            "expected a leaf and a subleaf like `0x00000007 0x00`",
        ));
    };
    if let Some(extra) = inputs.next() {
        return Err(ParseError::new(
            extra.offset,
            format!("unexpected `{}` before `:`", text::shown(extra.text)),
        ));
    }
    let registers = text::parse_register_list(line.tail(colon + 1))?;
    Ok((DataKey::Cpuid { leaf, subleaf }, registers))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpuid::{Register, Registers};
    use crate::dump::{cpudata_xml, mask_volatile_fields};

    const SINGLE: &str = "CPU:
   0x00000000 0x00: eax=0x0000000d ebx=0x756e6547 ecx=0x6c65746e edx=0x49656e69
   0x00000001 0x00: eax=0x000306c3 ebx=0x07100800 ecx=0x7ffafbff edx=0xbfebfbff
   0x00000007 0x00: eax=0x00000000 ebx=0x000027ab ecx=0x00000000 edx=0x9c000000
   0x0000000b 0x01: eax=0x00000004 ebx=0x00000008 ecx=0x00000201 edx=0x00000007
   0x80000001 0x00: eax=0x00000000 ebx=0x00000000 ecx=0x00000021 edx=0x2c100800
";

    #[test]
    fn parses_single_cpu_output() {
        let dump = crate::dump::parse(SINGLE).expect("valid cpuid -1r");
        assert_eq!(dump.format, DumpFormat::CpuidTool);
        assert_eq!(dump.description, "cpuid -1r");
        assert_eq!(dump.cpuid.vendor_string().as_deref(), Some("GenuineIntel"));
        let leaf1 = dump
            .cpuid
            .get(DataKey::Cpuid {
                leaf: 1,
                subleaf: 0,
            })
            .expect("leaf 1");
        assert_eq!(leaf1.get(Register::Ebx), 0x0010_0800, "APIC ID masked");
        let topology = dump
            .cpuid
            .get(DataKey::Cpuid {
                leaf: 0xb,
                subleaf: 1,
            })
            .expect("leaf 0xb");
        assert_eq!(topology.get(Register::Edx), 0, "x2APIC ID masked");
        assert_eq!(dump.cpuid.items().count(), 5);
    }

    #[test]
    fn uses_cpu_zero_of_many() {
        let text = "CPU 0:\n   0x00000000 0x00: eax=0x1 ebx=0x0 ecx=0x0 edx=0x0\n\
                    CPU 1:\n   0x00000000 0x00: eax=0x2 ebx=0x0 ecx=0x0 edx=0x0\n   0x00000002 0x00: eax=0x2 ebx=0x0 ecx=0x0 edx=0x0\n";
        let dump = parse(text).expect("valid cpuid -r");
        assert_eq!(dump.description, "cpuid -r, CPU 0 of 2");
        assert_eq!(
            dump.notes,
            vec!["used CPU 0 of 2; the other CPUs are assumed to be the same".to_owned()]
        );
        assert_eq!(dump.cpuid.items().count(), 1);
        assert_eq!(
            dump.cpuid.get(DataKey::Cpuid {
                leaf: 0,
                subleaf: 0
            }),
            Some(&Registers([1, 0, 0, 0]))
        );
    }

    #[test]
    fn errors_point_at_the_bad_token() {
        let text = "CPU:\n   0x00000000 0x00: eax=0x1 ebx=0x2 ecx=0xg edx=0x4\n";
        let err = parse(text).expect_err("bad hex");
        assert_eq!(err.line_column(text), (2, 41));
        let text = "CPU:\n   0x00000000 0x00: eax=0x1 ebx=0x2\n";
        let err = parse(text).expect_err("truncated");
        assert_eq!(
            (err.message.as_str(), err.line_column(text)),
            ("expected `ecx=`, found end of line", (2, 36))
        );
        let text = "CPU:\n   0x00000000\n";
        assert_eq!(
            parse(text).expect_err("no colon").line_column(text),
            (2, 14)
        );
        let text = "CPU:\n   0x123456789 0x00: eax=0x1 ebx=0x2 ecx=0x3 edx=0x4\n";
        let err = parse(text).expect_err("huge leaf");
        assert_eq!(
            (err.message.as_str(), err.line_column(text)),
            ("number `0x123456789` does not fit in 32 bits", (2, 4))
        );
        let text = "CPU:\nsomething else\n";
        assert_eq!(
            parse(text).expect_err("stray line").line_column(text),
            (2, 1)
        );
        assert_eq!(
            parse("CPU:\n").expect_err("no leaves").message,
            "no CPUID leaf lines found"
        );
    }

    #[test]
    fn cputest_dumps_round_trip_through_cpuid_tool_layout() {
        for (name, xml, _) in crate::dump::cputest_dumps("xml") {
            let mut expected = cpudata_xml::parse(&xml).expect("valid cpudata").cpuid;
            mask_volatile_fields(&mut expected);
            let text = crate::dump::synthetic::cpuid_tool_text(&expected, 4);
            let dump =
                crate::dump::parse(&text).unwrap_or_else(|e| panic!("{name}: {}", e.render(&text)));
            assert_eq!(dump.description, "cpuid -r, CPU 0 of 4", "{name}");
            let expected_cpuid: Vec<_> = expected
                .items()
                .filter(|(k, _)| matches!(k, DataKey::Cpuid { .. }))
                .collect();
            let found: Vec<_> = dump.cpuid.items().collect();
            assert_eq!(found, expected_cpuid, "{name}");
        }
    }
}
