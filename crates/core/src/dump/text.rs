//! Line, word and number helpers shared by the text dump formats.
//!
//! The text formats (`cpuid -r`, `kcpuid -r`, `/proc/cpuinfo`) are read line by
//! line, and every error must point at the token that is wrong. These helpers
//! keep the byte offset of each line and word so that the format parsers never
//! have to do offset arithmetic themselves.

use super::ParseError;
use crate::cpuid::{Register, Registers};

/// One line of the input, without its line terminator.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Line<'a> {
    /// Byte offset of the first character of the line.
    pub offset: usize,
    pub text: &'a str,
}

impl<'a> Line<'a> {
    /// The line without leading and trailing whitespace, with its offset.
    pub fn trimmed(&self) -> Line<'a> {
        let start = self.text.len() - self.text.trim_start().len();
        Line {
            offset: self.offset + start,
            text: self.text.trim(),
        }
    }

    /// The part of the line from byte `start` on, with its offset.
    pub fn tail(&self, start: usize) -> Line<'a> {
        let start = start.min(self.text.len());
        Line {
            offset: self.offset + start,
            text: self.text.get(start..).unwrap_or(""),
        }
    }

    /// Offset just past the end of the line, where "end of line" errors point.
    pub fn end(&self) -> usize {
        self.offset + self.text.len()
    }
}

/// The lines of `text` with their offsets; `\r\n` and `\n` both end a line.
pub(crate) fn lines(text: &str) -> impl Iterator<Item = Line<'_>> + '_ {
    let mut offset = 0;
    text.split_inclusive('\n').map(move |raw| {
        let line = Line {
            offset,
            text: raw.trim_end_matches(['\n', '\r']),
        };
        offset += raw.len();
        line
    })
}

/// The words of a line, split at whitespace and at `separators`, with offsets.
pub(crate) fn words<'a>(
    line: Line<'a>,
    separators: &'a [char],
) -> impl Iterator<Item = Line<'a>> + 'a {
    let is_separator = move |c: char| c.is_whitespace() || separators.contains(&c);
    let mut rest = line;
    std::iter::from_fn(move || {
        let start = rest.text.find(|c: char| !is_separator(c))?;
        let word = rest.tail(start);
        let length = word.text.find(is_separator).unwrap_or(word.text.len());
        rest = word.tail(length);
        Some(Line {
            offset: word.offset,
            text: &word.text[..length],
        })
    })
}

/// A token for an error message: long or binary tokens are cut short.
pub(crate) fn shown(token: &str) -> String {
    const LIMIT: usize = 40;
    let printable: String = token
        .chars()
        .map(|c| if c.is_control() { '\u{fffd}' } else { c })
        .take(LIMIT + 1)
        .collect();
    if printable.chars().count() > LIMIT {
        format!("{}…", printable.chars().take(LIMIT).collect::<String>())
    } else {
        printable
    }
}

/// Parses `0x`-prefixed hexadecimal, as the CPUID tools print it.
pub(crate) fn parse_hex_u32(token: Line<'_>) -> Result<u32, ParseError> {
    let digits = token
        .text
        .strip_prefix("0x")
        .or_else(|| token.text.strip_prefix("0X"))
        .filter(|d| !d.is_empty() && d.chars().all(|c| c.is_ascii_hexdigit()))
        .ok_or_else(|| {
            ParseError::new(
                token.offset,
                format!(
                    "expected a hexadecimal number like `0x0000000d`, found `{}`",
                    shown(token.text)
                ),
            )
        })?;
    u32::from_str_radix(digits, 16).map_err(|_| too_big(token))
}

/// Parses a decimal number.
pub(crate) fn parse_decimal_u32(token: Line<'_>) -> Result<u32, ParseError> {
    if token.text.is_empty() || !token.text.chars().all(|c| c.is_ascii_digit()) {
        return Err(ParseError::new(
            token.offset,
            format!("expected a decimal number, found `{}`", shown(token.text)),
        ));
    }
    token.text.parse().map_err(|_| too_big(token))
}

/// Parses a number with C's base-0 rules (`strtoul(s, NULL, 0)` as libvirt uses
/// it): `0x` means hexadecimal, a leading `0` octal, anything else decimal.
/// Leading whitespace is skipped; signs and trailing characters are refused.
pub(crate) fn parse_c_u32(token: Line<'_>) -> Result<u32, ParseError> {
    let value = token.text.trim_start();
    let (digits, radix) = if let Some(hex) = value
        .strip_prefix("0x")
        .or_else(|| value.strip_prefix("0X"))
    {
        (hex, 16)
    } else if value.len() > 1 && value.starts_with('0') {
        (&value[1..], 8)
    } else {
        (value, 10)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return Err(ParseError::new(
            token.offset,
            format!(
                "expected a number like `0x1f` or `31`, found `{}`",
                shown(token.text)
            ),
        ));
    }
    u32::from_str_radix(digits, radix).map_err(|_| too_big(token))
}

fn too_big(token: Line<'_>) -> ParseError {
    ParseError::new(
        token.offset,
        format!("number `{}` does not fit in 32 bits", shown(token.text)),
    )
}

/// Parses `eax=0x… ebx=0x… ecx=0x… edx=0x…` (names in any case, separated by
/// whitespace or commas), requiring all four registers in this order.
pub(crate) fn parse_register_list(list: Line<'_>) -> Result<Registers, ParseError> {
    let mut registers = Registers::default();
    let mut assignments = words(list, &[',']);
    for register in Register::ALL {
        let assignment = assignments.next().ok_or_else(|| {
            ParseError::new(
                list.end(),
                format!("expected `{}=`, found end of line", register.name()),
            )
        })?;
        let value = assignment
            .text
            .split_once('=')
            .filter(|(name, _)| name.eq_ignore_ascii_case(register.name()))
            .map(|(name, _)| assignment.tail(name.len() + 1))
            .ok_or_else(|| {
                ParseError::new(
                    assignment.offset,
                    format!(
                        "expected `{}=`, found `{}`",
                        register.name(),
                        shown(assignment.text)
                    ),
                )
            })?;
        registers.set(register, parse_hex_u32(value)?);
    }
    if let Some(extra) = assignments.next() {
        return Err(ParseError::new(
            extra.offset,
            format!("unexpected `{}` after `edx`", shown(extra.text)),
        ));
    }
    Ok(registers)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(text: &str) -> Line<'_> {
        Line { offset: 0, text }
    }

    #[test]
    fn words_keep_offsets() {
        let found: Vec<(usize, &str)> = words(line("  a, bb\tc"), &[','])
            .map(|w| (w.offset, w.text))
            .collect();
        assert_eq!(found, vec![(2, "a"), (5, "bb"), (8, "c")]);
    }

    #[test]
    fn c_numbers_follow_base_zero_rules() {
        assert_eq!(parse_c_u32(line("0x1f")), Ok(31));
        assert_eq!(parse_c_u32(line("017")), Ok(15));
        assert_eq!(parse_c_u32(line("0")), Ok(0));
        assert_eq!(parse_c_u32(line(" 42")), Ok(42));
        assert!(parse_c_u32(line("08")).is_err());
        assert!(parse_c_u32(line("-1")).is_err());
        assert!(parse_c_u32(line("0x")).is_err());
        let err = parse_c_u32(line("0x100000000")).expect_err("too big");
        assert_eq!(err.message, "number `0x100000000` does not fit in 32 bits");
    }

    #[test]
    fn register_list_errors_point_at_the_token() {
        let err = parse_register_list(line("eax=0x1 ebx=0x2 ecx=zz edx=0x4")).expect_err("bad hex");
        assert_eq!(err.offset, 20);
        let err = parse_register_list(line("eax=0x1 ebx=0x2")).expect_err("truncated");
        assert_eq!(
            (err.offset, err.message.as_str()),
            (15, "expected `ecx=`, found end of line")
        );
        let regs =
            parse_register_list(line("EAX=0x1, EBX=0x2, ECX=0x3, EDX=0x4")).expect("kcpuid style");
        assert_eq!(regs, Registers([1, 2, 3, 4]));
    }

    #[test]
    fn shown_cuts_long_tokens() {
        assert_eq!(shown(&"x".repeat(100)).chars().count(), 41);
        assert_eq!(shown("a\u{0}b"), "a\u{fffd}b");
    }
}
