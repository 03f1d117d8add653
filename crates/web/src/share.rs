//! The share link: the whole [`AppState`] packed into the URL fragment.
//!
//! The fragment is never sent to a server, so a link carries the user's domain and
//! host dump without them leaving the browser. The state is serialized to JSON,
//! compressed with raw DEFLATE by the browser's own `CompressionStream('deflate-raw')`
//! (read back by `DecompressionStream`) and written as unpadded base64url behind a
//! `s=` key, so the format can change later under another key. Links written
//! before the app used the browser's streams (by its own DEFLATE encoder) are the
//! same raw DEFLATE and keep opening; `tests/e2e/app.test.mjs` opens one.
//!
//! The framing (key, base64url, JSON, size limit) is pure and tested natively;
//! [`encode`] and [`decode`] add the compression and need a browser.

use std::fmt;

use js_sys::{Array, Uint8Array};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    Blob, ReadableStream, ReadableStreamDefaultReader, ReadableWritablePair, Response,
    WritableStream,
};

use crate::state::AppState;

// The compression streams, declared here: web-sys has them only behind
// `--cfg=web_sys_unstable_apis`, which would have to be set for every build.
#[wasm_bindgen]
extern "C" {
    /// `CompressionStream` (Compression Streams standard), the compressing side.
    type CompressionStream;
    #[wasm_bindgen(constructor, catch)]
    fn new(format: &str) -> Result<CompressionStream, JsValue>;
    #[wasm_bindgen(method, getter)]
    fn readable(this: &CompressionStream) -> ReadableStream;
    #[wasm_bindgen(method, getter)]
    fn writable(this: &CompressionStream) -> WritableStream;

    /// `DecompressionStream`, the inflating side.
    type DecompressionStream;
    #[wasm_bindgen(constructor, catch)]
    fn new(format: &str) -> Result<DecompressionStream, JsValue>;
    #[wasm_bindgen(method, getter)]
    fn readable(this: &DecompressionStream) -> ReadableStream;
    #[wasm_bindgen(method, getter)]
    fn writable(this: &DecompressionStream) -> WritableStream;
}

/// The streams' name for raw DEFLATE (RFC 1951, no zlib or gzip framing).
const DEFLATE_RAW: &str = "deflate-raw";

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
    /// The browser refused to compress (it lacks `CompressionStream`).
    Unsupported,
}

impl fmt::Display for ShareError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ShareError::UnknownFormat => f.write_str("the link's fragment is not a guestcpu state"),
            ShareError::BadEncoding => f.write_str("the link's state is not valid base64url"),
            ShareError::BadCompression => f.write_str("the link's state does not decompress"),
            ShareError::BadState(message) => write!(f, "the link's state is invalid: {message}"),
            ShareError::Unsupported => {
                f.write_str("this browser cannot compress (no CompressionStream)")
            }
        }
    }
}

/// The fragment (without `#`) that describes `state`.
pub async fn encode(state: &AppState) -> Result<String, ShareError> {
    let compressed = compress(state_json(state).as_bytes())
        .await
        .map_err(|_| ShareError::Unsupported)?;
    Ok(fragment_of(&compressed))
}

/// The state described by `fragment` (with or without its leading `#`).
pub async fn decode(fragment: &str) -> Result<AppState, ShareError> {
    let compressed = payload_of(fragment)?;
    let json = decompress(&compressed, MAX_STATE_BYTES)
        .await
        .map_err(|_| ShareError::BadCompression)?;
    state_of(json)
}

/// The JSON the share link carries for `state`.
fn state_json(state: &AppState) -> String {
    // Serializing a struct of strings and enums to JSON cannot fail.
    guestcpu_core::json::to_string(state).unwrap_or_default()
}

/// `s=` and the base64url of `compressed`.
fn fragment_of(compressed: &[u8]) -> String {
    format!("{STATE_KEY}{}", base64url_encode(compressed))
}

/// The compressed bytes behind `s=` in `fragment`.
fn payload_of(fragment: &str) -> Result<Vec<u8>, ShareError> {
    let fragment = fragment.strip_prefix('#').unwrap_or(fragment);
    let payload = fragment
        .strip_prefix(STATE_KEY)
        .ok_or(ShareError::UnknownFormat)?;
    base64url_decode(payload).ok_or(ShareError::BadEncoding)
}

/// The state in the decompressed `json` bytes.
fn state_of(json: Vec<u8>) -> Result<AppState, ShareError> {
    let json = String::from_utf8(json).map_err(|_| ShareError::BadState("not UTF-8".into()))?;
    AppState::from_json(&json).map_err(|e| ShareError::BadState(e.describe(&json)))
}

/// `bytes` as a stream, piped through `transform` (a compression stream's pair).
fn piped(bytes: &[u8], transform: &ReadableWritablePair) -> Result<ReadableStream, JsValue> {
    let parts = Array::of1(&Uint8Array::from(bytes));
    let blob = Blob::new_with_u8_array_sequence(&parts)?;
    Ok(blob.stream().pipe_through(transform))
}

/// `bytes` compressed with raw DEFLATE by the browser.
async fn compress(bytes: &[u8]) -> Result<Vec<u8>, JsValue> {
    let stream = CompressionStream::new(DEFLATE_RAW)?;
    let pair = ReadableWritablePair::new(&stream.readable(), &stream.writable());
    let response = Response::new_with_opt_readable_stream(Some(&piped(bytes, &pair)?))?;
    let buffer = JsFuture::from(response.array_buffer()?).await?;
    Ok(Uint8Array::new(&buffer).to_vec())
}

/// Raw DEFLATE `bytes` inflated by the browser, read chunk by chunk so that more
/// than `limit` bytes are refused before they are all held.
async fn decompress(bytes: &[u8], limit: usize) -> Result<Vec<u8>, JsValue> {
    let stream = DecompressionStream::new(DEFLATE_RAW)?;
    let pair = ReadableWritablePair::new(&stream.readable(), &stream.writable());
    let reader: ReadableStreamDefaultReader = piped(bytes, &pair)?.get_reader().unchecked_into();
    let mut out = Vec::new();
    loop {
        let chunk = JsFuture::from(reader.read()).await?;
        if js_sys::Reflect::get(&chunk, &"done".into())?.is_truthy() {
            return Ok(out);
        }
        let value: Uint8Array = js_sys::Reflect::get(&chunk, &"value".into())?.unchecked_into();
        if out.len() + value.length() as usize > limit {
            // Cancelling only frees the stream; its outcome does not matter.
            let _ = reader.cancel();
            return Err(JsValue::from_str("the state is too large"));
        }
        out.extend(value.to_vec());
    }
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
    use std::rc::Rc;

    use super::*;
    use crate::state::{Accelerator, Theme};

    fn sample_state() -> AppState {
        AppState {
            domain_xml: "<cpu mode='host-model' check='partial'/>\n<!-- ünïcödé & <tags> -->"
                .into(),
            host_dump: Rc::from("CPU 0:\n   0x00000000 0x00: eax=0x00000010".repeat(200)),
            host_file_name: Some("host.txt".into()),
            more_host_files: vec![crate::files::LoadedFile {
                name: "qmp.json".into(),
                text: "{\"return\": {}}".into(),
            }],
            second_host_dump: Some("".into()),
            qemu_version: Some("9.2".into()),
            libvirt_version: Some("9.0".into()),
            upgrade_to: Some("11.3:10.0".into()),
            accelerator: Some(Accelerator::Tcg),
            theme: Theme::Dark,
            model_filter: "Haswell".into(),
            usable_models_only: true,
            // Not shared: a refused file is only shown where it was given.
            host_file_problem: None,
            second_host_file_problem: None,
        }
    }

    /// The framing without the browser's compression: `s=`, base64url, JSON.
    fn framed(state: &AppState) -> String {
        fragment_of(state_json(state).as_bytes())
    }

    fn unframed(fragment: &str) -> Result<AppState, ShareError> {
        state_of(payload_of(fragment)?)
    }

    #[test]
    fn a_state_survives_the_framing() {
        let state = sample_state();
        assert_eq!(unframed(&framed(&state)), Ok(state));
    }

    #[test]
    fn the_fragment_is_url_safe() {
        let fragment = framed(&sample_state());
        assert!(fragment
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'='));
    }

    #[test]
    fn a_leading_hash_is_accepted() {
        let state = sample_state();
        assert_eq!(unframed(&format!("#{}", framed(&state))), Ok(state));
    }

    #[test]
    fn fields_missing_from_an_older_link_take_their_defaults() {
        let fragment = fragment_of(br#"{"domain_xml":"<cpu/>"}"#);
        let state = unframed(&fragment).expect("an older state decodes");
        assert_eq!(&*state.domain_xml, "<cpu/>");
        assert_eq!(state.accelerator, None);
        assert!(!state.usable_models_only);
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
        assert_eq!(payload_of("x=abc"), Err(ShareError::UnknownFormat));
        assert_eq!(payload_of("s=***"), Err(ShareError::BadEncoding));
        assert!(matches!(
            unframed(&fragment_of(b"[1,2]")),
            Err(ShareError::BadState(_))
        ));
        assert!(matches!(
            state_of(vec![0xff, 0xfe]),
            Err(ShareError::BadState(_))
        ));
    }
}
