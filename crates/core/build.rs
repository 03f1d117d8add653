//! Packs the committed `data/**/*.json` files into one compact blob,
//! `$OUT_DIR/data.bin`, which the engine embeds instead of the JSON text
//! (`src/data/packed.rs` reads it back into `json::Value` trees, so the
//! same readers run on it as on the JSON).
//!
//! The files stay exactly as `cargo xtask` writes them; only what is compiled
//! in changes. The blob has one table of every distinct string (feature names
//! written once for all files), in byte order and NUL-terminated (both make
//! the gzipped page smaller: neighbouring names share prefixes, and no length
//! byte breaks them up), string arrays as deltas between string indices, and an array or object identical to one written before (a QEMU
//! model that did not change between versions, an inherited feature list) as
//! a reference to it. Members no reader looks at (`UNREAD`) are left out. The
//! format is described in `src/data/packed.rs`; a unit test there holds every
//! embedded file's decoded form equal to what its JSON reader gives.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

/// Object members no reader of the engine uses, by the `data/` folder of the
/// file: the model details QEMU's probe records beside each model's features,
/// and the Linux or QEMU source each accelerator fact was read from (kept in
/// the JSON for people, not needed to apply the fact).
const UNREAD: &[(&str, &[&str])] = &[
    (
        "qemu",
        &[
            "family",
            "level",
            "migration_safe",
            "model",
            "static",
            "stepping",
            "xlevel",
        ],
    ),
    ("accel", &["source"]),
];

fn main() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed={}", data.display());
    let mut files = Vec::new();
    json_files(&data, &mut files);
    files.sort();

    let mut inputs = Vec::new();
    for path in &files {
        println!("cargo:rerun-if-changed={}", path.display());
        let text = std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let value: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
        let name = path
            .strip_prefix(&data)
            .expect("under data/")
            .to_str()
            .expect("a UTF-8 path")
            .replace('\\', "/");
        let unread = UNREAD
            .iter()
            .find(|(folder, _)| path.parent().is_some_and(|p| p.ends_with(folder)))
            .map_or(&[][..], |(_, keys)| keys);
        inputs.push((name, value, unread));
    }

    // A first packing finds every string, the second numbers them in byte order.
    let mut first = Packer::default();
    for (name, value, unread) in &inputs {
        first.string(name);
        first.value(value, unread);
    }
    let mut sorted = first.strings;
    sorted.sort();
    let mut packer = Packer::default();
    for string in &sorted {
        packer.string(string);
    }
    let mut roots = Vec::new();
    for (name, value, unread) in &inputs {
        let name = packer.string(name);
        let offset = packer.body.len();
        packer.value(value, unread);
        roots.push((name, offset));
    }
    assert_eq!(packer.strings, sorted, "the second packing found new strings");

    let mut blob = Vec::new();
    varint(&mut blob, packer.strings.len());
    for string in &packer.strings {
        blob.extend_from_slice(string.as_bytes());
        blob.push(0);
    }
    varint(&mut blob, roots.len());
    for (name, offset) in roots {
        varint(&mut blob, name);
        varint(&mut blob, offset);
    }
    blob.extend_from_slice(&packer.body);
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR")).join("data.bin");
    std::fs::write(&out, blob).unwrap_or_else(|e| panic!("cannot write {}: {e}", out.display()));
}

/// Every `*.json` file under `dir`, recursively.
fn json_files(dir: &Path, files: &mut Vec<PathBuf>) {
    let entries =
        std::fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            json_files(&path, files);
        } else if path.extension().is_some_and(|e| e == "json") {
            files.push(path);
        }
    }
}

/// The string table and the body being written.
#[derive(Default)]
struct Packer {
    strings: Vec<String>,
    string_index: HashMap<String, usize>,
    body: Vec<u8>,
    /// Where each array or object written so far starts, by the members left
    /// out of it and its JSON text.
    written: HashMap<String, usize>,
}

impl Packer {
    fn string(&mut self, text: &str) -> usize {
        assert!(!text.contains('\0'), "NUL in {text:?}");
        if let Some(index) = self.string_index.get(text) {
            return *index;
        }
        self.strings.push(text.to_owned());
        self.string_index
            .insert(text.to_owned(), self.strings.len() - 1);
        self.strings.len() - 1
    }

    /// Writes one value, leaving out the `unread` members of its objects.
    fn value(&mut self, value: &Value, unread: &[&str]) {
        let copy_key = match value {
            Value::Array(items) if !items.is_empty() => Some(format!("{unread:?}{value}")),
            Value::Object(members) if !members.is_empty() => Some(format!("{unread:?}{value}")),
            _ => None,
        };
        if let Some(key) = &copy_key {
            if let Some(&at) = self.written.get(key) {
                self.body.push(8);
                varint(&mut self.body, at);
                return;
            }
            self.written.insert(key.clone(), self.body.len());
        }
        match value {
            Value::Null => self.body.push(0),
            Value::Bool(true) => self.body.push(1),
            Value::Bool(false) => self.body.push(2),
            Value::Number(number) => {
                assert!(
                    number.is_u64() || number.is_i64(),
                    "not an integer: {number}"
                );
                let index = self.string(&number.to_string());
                self.body.push(3);
                varint(&mut self.body, index);
            }
            Value::String(text) => {
                let index = self.string(text);
                self.body.push(4);
                varint(&mut self.body, index);
            }
            Value::Array(items) if !items.is_empty() && items.iter().all(Value::is_string) => {
                let indices: Vec<usize> = items
                    .iter()
                    .map(|item| self.string(item.as_str().expect("a string")))
                    .collect();
                self.body.push(7);
                varint(&mut self.body, indices.len());
                let mut previous = 0i64;
                for index in indices {
                    let delta = index as i64 - previous;
                    varint(&mut self.body, ((delta << 1) ^ (delta >> 63)) as usize);
                    previous = index as i64;
                }
            }
            Value::Array(items) => {
                self.body.push(5);
                varint(&mut self.body, items.len());
                for item in items {
                    self.value(item, unread);
                }
            }
            Value::Object(members) => {
                let kept: Vec<(&String, &Value)> = members
                    .iter()
                    .filter(|(key, _)| !unread.contains(&key.as_str()))
                    .collect();
                self.body.push(6);
                varint(&mut self.body, kept.len());
                for (key, member) in kept {
                    let index = self.string(key);
                    varint(&mut self.body, index);
                    self.value(member, unread);
                }
            }
        }
    }
}

/// LEB128: seven bits a byte, low bits first, high bit set on all but the last.
fn varint(out: &mut Vec<u8>, mut n: usize) {
    while n >= 0x80 {
        out.push((n as u8 & 0x7f) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}
