//! `cargo xtask record-sosreport [--stack bookworm|trixie|trixie-backports|all]
//! [--stacks-dir DIR]`: makes a real sosreport of a real libvirt + QEMU + KVM
//! stack with defined, running and shut-off domains, and keeps the files
//! `guestcpu sosreport` reads, as test data under `tests/sosreport/<stack>/`
//! (an unpacked tree) and `tests/sosreport/<stack>.tar.xz` (the same tree as
//! an archive, under a `sosreport-<stack>/` folder as sos names its own).
//!
//! The stack is run as `record-real` runs it (`stack::Session`). A few
//! domains of the real-stack corpus (`tests/real/domains/`) are defined; some
//! are started and left running while Debian's `sosreport` runs, the others
//! stay shut off. sos runs in batch mode with only the plugins guestcpu reads:
//! `processor` (`/proc/cpuinfo`, `cpuid -r`), `kernel` (KVM's module
//! parameters under `/sys/module`), `libvirt` (the persistent and status XML,
//! the domain logs) and `virsh` (`virsh -r version`, `capabilities`,
//! `domcapabilities`, `dumpxml`), the last enabled by name because Debian's sos
//! looks for a package `libvirt-client` that Debian calls `libvirt-clients`
//! (`packages` of sos's `report/plugins/virsh.py`). `--build` keeps the tree
//! unpacked; nothing is uploaded. On the machine's own stack it also runs
//! `guestcpu capture` while the domains run, into `tests/capture/<stack>.json`.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{anyhow, bail, Context, Result};

use crate::stack::{
    apt_get, ensure_host_packages, install_stack, is_installed, is_root, run_checked, Session,
    Stack, Stacks, DOMAIN_PREFIX,
};

/// Where the test reports go, relative to the workspace root.
const SOSREPORT_DIR: &str = "tests/sosreport";

/// The corpus the domains come from.
const CORPUS_DIR: &str = "tests/real/domains";

/// Domains started and left running while sos collects: each started on
/// every recorded stack (`tests/real/<stack>/domains/NAME.json`); between
/// them a custom model QEMU filters features from, a partial check with a
/// disabled feature, host-model, and a model with nothing filtered.
const RUNNING: [&str; 4] = [
    "custom-conroe-none",
    "custom-kvm64-disable-pni-partial",
    "host-model",
    "custom-486-partial",
];

/// Domains defined but not started: one that does not start on the
/// recording host, one host-passthrough, one model with a full check.
const SHUT_OFF: [&str; 3] = [
    "custom-haswell-full",
    "host-passthrough",
    "custom-pentium3-full",
];

/// The plugins sos runs (`--only-plugins`) and those it must run even when
/// its package check says no (`--enable-plugins`).
const PLUGINS: &str = "processor,kernel,libvirt,virsh";
const FORCED_PLUGINS: &str = "libvirt,virsh";

/// Where sos writes its tree, inside the stack.
const SOS_TMP: &str = "/tmp/guestcpu-sosreport";

/// Packages sos needs in the stack: sos itself and `cpuid`, without which
/// the processor plugin has no raw CPUID to keep.
const SOS_PACKAGES: [&str; 2] = ["sosreport", "cpuid"];

/// `cargo xtask record-sosreport`'s arguments.
#[derive(Debug, clap::Args)]
pub struct Options {
    /// The stacks to report on: bookworm, trixie, trixie-backports or all
    /// [default: bookworm and trixie].
    #[arg(long = "stack", value_name = "STACK", value_parser = Stacks::parse)]
    stacks: Option<Stacks>,
    /// Where the chroots of the trixie stacks are.
    #[arg(long, value_name = "DIR", default_value = "/work/stacks")]
    stacks_dir: PathBuf,
}

/// Entry point of `cargo xtask record-sosreport`.
pub fn run(options: Options, workspace_root: &Path) -> Result<()> {
    let stacks = options
        .stacks
        .map_or(vec![Stack::Bookworm, Stack::Trixie], |stacks| stacks.0);
    if !is_root()? || !Path::new("/dev/kvm").exists() {
        bail!("a sosreport of a running stack needs root and /dev/kvm; this machine has none");
    }
    let corpus = workspace_root.join(CORPUS_DIR);
    for stack in &stacks {
        let root = stack.chroot(&options.stacks_dir);
        println!("== {}", stack.name());
        install_stack(*stack, root.as_deref())?;
        let session = Session::start(root)?;
        ensure_sos(&session)?;
        define_domains(&session, &corpus)?;
        let tree = run_sos(&session)?;
        if session.root().is_none() {
            capture_bundle(workspace_root, stack.name())?;
        }
        let kept = keep_read_files(&tree, &workspace_root.join(SOSREPORT_DIR), stack.name());
        // sos's tree holds the whole collection: removed whatever happened.
        let removed = std::fs::remove_dir_all(session.path(SOS_TMP));
        drop(session);
        let count = kept?;
        removed.context("removing sos's temporary tree")?;
        println!(
            "kept {count} files in {SOSREPORT_DIR}/{} and {SOSREPORT_DIR}/{}.tar.xz",
            stack.name(),
            stack.name()
        );
    }
    Ok(())
}

/// Installs sos and `cpuid` in the stack when missing (the session's mounts
/// let apt run in a chroot).
fn ensure_sos(session: &Session) -> Result<()> {
    let Some(root) = session.root() else {
        return ensure_host_packages(&SOS_PACKAGES);
    };
    let missing: Vec<&str> = SOS_PACKAGES
        .into_iter()
        .filter(|package| !is_installed(Some(root), package))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    println!("installing {} in {}", missing.join(" "), root.display());
    run_checked(apt_get(Some(root)).args(["-q", "update"]))?;
    run_checked(
        apt_get(Some(root))
            .args(["-q", "-y", "install", "--no-install-recommends"])
            .args(&missing),
    )
    .map(drop)
}

/// Defines every chosen domain and starts the running ones, each with a
/// fresh domain log.
fn define_domains(session: &Session, corpus: &Path) -> Result<()> {
    for name in RUNNING.iter().chain(&SHUT_OFF) {
        let path = corpus.join(format!("{name}.xml"));
        let xml = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let domain = format!("{DOMAIN_PREFIX}{name}");
        let log = session.path(&format!("/var/log/libvirt/qemu/{domain}.log"));
        if log.exists() {
            std::fs::remove_file(&log).with_context(|| format!("removing {}", log.display()))?;
        }
        let defined = session.virsh(&["define", "/dev/stdin"], Some(&xml))?;
        if !defined.status.success() {
            bail!(
                "defining {domain}: {}",
                String::from_utf8_lossy(&defined.stderr).trim()
            );
        }
        if RUNNING.contains(name) {
            session.virsh_text(&["start", &domain])?;
            println!("  {domain:<45} running");
        } else {
            println!("  {domain:<45} shut off");
        }
    }
    Ok(())
}

/// Where the capture bundle of the machine's own stack goes.
const CAPTURE_DIR: &str = "tests/capture";

/// Runs `guestcpu capture` on the machine while the domains run (only the
/// machine's own stack: the bundle is taken from outside any chroot) and
/// keeps its bundle as `tests/capture/<stack>.json`.
fn capture_bundle(workspace_root: &Path, stack: &str) -> Result<()> {
    let output = run_checked(
        Command::new(env!("CARGO"))
            .current_dir(workspace_root)
            .args(["run", "-q", "-p", "guestcpu-cli", "--", "capture"]),
    )?;
    let dir = workspace_root.join(CAPTURE_DIR);
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(format!("{stack}.json"));
    std::fs::write(&path, &output.stdout).with_context(|| format!("writing {}", path.display()))?;
    print!("{}", String::from_utf8_lossy(&output.stderr));
    println!("wrote {CAPTURE_DIR}/{stack}.json");
    Ok(())
}

/// Runs sos in the stack; returns its unpacked tree, seen from the machine.
fn run_sos(session: &Session) -> Result<PathBuf> {
    let tmp = session.path(SOS_TMP);
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).with_context(|| format!("removing {}", tmp.display()))?;
    }
    std::fs::create_dir_all(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    let mut sos = crate::stack::command_in(session.root(), "sosreport");
    sos.args([
        "--batch",
        "--build",
        "--only-plugins",
        PLUGINS,
        "--enable-plugins",
        FORCED_PLUGINS,
        "--tmp-dir",
        SOS_TMP,
    ]);
    run_checked(&mut sos)?;
    let mut trees = std::fs::read_dir(&tmp)?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| {
            path.is_dir()
                && path
                    .file_name()
                    .is_some_and(|name| name.to_string_lossy().starts_with("sosreport-"))
        });
    let tree = trees
        .next()
        .ok_or_else(|| anyhow!("sos left no sosreport-* folder in {}", tmp.display()))?;
    Ok(tree)
}

/// Whether guestcpu reads the file at `relative` (a path inside the tree).
/// Domain logs are kept only for defined domains ([`is_defined_domain_log`]).
fn is_read(relative: &str) -> bool {
    let in_folder = |folder: &str, suffix: &str| {
        relative
            .strip_prefix(folder)
            .is_some_and(|name| !name.contains('/') && name.ends_with(suffix))
    };
    relative == "proc/cpuinfo"
        || relative == "sos_commands/processor/cpuid_-r"
        || relative
            .strip_prefix("sys/module/kvm")
            .and_then(|rest| rest.split_once("/parameters/"))
            .is_some_and(|(module, name)| !module.contains('/') && !name.contains('/'))
        || ["version", "capabilities", "domcapabilities", "list_--all"]
            .iter()
            .any(|command| relative == format!("sos_commands/virsh/virsh_-r_{command}"))
        || in_folder("sos_commands/virsh/virsh_-r_dumpxml_", "")
        || in_folder("etc/libvirt/qemu/", ".xml")
        || in_folder("run/libvirt/qemu/", ".xml")
        || in_folder("var/log/libvirt/qemu/", ".log")
}

/// False for the log of a domain not defined any more (sos keeps every
/// log under `/var/log/libvirt/qemu`, earlier recordings' too); true for
/// every other file.
fn is_defined_domain_log(relative: &str, files: &[String]) -> bool {
    match relative
        .strip_prefix("var/log/libvirt/qemu/")
        .and_then(|name| name.strip_suffix(".log"))
    {
        Some(domain) => files
            .iter()
            .any(|file| *file == format!("etc/libvirt/qemu/{domain}.xml")),
        None => true,
    }
}

/// Copies the files guestcpu reads from `tree` into `DIR/STACK/` (emptied
/// first) and archives that as `DIR/STACK.tar.xz`; returns how many.
fn keep_read_files(tree: &Path, dir: &Path, stack: &str) -> Result<usize> {
    let target = dir.join(stack);
    if target.exists() {
        std::fs::remove_dir_all(&target)?;
    }
    let mut files = Vec::new();
    walk(tree, tree, &mut files)?;
    files.sort();
    let mut kept = 0;
    for relative in files
        .iter()
        .filter(|relative| is_read(relative) && is_defined_domain_log(relative, &files))
    {
        let to = target.join(relative);
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::copy(tree.join(relative), &to).with_context(|| format!("copying {relative}"))?;
        kept += 1;
    }
    if kept == 0 {
        bail!(
            "sos collected none of the files guestcpu reads in {}",
            tree.display()
        );
    }
    let archive = dir.join(format!("{stack}.tar.xz"));
    run_checked(
        Command::new("tar")
            .arg("-C")
            .arg(dir)
            .args([
                "--sort=name",
                "--mtime=@0",
                "--owner=0",
                "--group=0",
                "--numeric-owner",
                &format!("--transform=s,^{stack},sosreport-{stack},"),
                "-cJf",
            ])
            .arg(&archive)
            .arg(stack),
    )?;
    Ok(kept)
}

/// Every regular file under `folder`, as a path relative to `base`.
fn walk(base: &Path, folder: &Path, files: &mut Vec<String>) -> Result<()> {
    for entry in
        std::fs::read_dir(folder).with_context(|| format!("reading {}", folder.display()))?
    {
        let entry = entry?;
        let path = entry.path();
        let kind = entry.file_type()?;
        if kind.is_dir() {
            walk(base, &path, files)?;
        } else if kind.is_file() {
            if let Ok(relative) = path.strip_prefix(base) {
                files.push(relative.to_string_lossy().into_owned());
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_files_guestcpu_reads_are_kept() {
        for kept in [
            "proc/cpuinfo",
            "sos_commands/processor/cpuid_-r",
            "sys/module/kvm_intel/parameters/nested",
            "sys/module/kvm/parameters/enable_pmu",
            "sos_commands/virsh/virsh_-r_version",
            "sos_commands/virsh/virsh_-r_dumpxml_gc-host-model",
            "etc/libvirt/qemu/gc-host-model.xml",
            "run/libvirt/qemu/gc-host-model.xml",
            "var/log/libvirt/qemu/gc-host-model.log",
        ] {
            assert!(is_read(kept), "{kept}");
        }
        for dropped in [
            "sos_commands/processor/cpuid",
            "sys/module/ext4/parameters/x",
            "sys/module/kvm/srcversion",
            "etc/libvirt/qemu/networks/default.xml",
            "sos_commands/virsh/virsh_-r_nodeinfo",
            "var/log/libvirt/libvirtd.log",
            "run/libvirt/qemu/gc-host-model.pid",
        ] {
            assert!(!is_read(dropped), "{dropped}");
        }
    }
}
