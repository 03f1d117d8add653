//! Reading user files: from a file picker, or dropped anywhere on the window.
//! What counts as a text file is decided by [`crate::files`].

use std::rc::Rc;

use gloo_events::{EventListener, EventListenerOptions};
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use yew::prelude::*;

use crate::files::{file_text, FileProblem, LoadedFile};

/// Reads `file` and emits its text, or why it has none.
pub fn read_text_file(file: web_sys::File, on_loaded: Callback<Result<LoadedFile, FileProblem>>) {
    wasm_bindgen_futures::spawn_local(async move {
        let name: Rc<str> = file.name().into();
        let outcome = match JsFuture::from(file.array_buffer()).await {
            Ok(buffer) => file_text(name, &js_sys::Uint8Array::new(&buffer).to_vec()),
            Err(_) => Err(FileProblem::Unreadable { name }),
        };
        on_loaded.emit(outcome);
    });
}

/// Accepts a file dropped anywhere on the page and emits its text.
///
/// Both `dragover` and `drop` must be cancelled, or the browser navigates to the
/// dropped file instead of handing it to the page.
#[hook]
pub fn use_window_file_drop(on_loaded: Callback<Result<LoadedFile, FileProblem>>) {
    use_effect_with(on_loaded, |on_loaded| {
        let window = gloo_utils::window();
        let options = EventListenerOptions::enable_prevent_default();
        let on_dragover = EventListener::new_with_options(&window, "dragover", options, |event| {
            event.prevent_default();
        });
        let on_loaded = on_loaded.clone();
        let on_drop = EventListener::new_with_options(&window, "drop", options, move |event| {
            event.prevent_default();
            let file = event
                .dyn_ref::<web_sys::DragEvent>()
                .and_then(web_sys::DragEvent::data_transfer)
                .and_then(|transfer| transfer.files())
                .and_then(|files| files.get(0));
            if let Some(file) = file {
                read_text_file(file, on_loaded.clone());
            }
        });
        // Dropping the listeners on cleanup unregisters them.
        move || drop((on_dragover, on_drop))
    });
}
