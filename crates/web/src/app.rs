//! The root component: holds the state, runs the engine on every change and lays
//! out the panels: the headline, the fix and the verdicts above both columns (so
//! they come first at every width), then the inputs beside the details.
//!
//! Results are derived, never stored: each input is read in its own memo, so a
//! keystroke in the domain editor does not re-read the host dump and parses the
//! domain once (the editor's summary, the check and the diff's `<cpu>` all read
//! that parse), and the report
//! is recomputed only when an input it depends on changed. Everything the user
//! does goes through one callback, the same on every render, so the models
//! table and the host inputs, which change only with the host, are not
//! re-rendered on a keystroke in the domain.

use std::rc::Rc;

use yew::prelude::*;

use crate::components::{
    code_panel, domain_editor, filtered_table, fix_panel, header, host_brief, host_input,
    options_panel, status_panel, verdicts, HostInputProps, HostRole, ModelsTable,
};
use crate::diff;
use crate::engine::{
    self, AnalysisError, AnalysisOptions, InputKind, ModelList, ModelReport, ParsedHost, Report,
    UpgradePreview,
};
use crate::hooks::{
    is_embed_mode, use_document_theme, use_load_older_releases, use_location_sync,
    use_window_file_drop,
};
use crate::state::{Action, AppState};

/// The models table before there is a report: every model, usability unknown.
fn models_without_report() -> ModelList {
    engine::model_names()
        .into_iter()
        .map(|name| ModelReport {
            name: name.to_string(),
            usable: false,
            blockers: Vec::new(),
        })
        .collect::<Vec<_>>()
        .into()
}

/// The format line of a host input.
fn format_of(reading: &Result<ParsedHost, AnalysisError>) -> Result<AttrValue, AnalysisError> {
    reading
        .as_ref()
        .map(|host| AttrValue::from(host.format.clone()))
        .map_err(Clone::clone)
}

/// One line per host file when there are several: its name and what core says
/// it contributed to the joined host (or just its name while it does not read).
fn joined_file_lines(
    parts: &[engine::HostPart],
    host: &Result<ParsedHost, AnalysisError>,
) -> Vec<AttrValue> {
    if parts.len() < 2 {
        return Vec::new();
    }
    let contributions = host
        .as_ref()
        .map(|host| &host.contributions[..])
        .unwrap_or_default();
    parts
        .iter()
        .map(|(name, _)| {
            let prefix = format!("{name} (");
            contributions
                .iter()
                .find(|line| line.starts_with(&prefix))
                .map_or_else(
                    || AttrValue::from(Rc::clone(name)),
                    |line| AttrValue::from(line.clone()),
                )
        })
        .collect()
}

/// What the XML panels diff against: the input's `<cpu>` for the guest CPU, and
/// the whole input for the live XML (which is the input with its `<cpu>` replaced).
struct DiffBases {
    input_cpu: Option<AttrValue>,
    input_domain: AttrValue,
}

/// The host's files as the engine joins them: the dump (named after its file,
/// if it came from one) and the files given with it.
fn host_parts(state: &AppState) -> Vec<engine::HostPart> {
    let name = state
        .host_file_name
        .clone()
        .unwrap_or_else(|| Rc::from("pasted dump"));
    std::iter::once((name, Rc::clone(&state.host_dump)))
        .chain(
            state
                .more_host_files
                .iter()
                .map(|file| (file.name.clone(), file.text.clone())),
        )
        .collect()
}

/// The top of the page at every width: the headline, what to change, and the
/// verdicts.
fn summary_panels(report: &Report, diff_bases: &DiffBases) -> Html {
    html! {
        <>
            { fix_panel(report, &diff_bases.input_domain) }
            { verdicts(report) }
        </>
    }
}

/// The details under the inputs' column: QEMU's argument, what it filters, the
/// XML libvirt makes, the host and the notes.
fn report_panels(report: &Report, embed: bool, diff_bases: &DiffBases) -> Html {
    html! {
        <>
            if let Some(argument) = &report.qemu_cpu_arg {
                { code_panel("-cpu argument", argument, "qemu-arg", None, false) }
            }
            if !embed {
                { filtered_table(&report.filtered) }
                if let Some(guest) = &report.guest_cpu {
                    { code_panel("Guest CPU", &guest.xml, "guest-xml",
                        diff_bases.input_cpu.clone(), false) }
                }
                if let Some(xml) = &report.live_xml {
                    { code_panel("Live XML", xml, "live-xml",
                        Some(diff_bases.input_domain.clone()), false) }
                }
                { host_brief(&report.host) }
                if !report.notes.is_empty() {
                    <section class="panel" aria-labelledby="notes-heading" data-testid="notes">
                        <h2 id="notes-heading">{ "Notes" }</h2>
                        <ul>{ for report.notes.iter().map(|note| html! { <li>{ note.clone() }</li> }) }</ul>
                    </section>
                }
            }
        </>
    }
}

/// What changes for the domain under the stack it is compared with (core's
/// upgrade preview: start verdicts, filtered features, guest CPU, host-model,
/// `-cpu`), or why there is no comparison.
fn upgrade_panel(preview: &Result<UpgradePreview, AnalysisError>) -> Html {
    let body = match preview {
        Err(error) => html! { <p class="input-error">{ error.to_string() }</p> },
        Ok(preview) if preview.changes.is_empty() => {
            html! { <p class="hint">{ "Nothing changes for this domain." }</p> }
        }
        Ok(preview) => html! {
            <div class="table-scroll">
                <table class="stack-narrow">
                    <thead><tr>
                        <th scope="col">{ "What" }</th>
                        <th scope="col">{ "Now" }</th>
                        <th scope="col">{ "Then" }</th>
                    </tr></thead>
                    <tbody>
                        { for preview.changes.iter().map(|change| html! {
                            <tr>
                                <td data-label="What">{ change.what.clone() }</td>
                                <td data-label="Now"><code>{ change.before.clone() }</code></td>
                                <td data-label="Then"><code>{ change.after.clone() }</code></td>
                            </tr>
                        }) }
                    </tbody>
                </table>
            </div>
        },
    };
    let title = match preview {
        Ok(preview) => format!(
            "libvirt {} + QEMU {} → libvirt {} + QEMU {}",
            preview.before.settings.libvirt_version,
            preview.before.settings.qemu_version,
            preview.after.settings.libvirt_version,
            preview.after.settings.qemu_version
        ),
        Err(_) => "Another stack".to_string(),
    };
    html! {
        <section class="panel upgrade" aria-labelledby="upgrade-heading" data-testid="upgrade">
            <h2 id="upgrade-heading">{ title }</h2>
            { body }
        </section>
    }
}

#[function_component]
pub fn App() -> Html {
    let state = use_reducer(AppState::default);
    let location = use_location_sync(&state);
    let embed = is_embed_mode();

    use_document_theme(state.theme);
    let link_copied = use_state_eq(|| false);

    // One callback, the same on every render, for everything the user does: a
    // child whose other props did not change (the models table) is not
    // re-rendered.
    let on_action = use_callback(state.dispatcher(), |action: Action, dispatcher| {
        dispatcher.dispatch(action);
    });
    use_window_file_drop(on_action.clone());

    // Whether the older releases' data is in (the module leaves it out until
    // a check asks for it); the checks depend on it.
    let older_releases = use_state_eq(|| false);
    let domain = use_memo(state.domain_xml.clone(), |text| engine::read_domain(text));
    // Comparing two lists of the same texts compares pointers.
    let host_parts = host_parts(&state);
    let host = use_memo(host_parts.clone(), |parts| {
        engine::read_host_files(InputKind::HostDump, parts)
    });
    let joined_files = joined_file_lines(&host_parts, &host);
    let second_host = use_memo(state.second_host_dump.clone(), |text| {
        text.as_deref()
            .map(|text| engine::read_host(InputKind::SecondHostDump, text))
    });
    let analysis = {
        let (domain, host, second_host) = (domain.clone(), host.clone(), second_host.clone());
        let inputs = (
            state.domain_xml.clone(),
            host_parts.clone(),
            state.second_host_dump.clone(),
            state.qemu_version.clone(),
            state.libvirt_version.clone(),
            state.accelerator,
            *older_releases,
        );
        use_memo(
            inputs,
            move |(domain_xml, _, _, qemu_version, libvirt_version, accelerator, _)| {
                let parsed = domain.as_ref().as_ref().map_err(Clone::clone)?;
                let host = host.as_ref().as_ref().map_err(Clone::clone)?;
                let second_host = match &*second_host {
                    Some(reading) => Some(reading.as_ref().map_err(Clone::clone)?),
                    None => None,
                };
                let options = AnalysisOptions {
                    qemu_version: qemu_version.as_deref(),
                    accelerator: *accelerator,
                    libvirt_version: libvirt_version.as_deref(),
                };
                engine::analyze(domain_xml, parsed, host, second_host, options)
            },
        )
    };
    // The comparison with a second stack: the same check again under it.
    let upgrade = {
        let (domain, host, analysis) = (domain.clone(), host.clone(), analysis.clone());
        use_memo(
            // The report's own inputs stand for it (cheaper to compare).
            (
                state.upgrade_to.clone(),
                state.domain_xml.clone(),
                host_parts.clone(),
                state.qemu_version.clone(),
                state.libvirt_version.clone(),
                state.accelerator,
                *older_releases,
            ),
            move |(stack, domain_xml, _, _, _, accelerator, _)| {
                let stack = stack.as_deref()?;
                let preview = (|| {
                    let parsed = domain.as_ref().as_ref().map_err(Clone::clone)?;
                    let host = host.as_ref().as_ref().map_err(Clone::clone)?;
                    let before = analysis.as_ref().as_ref().map_err(Clone::clone)?;
                    engine::preview_upgrade(domain_xml, parsed, host, before, stack, *accelerator)
                })();
                Some(preview)
            },
        )
    };
    let waits = matches!(&*analysis, Err(AnalysisError::Loading))
        || matches!(&*upgrade, Some(Err(AnalysisError::Loading)));
    use_load_older_releases(waits, older_releases.setter());
    // The input's `<cpu>` is cut where the domain's one parse found it.
    let diff_bases = DiffBases {
        input_cpu: domain
            .as_ref()
            .as_ref()
            .ok()
            .and_then(|parsed| diff::input_cpu_xml(&state.domain_xml, parsed.cpu_range()?))
            .map(AttrValue::from),
        input_domain: AttrValue::from(Rc::clone(&state.domain_xml)),
    };
    let database_models = use_memo((), |()| models_without_report());
    let (models, usability_known) = match &*analysis {
        Ok(report) => (report.models.clone(), true),
        Err(_) => ((*database_models).clone(), false),
    };
    let results = match &*analysis {
        Ok(report) => report_panels(report, embed, &diff_bases),
        Err(_) => Html::default(),
    };
    let summary = match &*analysis {
        Ok(report) => summary_panels(report, &diff_bases),
        Err(error) => status_panel(error, embed, state.host_file_problem.as_ref(), &on_action),
    };

    html! {
        <div class={if embed { "app embed" } else { "app" }} data-testid="app"
            data-restored={location.restored.to_string()}>
            { header(state.theme, embed, &location.written_fragment, &link_copied, &on_action) }
            <div class="summary" data-testid="summary">{ summary }</div>
            <main class="columns">
                <div class="inputs">
                    { domain_editor(&AttrValue::from(state.domain_xml.clone()), &domain, &on_action) }
                    { host_input(HostInputProps {
                        role: HostRole::HOST,
                        title: "Host dump",
                        hint: Some("Pick files, drop them anywhere on the page, or paste. Several files make one host (a raw CPUID dump with QMP replies or domcapabilities)."),
                        text: AttrValue::from(state.host_dump.clone()),
                        file_name: state.host_file_name.clone().map(AttrValue::from),
                        format: format_of(&host),
                        file_problem: state.host_file_problem.clone(),
                        multiple: true,
                        joined_files,
                        on_action: on_action.clone(),
                    }) }
                    { options_panel(&state, &on_action) }
                    if let (Some(text), Some(reading)) = (&state.second_host_dump, &*second_host) {
                        { host_input(HostInputProps {
                            role: HostRole::SECOND_HOST,
                            title: "Migration target dump",
                            hint: None,
                            text: AttrValue::from(text.clone()),
                            file_name: None,
                            format: format_of(reading),
                            file_problem: state.second_host_file_problem.clone(),
                            multiple: false,
                            joined_files: Vec::new(),
                            on_action: on_action.clone(),
                        }) }
                    }
                </div>
                <div class="results">
                    if let (Some(preview), false) = (&*upgrade, embed) { { upgrade_panel(preview) } }
                    { results }
                    if !embed {
                        <ModelsTable {models} {usability_known}
                            filter={AttrValue::from(state.model_filter.clone())}
                            usable_only={state.usable_models_only}
                            on_action={on_action.clone()} />
                    }
                </div>
            </main>
        </div>
    }
}
