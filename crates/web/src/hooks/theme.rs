//! The colour theme, applied as `data-theme` on `<html>` so the stylesheet (and
//! the page background outside the app) follows it.

use yew::prelude::*;

use crate::state::Theme;

/// Sets `<html data-theme=…>` whenever `theme` changes.
#[hook]
pub fn use_document_theme(theme: Theme) {
    use_effect_with(theme, |theme| {
        if let Some(root) = gloo_utils::document().document_element() {
            // Setting a plain attribute on <html> cannot fail.
            let _ = root.set_attribute("data-theme", theme.attribute());
        }
    });
}
