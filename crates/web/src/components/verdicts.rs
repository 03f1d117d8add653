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

fn verdict_line(mode: &'static str, verdict: &Verdict) -> Html {
    let (class, outcome) = match (verdict.starts, verdict.abi_stable) {
        (true, true) => ("verdict ok", "starts, ABI stable"),
        (true, false) => ("verdict warn", "starts, ABI may change"),
        (false, _) => ("verdict fail", "does not start"),
    };
    let class = if verdict.own {
        format!("{class} own")
    } else {
        class.to_string()
    };
    html! {
        <li {class}
            data-testid={format!("verdict-{mode}")}>
            <span class="mode">{ format!("check='{mode}'") }</span>
            <span class="outcome">{ outcome }</span>
            if verdict.own { <span class="badge">{ "this domain" }</span> }
            if !verdict.message.is_empty() {
                <span class="message">{ verdict.message.clone() }</span>
            }
        </li>
    }
}

fn migration_line(migration: &Migration) -> Html {
    let (class, outcome) = if migration.starts {
        ("verdict ok", "migrates")
    } else {
        ("verdict fail", "does not migrate")
    };
    html! {
        <li class={class} data-testid="verdict-migration">
            <span class="mode">{ "migration" }</span>
            <span class="outcome">{ outcome }</span>
            if !migration.message.is_empty() {
                <span class="message">{ migration.message.clone() }</span>
            }
        </li>
    }
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
