//! The worker's glue to the browser: takes the `File`s the page posts, reads
//! or decompresses their bytes, and posts the report's text back.
//!
//! gzip goes through the browser's `DecompressionStream('gzip')`, read chunk
//! by chunk: when the stream fails (an archive cut short), the bytes it gave
//! before are still read, as the CLI reads a truncated archive up to its
//! break.

use guestcpu_core::sosreport::examine;
use guestcpu_sosreport::{not_a_report, ArchiveKind};
use js_sys::Uint8Array;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    DedicatedWorkerGlobalScope, File, MessageEvent, ReadableStream, ReadableStreamDefaultReader,
    ReadableWritablePair, WritableStream,
};

use crate::{read_decompressed, read_xz, report_text};

// The decompression stream, declared here: web-sys has it only behind
// `--cfg=web_sys_unstable_apis` (as crates/web/src/share.rs does).
#[wasm_bindgen]
extern "C" {
    /// `DecompressionStream` (Compression Streams standard).
    type DecompressionStream;
    #[wasm_bindgen(constructor, catch)]
    fn new(format: &str) -> Result<DecompressionStream, JsValue>;
    #[wasm_bindgen(method, getter)]
    fn readable(this: &DecompressionStream) -> ReadableStream;
    #[wasm_bindgen(method, getter)]
    fn writable(this: &DecompressionStream) -> WritableStream;
}

/// A gzip archive that decompresses to more than this is read only this far,
/// and the rest is a break the report names: the worker holds the tar in
/// memory, and a WebAssembly module has 4 GiB at most.
const MAX_TAR_BYTES: usize = 1024 * 1024 * 1024;

/// Says the worker is ready (posts `null`), then answers every message (the
/// dropped archives, an array of `File`s) with their report's text.
#[wasm_bindgen(start)]
pub fn start() {
    let scope: DedicatedWorkerGlobalScope = js_sys::global().unchecked_into();
    let on_message = Closure::<dyn Fn(MessageEvent)>::new(|event: MessageEvent| {
        let archives: Vec<File> = js_sys::Array::from(&event.data())
            .iter()
            .map(JsCast::unchecked_into)
            .collect();
        wasm_bindgen_futures::spawn_local(async move {
            let text = report_of(&archives).await;
            let scope: DedicatedWorkerGlobalScope = js_sys::global().unchecked_into();
            // Posting a string to the page that started the worker cannot fail.
            let _ = scope.post_message(&JsValue::from_str(&text));
        });
    });
    scope.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    // The handler lives as long as the worker.
    on_message.forget();
    // Ready: messages posted before this module ran would have found no
    // handler, so the page posts the archives only on this `null`.
    let _ = scope.post_message(&JsValue::NULL);
}

/// The text report of the sosreport archives, or the one line saying why
/// there is none (as `guestcpu sosreport` says it).
async fn report_of(archives: &[File]) -> String {
    let mut reports = Vec::with_capacity(archives.len());
    for archive in archives {
        let name = archive.name();
        let read = match ArchiveKind::of(&name) {
            Some(ArchiveKind::Xz) => bytes_of(archive).await.map(|bytes| read_xz(&bytes)),
            Some(ArchiveKind::Tar) => bytes_of(archive)
                .await
                .map(|bytes| read_decompressed(&bytes, None)),
            Some(ArchiveKind::Gzip) => gunzip(archive)
                .await
                .map(|(tar, stopped)| read_decompressed(&tar, stopped.as_deref())),
            None => return not_a_report(&name),
        };
        match read {
            Ok((files, problems)) => reports.push(examine(&name, &files, &problems)),
            Err(error) => return format!("{name}: cannot read: {}", described(&error)),
        }
    }
    report_text(&reports)
}

/// The bytes of `file`.
async fn bytes_of(file: &File) -> Result<Vec<u8>, JsValue> {
    let buffer = JsFuture::from(file.array_buffer()).await?;
    Ok(Uint8Array::new(&buffer).to_vec())
}

/// The gzip archive `file` decompressed by the browser, and why the
/// decompression stopped before the end when it did.
async fn gunzip(file: &File) -> Result<(Vec<u8>, Option<String>), JsValue> {
    let stream = DecompressionStream::new("gzip")?;
    let pair = ReadableWritablePair::new(&stream.readable(), &stream.writable());
    let reader: ReadableStreamDefaultReader = file
        .stream()
        .pipe_through(&pair)
        .get_reader()
        .unchecked_into();
    let mut tar = Vec::new();
    loop {
        let chunk = match JsFuture::from(reader.read()).await {
            Ok(chunk) => chunk,
            Err(error) => return Ok((tar, Some(described(&error)))),
        };
        if js_sys::Reflect::get(&chunk, &"done".into())?.is_truthy() {
            return Ok((tar, None));
        }
        let value: Uint8Array = js_sys::Reflect::get(&chunk, &"value".into())?.unchecked_into();
        if tar.len() + value.length() as usize > MAX_TAR_BYTES {
            // Cancelling only frees the stream; its outcome does not matter.
            let _ = reader.cancel();
            let reason = format!(
                "the decompressed archive is larger than {} MiB, which is as far as the page reads",
                MAX_TAR_BYTES / (1024 * 1024)
            );
            return Ok((tar, Some(reason)));
        }
        tar.extend(value.to_vec());
    }
}

/// A JavaScript error's message (a `TypeError` from the stream says what
/// failed), or its string form.
fn described(error: &JsValue) -> String {
    error
        .dyn_ref::<js_sys::Error>()
        .map(|error| String::from(error.message()))
        .or_else(|| error.as_string())
        .unwrap_or_else(|| "the browser gave no reason".to_string())
}
