//! sosreports made with Debian's `sosreport` on real stacks (`cargo xtask
//! record-sosreport`, `tests/sosreport/<stack>/`), and variants made from
//! them here: every persistent domain is checked, the running ones are
//! compared with their last start, and a report lacking a part says so in
//! one line and checks what it still can.
//!
//! The recording host is a VM whose KVM hides most of what its CPUID shows.
//! sos's read-only connection gets no domcapabilities from any of the three
//! libvirt releases, so the recorded reports carry no answer of QEMU's: from
//! the raw CPUID alone, a model whose features KVM hides is predicted to get
//! them (QEMU filtered `pni`, `ssse3`), and host-model is predicted from the
//! CPUID where libvirt took QEMU's. Predicted from the host files alone, a
//! running domain must agree with its last start in every aspect but those
//! the replay of the real-stack recordings lists as misses for the same
//! stack and host input (`tests/real/expected-misses.json`, each with its
//! reason): from the report as recorded, those of the raw CPUID; with the
//! domain capabilities `record-real` captured over a read-write connection
//! put in, those of the raw CPUID joined with them. With what the running
//! domains' starts showed about KVM joined in (the default), it misses less.

use std::fs;
use std::path::{Path, PathBuf};

use guestcpu_core::sosreport::{
    examine, examine_with, fleet, report_path, SosExamination, StartEvidence,
};

/// The recorded reports and the real-stack folder of the same stack.
const STACKS: [(&str, &str); 3] = [
    ("bookworm", "libvirt-9.0.0_qemu-7.2.22"),
    ("trixie", "libvirt-11.3.0_qemu-10.0.13"),
    ("trixie-backports", "libvirt-12.9.0_qemu-11.1.3"),
];

const DOMCAPABILITIES: &str = "sos_commands/virsh/virsh_-r_domcapabilities";

fn tests_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests")
}

/// A recorded report's files as the CLI hands them over.
fn report_files(stack: &str) -> Vec<(String, String)> {
    let base = tests_dir().join("sosreport").join(stack);
    let mut files = Vec::new();
    walk(&base, &base, &mut files);
    files.sort();
    assert!(!files.is_empty(), "{}: no report files", base.display());
    files
}

fn walk(base: &Path, folder: &Path, files: &mut Vec<(String, String)>) {
    for entry in fs::read_dir(folder).expect("readable folder") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            walk(base, &path, files);
            continue;
        }
        let relative = path.strip_prefix(base).expect("under base");
        let relative = relative.to_string_lossy();
        let read = report_path(&relative)
            .unwrap_or_else(|| panic!("{relative}: the recorder kept a file nobody reads"));
        files.push((read.to_string(), fs::read_to_string(&path).expect("text")));
    }
}

fn without(files: &[(String, String)], unwanted: impl Fn(&str) -> bool) -> Vec<(String, String)> {
    files
        .iter()
        .filter(|(path, _)| !unwanted(path))
        .cloned()
        .collect()
}

fn replaced(files: &[(String, String)], path: &str, text: String) -> Vec<(String, String)> {
    let mut files = without(files, |name| name == path);
    files.push((path.to_string(), text));
    files
}

/// `(domain, differing aspects)` of every running domain; confirmed ones
/// have none.
fn running(report: &SosExamination) -> Vec<(String, Vec<String>)> {
    report
        .domains
        .iter()
        .filter(|domain| domain.running)
        .map(|domain| {
            let last = domain
                .last_start
                .as_ref()
                .unwrap_or_else(|| panic!("{}: running without a last start", domain.name));
            assert!(
                last.compared.contains(&"-cpu".to_string()),
                "{}: nothing read from the QEMU log: {last:?}",
                domain.name
            );
            (
                domain.name.clone(),
                last.differences.iter().map(|d| d.aspect.clone()).collect(),
            )
        })
        .collect()
}

/// The aspects, in this module's words and order, where the replay of the
/// real-stack recordings lists a miss (`tests/real/expected-misses.json`,
/// each with its reason) for `domain` (`gc-NAME`) on `stack` from `host`.
/// A running domain of a report agrees with its last start but for these.
fn listed_misses(stack: &str, host: &str, domain: &str) -> Vec<String> {
    let path = tests_dir().join("real/expected-misses.json");
    let text = fs::read_to_string(&path).expect("expected misses");
    let value = guestcpu_core::json::parse(&text).expect("JSON");
    let misses = value
        .object()
        .and_then(|object| object.field("misses").and_then(|misses| misses.array()))
        .expect("a `misses` array");
    let name = domain.strip_prefix("gc-").expect("a corpus domain");
    let listed: Vec<String> = misses
        .iter()
        .filter_map(|miss| {
            let miss = miss.object().ok()?;
            let field = |key: &str| miss.string(key).ok();
            (field("stack")? == stack && field("host")? == host && field("domain")? == name)
                .then(|| field("aspect"))
                .flatten()
        })
        .collect();
    // The replay's aspect names, in the order `compare` checks them.
    [
        ("start", "start"),
        ("live", "live <cpu>"),
        ("cpu_arg", "-cpu"),
        ("filtered", "filtered"),
    ]
    .into_iter()
    .filter(|(replay, _)| listed.iter().any(|aspect| aspect == replay))
    .map(|(_, ours)| ours.to_string())
    .collect()
}

fn aspects(list: &[&str]) -> Vec<String> {
    list.iter().map(|aspect| aspect.to_string()).collect()
}

fn confirmed(report: &SosExamination) -> usize {
    running(report)
        .iter()
        .filter(|(_, differences)| differences.is_empty())
        .count()
}

fn domain<'r>(
    report: &'r SosExamination,
    name: &str,
) -> &'r guestcpu_core::sosreport::DomainExamination {
    report
        .domains
        .iter()
        .find(|domain| domain.name == name)
        .unwrap_or_else(|| panic!("{}: no domain {name}", report.name))
}

/// The features a domain's check filters, with why.
fn filtered(report: &SosExamination, name: &str) -> Vec<(String, String)> {
    domain(report, name)
        .check
        .as_ref()
        .expect("checked")
        .filtered
        .iter()
        .map(|f| (f.name.clone(), f.reason.clone()))
        .collect()
}

#[test]
fn every_domain_of_the_recorded_reports_is_checked_and_the_running_ones_compared() {
    for (stack, real) in STACKS {
        let report = examine_with(stack, &report_files(stack), &[], StartEvidence::Ignored);
        assert_eq!(report.domains.len(), 7, "{stack}: {report:#?}");
        assert!(
            report.domains.iter().all(|domain| domain.check.is_some()),
            "{stack}: {:#?}",
            report.domains
        );
        assert!(report.libvirt.is_some() && report.qemu.is_some(), "{stack}");
        assert_eq!(report.versions_from, "virsh -r version", "{stack}");
        assert!(
            report
                .missing
                .iter()
                .any(|line| line.contains("connection is refused domcapabilities")),
            "{stack}: {:?}",
            report.missing
        );
        // Exactly the replay's listed misses of the raw CPUID alone (which
        // the report's capabilities join without changing it).
        for (domain, differences) in running(&report) {
            assert_eq!(
                differences,
                listed_misses(real, "cpuid.txt", &domain),
                "{stack}: {domain}"
            );
        }
        assert_eq!(
            running(&report)
                .iter()
                .filter(|(_, differences)| differences.is_empty())
                .count(),
            2,
            "{stack}"
        );
        let conroe = report
            .domains
            .iter()
            .find(|domain| domain.name == "gc-custom-conroe-none")
            .and_then(|domain| domain.last_start.as_ref())
            .expect("conroe runs");
        let filtered = conroe
            .differences
            .iter()
            .find(|d| d.aspect == "filtered")
            .expect("filtered differs");
        assert_eq!(
            (filtered.predicted.as_str(), filtered.observed.as_str()),
            ("", "pni, ssse3")
        );
        assert!(
            report.notes.iter().any(|note| note.starts_with(
                "running domains differ from their last start, predicted without QEMU's answer"
            )),
            "{stack}: {:?}",
            report.notes
        );
        assert!(report.kvm_evidence.is_empty(), "{stack}");
    }
}

/// Trimmed variants of a recorded report, by what they keep of the host.
fn variants(stack: &str) -> [(&'static str, Vec<(String, String)>); 3] {
    let files = report_files(stack);
    [
        ("as recorded", files.clone()),
        (
            "no domcapabilities",
            without(&files, |path| path == DOMCAPABILITIES),
        ),
        (
            "/proc/cpuinfo only",
            without(&files, |path| {
                path == "sos_commands/processor/cpuid_-r"
                    || path == "sos_commands/virsh/virsh_-r_capabilities"
                    || path == DOMCAPABILITIES
            }),
        ),
    ]
}

/// Conroe's start on every stack: QEMU warned that KVM gives neither `pni`
/// nor `ssse3`; the host-model domain's live `<cpu>` (QEMU's answer under
/// KVM) lacks both too, and every other feature KVM hides. Joined into the
/// host, that corrects the CPUID's prediction for Conroe (now confirmed by
/// its start, 3 running domains of 4 instead of 2), for the shut-off
/// Haswell, whose model asks for both, and for host-model: predicted as
/// libvirt wrote it but for what QEMU's `host` leaves out whatever KVM
/// offers (`topoext`; on QEMU 10.0 and later AMD's `overflow-recov` and
/// `succor`), which the prediction from CPUID still puts in.
#[test]
fn the_running_domains_starts_correct_every_prediction_on_their_host() {
    for (stack, real) in STACKS {
        for (variant, files) in variants(stack) {
            let before = examine_with(stack, &files, &[], StartEvidence::Ignored);
            let after = examine(stack, &files, &[]);
            println!(
                "{stack}, {variant}: running domains confirmed by their last start: {} of {} from the host files alone, {} of {} with the starts' evidence",
                confirmed(&before),
                running(&before).len(),
                confirmed(&after),
                running(&after).len()
            );
            assert_eq!(
                (confirmed(&before), confirmed(&after), running(&after).len()),
                (2, 4, 4),
                "{stack}, {variant}"
            );
            if variant != "/proc/cpuinfo only" {
                // Never worse than the replay of the raw CPUID alone.
                for (domain, differences) in running(&after) {
                    let listed = listed_misses(real, "cpuid.txt", &domain);
                    assert!(
                        differences.iter().all(|aspect| listed.contains(aspect)),
                        "{stack}, {variant}: {domain}: {differences:?} beyond {listed:?}"
                    );
                }
            }
            let conroe = domain(&after, "gc-custom-conroe-none")
                .last_start
                .as_ref()
                .expect("conroe runs");
            assert!(conroe.confirmed(), "{stack}, {variant}: {conroe:?}");
            // The host-model domain's start shows both as well: Conroe's
            // confirmation is not its own start's doing.
            assert!(conroe.own_evidence.is_empty(), "{stack}, {variant}");
            // What host-model's prediction took from its own start alone.
            let host_model = domain(&after, "gc-host-model")
                .last_start
                .as_ref()
                .expect("host-model runs");
            for feature in ["pclmuldq", "sse4.1", "avx", "xsave", "xsaveopt"] {
                assert!(
                    host_model.own_evidence.iter().any(|name| name == feature),
                    "{stack}, {variant}: {:?}",
                    host_model.own_evidence
                );
            }
            for feature in ["pni", "ssse3"] {
                assert!(
                    !host_model.own_evidence.iter().any(|name| name == feature),
                    "{stack}, {variant}: {:?}",
                    host_model.own_evidence
                );
            }
            // Its prediction leaves off what QEMU's `host` never turns on
            // (`topoext`) and, on this Intel host, AMD's machine-check bits,
            // as the start did: every running domain is confirmed.
            assert!(host_model.confirmed(), "{stack}, {variant}: {host_model:?}");
            for feature in ["pni", "ssse3"] {
                let line = format!(
                    "this host's KVM does not offer `{feature}`: QEMU warned when starting domain gc-custom-conroe-none (predicted from CPUID: offered)"
                );
                assert!(
                    after.kvm_evidence.contains(&line),
                    "{stack}, {variant}: {:#?}",
                    after.kvm_evidence
                );
            }
            assert!(
                after
                    .kvm_evidence
                    .iter()
                    .all(|line| !line.starts_with("conflict")),
                "{stack}, {variant}: {:#?}",
                after.kvm_evidence
            );
            assert!(
                after.host_files.last().is_some_and(|part| part.starts_with(
                    "the running domains' last starts: what KVM offers guests, as QEMU's starts showed it ("
                ) && part.contains("features offered, ")
                    && part.ends_with(" not offered)")),
                "{stack}, {variant}: {:?}",
                after.host_files
            );
            // The shut-off Haswell asks for both: predicted filtered now,
            // with where that was seen.
            let haswell_before = filtered(&before, "gc-custom-haswell-full");
            let haswell_after = filtered(&after, "gc-custom-haswell-full");
            println!(
                "{stack}, {variant}: gc-custom-haswell-full (shut off) filtered from the host files alone: {:?}; with the starts' evidence: {:?}",
                haswell_before.iter().map(|(name, _)| name).collect::<Vec<_>>(),
                haswell_after.iter().map(|(name, _)| name).collect::<Vec<_>>()
            );
            for feature in ["pni", "ssse3"] {
                assert!(
                    !haswell_before.iter().any(|(name, _)| name == feature),
                    "{stack}, {variant}: {haswell_before:?}"
                );
                assert!(
                    haswell_after.contains(&(
                        feature.to_string(),
                        "this host's KVM does not offer it: QEMU warned when starting domain gc-custom-conroe-none".to_string()
                    )),
                    "{stack}, {variant}: {haswell_after:?}"
                );
            }
        }
    }
}

/// `stack`'s report examined with the domcapabilities `record-real`
/// captured on the same host (`real`), in place of sos's refused one.
fn examined_with_recorded_domcapabilities(stack: &str, real: &str) -> SosExamination {
    let domcapabilities = fs::read_to_string(
        tests_dir()
            .join("real")
            .join(real)
            .join("host/domcapabilities.xml"),
    )
    .expect("recorded domcapabilities");
    let files = replaced(&report_files(stack), DOMCAPABILITIES, domcapabilities);
    examine(stack, &files, &[])
}

/// With QEMU's own answer in the report, it decides: every start agrees
/// with it, so the starts change nothing and nothing conflicts.
#[test]
fn qemus_answer_and_the_starts_agree_on_the_recorded_hosts() {
    for (stack, real) in STACKS {
        let report = examined_with_recorded_domcapabilities(stack, real);
        assert!(
            report.kvm_evidence.is_empty(),
            "{stack}: {:#?}",
            report.kvm_evidence
        );
        assert_eq!(confirmed(&report), 4, "{stack}");
    }
}

/// A start that contradicts another (a warning about a feature another
/// domain's live `<cpu>` has) is reported and changes nothing.
#[test]
fn starts_that_disagree_are_reported_not_settled() {
    let files = report_files("trixie");
    let log = "var/log/libvirt/qemu/gc-custom-conroe-none.log";
    let text = files
        .iter()
        .find(|(path, _)| path == log)
        .map(|(_, text)| text.clone())
        .expect("conroe's log");
    // x2apic: every running domain's live <cpu> has it.
    let warning = "2026-12-05T20:06:20.989200Z qemu-system-x86_64: warning: host doesn't support requested feature: CPUID.01H:ECX.x2apic [bit 21]\n";
    let (head, tail) = text
        .split_once("qemu-system-x86_64: warning: host doesn't support requested feature: CPUID.01H:ECX.ssse3 [bit 9]\n")
        .expect("the ssse3 warning");
    let edited = format!(
        "{head}qemu-system-x86_64: warning: host doesn't support requested feature: CPUID.01H:ECX.ssse3 [bit 9]\n{warning}{tail}"
    );
    let report = examine("disputed", &replaced(&files, log, edited), &[]);
    let disputes: Vec<&String> = report
        .kvm_evidence
        .iter()
        .filter(|line| line.starts_with("conflict: the starts disagree on `x2apic`"))
        .collect();
    assert_eq!(disputes.len(), 1, "{:#?}", report.kvm_evidence);
    assert!(
        disputes[0].contains("not offered: QEMU warned when starting domain gc-custom-conroe-none")
            && disputes[0].ends_with("the prediction from CPUID stands"),
        "{}",
        disputes[0]
    );
    // x2apic is still given (KVM emulates it), as the prediction said.
    assert!(!filtered(&report, "gc-custom-haswell-full")
        .iter()
        .any(|(name, _)| name == "x2apic"));
}

#[test]
fn with_qemus_answer_every_running_domain_is_confirmed() {
    for (stack, real) in STACKS {
        let report = examined_with_recorded_domcapabilities(stack, real);
        for (domain, differences) in running(&report) {
            assert_eq!(
                differences,
                listed_misses(real, "cpuid.txt + domcapabilities.xml", &domain),
                "{stack}: {domain}"
            );
        }
        assert!(
            report
                .host_files
                .iter()
                .any(|part| part.contains("QEMU's answer")),
            "{stack}: {:?}",
            report.host_files
        );
    }
}

#[test]
fn an_old_libvirt_without_blockers_keeps_qemus_host_model_but_not_its_reasons() {
    let domcapabilities = fs::read_to_string(
        tests_dir().join("real/libvirt-11.3.0_qemu-10.0.13/host/domcapabilities.xml"),
    )
    .expect("recorded domcapabilities");
    // libvirt before 10.9 prints no <blockers> under an unusable model.
    let stripped: String = domcapabilities
        .lines()
        .filter(|line| {
            !line.contains("blockers") && !line.trim_start().starts_with("<feature name=")
        })
        .map(|line| format!("{line}\n"))
        .collect();
    assert!(!stripped.contains("<blockers"));
    let files = replaced(&report_files("trixie"), DOMCAPABILITIES, stripped);
    let report = examine("old", &files, &[]);
    assert!(report.domains.iter().all(|domain| domain.check.is_some()));
    assert!(
        report
            .missing
            .iter()
            .any(|line| line.starts_with("domcapabilities lists no <blockers>")),
        "{:?}",
        report.missing
    );
    // QEMU's answer still says Conroe is unusable; the blockers it no longer
    // prints are predicted from what KVM offers, so every running domain
    // still agrees with its last start.
    assert_eq!(
        running(&report),
        [
            ("gc-custom-486-partial".to_string(), aspects(&[])),
            ("gc-custom-conroe-none".to_string(), aspects(&[])),
            (
                "gc-custom-kvm64-disable-pni-partial".to_string(),
                aspects(&[])
            ),
            ("gc-host-model".to_string(), aspects(&[])),
        ]
    );
}

#[test]
fn without_raw_cpuid_the_host_comes_from_virsh_capabilities() {
    let files = without(&report_files("trixie"), |path| {
        path.contains("processor/cpuid")
    });
    let report = examine("no-cpuid", &files, &[]);
    assert!(
        report
            .missing
            .iter()
            .any(|line| line.starts_with("no raw CPUID") && line.ends_with("virsh capabilities")),
        "{:?}",
        report.missing
    );
    assert_eq!(report.domains.len(), 7);
    assert!(report.domains.iter().all(|domain| domain.check.is_some()));
}

#[test]
fn without_the_virsh_plugin_the_releases_come_from_elsewhere() {
    let files = without(&report_files("trixie"), |path| {
        path.starts_with("sos_commands/virsh/")
    });
    let report = examine("no-virsh", &files, &[]);
    assert!(
        report
            .missing
            .iter()
            .any(|line| line.starts_with("no virsh -r version")),
        "{:?}",
        report.missing
    );
    assert!(
        report.versions_from.contains("newest"),
        "{}",
        report.versions_from
    );
    // Running domains are still known from their status XML.
    assert_eq!(running(&report).len(), 4);
}

#[test]
fn a_report_without_libvirt_describes_the_host_only() {
    let files = without(&report_files("bookworm"), |path| {
        path.starts_with("sos_commands/virsh/")
            || path.starts_with("etc/libvirt/")
            || path.starts_with("run/libvirt/")
            || path.starts_with("var/log/libvirt/")
    });
    let report = examine("no-libvirt", &files, &[]);
    assert!(report.domains.is_empty());
    assert!(report.host.is_some());
    assert!(
        report
            .missing
            .iter()
            .any(|line| line.starts_with("no libvirt on this host")),
        "{:?}",
        report.missing
    );
}

#[test]
fn a_non_x86_host_is_named_and_nothing_checked() {
    let cpuinfo = "processor\t: 0\nBogoMIPS\t: 50.00\nFeatures\t: fp asimd evtstrm\nCPU implementer\t: 0x41\nCPU architecture: 8\n";
    let files = without(&report_files("bookworm"), |path| {
        path.starts_with("sos_commands/") || path == "proc/cpuinfo"
    });
    let files = replaced(&files, "proc/cpuinfo", cpuinfo.to_string());
    let report = examine("arm", &files, &[]);
    assert_eq!(report.missing.len(), 1, "{:?}", report.missing);
    assert!(report.missing[0].starts_with("the host is ARM (aarch64), not x86"));
    assert_eq!(report.domains.len(), 7);
    assert!(report.domains.iter().all(|domain| domain.check.is_none()));
}

#[test]
fn a_report_without_cpu_data_lists_its_domains_unchecked() {
    let files = without(&report_files("trixie"), |path| {
        path.starts_with("sos_commands/") || path == "proc/cpuinfo"
    });
    let report = examine("no-cpu", &files, &[]);
    assert!(report
        .missing
        .iter()
        .any(|line| line.starts_with("no host CPU data")));
    assert_eq!(report.domains.len(), 7);
    assert!(report.domains.iter().all(|d| d.error.is_some()));
}

#[test]
fn the_fleet_of_two_reports_joins_their_hosts() {
    let reports = [
        examine("bookworm", &report_files("bookworm"), &[]),
        examine("trixie", &report_files("trixie"), &[]),
    ];
    let fleet = fleet(&reports);
    assert_eq!((fleet.cluster.hosts, fleet.cluster.failed), (2, 0));
    assert!(
        fleet.cluster.baseline_model.is_some(),
        "{:?}",
        fleet.cluster
    );
    assert!(fleet.cluster.models_everywhere.contains(&"486".to_string()));
    assert_eq!(fleet.domains.len(), 7);
    let haswell = fleet
        .domains
        .iter()
        .find(|domain| domain.name == "gc-custom-haswell-full")
        .expect("haswell");
    assert_eq!(haswell.summary.migration_source, None);
    assert_eq!(haswell.summary.does_not_start.len(), 2);
    let small = fleet
        .domains
        .iter()
        .find(|domain| domain.name == "gc-custom-486-partial")
        .expect("486");
    assert_eq!(small.summary.migration_source.as_deref(), Some("bookworm"));
    assert!(
        small.summary.does_not_migrate.is_empty(),
        "{:?}",
        small.summary
    );
}

/// The bundle `guestcpu capture` wrote on the recording host while the
/// bookworm report's domains ran (`tests/capture/bookworm.json`).
#[test]
fn a_capture_bundle_is_a_host_input_that_agrees_with_the_real_start() {
    use guestcpu_core::check::{analyze, CheckOptions};
    use guestcpu_core::host::parse_host;
    use guestcpu_core::libvirt::release::{LibvirtVersion, VersionChoice};
    use guestcpu_core::version::QemuRelease;
    use guestcpu_core::CpuMap;

    let bundle = fs::read_to_string(tests_dir().join("capture/bookworm.json")).expect("bundle");
    let choice = VersionChoice::choose(Some(LibvirtVersion::V9_0), None);
    let map = CpuMap::for_version(choice.version);
    let host = parse_host(map, &bundle).unwrap_or_else(|e| panic!("{}", e.render(&bundle)));
    assert_eq!(host.contributions().len(), 3, "{:?}", host.contributions());
    let options = CheckOptions {
        qemu_version: Some(QemuRelease::new(7, 2)),
        qemu_inferred_from: None,
        accelerator: None,
        libvirt: Some(choice),
    };
    let check = |name: &str| {
        let domain = fs::read_to_string(tests_dir().join(format!("real/domains/{name}.xml")))
            .expect("domain");
        analyze(map, &domain, &host, None, &options).expect("a report")
    };
    // What the real starts did (tests/real/libvirt-9.0.0_qemu-7.2.22/domains/NAME.json).
    let sse42 = check("custom-486-require-sse4.2");
    assert!(sse42.verdicts.none.starts && sse42.verdicts.partial.starts);
    assert_eq!(sse42.qemu_cpu_arg.as_deref(), Some("486,sse4.2=on"));
    let filtered: Vec<&str> = sse42.filtered.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(filtered, ["sse4.2"]);
    let host_model = check("host-model");
    assert!(
        host_model.qemu_cpu_arg.as_deref().is_some_and(|arg| arg
            .starts_with("kvm64,vme=on,ss=on,x2apic=on,")
            && arg.ends_with(",pni=off")),
        "{:?}",
        host_model.qemu_cpu_arg
    );
}

/// The bundle's `kvm-supported-cpuid` (KVM_GET_SUPPORTED_CPUID) shows what
/// the raw CPUID cannot: this host's KVM hides `pni` and `ssse3` (leaf 1
/// ECX bits 0 and 9), the features QEMU filtered at the real starts.
#[test]
fn the_bundle_shows_what_kvm_hides() {
    use guestcpu_core::capture::read_bundle;

    let text = fs::read_to_string(tests_dir().join("capture/bookworm.json")).expect("bundle");
    let parts = read_bundle(&text).expect("bundle");
    let leaf_1_ecx = |name: &str| {
        let part = parts
            .iter()
            .find(|part| part.name == name)
            .and_then(|part| part.text.as_deref())
            .unwrap_or_else(|| panic!("no {name} part"));
        let line = part
            .lines()
            .find(|line| line.trim_start().starts_with("0x00000001 0x00:"))
            .expect("leaf 1");
        let ecx = line.split("ecx=0x").nth(1).expect("ecx");
        u32::from_str_radix(&ecx[..8], 16).expect("hex")
    };
    let (host, kvm) = (leaf_1_ecx("cpuid"), leaf_1_ecx("kvm-supported-cpuid"));
    for bit in [0, 9] {
        assert!(
            host & (1 << bit) != 0 && kvm & (1 << bit) == 0,
            "bit {bit}: {host:#x} {kvm:#x}"
        );
    }
}

/// The evidence rules on every start the real-stack recordings hold
/// (`tests/real/<stack>/domains/*.json`, some 60 domains per stack, each
/// started once on the recording host): every QEMU warning about a feature
/// names one of libvirt's map, no two starts contradict each other, and what
/// they show agrees with QEMU's own answer on that host (`host/domcapabilities.xml`):
/// joined with it, not one conflict.
#[test]
fn the_evidence_rules_agree_with_qemus_answer_on_every_recorded_start() {
    use guestcpu_core::check::{describe_host, CheckOptions};
    use guestcpu_core::domain_log::{FeatureWarning, FilteredBy, StartLog};
    use guestcpu_core::host::parse_host;
    use guestcpu_core::libvirt::release::VersionChoice;
    use guestcpu_core::start_evidence::{gather, RunningDomain};
    use guestcpu_core::CpuMap;

    for (_, real) in STACKS {
        let folder = tests_dir().join("real").join(real);
        let (libvirt, qemu) = real
            .strip_prefix("libvirt-")
            .and_then(|rest| rest.split_once("_qemu-"))
            .expect("libvirt-X_qemu-Y");
        let choice = VersionChoice::choose(Some(libvirt.parse().expect("a known release")), None);
        let map = CpuMap::for_version(choice.version);
        // (name, definition, live <cpu>, start) of every started domain.
        let mut starts: Vec<(String, String, Option<String>, StartLog)> = Vec::new();
        let mut warned = 0;
        for entry in fs::read_dir(folder.join("domains")).expect("truths") {
            let path = entry.expect("entry").path();
            let text = fs::read_to_string(&path).expect("truth");
            let value = guestcpu_core::json::parse(&text).expect("JSON");
            let truth = value.object().expect("an object");
            if !truth
                .field("started")
                .and_then(|v| v.boolean())
                .expect("started")
            {
                continue;
            }
            let name = truth.string("domain").expect("domain");
            let warnings = truth.strings_or_empty("qemu_warnings").expect("warnings");
            for line in &warnings {
                let Some(warning) = FeatureWarning::parse(line) else {
                    continue;
                };
                if warning.by == FilteredBy::Host {
                    warned += 1;
                    let qemu_name = warning.qemu_name.expect("a named feature");
                    assert!(
                        map.feature_by_qemu_alias(qemu_name).is_some(),
                        "{real}: {name}: {line}"
                    );
                }
            }
            let definition =
                fs::read_to_string(tests_dir().join(format!("real/domains/{name}.xml")))
                    .expect("definition");
            starts.push((
                name,
                definition,
                truth.optional_string("live_cpu").expect("live_cpu"),
                StartLog {
                    cpu_arg: truth.optional_string("qemu_cpu_arg").expect("qemu_cpu_arg"),
                    warnings,
                    other_qemu_lines: Vec::new(),
                },
            ));
        }
        let running: Vec<RunningDomain<'_>> = starts
            .iter()
            .map(|(name, definition, live, start)| RunningDomain {
                name,
                definition,
                live_cpu: live.as_deref(),
                start: Some(start),
            })
            .collect();
        let (evidence, unread) = gather(map, &running);
        assert!(unread.is_empty(), "{real}: {unread:#?}");
        let settled = evidence.settle();
        println!(
            "{real}: {} starts, {warned} warnings of KVM's: {}",
            starts.len(),
            evidence.summary(map)
        );
        assert!(
            settled.disputed.is_empty(),
            "{real}: {}",
            evidence.summary(map)
        );
        assert!(
            !settled.withheld.is_empty() && !settled.offered.is_empty(),
            "{real}"
        );
        let domcapabilities =
            fs::read_to_string(folder.join("host/domcapabilities.xml")).expect("domcapabilities");
        let host = parse_host(map, &domcapabilities)
            .expect("domcapabilities")
            .with_kvm_evidence("the recorded starts", evidence);
        let options = CheckOptions {
            qemu_version: Some(qemu.parse().expect("a QEMU release")),
            qemu_inferred_from: None,
            accelerator: None,
            libvirt: Some(choice),
        };
        let notes = describe_host(map, &host, &options)
            .expect("described")
            .notes;
        let conflicts: Vec<&String> = notes
            .iter()
            .filter(|note| note.starts_with("conflict"))
            .collect();
        assert!(conflicts.is_empty(), "{real}: {conflicts:#?}");
    }
}

/// What the starts tell about KVM is what QEMU's own answer would have
/// said: with the recorded report (no domcapabilities: sos's read-only
/// `virsh` is refused it), every domain gets the filtered features, `-cpu`
/// and live `<cpu>` it gets when the report carries the domcapabilities
/// `record-real` captured on the same host.
#[test]
fn with_the_starts_every_domain_is_predicted_as_qemus_answer_says() {
    type Prediction = (Vec<String>, Option<String>, Option<String>);
    fn predictions(report: &SosExamination) -> Vec<(String, Prediction)> {
        report
            .domains
            .iter()
            .map(|domain| {
                let check = domain.check.as_ref().expect("checked");
                let filtered = check.filtered.iter().map(|f| f.name.clone()).collect();
                let prediction = (filtered, check.qemu_cpu_arg.clone(), check.live_cpu.clone());
                (domain.name.clone(), prediction)
            })
            .collect()
    }
    for (stack, real) in STACKS {
        let from_starts = predictions(&examine(stack, &report_files(stack), &[]));
        let from_qemu = predictions(&examined_with_recorded_domcapabilities(stack, real));
        let differing: Vec<&str> = from_starts
            .iter()
            .zip(&from_qemu)
            .filter(|((_, starts), (_, qemu))| starts != qemu)
            .map(|((name, _), _)| name.as_str())
            .collect();
        println!(
            "{stack}: {} of {} domains predicted as with QEMU's answer",
            from_starts.len() - differing.len(),
            from_starts.len()
        );
        assert_eq!(from_starts.len(), 7, "{stack}");
        assert!(differing.is_empty(), "{stack}: {differing:?}");
    }
}
