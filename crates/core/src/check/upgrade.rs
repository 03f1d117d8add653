//! An upgrade preview: the same domain on the same host under two stacks
//! (e.g. bookworm's libvirt 9.0 + QEMU 7.2, then trixie's 11.3 + 10.0), and
//! what changes between the two reports — the start verdict under each
//! `check`, the features QEMU filters, the guest CPU, the host-model and the
//! `-cpu` argument.

use serde::Serialize;

use super::{Report, Verdict};

/// One thing that differs between the report before and after the upgrade.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StackChange {
    /// What changed, e.g. `verdict (check='partial')`, `filtered features`,
    /// `guest CPU features only one side has`, `host-model`, `-cpu`.
    pub what: String,
    pub before: String,
    pub after: String,
}

/// Both reports and what changes from the first to the second.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UpgradePreview {
    pub before: Report,
    pub after: Report,
    pub changes: Vec<StackChange>,
}

impl UpgradePreview {
    /// Compares two reports on the same domain and host.
    pub fn new(before: Report, after: Report) -> Self {
        let changes = changes(&before, &after);
        UpgradePreview {
            before,
            after,
            changes,
        }
    }
}

/// What differs between `before` and `after`, in the order a reader asks:
/// does it start, what QEMU drops, what the guest gets, what libvirt asks for.
fn changes(before: &Report, after: &Report) -> Vec<StackChange> {
    let mut changes = Vec::new();
    let mut note = |what: String, old: String, new: String| {
        if old != new {
            changes.push(StackChange {
                what,
                before: old,
                after: new,
            });
        }
    };
    for (check, old, new) in [
        ("none", &before.verdicts.none, &after.verdicts.none),
        ("partial", &before.verdicts.partial, &after.verdicts.partial),
        ("full", &before.verdicts.full, &after.verdicts.full),
    ] {
        let own = if new.own { ", the domain's own" } else { "" };
        note(
            format!("verdict (check='{check}'{own})"),
            verdict_line(old),
            verdict_line(new),
        );
    }
    let filtered = |report: &Report| words(report.filtered.iter().map(|f| f.name.as_str()));
    note(
        "filtered features".to_string(),
        filtered(before),
        filtered(after),
    );
    let guest_model = |report: &Report| {
        report
            .guest_cpu
            .as_ref()
            .map_or_else(|| "none".to_string(), |cpu| cpu.qemu_model.clone())
    };
    note(
        "guest CPU model".to_string(),
        guest_model(before),
        guest_model(after),
    );
    let (old_features, new_features) = (guest_features(before), guest_features(after));
    let lost = words(
        old_features
            .iter()
            .copied()
            .filter(|name| !new_features.contains(name)),
    );
    let gained = words(
        new_features
            .iter()
            .copied()
            .filter(|name| !old_features.contains(name)),
    );
    note(
        "guest CPU features only one side has".to_string(),
        lost,
        gained,
    );
    let host_model = |report: &Report| {
        report
            .host
            .host_model
            .clone()
            .unwrap_or_else(|| "none".to_string())
    };
    note(
        "host-model".to_string(),
        host_model(before),
        host_model(after),
    );
    let cpu_arg = |report: &Report| {
        report
            .qemu_cpu_arg
            .clone()
            .unwrap_or_else(|| "none".to_string())
    };
    note("-cpu".to_string(), cpu_arg(before), cpu_arg(after));
    changes
}

/// The names of the guest CPU's features (none when QEMU built nothing).
fn guest_features(report: &Report) -> Vec<&str> {
    report.guest_cpu.as_ref().map_or_else(Vec::new, |cpu| {
        cpu.features.iter().map(|f| f.name.as_str()).collect()
    })
}

/// The verdict as one line; a start's message already says it starts.
fn verdict_line(verdict: &Verdict) -> String {
    if verdict.starts {
        verdict.message.clone()
    } else {
        format!("does not start: {}", verdict.message)
    }
}

/// Names joined by spaces, or `none`.
fn words<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let joined = names.collect::<Vec<_>>().join(" ");
    if joined.is_empty() {
        "none".to_string()
    } else {
        joined
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::{analyze, CheckOptions};
    use crate::data::CpuMap;
    use crate::dump::synthetic::synthesize_cpudata_xml;
    use crate::host::parse_host;
    use crate::libvirt::release::{LibvirtVersion, VersionChoice, VersionSource};

    fn report(domain: &str, libvirt: LibvirtVersion, qemu: &str) -> Report {
        let map = CpuMap::for_version(libvirt);
        let text = synthesize_cpudata_xml(map, "EPYC", &["vme"]).expect("known model");
        let host = parse_host(map, &text).expect("parses");
        let options = CheckOptions {
            qemu_version: Some(qemu.parse().expect("a QEMU release")),
            qemu_inferred_from: None,
            libvirt: Some(VersionChoice {
                version: libvirt,
                source: VersionSource::Option,
            }),
            ..CheckOptions::default()
        };
        analyze(map, domain, &host, None, &options).expect("checks")
    }

    #[test]
    fn bookworm_to_trixie_lists_what_changes_for_the_domain() {
        let domain = "<domain type='kvm'><cpu mode='custom' match='exact' check='partial'>\
                      <model fallback='forbid'>qemu64</model><vendor>Intel</vendor></cpu></domain>";
        let preview = UpgradePreview::new(
            report(domain, LibvirtVersion::V9_0, "7.2"),
            report(domain, LibvirtVersion::V11_3, "10.0"),
        );
        let partial = preview
            .changes
            .iter()
            .find(|c| c.what == "verdict (check='partial', the domain's own)")
            .expect("the verdict changes");
        assert!(
            partial.before.starts_with("does not start: "),
            "{partial:?}"
        );
        assert!(partial.after.starts_with("starts"), "{partial:?}");
        // The same stack twice changes nothing.
        let same = UpgradePreview::new(
            report(domain, LibvirtVersion::V11_3, "10.0"),
            report(domain, LibvirtVersion::V11_3, "10.0"),
        );
        assert!(same.changes.is_empty(), "{:?}", same.changes);
    }
}
