//! The text report of examined sosreports, as `guestcpu sosreport` prints
//! it and the web app shows it: per report the releases, the host, KVM's
//! parameters, what is missing, and every domain's verdicts under the three
//! `check` values, filtered features, `-cpu`, live `<cpu>` and last start;
//! then the fleet when there are several reports.

use std::fmt::Write as _;

use guestcpu_core::sosreport::{DomainExamination, Fleet, SosExamination};

/// The text report of `reports`, with the fleet view when given.
pub fn render_text(reports: &[SosExamination], fleet: Option<&Fleet>) -> String {
    let mut out = String::new();
    for (index, report) in reports.iter().enumerate() {
        if index > 0 {
            out.push('\n');
        }
        render_report(&mut out, report);
    }
    if let Some(fleet) = fleet {
        render_fleet(&mut out, fleet);
    }
    out
}

fn render_report(out: &mut String, report: &SosExamination) {
    let _ = writeln!(out, "== sosreport {}", report.name);
    let version = |v: &Option<String>| v.clone().unwrap_or_else(|| "unknown".to_string());
    let _ = writeln!(
        out,
        "libvirt {}, QEMU {} ({})",
        version(&report.libvirt),
        version(&report.qemu),
        report.versions_from
    );
    for part in &report.host_files {
        let _ = writeln!(out, "host: {part}");
    }
    if let Some(host) = &report.host {
        let _ = writeln!(
            out,
            "host CPU: {}; host-model: {}; {}",
            host.host_cpu_model.as_deref().unwrap_or("-"),
            host.host_model.as_deref().unwrap_or("-"),
            host.x86_64_level.as_deref().unwrap_or("below x86-64-v1")
        );
    }
    for parameter in &report.kvm_parameters {
        let _ = writeln!(out, "KVM: {parameter}");
    }
    for line in &report.kvm_evidence {
        let _ = writeln!(out, "evidence: {line}");
    }
    for missing in &report.missing {
        let _ = writeln!(out, "missing: {missing}");
    }
    for note in &report.notes {
        let _ = writeln!(out, "note: {note}");
    }
    for domain in &report.domains {
        out.push('\n');
        render_domain(out, domain);
    }
}

fn render_domain(out: &mut String, domain: &DomainExamination) {
    let state = if domain.running {
        "running"
    } else {
        "shut off"
    };
    let Some(check) = &domain.check else {
        let _ = writeln!(
            out,
            "{} ({state}): not checked: {}",
            domain.name,
            domain.error.as_deref().unwrap_or("no answer")
        );
        return;
    };
    let _ = writeln!(out, "{} ({state}, check='{}')", domain.name, check.check);
    for (name, verdict) in [
        ("none", &check.verdicts.none),
        ("partial", &check.verdicts.partial),
        ("full", &check.verdicts.full),
    ] {
        let own = if verdict.own { " (own)" } else { "" };
        let _ = writeln!(
            out,
            "  {name:<8}{:<9}{own} {}",
            verdict.word(),
            one_line(&verdict.message)
        );
    }
    if !check.filtered.is_empty() {
        let names: Vec<&str> = check.filtered.iter().map(|f| f.name.as_str()).collect();
        let _ = writeln!(out, "  filtered: {}", names.join(", "));
    }
    if let Some(arg) = &check.qemu_cpu_arg {
        let _ = writeln!(out, "  -cpu {arg}");
    }
    if let Some(live) = &check.live_cpu {
        let _ = writeln!(out, "  live: {}", live.replace('\n', ""));
    }
    if let Some(last) = &domain.last_start {
        if !last.own_evidence.is_empty() {
            let _ = writeln!(
                out,
                "  known only from this start: KVM does not offer {}",
                last.own_evidence.join(", ")
            );
        }
        if last.confirmed() {
            let _ = writeln!(
                out,
                "  confirmed by the last start ({})",
                last.compared.join(", ")
            );
        } else if last.compared.is_empty() {
            let _ = writeln!(out, "  the last start left nothing to compare with");
        } else {
            let _ = writeln!(out, "  the last start differs:");
            for difference in &last.differences {
                let shown = |text: &str| {
                    if text.is_empty() {
                        "(none)".to_string()
                    } else {
                        text.replace('\n', "")
                    }
                };
                let _ = writeln!(out, "  - {}:", difference.aspect);
                let _ = writeln!(out, "      predicted {}", shown(&difference.predicted));
                let _ = writeln!(out, "      observed  {}", shown(&difference.observed));
            }
        }
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn render_fleet(out: &mut String, fleet: &Fleet) {
    let cluster = &fleet.cluster;
    let _ = writeln!(
        out,
        "\n== fleet of {} reports ({} without a usable host)",
        cluster.hosts, cluster.failed
    );
    match (&cluster.baseline_model, &cluster.baseline_error) {
        (Some(model), _) => {
            let _ = writeln!(out, "baseline CPU every host runs: {model}");
        }
        (None, Some(error)) => {
            let _ = writeln!(out, "no baseline CPU: {error}");
        }
        (None, None) => {}
    }
    let _ = writeln!(
        out,
        "models usable everywhere: {}",
        if cluster.models_everywhere.is_empty() {
            "none".to_string()
        } else {
            cluster.models_everywhere.join(", ")
        }
    );
    for domain in &fleet.domains {
        let summary = &domain.summary;
        let _ = writeln!(out, "{} (defined in {})", domain.name, domain.defined_in);
        match &summary.migration_source {
            Some(source) => {
                let _ = writeln!(out, "  starts on {source}, the migration source");
            }
            None => {
                let _ = writeln!(out, "  starts on no host");
            }
        }
        for (title, problems) in [
            ("does not start on", &summary.does_not_start),
            ("cannot migrate to", &summary.does_not_migrate),
        ] {
            for problem in problems {
                let _ = writeln!(
                    out,
                    "  {title} {}: {}",
                    problem.host,
                    one_line(&problem.reason)
                );
            }
        }
        for problem in &summary.filtered {
            let _ = writeln!(out, "  filtered on {}: {}", problem.host, problem.reason);
        }
    }
}
