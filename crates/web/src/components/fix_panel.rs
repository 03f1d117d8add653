//! The top of the results: the headline (one line for the domain's own check)
//! and the fix — the remedied domain with copy and a diff against the input, and
//! each change in a line — or why there is nothing to change.

use yew::prelude::*;

use super::code_panel;
use crate::engine::{Report, Verdict, NO_REMEDY};

/// How the headline is coloured: by the domain's own verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tone {
    /// Starts with a stable ABI.
    Ok,
    /// Starts, but the ABI may change.
    Warn,
    /// Does not start (or does not migrate).
    Fail,
}

impl Tone {
    /// The tone of the domain's own verdict; a failed migration makes it `Fail`.
    fn of(own: &Verdict, migrates: Option<bool>) -> Tone {
        match (own.starts, own.abi_stable, migrates) {
            (false, _, _) | (_, _, Some(false)) => Tone::Fail,
            (true, false, _) => Tone::Warn,
            (true, true, _) => Tone::Ok,
        }
    }

    /// The headline's classes.
    fn class(self) -> &'static str {
        match self {
            Tone::Ok => "headline ok",
            Tone::Warn => "headline warn",
            Tone::Fail => "headline fail",
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

/// The headline of `report`, coloured by the domain's own verdict, and its
/// remedy (diffed against `input_domain`, the domain as typed) or the engine's
/// note on why there is none.
pub fn fix_panel(report: &Report, input_domain: &AttrValue) -> Html {
    let verdicts = &report.verdicts;
    let own = [&verdicts.none, &verdicts.partial, &verdicts.full]
        .into_iter()
        .find(|verdict| verdict.own)
        .unwrap_or(&verdicts.full);
    let tone = Tone::of(own, report.migration.as_ref().map(|m| m.starts));
    // The engine's note when no `<cpu>` can make the domain start cleanly.
    let no_remedy = report.notes.iter().find(|note| note.starts_with(NO_REMEDY));
    let outcome = match (&report.remedy, no_remedy) {
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
                <h2 id="headline" class={tone.class()}
                    data-testid="headline">{ report.headline.clone() }</h2>
                { outcome }
            </section>
            if let Some(remedy) = &report.remedy {
                { code_panel("Fixed domain XML", &remedy.domain_xml, "fix-xml",
                    Some(input_domain.clone()), true) }
            }
        </>
    }
}
