//! One host dump input: a file picker, a paste box and the detected format.
//!
//! Used twice: for the host, and for the migration target when that is checked.
//! The host may be several files at once (a raw CPUID dump and QEMU's answers):
//! they are listed with what each contributed, each with a button to remove it.
//! Dropping a file anywhere on the page is handled by the app, not here.

use web_sys::{HtmlInputElement, HtmlTextAreaElement};
use yew::prelude::*;

use crate::engine::AnalysisError;
use crate::files::FileProblem;
use crate::hooks::{read_text_files, FileOutcomes};

/// The `data-testid`s and element ids of one host input, so two can share a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostInputIds {
    pub heading: &'static str,
    pub file: &'static str,
    pub paste: &'static str,
    pub format: &'static str,
}

impl HostInputIds {
    pub const HOST: HostInputIds = HostInputIds {
        heading: "host-heading",
        file: "host-file",
        paste: "host-paste",
        format: "host-format",
    };
    pub const SECOND_HOST: HostInputIds = HostInputIds {
        heading: "second-host-heading",
        file: "second-host-file",
        paste: "second-host-paste",
        format: "second-host-format",
    };
}

#[derive(Properties, PartialEq)]
pub struct HostInputProps {
    pub ids: HostInputIds,
    pub title: AttrValue,
    pub text: AttrValue,
    pub file_name: Option<AttrValue>,
    /// The detected format of `text`, or why there is none.
    pub format: Result<AttrValue, AnalysisError>,
    pub on_text: Callback<String>,
    pub on_file: Callback<FileOutcomes>,
    /// Whether several files may be picked at once (joined into one host).
    #[prop_or_default]
    pub multiple: bool,
    /// When the input is several files: one line per file, "NAME (FORMAT):
    /// what it contributed", in the order [`Self::on_remove`] counts them.
    #[prop_or_default]
    pub joined_files: Vec<AttrValue>,
    /// Removes the N-th of [`Self::joined_files`].
    #[prop_or_default]
    pub on_remove: Callback<usize>,
    /// Why the last file given here was refused; shown instead of the format.
    #[prop_or_default]
    pub file_problem: Option<FileProblem>,
    /// Shown under the heading, e.g. that files can be dropped anywhere.
    #[prop_or_default]
    pub hint: AttrValue,
}

#[function_component]
pub fn HostInput(props: &HostInputProps) -> Html {
    let onchange = {
        let on_file = props.on_file.clone();
        Callback::from(move |event: Event| {
            let input: HtmlInputElement = event.target_unchecked_into();
            if let Some(files) = input.files() {
                read_text_files(files, on_file.clone());
            }
            // Picking the same file again must fire `change` again.
            input.set_value("");
        })
    };
    let oninput = props
        .on_text
        .reform(|event: InputEvent| event.target_unchecked_into::<HtmlTextAreaElement>().value());
    let (format_class, format_text) = match (&props.file_problem, &props.format) {
        (Some(problem), _) => ("format input-error", problem.to_string()),
        (None, format) => match format {
            Ok(format) => ("format", format.to_string()),
            Err(AnalysisError::MissingInput(_)) => ("format muted", "no dump yet".to_string()),
            Err(AnalysisError::Input(error)) => ("format input-error", error.to_string()),
            Err(other) => ("format input-error", other.to_string()),
        },
    };
    // An error is announced at once; a detected format politely.
    let live = if format_class.contains("input-error") {
        "assertive"
    } else {
        "polite"
    };
    let ids = props.ids;
    html! {
        <section class="panel" aria-labelledby={ids.heading}>
            <h2 id={ids.heading}>{ props.title.clone() }</h2>
            if !props.hint.is_empty() { <p class="hint">{ props.hint.clone() }</p> }
            <div class="row">
                <label class="button file-button">
                    { "Choose file…" }
                    <input type="file" class="visually-hidden" data-testid={ids.file}
                        multiple={props.multiple} {onchange} />
                </label>
                if let Some(name) = &props.file_name {
                    <span class="file-name">{ name.clone() }</span>
                }
            </div>
            if props.joined_files.len() > 1 {
                <ul class="host-files" data-testid="host-files" aria-label="Files joined into one host">
                    { for props.joined_files.iter().enumerate().map(|(index, line)| {
                        let on_remove = props.on_remove.reform(move |_: MouseEvent| index);
                        html! { <li>{ line.clone() }{ " " }
                            <button type="button" class="button" onclick={on_remove}>{ "Remove" }</button></li> }
                    }) }
                </ul>
            }
            <textarea
                class="dump"
                data-testid={ids.paste}
                aria-label={ format!("{} text", props.title) }
                spellcheck="false"
                autocomplete="off"
                wrap="off"
                placeholder="…or paste `cpuid -1r`, virsh capabilities, QMP replies, /proc/cpuinfo"
                value={ props.text.clone() }
                {oninput}
            />
            <p class={format_class} data-testid={ids.format} aria-live={live}>
                <span class="label">{ if format_class.contains("input-error") { "Error: " } else { "Format: " } }</span>
                { format_text }
            </p>
        </section>
    }
}
