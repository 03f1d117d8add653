//! The guestcpu browser app: a Yew front end over `guestcpu-core`, plus the
//! `window.guestcpu` JavaScript API from the same WebAssembly module.
//!
//! The engine is reached only through [`engine`]; [`state`], [`files`], [`diff`] and
//! [`share`]'s framing are pure
//! and tested natively; `app`, [`components`] and [`hooks`] hold everything that
//! touches the browser. See `docs/architecture.md` for the project-wide map.

pub mod app;
pub mod components;
pub mod diff;
pub mod engine;
pub mod examples;
pub mod files;
pub mod hooks;
pub mod js_api;
pub mod share;
pub mod state;

use wasm_bindgen::prelude::wasm_bindgen;

/// Mounts the app into `<body>`; wasm-bindgen runs this as soon as the module loads.
///
/// Yew's renderer installs `console_error_panic_hook` here; in the page's build
/// (`with_web_toolchain` in scripts/lib.sh: `-Cpanic=immediate-abort`) a panic
/// traps at once (`RuntimeError: unreachable` in the console) and the hook never
/// runs. It stays linked (under 1 KB): Yew decides at run time whether to install
/// it, and an empty hook set first only adds `set_hook` to the module.
#[wasm_bindgen(start)]
pub fn start() {
    yew::Renderer::<app::App>::new().render();
}

/// The page's allocator: talc's, about 1.5 KB smaller gzipped than std's
/// dlmalloc in the module (the page's download budget counts it).
/// `new_global` is unsafe because `TalckWasm` takes no lock: sound here, where
/// nothing runs on another thread (the module is built without atomics) and
/// this is the module's only global allocator.
#[cfg(target_arch = "wasm32")]
#[global_allocator]
#[allow(unsafe_code)]
static ALLOCATOR: talc::TalckWasm = unsafe { talc::TalckWasm::new_global() };
