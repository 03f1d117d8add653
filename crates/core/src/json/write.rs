//! The JSON writer: any `serde::Serialize` value to compact or pretty text.
//!
//! The output is byte for byte what serde_json writes for the same value
//! (`to_string`, and `to_string_pretty` with its two-space indent), so the
//! CLI's `check --json` and the web app's `window.guestcpu.analyze` share one
//! writer. Strings escape `"`, `\` and control characters only (`\n`, `\t`, …,
//! else `\u00XX`); floats are written as Rust's `{:?}` and non-finite ones as
//! `null` (the crate's reports hold no floats); map keys must serialize as
//! strings or integers (integers are quoted).

use std::fmt::{self, Write as _};

use serde::ser::{self, Serialize};

/// Why a value could not be written: a `Serialize` impl failed, or a map key
/// was neither a string nor an integer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteError(String);

impl fmt::Display for WriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for WriteError {}

impl ser::Error for WriteError {
    fn custom<T: fmt::Display>(message: T) -> Self {
        WriteError(message.to_string())
    }
}

/// `value` as compact JSON, without any whitespace.
pub fn to_string<T: Serialize + ?Sized>(value: &T) -> Result<String, WriteError> {
    write(value, false)
}

/// `value` as JSON indented by two spaces per level, `"key": value`.
pub fn to_string_pretty<T: Serialize + ?Sized>(value: &T) -> Result<String, WriteError> {
    write(value, true)
}

fn write<T: Serialize + ?Sized>(value: &T, pretty: bool) -> Result<String, WriteError> {
    let mut writer = Writer {
        out: String::new(),
        pretty,
        depth: 0,
    };
    value.serialize(&mut writer)?;
    Ok(writer.out)
}

struct Writer {
    out: String,
    pretty: bool,
    depth: usize,
}

impl Writer {
    fn string(&mut self, text: &str) {
        self.out.push('"');
        let mut rest = text;
        while let Some(at) = rest.find(|c: char| c == '"' || c == '\\' || c < ' ') {
            self.out.push_str(&rest[..at]);
            let c = rest.as_bytes()[at];
            match c {
                b'"' => self.out.push_str("\\\""),
                b'\\' => self.out.push_str("\\\\"),
                b'\n' => self.out.push_str("\\n"),
                b'\r' => self.out.push_str("\\r"),
                b'\t' => self.out.push_str("\\t"),
                0x08 => self.out.push_str("\\b"),
                0x0c => self.out.push_str("\\f"),
                _ => {
                    let _ = write!(self.out, "\\u{c:04x}");
                }
            }
            rest = &rest[at + 1..];
        }
        self.out.push_str(rest);
        self.out.push('"');
    }

    fn display(&mut self, value: impl fmt::Display) {
        let _ = write!(self.out, "{value}");
    }

    /// Opens an array or object; `close` is what ends it.
    fn open(&mut self, open: char, close: &'static str) -> Compound<'_> {
        self.out.push(open);
        self.depth += 1;
        Compound {
            writer: self,
            first: true,
            close,
        }
    }

    /// Starts an element or a member: the separator, then the indent.
    fn next_item(&mut self, first: bool) {
        if !first {
            self.out.push(',');
        }
        if self.pretty {
            self.out.push('\n');
            self.indent();
        }
    }

    fn indent(&mut self) {
        for _ in 0..self.depth {
            self.out.push_str("  ");
        }
    }

    fn colon(&mut self) {
        self.out.push_str(if self.pretty { ": " } else { ":" });
    }

    /// Writes `{"variant":` (the caller writes the value and closes the object).
    fn variant_key(&mut self, variant: &str) {
        self.out.push('{');
        self.depth += 1;
        self.next_item(true);
        self.string(variant);
        self.colon();
    }
}

/// An array or object being written.
struct Compound<'w> {
    writer: &'w mut Writer,
    first: bool,
    /// `]`, `}`, or `]}` / `}}` for a variant wrapped in an object.
    close: &'static str,
}

impl Compound<'_> {
    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), WriteError> {
        self.writer.next_item(self.first);
        self.first = false;
        value.serialize(&mut *self.writer)
    }

    fn member<T: Serialize + ?Sized>(&mut self, key: &str, value: &T) -> Result<(), WriteError> {
        self.writer.next_item(self.first);
        self.first = false;
        self.writer.string(key);
        self.writer.colon();
        value.serialize(&mut *self.writer)
    }

    fn close(self) {
        for (i, c) in self.close.chars().enumerate() {
            self.writer.depth -= 1;
            // An empty array or object closes on the same line; so does nothing
            // in compact output.
            if self.writer.pretty && (i > 0 || !self.first) {
                self.writer.out.push('\n');
                self.writer.indent();
            }
            self.writer.out.push(c);
        }
    }
}

impl<'w> ser::Serializer for &'w mut Writer {
    type Ok = ();
    type Error = WriteError;
    type SerializeSeq = Compound<'w>;
    type SerializeTuple = Compound<'w>;
    type SerializeTupleStruct = Compound<'w>;
    type SerializeTupleVariant = Compound<'w>;
    type SerializeMap = Compound<'w>;
    type SerializeStruct = Compound<'w>;
    type SerializeStructVariant = Compound<'w>;

    fn serialize_bool(self, v: bool) -> Result<(), WriteError> {
        self.out.push_str(if v { "true" } else { "false" });
        Ok(())
    }

    fn serialize_i8(self, v: i8) -> Result<(), WriteError> {
        self.serialize_i64(v.into())
    }

    fn serialize_i16(self, v: i16) -> Result<(), WriteError> {
        self.serialize_i64(v.into())
    }

    fn serialize_i32(self, v: i32) -> Result<(), WriteError> {
        self.serialize_i64(v.into())
    }

    fn serialize_i64(self, v: i64) -> Result<(), WriteError> {
        self.display(v);
        Ok(())
    }

    fn serialize_i128(self, v: i128) -> Result<(), WriteError> {
        self.display(v);
        Ok(())
    }

    fn serialize_u8(self, v: u8) -> Result<(), WriteError> {
        self.serialize_u64(v.into())
    }

    fn serialize_u16(self, v: u16) -> Result<(), WriteError> {
        self.serialize_u64(v.into())
    }

    fn serialize_u32(self, v: u32) -> Result<(), WriteError> {
        self.serialize_u64(v.into())
    }

    fn serialize_u64(self, v: u64) -> Result<(), WriteError> {
        self.display(v);
        Ok(())
    }

    fn serialize_u128(self, v: u128) -> Result<(), WriteError> {
        self.display(v);
        Ok(())
    }

    fn serialize_f32(self, v: f32) -> Result<(), WriteError> {
        self.serialize_f64(v.into())
    }

    fn serialize_f64(self, v: f64) -> Result<(), WriteError> {
        if v.is_finite() {
            let _ = write!(self.out, "{v:?}");
        } else {
            self.out.push_str("null");
        }
        Ok(())
    }

    fn serialize_char(self, v: char) -> Result<(), WriteError> {
        self.string(v.encode_utf8(&mut [0; 4]));
        Ok(())
    }

    fn serialize_str(self, v: &str) -> Result<(), WriteError> {
        self.string(v);
        Ok(())
    }

    fn serialize_bytes(self, v: &[u8]) -> Result<(), WriteError> {
        let mut array = self.open('[', "]");
        for byte in v {
            array.element(byte)?;
        }
        array.close();
        Ok(())
    }

    fn serialize_none(self) -> Result<(), WriteError> {
        self.serialize_unit()
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), WriteError> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<(), WriteError> {
        self.out.push_str("null");
        Ok(())
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), WriteError> {
        self.serialize_unit()
    }

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<(), WriteError> {
        self.serialize_str(variant)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<(), WriteError> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), WriteError> {
        self.variant_key(variant);
        value.serialize(&mut *self)?;
        Compound {
            writer: self,
            first: false,
            close: "}",
        }
        .close();
        Ok(())
    }

    fn serialize_seq(self, _len: Option<usize>) -> Result<Compound<'w>, WriteError> {
        Ok(self.open('[', "]"))
    }

    fn serialize_tuple(self, _len: usize) -> Result<Compound<'w>, WriteError> {
        Ok(self.open('[', "]"))
    }

    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Compound<'w>, WriteError> {
        Ok(self.open('[', "]"))
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Compound<'w>, WriteError> {
        self.variant_key(variant);
        Ok(self.open('[', "]}"))
    }

    fn serialize_map(self, _len: Option<usize>) -> Result<Compound<'w>, WriteError> {
        Ok(self.open('{', "}"))
    }

    fn serialize_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Compound<'w>, WriteError> {
        Ok(self.open('{', "}"))
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Compound<'w>, WriteError> {
        self.variant_key(variant);
        Ok(self.open('{', "}}"))
    }
}

impl ser::SerializeSeq for Compound<'_> {
    type Ok = ();
    type Error = WriteError;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), WriteError> {
        self.element(value)
    }

    fn end(self) -> Result<(), WriteError> {
        self.close();
        Ok(())
    }
}

impl ser::SerializeTuple for Compound<'_> {
    type Ok = ();
    type Error = WriteError;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), WriteError> {
        self.element(value)
    }

    fn end(self) -> Result<(), WriteError> {
        self.close();
        Ok(())
    }
}

impl ser::SerializeTupleStruct for Compound<'_> {
    type Ok = ();
    type Error = WriteError;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), WriteError> {
        self.element(value)
    }

    fn end(self) -> Result<(), WriteError> {
        self.close();
        Ok(())
    }
}

impl ser::SerializeTupleVariant for Compound<'_> {
    type Ok = ();
    type Error = WriteError;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), WriteError> {
        self.element(value)
    }

    fn end(self) -> Result<(), WriteError> {
        self.close();
        Ok(())
    }
}

impl ser::SerializeMap for Compound<'_> {
    type Ok = ();
    type Error = WriteError;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), WriteError> {
        let written = to_string(key)?;
        let key = if written.starts_with('"') {
            written
        } else if !written.is_empty() && written.bytes().all(|b| b.is_ascii_digit() || b == b'-') {
            format!("\"{written}\"")
        } else {
            return Err(WriteError(format!(
                "a map key must be a string or an integer, not `{written}`"
            )));
        };
        self.writer.next_item(self.first);
        self.first = false;
        self.writer.out.push_str(&key);
        Ok(())
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), WriteError> {
        self.writer.colon();
        value.serialize(&mut *self.writer)
    }

    fn end(self) -> Result<(), WriteError> {
        self.close();
        Ok(())
    }
}

impl ser::SerializeStruct for Compound<'_> {
    type Ok = ();
    type Error = WriteError;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), WriteError> {
        self.member(key, value)
    }

    fn end(self) -> Result<(), WriteError> {
        self.close();
        Ok(())
    }
}

impl ser::SerializeStructVariant for Compound<'_> {
    type Ok = ();
    type Error = WriteError;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), WriteError> {
        self.member(key, value)
    }

    fn end(self) -> Result<(), WriteError> {
        self.close();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::Serialize;

    use super::*;

    #[derive(Serialize)]
    enum Shape {
        Unit,
        Newtype(u8),
        Tuple(u8, i8),
        Struct { a: Option<bool> },
    }

    #[derive(Serialize)]
    struct Sample {
        text: &'static str,
        empty: Vec<u8>,
        nested: Vec<Vec<u32>>,
        shapes: Vec<Shape>,
        map: BTreeMap<u32, char>,
        none: Option<u8>,
        float: f64,
        nan: f32,
        big: i128,
    }

    fn sample() -> Sample {
        Sample {
            text: "quote \" backslash \\ newline \n tab \t bell \u{7} del \u{7f} é",
            empty: Vec::new(),
            nested: vec![vec![], vec![1, 2]],
            shapes: vec![
                Shape::Unit,
                Shape::Newtype(3),
                Shape::Tuple(4, -5),
                Shape::Struct { a: Some(true) },
                Shape::Struct { a: None },
            ],
            map: BTreeMap::from([(1, 'x'), (20, '"')]),
            none: None,
            float: 1.5,
            nan: f32::NAN,
            big: -170_141_183_460_469_231_731_687_303_715_884_105_728,
        }
    }

    #[test]
    fn compact_output() {
        let expected = concat!(
            r#"{"text":"quote \" backslash \\ newline \n tab \t bell \u0007 del "#,
            "\u{7f} é\",",
            r#""empty":[],"nested":[[],[1,2]],"shapes":["Unit",{"Newtype":3},{"Tuple":[4,-5]},"#,
            r#"{"Struct":{"a":true}},{"Struct":{"a":null}}],"map":{"1":"x","20":"\""},"#,
            r#""none":null,"float":1.5,"nan":null,"#,
            r#""big":-170141183460469231731687303715884105728}"#
        );
        assert_eq!(to_string(&sample()), Ok(expected.to_owned()));
    }

    #[test]
    fn pretty_output_indents_by_two() {
        let expected = r#"{
  "nested": [
    [],
    [
      1,
      2
    ]
  ],
  "shapes": [
    {
      "Newtype": 3
    },
    {
      "Tuple": [
        4,
        -5
      ]
    },
    {
      "Struct": {
        "a": true
      }
    }
  ],
  "map": {}
}"#;
        #[derive(Serialize)]
        struct Small {
            nested: Vec<Vec<u32>>,
            shapes: Vec<Shape>,
            map: BTreeMap<String, u8>,
        }
        let small = Small {
            nested: vec![vec![], vec![1, 2]],
            shapes: vec![
                Shape::Newtype(3),
                Shape::Tuple(4, -5),
                Shape::Struct { a: Some(true) },
            ],
            map: BTreeMap::new(),
        };
        assert_eq!(to_string_pretty(&small), Ok(expected.to_owned()));
    }

    #[test]
    fn keys_must_be_strings_or_integers() {
        let map = BTreeMap::from([(vec![1u8], 2u8)]);
        assert!(to_string(&map).is_err_and(|e| e.0.contains("`[1]`")));
    }
}
