//! Benchmarks that need more than criterion: `guestcpu batch` throughput over
//! many synthesised dumps (`bench-batch`), and a real QEMU answering
//! `query-cpu-definitions` beside guestcpu answering the same question
//! (`bench-vs-qemu`).
//!
//! Both time the release `guestcpu` binary, built here once, and report
//! medians. The in-process figure for guestcpu's model list comes from
//! criterion (`cargo bench -p guestcpu-core --bench engine`), whose saved
//! estimate is read back when present.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use guestcpu_core::dump::synthetic::cpudata_xml;
use guestcpu_core::dump::synthetic::synthesize_cpuid;
use guestcpu_core::CpuMap;

/// Where Debian's `qemu-system-x86` installs QEMU.
const DEFAULT_QEMU: &str = "/usr/bin/qemu-system-x86_64";

/// The domain `bench-batch` checks on every host: a model many hosts run.
const BENCH_DOMAIN: &str = "<domain type='kvm'>
  <cpu mode='custom' match='exact' check='partial'>
    <model fallback='forbid'>Haswell-noTSX-IBRS</model>
  </cpu>
</domain>
";

/// `cargo xtask bench-batch [N]`: writes N synthesised dumps (default 2000)
/// to a temporary folder and times `guestcpu batch` over them.
pub fn bench_batch(count: usize, root: &Path) -> Result<()> {
    let guestcpu = build_release_cli(root)?;
    let folder = std::env::temp_dir().join(format!("guestcpu-bench-batch-{}", std::process::id()));
    std::fs::create_dir_all(&folder)?;
    let written = write_dumps(&folder, count);
    let result = written.and_then(|()| {
        let domain = folder.join("domain.xml.in");
        std::fs::write(&domain, BENCH_DOMAIN)?;
        let dumps = folder.join("dumps");
        let describe = median_run(
            &guestcpu,
            &[
                "batch".as_ref(),
                dumps.as_os_str(),
                "--format".as_ref(),
                "csv".as_ref(),
            ],
            3,
        )?;
        let check = median_run(
            &guestcpu,
            &[
                "batch".as_ref(),
                dumps.as_os_str(),
                "--domain".as_ref(),
                domain.as_os_str(),
                "--format".as_ref(),
                "csv".as_ref(),
            ],
            3,
        )?;
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        println!("guestcpu batch over {count} synthesised dumps ({cores} cores), median of 3:");
        for (what, time) in [("hosts only", describe), ("with --domain", check)] {
            println!(
                "  {what:<14} {:>8.1} ms  {:>8.0} dumps/s",
                time.as_secs_f64() * 1e3,
                count as f64 / time.as_secs_f64()
            );
        }
        Ok(())
    });
    let _ = std::fs::remove_dir_all(&folder);
    result
}

/// Writes `count` dumps under `folder/dumps`, cycling over every model with
/// a vendor, alternating `<cpudata>` XML and `cpuid -1r` text.
fn write_dumps(folder: &Path, count: usize) -> Result<()> {
    let map = CpuMap::embedded();
    let models: Vec<&str> = map
        .models()
        .filter(|(_, model)| model.vendor.is_some())
        .map(|(_, model)| model.name.as_str())
        .collect();
    let dumps = folder.join("dumps");
    std::fs::create_dir_all(&dumps)?;
    for index in 0..count {
        let model = models[index % models.len()];
        let data = synthesize_cpuid(map, model, &[])?;
        let (name, text) = if index % 2 == 0 {
            (format!("host-{index:05}.xml"), cpudata_xml(&data))
        } else {
            (
                format!("host-{index:05}.txt"),
                guestcpu_core::dump::synthetic::cpuid_tool_text(&data, 1),
            )
        };
        std::fs::write(dumps.join(name), text)?;
    }
    Ok(())
}

/// `cargo xtask bench-vs-qemu [QEMU]`: QEMU's `query-cpu-definitions` under
/// TCG against guestcpu's `models --accel tcg`, warm and from a cold start.
pub fn bench_vs_qemu(qemu: Option<PathBuf>, root: &Path) -> Result<()> {
    let qemu = qemu.unwrap_or_else(|| PathBuf::from(DEFAULT_QEMU));
    if !qemu.exists() {
        println!(
            "skipping: {} is absent (Debian: apt-get install qemu-system-x86)",
            qemu.display()
        );
        return Ok(());
    }
    let guestcpu = build_release_cli(root)?;

    let mut session = QmpSession::start(&qemu)?;
    let mut warm = Vec::new();
    let mut models_seen = 0;
    for _ in 0..50 {
        let started = Instant::now();
        let reply = session.execute("query-cpu-definitions")?;
        warm.push(started.elapsed());
        models_seen = reply.matches("\"name\"").count();
    }
    session.quit();
    let qemu_warm = median(&mut warm);

    let mut cold = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        let mut session = QmpSession::start(&qemu)?;
        session.execute("query-cpu-definitions")?;
        cold.push(started.elapsed());
        session.quit();
    }
    let qemu_cold = median(&mut cold);

    let folder = std::env::temp_dir().join(format!("guestcpu-bench-qemu-{}", std::process::id()));
    std::fs::create_dir_all(&folder)?;
    let dump = folder.join("host.xml");
    let map = CpuMap::embedded();
    std::fs::write(
        &dump,
        cpudata_xml(&synthesize_cpuid(map, "Skylake-Server-IBRS", &[])?),
    )?;
    let guestcpu_cold = median_run(
        &guestcpu,
        &[
            "models".as_ref(),
            dump.as_os_str(),
            "--accel".as_ref(),
            "tcg".as_ref(),
            "--json".as_ref(),
        ],
        5,
    );
    let _ = std::fs::remove_dir_all(&folder);
    let guestcpu_cold = guestcpu_cold?;

    println!("which CPU models can this host run under TCG? (median)");
    println!("  QEMU {} ({models_seen} models):", qemu.display());
    println!(
        "    query-cpu-definitions, warm QMP session  {:>10.1} µs",
        micros(qemu_warm)
    );
    println!(
        "    start + qmp_capabilities + query          {:>10.1} µs",
        micros(qemu_cold)
    );
    println!("  guestcpu:");
    match criterion_median(root, "models_for_host_tcg") {
        Some(engine) => {
            println!("    models_for_host, in process (criterion)   {:>10.1} µs", micros(engine));
            println!(
                "    warm ratio QEMU / guestcpu: {:.2}",
                qemu_warm.as_secs_f64() / engine.as_secs_f64()
            );
        }
        None => println!(
            "    in-process figure: run `cargo bench -p guestcpu-core --bench engine -- models_for_host` first"
        ),
    }
    println!(
        "    `guestcpu models --accel tcg`, whole process {:>7.1} µs",
        micros(guestcpu_cold)
    );
    println!(
        "    cold ratio QEMU / guestcpu: {:.2}",
        qemu_cold.as_secs_f64() / guestcpu_cold.as_secs_f64()
    );
    Ok(())
}

/// A QEMU with QMP on its standard input and output.
struct QmpSession {
    child: Child,
    input: ChildStdin,
    output: BufReader<ChildStdout>,
}

impl QmpSession {
    fn start(qemu: &Path) -> Result<Self> {
        let mut child = Command::new(qemu)
            .args(crate::probe_qemu::QMP_ONLY_ARGS)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", qemu.display()))?;
        let (Some(input), Some(output)) = (child.stdin.take(), child.stdout.take()) else {
            bail!("no pipes to {}", qemu.display());
        };
        let mut session = QmpSession {
            child,
            input,
            output: BufReader::new(output),
        };
        session.read_until("\"QMP\"")?;
        session.execute("qmp_capabilities")?;
        Ok(session)
    }

    /// Sends one command and returns its reply line.
    fn execute(&mut self, command: &str) -> Result<String> {
        writeln!(self.input, "{{\"execute\": \"{command}\"}}")?;
        self.input.flush()?;
        self.read_until("\"return\"")
    }

    fn read_until(&mut self, marker: &str) -> Result<String> {
        let mut line = String::new();
        loop {
            line.clear();
            if self.output.read_line(&mut line)? == 0 {
                bail!("QEMU closed QMP before answering");
            }
            if line.contains(marker) {
                return Ok(line);
            }
            if line.contains("\"error\"") {
                bail!("QMP error: {}", line.trim());
            }
        }
    }

    fn quit(mut self) {
        let _ = writeln!(self.input, "{{\"execute\": \"quit\"}}");
        let _ = self.input.flush();
        let _ = self.child.wait();
    }
}

/// Builds the release `guestcpu` once and returns its path.
fn build_release_cli(root: &Path) -> Result<PathBuf> {
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["build", "--quiet", "--release", "-p", "guestcpu-cli"])
        .current_dir(root)
        .status()
        .context("running cargo build")?;
    if !status.success() {
        bail!("cargo build --release -p guestcpu-cli failed");
    }
    let binary = target_dir(root).join("release/guestcpu");
    if !binary.exists() {
        bail!("{} was not built", binary.display());
    }
    Ok(binary)
}

fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from)
}

/// Runs `binary ARGS` `times` times; the median wall time.
fn median_run(binary: &Path, args: &[&std::ffi::OsStr], times: usize) -> Result<Duration> {
    let mut timings = Vec::new();
    for _ in 0..times {
        let started = Instant::now();
        let output = Command::new(binary)
            .args(args)
            .output()
            .context("running guestcpu")?;
        let elapsed = started.elapsed();
        if !output.status.success() {
            bail!(
                "guestcpu failed: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        timings.push(elapsed);
    }
    Ok(median(&mut timings))
}

fn median(timings: &mut [Duration]) -> Duration {
    timings.sort();
    timings.get(timings.len() / 2).copied().unwrap_or_default()
}

fn micros(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e6
}

/// The median criterion saved for benchmark `id` (its name with `/` as `_`),
/// if `cargo bench` ran.
fn criterion_median(root: &Path, id: &str) -> Option<Duration> {
    let path = target_dir(root)
        .join("criterion")
        .join(id)
        .join("new/estimates.json");
    let text = std::fs::read_to_string(path).ok()?;
    let value: serde_json::Value = serde_json::from_str(&text).ok()?;
    let nanos = value.get("median")?.get("point_estimate")?.as_f64()?;
    Some(Duration::from_secs_f64(nanos / 1e9))
}
