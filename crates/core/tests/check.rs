//! Scenario tests of the check (`check::analyze`), written from libvirt's rules
//! (spec sections 5, 6, 9 and 10): each CPU mode under each `check` value, each
//! feature policy, a model that asks more than the host has, migration, and
//! agreement with QEMU's own `unavailable-features` where a dump carries them.
//!
//! Hosts are synthesized from libvirt model definitions, so these tests need
//! nothing outside the repository, except the last one (which skips without
//! `../shared`).

use guestcpu_core::check::{
    analyze, analyze_prepared, host_settings, CheckError, CheckOptions, Report,
};
use guestcpu_core::domain::Accelerator;
use guestcpu_core::dump::synthetic::synthesize_cpudata_xml;
use guestcpu_core::host::{parse_host, HostInput};
use guestcpu_core::libvirt::release::{LibvirtVersion, VersionChoice, VersionSource};
use guestcpu_core::version::QemuRelease;
use guestcpu_core::{CpuCheck, CpuMap};

use crate::shared;

/// A host with `model`'s features, `extra` and `vme`, which every CPU that
/// runs KVM has (libvirt's older models lack it; QEMU's definitions have it).
fn host(model: &str, extra: &[&str]) -> HostInput<'static> {
    let map = CpuMap::embedded();
    let extra: Vec<&str> = extra.iter().copied().chain(["vme"]).collect();
    let text = synthesize_cpudata_xml(map, model, &extra).expect("known model");
    parse_host(map, &text).expect("synthesized dump parses")
}

fn check(domain: &str, host: &HostInput<'_>) -> Report {
    check_with(domain, host, None, &CheckOptions::default())
}

fn check_with(
    domain: &str,
    host: &HostInput<'_>,
    target: Option<&HostInput<'_>>,
    options: &CheckOptions,
) -> Report {
    let map = CpuMap::embedded();
    let report =
        analyze(map, domain, host, target, options).unwrap_or_else(|e| panic!("{domain}: {e}"));
    // Every scenario also checks that a prepared host answers the same.
    let settings = host_settings(domain, options).expect("settings");
    let prepared = settings.prepare(map, host).expect("prepares");
    let prepared_target = target.map(|t| settings.prepare(map, t).expect("prepares"));
    for _ in 0..2 {
        let again = analyze_prepared(domain, &prepared, prepared_target.as_ref(), options)
            .unwrap_or_else(|e| panic!("{domain}: {e}"));
        assert_eq!(again, report, "prepared host answers differently: {domain}");
    }
    report
}

#[test]
fn a_host_prepared_for_other_settings_is_refused() {
    let map = CpuMap::embedded();
    let host = sandybridge_host();
    let kvm = domain("kvm", "<cpu mode='host-model'/>");
    let tcg = domain("qemu", "<cpu mode='host-model'/>");
    let options = CheckOptions::default();
    let prepared = host_settings(&kvm, &options)
        .and_then(|settings| settings.prepare(map, &host))
        .expect("prepares");
    assert_eq!(prepared.accelerator(), Accelerator::Kvm);
    match analyze_prepared(&tcg, &prepared, None, &options) {
        Err(CheckError::Mismatch(message)) => {
            assert!(message.contains("prepared for kvm"), "{message}");
            assert!(message.contains("asks for tcg"), "{message}");
        }
        other => panic!("expected a mismatch, got {other:?}"),
    }
    // The same domain with the accelerator given as an option matches.
    let as_kvm = CheckOptions {
        accelerator: Some(Accelerator::Kvm),
        ..CheckOptions::default()
    };
    assert!(analyze_prepared(&tcg, &prepared, None, &as_kvm).is_ok());
}

fn domain(kind: &str, cpu: &str) -> String {
    format!("<domain type='{kind}'>\n  <name>t</name>\n  <os>\n    <type arch='x86_64' machine='pc-q35-10.0'>hvm</type>\n  </os>\n  {cpu}\n</domain>\n")
}

fn filtered_names(report: &Report) -> Vec<&str> {
    report.filtered.iter().map(|f| f.name.as_str()).collect()
}

/// A host with everything QEMU's SandyBridge needs under KVM.
fn sandybridge_host() -> HostInput<'static> {
    host(
        "SandyBridge",
        &["vmx", "ss", "pdcm", "osxsave", "f16c", "arat", "xsaveopt"],
    )
}

#[test]
fn custom_model_on_a_host_that_has_it_starts_under_every_check() {
    let report = check(
        &domain(
            "kvm",
            "<cpu mode='custom' match='exact'><model fallback='forbid'>SandyBridge</model></cpu>",
        ),
        &sandybridge_host(),
    );
    assert_eq!(
        report.check,
        CpuCheck::Partial,
        "libvirt's default for custom KVM CPUs"
    );
    assert!(
        report.verdicts.partial.own && report.verdicts.partial.starts,
        "{:?}",
        report.verdicts.partial
    );
    assert!(report.verdicts.none.starts);
    assert!(report.filtered.is_empty(), "{:?}", report.filtered);
    assert!(report
        .qemu_cpu_arg
        .as_deref()
        .is_some_and(|a| a.starts_with("SandyBridge")));
    let live = report.live_xml.expect("it starts");
    assert!(
        live.contains("check='full'"),
        "the live definition moves to check='full':\n{live}"
    );
    assert!(
        live.contains("<name>t</name>"),
        "the rest of the domain is kept:\n{live}"
    );
}

#[test]
fn a_model_asking_more_than_the_host_has_is_filtered_or_refused() {
    // SandyBridge on an Atom (n270).
    let atom = host("n270", &[]);
    let report = check(
        &domain(
            "kvm",
            "<cpu mode='custom' match='exact'><model fallback='forbid'>SandyBridge</model></cpu>",
        ),
        &atom,
    );
    let filtered = filtered_names(&report);
    for feature in ["avx", "aes", "sse4.2", "popcnt", "x2apic"] {
        if feature == "x2apic" {
            assert!(!filtered.contains(&feature), "KVM emulates x2apic");
        } else {
            assert!(
                filtered.contains(&feature),
                "{feature} missing from {filtered:?}"
            );
        }
    }
    let none = &report.verdicts.none;
    assert!(none.starts && !none.abi_stable, "{none:?}");
    let partial = &report.verdicts.partial;
    assert!(!partial.starts);
    assert!(
        partial.message.starts_with(
            "the CPU is incompatible with host CPU: Host CPU does not provide required features: "
        ),
        "{}",
        partial.message
    );
    let full = &report.verdicts.full;
    assert!(!full.starts);
    assert!(
        full.message
            .starts_with("operation failed: guest CPU doesn't match specification: "),
        "{}",
        full.message
    );
    assert!(
        full.message.contains("missing features: "),
        "{}",
        full.message
    );
    let warning = &report
        .filtered
        .iter()
        .find(|f| f.name == "avx")
        .expect("avx")
        .qemu_warning;
    assert_eq!(
        warning,
        "warning: host doesn't support requested feature: CPUID.01H:ECX.avx [bit 28]"
    );
}

#[test]
fn check_none_records_filtered_features_as_disabled_in_the_live_xml() {
    let atom = host("n270", &[]);
    let report = check(&domain("kvm", "<cpu mode='custom' match='exact' check='none'><model fallback='forbid'>SandyBridge</model></cpu>"), &atom);
    assert!(report.verdicts.none.own);
    let live = report.live_xml.expect("check='none' starts");
    assert!(
        live.contains("<feature policy='disable' name='avx'/>"),
        "{live}"
    );
    assert!(live.contains("check='full'"), "{live}");
}

#[test]
fn forbid_policy_refuses_a_host_that_has_the_feature_unless_check_is_none() {
    let report = check(
        &domain("kvm", "<cpu mode='custom' match='exact'><model fallback='forbid'>SandyBridge</model><feature policy='forbid' name='vmx'/></cpu>"),
        &sandybridge_host(),
    );
    let expected =
        "the CPU is incompatible with host CPU: Host CPU provides forbidden feature 'vmx'";
    assert_eq!(report.verdicts.partial.message, expected);
    assert_eq!(report.verdicts.full.message, expected);
    assert!(report.verdicts.none.starts);
}

#[test]
fn require_disable_and_optional_policies() {
    let cpu = "<cpu mode='custom' match='exact'><model fallback='forbid'>SandyBridge</model>\
               <feature policy='require' name='avx2'/><feature policy='disable' name='aes'/>\
               <feature policy='optional' name='rdrand'/><feature policy='optional' name='vmx'/></cpu>";
    let report = check(&domain("kvm", cpu), &sandybridge_host());
    assert_eq!(
        report.verdicts.partial.message,
        "the CPU is incompatible with host CPU: Host CPU does not provide required features: avx2"
    );
    assert_eq!(filtered_names(&report), ["avx2"]);
    let arg = report.qemu_cpu_arg.expect("an argument");
    // Optional features are resolved against the host: vmx is there, rdrand is not.
    assert!(
        arg.contains(",avx2=on")
            && arg.contains(",aes=off")
            && arg.contains(",vmx=on")
            && arg.contains(",rdrand=off"),
        "{arg}"
    );
}

#[test]
fn strict_match_refuses_extra_host_features_under_partial() {
    // A feature keeps the partial check from its shortcut for usable models
    // whose features are all disabled.
    let report = check(
        &domain("kvm", "<cpu mode='custom' match='strict'><model fallback='forbid'>SandyBridge</model><feature policy='require' name='aes'/></cpu>"),
        &sandybridge_host(),
    );
    assert!(
        report.verdicts.partial.message.starts_with("the CPU is incompatible with host CPU: Host CPU does not strictly match guest CPU: Extra features: "),
        "{}",
        report.verdicts.partial.message
    );
}

#[test]
fn host_model_becomes_the_hosts_cpu_and_starts() {
    let report = check(
        &domain("kvm", "<cpu mode='host-model'/>"),
        &sandybridge_host(),
    );
    assert_eq!(report.check, CpuCheck::Partial);
    assert!(
        report.verdicts.partial.starts,
        "{:?}",
        report.verdicts.partial
    );
    assert!(report.filtered.is_empty(), "{:?}", report.filtered);
    let live = report.live_xml.expect("starts");
    assert!(
        live.contains("mode='custom'") && live.contains("check='full'"),
        "{live}"
    );
    assert!(
        report
            .host
            .host_model
            .as_deref()
            .is_some_and(|m| m.starts_with("SandyBridge")),
        "{:?}",
        report.host.host_model
    );
}

#[test]
fn host_passthrough_defaults_to_check_none_and_is_refused_under_tcg() {
    let kvm = check(
        &domain("kvm", "<cpu mode='host-passthrough'/>"),
        &sandybridge_host(),
    );
    assert_eq!(kvm.check, CpuCheck::None);
    assert!(kvm.verdicts.none.starts && kvm.verdicts.none.abi_stable);
    assert_eq!(kvm.qemu_cpu_arg.as_deref(), Some("host,migratable=on"));
    let tcg = check(
        &domain("qemu", "<cpu mode='host-passthrough'/>"),
        &sandybridge_host(),
    );
    assert_eq!(
        tcg.verdicts.none.message,
        "unsupported configuration: CPU mode 'host-passthrough' for x86_64 qemu domain on x86_64 host is not supported by hypervisor"
    );
}

#[test]
fn tcg_filters_what_it_cannot_emulate_whatever_the_host() {
    let options = CheckOptions {
        qemu_version: Some(QemuRelease::new(7, 2)),
        qemu_inferred_from: None,
        accelerator: Some(Accelerator::Tcg),
        libvirt: None,
    };
    let report = check_with(
        &domain(
            "qemu",
            "<cpu mode='custom' match='exact'><model fallback='forbid'>Haswell</model></cpu>",
        ),
        &host("Haswell", &[]),
        None,
        &options,
    );
    assert_eq!(
        report.check,
        CpuCheck::None,
        "libvirt's default for custom TCG CPUs"
    );
    let filtered = filtered_names(&report);
    assert!(
        filtered.contains(&"pcid") && filtered.contains(&"tsc-deadline"),
        "{filtered:?}"
    );
    assert!(report.filtered.iter().all(|f| f
        .qemu_warning
        .starts_with("warning: TCG doesn't support requested feature")));
}

#[test]
fn no_cpu_element_gets_qemu64_with_check_none() {
    let report = check(
        "<domain type='kvm'><name>t</name></domain>",
        &sandybridge_host(),
    );
    assert_eq!(report.check, CpuCheck::None);
    assert_eq!(report.settings.model.as_deref(), Some("qemu64"));
    assert_eq!(report.qemu_cpu_arg.as_deref(), Some("qemu64"));
}

#[test]
fn domain_elements_reach_the_argument_unquoted_and_the_settings() {
    let isapc = check(
        "<domain type='qemu'><name>t</name><os><type arch='x86_64' machine='isapc'>hvm</type></os></domain>",
        &sandybridge_host(),
    );
    assert_eq!(isapc.qemu_cpu_arg.as_deref(), Some("486"));
    assert!(isapc.settings.defaults_applied[0]
        .starts_with("model 486: QEMU's default CPU type for machine type 'isapc'"));
    let report = check(
        "<domain type='kvm'><name>t</name>\
         <features><pmu/><hyperv><relaxed state='on'/></hyperv>\
         <kvm><dirty-ring state='on' size='4096'/></kvm></features>\
         <cpu check='none'><model vendor_id='Libvirt QEMU'>Westmere</model></cpu>\
         <devices><panic model='hyperv'/></devices></domain>",
        &sandybridge_host(),
    );
    assert_eq!(
        report.qemu_cpu_arg.as_deref(),
        Some("Westmere,vendor=Libvirt QEMU,hv-relaxed=on,hv-crash,pmu=on")
    );
    let flags: Vec<(&str, &str)> = report
        .settings
        .cpu_flags
        .iter()
        .map(|f| (f.element.as_str(), f.qemu.as_str()))
        .collect();
    assert_eq!(
        flags,
        [
            ("<hyperv><relaxed>", "hv-relaxed=on"),
            ("<panic model='hyperv'/>", "hv-crash"),
            ("<pmu state='on'/>", "pmu=on"),
        ]
    );
    assert_eq!(
        report.settings.outside_cpu_arg[0].qemu,
        "-accel kvm,dirty-ring-size=4096 (not -cpu)"
    );
}

#[test]
fn migration_to_a_host_lacking_features_fails_with_libvirts_message() {
    let target = host("Westmere", &["vmx"]);
    let report = check_with(
        &domain("kvm", "<cpu mode='host-model'/>"),
        &sandybridge_host(),
        Some(&target),
        &CheckOptions::default(),
    );
    let migration = report.migration.expect("a target was given");
    assert!(!migration.starts);
    assert!(
        migration.message.starts_with(
            "operation failed: guest CPU doesn't match specification: missing features: "
        ),
        "{}",
        migration.message
    );
    let same = check_with(
        &domain("kvm", "<cpu mode='host-model'/>"),
        &sandybridge_host(),
        Some(&sandybridge_host()),
        &CheckOptions::default(),
    );
    assert!(same.migration.expect("target").starts);
}

#[test]
fn the_qemu_version_comes_from_the_machine_type() {
    let report = check(
        &domain("kvm", "<cpu mode='host-model'/>").replace("pc-q35-10.0", "pc-i440fx-7.2"),
        &sandybridge_host(),
    );
    assert_eq!(
        (
            report.settings.qemu_version.as_str(),
            report.settings.qemu_version_source.as_str()
        ),
        ("7.2", "machine")
    );
}

/// Needs `../shared`: where a dump carries QEMU's own `query-cpu-definitions`,
/// the filtered features of a bare model are exactly its `unavailable-features`
/// (less the features libvirt itself turns off).
#[test]
fn filtered_features_agree_with_qemus_unavailable_features() {
    let Some(dir) = shared::libvirt_dir(
        "cputestdata",
        "filtered_features_agree_with_qemus_unavailable_features",
    ) else {
        return;
    };
    let map = CpuMap::embedded();
    let mut compared = 0;
    for entry in std::fs::read_dir(&dir).expect("readable") {
        let path = entry.expect("entry").path();
        let is_qmp = path.extension().is_some_and(|e| e == "json");
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        if !is_qmp || !text.contains("unavailable-features") {
            continue;
        }
        let input = parse_host(map, &text).expect("QMP replies parse");
        let models = input.hypervisor_models().expect("definitions");
        for model in models
            .iter()
            .filter(|m| map.model_id(&m.name).is_some())
            .step_by(7)
        {
            let cpu = format!("<cpu mode='custom' match='exact' check='none'><model fallback='forbid'>{}</model></cpu>", model.name);
            let report = check(&domain("kvm", &cpu), &input);
            let mut filtered: Vec<String> =
                report.filtered.iter().map(|f| f.name.clone()).collect();
            filtered.sort();
            // libvirt turns the model's removed features off explicitly, so
            // QEMU has nothing to filter there.
            let removed = &map.model(map.model_id(&model.name).expect("known")).removed;
            let mut expected: Vec<String> = model
                .blockers
                .names(map)
                .into_iter()
                .filter(|b| map.feature_id(b).is_some_and(|id| !removed.contains(&id)))
                .collect();
            // QEMU's list may name a feature twice (older QEMUs repeat the
            // features others depend on).
            expected.sort();
            expected.dedup();
            assert_eq!(filtered, expected, "{} on {}", model.name, path.display());
            compared += 1;
        }
    }
    assert!(compared > 50, "only {compared} models compared");
}

#[test]
fn a_host_cpu_definition_is_a_host_too() {
    let map = CpuMap::embedded();
    let penryn = "<cpu>\n  <arch>x86_64</arch>\n  <model>Penryn</model>\n  <vendor>Intel</vendor>\n  <feature name='vmx'/>\n</cpu>\n";
    let host = parse_host(map, penryn).expect("a host <cpu> parses");
    let report = check(
        &domain(
            "kvm",
            "<cpu mode='custom' match='exact'><model fallback='forbid'>Nehalem</model></cpu>",
        ),
        &host,
    );
    assert_eq!(
        report.verdicts.partial.message,
        "the CPU is incompatible with host CPU: Host CPU does not provide required features: sse4.2, popcnt"
    );
    assert!(report.verdicts.none.starts);
    assert_eq!(report.host.host_cpu_model.as_deref(), Some("Penryn"));
}

/// QMP replies of a Penryn-class host (the expansion of `host`, then
/// `query-cpu-definitions` with `definitions` as its entries), as libvirt's
/// cputestdata `NAME.json` holds them.
fn penryn_qmp(extra_props: &str, definitions: &str) -> String {
    format!(
        r#"{{"return": {{"model": {{"name": "base", "props": {{
  "vendor": "GenuineIntel", "family": 6, "model": 23, "stepping": 6,
  "fpu": true, "vme": true, "de": true, "pse": true, "tsc": true, "msr": true,
  "pae": true, "mce": true, "cx8": true, "apic": true, "sep": true, "mtrr": true,
  "pge": true, "mca": true, "cmov": true, "pat": true, "pse36": true,
  "clflush": true, "mmx": true, "fxsr": true, "sse": true, "sse2": true,
  "pni": true, "ssse3": true, "cx16": true, "sse4.1": true, "vmx": true,
  "syscall": true, "nx": true, "lm": true, "lahf-lm": true, "hypervisor": true,
  {extra_props} "sse4.2": false, "popcnt": false}}}}}}, "id": "model-expansion"}}
{{"return": [{definitions}], "id": "definitions"}}
"#
    )
}

const PENRYN_DEFINITIONS: &str = r#"
  {"name": "Penryn", "typename": "Penryn-x86_64-cpu", "unavailable-features": []},
  {"name": "Nehalem", "typename": "Nehalem-x86_64-cpu", "unavailable-features": ["sse4.2", "popcnt"]},
  {"name": "Nehalem-v1", "typename": "Nehalem-v1-x86_64-cpu", "unavailable-features": ["sse4.2", "popcnt"]}"#;

#[test]
fn a_forbidden_feature_of_the_hosts_model_is_refused_from_qemus_replies() {
    // libvirt's full host CPU lists every feature of QEMU's expanded
    // host-model (virQEMUCapsInitHostCPUModel), `sse2` included, and falls
    // back to that host-model when it has no raw CPUID of its own.
    let map = CpuMap::embedded();
    let host = parse_host(map, &penryn_qmp("", PENRYN_DEFINITIONS)).expect("QMP replies parse");
    let report = check(
        &domain("kvm", "<cpu mode='custom' match='exact'><model fallback='forbid'>Penryn</model><feature policy='forbid' name='sse2'/></cpu>"),
        &host,
    );
    let expected =
        "the CPU is incompatible with host CPU: Host CPU provides forbidden feature 'sse2'";
    assert_eq!(report.verdicts.partial.message, expected);
    assert_eq!(report.verdicts.full.message, expected);
    assert!(report.verdicts.none.starts);
}

#[test]
fn the_blockers_comparison_names_qemus_blockers_in_qemus_order() {
    // `Nehalem-v1` has no `<check partial='compat'/>`, so check='partial'
    // goes through virCPUCompareUnusable with QEMU's list as QEMU gave it
    // (CPUID order: sse4.2 is ECX bit 20, popcnt bit 23), not sorted.
    let map = CpuMap::embedded();
    let host = parse_host(map, &penryn_qmp("", PENRYN_DEFINITIONS)).expect("QMP replies parse");
    let report = check(
        &domain("kvm", "<cpu mode='custom' match='exact' check='partial'><model fallback='forbid'>Nehalem-v1</model></cpu>"),
        &host,
    );
    assert_eq!(
        report.verdicts.partial.message,
        "the CPU is incompatible with host CPU: Host CPU does not provide required features: sse4.2, popcnt"
    );
    // Listings sort them, as domain capabilities do.
    let listed = report
        .models
        .iter()
        .find(|m| m.name == "Nehalem-v1")
        .expect("listed");
    assert_eq!(listed.blockers, ["popcnt", "sse4.2"]);
}

#[test]
fn host_model_keeps_what_qemu_calls_migratable_and_drops_invtsc() {
    // libvirt's map marks xsaves migratable='no', but with QEMU's answer
    // libvirt decodes QEMU's migratable expansion, where only invtsc is left
    // out (QEMU's unmigratable_flags).
    let map = CpuMap::embedded();
    let replies = penryn_qmp(
        r#""xsave": true, "xsavec": true, "xsaves": true, "invtsc": true,"#,
        PENRYN_DEFINITIONS,
    );
    let host = parse_host(map, &replies).expect("QMP replies parse");
    let report = check(&domain("kvm", "<cpu mode='host-model'/>"), &host);
    let cpu_arg = report.qemu_cpu_arg.expect("host-model starts");
    assert!(cpu_arg.contains("xsaves=on"), "{cpu_arg}");
    assert!(!cpu_arg.contains("invtsc"), "{cpu_arg}");
}

#[test]
fn domain_capabilities_give_their_host_model_and_qemus_answer() {
    let map = CpuMap::embedded();
    let domcaps = "<domainCapabilities>\n  <arch>x86_64</arch>\n  <cpu>\n    <mode name='host-model' supported='yes'>\n      <model fallback='forbid'>Penryn</model>\n      <vendor>Intel</vendor>\n      <feature policy='require' name='vmx'/>\n      <feature policy='require' name='hypervisor'/>\n    </mode>\n    <mode name='custom' supported='yes'>\n      <model usable='yes' vendor='Intel'>Penryn</model>\n      <model usable='no' vendor='Intel'>Nehalem-v1</model>\n      <blockers model='Nehalem-v1'>\n        <feature name='popcnt'/>\n        <feature name='sse4.2'/>\n      </blockers>\n    </mode>\n  </cpu>\n</domainCapabilities>\n";
    let host = parse_host(map, domcaps).expect("domain capabilities parse");
    let report = check(&domain("kvm", "<cpu mode='host-model'/>"), &host);
    assert_eq!(report.host.host_model.as_deref(), Some("Penryn"));
    let cpu_arg = report.qemu_cpu_arg.clone().expect("host-model starts");
    assert!(cpu_arg.starts_with("Penryn,"), "{cpu_arg}");
    assert!(cpu_arg.contains("vmx=on"), "{cpu_arg}");
    assert!(report.filtered.is_empty(), "{:?}", report.filtered);
    let nehalem = check(
        &domain("kvm", "<cpu mode='custom' match='exact' check='partial'><model fallback='forbid'>Nehalem-v1</model></cpu>"),
        &host,
    );
    // Listed by name there, named in QEMU's (CPUID) order by the check.
    assert_eq!(
        nehalem.verdicts.partial.message,
        "the CPU is incompatible with host CPU: Host CPU does not provide required features: sse4.2, popcnt"
    );
}

#[test]
fn virsh_capabilities_are_a_host_for_check_and_models() {
    let map = CpuMap::embedded();
    let capabilities = "<capabilities>\n  <host>\n    <cpu>\n      <arch>x86_64</arch>\n      <model>Penryn</model>\n      <vendor>Intel</vendor>\n      <signature family='6' model='23' stepping='6'/>\n      <feature name='vme'/>\n      <feature name='vmx'/>\n      <feature name='hypervisor'/>\n    </cpu>\n  </host>\n</capabilities>\n";
    let host = parse_host(map, capabilities).expect("capabilities parse");
    let report = check(
        &domain("kvm", "<cpu mode='custom' match='exact'><model fallback='forbid'>Penryn</model><feature policy='forbid' name='sse2'/></cpu>"),
        &host,
    );
    assert_eq!(
        report.verdicts.partial.message,
        "the CPU is incompatible with host CPU: Host CPU provides forbidden feature 'sse2'"
    );
    let described = guestcpu_core::check::describe_host(map, &host, &CheckOptions::default())
        .expect("capabilities describe a host");
    let usable = |name: &str| described.models.iter().any(|m| m.name == name && m.usable);
    assert!(usable("Penryn"));
    assert!(!usable("Nehalem"));
}

#[test]
fn host_model_under_tcg_is_qemus_max_cpu_whatever_the_host() {
    // virQEMUCapsProbeQMPHostCPU expands `max`, not `host`, for a domain
    // type that is not accelerated; `max` under TCG is AMD
    // (max_x86_cpu_initfn), so an Intel host gets an AMD host-model.
    let report = check(
        &domain("qemu", "<cpu mode='host-model'/>"),
        &sandybridge_host(),
    );
    let live = report.live_xml.expect("host-model starts under TCG");
    assert!(live.contains("<vendor>AMD</vendor>"), "{live}");
    assert_eq!(report.host.host_model.as_deref(), Some("EPYC"));
}

#[test]
fn libvirt_9_0_compares_every_partial_definition_with_its_full_host() {
    // libvirt 9.0's qemuProcessUpdateGuestCPU runs virCPUCompare with the
    // full host CPU (its own CPUID probe) for check='partial'; its map marks
    // no model <check partial='compat'/>, which qemuDomainCheckCPU of later
    // releases reads. Here the raw CPUID has sse4.2 and KVM hides it.
    use guestcpu_core::host::join_hosts;
    use guestcpu_core::libvirt::release::{LibvirtVersion, VersionChoice};
    let map = CpuMap::for_version(LibvirtVersion::V9_0);
    let definitions = format!(
        "{PENRYN_DEFINITIONS},\n  {{\"name\": \"486\", \"typename\": \"486-x86_64-cpu\", \"unavailable-features\": []}}"
    );
    let raw =
        synthesize_cpudata_xml(map, "Nehalem", &["vme", "vmx", "hypervisor"]).expect("known model");
    let parts = vec![
        (
            "raw".to_string(),
            parse_host(map, &raw).expect("raw parses"),
        ),
        (
            "qmp".to_string(),
            parse_host(map, &penryn_qmp("", &definitions)).expect("QMP replies parse"),
        ),
    ];
    let host = join_hosts(map, parts).expect("joins");
    let options = CheckOptions {
        libvirt: Some(VersionChoice::choose(Some(LibvirtVersion::V9_0), None)),
        ..CheckOptions::default()
    };
    let domain = domain("kvm", "<cpu mode='custom' match='exact' check='partial'><model fallback='forbid'>486</model><feature policy='require' name='sse4.2'/></cpu>");
    let report = analyze(map, &domain, &host, None, &options).expect("checks");
    assert!(
        report.verdicts.partial.starts,
        "{}",
        report.verdicts.partial.message
    );
    // QEMU still filters it: the guest lacks what KVM hides.
    assert_eq!(filtered_names(&report), ["sse4.2"]);
}

#[test]
fn domain_capabilities_without_blockers_get_them_predicted() {
    // Before libvirt 10.9 domain capabilities print no <blockers>: an
    // unusable model's blockers are predicted from the host-model's features.
    let map = CpuMap::embedded();
    let domcaps = "<domainCapabilities>\n  <arch>x86_64</arch>\n  <cpu>\n    <mode name='host-model' supported='yes'>\n      <model fallback='forbid'>Penryn</model>\n      <vendor>Intel</vendor>\n      <feature policy='require' name='vme'/>\n      <feature policy='require' name='hypervisor'/>\n    </mode>\n    <mode name='custom' supported='yes'>\n      <model usable='yes' vendor='Intel'>Penryn</model>\n      <model usable='no' vendor='Intel'>Nehalem</model>\n    </mode>\n  </cpu>\n</domainCapabilities>\n";
    let host = parse_host(map, domcaps).expect("domain capabilities parse");
    let report = check(
        &domain("kvm", "<cpu mode='custom' match='exact' check='none'><model fallback='forbid'>Nehalem</model></cpu>"),
        &host,
    );
    assert_eq!(filtered_names(&report), ["sse4.2", "popcnt"]);
}

/// The issue's example: libvirt 9.0 compares a usable model with the host
/// under `check='partial'` and refuses a `<vendor>` the host lacks; 11.3
/// starts it, since QEMU calls the model usable
/// (`skips_partial_check_for_usable_models`).
#[test]
fn check_partial_of_a_usable_model_follows_the_libvirt_release() {
    let domain = domain(
        "kvm",
        "<cpu mode='custom' match='exact' check='partial'><model fallback='forbid'>qemu64</model><vendor>Intel</vendor></cpu>",
    );
    let verdict = |release: LibvirtVersion| {
        let map = CpuMap::for_version(release);
        let text = synthesize_cpudata_xml(map, "EPYC", &["vme"]).expect("known model");
        let host = parse_host(map, &text).expect("parses");
        let options = CheckOptions {
            libvirt: Some(VersionChoice {
                version: release,
                source: VersionSource::Option,
            }),
            ..CheckOptions::default()
        };
        let report = analyze(map, &domain, &host, None, &options).expect("checks");
        assert_eq!(report.settings.libvirt_version, release);
        report.verdicts.partial
    };
    let old = verdict(LibvirtVersion::V9_0);
    assert!(!old.starts);
    assert_eq!(
        old.message,
        "the CPU is incompatible with host CPU: host CPU vendor does not match required CPU vendor Intel"
    );
    assert!(verdict(LibvirtVersion::V11_3).starts);
}

/// KVM never advertises MONITOR and libvirt never passes `-overcommit
/// cpu-pm=on`, so a `monitor` the domain requires is filtered even when the
/// host's raw CPUID has it.
#[test]
fn required_monitor_is_filtered_under_kvm() {
    let report = check(
        &domain(
            "kvm",
            "<cpu mode='custom' match='exact' check='partial'><model fallback='forbid'>SandyBridge</model><feature policy='require' name='monitor'/></cpu>",
        ),
        &host("SandyBridge", &["monitor", "xsaveopt"]),
    );
    assert_eq!(filtered_names(&report), ["monitor"]);
    assert!(report.verdicts.partial.starts);
    assert!(!report.verdicts.full.starts);
}

#[test]
fn emulated_address_bits_beyond_the_hosts_are_refused() {
    // qemuValidateDomainDefCpu compares <maxphysaddr mode='emulate'> with the
    // host CPU's physical address bits (virHostCPUGetPhysAddrSize).
    let map = CpuMap::embedded();
    let capabilities = "<capabilities>\n  <host>\n    <cpu>\n      <arch>x86_64</arch>\n      <model>Penryn</model>\n      <vendor>Intel</vendor>\n      <maxphysaddr mode='emulate' bits='46'/>\n      <feature name='vme'/>\n    </cpu>\n  </host>\n</capabilities>\n";
    let host = parse_host(map, capabilities).expect("capabilities parse");
    let asking = |bits: u32| {
        check(
            &domain("kvm", &format!("<cpu mode='host-passthrough'><maxphysaddr mode='emulate' bits='{bits}'/></cpu>")),
            &host,
        )
    };
    assert_eq!(
        asking(60).verdicts.none.message,
        "unsupported configuration: The number of virtual CPU address bits cannot exceed the number supported by the host CPU"
    );
    assert!(asking(46).verdicts.none.starts);
}

#[test]
fn each_host_input_says_what_it_cannot_tell() {
    use guestcpu_core::host::join_hosts;
    let map = CpuMap::embedded();
    let raw =
        synthesize_cpudata_xml(map, "Penryn", &["vme", "vmx", "hypervisor"]).expect("known model");
    let qmp = penryn_qmp("", PENRYN_DEFINITIONS);
    let notes = |host: &HostInput<'_>| {
        check(&domain("kvm", "<cpu mode='host-model'/>"), host)
            .notes
            .join("\n")
    };
    let raw_alone = notes(&parse_host(map, &raw).expect("raw parses"));
    assert!(raw_alone.contains("give QEMU's answer too"), "{raw_alone}");
    let qmp_alone = notes(&parse_host(map, &qmp).expect("QMP replies parse"));
    assert!(
        qmp_alone.contains("give a raw CPUID dump too"),
        "{qmp_alone}"
    );
    let parts = vec![
        (
            "raw".to_string(),
            parse_host(map, &raw).expect("raw parses"),
        ),
        (
            "qmp".to_string(),
            parse_host(map, &qmp).expect("QMP replies parse"),
        ),
    ];
    let joined = notes(&join_hosts(map, parts).expect("joins"));
    assert!(!joined.contains(" too"), "{joined}");
    assert!(joined.contains("joined from raw"), "{joined}");
}

/// Host-model from a raw dump of a Snow Ridge Atom (signature 6/134), a CPU
/// whose model has newer `-vN` variants. Guest decode only tries models with
/// `<decode guest='on'/>` (`x86DecodeUseCandidate`), and every `-vN` of
/// 11.3's and 12.9's maps is `guest='off'`, so libvirt ends on `Snowridge`
/// whatever the map, the only candidate whose signature matches. QEMU's
/// `Snowridge` is `Snowridge-v1`, which has `mpx`, `core-capability` and
/// `split-lock-detect`; the ones KVM does not give become its blockers and
/// `x86DataToCPU` disables them. KVM never gives `core-capability` nor
/// `split-lock-detect`, even when the hardware reports both, and this CPU has
/// no `mpx`: three `disable`s with every libvirt release.
#[test]
fn host_model_of_a_snow_ridge_raw_dump_disables_what_qemus_snowridge_has_and_kvm_lacks() {
    let fixtures = [
        include_str!("fixtures/cpudata-snowridge-v4-bits.xml"),
        include_str!("fixtures/cpudata-snowridge-hardware.xml"),
    ];
    for (libvirt, qemu) in [("9.0", "7.2"), ("11.3", "10.0"), ("12.9", "11.1")] {
        let version = LibvirtVersion::parse(libvirt).expect("a version");
        let map = CpuMap::for_version(version);
        let options = CheckOptions {
            libvirt: Some(VersionChoice::choose(
                Some(libvirt.parse().expect("a libvirt release")),
                None,
            )),
            qemu_version: Some(qemu.parse().expect("a QEMU release")),
            ..CheckOptions::default()
        };
        for (index, text) in fixtures.iter().enumerate() {
            let host = parse_host(map, text).expect("the fixture parses");
            let domain = domain("kvm", "<cpu mode='host-model'/>");
            let report = analyze(map, &domain, &host, None, &options).expect("checks");
            let live = report.live_xml.expect("starts");
            assert!(
                live.contains("<model fallback='forbid'>Snowridge</model>"),
                "libvirt {libvirt}, fixture {index}: {live}"
            );
            let disabled: Vec<&str> = live
                .lines()
                .filter_map(|line| line.trim().strip_prefix("<feature policy='disable' name='"))
                .filter_map(|rest| rest.strip_suffix("'/>"))
                .collect();
            assert_eq!(
                disabled,
                ["mpx", "core-capability", "split-lock-detect"],
                "libvirt {libvirt}, fixture {index}"
            );
        }
    }
}

/// A Snow Ridge whose CPUID has `mpx`: KVM offers it only when
/// `kvm_mpx_supported()` (Linux arch/x86/kvm/x86.h), which needs MPX state in
/// the host's XCR0. A dump whose XSAVE area (CPUID 0xD subleaf 0 EBX) ends
/// before BNDCSR's shows it is not there: `mpx` is a blocker of QEMU's
/// `Snowridge` like the two KVM never gives, disabled in host-model, and
/// filtered from a custom `Snowridge`. A larger area proves nothing: `mpx` is
/// assumed offered, as the kernel's default is, and a note says so.
#[test]
fn host_model_of_a_snow_ridge_with_mpx_follows_what_the_dump_shows_of_xcr0() {
    let disabled_and_notes = |text: &str| {
        let map = CpuMap::embedded();
        let host = parse_host(map, text).expect("the fixture parses");
        let report = check(&domain("kvm", "<cpu mode='host-model'/>"), &host);
        let live = report.live_xml.expect("starts");
        assert!(live.contains(">Snowridge</model>"), "{live}");
        let disabled: Vec<String> = live
            .lines()
            .filter_map(|line| line.trim().strip_prefix("<feature policy='disable' name='"))
            .filter_map(|rest| rest.strip_suffix("'/>"))
            .map(String::from)
            .collect();
        (disabled, report.notes.join("\n"))
    };

    let not_in_xcr0 = include_str!("fixtures/cpudata-snowridge-mpx-not-in-xcr0.xml");
    let (disabled, notes) = disabled_and_notes(not_in_xcr0);
    assert_eq!(disabled, ["mpx", "core-capability", "split-lock-detect"]);
    assert!(!notes.contains("`mpx` is assumed offered"), "{notes}");
    let custom = domain(
        "kvm",
        "<cpu mode='custom' match='exact' check='none'><model>Snowridge</model></cpu>",
    );
    let host = parse_host(CpuMap::embedded(), not_in_xcr0).expect("the fixture parses");
    let report = check(&custom, &host);
    let mpx = report.filtered.iter().find(|f| f.name == "mpx");
    assert!(
        mpx.is_some_and(|f| f.reason.contains("not enabled MPX state in XCR0")),
        "{:?}",
        report.filtered
    );

    let (disabled, notes) =
        disabled_and_notes(include_str!("fixtures/cpudata-snowridge-mpx-in-xcr0.xml"));
    assert_eq!(disabled, ["core-capability", "split-lock-detect"]);
    assert!(notes.contains("`mpx` is assumed offered"), "{notes}");
}
