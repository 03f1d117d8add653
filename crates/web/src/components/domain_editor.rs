//! The domain XML editor: a textarea with a line-number gutter, and the parse
//! error (with line:column) or a summary of the `<cpu>` right under it.

use web_sys::{Element, HtmlTextAreaElement};
use yew::prelude::*;

use crate::engine::{AnalysisError, DomainSummary};

#[derive(Properties, PartialEq)]
pub struct DomainEditorProps {
    pub text: AttrValue,
    /// The result of reading `text`.
    pub reading: Result<DomainSummary, AnalysisError>,
    pub on_input: Callback<String>,
}

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

#[function_component]
pub fn DomainEditor(props: &DomainEditorProps) -> Html {
    let gutter = use_node_ref();
    let oninput = props
        .on_input
        .reform(|event: InputEvent| event.target_unchecked_into::<HtmlTextAreaElement>().value());
    let onscroll = {
        let gutter = gutter.clone();
        Callback::from(move |event: Event| {
            let editor: Element = event.target_unchecked_into();
            if let Some(gutter) = gutter.cast::<Element>() {
                gutter.set_scroll_top(editor.scroll_top());
            }
        })
    };
    let input_error = match &props.reading {
        Err(AnalysisError::Input(error)) => Some(error),
        _ => None,
    };
    let below = match (&props.reading, input_error) {
        (_, Some(error)) => html! {
            <p class="input-error" role="alert" data-testid="error">{ error.to_string() }</p>
        },
        (Ok(summary), None) => html! {
            <p class="hint" data-testid="domain-summary">
                { format!("mode {}", summary.mode) }
                if let Some(model) = &summary.model { { format!(", model {model}") } }
                { format!(", {} feature(s)", summary.feature_count) }
                { format!(", check {}", summary.check.unwrap_or("(libvirt's default)")) }
            </p>
        },
        (Err(_), None) => html! {
            <p class="hint">{ "A whole <domain> or only its <cpu> element." }</p>
        },
    };
    html! {
        <section class="panel" aria-labelledby="domain-heading">
            <h2 id="domain-heading">{ "Domain XML" }</h2>
            <div class={classes!("editor", input_error.is_some().then_some("has-error"))}>
                <pre class="gutter" ref={gutter} aria-hidden="true">{ line_numbers(&props.text) }</pre>
                <textarea
                    data-testid="domain-input"
                    aria-label="Domain XML"
                    aria-invalid={ input_error.is_some().to_string() }
                    spellcheck="false"
                    autocomplete="off"
                    wrap="off"
                    placeholder="<cpu mode='host-model' check='partial'/>"
                    value={ props.text.clone() }
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
