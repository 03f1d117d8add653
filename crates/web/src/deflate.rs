//! A small raw-DEFLATE encoder (RFC 1951) for the share link: greedy LZ77 over
//! the format's 32 KiB window with hash chains, written as one final block
//! with Huffman codes made for the data (section 3.2.7).
//!
//! Any inflater reads its output; the app's own is [`crate::inflate`], and the
//! tests check both against miniz_oxide, which is not in the WebAssembly module.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// The largest distance a match may reach back.
const WINDOW: usize = 32 * 1024;
/// The shortest and longest match DEFLATE can express.
const MIN_MATCH: usize = 3;
const MAX_MATCH: usize = 258;
/// How many earlier positions with the same 3-byte hash are tried per match.
const MAX_CHAIN: usize = 64;
const HASH_BITS: u32 = 15;

/// Base lengths of the length symbols 257..=285 and their extra bits.
pub(crate) const LENGTH_BASE: [u16; 29] = [
    3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131,
    163, 195, 227, 258,
];
pub(crate) const LENGTH_EXTRA: [u8; 29] = [
    0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
];
/// Base distances of the distance symbols 0..=29 and their extra bits.
pub(crate) const DISTANCE_BASE: [u16; 30] = [
    1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537,
    2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577,
];
pub(crate) const DISTANCE_EXTRA: [u8; 30] = [
    0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13,
    13,
];

/// `data` as a raw DEFLATE stream (no zlib or gzip wrapper).
pub fn compress(data: &[u8]) -> Vec<u8> {
    let tokens = tokens(data);
    let mut literal_counts = [0u32; 286];
    let mut distance_counts = [0u32; 30];
    for token in &tokens {
        match *token {
            Token::Literal(byte) => literal_counts[usize::from(byte)] += 1,
            Token::Match { length, distance } => {
                literal_counts[257 + bucket(&LENGTH_BASE, length).0] += 1;
                distance_counts[bucket(&DISTANCE_BASE, distance).0] += 1;
            }
        }
    }
    literal_counts[END_OF_BLOCK] = 1;
    let literal_code = Code::new(&literal_counts, 15);
    let distance_code = Code::new(&distance_counts, 15);

    let mut out = BitWriter::default();
    // BFINAL = 1, BTYPE = 10 (dynamic Huffman codes).
    out.bits(1, 1);
    out.bits(2, 2);
    write_code_lengths(&mut out, &literal_code, &distance_code);
    for token in &tokens {
        match *token {
            Token::Literal(byte) => literal_code.write(&mut out, usize::from(byte)),
            Token::Match { length, distance } => {
                let (index, extra) = bucket(&LENGTH_BASE, length);
                literal_code.write(&mut out, 257 + index);
                out.bits(extra, u32::from(LENGTH_EXTRA[index]));
                let (index, extra) = bucket(&DISTANCE_BASE, distance);
                distance_code.write(&mut out, index);
                out.bits(extra, u32::from(DISTANCE_EXTRA[index]));
            }
        }
    }
    literal_code.write(&mut out, END_OF_BLOCK);
    out.finish()
}

/// The end-of-block symbol of the literal/length alphabet.
pub(crate) const END_OF_BLOCK: usize = 256;

/// One step of LZ77's output.
enum Token {
    Literal(u8),
    Match { length: usize, distance: usize },
}

/// `data` as literals and back-references, greedily taking the longest match.
fn tokens(data: &[u8]) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut matcher = Matcher::new();
    let mut pos = 0;
    while pos < data.len() {
        match matcher.longest_match(data, pos) {
            Some((length, distance)) => {
                tokens.push(Token::Match { length, distance });
                for at in pos..pos + length {
                    matcher.insert(data, at);
                }
                pos += length;
            }
            None => {
                tokens.push(Token::Literal(data[pos]));
                matcher.insert(data, pos);
                pos += 1;
            }
        }
    }
    tokens
}

/// A canonical Huffman code (RFC 1951, section 3.2.2): each symbol's bit
/// length and code.
struct Code {
    lengths: Vec<u8>,
    codes: Vec<u16>,
}

impl Code {
    /// The code for symbols seen `counts` times, no code longer than
    /// `max_length` bits. At least two symbols get a code, so every inflater
    /// accepts the tree even when the data uses one symbol or none.
    fn new(counts: &[u32], max_length: u8) -> Code {
        let mut counts = counts.to_vec();
        for slot in 0..2 {
            if counts.iter().filter(|&&n| n > 0).count() < 2 && counts[slot] == 0 {
                counts[slot] = 1;
            }
        }
        let lengths = loop {
            let lengths = huffman_lengths(&counts);
            if lengths.iter().all(|&length| length <= max_length) {
                break lengths;
            }
            // Too deep: flatten the counts and build again.
            for count in counts.iter_mut().filter(|n| **n > 0) {
                *count = (*count).div_ceil(2);
            }
        };
        // Section 3.2.2: the first code of each length follows the codes of the
        // shorter lengths.
        let mut per_length = [0u16; 16];
        for &length in lengths.iter().filter(|&&length| length > 0) {
            per_length[usize::from(length)] += 1;
        }
        let mut next = [0u16; 16];
        let mut code = 0u16;
        for (first, shorter) in next.iter_mut().skip(1).zip(per_length) {
            code = (code + shorter) << 1;
            *first = code;
        }
        let codes = lengths
            .iter()
            .map(|&length| {
                let slot = &mut next[usize::from(length)];
                let code = *slot;
                if length > 0 {
                    *slot += 1;
                }
                code
            })
            .collect();
        Code { lengths, codes }
    }

    fn write(&self, out: &mut BitWriter, symbol: usize) {
        out.code(
            u32::from(self.codes[symbol]),
            u32::from(self.lengths[symbol]),
        );
    }

    /// How many symbols the header must list: the last one with a code, and at
    /// least `minimum`.
    fn used(&self, minimum: usize) -> usize {
        self.lengths
            .iter()
            .rposition(|&length| length > 0)
            .map_or(minimum, |last| (last + 1).max(minimum))
    }
}

/// Huffman code lengths for `counts` (0 for an unused symbol), unbounded.
fn huffman_lengths(counts: &[u32]) -> Vec<u8> {
    // Nodes: leaves first, then each merge; `parent` links leaves to the root.
    let mut parent: Vec<usize> = vec![usize::MAX; counts.len()];
    let mut queue: BinaryHeap<Reverse<(u64, usize)>> = counts
        .iter()
        .enumerate()
        .filter(|(_, &n)| n > 0)
        .map(|(symbol, &n)| Reverse((u64::from(n), symbol)))
        .collect();
    // Merge the two lightest nodes until only the root is left.
    while let Some(Reverse((a_weight, a))) = queue.pop() {
        let Some(Reverse((b_weight, b))) = queue.pop() else {
            break;
        };
        let merged = parent.len();
        parent.push(usize::MAX);
        parent[a] = merged;
        parent[b] = merged;
        queue.push(Reverse((a_weight + b_weight, merged)));
    }
    counts
        .iter()
        .enumerate()
        .map(|(symbol, &n)| {
            if n == 0 {
                return 0;
            }
            let mut depth = 0u8;
            let mut node = symbol;
            while parent[node] != usize::MAX {
                node = parent[node];
                depth = depth.saturating_add(1);
            }
            depth
        })
        .collect()
}

/// The order in which the code-length code's lengths are stored.
pub(crate) const CODE_LENGTH_ORDER: [usize; 19] = [
    16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15,
];

/// The dynamic block header: both codes' lengths, run-length encoded with the
/// code-length alphabet (0..=15 a length, 16 repeat the previous 3–6 times,
/// 17 and 18 runs of 3–10 and 11–138 zeros) and itself Huffman coded.
fn write_code_lengths(out: &mut BitWriter, literal_code: &Code, distance_code: &Code) {
    let literals = literal_code.used(257);
    let distances = distance_code.used(1);
    let lengths: Vec<u8> = literal_code.lengths[..literals]
        .iter()
        .chain(&distance_code.lengths[..distances])
        .copied()
        .collect();
    // (symbol, extra bits value, extra bit count)
    let mut runs: Vec<(usize, u32, u32)> = Vec::new();
    let mut at = 0;
    while at < lengths.len() {
        let length = lengths[at];
        let run = lengths[at..].iter().take_while(|&&l| l == length).count();
        if length == 0 && run >= 3 {
            let take = run.min(138);
            runs.push(if take <= 10 {
                (17, (take - 3) as u32, 3)
            } else {
                (18, (take - 11) as u32, 7)
            });
            at += take;
        } else if length != 0 && run >= 4 {
            runs.push((usize::from(length), 0, 0));
            let take = (run - 1).min(6);
            runs.push((16, (take - 3) as u32, 2));
            at += 1 + take;
        } else {
            runs.push((usize::from(length), 0, 0));
            at += 1;
        }
    }
    let mut counts = [0u32; 19];
    for &(symbol, _, _) in &runs {
        counts[symbol] += 1;
    }
    let length_code = Code::new(&counts, 7);
    let stored = CODE_LENGTH_ORDER
        .iter()
        .rposition(|&symbol| length_code.lengths[symbol] > 0)
        .map_or(4, |last| (last + 1).max(4));
    out.bits((literals - 257) as u32, 5);
    out.bits((distances - 1) as u32, 5);
    out.bits((stored - 4) as u32, 4);
    for &symbol in &CODE_LENGTH_ORDER[..stored] {
        out.bits(u32::from(length_code.lengths[symbol]), 3);
    }
    for (symbol, extra, extra_bits) in runs {
        length_code.write(out, symbol);
        out.bits(extra, extra_bits);
    }
}

/// Earlier positions by the hash of the three bytes starting there.
struct Matcher {
    /// Hash → the latest position with it.
    head: Vec<Option<usize>>,
    /// Position modulo the window → the previous position with the same hash.
    previous: Vec<Option<usize>>,
}

impl Matcher {
    fn new() -> Self {
        Matcher {
            head: vec![None; 1 << HASH_BITS],
            previous: vec![None; WINDOW],
        }
    }

    fn hash(data: &[u8], pos: usize) -> Option<usize> {
        let bytes = data.get(pos..pos + MIN_MATCH)?;
        let word = u32::from(bytes[0]) << 16 | u32::from(bytes[1]) << 8 | u32::from(bytes[2]);
        Some((word.wrapping_mul(0x9e37_79b1) >> (32 - HASH_BITS)) as usize)
    }

    fn insert(&mut self, data: &[u8], pos: usize) {
        if let Some(hash) = Self::hash(data, pos) {
            self.previous[pos % WINDOW] = self.head[hash];
            self.head[hash] = Some(pos);
        }
    }

    /// The longest earlier match for `data[pos..]` within the window, as
    /// `(length, distance)`; `None` when none reaches [`MIN_MATCH`] bytes.
    fn longest_match(&self, data: &[u8], pos: usize) -> Option<(usize, usize)> {
        let hash = Self::hash(data, pos)?;
        let limit = (data.len() - pos).min(MAX_MATCH);
        let mut best: Option<(usize, usize)> = None;
        let mut candidate = self.head[hash];
        for _ in 0..MAX_CHAIN {
            let Some(earlier) = candidate else { break };
            let distance = pos - earlier;
            if distance > WINDOW {
                break;
            }
            let length = data[earlier..]
                .iter()
                .zip(&data[pos..pos + limit])
                .take_while(|(a, b)| a == b)
                .count();
            if length >= MIN_MATCH && best.is_none_or(|(longest, _)| length > longest) {
                best = Some((length, distance));
                if length == limit {
                    break;
                }
            }
            // Older still; slots are only reused past the window, which ends the walk.
            candidate = self.previous[earlier % WINDOW];
        }
        best
    }
}

/// Bits packed least significant first, as DEFLATE stores them.
#[derive(Default)]
struct BitWriter {
    out: Vec<u8>,
    pending: u32,
    pending_bits: u32,
}

impl BitWriter {
    /// The low `count` bits of `value`, least significant first.
    fn bits(&mut self, value: u32, count: u32) {
        self.pending |= value << self.pending_bits;
        self.pending_bits += count;
        while self.pending_bits >= 8 {
            self.out.push(self.pending as u8);
            self.pending >>= 8;
            self.pending_bits -= 8;
        }
    }

    /// A Huffman code of `count` bits, whose most significant bit goes first.
    fn code(&mut self, code: u32, count: u32) {
        self.bits(code.reverse_bits() >> (32 - count), count);
    }

    fn finish(mut self) -> Vec<u8> {
        if self.pending_bits > 0 {
            self.out.push(self.pending as u8);
        }
        self.out
    }
}

/// The index of the symbol whose base covers `value`, and `value - base`
/// (the extra bits' value).
fn bucket(bases: &[u16], value: usize) -> (usize, u32) {
    let index = bases.partition_point(|&base| usize::from(base) <= value) - 1;
    (index, (value - usize::from(bases[index])) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(data: &[u8]) -> Vec<u8> {
        let compressed = compress(data);
        let inflated = miniz_oxide::inflate::decompress_to_vec(&compressed)
            .unwrap_or_else(|e| panic!("{} bytes do not inflate: {e:?}", data.len()));
        assert_eq!(inflated, data, "{} bytes", data.len());
        compressed
    }

    /// Bytes from a fixed linear congruential generator: incompressible input.
    fn noise(len: usize) -> Vec<u8> {
        let mut state: u32 = 0x1234_5678;
        (0..len)
            .map(|_| {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (state >> 24) as u8
            })
            .collect()
    }

    #[test]
    fn any_input_inflates_back() {
        round_trip(b"");
        round_trip(b"a");
        round_trip(b"ab");
        round_trip(b"abcabcabc");
        round_trip(&[0u8; 1000]);
        round_trip(&[0xffu8; 70_000]);
        round_trip(&noise(5000));
        // Every length and distance bucket, and matches reaching past the window.
        let mut text = Vec::new();
        for n in 0..3000u32 {
            text.extend_from_slice(
                format!("<feature name='f{}' policy='require'/>\n", n % 97).as_bytes(),
            );
            text.extend_from_slice(&noise((n % 13) as usize));
        }
        round_trip(&text);
    }

    #[test]
    fn text_shrinks_within_a_fifth_of_a_full_encoder() {
        let mut xml = String::from("<cpudata arch='x86'>\n");
        for leaf in 0..400u32 {
            xml.push_str(&format!(
                "  <cpuid eax_in='0x{leaf:08x}' ecx_in='0x00' eax='0x{:08x}' ebx='0x{:08x}' ecx='0x00000000' edx='0x{:08x}'/>\n",
                leaf.wrapping_mul(2_654_435_761),
                leaf * 3,
                leaf ^ 0xbfeb_fbff
            ));
        }
        let ours = round_trip(xml.as_bytes()).len();
        let full = miniz_oxide::deflate::compress_to_vec(xml.as_bytes(), 9).len();
        assert!(ours < xml.len() / 3, "{ours} of {} bytes", xml.len());
        assert!(
            ours * 100 < full * 120,
            "ours {ours}, a full encoder's {full}"
        );
    }
}
