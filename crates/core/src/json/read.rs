//! The JSON reader: text to a [`Value`] tree whose every node knows its byte
//! offset, plus the typed accessors the crate's readers use to turn a tree into
//! their own types with positioned errors.
//!
//! Strings without escapes borrow from the input; numbers are kept as written
//! (validated) and converted only when asked. Nesting is bounded by
//! [`MAX_DEPTH`], so a crafted input cannot overflow the stack.

use std::borrow::Cow;

/// How deeply arrays and objects may nest.
pub const MAX_DEPTH: usize = 128;

/// One JSON value and where it starts in the text.
#[derive(Debug, Clone, PartialEq)]
pub struct Value<'a> {
    /// Byte offset of the value's first character.
    pub offset: usize,
    pub kind: Kind<'a>,
}

/// What a [`Value`] is.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind<'a> {
    Null,
    Bool(bool),
    /// A number exactly as written, e.g. `-1`, `2.5e3`.
    Number(&'a str),
    String(Cow<'a, str>),
    Array(Vec<Value<'a>>),
    /// Members in the order written; a repeated key keeps every occurrence and
    /// lookups see the last, as `JSON.parse` does.
    Object(Vec<(Cow<'a, str>, Value<'a>)>),
}

/// A malformed text, or a value that is not what the reader expected.
pub type Error = crate::position::Positioned;

/// Parses a text holding exactly one JSON value (whitespace around it is fine).
pub fn parse(text: &str) -> Result<Value<'_>, Error> {
    let mut reader = Reader { text, pos: 0 };
    reader.skip_whitespace();
    let value = reader.value(0)?;
    reader.skip_whitespace();
    if reader.pos < text.len() {
        return Err(reader.error("trailing characters after the JSON value"));
    }
    Ok(value)
}

/// The JSON values of a text holding any number of them one after another, as
/// QMP logs do. The iteration ends after the first error.
pub fn parse_many(text: &str) -> Values<'_> {
    Values {
        reader: Reader { text, pos: 0 },
        failed: false,
    }
}

/// The iterator of [`parse_many`].
pub struct Values<'a> {
    reader: Reader<'a>,
    failed: bool,
}

impl<'a> Iterator for Values<'a> {
    type Item = Result<Value<'a>, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        self.reader.skip_whitespace();
        if self.reader.pos >= self.reader.text.len() {
            return None;
        }
        let value = self.reader.value(0);
        self.failed = value.is_err();
        Some(value)
    }
}

struct Reader<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Reader<'a> {
    /// An error at the current position; at the end of the text, an "unexpected
    /// end" at its last character (where an editor shows the cut).
    fn error(&self, message: &str) -> Error {
        if self.pos >= self.text.len() {
            let last = self.text.char_indices().next_back().map_or(0, |(at, _)| at);
            Error::new(last, "unexpected end of input")
        } else {
            Error::new(self.pos, message)
        }
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn skip_whitespace(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn expect(&mut self, byte: u8, message: &str) -> Result<(), Error> {
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.error(message))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value<'a>, Error> {
        let offset = self.pos;
        let kind = match self.peek() {
            Some(b'{') => self.object(depth)?,
            Some(b'[') => self.array(depth)?,
            Some(b'"') => Kind::String(self.string()?),
            Some(b't') => self.literal("true", Kind::Bool(true))?,
            Some(b'f') => self.literal("false", Kind::Bool(false))?,
            Some(b'n') => self.literal("null", Kind::Null)?,
            Some(b'-' | b'0'..=b'9') => Kind::Number(self.number()?),
            _ => return Err(self.error("expected a JSON value")),
        };
        Ok(Value { offset, kind })
    }

    fn literal(&mut self, word: &str, kind: Kind<'a>) -> Result<Kind<'a>, Error> {
        let rest = &self.text[self.pos..];
        if rest.starts_with(word) {
            self.pos += word.len();
            Ok(kind)
        } else {
            if word.starts_with(rest) {
                // Cut short: `tr` at the very end.
                self.pos = self.text.len();
            }
            Err(self.error("expected a JSON value"))
        }
    }

    fn digits(&mut self) -> Result<(), Error> {
        if !matches!(self.peek(), Some(b'0'..=b'9')) {
            return Err(self.error("expected a digit"));
        }
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
        Ok(())
    }

    fn number(&mut self) -> Result<&'a str, Error> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        if self.peek() == Some(b'0') {
            self.pos += 1;
        } else {
            self.digits()?;
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            self.digits()?;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            self.digits()?;
        }
        let number = &self.text[start..self.pos];
        if beyond_f64(number) {
            // At the number's last digit, where a streaming reader notices.
            return Err(Error::new(self.pos - 1, "number out of range"));
        }
        Ok(number)
    }

    fn string(&mut self) -> Result<Cow<'a, str>, Error> {
        self.expect(b'"', "expected a string")?;
        let bytes = self.text.as_bytes();
        let start = self.pos;
        while let Some(&byte) = bytes.get(self.pos) {
            match byte {
                b'"' => {
                    self.pos += 1;
                    return Ok(Cow::Borrowed(&self.text[start..self.pos - 1]));
                }
                b'\\' => break,
                0..=0x1f => return Err(self.error("control character in a string")),
                _ => self.pos += 1,
            }
        }
        let mut owned = self.text[start..self.pos].to_owned();
        loop {
            let Some(byte) = self.peek() else {
                return Err(self.error("unterminated string"));
            };
            match byte {
                b'"' => {
                    self.pos += 1;
                    return Ok(Cow::Owned(owned));
                }
                b'\\' => {
                    self.pos += 1;
                    self.escape(&mut owned)?;
                }
                0..=0x1f => return Err(self.error("control character in a string")),
                _ => {
                    let run = self.text[self.pos..]
                        .find(['"', '\\'])
                        .map_or(self.text.len(), |n| self.pos + n);
                    let chunk = &self.text[self.pos..run];
                    if let Some(bad) = chunk.bytes().position(|b| b < 0x20) {
                        self.pos += bad;
                        return Err(self.error("control character in a string"));
                    }
                    owned.push_str(chunk);
                    self.pos = run;
                }
            }
        }
    }

    /// One escape after its backslash, appended to `out`.
    fn escape(&mut self, out: &mut String) -> Result<(), Error> {
        let escaped = match self.peek() {
            Some(b'"') => '"',
            Some(b'\\') => '\\',
            Some(b'/') => '/',
            Some(b'b') => '\u{8}',
            Some(b'f') => '\u{c}',
            Some(b'n') => '\n',
            Some(b'r') => '\r',
            Some(b't') => '\t',
            Some(b'u') => {
                self.pos += 1;
                let unit = self.hex4()?;
                let code = if (0xd800..0xdc00).contains(&unit) {
                    if !self.text[self.pos..].starts_with("\\u") {
                        return Err(self.error("unpaired surrogate in a `\\u` escape"));
                    }
                    self.pos += 2;
                    let low = self.hex4()?;
                    if !(0xdc00..0xe000).contains(&low) {
                        return Err(self.error("unpaired surrogate in a `\\u` escape"));
                    }
                    0x10000 + ((unit - 0xd800) << 10) + (low - 0xdc00)
                } else {
                    unit
                };
                let c = char::from_u32(code)
                    .ok_or_else(|| self.error("unpaired surrogate in a `\\u` escape"))?;
                out.push(c);
                return Ok(());
            }
            _ => return Err(self.error("invalid escape")),
        };
        self.pos += 1;
        out.push(escaped);
        Ok(())
    }

    fn hex4(&mut self) -> Result<u32, Error> {
        let digits = self
            .text
            .get(self.pos..self.pos + 4)
            .filter(|d| d.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(|| self.error("expected four hex digits after `\\u`"))?;
        self.pos += 4;
        u32::from_str_radix(digits, 16).map_err(|_| self.error("invalid `\\u` escape"))
    }

    fn nested(&mut self, depth: usize) -> Result<usize, Error> {
        if depth >= MAX_DEPTH {
            return Err(self.error("nested too deeply"));
        }
        self.pos += 1;
        self.skip_whitespace();
        Ok(depth + 1)
    }

    fn array(&mut self, depth: usize) -> Result<Kind<'a>, Error> {
        let depth = self.nested(depth)?;
        let mut items = Vec::new();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(Kind::Array(items));
        }
        loop {
            items.push(self.value(depth)?);
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => {
                    self.pos += 1;
                    self.skip_whitespace();
                }
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Kind::Array(items));
                }
                _ => return Err(self.error("expected `,` or `]`")),
            }
        }
    }

    fn object(&mut self, depth: usize) -> Result<Kind<'a>, Error> {
        let depth = self.nested(depth)?;
        let mut members = Vec::new();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(Kind::Object(members));
        }
        loop {
            if self.peek() != Some(b'"') {
                return Err(self.error("expected a member name (a string)"));
            }
            let key = self.string()?;
            self.skip_whitespace();
            self.expect(b':', "expected `:`")?;
            self.skip_whitespace();
            members.push((key, self.value(depth)?));
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => {
                    self.pos += 1;
                    self.skip_whitespace();
                }
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Kind::Object(members));
                }
                _ => return Err(self.error("expected `,` or `}`")),
            }
        }
    }
}

/// Whether a well-formed number is larger in magnitude than `f64::MAX`
/// (compared to 17 significant digits), judged from its digits alone. Such
/// numbers are refused, as serde_json and most JSON readers refuse them.
fn beyond_f64(number: &str) -> bool {
    let unsigned = number.trim_start_matches('-');
    let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
        Some(at) => (&unsigned[..at], &unsigned[at + 1..]),
        None => (unsigned, "0"),
    };
    let (integer, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits: Vec<u8> = integer.bytes().chain(fraction.bytes()).collect();
    let zeros = digits.iter().take_while(|&&d| d == b'0').count();
    if zeros == digits.len() {
        return false;
    }
    let exponent = exponent
        .parse::<i64>()
        .unwrap_or(if exponent.starts_with('-') {
            i64::MIN
        } else {
            i64::MAX
        });
    // The value is 0.DIGITS × 10^magnitude, DIGITS without leading zeros.
    let magnitude = (integer.len() as i64 - zeros as i64).saturating_add(exponent);
    match magnitude.cmp(&309) {
        std::cmp::Ordering::Less => false,
        std::cmp::Ordering::Greater => true,
        std::cmp::Ordering::Equal => {
            let mut head = [b'0'; 17];
            for (slot, digit) in head.iter_mut().zip(&digits[zeros..]) {
                *slot = *digit;
            }
            &head > b"17976931348623158"
        }
    }
}

impl<'a> Value<'a> {
    /// The member `key` of an object (the last one when repeated); `None` for
    /// other values.
    pub fn get(&self, key: &str) -> Option<&Value<'a>> {
        match &self.kind {
            Kind::Object(members) => members.iter().rev().find(|(k, _)| k == key).map(|m| &m.1),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            Kind::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&[Value<'a>]> {
        match &self.kind {
            Kind::Array(items) => Some(items),
            _ => None,
        }
    }

    /// The value of an integer written without fraction or exponent.
    pub fn as_integer(&self) -> Option<i128> {
        match self.kind {
            Kind::Number(text) => text.parse().ok(),
            _ => None,
        }
    }

    fn what(&self) -> &'static str {
        match self.kind {
            Kind::Null => "null",
            Kind::Bool(_) => "a boolean",
            Kind::Number(_) => "a number",
            Kind::String(_) => "a string",
            Kind::Array(_) => "an array",
            Kind::Object(_) => "an object",
        }
    }

    fn mismatch(&self, expected: &str) -> Error {
        Error::new(
            self.offset,
            format!("invalid type: expected {expected}, found {}", self.what()),
        )
    }

    /// The string, or an error naming what was found instead.
    pub fn string(&self) -> Result<&str, Error> {
        self.as_str().ok_or_else(|| self.mismatch("a string"))
    }

    pub fn boolean(&self) -> Result<bool, Error> {
        match self.kind {
            Kind::Bool(b) => Ok(b),
            _ => Err(self.mismatch("a boolean")),
        }
    }

    /// An integer in `u32`'s range.
    pub fn unsigned(&self) -> Result<u32, Error> {
        self.as_integer()
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| self.mismatch("an integer from 0 to 4294967295"))
    }

    pub fn array(&self) -> Result<&[Value<'a>], Error> {
        self.as_array().ok_or_else(|| self.mismatch("an array"))
    }

    /// An array of strings, owned.
    pub fn strings(&self) -> Result<Vec<String>, Error> {
        self.array()?
            .iter()
            .map(|item| item.string().map(str::to_owned))
            .collect()
    }

    /// The value as an object, for reading its members by name.
    pub fn object(&self) -> Result<Object<'_, 'a>, Error> {
        match &self.kind {
            Kind::Object(members) => Ok(Object {
                offset: self.offset,
                members,
            }),
            _ => Err(self.mismatch("an object")),
        }
    }
}

/// An object's members, read by name.
#[derive(Debug, Clone, Copy)]
pub struct Object<'v, 'a> {
    offset: usize,
    members: &'v [(Cow<'a, str>, Value<'a>)],
}

impl<'v, 'a> Object<'v, 'a> {
    /// Every member, in the order written.
    pub fn members(&self) -> &'v [(Cow<'a, str>, Value<'a>)] {
        self.members
    }

    /// The member `key`, or a "missing field" error at the object.
    pub fn field(&self, key: &str) -> Result<&'v Value<'a>, Error> {
        self.optional(key)
            .ok_or_else(|| Error::new(self.offset, format!("missing field `{key}`")))
    }

    /// The member `key`; `None` when absent or `null`.
    pub fn optional(&self, key: &str) -> Option<&'v Value<'a>> {
        self.members
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|m| &m.1)
            .filter(|value| value.kind != Kind::Null)
    }

    /// The string member `key`, owned.
    pub fn string(&self, key: &str) -> Result<String, Error> {
        self.field(key)?.string().map(str::to_owned)
    }

    /// The string member `key`, owned; `None` when absent or `null`.
    pub fn optional_string(&self, key: &str) -> Result<Option<String>, Error> {
        self.optional(key)
            .map(|value| value.string().map(str::to_owned))
            .transpose()
    }

    /// The boolean member `key`; `default` when absent or `null`.
    pub fn boolean_or(&self, key: &str, default: bool) -> Result<bool, Error> {
        self.optional(key).map_or(Ok(default), Value::boolean)
    }

    /// The member `key` as an array of strings; empty when absent or `null`.
    pub fn strings_or_empty(&self, key: &str) -> Result<Vec<String>, Error> {
        self.optional(key).map_or(Ok(Vec::new()), Value::strings)
    }

    /// Refuses members whose names are not in `known`.
    pub fn deny_unknown(&self, known: &[&str]) -> Result<(), Error> {
        match self
            .members
            .iter()
            .find(|(k, _)| !known.contains(&k.as_ref()))
        {
            None => Ok(()),
            Some((key, value)) => {
                let expected: Vec<String> = known.iter().map(|k| format!("`{k}`")).collect();
                Err(Error::new(
                    value.offset,
                    format!("unknown field `{key}`, expected {}", expected.join(", ")),
                ))
            }
        }
    }
}

/// An object's members read one after another into a value, keeping the
/// first error instead of returning at it: a reader builds its whole value
/// from defaults where members are wrong and [`Fields::finish`] then gives
/// the error, the same one the first failing `?` would have given. Readers
/// of many members this way are a fraction of the code of `?` after each
/// (which drops what was read so far at every one of them), and the
/// WebAssembly module carries one reader per embedded data file kind.
pub struct Fields<'v, 'a> {
    object: Object<'v, 'a>,
    error: Option<Error>,
}

impl<'v, 'a> Fields<'v, 'a> {
    pub fn of(object: &Object<'v, 'a>) -> Fields<'v, 'a> {
        Fields {
            object: *object,
            error: None,
        }
    }

    /// `value`, or the first error met reading it.
    pub fn finish<T>(self, value: T) -> Result<T, Error> {
        match self.error {
            None => Ok(value),
            Some(error) => Err(error),
        }
    }

    /// The value of `read`, or the default after noting its error.
    fn keep<T: Default>(&mut self, read: Result<T, Error>) -> T {
        read.unwrap_or_else(|error| {
            self.error.get_or_insert(error);
            T::default()
        })
    }

    pub fn string(&mut self, key: &str) -> String {
        let read = self.object.string(key);
        self.keep(read)
    }

    pub fn optional_string(&mut self, key: &str) -> Option<String> {
        let read = self.object.optional_string(key);
        self.keep(read)
    }

    pub fn boolean(&mut self, key: &str) -> bool {
        let read = self.object.field(key).and_then(Value::boolean);
        self.keep(read)
    }

    pub fn boolean_or(&mut self, key: &str, default: bool) -> bool {
        let read = self.object.boolean_or(key, default);
        self.keep(read)
    }

    pub fn unsigned(&mut self, key: &str) -> u32 {
        let read = self.object.field(key).and_then(Value::unsigned);
        self.keep(read)
    }

    /// The `u32` member `key`, 0 when absent or `null`.
    pub fn unsigned_or_zero(&mut self, key: &str) -> u32 {
        let read = self.object.optional(key).map_or(Ok(0), Value::unsigned);
        self.keep(read)
    }

    /// The member `key` as an array of `u32`s; `None` when absent or `null`.
    pub fn unsigned_list(&mut self, key: &str) -> Option<Vec<u32>> {
        let read = self
            .object
            .optional(key)
            .map(|list| list.array()?.iter().map(Value::unsigned).collect())
            .transpose();
        self.keep(read)
    }

    pub fn strings(&mut self, key: &str) -> Vec<String> {
        let read = self.object.field(key).and_then(Value::strings);
        self.keep(read)
    }

    /// The member `key` as an array of strings; `None` when absent or `null`.
    pub fn optional_strings(&mut self, key: &str) -> Option<Vec<String>> {
        let read = self.object.optional(key).map(Value::strings).transpose();
        self.keep(read)
    }

    /// The boolean member `key`; `None` when absent or `null`.
    pub fn optional_boolean(&mut self, key: &str) -> Option<bool> {
        let read = self.object.optional(key).map(Value::boolean).transpose();
        self.keep(read)
    }

    pub fn strings_or_empty(&mut self, key: &str) -> Vec<String> {
        let read = self.object.strings_or_empty(key);
        self.keep(read)
    }

    /// The member `key` read by `read`; `None`, with the error noted, when
    /// it is absent or `read` refuses it.
    pub fn member<T>(
        &mut self,
        key: &str,
        read: impl FnOnce(&'v Value<'a>) -> Result<T, Error>,
    ) -> Option<T> {
        let read = self.object.field(key).and_then(read);
        self.keep(read.map(Some))
    }

    /// The object member `key` read by `read`; `None` when absent or `null`
    /// (or not an object, with the error noted).
    pub fn object<T>(
        &mut self,
        key: &str,
        read: impl FnOnce(&mut Fields<'v, 'a>) -> T,
    ) -> Option<T> {
        let object = self.object.optional(key)?.object();
        let object = self.keep(object.map(Some))?;
        let mut inner = Fields::of(&object);
        let value = read(&mut inner);
        if let Some(error) = inner.error {
            self.error.get_or_insert(error);
        }
        Some(value)
    }

    /// Every object of the array member `key`, each read by `read`; empty
    /// when absent or `null`.
    pub fn objects<T>(&mut self, key: &str, read: impl FnMut(&mut Fields<'v, 'a>) -> T) -> Vec<T> {
        let items = self.object.optional(key).map_or(Ok(&[][..]), Value::array);
        self.each_of(items, read)
    }

    /// Every object of the array member `key`, each read by `read`.
    pub fn each<T>(&mut self, key: &str, read: impl FnMut(&mut Fields<'v, 'a>) -> T) -> Vec<T> {
        let items = self.object.field(key).and_then(Value::array);
        self.each_of(items, read)
    }

    fn each_of<T>(
        &mut self,
        items: Result<&'v [Value<'a>], Error>,
        mut read: impl FnMut(&mut Fields<'v, 'a>) -> T,
    ) -> Vec<T> {
        let items = self.keep(items);
        let mut values = Vec::with_capacity(items.len());
        for item in items {
            let object = item.object();
            let Some(object) = self.keep(object.map(Some)) else {
                break;
            };
            let mut inner = Fields::of(&object);
            values.push(read(&mut inner));
            if let Some(error) = inner.error {
                self.error.get_or_insert(error);
                break;
            }
        }
        values
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_keep_their_offsets_and_order() {
        let text = r#" {"b": [1, -2.5e3, true, null], "a": "x\"\u00e9\ud83d\ude00", "b": {}} "#;
        let value = parse(text).expect("valid JSON");
        assert_eq!(value.offset, 1);
        let Kind::Object(members) = &value.kind else {
            panic!("an object")
        };
        let keys: Vec<&str> = members.iter().map(|(k, _)| k.as_ref()).collect();
        assert_eq!(keys, ["b", "a", "b"]);
        let items = members[0].1.as_array().expect("array");
        assert_eq!(items[1].kind, Kind::Number("-2.5e3"));
        assert_eq!(items[1].offset, 11);
        assert_eq!(items[1].as_integer(), None);
        assert_eq!(items[0].as_integer(), Some(1));
        assert_eq!(value.get("a").and_then(Value::as_str), Some("x\"é😀"));
        assert_eq!(value.get("b").map(|b| b.offset), Some(text.len() - 4));
    }

    #[test]
    fn unescaped_strings_borrow_the_input() {
        let value = parse(r#""plain""#).expect("valid");
        assert!(matches!(value.kind, Kind::String(Cow::Borrowed("plain"))));
    }

    #[test]
    fn malformed_text_is_refused_where_it_breaks() {
        let cases = [
            ("[1, 2,, 3]", 6, "expected a JSON value"),
            ("{\"a\" 1}", 5, "expected `:`"),
            ("{\"a\": 1,}", 8, "expected a member name (a string)"),
            ("[1 2]", 3, "expected `,` or `]`"),
            ("\"a\nb\"", 2, "control character in a string"),
            ("\"\\x\"", 2, "invalid escape"),
            ("\"\\ud800\"", 7, "unpaired surrogate in a `\\u` escape"),
            ("01", 1, "trailing characters after the JSON value"),
            ("-", 0, "unexpected end of input"),
            ("[true, fa", 8, "unexpected end of input"),
            ("[1e999999]", 8, "number out of range"),
            ("-2e308", 5, "number out of range"),
            ("[1.]", 3, "expected a digit"),
            ("[tru]", 1, "expected a JSON value"),
            ("", 0, "unexpected end of input"),
        ];
        for (text, offset, message) in cases {
            assert_eq!(parse(text), Err(Error::new(offset, message)), "{text}");
        }
        for fits in [
            "1.7976931348623157e308",
            "1e308",
            "0.0001e-999999",
            "0e999999",
        ] {
            assert!(parse(fits).is_ok(), "{fits}");
        }
        let deep = "[".repeat(MAX_DEPTH + 1);
        assert_eq!(
            parse(&deep).map_err(|e| e.message),
            Err("nested too deeply".to_owned())
        );
    }

    #[test]
    fn many_values_follow_one_another() {
        let text = "{\"a\": 1}\n\n[2] 3\"x\"";
        let offsets: Vec<usize> = parse_many(text).map(|v| v.expect("valid").offset).collect();
        assert_eq!(offsets, [0, 10, 14, 15]);
        let mut broken = parse_many("{} {");
        assert!(broken.next().is_some_and(|v| v.is_ok()));
        assert!(broken.next().is_some_and(|v| v.is_err()));
        assert!(broken.next().is_none());
    }

    #[test]
    fn typed_reads_say_what_they_found() {
        let value = parse(r#"{"n": 5, "s": "x", "z": null, "l": ["a", 1]}"#).expect("valid");
        let object = value.object().expect("object");
        assert_eq!(object.field("n").and_then(Value::unsigned), Ok(5));
        assert_eq!(object.string("s"), Ok("x".to_owned()));
        assert_eq!(object.optional_string("z"), Ok(None));
        assert_eq!(object.boolean_or("missing", true), Ok(true));
        assert_eq!(
            object.field("nope"),
            Err(Error::new(0, "missing field `nope`"))
        );
        assert_eq!(
            object.string("n"),
            Err(Error::new(
                6,
                "invalid type: expected a string, found a number"
            ))
        );
        assert_eq!(object.strings_or_empty("l").map_err(|e| e.offset), Err(41));
        assert_eq!(
            object.deny_unknown(&["n", "s", "z"]).map_err(|e| e.message),
            Err("unknown field `l`, expected `n`, `s`, `z`".to_owned())
        );
    }

    #[test]
    fn fields_give_the_first_error_a_question_mark_would_have() {
        let value = parse(r#"{"n": "five", "s": 1, "list": [{"a": 1}, 2, 3]}"#).expect("valid");
        let read = |value: &Value<'_>| {
            let mut fields = Fields::of(&value.object()?);
            let read = (
                fields.string("s"),
                fields.unsigned("n"),
                fields.each("list", |item| item.unsigned("a")),
            );
            fields.finish(read)
        };
        assert_eq!(
            read(&value),
            Err(Error::new(
                19,
                "invalid type: expected a string, found a number"
            ))
        );
        let mut fields = Fields::of(&value.object().expect("object"));
        assert_eq!(fields.each("list", |item| item.unsigned("a")), [1]);
        assert_eq!(
            fields.objects("absent", |item| item.unsigned("a")),
            [0u32; 0]
        );
        assert_eq!(
            fields.finish(()).map_err(|e| (e.offset, e.message)),
            Err((
                41,
                "invalid type: expected an object, found a number".to_owned()
            ))
        );
        let mut fields = Fields::of(&value.object().expect("object"));
        assert_eq!(fields.each("absent", |item| item.unsigned("a")), [0u32; 0]);
        assert_eq!(
            fields.finish(()),
            Err(Error::new(0, "missing field `absent`"))
        );
    }
}
