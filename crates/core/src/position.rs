//! Positions in the user's texts: every error an input causes carries the
//! byte offset of the problem ([`Positioned`]), and only here does an offset
//! become the line and column people read, rendered one way everywhere:
//! `NAME:LINE:COLUMN: message` ([`render_at`]).

use std::fmt;

/// Converts a byte offset into a 1-based line and column (in characters).
pub fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

/// `message` at byte `offset` of `text`, which people know as `name`:
/// `NAME:LINE:COLUMN: message`.
pub fn render_at(name: &str, text: &str, offset: usize, message: &str) -> String {
    let (line, column) = line_column(text, offset);
    format!("{name}:{line}:{column}: {message}")
}

/// A problem found in a text: where, as a byte offset, and what. The XML and
/// JSON readers, the host dump parsers and the host input all report it
/// (`xml::XmlError`, `json::Error`, `dump::ParseError`, `host::InputError`
/// name it in each).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Positioned {
    /// Byte offset of the problem in the text read.
    pub offset: usize,
    /// What is wrong, lowercase, tokens in backticks, without a trailing
    /// period or a position.
    pub message: String,
}

impl Positioned {
    pub fn new(offset: usize, message: impl Into<String>) -> Self {
        Positioned {
            offset,
            message: message.into(),
        }
    }

    /// The 1-based line and column (in characters) of the problem in `text`.
    pub fn line_column(&self, text: &str) -> (usize, usize) {
        line_column(text, self.offset)
    }

    /// The error as `LINE:COLUMN: message`, for a text without a name.
    pub fn render(&self, text: &str) -> String {
        let (line, column) = self.line_column(text);
        format!("{line}:{column}: {}", self.message)
    }

    /// The error as `NAME:LINE:COLUMN: message` ([`render_at`]).
    pub fn render_in(&self, name: &str, text: &str) -> String {
        render_at(name, text, self.offset, &self.message)
    }

    /// The message followed by ` at line L column C` in `text`, for
    /// messages that go on inside another (a data file's name, say).
    pub fn describe(&self, text: &str) -> String {
        let (line, column) = self.line_column(text);
        format!("{} at line {line} column {column}", self.message)
    }
}

impl fmt::Display for Positioned {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Positioned {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_lines_and_characters_from_one() {
        let text = "ab\nçd\n";
        assert_eq!(line_column(text, 0), (1, 1));
        assert_eq!(line_column(text, 3), (2, 1));
        // `ç` is two bytes, one column.
        assert_eq!(line_column(text, 5), (2, 2));
        assert_eq!(line_column(text, 99), (3, 1));
    }

    #[test]
    fn one_rendering_names_the_text_line_and_column() {
        let error = Positioned::new(5, "unexpected `d`");
        let text = "ab\nçd";
        assert_eq!(
            error.render_in("host.xml", text),
            "host.xml:2:2: unexpected `d`"
        );
        assert_eq!(error.render(text), "2:2: unexpected `d`");
        assert_eq!(error.describe(text), "unexpected `d` at line 2 column 2");
        assert_eq!(render_at("-", text, 0, "empty"), "-:1:1: empty");
    }
}
