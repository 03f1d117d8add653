//! JSON of the project's own: a reader giving a tree with byte offsets
//! ([`parse`], [`parse_many`]), and serde_json's writer ([`to_string`],
//! [`to_string_pretty`]) for everything the CLI and the web app write.
//!
//! The reader replaces serde_json's in everything the engine and the web app
//! run, so the WebAssembly module carries no visitor code serde derives for
//! reading: the embedded `data/` files, QMP dumps, the share link and the JS
//! API's options are read from a [`Value`] tree by hand-written readers, which
//! also point errors at the exact value. Reports are written through their
//! `Serialize` derives by serde_json itself.

mod read;

pub use read::{parse, parse_many, Error, Fields, Kind, Object, Value, Values, MAX_DEPTH};
pub use serde_json::{to_string, to_string_pretty, Error as WriteError};

#[cfg(test)]
mod tests {
    use serde::Serialize;

    use super::*;

    #[derive(Serialize)]
    struct Sample<'a> {
        name: &'a str,
        ratio: f32,
        share: f64,
        list: Vec<u8>,
        absent: Option<u8>,
    }

    #[test]
    fn reports_are_written_as_serde_json_writes_them() {
        let sample = Sample {
            name: "a \"b\"\n\u{1}",
            // An f32 is written as the shortest text that reads back as the
            // same f32, not as the f64 it widens to (0.10000000149011612).
            ratio: 0.1,
            share: 0.1,
            list: vec![1, 2],
            absent: None,
        };
        assert_eq!(
            to_string(&sample).expect("written"),
            r#"{"name":"a \"b\"\n\u0001","ratio":0.1,"share":0.1,"list":[1,2],"absent":null}"#
        );
        assert_eq!(
            to_string_pretty(&[1, 2]).expect("written"),
            "[\n  1,\n  2\n]"
        );
        assert_eq!(to_string(&f32::NAN).expect("written"), "null");
    }
}
