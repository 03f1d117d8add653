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
use crate::state::Action;

/// Which of the two host inputs: its `data-testid`s and element ids, so two can
/// share a page, and the actions its text and files become.
#[derive(Clone, Copy)]
pub struct HostRole {
    pub heading: &'static str,
    pub file: &'static str,
    pub paste: &'static str,
    pub format: &'static str,
    /// The action for a typed or pasted text.
    text_action: fn(String) -> Action,
    /// The action for files picked together, if any.
    files_action: fn(FileOutcomes) -> Option<Action>,
}

impl HostRole {
    /// The host: several files make one host.
    pub const HOST: HostRole = HostRole {
        heading: "host-heading",
        file: "host-file",
        paste: "host-paste",
        format: "host-format",
        text_action: |text| Action::SetHostDump(text.into()),
        files_action: |outcomes| Some(Action::LoadHostFiles(outcomes)),
    };
    /// The migration target: one file, the first of those picked.
    pub const SECOND_HOST: HostRole = HostRole {
        heading: "second-host-heading",
        file: "second-host-file",
        paste: "second-host-paste",
        format: "second-host-format",
        text_action: |text| Action::SetSecondHostDump(text.into()),
        files_action: |outcomes| {
            Some(match outcomes.into_iter().next()? {
                Ok(file) => Action::SetSecondHostDump(file.text),
                Err(problem) => Action::RefuseSecondHostFile(problem),
            })
        },
    };
}

/// Two roles are the same when their ids are.
impl PartialEq for HostRole {
    fn eq(&self, other: &Self) -> bool {
        self.heading == other.heading
    }
}

/// What one host input shows; what the user does there becomes `on_action`'s.
#[derive(Properties, PartialEq)]
pub struct HostInputProps {
    pub role: HostRole,
    pub title: &'static str,
    /// Shown under the heading, e.g. that files can be dropped anywhere.
    pub hint: Option<&'static str>,
    pub text: AttrValue,
    pub file_name: Option<AttrValue>,
    /// The detected format of `text`, or why there is none.
    pub format: Result<AttrValue, AnalysisError>,
    /// Why the last file given here was refused; shown instead of the format.
    pub file_problem: Option<FileProblem>,
    /// Whether several files may be picked at once (joined into one host).
    pub multiple: bool,
    /// When the input is several files: one line per file, "NAME (FORMAT):
    /// what it contributed", in the order [`Action::RemoveHostFile`] counts them.
    pub joined_files: Vec<AttrValue>,
    pub on_action: Callback<Action>,
}

/// One host input. A component, not a plain function: on a keystroke elsewhere
/// its props are unchanged and it is not re-rendered, so Yew does not read a
/// dump of hundreds of kilobytes back out of the text box to compare it.
pub fn host_input(props: HostInputProps) -> Html {
    html! { <HostInput ..props /> }
}

#[function_component]
fn HostInput(view: &HostInputProps) -> Html {
    let role = view.role;
    let on_action = &view.on_action;
    let onchange = {
        let on_action = on_action.clone();
        Callback::from(move |event: Event| {
            let input: HtmlInputElement = event.target_unchecked_into();
            if let Some(files) = input.files() {
                let on_action = on_action.clone();
                let on_files = Callback::from(move |outcomes| {
                    if let Some(action) = (role.files_action)(outcomes) {
                        on_action.emit(action);
                    }
                });
                read_text_files(files, on_files);
            }
            // Picking the same file again must fire `change` again.
            input.set_value("");
        })
    };
    let oninput = on_action.reform(move |event: InputEvent| {
        (role.text_action)(event.target_unchecked_into::<HtmlTextAreaElement>().value())
    });
    let (format_class, format_text) = match (&view.file_problem, &view.format) {
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
    let ids = role;
    html! {
        <section class="panel" aria-labelledby={ids.heading}>
            <h2 id={ids.heading}>{ view.title }</h2>
            if let Some(hint) = view.hint { <p class="hint">{ hint }</p> }
            <div class="row">
                <label class="button file-button">
                    { "Choose file…" }
                    <input type="file" class="visually-hidden" data-testid={ids.file}
                        multiple={view.multiple} {onchange} />
                </label>
                if let Some(name) = &view.file_name {
                    <span class="file-name">{ name.clone() }</span>
                }
            </div>
            if view.joined_files.len() > 1 {
                <ul class="host-files" data-testid="host-files" aria-label="Files joined into one host">
                    { for view.joined_files.iter().enumerate().map(|(index, line)| {
                        let on_remove = on_action.reform(move |_: MouseEvent| Action::RemoveHostFile(index));
                        html! { <li>{ line.clone() }{ " " }
                            <button type="button" class="button" onclick={on_remove}>{ "Remove" }</button></li> }
                    }) }
                </ul>
            }
            <textarea
                class="dump"
                data-testid={ids.paste}
                aria-label={ format!("{} text", view.title) }
                spellcheck="false"
                autocomplete="off"
                wrap="off"
                placeholder="…or paste `cpuid -1r`, virsh capabilities, QMP replies, /proc/cpuinfo"
                value={ view.text.clone() }
                {oninput}
            />
            <p class={format_class} data-testid={ids.format} aria-live={live}>
                <span class="label">{ if format_class.contains("input-error") { "Error: " } else { "Format: " } }</span>
                { format_text }
            </p>
        </section>
    }
}
