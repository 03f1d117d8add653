//! Project automation, run as `cargo xtask <command>`: data importers and reports.

mod accel_facts;
mod bench;
mod derive_qemu;
mod fidelity;
mod import_cpu_map;
mod probe_qemu;
mod record_real;
mod record_sosreport;
mod stack;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

/// Project automation: data importers and reports.
#[derive(Debug, Parser)]
#[command(name = "cargo xtask", bin_name = "cargo xtask")]
struct Xtask {
    #[command(subcommand)]
    task: Task,
}

#[derive(Debug, Subcommand)]
enum Task {
    /// Regenerate `data/cpu_map/<release>.json` from libvirt cpu_map folders.
    ImportCpuMap {
        /// libvirt's `src/cpu_map` folders, one per release.
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
    },
    /// Write `data/qemu/<major>.<minor>.json` from a real QEMU.
    ProbeQemu(probe_qemu::ProbeArgs),
    /// Write `data/qemu/<major>.<minor>.json` for QEMU releases libvirt's
    /// captures list but no probe covers (6.2 to 9.2).
    DeriveQemu {
        /// libvirt's qemucapabilitiesdata [default: ../shared/libvirt/qemucapabilitiesdata].
        #[arg(value_name = "CAPSDIR")]
        captures: Option<PathBuf>,
    },
    /// Regenerate data/accel/{kvm,tcg}.json from accel_facts.rs.
    GenAccel,
    /// Score predicted model blockers against QEMU's answers.
    Fidelity {
        /// libvirt's cputestdata [default: ../shared/libvirt/cputestdata].
        #[arg(value_name = "CPUTESTDATA")]
        cputestdata: Option<PathBuf>,
    },
    /// Time `guestcpu batch` over N synthesised dumps.
    BenchBatch {
        #[arg(value_name = "N", default_value_t = 2000)]
        count: usize,
    },
    /// QEMU's query-cpu-definitions against guestcpu's model list.
    BenchVsQemu {
        /// The QEMU binary [default: /usr/bin/qemu-system-x86_64].
        #[arg(value_name = "QEMU")]
        qemu: Option<PathBuf>,
    },
    /// Record what real libvirt + QEMU + KVM stacks do with tests/real/domains
    /// (needs root and /dev/kvm).
    RecordReal(record_real::Options),
    /// Record an sosreport of each stack running tests/real/domains (needs
    /// root and /dev/kvm).
    RecordSosreport(record_sosreport::Options),
}

fn main() -> Result<()> {
    let root = workspace_root();
    match Xtask::parse().task {
        Task::ImportCpuMap { paths } => {
            for path in &paths {
                let imported = import_cpu_map::import(path)?;
                let output = root.join(imported.output());
                std::fs::create_dir_all(root.join(import_cpu_map::OUTPUT_DIR))?;
                std::fs::write(&output, &imported.text)
                    .with_context(|| format!("writing {}", output.display()))?;
                println!("wrote {}", output.display());
            }
            Ok(())
        }
        Task::ProbeQemu(args) => probe_qemu::run(args, &root),
        Task::DeriveQemu { captures } => derive_qemu::run(captures, &root),
        Task::GenAccel => accel_facts::run(&root),
        Task::Fidelity { cputestdata } => fidelity::run(cputestdata, &root),
        Task::BenchBatch { count } => bench::bench_batch(count, &root),
        Task::BenchVsQemu { qemu } => bench::bench_vs_qemu(qemu, &root),
        Task::RecordReal(options) => record_real::run(options, &root),
        Task::RecordSosreport(options) => record_sosreport::run(options, &root),
    }
}

/// The workspace root, found from this crate's manifest directory.
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}
