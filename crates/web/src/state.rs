//! The app's whole input state and the actions that change it.
//!
//! Everything a user types or chooses lives in [`AppState`]; results are never
//! stored here but recomputed from it, so the state stays small enough to share in
//! the URL fragment (see `share.rs`) and a reload always shows the same page. This
//! module is pure: no browser APIs, so it is unit-tested natively.

use std::rc::Rc;

use guestcpu_core::json::{self, Object};
use serde::Serialize;
use yew::Reducible;

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
    pub domain_xml: String,
    /// The host dump text (any supported format), as pasted or read from a file.
    pub host_dump: String,
    /// The name of the file the host dump came from, if it came from one.
    pub host_file_name: Option<String>,
    /// The migration target's dump; `None` when migration is not being checked.
    pub second_host_dump: Option<String>,
    /// The QEMU version to model; `None`: the domain's machine type's, else the newest.
    pub qemu_version: Option<String>,
    /// The libvirt version to model; `None`: what the host dump tells, else the newest.
    pub libvirt_version: Option<String>,
    /// `None`: the one the domain's type implies (`kvm`, or `qemu` → tcg).
    pub accelerator: Option<Accelerator>,
    pub theme: Theme,
    /// The text of the filter box above the CPU models table.
    pub model_filter: String,
}

impl AppState {
    /// Reads the JSON the `Serialize` derive writes; a missing or `null` member
    /// takes its default, so links made before a field existed still open.
    pub fn from_json(text: &str) -> Result<AppState, json::Error> {
        let root = json::parse(text)?;
        let root = root.object()?;
        let text = |key| -> Result<String, json::Error> {
            Ok(root.optional_string(key)?.unwrap_or_default())
        };
        Ok(AppState {
            domain_xml: text("domain_xml")?,
            host_dump: text("host_dump")?,
            host_file_name: root.optional_string("host_file_name")?,
            second_host_dump: root.optional_string("second_host_dump")?,
            qemu_version: root.optional_string("qemu_version")?,
            libvirt_version: root.optional_string("libvirt_version")?,
            accelerator: named(&root, "accelerator", Accelerator::from_name)?,
            theme: named(&root, "theme", Theme::from_attribute)?.unwrap_or_default(),
            model_filter: text("model_filter")?,
        })
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
    SetDomainXml(String),
    /// A dump typed or pasted into the text box (no file name).
    SetHostDump(String),
    /// A dump read from a picked or dropped file.
    LoadHostFile {
        name: String,
        text: String,
    },
    /// Turns the migration check on (with an empty second dump) or off.
    SetMigrationEnabled(bool),
    SetSecondHostDump(String),
    /// `None` selects the engine's default version.
    SetQemuVersion(Option<String>),
    /// `None` selects the engine's default libvirt version.
    SetLibvirtVersion(Option<String>),
    /// `None` selects the domain type's accelerator.
    SetAccelerator(Option<Accelerator>),
    CycleTheme,
    SetModelFilter(String),
    /// Replaces everything, e.g. with the state decoded from a share link.
    Replace(AppState),
}

impl Reducible for AppState {
    type Action = Action;

    fn reduce(self: Rc<Self>, action: Action) -> Rc<Self> {
        let mut next = (*self).clone();
        match action {
            Action::SetDomainXml(text) => next.domain_xml = text,
            Action::SetHostDump(text) => {
                next.host_dump = text;
                next.host_file_name = None;
            }
            Action::LoadHostFile { name, text } => {
                next.host_dump = text;
                next.host_file_name = Some(name);
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
            Action::SetAccelerator(accelerator) => next.accelerator = accelerator,
            Action::CycleTheme => next.theme = next.theme.next(),
            Action::SetModelFilter(filter) => next.model_filter = filter,
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

    #[test]
    fn typing_a_host_dump_forgets_the_file_name() {
        let loaded = reduce(
            AppState::default(),
            Action::LoadHostFile {
                name: "host.txt".into(),
                text: "dump".into(),
            },
        );
        assert_eq!(loaded.host_file_name.as_deref(), Some("host.txt"));
        let typed = reduce(loaded, Action::SetHostDump("edited".into()));
        assert_eq!(typed.host_dump, "edited");
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
        let next = state.clone().reduce(Action::SetModelFilter(String::new()));
        assert!(Rc::ptr_eq(&state, &next));
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
