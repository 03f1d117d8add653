//! Parity with libvirt's whole x86 `tests/qemuxmlconfdata`
//! (`../shared/libvirt/qemuxmlconfdata-x86/`): for every domain whose QEMU
//! command line (`NAME.x86_64-VERSION[+VARIANT][.abi-update].args`) or error
//! (`.err`) libvirt's suite records, the `-cpu` argument the engine builds
//! must be libvirt's exactly (or exactly no `-cpu`), and a CPU error must be
//! libvirt's.
//!
//! Each case runs with the QEMU release and host libvirt's `qemuxmlconftest.c`
//! gives it: the capabilities capture `caps_VERSION_x86_64[+VARIANT].replies`
//! (`latest` is the newest one), whose `query-cpu-definitions` and host-model
//! expansion answer for QEMU under the domain's accelerator. Those cases run
//! through the check itself (`analyze_prepared` on the capture, as
//! `guestcpu check --host caps_….replies` does). The cases `qemuxmlconftest.c`
//! runs with `ARG_CAPS_HOST_CPU_MODEL, QEMU_CPU_DEF_HASWELL` get the fake
//! Haswell host of `testutilshostcpus.h`, for which libvirt has no QEMU
//! expansion and takes its own probe of the host as host-model (spec 11.2);
//! they run through libvirt's start-up steps with that host. libvirt's suite
//! builds command lines without the start-time CPU checks, so the answer is
//! the start under `check='none'`; the checks themselves are tested by the
//! scenario tests.
//!
//! Cases outside the engine's scope are counted by rule, never listed:
//! an `.err` whose message does not name the CPU (disks, NUMA, firmware …),
//! and a domain type other than `kvm`/`qemu`, which the engine refuses.
//! Needs `../shared`; skips with a message when it is absent (fails under CI).

use std::collections::BTreeMap;
use std::path::Path;

use guestcpu_core::check::defaults::{apply_defaults, default_cpu_model};
use guestcpu_core::check::start::{prepare_for_qemu, StartEnvironment, StartKind};
use guestcpu_core::check::{analyze_prepared, host_settings, CheckOptions, PreparedHost};
use guestcpu_core::data::NEVER_PASSED_TO_QEMU;
use guestcpu_core::domain::{Domain, DomainErrorKind};
use guestcpu_core::host::{parse_host, HostInput};
use guestcpu_core::libvirt::copy_migratable;
use guestcpu_core::libvirt::release::LibvirtVersion;
use guestcpu_core::{CpuCheck, CpuDef, CpuError, CpuMap};

use crate::shared;

/// The fake host CPU `QEMU_CPU_DEF_HASWELL` of libvirt's `testutilshostcpus.h`.
const FAKE_HASWELL_HOST: &str = "<cpu>
  <arch>x86_64</arch>
  <model>Haswell</model>
  <vendor>Intel</vendor>
  <feature name='vme'/><feature name='ds'/><feature name='acpi'/><feature name='ss'/>
  <feature name='ht'/><feature name='tm'/><feature name='pbe'/><feature name='dtes64'/>
  <feature name='monitor'/><feature name='ds_cpl'/><feature name='vmx'/><feature name='smx'/>
  <feature name='est'/><feature name='tm2'/><feature name='xtpr'/><feature name='pdcm'/>
  <feature name='osxsave'/><feature name='f16c'/><feature name='rdrand'/><feature name='cmt'/>
  <feature name='pdpe1gb'/><feature name='abm'/><feature name='invtsc'/><feature name='lahf_lm'/>
</cpu>";

/// The `-cpu` parity figures the README states: cases whose `-cpu` is
/// libvirt's exactly, CPU errors that are libvirt's exactly, and the cases
/// out of scope under each rule.
const EXPECTED_EXACT_ARGS: usize = 830;
const EXPECTED_EXACT_ERRORS: usize = 5;
const EXPECTED_OUT_OF_SCOPE: [(Rule, usize); 2] = [
    (Rule::ErrorNotAboutCpu, 169),
    (Rule::DomainTypeNotKvmOrQemu, 1),
];

/// Why a case is outside what the engine answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Rule {
    /// libvirt's error is about something other than the CPU: its message
    /// does not name the CPU (libvirt's CPU errors all say `CPU`).
    ErrorNotAboutCpu,
    /// The engine models KVM and TCG guests only (`hvf`, `xen`, … refused).
    DomainTypeNotKvmOrQemu,
}

/// One case: a domain and the output libvirt records for one QEMU release.
struct Case {
    name: String,
    /// The capture's file stem, e.g. `caps_10.0.0_x86_64+amdsev`.
    caps: String,
    /// Its QEMU release as `MAJOR.MINOR`, e.g. `10.0`.
    qemu_version: String,
    expected: Expected,
}

/// libvirt's expectation for one case: the `-cpu` value, none, or an error.
#[derive(Debug, PartialEq, Eq)]
enum Expected {
    CpuArg(Option<String>),
    Error(String),
}

/// The `-cpu` value of a libvirt `.args` file, without its shell quoting.
fn cpu_of_args(args: &str) -> Option<String> {
    args.lines()
        .find_map(|line| line.strip_prefix("-cpu "))
        .map(|value| {
            let value = value.trim_end_matches(" \\").trim();
            value.trim_matches('\'').to_string()
        })
}

/// Every case of the folder, with the capture its QEMU release names.
fn cases(dir: &Path, captures: &[(Vec<u32>, String, String)]) -> Vec<Case> {
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .expect("readable folder")
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .collect();
    files.sort();
    let mut cases = Vec::new();
    for file in files {
        let Some((stem, kind)) = file
            .strip_suffix(".args")
            .map(|s| (s, "args"))
            .or_else(|| file.strip_suffix(".err").map(|s| (s, "err")))
        else {
            continue;
        };
        let Some((name, release)) = stem.split_once(".x86_64-") else {
            continue;
        };
        let release = release.strip_suffix(".abi-update").unwrap_or(release);
        let (version, variant) = match release.split_once('+') {
            Some((version, variant)) => (version, format!("+{variant}")),
            None => (release, String::new()),
        };
        let caps = if version == "latest" {
            captures
                .iter()
                .filter(|(_, v, _)| *v == variant)
                .max_by(|a, b| a.0.cmp(&b.0))
                .map(|(_, _, stem)| stem.clone())
        } else {
            Some(format!("caps_{version}_x86_64{variant}"))
        };
        let caps = caps.unwrap_or_else(|| panic!("{file}: no capture for {release}"));
        let qemu_version = caps
            .strip_prefix("caps_")
            .and_then(|r| r.split('.').take(2).collect::<Vec<_>>().join(".").into())
            .expect("caps_MAJOR.MINOR");
        let text = std::fs::read_to_string(dir.join(&file)).expect("readable case");
        let expected = match kind {
            "err" => Expected::Error(text.trim().to_string()),
            _ => Expected::CpuArg(cpu_of_args(&text)),
        };
        cases.push(Case {
            name: name.to_string(),
            caps,
            qemu_version,
            expected,
        });
    }
    cases
}

/// The captures `caps_VERSION_x86_64[+VARIANT].replies`: version numbers,
/// variant (`+amdsev` or empty) and file stem.
fn captures(dir: &Path) -> Vec<(Vec<u32>, String, String)> {
    std::fs::read_dir(dir)
        .expect("readable folder")
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter_map(|file| {
            let stem = file.strip_suffix(".replies")?;
            let release = stem.strip_prefix("caps_")?;
            let (version, rest) = release.split_once("_x86_64")?;
            let numbers = version
                .split('.')
                .map(|n| n.parse().ok())
                .collect::<Option<Vec<u32>>>()?;
            Some((numbers, rest.to_string(), stem.to_string()))
        })
        .collect()
}

/// The cases `qemuxmlconftest.c` runs on the fake Haswell host.
fn haswell_cases(test_source: &str) -> Vec<String> {
    test_source
        .lines()
        .filter(|line| line.contains("QEMU_CPU_DEF_HASWELL"))
        .filter_map(|line| line.split('"').nth(1).map(str::to_string))
        .collect()
}

/// The host a case runs on, as libvirt's QEMU driver sees it.
struct TestHost {
    full_host: Option<CpuDef>,
    host_model: Option<CpuDef>,
    migratable_host_model: Option<CpuDef>,
    models: Vec<guestcpu_core::libvirt::HypervisorModel>,
    known: Option<guestcpu_core::FeatureSet>,
}

impl TestHost {
    /// The fake Haswell host, with the capture's model list: libvirt probes
    /// the host itself for host-model (spec 8.2, no QEMU expansion).
    fn fake_haswell(map: &CpuMap, capture: &HostInput<'_>) -> TestHost {
        let host = CpuDef::parse(FAKE_HASWELL_HOST).expect("fake host");
        let mut host_model = host.clone();
        host_model
            .features
            .retain(|f| !NEVER_PASSED_TO_QEMU.contains(&f.name.as_str()));
        TestHost {
            migratable_host_model: Some(copy_migratable(map, &host_model)),
            host_model: Some(host_model),
            full_host: Some(host),
            models: capture.hypervisor_models().unwrap_or_default(),
            known: capture.qemu_known_features(),
        }
    }
}

/// What `guestcpu check` answers for a domain on a capture's host: the
/// `-cpu` argument libvirt builds, or, when it builds none, the error of the
/// start under `check='none'`. (The checks after QEMU has started, such as
/// paravirtual spinlocks under TCG, are not part of the command line.)
fn check_answer(domain_xml: &str, host: &PreparedHost<'_>, options: &CheckOptions) -> Expected {
    match analyze_prepared(domain_xml, host, None, options) {
        Ok(report) => match report.qemu_cpu_arg {
            Some(arg) => Expected::CpuArg(Some(arg)),
            None if report.verdicts.none.starts => Expected::CpuArg(None),
            None => Expected::Error(report.verdicts.none.message),
        },
        Err(error) => Expected::Error(error.to_string()),
    }
}

/// What libvirt's start-up steps give for one domain on the fake host, where
/// libvirt has no QEMU expansion and probes the host itself.
fn fake_host_answer(map: &CpuMap, domain: &Domain, host: &TestHost) -> Expected {
    let mut cpu = domain.cpu.clone();
    apply_defaults(
        &mut cpu,
        domain.accelerator,
        default_cpu_model(domain.machine.as_deref()),
    );
    cpu.check = Some(CpuCheck::None);
    let no_build = |_: &CpuDef| Err(CpuError::internal("not built in this test"));
    let env = StartEnvironment {
        map,
        // libvirt's qemuxmlconfdata is 11.3's test suite.
        libvirt: LibvirtVersion::V11_3,
        accelerator: domain.accelerator,
        arch: &domain.arch,
        flags: &domain.flags,
        full_host: host.full_host.as_ref(),
        full_host_data: None,
        reported_host_model: host.host_model.as_ref(),
        migratable_host_model: host.migratable_host_model.as_ref(),
        hypervisor_models: &host.models,
        qemu_known_features: host.known.as_ref(),
        host_physical_address_bits: None,
        build_guest: &no_build,
    };
    match prepare_for_qemu(&env, &cpu, StartKind::New) {
        Ok((_, arg)) => Expected::CpuArg(arg),
        Err(error) => Expected::Error(error.to_string()),
    }
}

#[test]
fn qemu_cpu_argument_parity() {
    let Some(dir) = shared::libvirt_dir("qemuxmlconfdata-x86", "qemu_cpu_argument_parity") else {
        return;
    };
    let caps_dir = dir.with_file_name("qemucapabilitiesdata");
    let map = CpuMap::embedded();
    let test_source =
        std::fs::read_to_string(dir.join("qemuxmlconftest.c")).expect("qemuxmlconftest.c");
    let haswell = haswell_cases(&test_source);
    let captures = captures(&caps_dir);
    let mut inputs: BTreeMap<String, HostInput<'_>> = BTreeMap::new();
    let mut prepared: BTreeMap<(String, &str, String), PreparedHost<'_>> = BTreeMap::new();

    let (mut exact_args, mut exact_errors, mut failures) = (0, 0, Vec::new());
    let mut out_of_scope: BTreeMap<Rule, usize> = BTreeMap::new();
    for case in cases(&dir, &captures) {
        if let Expected::Error(message) = &case.expected {
            if !message
                .split(|c: char| !c.is_alphanumeric())
                .any(|w| w == "CPU")
            {
                *out_of_scope.entry(Rule::ErrorNotAboutCpu).or_default() += 1;
                continue;
            }
        }
        let text = std::fs::read_to_string(dir.join(format!("{}.xml", case.name)))
            .unwrap_or_else(|e| panic!("{}: {e}", case.name));
        let domain = match Domain::parse(&text) {
            Ok(domain) => domain,
            Err(error) if error.kind == DomainErrorKind::UnsupportedType => {
                *out_of_scope
                    .entry(Rule::DomainTypeNotKvmOrQemu)
                    .or_default() += 1;
                continue;
            }
            Err(error) => {
                failures.push(format!("{}: domain does not parse: {error}", case.name));
                continue;
            }
        };
        let capture = inputs.entry(case.caps.clone()).or_insert_with(|| {
            let path = caps_dir.join(format!("{}.replies", case.caps));
            let text = std::fs::read_to_string(&path).expect("capture");
            parse_host(map, &text).unwrap_or_else(|e| panic!("{}: {}", case.caps, e.render(&text)))
        });
        let actual = if haswell.contains(&case.name) {
            let host = TestHost::fake_haswell(map, &capture.under(domain.accelerator));
            fake_host_answer(map, &domain, &host)
        } else {
            let options = CheckOptions {
                qemu_version: Some(case.qemu_version.parse().expect("a QEMU release")),
                qemu_inferred_from: None,
                accelerator: None,
                libvirt: None,
            };
            let settings = host_settings(&text, &options).expect("settings");
            let key = (
                case.caps.clone(),
                settings.accelerator.as_str(),
                settings.version.version.clone(),
            );
            let host = prepared.entry(key).or_insert_with(|| {
                settings
                    .prepare(map, capture)
                    .unwrap_or_else(|e| panic!("{}: {e}", case.caps))
            });
            check_answer(&text, host, &options)
        };
        if actual == case.expected {
            match actual {
                Expected::CpuArg(_) => exact_args += 1,
                Expected::Error(_) => exact_errors += 1,
            }
        } else {
            failures.push(format!(
                "{} ({}):\n  expected {:?}\n  actual   {actual:?}",
                case.name, case.caps, case.expected
            ));
        }
    }
    let counts: Vec<(Rule, usize)> = out_of_scope.into_iter().collect();
    println!(
        "qemuxmlconfdata-x86: {exact_args} -cpu and {exact_errors} CPU errors exact, {} differ; \
         out of scope by rule: {counts:?}",
        failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(
        exact_args, EXPECTED_EXACT_ARGS,
        "cases with libvirt's exact -cpu"
    );
    assert_eq!(
        exact_errors, EXPECTED_EXACT_ERRORS,
        "cases with libvirt's CPU error"
    );
    assert_eq!(counts, EXPECTED_OUT_OF_SCOPE, "cases out of scope by rule");
}
