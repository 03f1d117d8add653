//! Every CPU model with whether it is usable on the host and what blocks it,
//! narrowed by a filter box and a "usable only" switch.

use web_sys::HtmlInputElement;
use yew::prelude::*;

use crate::engine::{ModelList, ModelReport};
use crate::state::Action;

#[derive(Properties, PartialEq)]
pub struct ModelsTableProps {
    /// Shared with the report: comparing two props of one report is a pointer
    /// comparison.
    pub models: ModelList,
    /// False while there is no report: names only, usability unknown.
    pub usability_known: bool,
    pub filter: AttrValue,
    /// Whether only usable models are shown (ignored while usability is unknown).
    pub usable_only: bool,
    pub on_action: Callback<Action>,
}

/// Whether `model` matches the filter text (name or blocker, ignoring ASCII case:
/// model and feature names are ASCII, so Unicode case tables would only add to
/// the download).
fn matches_filter(model: &ModelReport, filter_lowercase: &str) -> bool {
    filter_lowercase.is_empty()
        || model.name.to_ascii_lowercase().contains(filter_lowercase)
        || model
            .blockers
            .iter()
            .any(|blocker| blocker.to_ascii_lowercase().contains(filter_lowercase))
}

#[function_component]
pub fn ModelsTable(props: &ModelsTableProps) -> Html {
    let oninput = props.on_action.reform(|event: InputEvent| {
        Action::SetModelFilter(
            event
                .target_unchecked_into::<HtmlInputElement>()
                .value()
                .into(),
        )
    });
    let on_usable_only = props.on_action.reform(|event: Event| {
        Action::SetUsableModelsOnly(event.target_unchecked_into::<HtmlInputElement>().checked())
    });
    let filter = props.filter.trim().to_ascii_lowercase();
    let usable_only = props.usable_only && props.usability_known;
    let shown: Vec<&ModelReport> = props
        .models
        .iter()
        .filter(|model| (!usable_only || model.usable) && matches_filter(model, &filter))
        .collect();
    let usable = |model: &ModelReport| match (props.usability_known, model.usable) {
        (false, _) => "–",
        (true, true) => "yes",
        (true, false) => "no",
    };
    html! {
        <section class="panel" aria-labelledby="models-heading">
            <div class="panel-title">
                <h2 id="models-heading">
                    { format!("CPU models ({} of {})", shown.len(), props.models.len()) }
                </h2>
                <div class="filters">
                    <label class="checkbox">
                        <input type="checkbox" data-testid="models-usable-only"
                            checked={props.usable_only} disabled={!props.usability_known}
                            onchange={on_usable_only} />
                        <span>{ "usable only" }</span>
                    </label>
                    <input type="search" class="filter" aria-label="Filter CPU models by name or blocker"
                        data-testid="models-filter" placeholder="Filter"
                        value={props.filter.clone()} {oninput} />
                </div>
            </div>
            <div class="table-scroll tall">
                <table data-testid="models-table">
                    <thead><tr>
                        <th scope="col">{ "Model" }</th>
                        <th scope="col">{ "Usable" }</th>
                        <th scope="col">{ "Blockers" }</th>
                    </tr></thead>
                    <tbody>
                        { for shown.into_iter().map(|model| html! {
                            <tr key={model.name.clone()}>
                                <td><code>{ model.name.clone() }</code></td>
                                <td>{ usable(model) }</td>
                                <td>{ model.blockers.join(", ") }</td>
                            </tr>
                        }) }
                    </tbody>
                </table>
            </div>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_filter_matches_names_and_blockers_case_insensitively() {
        let model = ModelReport {
            name: "Haswell-noTSX".into(),
            usable: false,
            blockers: vec!["avx512f".into()],
        };
        assert!(matches_filter(&model, ""));
        assert!(matches_filter(&model, "notsx"));
        assert!(matches_filter(&model, "avx512"));
        assert!(!matches_filter(&model, "skylake"));
    }
}
