//! QEMU and libvirt versions, accelerator, a second stack to compare with (an
//! upgrade preview) and the migration switch.

use web_sys::{HtmlInputElement, HtmlSelectElement};
use yew::prelude::*;

use crate::engine;
use crate::state::{Accelerator, Action};

/// The select value that stands for "let the engine choose".
const DEFAULT_VALUE: &str = "";

#[derive(Properties, PartialEq)]
pub struct OptionsPanelProps {
    pub qemu_version: Option<AttrValue>,
    pub libvirt_version: Option<AttrValue>,
    /// The stack to compare with, `LIBVIRT:QEMU`; `None`: no comparison.
    pub upgrade_to: Option<AttrValue>,
    pub accelerator: Option<Accelerator>,
    pub migration: bool,
    pub on_action: Callback<Action>,
}

#[function_component]
pub fn OptionsPanel(props: &OptionsPanelProps) -> Html {
    let versions = use_memo((), |()| engine::qemu_versions());
    let on_version = props.on_action.reform(|event: Event| {
        let value = event.target_unchecked_into::<HtmlSelectElement>().value();
        Action::SetQemuVersion((value != DEFAULT_VALUE).then(|| value.into()))
    });
    let libvirt_versions = use_memo((), |()| engine::libvirt_versions());
    let on_libvirt_version = props.on_action.reform(|event: Event| {
        let value = event.target_unchecked_into::<HtmlSelectElement>().value();
        Action::SetLibvirtVersion((value != DEFAULT_VALUE).then(|| value.into()))
    });
    let on_upgrade = props.on_action.reform(|event: Event| {
        let value = event.target_unchecked_into::<HtmlSelectElement>().value();
        Action::SetUpgradeTo((value != DEFAULT_VALUE).then(|| value.into()))
    });
    let chosen_upgrade = props.upgrade_to.as_deref().unwrap_or(DEFAULT_VALUE);
    let on_accelerator = props.on_action.reform(|event: Event| {
        let value = event.target_unchecked_into::<HtmlSelectElement>().value();
        Action::SetAccelerator(Accelerator::from_name(&value))
    });
    let on_migration = props.on_action.reform(|event: Event| {
        Action::SetMigrationEnabled(event.target_unchecked_into::<HtmlInputElement>().checked())
    });
    let chosen_version = props.qemu_version.as_deref().unwrap_or(DEFAULT_VALUE);
    let newest = versions.first().copied().unwrap_or_default();
    let chosen_libvirt = props.libvirt_version.as_deref().unwrap_or(DEFAULT_VALUE);
    let newest_libvirt = libvirt_versions.first().cloned().unwrap_or_default();
    html! {
        <section class="panel options" aria-label="Hypervisor">
            <label>
                <span>{ "QEMU" }</span>
                <select data-testid="qemu-version" onchange={on_version}>
                    <option value={DEFAULT_VALUE} selected={chosen_version.is_empty()}>
                        { format!("default (machine type's, else {newest})") }
                    </option>
                    { for versions.iter().map(|version| html! {
                        <option value={*version} selected={chosen_version == *version}>
                            { *version }
                        </option>
                    }) }
                </select>
            </label>
            <label>
                <span>{ "libvirt" }</span>
                <select data-testid="libvirt-version" onchange={on_libvirt_version}>
                    <option value={DEFAULT_VALUE} selected={chosen_libvirt.is_empty()}>
                        { format!("default (the host dump's, else {newest_libvirt})") }
                    </option>
                    { for libvirt_versions.iter().map(|version| html! {
                        <option value={version.clone()} selected={chosen_libvirt == version.as_str()}>
                            { version.clone() }
                        </option>
                    }) }
                </select>
            </label>
            <label>
                <span>{ "Accelerator" }</span>
                <select data-testid="accelerator" onchange={on_accelerator}>
                    <option value={DEFAULT_VALUE} selected={props.accelerator.is_none()}>
                        { "default (domain type's)" }
                    </option>
                    { for Accelerator::ALL.iter().map(|accel| html! {
                        <option value={accel.as_str()} selected={Some(*accel) == props.accelerator}>
                            { accel.as_str() }
                        </option>
                    }) }
                </select>
            </label>
            <label>
                <span>{ "Compare with" }</span>
                <select data-testid="upgrade-to" onchange={on_upgrade}>
                    <option value={DEFAULT_VALUE} selected={chosen_upgrade.is_empty()}>
                        { "no other stack" }
                    </option>
                    { for libvirt_versions.iter().map(|libvirt| html! {
                        <optgroup label={format!("libvirt {libvirt}")}>
                            { for versions.iter().map(|qemu| {
                                let stack = format!("{libvirt}:{qemu}");
                                let selected = chosen_upgrade == stack;
                                html! {
                                    <option {selected} value={stack}>
                                        { format!("libvirt {libvirt} + QEMU {qemu}") }
                                    </option>
                                }
                            }) }
                        </optgroup>
                    }) }
                </select>
            </label>
            <label class="checkbox">
                <input type="checkbox" data-testid="migration" checked={props.migration}
                    onchange={on_migration} />
                <span>{ "Check migration to a second host" }</span>
            </label>
        </section>
    }
}
