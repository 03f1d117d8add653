//! Small result panels: a block of code with a copy button, and the status shown
//! in place of the results while there is no report.

use yew::prelude::*;

use super::CopyButton;
use crate::engine::AnalysisError;

#[derive(Properties, PartialEq)]
pub struct CodePanelProps {
    pub title: AttrValue,
    pub code: AttrValue,
    pub testid: AttrValue,
}

/// A titled block of code (XML or a command-line argument) with a copy button.
#[function_component]
pub fn CodePanel(props: &CodePanelProps) -> Html {
    html! {
        <section class="panel code-panel" aria-label={props.title.clone()}>
            <div class="panel-title">
                <h2>{ props.title.clone() }</h2>
                <CopyButton text={props.code.clone()} what={props.title.clone()} />
            </div>
            <pre data-testid={props.testid.clone()}>{ props.code.clone() }</pre>
        </section>
    }
}

#[derive(Properties, PartialEq)]
pub struct StatusPanelProps {
    pub error: AnalysisError,
}

/// Why there are no results yet, in words for the user.
#[function_component]
pub fn StatusPanel(props: &StatusPanelProps) -> Html {
    let text = match &props.error {
        AnalysisError::MissingInput(_) => {
            "Give a domain and a host dump: the verdicts appear as you type.".to_string()
        }
        AnalysisError::Input(error) => format!("Fix the {} first.", error.input),
        AnalysisError::Refused(message) => format!("The engine cannot check this: {message}"),
    };
    html! {
        <section class="panel status" aria-live="polite" data-testid="status">
            <p>{ text }</p>
        </section>
    }
}
