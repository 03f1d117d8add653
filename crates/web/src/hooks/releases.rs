//! The older libvirt and QEMU releases' data, which the page's module leaves
//! out: loaded when a check first asks for it (the engine answers
//! `AnalysisError::Loading`), through `window.guestcpu.ready`, which starts
//! the worker that holds it (`web/boot.js`, crates/releases-worker).

use wasm_bindgen::JsCast;
use wasm_bindgen_futures::{spawn_local, JsFuture};
use yew::prelude::*;

/// Loads the older releases' data when a render `waits` for it, then sets
/// `loaded` (state the checks that waited depend on, so they are asked again).
#[hook]
pub fn use_load_older_releases(waits: bool, loaded: UseStateSetter<bool>) {
    use_effect_with(waits, move |waits| {
        if *waits {
            spawn_local(async move {
                if let Some(ready) = guestcpu_ready() {
                    // A failed load leaves the checks waiting, saying so.
                    if JsFuture::from(ready).await.is_ok() {
                        loaded.set(true);
                    }
                }
            });
        }
    });
}

/// `window.guestcpu.ready`: reading it starts loading the older releases.
fn guestcpu_ready() -> Option<js_sys::Promise> {
    let guestcpu = js_sys::Reflect::get(&gloo_utils::window(), &"guestcpu".into()).ok()?;
    js_sys::Reflect::get(&guestcpu, &"ready".into())
        .ok()?
        .dyn_into()
        .ok()
}
