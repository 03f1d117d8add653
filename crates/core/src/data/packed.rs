//! The embedded `data/` files in the compact form `build.rs` writes, read back
//! as [`json::Value`] trees for the same readers the JSON text goes through;
//! and, in the web app's module, which embeds only some of them, the others
//! as a second blob of the same form given at run time ([`load_deferred`]).
//!
//! The blob (all integers LEB128 varints):
//!
//! ```text
//! strings: count, then per string its UTF-8 bytes and a NUL, in byte order
//! files:   count, then per file the string index of its path under data/
//!          (e.g. `qemu/7.2.json`) and the body offset of its root value
//! body:    values, each a tag byte and its payload:
//!          0 null | 1 true | 2 false
//!          3 number: string index of the number as written
//!          4 string: string index
//!          5 array: length, values
//!          6 object: length, then per member its key's string index and value
//!          7 array of strings: length, then per item the zigzag-coded
//!            difference between its string index and the previous one's
//!            (the first one's from 0)
//!          8 copy: body offset of an identical array or object written before
//!          9 array of strings as an edit of an earlier one (tag 7 or 9):
//!            how many arrays of strings back it is (0: the one just before),
//!            the number of steps, then per step `n << 2 | kind`: kind 0 keeps
//!            the earlier array's next n items, 1 leaves them out, 2 inserts
//!            the n string indices that follow
//! ```
//!
//! A value's offset is its position in the body (no text to point into).

use std::borrow::Cow;
use std::sync::OnceLock;

use crate::json::{Kind, Value};

/// The packed `data/` files, as `build.rs` wrote them.
const EMBEDDED: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/data.bin"));

/// A packed blob with its string table and file index read.
pub(crate) struct Packed<'a> {
    strings: Vec<&'a str>,
    files: Vec<(&'a str, usize)>,
    body: &'a [u8],
    /// Where every array of strings (tags 7 and 9) starts and ends in the
    /// body, in order, which edits (tag 9) count back in.
    string_arrays: Vec<(usize, usize)>,
    /// Each array of strings' string indices, decoded when first read, so
    /// that a chain of edits (a model through 13 QEMU releases) is applied
    /// once, not again for every array at its end.
    decoded: Vec<OnceLock<Vec<usize>>>,
}

/// Reads the next varint at `*at`.
fn varint(bytes: &[u8], at: &mut usize) -> Option<usize> {
    let mut n = 0usize;
    let mut shift = 0;
    loop {
        let byte = *bytes.get(*at)?;
        *at += 1;
        n |= usize::from(byte & 0x7f).checked_shl(shift)?;
        if byte < 0x80 {
            return Some(n);
        }
        shift += 7;
    }
}

/// The packed files left out of this binary (feature `deferred-releases`,
/// the web app's module), for the worker that hands them to the page.
#[cfg(feature = "deferred-releases")]
pub const DEFERRED: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/deferred.bin"));

/// The blob of the files left out of this binary, once given
/// ([`load_deferred`]).
static LOADED: OnceLock<Packed<'static>> = OnceLock::new();

/// Adds the files left out of this binary (a blob `build.rs` wrote, see
/// `DEFERRED`). Loading them twice changes nothing.
pub fn load_deferred(bytes: Vec<u8>) -> Result<(), &'static str> {
    if LOADED.get().is_some() {
        return Ok(());
    }
    let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
    let packed = Packed::new(bytes).ok_or("the older releases' data is malformed")?;
    // A second caller racing this one gives the same blob: either is kept.
    let _ = LOADED.set(packed);
    Ok(())
}

impl Packed<'static> {
    /// The blob compiled into this binary, indexed on first use.
    fn embedded() -> &'static Packed<'static> {
        static PACKED: OnceLock<Packed<'static>> = OnceLock::new();
        PACKED.get_or_init(|| Packed::new(EMBEDDED).expect("the packed data/ is malformed"))
    }

    /// The blob holding `name`: the embedded one, else the loaded one.
    fn holding(name: &str) -> Option<(&'static Packed<'static>, usize)> {
        [Some(Packed::embedded()), LOADED.get()]
            .into_iter()
            .flatten()
            .find_map(|packed| {
                let &(_, at) = packed.files.iter().find(|(file, _)| *file == name)?;
                Some((packed, at))
            })
    }

    /// Whether the file `name` (its path under `data/`) can be read: embedded,
    /// or loaded with the files left out of this binary.
    pub(crate) fn has(name: &str) -> bool {
        Packed::holding(name).is_some()
    }

    /// The root value of the file `name` (its path under `data/`).
    ///
    /// # Panics
    /// When `build.rs` packed no such file, or packed it wrongly (both build
    /// errors, never input errors), or when it was left out of this binary and
    /// not loaded yet (the caller asks [`Packed::has`] first).
    pub(crate) fn file(name: &str) -> Value<'static> {
        Packed::holding(name)
            .and_then(|(packed, mut at)| packed.value(&mut at))
            .unwrap_or_else(|| panic!("data/{name} is not packed, or packed wrongly"))
    }
}

impl<'a> Packed<'a> {
    fn new(bytes: &'a [u8]) -> Option<Packed<'a>> {
        let mut at = 0;
        let count = varint(bytes, &mut at)?;
        let mut strings = Vec::with_capacity(count);
        for _ in 0..count {
            let rest = bytes.get(at..)?;
            let length = rest.iter().position(|&byte| byte == 0)?;
            strings.push(std::str::from_utf8(&rest[..length]).ok()?);
            at += length + 1;
        }
        let count = varint(bytes, &mut at)?;
        let mut files = Vec::with_capacity(count);
        for _ in 0..count {
            let name = *strings.get(varint(bytes, &mut at)?)?;
            files.push((name, varint(bytes, &mut at)?));
        }
        let body = bytes.get(at..)?;
        let mut string_arrays = Vec::new();
        let mut at = 0;
        while at < body.len() {
            skip(body, &mut at, &mut string_arrays)?;
        }
        Some(Packed {
            strings,
            files,
            body,
            decoded: string_arrays.iter().map(|_| OnceLock::new()).collect(),
            string_arrays,
        })
    }

    fn string(&self, at: &mut usize) -> Option<&'a str> {
        self.strings.get(varint(self.body, at)?).copied()
    }

    /// Decodes the value at `*at` and moves past it.
    fn value(&self, at: &mut usize) -> Option<Value<'a>> {
        let offset = *at;
        let tag = *self.body.get(offset)?;
        *at += 1;
        let kind = match tag {
            0 => Kind::Null,
            1 => Kind::Bool(true),
            2 => Kind::Bool(false),
            3 => Kind::Number(self.string(at)?),
            4 => Kind::String(Cow::Borrowed(self.string(at)?)),
            5 => Kind::Array(
                (0..varint(self.body, at)?)
                    .map(|_| self.value(at))
                    .collect::<Option<_>>()?,
            ),
            6 => Kind::Object(
                (0..varint(self.body, at)?)
                    .map(|_| Some((Cow::Borrowed(self.string(at)?), self.value(at)?)))
                    .collect::<Option<_>>()?,
            ),
            7 | 9 => {
                let ordinal = self
                    .string_arrays
                    .binary_search_by_key(&offset, |&(start, _)| start)
                    .ok()?;
                *at = self.string_arrays[ordinal].1;
                Kind::Array(
                    self.string_indices(ordinal)?
                        .iter()
                        .map(|&index| {
                            Some(Value {
                                offset,
                                kind: Kind::String(Cow::Borrowed(self.strings.get(index)?)),
                            })
                        })
                        .collect::<Option<_>>()?,
                )
            }
            8 => {
                // Copies point backwards, so decoding them always ends.
                let mut copied = varint(self.body, at)?;
                return (copied < offset).then(|| self.value(&mut copied))?;
            }
            _ => return None,
        };
        Some(Value { offset, kind })
    }

    /// The string indices of the `ordinal`-th array of strings, decoded on
    /// first use (an edit reads the earlier array through this too).
    fn string_indices(&self, ordinal: usize) -> Option<&[usize]> {
        let cell = self.decoded.get(ordinal)?;
        if let Some(indices) = cell.get() {
            return Some(indices);
        }
        let (mut at, _) = *self.string_arrays.get(ordinal)?;
        let tag = *self.body.get(at)?;
        at += 1;
        let at = &mut at;
        let mut indices = Vec::new();
        match tag {
            7 => {
                let mut index = 0usize;
                for _ in 0..varint(self.body, at)? {
                    let zigzag = varint(self.body, at)?;
                    let delta = (zigzag >> 1) as isize ^ -((zigzag & 1) as isize);
                    index = index.checked_add_signed(delta)?;
                    indices.push(index);
                }
            }
            9 => {
                let back = varint(self.body, at)?;
                // Edits count backwards, so decoding them always ends.
                let mut earlier = self
                    .string_indices(ordinal.checked_sub(back.checked_add(1)?)?)?
                    .iter();
                for _ in 0..varint(self.body, at)? {
                    let step = varint(self.body, at)?;
                    for _ in 0..step >> 2 {
                        match step & 3 {
                            0 => indices.push(*earlier.next()?),
                            1 => {
                                earlier.next()?;
                            }
                            2 => indices.push(varint(self.body, at)?),
                            _ => return None,
                        }
                    }
                }
            }
            _ => return None,
        }
        Some(cell.get_or_init(|| indices))
    }
}

/// Moves `*at` past the value there, noting where each array of strings
/// starts and ends.
fn skip(body: &[u8], at: &mut usize, string_arrays: &mut Vec<(usize, usize)>) -> Option<()> {
    let offset = *at;
    let tag = *body.get(offset)?;
    *at += 1;
    match tag {
        0..=2 => {}
        3 | 4 | 8 => {
            varint(body, at)?;
        }
        5 => {
            for _ in 0..varint(body, at)? {
                skip(body, at, string_arrays)?;
            }
        }
        6 => {
            for _ in 0..varint(body, at)? {
                varint(body, at)?;
                skip(body, at, string_arrays)?;
            }
        }
        7 => {
            for _ in 0..varint(body, at)? {
                varint(body, at)?;
            }
            string_arrays.push((offset, *at));
        }
        9 => {
            varint(body, at)?;
            for _ in 0..varint(body, at)? {
                let step = varint(body, at)?;
                if step & 3 == 2 {
                    for _ in 0..step >> 2 {
                        varint(body, at)?;
                    }
                }
            }
            string_arrays.push((offset, *at));
        }
        _ => return None,
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::file::CpuMapFile;
    use crate::data::CpuMap;
    use crate::domain::Accelerator;
    use crate::qemu::accel::AccelFacts;
    use crate::qemu::definitions::QemuVersion;

    /// Every embedded file decodes to what its JSON reader makes of the text.
    #[test]
    fn packed_files_read_as_their_json() {
        for (release, json) in [
            ("9.0.0", include_str!("../../../../data/cpu_map/9.0.0.json")),
            (
                "11.3.0",
                include_str!("../../../../data/cpu_map/11.3.0.json"),
            ),
            (
                "12.9.0",
                include_str!("../../../../data/cpu_map/12.9.0.json"),
            ),
        ] {
            assert_eq!(
                CpuMapFile::from_value(&Packed::file(&format!("cpu_map/{release}.json"))),
                CpuMapFile::from_json(json),
                "{release}"
            );
        }
        let map = CpuMap::embedded();
        for (version, json) in [
            ("5.2", include_str!("../../../../data/qemu/5.2.json")),
            ("6.2", include_str!("../../../../data/qemu/6.2.json")),
            ("7.0", include_str!("../../../../data/qemu/7.0.json")),
            ("7.1", include_str!("../../../../data/qemu/7.1.json")),
            ("7.2", include_str!("../../../../data/qemu/7.2.json")),
            ("8.0", include_str!("../../../../data/qemu/8.0.json")),
            ("8.1", include_str!("../../../../data/qemu/8.1.json")),
            ("8.2", include_str!("../../../../data/qemu/8.2.json")),
            ("9.0", include_str!("../../../../data/qemu/9.0.json")),
            ("9.1", include_str!("../../../../data/qemu/9.1.json")),
            ("9.2", include_str!("../../../../data/qemu/9.2.json")),
            ("10.0", include_str!("../../../../data/qemu/10.0.json")),
            ("11.1", include_str!("../../../../data/qemu/11.1.json")),
        ] {
            let packed = Packed::file(&format!("qemu/{version}.json"));
            assert_eq!(
                QemuVersion::from_value(map, &packed),
                QemuVersion::from_json(map, json),
                "{version}"
            );
        }
        for (accel, json) in [
            (
                Accelerator::Kvm,
                include_str!("../../../../data/accel/kvm.json"),
            ),
            (
                Accelerator::Tcg,
                include_str!("../../../../data/accel/tcg.json"),
            ),
        ] {
            let packed = Packed::file(&format!("accel/{}.json", accel.as_str()));
            assert_eq!(
                AccelFacts::from_value(map, &packed),
                AccelFacts::from_json(map, json),
                "{accel:?}"
            );
        }
    }

    #[test]
    fn copies_and_string_arrays_decode() {
        // strings ["a", "b"]; one file "f" whose root is [["b", "a"], copy of it, 7].
        let blob = [
            3, b'a', 0, b'b', 0, b'f', 0, // strings: a b f
            1, 2, 0, // file f at body offset 0
            5, 3, // array of 3
            7, 2, 2, 1, // strings: index 1, then 1 - 1 = index 0
            8, 2, // a copy of the array at offset 2
            3, 0, // the number "a" (as written)
        ];
        let packed = Packed::new(&blob).expect("well formed");
        let root = packed.value(&mut 0).expect("a value");
        let inner = root.array().expect("array")[0].strings().expect("strings");
        assert_eq!(inner, ["b", "a"]);
        assert_eq!(
            root.array().expect("array")[1].strings().expect("strings"),
            inner
        );
        assert_eq!(packed.files, [("f", 0)]);
        // A copy must point backwards.
        let forward = [0, 0, 8, 0];
        assert!(Packed::new(&forward)
            .expect("header")
            .value(&mut 0)
            .is_none());
    }

    #[test]
    fn edits_of_string_arrays_decode() {
        // strings ["a", "b", "f"]; one file "f" whose root is [["b", "a"], an edit of it].
        let blob = [
            3, b'a', 0, b'b', 0, b'f', 0, // strings: a b f
            1, 2, 0, // file f at body offset 0
            5, 2, // array of 2
            7, 2, 2, 1, // strings: b a
            9, 0, 3, // an edit of the array just before, in 3 steps:
            4, 5, 6, 2, // keep 1 (b), leave out 1 (a), insert 1: f
        ];
        let packed = Packed::new(&blob).expect("well formed");
        let root = packed.value(&mut 0).expect("a value");
        assert_eq!(
            root.array().expect("array")[1].strings().expect("strings"),
            ["b", "f"]
        );
        // An edit must count back to an array written before it.
        let first = [0, 0, 9, 0, 0];
        assert!(Packed::new(&first).expect("header").value(&mut 0).is_none());
    }
}
