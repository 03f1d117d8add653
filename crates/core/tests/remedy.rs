//! The remedy holds what it promises: checked again on the same host, the
//! remedied domain starts under `check='full'` with nothing filtered, needs
//! no further remedy, and differs from the input only inside `<cpu>`.
//!
//! Corpora: every domain of `tests/real/domains/` on each recorded stack's
//! QEMU answer (`tests/real/<stack>/host/qemu.json`, with that stack's
//! libvirt and QEMU versions), and libvirt's `cpu-*` domains of
//! `qemuxmlconfdata` on every cputestdata host (the QMP replies when they
//! carry QEMU's model list, else the raw `<cpudata>` dump). libvirt's cases
//! need `../shared`; they skip with a message without it (fail under CI).
//! Migration pairs (`--to`) are checked on neighbouring cputestdata hosts.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use guestcpu_core::check::{
    analyze_prepared, host_settings, CheckOptions, PreparedHost, Report, NO_REMEDY,
};
use guestcpu_core::host::{parse_host, HostInput};
use guestcpu_core::json;
use guestcpu_core::libvirt::release::VersionChoice;
use guestcpu_core::{CpuCheck, CpuMap};

fn repo_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `text` without its `<cpu>` element (and the indentation and line break
/// around it when it has a line of its own).
fn without_cpu(text: &str) -> String {
    let Some(start) = text.find("<cpu") else {
        return text.to_string();
    };
    let open_end = start + text[start..].find('>').expect("a closed <cpu> tag");
    let end = if text[..open_end].ends_with('/') {
        open_end + 1
    } else {
        let close = text[start..].find("</cpu>").expect("a </cpu>");
        start + close + "</cpu>".len()
    };
    let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    if text[line_start..start].trim().is_empty() && text[end..].starts_with('\n') {
        format!("{}{}", &text[..line_start], &text[end + 1..])
    } else {
        format!("{}{}", &text[..start], &text[end..])
    }
}

/// What a corpus found: checks made, remedies made, domains refused
/// before any start (libvirt refuses the definition itself).
#[derive(Default)]
struct Tally {
    checked: usize,
    remedied: usize,
    refused: usize,
    /// Stopped by an element outside `<cpu>`, which the remedy does not touch.
    outside_cpu: usize,
}

/// Asserts the remedy's promise for `domain_xml` on `hosts` (the first the
/// host, the second a migration target).
fn assert_remedy(
    label: &str,
    domain_xml: &str,
    hosts: &[&PreparedHost<'_>],
    options: &CheckOptions,
    tally: &mut Tally,
) {
    let report = match analyze_prepared(domain_xml, hosts[0], hosts.get(1).copied(), options) {
        Ok(report) => report,
        Err(_) => {
            tally.refused += 1;
            return;
        }
    };
    tally.checked += 1;
    let Some(remedy) = &report.remedy else {
        if let Some(reason) = report.notes.iter().find(|n| n.starts_with(NO_REMEDY)) {
            // libvirt's CPU errors all name the CPU; what stops this domain
            // lies outside <cpu> (e.g. <pvspinlock/> on a host without it).
            assert!(
                !reason[NO_REMEDY.len()..].contains("CPU"),
                "{label}: no remedy for a CPU error: {reason}"
            );
            tally.outside_cpu += 1;
            return;
        }
        assert_clean(label, &report, hosts, "the domain without a remedy");
        return;
    };
    tally.remedied += 1;
    assert!(
        !remedy.changes.is_empty() && !remedy.explanation.is_empty(),
        "{label}: a remedy says what it changed"
    );
    assert_eq!(
        without_cpu(&remedy.domain_xml),
        without_cpu(domain_xml),
        "{label}: the remedy changes only <cpu>"
    );
    for (index, host) in hosts.iter().enumerate() {
        let again = analyze_prepared(&remedy.domain_xml, host, None, options)
            .unwrap_or_else(|e| panic!("{label}: the remedy is refused on host {index}: {e}"));
        assert_clean(label, &again, &[host], &remedy.domain_xml);
        assert!(
            again.remedy.is_none(),
            "{label}: the remedied domain needs another remedy on host {index}: {:?}",
            again.remedy
        );
    }
}

fn assert_clean(label: &str, report: &Report, hosts: &[&PreparedHost<'_>], what: &str) {
    assert_eq!(
        report.check,
        CpuCheck::Full,
        "{label}: {what}\nis not check='full'"
    );
    assert!(
        report.verdicts.full.starts && report.verdicts.full.abi_stable,
        "{label}: {what}\ndoes not start cleanly under check='full' ({} host(s)): {}",
        hosts.len(),
        report.verdicts.full.message
    );
    assert!(
        report.filtered.is_empty(),
        "{label}: {what}\nfilters features"
    );
}

/// The prepared hosts of one host input, one per settings a domain asks for.
struct Hosts<'m> {
    map: &'m CpuMap,
    input: HostInput<'m>,
    prepared: Vec<PreparedHost<'m>>,
}

impl<'m> Hosts<'m> {
    fn new(map: &'m CpuMap, input: HostInput<'m>) -> Self {
        Hosts {
            map,
            input,
            prepared: Vec::new(),
        }
    }

    fn prepared_for(&mut self, domain_xml: &str, options: &CheckOptions) -> Option<usize> {
        let settings = host_settings(domain_xml, options).ok()?;
        if let Some(index) = self.prepared.iter().position(|p| p.settings() == settings) {
            return Some(index);
        }
        self.prepared
            .push(settings.prepare(self.map, &self.input).ok()?);
        Some(self.prepared.len() - 1)
    }
}

/// [`assert_remedy`] for `domain_xml` on one host input, prepared as the
/// domain asks; a domain the host cannot be prepared for counts as refused.
fn assert_remedy_on_one(
    label: &str,
    domain_xml: &str,
    hosts: &mut Hosts<'_>,
    options: &CheckOptions,
    tally: &mut Tally,
) {
    match hosts.prepared_for(domain_xml, options) {
        Some(index) => assert_remedy(label, domain_xml, &[&hosts.prepared[index]], options, tally),
        None => tally.refused += 1,
    }
}

#[test]
fn the_remedy_of_every_real_corpus_domain_starts_cleanly_on_every_recorded_stack() {
    let root = repo_dir().join("tests/real");
    let mut domains: Vec<(String, String)> = fs::read_dir(root.join("domains"))
        .expect("tests/real/domains")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "xml"))
        .map(|path| {
            (
                path.file_name()
                    .expect("a file name")
                    .to_string_lossy()
                    .to_string(),
                read(&path),
            )
        })
        .collect();
    domains.sort();
    let mut stacks: Vec<PathBuf> = fs::read_dir(&root)
        .expect("tests/real")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| path.join("stack.json").is_file())
        .collect();
    stacks.sort();
    assert!(
        !stacks.is_empty() && !domains.is_empty(),
        "tests/real has stacks and domains"
    );
    let mut tally = Tally::default();
    for stack in &stacks {
        let text = read(&stack.join("stack.json"));
        let value = json::parse(&text).expect("stack.json parses");
        let object = value.object().expect("stack.json is an object");
        let libvirt = VersionChoice::choose(
            Some(
                object
                    .string("libvirt")
                    .expect("a libvirt version")
                    .parse()
                    .expect("a libvirt release"),
            ),
            None,
        );
        let qemu = object.string("qemu").expect("a QEMU version");
        let options = CheckOptions {
            qemu_version: Some(qemu.parse().expect("a QEMU release")),
            qemu_inferred_from: None,
            accelerator: None,
            libvirt: Some(libvirt),
        };
        let map = CpuMap::for_version(libvirt.version);
        let host_text = read(&stack.join("host/qemu.json"));
        let input = parse_host(map, &host_text).expect("qemu.json parses");
        let mut hosts = Hosts::new(map, input);
        for (name, domain_xml) in &domains {
            let label = format!("{} on {}", name, stack.display());
            assert_remedy_on_one(&label, domain_xml, &mut hosts, &options, &mut tally);
        }
    }
    println!(
        "tests/real: {} checks on {} stacks, {} with a remedy, {} stopped outside <cpu>, {} refused before any start",
        tally.checked,
        stacks.len(),
        tally.remedied,
        tally.outside_cpu,
        tally.refused
    );
    assert!(tally.remedied > 0, "some real domain needs a remedy");
}

fn shared_dir() -> Option<PathBuf> {
    let dir = repo_dir().join("../shared/libvirt");
    if dir.join("qemuxmlconfdata-x86").is_dir() && dir.join("cputestdata").is_dir() {
        return Some(dir);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "../shared/libvirt is missing under CI"
    );
    None
}

/// The cputestdata hosts: QEMU's replies when they carry its model list
/// (`unavailable-features`), else the raw dump; by name.
fn cputestdata_hosts(dir: &Path) -> BTreeMap<String, String> {
    let mut hosts = BTreeMap::new();
    for entry in fs::read_dir(dir).expect("cputestdata") {
        let path = entry.expect("entry").path();
        let file = path
            .file_name()
            .expect("a file name")
            .to_string_lossy()
            .to_string();
        let Some(stem) = file.strip_prefix("x86_64-cpuid-") else {
            continue;
        };
        let (name, text) = if let Some(name) = stem.strip_suffix(".json") {
            let text = read(&path);
            if !text.contains("unavailable-features") {
                continue;
            }
            (name, text)
        } else if let Some(name) = stem.strip_suffix(".xml") {
            let derived = ["-guest", "-host", "-json", "-enabled", "-disabled"];
            let has_replies = dir.join(format!("x86_64-cpuid-{name}.json")).is_file()
                && read(&dir.join(format!("x86_64-cpuid-{name}.json")))
                    .contains("unavailable-features");
            if derived.iter().any(|d| name.ends_with(d)) || has_replies {
                continue;
            }
            (name, read(&path))
        } else {
            continue;
        };
        hosts.insert(name.to_string(), text);
    }
    hosts
}

#[test]
fn the_remedy_of_every_libvirt_cpu_domain_starts_cleanly_on_every_cputestdata_host() {
    let Some(shared) = shared_dir() else {
        println!("skipped: ../shared/libvirt is missing");
        return;
    };
    let conf = shared.join("qemuxmlconfdata-x86");
    let mut domains: Vec<(String, String)> = fs::read_dir(&conf)
        .expect("qemuxmlconfdata-x86")
        .map(|entry| entry.expect("entry").path())
        .filter_map(|path| {
            let file = path.file_name()?.to_string_lossy().to_string();
            let stem = file.strip_suffix(".xml")?;
            (stem.starts_with("cpu-") && !stem.contains('.')).then(|| (file.clone(), read(&path)))
        })
        .collect();
    domains.sort();
    let map = CpuMap::embedded();
    let options = CheckOptions::default();
    let mut all: Vec<(String, Hosts<'_>)> = cputestdata_hosts(&shared.join("cputestdata"))
        .into_iter()
        .filter_map(|(name, text)| Some((name, Hosts::new(map, parse_host(map, &text).ok()?))))
        .collect();
    assert!(all.len() > 20, "cputestdata has its hosts ({})", all.len());
    let mut tally = Tally::default();
    for (name, domain_xml) in &domains {
        for (host_name, hosts) in all.iter_mut() {
            let label = format!("{name} on {host_name}");
            assert_remedy_on_one(&label, domain_xml, hosts, &options, &mut tally);
        }
    }
    println!(
        "libvirt cpu-* domains: {} checks ({} domains on {} hosts), {} with a remedy, {} stopped outside <cpu>, {} refused before any start",
        tally.checked,
        domains.len(),
        all.len(),
        tally.remedied,
        tally.outside_cpu,
        tally.refused
    );
    assert!(tally.remedied > 0, "some libvirt domain needs a remedy");

    // Migration: each host to the next one by name, both under the remedy.
    let mut pairs = Tally::default();
    for (name, domain_xml) in &domains {
        for pair in 0..all.len().saturating_sub(1) {
            let (Some(a), Some(b)) = (
                all[pair].1.prepared_for(domain_xml, &options),
                all[pair + 1].1.prepared_for(domain_xml, &options),
            ) else {
                pairs.refused += 1;
                continue;
            };
            let label = format!("{name} from {} to {}", all[pair].0, all[pair + 1].0);
            let source = &all[pair].1.prepared[a];
            let target = &all[pair + 1].1.prepared[b];
            assert_remedy(&label, domain_xml, &[source, target], &options, &mut pairs);
        }
    }
    println!(
        "libvirt cpu-* domains, migration to the next host: {} checks, {} with a remedy, {} stopped outside <cpu>, {} refused",
        pairs.checked, pairs.remedied, pairs.outside_cpu, pairs.refused
    );
}

/// Two hosts whose host-models list `vmx-*` capabilities: the remedy of a
/// host-model domain for both is their baseline, and keeps the capabilities
/// both give, which decide whether a nested-virtualization guest migrates.
#[test]
fn the_remedy_of_a_host_model_domain_on_two_hosts_keeps_their_shared_vmx_capabilities() {
    let Some(shared) = shared_dir() else {
        println!("skipped: ../shared/libvirt is missing");
        return;
    };
    let map = CpuMap::embedded();
    let read_host = |name: &str| {
        let path = shared.join(format!("cputestdata/x86_64-cpuid-{name}.json"));
        parse_host(map, &read(&path)).expect("QMP replies parse")
    };
    let domain = read(&repo_dir().join("tests/real/domains/host-model.xml"));
    let options = CheckOptions::default();
    let settings = host_settings(&domain, &options).expect("settings");
    let source = settings
        .prepare(map, &read_host("Cooperlake"))
        .expect("host");
    let target = settings
        .prepare(map, &read_host("Core-i7-8550U"))
        .expect("host");
    let mut tally = Tally::default();
    assert_remedy(
        "host-model",
        &domain,
        &[&source, &target],
        &options,
        &mut tally,
    );
    let report = analyze_prepared(&domain, &source, Some(&target), &options).expect("report");
    let remedy = report.remedy.expect("a remedy");
    assert!(
        remedy.changes[0].contains("the baseline every host can give")
            && remedy.changes[0].contains("`vmx-*` capabilities"),
        "{:?}",
        remedy.changes
    );
    assert!(
        remedy.domain_xml.contains("name='vmx-ept'"),
        "{}",
        remedy.domain_xml
    );
}
