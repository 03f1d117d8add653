//! A raw-DEFLATE decoder (RFC 1951) for the share link: stored, fixed-code and
//! dynamic-code blocks, so it reads the app's own links ([`crate::deflate`])
//! and those made before by a full encoder. Every malformed stream is an
//! error, never a panic, and the output is bounded.

use crate::deflate::{
    CODE_LENGTH_ORDER, DISTANCE_BASE, DISTANCE_EXTRA, END_OF_BLOCK, LENGTH_BASE, LENGTH_EXTRA,
};

/// Why a stream does not decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InflateError {
    /// The stream ends before its final block does.
    Truncated,
    /// A block type, code table, symbol or distance the format does not allow.
    Malformed,
    /// The output would grow past the caller's limit.
    TooLarge,
}

/// The bytes `data` inflates to, refusing to produce more than `limit`.
pub fn decompress(data: &[u8], limit: usize) -> Result<Vec<u8>, InflateError> {
    let mut input = BitReader { data, bit: 0 };
    let mut out = Vec::new();
    loop {
        let last = input.bits(1)? == 1;
        match input.bits(2)? {
            0 => stored_block(&mut input, &mut out, limit)?,
            1 => {
                let (literals, distances) = fixed_codes();
                coded_block(&mut input, &mut out, limit, &literals, &distances)?;
            }
            2 => {
                let (literals, distances) = dynamic_codes(&mut input)?;
                coded_block(&mut input, &mut out, limit, &literals, &distances)?;
            }
            _ => return Err(InflateError::Malformed),
        }
        if last {
            return Ok(out);
        }
    }
}

/// Bits read least significant first, as DEFLATE stores them.
struct BitReader<'a> {
    data: &'a [u8],
    /// Position in bits.
    bit: usize,
}

impl BitReader<'_> {
    fn bits(&mut self, count: u32) -> Result<u32, InflateError> {
        let mut value = 0;
        for shift in 0..count {
            let byte = self.data.get(self.bit / 8).ok_or(InflateError::Truncated)?;
            value |= u32::from(byte >> (self.bit % 8) & 1) << shift;
            self.bit += 1;
        }
        Ok(value)
    }

    /// The next whole byte's position, skipping what is left of this one.
    fn byte_boundary(&mut self) -> usize {
        self.bit = self.bit.div_ceil(8) * 8;
        self.bit / 8
    }
}

fn stored_block(
    input: &mut BitReader<'_>,
    out: &mut Vec<u8>,
    limit: usize,
) -> Result<(), InflateError> {
    let start = input.byte_boundary();
    let header = input
        .data
        .get(start..start + 4)
        .ok_or(InflateError::Truncated)?;
    let length = usize::from(u16::from_le_bytes([header[0], header[1]]));
    let complement = u16::from_le_bytes([header[2], header[3]]);
    if complement != !(length as u16) {
        return Err(InflateError::Malformed);
    }
    let bytes = input
        .data
        .get(start + 4..start + 4 + length)
        .ok_or(InflateError::Truncated)?;
    if out.len() + length > limit {
        return Err(InflateError::TooLarge);
    }
    out.extend_from_slice(bytes);
    input.bit = (start + 4 + length) * 8;
    Ok(())
}

/// A canonical Huffman code read back: how many codes each length has and
/// the symbols in code order (RFC 1951, section 3.2.2).
struct Decoder {
    per_length: [u16; 16],
    symbols: Vec<u16>,
}

impl Decoder {
    /// The code with these bit lengths (0: the symbol has no code). A code set
    /// with more codes than its lengths allow is malformed; one with fewer
    /// (a single distance code, say) is allowed, as the format allows it.
    fn new(lengths: &[u8]) -> Result<Decoder, InflateError> {
        let mut per_length = [0u16; 16];
        for &length in lengths {
            per_length[usize::from(length)] += 1;
        }
        per_length[0] = 0;
        let mut available: i32 = 1;
        for &count in &per_length[1..] {
            available = available * 2 - i32::from(count);
            if available < 0 {
                return Err(InflateError::Malformed);
            }
        }
        let mut symbols: Vec<u16> = (0..lengths.len() as u16)
            .filter(|&symbol| lengths[usize::from(symbol)] > 0)
            .collect();
        symbols.sort_by_key(|&symbol| lengths[usize::from(symbol)]);
        Ok(Decoder {
            per_length,
            symbols,
        })
    }

    /// Reads one symbol: codes of each length are consecutive numbers, the
    /// first of a length following the last of the shorter ones.
    fn symbol(&self, input: &mut BitReader<'_>) -> Result<u16, InflateError> {
        let mut code: u32 = 0;
        let mut first: u32 = 0;
        let mut index: u32 = 0;
        for &count in &self.per_length[1..] {
            code |= input.bits(1)?;
            let count = u32::from(count);
            if code < first + count {
                return Ok(self.symbols[(index + code - first) as usize]);
            }
            index += count;
            first = (first + count) << 1;
            code <<= 1;
        }
        Err(InflateError::Malformed)
    }
}

/// The fixed literal/length and distance codes (section 3.2.6).
fn fixed_codes() -> (Decoder, Decoder) {
    let mut lengths = [8u8; 288];
    lengths[144..256].fill(9);
    lengths[256..280].fill(7);
    let literals = Decoder::new(&lengths).expect("the fixed code is complete");
    let distances = Decoder::new(&[5; 30]).expect("the fixed code is complete");
    (literals, distances)
}

/// The codes a dynamic block's header describes (section 3.2.7).
fn dynamic_codes(input: &mut BitReader<'_>) -> Result<(Decoder, Decoder), InflateError> {
    let literal_count = input.bits(5)? as usize + 257;
    let distance_count = input.bits(5)? as usize + 1;
    let stored = input.bits(4)? as usize + 4;
    if literal_count > 286 || distance_count > 30 {
        return Err(InflateError::Malformed);
    }
    let mut length_lengths = [0u8; 19];
    for &symbol in &CODE_LENGTH_ORDER[..stored] {
        length_lengths[symbol] = input.bits(3)? as u8;
    }
    let length_code = Decoder::new(&length_lengths)?;
    let mut lengths = Vec::with_capacity(literal_count + distance_count);
    while lengths.len() < literal_count + distance_count {
        let (value, repeat) = match length_code.symbol(input)? {
            symbol @ 0..=15 => (symbol as u8, 1),
            16 => {
                let previous = *lengths.last().ok_or(InflateError::Malformed)?;
                (previous, 3 + input.bits(2)?)
            }
            17 => (0, 3 + input.bits(3)?),
            _ => (0, 11 + input.bits(7)?),
        };
        if lengths.len() + repeat as usize > literal_count + distance_count {
            return Err(InflateError::Malformed);
        }
        lengths.extend(std::iter::repeat_n(value, repeat as usize));
    }
    if lengths[END_OF_BLOCK] == 0 {
        return Err(InflateError::Malformed);
    }
    let literals = Decoder::new(&lengths[..literal_count])?;
    let distances = Decoder::new(&lengths[literal_count..])?;
    Ok((literals, distances))
}

fn coded_block(
    input: &mut BitReader<'_>,
    out: &mut Vec<u8>,
    limit: usize,
    literals: &Decoder,
    distances: &Decoder,
) -> Result<(), InflateError> {
    loop {
        let symbol = usize::from(literals.symbol(input)?);
        if symbol < END_OF_BLOCK {
            if out.len() >= limit {
                return Err(InflateError::TooLarge);
            }
            out.push(symbol as u8);
            continue;
        }
        if symbol == END_OF_BLOCK {
            return Ok(());
        }
        let index = symbol - 257;
        let base = LENGTH_BASE.get(index).ok_or(InflateError::Malformed)?;
        let length = usize::from(*base) + input.bits(u32::from(LENGTH_EXTRA[index]))? as usize;
        let index = usize::from(distances.symbol(input)?);
        let base = DISTANCE_BASE.get(index).ok_or(InflateError::Malformed)?;
        let distance = usize::from(*base) + input.bits(u32::from(DISTANCE_EXTRA[index]))? as usize;
        if distance > out.len() {
            return Err(InflateError::Malformed);
        }
        if out.len() + length > limit {
            return Err(InflateError::TooLarge);
        }
        // Byte by byte: a match may overlap the bytes it produces.
        for _ in 0..length {
            out.push(out[out.len() - distance]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMIT: usize = 1 << 20;

    fn sample_text() -> Vec<u8> {
        let mut text = Vec::new();
        for n in 0..2000u32 {
            text.extend_from_slice(
                format!(
                    "<cpuid eax_in='0x{n:08x}' eax='0x{:08x}'/>\n",
                    n.wrapping_mul(2_654_435_761)
                )
                .as_bytes(),
            );
        }
        text
    }

    #[test]
    fn reads_every_block_type_a_full_encoder_writes() {
        let text = sample_text();
        let mut block_types = Vec::new();
        for level in [0, 1, 6, 9] {
            let compressed = miniz_oxide::deflate::compress_to_vec(&text, level);
            block_types.push(compressed[0] >> 1 & 3);
            assert_eq!(
                decompress(&compressed, LIMIT),
                Ok(text.clone()),
                "level {level}"
            );
        }
        for short in [&b""[..], b"a", b"hello hello hello"] {
            let compressed = miniz_oxide::deflate::compress_to_vec(short, 1);
            block_types.push(compressed[0] >> 1 & 3);
            assert_eq!(
                decompress(&compressed, LIMIT).as_deref(),
                Ok(short),
                "{short:?}"
            );
        }
        // Stored, fixed-code and dynamic-code first blocks were all read.
        for block_type in 0..3 {
            assert!(block_types.contains(&block_type), "{block_types:?}");
        }
    }

    #[test]
    fn reads_the_apps_own_encoding() {
        let text = sample_text();
        let compressed = crate::deflate::compress(&text);
        assert_eq!(decompress(&compressed, LIMIT), Ok(text));
        let runs = vec![7u8; 100_000];
        assert_eq!(
            decompress(&crate::deflate::compress(&runs), LIMIT),
            Ok(runs)
        );
    }

    #[test]
    fn limits_and_damage_are_errors_not_panics() {
        let text = sample_text();
        let compressed = crate::deflate::compress(&text);
        assert_eq!(
            decompress(&compressed, text.len() - 1),
            Err(InflateError::TooLarge)
        );
        assert_eq!(
            decompress(&compressed[..compressed.len() / 2], LIMIT),
            Err(InflateError::Truncated)
        );
        assert_eq!(decompress(&[0b111], LIMIT), Err(InflateError::Malformed));
        // Every prefix and every single-byte change of a real stream.
        for end in 0..compressed.len().min(300) {
            let _ = decompress(&compressed[..end], LIMIT);
        }
        for at in 0..compressed.len().min(300) {
            let mut damaged = compressed.clone();
            damaged[at] ^= 0x5a;
            let _ = decompress(&damaged, LIMIT);
        }
    }
}
