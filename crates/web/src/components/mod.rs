//! The page's parts, one file each; they render values and emit actions, and
//! never call the engine themselves (that is `app.rs`'s job via `engine.rs`).
//!
//! Most are plain functions returning `Html`: a Yew component costs the module
//! a lifecycle of its own (its props, their comparison, its hooks), so only
//! the parts that keep state (the code panels: diff shown, text copied) or
//! whose re-render is worth skipping (the models table, a hundred rows that
//! change only with the host; a host input, whose text box Yew would read
//! back to compare on every render) are components.

mod copy_button;
mod domain_editor;
mod filtered_table;
mod fix_panel;
mod header;
mod host_brief;
mod host_input;
mod models_table;
mod options_panel;
mod result_panels;
mod verdicts;

pub use domain_editor::domain_editor;
pub use filtered_table::filtered_table;
pub use fix_panel::fix_panel;
pub use header::{example_pair_action, header};
pub use host_brief::host_brief;
pub use host_input::{host_input, HostInputProps, HostRole};
pub use models_table::ModelsTable;
pub use options_panel::options_panel;
pub use result_panels::{code_panel, status_panel};
pub use verdicts::verdicts;
