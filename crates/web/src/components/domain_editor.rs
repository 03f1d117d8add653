//! The domain XML editor: a textarea with a line-number gutter, and the parse
//! error (with line:column) or a summary of the `<cpu>` right under it.

use web_sys::{Element, HtmlTextAreaElement};
use yew::prelude::*;

use crate::engine::{AnalysisError, ParsedDomain};
use crate::state::Action;

/// "1\n2\n…" for as many lines as `text` has; an ending newline starts a line.
fn line_numbers(text: &str) -> String {
    let count = text.split('\n').count();
    let mut numbers = String::with_capacity(count * 4);
    for number in 1..=count {
        if number > 1 {
            numbers.push('\n');
        }
        numbers.push_str(&number.to_string());
    }
    numbers
}

/// The editor holding `text`, with `reading`, the result of reading it, below.
pub fn domain_editor(
    text: &AttrValue,
    reading: &Result<ParsedDomain, AnalysisError>,
    on_action: &Callback<Action>,
) -> Html {
    let oninput = on_action.reform(|event: InputEvent| {
        let editor = event.target_unchecked_into::<HtmlTextAreaElement>();
        Action::SetDomainXml(editor.value().into())
    });
    // The gutter is the editor's previous sibling and scrolls with it.
    let onscroll = Callback::from(|event: Event| {
        let editor: Element = event.target_unchecked_into();
        if let Some(gutter) = editor.previous_element_sibling() {
            gutter.set_scroll_top(editor.scroll_top());
        }
    });
    let input_error = match reading {
        Err(AnalysisError::Input(error)) => Some(error),
        _ => None,
    };
    let below = match (reading.as_ref().map(|parsed| &parsed.summary), input_error) {
        (_, Some(error)) => html! {
            <p class="input-error" role="alert" data-testid="error">{ error.to_string() }</p>
        },
        (Ok(summary), None) => {
            let model = summary
                .model
                .as_ref()
                .map(|model| format!(", model {model}"))
                .unwrap_or_default();
            html! {
                <p class="hint" data-testid="domain-summary">
                    { format!("mode {}{model}, {} feature(s), check {}", summary.mode,
                        summary.feature_count, summary.check.unwrap_or("(libvirt's default)")) }
                </p>
            }
        }
        (Err(_), None) => html! {
            <p class="hint">{ "A whole <domain> or only its <cpu> element." }</p>
        },
    };
    html! {
        <section class="panel" aria-labelledby="domain-heading">
            <h2 id="domain-heading">{ "Domain XML" }</h2>
            <div class={if input_error.is_some() { "editor has-error" } else { "editor" }}>
                <pre class="gutter" aria-hidden="true">{ line_numbers(text) }</pre>
                <textarea
                    data-testid="domain-input"
                    aria-label="Domain XML"
                    aria-invalid={ input_error.is_some().to_string() }
                    spellcheck="false"
                    autocomplete="off"
                    wrap="off"
                    placeholder="<cpu mode='host-model' check='partial'/>"
                    value={ text.clone() }
                    {oninput}
                    {onscroll}
                />
            </div>
            { below }
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::line_numbers;

    #[test]
    fn every_line_gets_a_number_including_the_last_empty_one() {
        assert_eq!(line_numbers(""), "1");
        assert_eq!(line_numbers("<cpu/>"), "1");
        assert_eq!(line_numbers("<cpu>\n</cpu>\n"), "1\n2\n3");
    }
}
