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

use anyhow::{bail, Context, Result};

const USAGE: &str = "usage: cargo xtask <command>

commands:
  import-cpu-map PATH... regenerate data/cpu_map/<release>.json from libvirt cpu_map folders
  probe-qemu BINARY [--chroot DIR] [--out DIR] [--timeout SECONDS]
                         write data/qemu/<major>.<minor>.json from a real QEMU
  probe-qemu --debian bullseye|bookworm|trixie|trixie-backports [--stacks-dir DIR] ...
                         the same for that Debian suite's QEMU, installed first
  derive-qemu [CAPSDIR]  write data/qemu/<major>.<minor>.json for QEMU releases libvirt's
                         captures list but no probe covers (6.2 to 9.2)
  gen-accel              regenerate data/accel/{kvm,tcg}.json from accel_facts.rs
  fidelity [CPUTESTDATA] score predicted model blockers against QEMU's answers
  bench-batch [N]        time `guestcpu batch` over N synthesised dumps (default 2000)
  bench-vs-qemu [QEMU]   QEMU's query-cpu-definitions against guestcpu's model list
  record-real [--stack bookworm|trixie|trixie-backports|all] [--stacks-dir DIR] [--only NAME...]
  record-sosreport [--stack bookworm|trixie|trixie-backports|all] [--stacks-dir DIR]
                         record what real libvirt + QEMU + KVM stacks do with tests/real/domains
                         (needs root and /dev/kvm)";

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("import-cpu-map") => {
            if args.len() < 2 {
                bail!("usage: cargo xtask import-cpu-map PATH...")
            }
            for path in &args[1..] {
                let imported = import_cpu_map::import(Path::new(path))?;
                let output = workspace_root().join(imported.output());
                std::fs::create_dir_all(workspace_root().join(import_cpu_map::OUTPUT_DIR))?;
                std::fs::write(&output, &imported.text)
                    .with_context(|| format!("writing {}", output.display()))?;
                println!("wrote {}", output.display());
            }
            Ok(())
        }
        Some("probe-qemu") => probe_qemu::run(&args[1..], &workspace_root()),
        Some("derive-qemu") => derive_qemu::run(&args[1..], &workspace_root()),
        Some("gen-accel") => accel_facts::run(&workspace_root()),
        Some("fidelity") => fidelity::run(&args[1..], &workspace_root()),
        Some("bench-batch") => bench::bench_batch(&args[1..], &workspace_root()),
        Some("bench-vs-qemu") => bench::bench_vs_qemu(&args[1..], &workspace_root()),
        Some("record-real") => record_real::run(&args[1..], &workspace_root()),
        Some("record-sosreport") => record_sosreport::run(&args[1..], &workspace_root()),
        _ => bail!("{USAGE}"),
    }
}

/// The workspace root, found from this crate's manifest directory.
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}
