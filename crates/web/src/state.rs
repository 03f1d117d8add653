//! The app's whole input state and the actions that change it.
//!
//! Everything a user types or chooses lives in [`AppState`]; results are never
//! stored here but recomputed from it, so the state stays small enough to share in
//! the URL fragment (see `share.rs`) and a reload always shows the same page. This
//! module is pure: no browser APIs, so it is unit-tested natively.
//!
//! Texts are held as `Rc<str>`: an update clones the state, and with it only
//! pointers, never a host dump of hundreds of kilobytes.

use std::rc::Rc;

use guestcpu_core::json::{self, Fields, Object};
use serde::Serialize;
use yew::Reducible;

use crate::files::{FileProblem, LoadedFile};

/// The accelerator QEMU runs the guest with (the engine's own type); it
/// decides which features are filtered.
pub use guestcpu_core::domain::Accelerator;

/// The colour scheme; `System` follows the browser's `prefers-color-scheme`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Theme {
    #[default]
    System,
    Light,
    Dark,
}

impl Theme {
    /// The next theme of the toggle button: system → light → dark → system.
    pub fn next(self) -> Theme {
        match self {
            Theme::System => Theme::Light,
            Theme::Light => Theme::Dark,
            Theme::Dark => Theme::System,
        }
    }

    /// The value of `data-theme` on `<html>`; the stylesheet keys its colours on it,
    /// and the share link names the theme so.
    pub fn attribute(self) -> &'static str {
        match self {
            Theme::System => "system",
            Theme::Light => "light",
            Theme::Dark => "dark",
        }
    }

    /// Parses [`Theme::attribute`] back; `None` for anything else.
    pub fn from_attribute(name: &str) -> Option<Theme> {
        [Theme::System, Theme::Light, Theme::Dark]
            .into_iter()
            .find(|theme| theme.attribute() == name)
    }
}

/// Everything the user entered; serialized as-is into the share link
/// (`Serialize`, read back by [`AppState::from_json`]).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct AppState {
    /// The domain XML (a whole `<domain>` or just its `<cpu>`), as typed.
    pub domain_xml: Rc<str>,
    /// The host dump text (any supported format), as pasted or read from a file.
    pub host_dump: Rc<str>,
    /// The name of the file the host dump came from, if it came from one.
    pub host_file_name: Option<Rc<str>>,
    /// Further files of the same host, joined with the dump into one host
    /// (QMP replies or domcapabilities beside a raw CPUID dump, …).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub more_host_files: Vec<LoadedFile>,
    /// The migration target's dump; `None` when migration is not being checked.
    pub second_host_dump: Option<Rc<str>>,
    /// The QEMU version to model; `None`: the domain's machine type's, else the newest.
    pub qemu_version: Option<Rc<str>>,
    /// The libvirt version to model; `None`: what the host dump tells, else the newest.
    pub libvirt_version: Option<Rc<str>>,
    /// A second stack to compare with, `LIBVIRT:QEMU` as `guestcpu check
    /// --upgrade-to` takes it (e.g. `11.3:10.0`); `None`: no comparison.
    pub upgrade_to: Option<Rc<str>>,
    /// `None`: the one the domain's type implies (`kvm`, or `qemu` → tcg).
    pub accelerator: Option<Accelerator>,
    pub theme: Theme,
    /// The text of the filter box above the CPU models table.
    pub model_filter: Rc<str>,
    /// Whether the CPU models table shows only the models usable on the host.
    pub usable_models_only: bool,
    /// Why the last file given as the host dump was refused; not shared.
    #[serde(skip)]
    pub host_file_problem: Option<FileProblem>,
    /// The same for the migration target's dump.
    #[serde(skip)]
    pub second_host_file_problem: Option<FileProblem>,
}

impl AppState {
    /// Reads the JSON the `Serialize` derive writes; a missing or `null` member
    /// takes its default, so links made before a field existed still open.
    pub fn from_json(text: &str) -> Result<AppState, json::Error> {
        let root = json::parse(text)?;
        let root = root.object()?;
        let more_host_files = match root.optional("more_host_files") {
            Some(files) => files
                .array()?
                .iter()
                .map(|file| {
                    let file = file.object()?;
                    Ok(LoadedFile {
                        name: file.string("name")?.into(),
                        text: file.string("text")?.into(),
                    })
                })
                .collect::<Result<_, json::Error>>()?,
            None => Vec::new(),
        };
        let accelerator = named(&root, "accelerator", Accelerator::from_name)?;
        let theme = named(&root, "theme", Theme::from_attribute)?.unwrap_or_default();
        // The texts one after another, the first error kept (one error path).
        let mut fields = Fields::of(&root);
        let mut optional_text = |key| fields.optional_string(key).map(Rc::from);
        let state = AppState {
            domain_xml: optional_text("domain_xml").unwrap_or_default(),
            host_dump: optional_text("host_dump").unwrap_or_default(),
            host_file_name: optional_text("host_file_name"),
            more_host_files,
            second_host_dump: optional_text("second_host_dump"),
            qemu_version: optional_text("qemu_version"),
            libvirt_version: optional_text("libvirt_version"),
            upgrade_to: optional_text("upgrade_to"),
            accelerator,
            theme,
            model_filter: optional_text("model_filter").unwrap_or_default(),
            usable_models_only: fields.boolean_or("usable_models_only", false),
            host_file_problem: None,
            second_host_file_problem: None,
        };
        fields.finish(state)
    }
}

/// The member `key`, a name `parse` knows; `None` when absent or `null`.
fn named<T>(
    object: &Object<'_, '_>,
    key: &str,
    parse: fn(&str) -> Option<T>,
) -> Result<Option<T>, json::Error> {
    object
        .optional(key)
        .map(|value| {
            parse(value.string()?)
                .ok_or_else(|| json::Error::new(value.offset, format!("unknown `{key}`")))
        })
        .transpose()
}

/// Something the user did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    SetDomainXml(Rc<str>),
    /// A dump typed or pasted into the text box (no file name).
    SetHostDump(Rc<str>),
    /// Files picked or dropped together: one host, the first text file as the
    /// dump and the others joined with it. A file that holds no text is
    /// refused and the problem kept to show; when none holds text the dump is
    /// emptied, so no verdict refers to the previous one.
    LoadHostFiles(Vec<Result<LoadedFile, FileProblem>>),
    /// Removes one of the host's files: 0 is the dump (the next file takes
    /// its place), N the N-th of [`AppState::more_host_files`].
    RemoveHostFile(usize),
    RefuseSecondHostFile(FileProblem),
    /// An example pair: a domain and a host dump at once.
    LoadExample {
        domain_xml: Rc<str>,
        host_dump: Rc<str>,
    },
    /// Turns the migration check on (with an empty second dump) or off.
    SetMigrationEnabled(bool),
    SetSecondHostDump(Rc<str>),
    /// `None` selects the engine's default version.
    SetQemuVersion(Option<Rc<str>>),
    /// `None` selects the engine's default libvirt version.
    SetLibvirtVersion(Option<Rc<str>>),
    /// `None` turns the comparison with a second stack off.
    SetUpgradeTo(Option<Rc<str>>),
    /// `None` selects the domain type's accelerator.
    SetAccelerator(Option<Accelerator>),
    CycleTheme,
    SetModelFilter(Rc<str>),
    SetUsableModelsOnly(bool),
    /// Replaces everything, e.g. with the state decoded from a share link.
    Replace(AppState),
}

impl Reducible for AppState {
    type Action = Action;

    fn reduce(self: Rc<Self>, action: Action) -> Rc<Self> {
        let mut next = (*self).clone();
        match &action {
            Action::SetHostDump(_) | Action::LoadHostFiles(_) | Action::LoadExample { .. } => {
                next.host_file_problem = None;
            }
            Action::SetSecondHostDump(_) | Action::SetMigrationEnabled(_) => {
                next.second_host_file_problem = None;
            }
            _ => {}
        }
        match action {
            Action::SetDomainXml(text) => next.domain_xml = text,
            Action::SetHostDump(text) => {
                next.host_dump = text;
                next.host_file_name = None;
            }
            Action::LoadHostFiles(outcomes) => {
                let (mut files, mut problems) = (Vec::new(), Vec::new());
                for outcome in outcomes {
                    match outcome {
                        Ok(file) => files.push(file),
                        Err(problem) => problems.push(problem),
                    }
                }
                next.host_file_problem = problems.into_iter().next();
                let mut files = files.into_iter();
                let first = files.next();
                next.host_file_name =
                    first
                        .as_ref()
                        .map(|file| Rc::clone(&file.name))
                        .or_else(|| {
                            next.host_file_problem
                                .as_ref()
                                .map(|p| Rc::clone(p.file_name()))
                        });
                next.host_dump = first.map(|file| file.text).unwrap_or_default();
                next.more_host_files = files.collect();
            }
            Action::RemoveHostFile(0) => {
                let promoted =
                    (!next.more_host_files.is_empty()).then(|| next.more_host_files.remove(0));
                next.host_file_name = promoted.as_ref().map(|file| Rc::clone(&file.name));
                next.host_dump = promoted.map(|file| file.text).unwrap_or_default();
            }
            Action::RemoveHostFile(index) => {
                if index <= next.more_host_files.len() {
                    next.more_host_files.remove(index - 1);
                }
            }
            Action::RefuseSecondHostFile(problem) => {
                next.second_host_dump = Some(Rc::default());
                next.second_host_file_problem = Some(problem);
            }
            Action::LoadExample {
                domain_xml,
                host_dump,
            } => {
                next.domain_xml = domain_xml;
                next.host_dump = host_dump;
                next.host_file_name = None;
                next.more_host_files = Vec::new();
            }
            Action::SetMigrationEnabled(enabled) => {
                next.second_host_dump = match (enabled, next.second_host_dump.take()) {
                    (true, existing) => Some(existing.unwrap_or_default()),
                    (false, _) => None,
                };
            }
            Action::SetSecondHostDump(text) => next.second_host_dump = Some(text),
            Action::SetQemuVersion(version) => next.qemu_version = version,
            Action::SetLibvirtVersion(version) => next.libvirt_version = version,
            Action::SetUpgradeTo(stack) => next.upgrade_to = stack,
            Action::SetAccelerator(accelerator) => next.accelerator = accelerator,
            Action::CycleTheme => next.theme = next.theme.next(),
            Action::SetModelFilter(filter) => next.model_filter = filter,
            Action::SetUsableModelsOnly(only) => next.usable_models_only = only,
            Action::Replace(state) => next = state,
        }
        if next == *self {
            self
        } else {
            Rc::new(next)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reduce(state: AppState, action: Action) -> AppState {
        (*Rc::new(state).reduce(action)).clone()
    }

    fn file(name: &str, text: &str) -> LoadedFile {
        LoadedFile {
            name: name.into(),
            text: text.into(),
        }
    }

    #[test]
    fn several_files_make_one_host_any_of_which_can_be_removed_and_shared() {
        let files = ["cpuid.txt", "qmp.json", "domcaps.xml"].map(|name| file(name, name));
        let empty = FileProblem::Empty {
            name: "empty.txt".into(),
        };
        let mut outcomes: Vec<_> = files.iter().cloned().map(Ok).collect();
        outcomes.insert(1, Err(empty.clone()));
        let loaded = reduce(AppState::default(), Action::LoadHostFiles(outcomes));
        assert_eq!(&*loaded.host_dump, "cpuid.txt");
        assert_eq!(loaded.more_host_files, files[1..]);
        assert_eq!(loaded.host_file_problem, Some(empty));
        let shared = json::to_string(&loaded).expect("serializable");
        let opened = AppState::from_json(&shared).expect("the link opens");
        assert_eq!(opened.more_host_files, loaded.more_host_files);
        let without_qmp = reduce(loaded.clone(), Action::RemoveHostFile(1));
        assert_eq!(without_qmp.more_host_files, files[2..]);
        let without_dump = reduce(loaded, Action::RemoveHostFile(0));
        assert_eq!(&*without_dump.host_dump, "qmp.json");
        assert_eq!(without_dump.host_file_name.as_deref(), Some("qmp.json"));
        assert_eq!(without_dump.more_host_files, files[2..]);
        // A link made before several files existed has none.
        let old = AppState::from_json(r#"{"host_dump":"x"}"#).expect("old link opens");
        assert!(old.more_host_files.is_empty());
    }

    #[test]
    fn typing_a_host_dump_forgets_the_file_name() {
        let loaded = reduce(
            AppState::default(),
            Action::LoadHostFiles(vec![Ok(file("host.txt", "dump"))]),
        );
        assert_eq!(loaded.host_file_name.as_deref(), Some("host.txt"));
        let typed = reduce(loaded, Action::SetHostDump("edited".into()));
        assert_eq!(&*typed.host_dump, "edited");
        assert_eq!(typed.host_file_name, None);
    }

    #[test]
    fn migration_toggle_keeps_the_second_dump_while_on_and_drops_it_when_off() {
        let on = reduce(AppState::default(), Action::SetMigrationEnabled(true));
        assert_eq!(on.second_host_dump.as_deref(), Some(""));
        let typed = reduce(on, Action::SetSecondHostDump("other".into()));
        let still_on = reduce(typed, Action::SetMigrationEnabled(true));
        assert_eq!(still_on.second_host_dump.as_deref(), Some("other"));
        let off = reduce(still_on, Action::SetMigrationEnabled(false));
        assert_eq!(off.second_host_dump, None);
    }

    #[test]
    fn an_action_that_changes_nothing_keeps_the_same_rc() {
        let state = Rc::new(AppState::default());
        let next = state.clone().reduce(Action::SetModelFilter("".into()));
        assert!(Rc::ptr_eq(&state, &next));
    }

    #[test]
    fn an_update_shares_the_texts_it_does_not_change() {
        let state = reduce(
            AppState::default(),
            Action::SetHostDump("a large dump".into()),
        );
        let next = reduce(state.clone(), Action::SetDomainXml("<cpu/>".into()));
        assert!(Rc::ptr_eq(&state.host_dump, &next.host_dump));
    }

    #[test]
    fn a_refused_file_empties_the_dump_until_a_dump_is_given() {
        let loaded = reduce(AppState::default(), Action::SetHostDump("dump".into()));
        let problem = FileProblem::Empty {
            name: "empty.txt".into(),
        };
        let refused = reduce(loaded, Action::LoadHostFiles(vec![Err(problem.clone())]));
        assert_eq!(&*refused.host_dump, "");
        assert_eq!(refused.host_file_name.as_deref(), Some("empty.txt"));
        assert_eq!(refused.host_file_problem, Some(problem));
        let pasted = reduce(refused, Action::SetHostDump("other".into()));
        assert_eq!(pasted.host_file_problem, None);
    }

    #[test]
    fn an_example_pair_sets_domain_and_host_and_forgets_the_file_name() {
        let loaded = reduce(
            AppState::default(),
            Action::LoadHostFiles(vec![Ok(file("host.txt", "dump"))]),
        );
        let example = reduce(
            loaded,
            Action::LoadExample {
                domain_xml: "<cpu/>".into(),
                host_dump: "other".into(),
            },
        );
        assert_eq!(
            (&*example.domain_xml, &*example.host_dump),
            ("<cpu/>", "other")
        );
        assert_eq!(example.host_file_name, None);
    }

    #[test]
    fn theme_cycles_through_all_three() {
        let mut theme = Theme::System;
        let mut seen = Vec::new();
        for _ in 0..3 {
            theme = theme.next();
            seen.push(theme);
        }
        assert_eq!(seen, [Theme::Light, Theme::Dark, Theme::System]);
    }

    #[test]
    fn accelerator_names_round_trip() {
        for accel in Accelerator::ALL {
            assert_eq!(Accelerator::from_name(accel.as_str()), Some(accel));
        }
        assert_eq!(Accelerator::from_name("hvf"), None);
    }
}
