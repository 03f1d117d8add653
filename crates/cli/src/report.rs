//! The readable form of `guestcpu check`: the verdict first, then what QEMU
//! would filter, the guest CPU, the `-cpu` argument and the live XML.

use std::fmt::Write as _;

use guestcpu_core::check::upgrade::UpgradePreview;
use guestcpu_core::check::{Report, Verdict};
use guestcpu_core::qemu::cpu_arg::shell_quote;

/// Renders a check report for a terminal.
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    let own = [
        ("none", &report.verdicts.none),
        ("partial", &report.verdicts.partial),
        ("full", &report.verdicts.full),
    ];
    if let Some((name, verdict)) = own.iter().find(|(_, v)| v.own) {
        let _ = writeln!(
            out,
            "{} with check='{name}' (the domain's own): {}",
            headline(verdict),
            verdict.message
        );
    }
    let _ = writeln!(out, "\nverdicts:");
    for (name, verdict) in own {
        let marker = if verdict.own { "*" } else { " " };
        let _ = writeln!(
            out,
            " {marker} check='{name}':{} {} — {}",
            " ".repeat(7 - name.len()),
            headline(verdict),
            verdict.message
        );
    }

    let settings = &report.settings;
    let _ = writeln!(
        out,
        "\nsettings: mode={} match={} check={} fallback={} model={} accelerator={} QEMU {} ({}) libvirt {} ({})",
        settings.mode,
        settings.match_mode,
        settings.check,
        settings.fallback,
        settings.model.as_deref().unwrap_or("-"),
        settings.accelerator,
        settings.qemu_version,
        settings.qemu_version_source,
        settings.libvirt_version,
        settings.libvirt_version_source,
    );
    for applied in &settings.defaults_applied {
        let _ = writeln!(out, "  default: {applied}");
    }
    for flag in &settings.cpu_flags {
        let _ = writeln!(out, "  -cpu flag: {} from {}", flag.qemu, flag.element);
    }
    for flag in &settings.outside_cpu_arg {
        let _ = writeln!(out, "  not in -cpu: {} gives {}", flag.element, flag.qemu);
    }

    let host = &report.host;
    let _ = writeln!(
        out,
        "\nhost: {} — {} family {} model {} stepping {}, host CPU {}, host-model {}, {}",
        host.format,
        host.vendor.as_deref().unwrap_or("unknown vendor"),
        number(host.family),
        number(host.model),
        number(host.stepping),
        host.host_cpu_model.as_deref().unwrap_or("-"),
        host.host_model.as_deref().unwrap_or("-"),
        host.x86_64_level.as_deref().unwrap_or("below x86-64-v1"),
    );

    if report.filtered.is_empty() {
        let _ = writeln!(out, "\nfiltered features: none");
    } else {
        let _ = writeln!(out, "\nfiltered features ({}):", report.filtered.len());
        for filtered in &report.filtered {
            let _ = writeln!(
                out,
                "  {:<20} {:<28} {}",
                filtered.name, filtered.cpuid, filtered.reason
            );
            let _ = writeln!(out, "  {:<20} {}", "", filtered.qemu_warning);
        }
    }
    if let Some(guest) = &report.guest_cpu {
        let names: Vec<&str> = guest.features.iter().map(|f| f.name.as_str()).collect();
        let _ = writeln!(
            out,
            "\nguest CPU: QEMU model {} ({}), {} features:",
            guest.qemu_model,
            guest.definition,
            names.len()
        );
        let _ = writeln!(out, "  {}", names.join(" "));
    }
    if let Some(arg) = &report.qemu_cpu_arg {
        // A command line: quoted for a shell, as libvirt's logs show it.
        let _ = writeln!(out, "\n-cpu {}", shell_quote(arg));
    }
    if let Some(migration) = &report.migration {
        let _ = writeln!(
            out,
            "\nmigration to {}: {} — {}",
            migration.host.format,
            if migration.starts { "OK" } else { "FAILS" },
            migration.message
        );
    }
    for note in &report.notes {
        let _ = writeln!(out, "\nnote: {note}");
    }
    if let Some(live) = &report.live_xml {
        let _ = writeln!(out, "\nlive XML after start:\n{}", live.trim_end());
    }
    out
}

/// An upgrade preview: the report before, then what changes after.
pub fn render_upgrade(preview: &UpgradePreview) -> String {
    let mut out = render(&preview.before);
    let after = &preview.after.settings;
    let _ = writeln!(
        out,
        "\nafter the upgrade to libvirt {} and QEMU {}:",
        after.libvirt_version, after.qemu_version
    );
    if preview.changes.is_empty() {
        let _ = writeln!(out, "  nothing changes for this domain on this host");
    }
    for change in &preview.changes {
        let _ = writeln!(
            out,
            "  {}:\n    before: {}\n    after:  {}",
            change.what, change.before, change.after
        );
    }
    out
}

fn headline(verdict: &Verdict) -> &'static str {
    match (verdict.starts, verdict.abi_stable) {
        (false, _) => "DOES NOT START",
        (true, true) => "starts",
        (true, false) => "starts (CPU filtered)",
    }
}

fn number(value: Option<u32>) -> String {
    value.map_or_else(|| "?".to_string(), |v| v.to_string())
}
