//! The verdict banner: one line per libvirt `check` mode, the domain's own marked,
//! and the migration verdict when a second host is given.

use yew::prelude::*;

use crate::engine::{Migration, Report, Verdict};

/// "QEMU 9.2 (newest), kvm; defaults: …" under the verdicts.
fn settings_caption(report: &Report) -> String {
    let settings = &report.settings;
    let mut caption = format!(
        "QEMU {} ({}), libvirt {} ({}), accelerator {}",
        settings.qemu_version,
        settings.qemu_version_source,
        settings.libvirt_version,
        settings.libvirt_version_source,
        settings.accelerator
    );
    if !settings.defaults_applied.is_empty() {
        caption.push_str("; libvirt's defaults: ");
        caption.push_str(&settings.defaults_applied.join(", "));
    }
    if !settings.cpu_flags.is_empty() {
        caption.push_str("; -cpu flags from the domain: ");
        let flags: Vec<String> = settings
            .cpu_flags
            .iter()
            .map(|flag| format!("{} from {}", flag.qemu, flag.element))
            .collect();
        caption.push_str(&flags.join(", "));
    }
    for flag in &settings.outside_cpu_arg {
        caption.push_str(&format!("; {}: {}", flag.element, flag.qemu));
    }
    caption
}

/// One line of the banner: `mode`'s `outcome`, marked when it is the domain's
/// `own`, and its message.
fn verdict_item(
    class: &'static str,
    name: &'static str,
    mode: &str,
    outcome: &'static str,
    own: bool,
    message: &str,
) -> Html {
    html! {
        <li class={if own { format!("{class} own") } else { class.to_string() }}
            data-testid={format!("verdict-{name}")}>
            <span class="mode">{ mode.to_string() }</span>
            <span class="outcome">{ outcome }</span>
            if own { <span class="badge">{ "this domain" }</span> }
            if !message.is_empty() {
                <span class="message">{ message.to_string() }</span>
            }
        </li>
    }
}

/// The line for `check='mode'`.
fn verdict_line(mode: &'static str, verdict: &Verdict) -> Html {
    let (class, outcome) = match (verdict.starts, verdict.abi_stable) {
        (true, true) => ("verdict ok", "starts, ABI stable"),
        (true, false) => ("verdict warn", "starts, ABI may change"),
        (false, _) => ("verdict fail", "does not start"),
    };
    let label = format!("check='{mode}'");
    verdict_item(class, mode, &label, outcome, verdict.own, &verdict.message)
}

/// The line for the migration to the second host.
fn migration_line(migration: &Migration) -> Html {
    let (class, outcome) = if migration.starts {
        ("verdict ok", "migrates")
    } else {
        ("verdict fail", "does not migrate")
    };
    verdict_item(
        class,
        "migration",
        "migration",
        outcome,
        false,
        &migration.message,
    )
}

/// The banner of `report`'s verdicts, with how the QEMU version and
/// accelerator were chosen as its caption.
pub fn verdicts(report: &Report) -> Html {
    let verdicts = &report.verdicts;
    html! {
        <section class="panel" aria-labelledby="verdict-heading">
            <h2 id="verdict-heading">{ "Does it start?" }</h2>
            <ul class="verdicts">
                { verdict_line("none", &verdicts.none) }
                { verdict_line("partial", &verdicts.partial) }
                { verdict_line("full", &verdicts.full) }
                if let Some(migration) = &report.migration { { migration_line(migration) } }
            </ul>
            <p class="hint" data-testid="settings">{ settings_caption(report) }</p>
        </section>
    }
}
