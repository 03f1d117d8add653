//! Packs the committed `data/**/*.json` files into one compact blob,
//! `$OUT_DIR/data.bin`, which the engine embeds instead of the JSON text
//! (`src/data/packed.rs` reads it back into `json::Value` trees, so the
//! same readers run on it as on the JSON). With the feature
//! `deferred-releases` (the web app's module) `data.bin` holds only the files
//! of `src/data/at_start.rs`, and `$OUT_DIR/deferred.bin`, a blob of the same
//! format, the others (else it is empty).
//!
//! The files stay exactly as `cargo xtask` writes them; only what is compiled
//! in changes. The blob has one table of every distinct string (feature names
//! written once for all files), in byte order and NUL-terminated (both make
//! the gzipped page smaller: neighbouring names share prefixes, and no length
//! byte breaks them up); string arrays as deltas between string indices, or
//! as an edit of the earlier string array they share the most with (a
//! model's features in the next release); and an array or object identical to
//! one written before (a QEMU model that did not change between versions, an
//! inherited feature list) as a reference to it. Members no reader looks at
//! (`UNREAD`) are left out. The format is described in `src/data/packed.rs`; a unit test there holds every
//! embedded file's decoded form equal to what its JSON reader gives.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

include!("src/data/at_start.rs");

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

    let mut inputs: Vec<Input> = Vec::new();
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

    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR"));
    // The web app's module (feature `deferred-releases`) embeds only the files
    // it needs at start; the others go into a blob of their own, which the
    // page loads when a check asks for an older release.
    let (at_start, deferred): (Vec<_>, Vec<_>) =
        if std::env::var_os("CARGO_FEATURE_DEFERRED_RELEASES").is_some() {
            inputs
                .into_iter()
                .partition(|(name, _, _)| AT_START.contains(&name.as_str()))
        } else {
            (inputs, Vec::new())
        };
    check_no_new_features(&at_start, &deferred);
    write(&out.join("data.bin"), &pack(&at_start));
    write(&out.join("deferred.bin"), &pack(&deferred));
}

/// A file's path under `data/`, its JSON and the members left out of it.
type Input = (String, Value, &'static [&'static str]);

/// The deferred CPU maps may define no feature the maps at start lack: the
/// feature ids every map shares are given out when the first map loads
/// (`data::CpuMap::for_version`), from the maps there are then.
fn check_no_new_features(at_start: &[Input], deferred: &[Input]) {
    let features = |inputs: &[Input]| -> Vec<String> {
        inputs
            .iter()
            .filter(|(name, _, _)| name.starts_with("cpu_map/"))
            .flat_map(|(_, value, _)| value["features"].as_array().cloned().unwrap_or_default())
            .filter_map(|feature| feature["name"].as_str().map(str::to_string))
            .collect()
    };
    let known = features(at_start);
    for name in features(deferred) {
        assert!(
            known.contains(&name),
            "feature {name} of a deferred CPU map is in no map the page loads at start: \
             add that map to AT_START (src/data/at_start.rs)"
        );
    }
}

fn write(path: &Path, blob: &[u8]) {
    std::fs::write(path, blob).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
}

/// One blob of `inputs`, in the format `src/data/packed.rs` reads.
fn pack(inputs: &[Input]) -> Vec<u8> {
    // A first packing finds every string, the second numbers them in byte order.
    let mut first = Packer::default();
    for (name, value, unread) in inputs {
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
    for (name, value, unread) in inputs {
        let name = packer.string(name);
        let offset = packer.body.len();
        packer.value(value, unread);
        roots.push((name, offset));
    }
    assert_eq!(
        packer.strings, sorted,
        "the second packing found new strings"
    );

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
    blob
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
    /// Every array of strings written so far (tags 7 and 9), in body order,
    /// as string indices.
    string_arrays: Vec<Vec<usize>>,
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
                let mut whole = Vec::new();
                varint(&mut whole, indices.len());
                let mut previous = 0i64;
                for &index in &indices {
                    let delta = index as i64 - previous;
                    varint(&mut whole, ((delta << 1) ^ (delta >> 63)) as usize);
                    previous = index as i64;
                }
                match self.shortest_edit(&indices) {
                    Some(edit) if edit.len() < whole.len() => {
                        self.body.push(9);
                        self.body.extend_from_slice(&edit);
                    }
                    _ => {
                        self.body.push(7);
                        self.body.extend_from_slice(&whole);
                    }
                }
                self.string_arrays.push(indices);
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

impl Packer {
    /// `indices` written as an edit of the earlier string array it shares the
    /// most with (a QEMU model's features in the next release, a libvirt model
    /// and its next version), if one shares at least half of them: tag 9's
    /// payload (see `src/data/packed.rs`), the shortest over those arrays.
    fn shortest_edit(&self, indices: &[usize]) -> Option<Vec<u8>> {
        let wanted: std::collections::HashSet<usize> = indices.iter().copied().collect();
        // Only the few earlier arrays with the fewest items to leave out or
        // insert are diffed item by item: the shortest edit is nearly always
        // among them, and diffing every earlier array made the build script
        // take half a minute (now about 12 s, unoptimised).
        let mut candidates: Vec<(usize, usize)> = self
            .string_arrays
            .iter()
            .rev()
            .enumerate()
            .filter_map(|(back, earlier)| {
                let shared = earlier.iter().filter(|i| wanted.contains(i)).count();
                let changed = (indices.len() + earlier.len()).saturating_sub(2 * shared);
                (shared * 2 >= indices.len()).then_some((changed, back))
            })
            .collect();
        candidates.sort_unstable();
        let mut shortest: Option<Vec<u8>> = None;
        for &(_, back) in candidates.iter().take(EDIT_CANDIDATES) {
            let earlier = &self.string_arrays[self.string_arrays.len() - 1 - back];
            let mut edit = Vec::new();
            varint(&mut edit, back);
            let steps = edit_steps(earlier, indices);
            varint(&mut edit, steps.len());
            for step in steps {
                match step {
                    Step::Keep(n) => varint(&mut edit, n << 2),
                    Step::Skip(n) => varint(&mut edit, (n << 2) | 1),
                    Step::Insert(items) => {
                        varint(&mut edit, (items.len() << 2) | 2);
                        for index in items {
                            varint(&mut edit, index);
                        }
                    }
                }
            }
            let shorter = match &shortest {
                Some(best) => edit.len() < best.len(),
                None => true,
            };
            if shorter {
                shortest = Some(edit);
            }
        }
        shortest
    }
}

/// How many earlier string arrays `Packer::shortest_edit` diffs in full (24:
/// the gzipped blob is as small as when every earlier array is diffed).
const EDIT_CANDIDATES: usize = 24;

/// One step of an edit from an earlier string array to a new one.
enum Step {
    /// The next `n` items of the earlier array are kept.
    Keep(usize),
    /// The next `n` items of the earlier array are left out.
    Skip(usize),
    /// These string indices come next.
    Insert(Vec<usize>),
}

/// The steps that turn `from` into `to`, keeping a longest common subsequence.
fn edit_steps(from: &[usize], to: &[usize]) -> Vec<Step> {
    let (n, m) = (from.len(), to.len());
    // common[i][j]: the longest common subsequence of from[i..] and to[j..].
    let mut common = vec![vec![0usize; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            common[i][j] = if from[i] == to[j] {
                common[i + 1][j + 1] + 1
            } else {
                common[i + 1][j].max(common[i][j + 1])
            };
        }
    }
    let mut steps: Vec<Step> = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < n || j < m {
        if i < n && j < m && from[i] == to[j] {
            match steps.last_mut() {
                Some(Step::Keep(count)) => *count += 1,
                _ => steps.push(Step::Keep(1)),
            }
            i += 1;
            j += 1;
        } else if j < m && (i == n || common[i][j + 1] >= common[i + 1][j]) {
            match steps.last_mut() {
                Some(Step::Insert(items)) => items.push(to[j]),
                _ => steps.push(Step::Insert(vec![to[j]])),
            }
            j += 1;
        } else {
            match steps.last_mut() {
                Some(Step::Skip(count)) => *count += 1,
                _ => steps.push(Step::Skip(1)),
            }
            i += 1;
        }
    }
    steps
}

/// LEB128: seven bits a byte, low bits first, high bit set on all but the last.
fn varint(out: &mut Vec<u8>, mut n: usize) {
    while n >= 0x80 {
        out.push((n as u8 & 0x7f) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}
