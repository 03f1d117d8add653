//! The share link: the whole [`AppState`] packed into the URL fragment.
//!
//! The fragment is never sent to a server, so a link carries the user's domain and
//! host dump without them leaving the browser. The state is serialized to JSON,
//! compressed with raw DEFLATE ([`crate::deflate`], read back by
//! [`crate::inflate`]) and written as unpadded base64url behind a `s=` key, so
//! the format can change later under another key. Pure code, tested natively.

use std::fmt;

use crate::state::AppState;
use crate::{deflate, inflate};

/// The key in front of the payload: `#s=...`.
const STATE_KEY: &str = "s=";

/// Decompressed states larger than this are refused, so a crafted link cannot make
/// the page allocate without bound.
const MAX_STATE_BYTES: usize = 16 * 1024 * 1024;

/// Why a fragment could not be turned back into a state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShareError {
    /// The fragment does not start with `s=`.
    UnknownFormat,
    /// The payload is not valid base64url.
    BadEncoding,
    /// The payload does not inflate, or inflates past the size limit.
    BadCompression,
    /// The inflated JSON does not describe a state.
    BadState(String),
}

impl fmt::Display for ShareError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ShareError::UnknownFormat => f.write_str("the link's fragment is not a guestcpu state"),
            ShareError::BadEncoding => f.write_str("the link's state is not valid base64url"),
            ShareError::BadCompression => f.write_str("the link's state does not decompress"),
            ShareError::BadState(message) => write!(f, "the link's state is invalid: {message}"),
        }
    }
}

/// The fragment (without `#`) that describes `state`.
pub fn encode(state: &AppState) -> String {
    // Serializing a struct of strings and enums to JSON cannot fail.
    let json = guestcpu_core::json::to_string(state).unwrap_or_default();
    let compressed = deflate::compress(json.as_bytes());
    format!("{STATE_KEY}{}", base64url_encode(&compressed))
}

/// The state described by `fragment` (with or without its leading `#`).
pub fn decode(fragment: &str) -> Result<AppState, ShareError> {
    let fragment = fragment.strip_prefix('#').unwrap_or(fragment);
    let payload = fragment
        .strip_prefix(STATE_KEY)
        .ok_or(ShareError::UnknownFormat)?;
    let compressed = base64url_decode(payload).ok_or(ShareError::BadEncoding)?;
    let json = inflate::decompress(&compressed, MAX_STATE_BYTES)
        .map_err(|_| ShareError::BadCompression)?;
    let json = String::from_utf8(json).map_err(|_| ShareError::BadState("not UTF-8".into()))?;
    AppState::from_json(&json).map_err(|e| ShareError::BadState(e.describe(&json)))
}

/// base64url's alphabet (RFC 4648, section 5).
const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// `bytes` as unpadded base64url.
fn base64url_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let group = chunk.iter().enumerate().fold(0u32, |group, (i, byte)| {
            group | u32::from(*byte) << (16 - 8 * i)
        });
        // One byte gives two characters, two give three, three give four.
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[(group >> (18 - 6 * i)) as usize & 63]));
        }
    }
    out
}

/// The bytes of unpadded base64url `text`; `None` for a character outside the
/// alphabet, a length no encoding has, or bits set past the last byte.
fn base64url_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3 + 2);
    for chunk in text.as_bytes().chunks(4) {
        if chunk.len() == 1 {
            return None;
        }
        let mut group = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            let value = ALPHABET.iter().position(|a| a == c)? as u32;
            group |= value << (18 - 6 * i);
        }
        let bytes = group.to_be_bytes();
        let kept = chunk.len() - 1;
        if bytes[1 + kept..].iter().any(|b| *b != 0) {
            return None;
        }
        out.extend_from_slice(&bytes[1..1 + kept]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{Accelerator, Theme};

    fn sample_state() -> AppState {
        AppState {
            domain_xml: "<cpu mode='host-model' check='partial'/>\n<!-- ünïcödé & <tags> -->"
                .into(),
            host_dump: "CPU 0:\n   0x00000000 0x00: eax=0x00000010".repeat(200),
            host_file_name: Some("host.txt".into()),
            second_host_dump: Some(String::new()),
            qemu_version: Some("9.2".into()),
            libvirt_version: Some("9.0".into()),
            accelerator: Some(Accelerator::Tcg),
            theme: Theme::Dark,
            model_filter: "Haswell".into(),
        }
    }

    #[test]
    fn a_state_survives_the_round_trip() {
        let state = sample_state();
        assert_eq!(decode(&encode(&state)), Ok(state));
    }

    #[test]
    fn the_fragment_is_url_safe_and_compressed() {
        let state = sample_state();
        let fragment = encode(&state);
        assert!(fragment
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'='));
        assert!(
            fragment.len() < state.host_dump.len() / 10,
            "{} bytes",
            fragment.len()
        );
    }

    #[test]
    fn a_leading_hash_is_accepted() {
        let state = sample_state();
        assert_eq!(decode(&format!("#{}", encode(&state))), Ok(state));
    }

    #[test]
    fn fields_missing_from_an_older_link_take_their_defaults() {
        let json = br#"{"domain_xml":"<cpu/>"}"#;
        let compressed = deflate::compress(json);
        let fragment = format!("s={}", base64url_encode(&compressed));
        let state = decode(&fragment).expect("an older state decodes");
        assert_eq!(state.domain_xml, "<cpu/>");
        assert_eq!(state.accelerator, None);
    }

    #[test]
    fn base64url_matches_rfc_4648() {
        // RFC 4648's test vectors, unpadded, and bytes that need `-` and `_`.
        for (bytes, text) in [
            (&b""[..], ""),
            (b"f", "Zg"),
            (b"fo", "Zm8"),
            (b"foo", "Zm9v"),
            (b"foob", "Zm9vYg"),
            (b"fooba", "Zm9vYmE"),
            (b"foobar", "Zm9vYmFy"),
            (&[0xfb, 0xff, 0xbf], "-_-_"),
        ] {
            assert_eq!(base64url_encode(bytes), text);
            assert_eq!(base64url_decode(text).as_deref(), Some(bytes));
        }
        // A lone character, padding, `+`/`/` and bits past the last byte.
        for text in ["Zm9vY", "Zg==", "+/8", "Zh"] {
            assert_eq!(base64url_decode(text), None, "{text}");
        }
    }

    #[test]
    fn broken_fragments_say_what_is_wrong() {
        assert_eq!(decode("x=abc"), Err(ShareError::UnknownFormat));
        assert_eq!(decode("s=***"), Err(ShareError::BadEncoding));
        assert_eq!(decode("s=AAAA"), Err(ShareError::BadCompression));
        let compressed = deflate::compress(b"[1,2]");
        let fragment = format!("s={}", base64url_encode(&compressed));
        assert!(matches!(decode(&fragment), Err(ShareError::BadState(_))));
    }
}
