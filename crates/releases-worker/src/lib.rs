//! The older libvirt and QEMU releases' data, which the web app's module
//! leaves out (guestcpu-core's `deferred-releases`: libvirt 9.0's CPU map and
//! QEMU 5.2 to 10.0's definitions): a third WebAssembly module, run in a Web
//! Worker that the page starts only when a check first asks for one of them
//! (`window.guestcpu.ready` in `web/boot.js`). It posts the packed data, as
//! `build.rs` wrote it, to the page, which hands it to the engine
//! (`guestcpu_core::data::load_deferred`).
//!
//! A worker, because after load the page's policy (`connect-src 'none'`) lets
//! the page fetch nothing, while a worker of its origin may start and fetch
//! its own module.

#[cfg(target_arch = "wasm32")]
#[wasm_bindgen::prelude::wasm_bindgen(start)]
pub fn start() {
    use wasm_bindgen::JsCast;
    let scope: web_sys::DedicatedWorkerGlobalScope = js_sys::global().unchecked_into();
    // Posting fails only when the page is gone: no one is left to answer.
    let _ = scope.post_message(&js_sys::Uint8Array::from(guestcpu_core::data::DEFERRED));
}
