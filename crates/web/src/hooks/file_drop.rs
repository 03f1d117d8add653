//! Reading user files: from a file picker, or dropped anywhere on the window.
//! What counts as a text file is decided by [`crate::files`].

use std::rc::Rc;

use gloo_events::{EventListener, EventListenerOptions};
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use yew::prelude::*;

use crate::files::{file_text, FileProblem, LoadedFile};
use crate::state::Action;

/// What reading the files given together gave: each one's text, or why it has none.
pub type FileOutcomes = Vec<Result<LoadedFile, FileProblem>>;

/// Reads every file of `files`, in order, and emits their texts at once.
pub fn read_text_files(files: web_sys::FileList, on_loaded: Callback<FileOutcomes>) {
    let files: Vec<web_sys::File> = (0..files.length()).filter_map(|i| files.get(i)).collect();
    if files.is_empty() {
        return;
    }
    wasm_bindgen_futures::spawn_local(async move {
        let mut outcomes = Vec::with_capacity(files.len());
        for file in files {
            let name: Rc<str> = file.name().into();
            outcomes.push(match JsFuture::from(file.array_buffer()).await {
                Ok(buffer) => file_text(name, &js_sys::Uint8Array::new(&buffer).to_vec()),
                Err(_) => Err(FileProblem::Unreadable { name }),
            });
        }
        on_loaded.emit(outcomes);
    });
}

/// Accepts files dropped anywhere on the page and emits them as the host's
/// files.
///
/// Both `dragover` and `drop` must be cancelled, or the browser navigates to the
/// dropped file instead of handing it to the page.
#[hook]
pub fn use_window_file_drop(on_action: Callback<Action>) {
    use_effect_with(on_action, |on_action| {
        let window = gloo_utils::window();
        let options = EventListenerOptions::enable_prevent_default();
        let on_dragover = EventListener::new_with_options(&window, "dragover", options, |event| {
            event.prevent_default();
        });
        let on_loaded = on_action.reform(Action::LoadHostFiles);
        let on_drop = EventListener::new_with_options(&window, "drop", options, move |event| {
            event.prevent_default();
            let files = event
                .dyn_ref::<web_sys::DragEvent>()
                .and_then(web_sys::DragEvent::data_transfer)
                .and_then(|transfer| transfer.files());
            if let Some(files) = files {
                read_text_files(files, on_loaded.clone());
            }
        });
        // Dropping the listeners on cleanup unregisters them.
        move || drop((on_dragover, on_drop))
    });
}
