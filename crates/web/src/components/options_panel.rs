//! QEMU and libvirt versions, accelerator, a second stack to compare with (an
//! upgrade preview) and the migration switch.

use std::rc::Rc;

use web_sys::{HtmlInputElement, HtmlSelectElement};
use yew::prelude::*;

use crate::engine;
use crate::state::{Accelerator, Action, AppState};

/// The select value that stands for "let the engine choose".
const DEFAULT_VALUE: &str = "";

/// One `<option>` of a menu.
fn option(value: AttrValue, label: AttrValue, selected: bool) -> Html {
    html! { <option {value} {selected}>{ label }</option> }
}

/// A labelled menu of `options`; the value chosen becomes `to_action`'s action.
fn menu(
    label: &'static str,
    testid: &'static str,
    options: Html,
    to_action: fn(String) -> Action,
    on_action: &Callback<Action>,
) -> Html {
    let onchange = on_action.reform(move |event: Event| {
        to_action(event.target_unchecked_into::<HtmlSelectElement>().value())
    });
    html! {
        <label>
            <span>{ label }</span>
            <select data-testid={testid} {onchange}>{ options }</select>
        </label>
    }
}

/// A chosen version, `None` for [`DEFAULT_VALUE`].
fn chosen(value: String) -> Option<Rc<str>> {
    (value != DEFAULT_VALUE).then(|| value.into())
}

/// The panel for what `state` chose: versions, accelerator, the stack to
/// compare with (`LIBVIRT:QEMU`) and whether migration is checked.
pub fn options_panel(state: &AppState, on_action: &Callback<Action>) -> Html {
    let versions = engine::qemu_versions();
    let libvirt_versions = engine::libvirt_versions();
    let on_migration = on_action.reform(|event: Event| {
        Action::SetMigrationEnabled(event.target_unchecked_into::<HtmlInputElement>().checked())
    });
    let chosen_version = state.qemu_version.as_deref().unwrap_or(DEFAULT_VALUE);
    let chosen_libvirt = state.libvirt_version.as_deref().unwrap_or(DEFAULT_VALUE);
    let chosen_upgrade = state.upgrade_to.as_deref().unwrap_or(DEFAULT_VALUE);
    let newest = versions.first().cloned().unwrap_or_default();
    let newest_libvirt = libvirt_versions.first().cloned().unwrap_or_default();
    let default =
        |label: String, chosen: &str| option(DEFAULT_VALUE.into(), label.into(), chosen.is_empty());
    let qemu_options = html! {
        <>
            { default(format!("default (machine type's, else {newest})"), chosen_version) }
            { for versions.iter().map(|version| {
                option(version.clone().into(), version.clone().into(), chosen_version == version)
            }) }
        </>
    };
    let libvirt_options = html! {
        <>
            { default(format!("default (the host dump's, else {newest_libvirt})"), chosen_libvirt) }
            { for libvirt_versions.iter().map(|version| {
                option(version.clone().into(), version.clone().into(), chosen_libvirt == version)
            }) }
        </>
    };
    let chosen_accelerator = state.accelerator.map_or(DEFAULT_VALUE, Accelerator::as_str);
    let accelerator_options = html! {
        <>
            { default("default (domain type's)".into(), chosen_accelerator) }
            { for Accelerator::ALL.iter().map(|accel| {
                let name = accel.as_str();
                option(name.into(), name.into(), chosen_accelerator == name)
            }) }
        </>
    };
    let upgrade_options = html! {
        <>
            { default("no other stack".into(), chosen_upgrade) }
            { for libvirt_versions.iter().map(|libvirt| html! {
                <optgroup label={format!("libvirt {libvirt}")}>
                    { for versions.iter().map(|qemu| {
                        let stack = format!("{libvirt}:{qemu}");
                        let selected = chosen_upgrade == stack;
                        option(stack.into(), format!("libvirt {libvirt} + QEMU {qemu}").into(), selected)
                    }) }
                </optgroup>
            }) }
        </>
    };
    html! {
        <section class="panel options" aria-label="Hypervisor">
            { menu("QEMU", "qemu-version", qemu_options, |value| Action::SetQemuVersion(chosen(value)), on_action) }
            { menu("libvirt", "libvirt-version", libvirt_options,
                |value| Action::SetLibvirtVersion(chosen(value)), on_action) }
            { menu("Accelerator", "accelerator", accelerator_options,
                |value| Action::SetAccelerator(Accelerator::from_name(&value)), on_action) }
            { menu("Compare with", "upgrade-to", upgrade_options,
                |value| Action::SetUpgradeTo(chosen(value)), on_action) }
            <label class="checkbox">
                <input type="checkbox" data-testid="migration" checked={state.second_host_dump.is_some()}
                    onchange={on_migration} />
                <span>{ "Check migration to a second host" }</span>
            </label>
        </section>
    }
}
