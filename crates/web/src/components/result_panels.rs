//! Small result panels: a block of code with a copy button (and, for XML made
//! from the domain's own `<cpu>`, a diff against it), and the status shown in
//! place of the results while there is no report.

use web_sys::HtmlInputElement;
use yew::prelude::*;

use super::copy_button::{copy_button, copy_to_clipboard};
use super::example_pair_action;
use crate::diff::{line_diff, DiffLine};
use crate::engine::{AnalysisError, InputKind};
use crate::examples::EXAMPLE_PAIRS;
use crate::files::FileProblem;
use crate::state::Action;

#[derive(Properties, PartialEq)]
struct CodePanelProps {
    title: AttrValue,
    code: AttrValue,
    testid: AttrValue,
    /// The input `code` was made from; when given, a toggle shows `code` as a
    /// line diff against it.
    diff_base: Option<AttrValue>,
    /// Whether the diff is shown before the toggle is touched.
    diff_shown: bool,
}

/// A code panel titled `title` showing `code`, with `diff_base` and
/// `diff_shown` as its props say; one function, so that each panel of the page
/// is a call, not a props builder.
pub fn code_panel(
    title: &'static str,
    code: &str,
    testid: &'static str,
    diff_base: Option<AttrValue>,
    diff_shown: bool,
) -> Html {
    html! { <CodePanel {title} code={code.to_string()} {testid} {diff_base} {diff_shown} /> }
}

/// A titled block of code (XML or a command-line argument) with a copy button.
#[function_component]
fn CodePanel(props: &CodePanelProps) -> Html {
    let show_diff = use_state_eq(|| props.diff_shown);
    // The text last copied (none yet: empty; the panels never show an empty
    // text): a new text has not been copied yet.
    let copied = use_state_eq(AttrValue::default);
    let on_copy = {
        let copied = copied.clone();
        let code = props.code.clone();
        Callback::from(move |_: MouseEvent| {
            copy_to_clipboard(&code);
            copied.set(code.clone());
        })
    };
    let diff = match &props.diff_base {
        Some(base) if *show_diff => Some(line_diff(base, &props.code)),
        _ => None,
    };
    let on_toggle = {
        let show_diff = show_diff.clone();
        Callback::from(move |event: Event| {
            show_diff.set(event.target_unchecked_into::<HtmlInputElement>().checked());
        })
    };
    let testid = &props.testid;
    html! {
        <section class="panel code-panel" aria-label={props.title.clone()}>
            <div class="panel-title">
                <h2>{ props.title.clone() }</h2>
                if props.diff_base.is_some() {
                    <label class="diff-toggle">
                        <input type="checkbox" checked={*show_diff} onchange={on_toggle}
                            data-testid={format!("{testid}-diff-toggle")} />
                        { " show diff against input" }
                    </label>
                }
                { copy_button("Copy", format!("Copy {}", props.title).into(), None, *copied == props.code, on_copy) }
            </div>
            if let Some(lines) = diff {
                <pre class="diff" data-testid={format!("{testid}-diff")}
                    aria-label={format!("{}: changes against the input", props.title)}>
                    { for lines.iter().map(diff_line) }
                </pre>
            } else {
                <pre data-testid={testid.clone()}>{ props.code.clone() }</pre>
            }
        </section>
    }
}

/// One diff line as a text node: the `+`/`-`/space marker, then the line.
fn diff_line(line: &DiffLine) -> Html {
    html! {
        <span class={line.change.class()}>
            { format!("{}{}\n", line.change.marker(), line.text) }
        </span>
    }
}

/// Why there are no results yet (`error`, or `file_problem`, why the last host
/// file was refused), in words for the user; on a page with nothing in it and
/// not `embed`ded, example pairs that show a verdict at once.
pub fn status_panel(
    error: &AnalysisError,
    embed: bool,
    file_problem: Option<&FileProblem>,
    on_action: &Callback<Action>,
) -> Html {
    let (text, is_error) = match (error, file_problem) {
        (AnalysisError::MissingInput(InputKind::HostDump), Some(problem)) => {
            (problem.to_string(), true)
        }
        (AnalysisError::MissingInput(_), _) => (
            "Give a domain and a host dump: the verdicts appear as you type.".to_string(),
            false,
        ),
        (AnalysisError::Input(error), _) => (format!("Fix the {} first.", error.input), true),
        (AnalysisError::Refused(message), _) => {
            (format!("The engine cannot check this: {message}"), true)
        }
        (AnalysisError::Loading, _) => (error.to_string(), false),
    };
    let offer_examples = !embed && matches!(error, AnalysisError::MissingInput(_));
    html! {
        <section class={if is_error { "panel status problem" } else { "panel status" }}
            aria-live="polite" data-testid="status">
            <p>{ text }</p>
            if offer_examples {
                <div class="example-pairs" role="group" aria-label="Examples: a domain and a host">
                    <span class="muted">{ "Or try:" }</span>
                    { for EXAMPLE_PAIRS.iter().enumerate().map(|(index, pair)| {
                        // The pair's texts are made when it is chosen (a host
                        // may be synthesized), not on every render.
                        let on_action = on_action.clone();
                        let onclick = Callback::from(move |_: MouseEvent| {
                            if let Some(action) = example_pair_action(pair) {
                                on_action.emit(action);
                            }
                        });
                        html! {
                            <button type="button" data-testid={format!("example-pair-{index}")} {onclick}>
                                { pair.title }
                            </button>
                        }
                    }) }
                </div>
            }
        </section>
    }
}
