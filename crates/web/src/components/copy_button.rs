//! A button that copies a text to the clipboard and says so: the code panels'
//! and the share link's.

use yew::prelude::*;

/// Puts `text` on the clipboard.
pub fn copy_to_clipboard(text: &str) {
    let clipboard = gloo_utils::window().navigator().clipboard();
    // The returned promise only reports permission problems, which the
    // browser already shows; the button still says what it tried.
    let _ = clipboard.write_text(text);
}

/// The button: `label` until it has `copied`, then "Copied"; `aria_label`
/// says what it copies, for screen readers.
pub fn copy_button(
    label: &'static str,
    aria_label: AttrValue,
    testid: Option<&'static str>,
    copied: bool,
    onclick: Callback<MouseEvent>,
) -> Html {
    html! {
        <button type="button" class="copy" aria-label={aria_label} data-testid={testid} {onclick}>
            { if copied { "Copied" } else { label } }
        </button>
    }
}
