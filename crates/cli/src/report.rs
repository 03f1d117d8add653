//! The readable form of `guestcpu check`: the headline first, the verdict
//! under each `check` value, what QEMU would filter, the guest CPU, the
//! `-cpu` argument, the fix, and the live XML when it differs from the input.

use std::fmt::Write as _;

use guestcpu_core::check::upgrade::UpgradePreview;
use guestcpu_core::check::{QemuVersionSource, Remedy, Report, Verdict};
use guestcpu_core::qemu::cpu_arg::shell_quote;

/// What the text shows besides the report.
pub struct RenderOptions<'a> {
    /// The domain text as given, to tell whether the live XML differs.
    pub domain_text: &'a str,
    /// Show the live XML even when it equals the input.
    pub show_live: bool,
}

/// Renders a check report for a terminal.
pub fn render(report: &Report, options: &RenderOptions<'_>) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", report.headline);
    let _ = writeln!(out, "\nverdicts (* the domain's own):");
    for (name, verdict) in [
        ("none", &report.verdicts.none),
        ("partial", &report.verdicts.partial),
        ("full", &report.verdicts.full),
    ] {
        let marker = if verdict.own { "*" } else { " " };
        let _ = writeln!(
            out,
            " {marker} check='{name}':{} {}",
            " ".repeat(7 - name.len()),
            verdict_text(verdict)
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
    if let Some(remedy) = &report.remedy {
        render_fix(&mut out, remedy);
    }
    for note in &report.notes {
        let _ = writeln!(out, "\nnote: {note}");
    }
    for hint in version_hints(report) {
        let _ = writeln!(out, "\nhint: {hint}");
    }
    if let Some(live) = &report.live_xml {
        if options.show_live || live.trim_end() != options.domain_text.trim_end() {
            let _ = writeln!(out, "\nlive XML after start:\n{}", live.trim_end());
        }
    }
    out
}

/// An upgrade preview: the report before, then what changes after.
pub fn render_upgrade(preview: &UpgradePreview, options: &RenderOptions<'_>) -> String {
    let mut out = render(&preview.before, options);
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

/// The "Fix" section: each change, then what the remedied domain
/// guarantees; `guestcpu fix` prints its XML.
fn render_fix(out: &mut String, remedy: &Remedy) {
    let _ = writeln!(
        out,
        "\nFix (`guestcpu fix` with the same arguments prints the domain):"
    );
    for change in &remedy.changes {
        let _ = writeln!(out, "  - {change}");
    }
    let _ = writeln!(out, "  {}", remedy.explanation);
}

/// A verdict in words, without repeating the headline's.
fn verdict_text(verdict: &Verdict) -> String {
    if verdict.starts {
        verdict.message.clone()
    } else {
        format!("does not start: {}", verdict.message)
    }
}

/// A hint when the QEMU version is a guess (the newest known).
fn version_hints(report: &Report) -> Vec<String> {
    let settings = &report.settings;
    let mut hints = Vec::new();
    if settings.qemu_version_source == QemuVersionSource::Newest {
        hints.push(format!(
            "QEMU {} is a guess (the newest known, as neither --qemu nor the machine type names one); pass --qemu VERSION or a versioned machine type such as pc-q35-{}",
            settings.qemu_version, settings.qemu_version
        ));
    }
    // A guessed libvirt version is already a note of the report's own
    // ("the newest known; choose another with --libvirt").
    hints
}

fn number(value: Option<u32>) -> String {
    value.map_or_else(|| "?".to_string(), |v| v.to_string())
}
