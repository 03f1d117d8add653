//! Benchmarks of the engine's hot paths: loading the databases, parsing each
//! kind of dump, decoding, predicting model usability and one full check.
//!
//! Every input is made here (hosts synthesised from model definitions) or is
//! a fixture of the project, so the benchmarks need nothing outside the
//! repository. Run with `cargo bench -p guestcpu-core --bench engine`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use guestcpu_core::check::{analyze, analyze_prepared, host_settings, CheckOptions};
use guestcpu_core::domain::Accelerator;
use guestcpu_core::dump::{self, synthetic};
use guestcpu_core::host::parse_host;
use guestcpu_core::libvirt::decode::{guest_cpu_from_signals, host_cpu_from_cpuid};
use guestcpu_core::libvirt::CpuSignals;
use guestcpu_core::qemu::definitions::{QemuDefinitions, QemuVersion};
use guestcpu_core::qemu::models::models_for_host;
use guestcpu_core::CpuMap;

const CPU_MAP_JSON: &str = include_str!("../../../data/cpu_map/11.3.0.json");
const QEMU_JSON: &str = include_str!("../../../data/qemu/10.0.json");
const QMP_REPLIES: &str = include_str!("../../cli/tests/fixtures/qmp-replies.json");

/// The host every benchmark uses: a Skylake server with `vmx`.
const HOST_MODEL: &str = "Skylake-Server-IBRS";

/// A domain as users write them: a named model, `check='partial'`, one extra
/// feature and one disabled.
const DOMAIN: &str = "<domain type='kvm'>
  <os><type arch='x86_64' machine='pc-q35-9.2'>hvm</type></os>
  <cpu mode='custom' match='exact' check='partial'>
    <model fallback='forbid'>Cascadelake-Server</model>
    <feature policy='require' name='vmx'/>
    <feature policy='disable' name='avx512vnni'/>
  </cpu>
</domain>
";

fn databases(c: &mut Criterion) {
    c.bench_function("load/cpu_map_from_json", |b| {
        b.iter(|| CpuMap::from_json(black_box(CPU_MAP_JSON)).expect("valid map"))
    });
    let map = CpuMap::embedded();
    c.bench_function("load/qemu_10.0_definitions", |b| {
        b.iter(|| QemuVersion::from_json(map, black_box(QEMU_JSON)).expect("valid definitions"))
    });
}

fn parsers(c: &mut Criterion) {
    let map = CpuMap::embedded();
    let data = synthetic::synthesize_cpuid(map, HOST_MODEL, &["vmx"]).expect("known model");
    let cpudata = synthetic::cpudata_xml(&data);
    let cpuid_tool = guestcpu_core::dump::synthetic::cpuid_tool_text(&data, 1);
    c.bench_function("parse/cpudata_xml", |b| {
        b.iter(|| dump::parse(black_box(&cpudata)).expect("parses"))
    });
    c.bench_function("parse/cpuid_1r", |b| {
        b.iter(|| dump::parse(black_box(&cpuid_tool)).expect("parses"))
    });
    c.bench_function("parse/qmp_json", |b| {
        b.iter(|| dump::parse(black_box(QMP_REPLIES)).expect("parses"))
    });
}

fn decoding(c: &mut Criterion) {
    let map = CpuMap::embedded();
    let data = synthetic::synthesize_cpuid(map, HOST_MODEL, &["vmx"]).expect("known model");
    c.bench_function("decode/host_cpu", |b| {
        b.iter(|| host_cpu_from_cpuid(map, black_box(&data)).expect("decodes"))
    });
    c.bench_function("decode/host_model", |b| {
        b.iter(|| {
            let signals = CpuSignals::from_cpuid(map, black_box(&data));
            guest_cpu_from_signals(map, &signals, None).expect("decodes")
        })
    });
}

fn checking(c: &mut Criterion) {
    let map = CpuMap::embedded();
    let version = QemuDefinitions::embedded().newest();
    let text = synthetic::synthesize_cpudata_xml(map, HOST_MODEL, &["vmx"]).expect("known model");
    let host = parse_host(map, &text).expect("parses");
    for accelerator in [Accelerator::Kvm, Accelerator::Tcg] {
        c.bench_function(&format!("models_for_host/{}", accelerator.as_str()), |b| {
            b.iter(|| {
                models_for_host(map, version, &black_box(&host).facts(accelerator)).expect("models")
            })
        });
    }
    let options = CheckOptions::default();
    c.bench_function("check/analyze", |b| {
        b.iter(|| analyze(map, black_box(DOMAIN), &host, None, &options).expect("report"))
    });
    let settings = host_settings(DOMAIN, &options).expect("settings");
    c.bench_function("check/prepare_host", |b| {
        b.iter(|| settings.prepare(map, black_box(&host)).expect("prepares"))
    });
    let prepared = settings.prepare(map, &host).expect("prepares");
    c.bench_function("check/analyze_prepared", |b| {
        b.iter(|| analyze_prepared(black_box(DOMAIN), &prepared, None, &options).expect("report"))
    });
    c.bench_function("check/parse_and_analyze", |b| {
        b.iter(|| {
            let host = parse_host(map, black_box(&text)).expect("parses");
            analyze(map, DOMAIN, &host, None, &options).expect("report")
        })
    });
}

criterion_group!(benches, databases, parsers, decoding, checking);
criterion_main!(benches);
