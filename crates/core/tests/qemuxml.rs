//! Parity with libvirt's `tests/qemuxmlconfdata`: for each `cpu-*` domain whose
//! QEMU command line libvirt's suite records for the latest QEMU, the `-cpu`
//! argument the engine builds (or the error it gives) must be libvirt's.
//!
//! libvirt's suite runs these on a fake host (spec 11.2): Haswell with a fixed
//! list of extra features and no QEMU host-model expansion, so libvirt uses its
//! own probe of that host as host-model. A few cases use QEMU's real expansion
//! of an AMD host stored in libvirt's capabilities files, which are not part of
//! the shared data; those are listed in `NEEDS_QEMU_CAPABILITIES` and skipped,
//! and so are the NUMA-topology cases, whose errors are about `<numa>` cells
//! rather than the CPU model. libvirt's suite builds command lines without the
//! start-time CPU checks (they need a running host), so the cases run with
//! `check='none'`; the checks themselves are tested by the scenario tests.
//! Needs `../shared`; skips with a message when it is absent.

use std::path::{Path, PathBuf};

use guestcpu_core::check::defaults::apply_defaults;
use guestcpu_core::check::start::{prepare_for_qemu, StartEnvironment, StartKind};
use guestcpu_core::data::NEVER_PASSED_TO_QEMU;
use guestcpu_core::domain::Domain;
use guestcpu_core::libvirt::release::LibvirtVersion;
use guestcpu_core::libvirt::{copy_migratable, HypervisorModel};
use guestcpu_core::qemu::definitions::QemuDefinitions;
use guestcpu_core::{CpuCheck, CpuDef, CpuError, CpuMap};

/// Cases whose expected `-cpu` comes from QEMU's host-model expansion of a real
/// host recorded in libvirt's capabilities files.
const NEEDS_QEMU_CAPABILITIES: [&str; 7] = [
    "cpu-host-model-kvm",
    "cpu-host-model-tcg",
    "cpu-host-model-features",
    "cpu-host-model-fallback-kvm",
    "cpu-host-model-nofallback-kvm",
    "cpu-host-model-fallback-tcg",
    "cpu-host-model-nofallback-tcg",
];

/// The fake host of libvirt's QEMU tests (spec 11.2).
const FAKE_HOST: &str = "<cpu>
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

fn qemuxml_dir() -> Option<PathBuf> {
    let dir =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/libvirt/qemuxmlconfdata");
    dir.is_dir().then_some(dir)
}

/// libvirt's expectation for one case: the `-cpu` value, none, or an error.
#[derive(Debug, PartialEq, Eq)]
enum Expected {
    CpuArg(Option<String>),
    Error(String),
}

fn expected_of(dir: &Path, name: &str) -> Option<Expected> {
    if let Ok(error) = std::fs::read_to_string(dir.join(format!("{name}.x86_64-latest.err"))) {
        return Some(Expected::Error(error.trim().to_string()));
    }
    let args = std::fs::read_to_string(dir.join(format!("{name}.x86_64-latest.args"))).ok()?;
    let cpu = args
        .lines()
        .find_map(|line| line.strip_prefix("-cpu "))
        .map(|value| {
            let value = value.trim_end_matches(" \\").trim();
            value.trim_matches('\'').to_string()
        });
    Some(Expected::CpuArg(cpu))
}

#[test]
fn qemu_cpu_argument_parity() {
    let Some(dir) = qemuxml_dir() else {
        println!("skipped: ../shared is absent");
        return;
    };
    let map = CpuMap::embedded();
    let version = QemuDefinitions::embedded()
        .find("10.0")
        .expect("QEMU 10.0 data")
        .version;
    let host = CpuDef::parse(FAKE_HOST).expect("fake host");
    let mut host_model = host.clone();
    host_model
        .features
        .retain(|f| !NEVER_PASSED_TO_QEMU.contains(&f.name.as_str()));
    let migratable_host_model = copy_migratable(map, &host_model);
    let models: Vec<HypervisorModel> = version
        .models
        .iter()
        .map(|m| HypervisorModel::named(&m.name))
        .collect();
    let known = &version.known_features.known;
    let no_build = |_: &CpuDef| Err(CpuError::internal("not built in this test"));

    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("readable folder")
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter_map(|file| {
            file.strip_suffix(".xml")
                .filter(|n| !n.contains('.'))
                .map(str::to_string)
        })
        .collect();
    names.sort();
    let (mut checked, mut failures) = (0, Vec::new());
    for name in &names {
        if NEEDS_QEMU_CAPABILITIES.contains(&name.as_str()) || name.starts_with("cpu-numa") {
            continue;
        }
        let Some(expected) = expected_of(&dir, name) else {
            continue;
        };
        let text = std::fs::read_to_string(dir.join(format!("{name}.xml"))).expect("domain");
        let domain = match Domain::parse(&text) {
            Ok(domain) => domain,
            Err(error) => {
                failures.push(format!("{name}: domain does not parse: {error}"));
                continue;
            }
        };
        if domain.arch != "x86_64" && domain.arch != "i686" {
            continue;
        }
        let mut cpu = domain.cpu.clone();
        apply_defaults(&mut cpu, domain.accelerator);
        cpu.check = Some(CpuCheck::None);
        let env = StartEnvironment {
            map,
            // libvirt's qemuxmlconfdata is 11.3's test suite.
            libvirt: LibvirtVersion::V11_3,
            accelerator: domain.accelerator,
            arch: &domain.arch,
            flags: &domain.flags,
            full_host: Some(&host),
            full_host_data: None,
            reported_host_model: None,
            migratable_host_model: Some(&migratable_host_model),
            hypervisor_models: &models,
            qemu_known_features: Some(known),
            host_physical_address_bits: None,
            build_guest: &no_build,
        };
        let actual = match prepare_for_qemu(&env, &cpu, StartKind::New) {
            Ok((_, arg)) => Expected::CpuArg(arg),
            Err(error) => Expected::Error(error.to_string()),
        };
        checked += 1;
        if actual != expected {
            failures.push(format!(
                "{name}:\n  expected {expected:?}\n  actual   {actual:?}"
            ));
        }
    }
    println!(
        "qemuxmlconfdata: {checked} cpu cases checked, {} differ",
        failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(checked >= 40, "only {checked} cases were checked");
}
