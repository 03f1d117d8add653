//! Yew hooks that connect the app to the browser: the URL, the document's theme
//! and files dropped anywhere on the page.

mod file_drop;
mod location;
mod theme;

pub use file_drop::{read_text_files, use_window_file_drop, FileOutcomes};
pub use location::{is_embed_mode, page_url, use_location_sync, write_fragment_now, PageLocation};
pub use theme::use_document_theme;
