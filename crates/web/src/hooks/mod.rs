//! Yew hooks that connect the app to the browser: the URL, the document's theme,
//! files dropped anywhere on the page and the older releases' data.

mod file_drop;
mod location;
mod releases;
mod theme;

pub use file_drop::{read_text_files, use_window_file_drop, FileOutcomes};
pub use location::{is_embed_mode, page_url, use_location_sync, write_fragment_now, PageLocation};
pub use releases::use_load_older_releases;
pub use theme::use_document_theme;
