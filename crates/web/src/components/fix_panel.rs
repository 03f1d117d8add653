//! The top of the results: the headline (one line for the domain's own check)
//! and the fix — the remedied domain with copy and a diff against the input, and
//! each change in a line — or why there is nothing to change.

use yew::prelude::*;

use super::CodePanel;
use crate::engine::{Remedy, Verdict};

/// How the headline is coloured: by the domain's own verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    /// Starts with a stable ABI.
    Ok,
    /// Starts, but the ABI may change.
    Warn,
    /// Does not start (or does not migrate).
    Fail,
}

impl Tone {
    /// The tone of the domain's own verdict; a failed migration makes it `Fail`.
    pub fn of(own: &Verdict, migrates: Option<bool>) -> Tone {
        match (own.starts, own.abi_stable, migrates) {
            (false, _, _) | (_, _, Some(false)) => Tone::Fail,
            (true, false, _) => Tone::Warn,
            (true, true, _) => Tone::Ok,
        }
    }

    fn class(self) -> &'static str {
        match self {
            Tone::Ok => "ok",
            Tone::Warn => "warn",
            Tone::Fail => "fail",
        }
    }
}

/// `text` with its `` `quoted` `` names (features, models, attributes) set as
/// code, the way the engine writes them.
fn with_code_spans(text: &str) -> Html {
    text.split('`')
        .enumerate()
        .map(|(index, part)| {
            if index % 2 == 1 {
                html! { <code>{ part.to_string() }</code> }
            } else {
                html! { { part.to_string() } }
            }
        })
        .collect()
}

#[derive(Properties, PartialEq)]
pub struct FixPanelProps {
    pub headline: AttrValue,
    pub tone: Tone,
    pub remedy: Option<Remedy>,
    /// The engine's note when no `<cpu>` can make the domain start cleanly.
    pub no_remedy: Option<AttrValue>,
    /// The domain as typed, for the remedied domain's diff.
    pub input_domain: AttrValue,
}

#[function_component]
pub fn FixPanel(props: &FixPanelProps) -> Html {
    let outcome = match (&props.remedy, &props.no_remedy) {
        (Some(remedy), _) => html! {
            <>
                <p class="hint" data-testid="fix-explanation">{ remedy.explanation.clone() }</p>
                <h3 class="changes-heading">{ "Changes" }</h3>
                <ul class="changes" data-testid="fix-changes">
                    { for remedy.changes.iter().map(|change| html! { <li>{ with_code_spans(change) }</li> }) }
                </ul>
            </>
        },
        (None, Some(note)) => html! {
            <p class="hint" data-testid="fix-none">{ note.clone() }</p>
        },
        (None, None) => html! {
            <p class="hint" data-testid="fix-none">
                { "Nothing to change: the domain starts under check='full' with nothing filtered." }
            </p>
        },
    };
    html! {
        <>
            <section class="panel fix" aria-labelledby="headline" data-testid="fix">
                <h2 id="headline" class={classes!("headline", props.tone.class())}
                    data-testid="headline">{ props.headline.clone() }</h2>
                { outcome }
            </section>
            if let Some(remedy) = &props.remedy {
                <CodePanel title="Fixed domain XML" code={remedy.domain_xml.clone()} testid="fix-xml"
                    diff_base={props.input_domain.clone()} diff_shown=true />
            }
        </>
    }
}
