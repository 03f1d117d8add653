//! `cargo xtask record-real [--stack bookworm|trixie|trixie-backports|all]
//! [--stacks-dir DIR] [--only NAME...]`: records what a real libvirt + QEMU +
//! KVM stack does with every domain of the corpus in `tests/real/domains/`,
//! as truth files under `tests/real/<stack>/` (the files are described in the
//! README's "Real-stack recordings").
//!
//! Each stack is a Debian release's libvirt and QEMU. bookworm's is installed
//! on this machine itself with apt; trixie's and trixie-backports' each live in
//! a chroot made with `debootstrap --variant=minbase trixie`, the second with a
//! `trixie-backports` apt source and its libvirt and QEMU taken from there.
//! When a chroot has its QEMU, the file `.guestcpu-ready` is created in it.
//!
//! The stacks, their installation and the running daemons are `stack`'s
//! (shared with `record-sosreport`).
//!
//! For the host it keeps `cpuid -1r`, `/proc/cpuinfo`, QEMU's own answers
//! (`query-cpu-model-expansion` of `host` and `query-cpu-definitions`, under
//! KVM, in libvirt's `tests/cputestdata` reply format), `virsh capabilities`
//! and `virsh domcapabilities`. For each domain it defines, starts, reads the
//! live XML, destroys and undefines it, and reads QEMU's `-cpu` argument and
//! messages from the part of the domain log this start wrote.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{anyhow, bail, Context, Result};
use guestcpu_core::domain_log::StartLog;
use serde::Serialize;
use serde_json::Value;

use crate::stack::{
    command_in, command_text, ensure_host_packages, install_stack, is_root, parse_virsh_version,
    Session, Stack, Stacks, DOMAIN_PREFIX,
};

/// Where the corpus and the recordings live, relative to the workspace root.
const REAL_DIR: &str = "tests/real";

/// `cargo xtask record-real`'s arguments.
#[derive(Debug, clap::Args)]
pub struct Options {
    /// The stacks to record: bookworm, trixie, trixie-backports or all.
    #[arg(long = "stack", value_name = "STACK", default_value = "all", value_parser = Stacks::parse)]
    stacks: Stacks,
    /// Where the chroots of the trixie stacks are.
    #[arg(long, value_name = "DIR", default_value = "/work/stacks")]
    stacks_dir: PathBuf,
    /// Record only these domains of the corpus.
    #[arg(long, value_name = "NAME", num_args = 1..)]
    only: Vec<String>,
}

/// Entry point of `cargo xtask record-real`.
pub fn run(options: Options, workspace_root: &Path) -> Result<()> {
    let real_dir = workspace_root.join(REAL_DIR);
    let corpus = read_corpus(&real_dir.join("domains"), &options.only)?;
    if !is_root()? || !Path::new("/dev/kvm").exists() {
        bail!("recording needs root and /dev/kvm; this machine has none: nothing recorded");
    }
    ensure_host_packages(&["cpuid"])?;
    for stack in &options.stacks.0 {
        let root = stack.chroot(&options.stacks_dir);
        println!("== {}", stack.name());
        install_stack(*stack, root.as_deref())?;
        let session = Session::start(root)?;
        let folder = record_stack(
            &session,
            *stack,
            &real_dir,
            &corpus,
            options.only.is_empty(),
        )
        .with_context(|| format!("recording {}", stack.name()))?;
        drop(session);
        println!(
            "wrote {}",
            folder
                .strip_prefix(workspace_root)
                .unwrap_or(&folder)
                .display()
        );
    }
    Ok(())
}

/// One corpus domain: its name without the prefix and its XML.
struct CorpusDomain {
    name: String,
    xml: String,
}

/// Every `NAME.xml` of the corpus (or only those asked for), sorted by name;
/// each must be named `gc-NAME` inside.
fn read_corpus(dir: &Path, only: &[String]) -> Result<Vec<CorpusDomain>> {
    let mut domains = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        let Some(name) = path
            .file_name()
            .and_then(|name| name.to_str())
            .and_then(|name| name.strip_suffix(".xml"))
        else {
            continue;
        };
        if !only.is_empty() && !only.iter().any(|wanted| wanted == name) {
            continue;
        }
        let xml = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let expected = format!("<name>{DOMAIN_PREFIX}{name}</name>");
        if !xml.contains(&expected) {
            bail!("{}: the domain must be named {expected}", path.display());
        }
        domains.push(CorpusDomain {
            name: name.to_string(),
            xml,
        });
    }
    if let Some(missing) = only
        .iter()
        .find(|wanted| !domains.iter().any(|domain| &domain.name == *wanted))
    {
        bail!("no domain {missing}.xml in {}", dir.display());
    }
    domains.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(domains)
}

/// `stack.json`: what was recorded, where and when. Fields in the format's order.
#[derive(Debug, Serialize)]
struct StackInfo {
    libvirt: String,
    qemu: String,
    accelerator: &'static str,
    distribution: String,
    kernel: String,
    recorded: String,
}

/// One truth file, `STACK/domains/NAME.json`. Fields in the format's order.
#[derive(Debug, Serialize)]
struct DomainTruth {
    domain: String,
    started: bool,
    /// The last step tried: `define` when defining failed, `start` otherwise.
    phase: &'static str,
    error: Option<String>,
    live_cpu: Option<String>,
    qemu_cpu_arg: Option<String>,
    qemu_warnings: Vec<String>,
    qemu_errors: Vec<String>,
}

/// Captures the host and records every corpus domain; returns the stack's folder.
fn record_stack(
    session: &Session,
    stack: Stack,
    real_dir: &Path,
    corpus: &[CorpusDomain],
    whole_corpus: bool,
) -> Result<PathBuf> {
    let (libvirt, qemu) = parse_virsh_version(&session.virsh_text(&["version"])?)?;
    let folder = real_dir.join(format!("libvirt-{libvirt}_qemu-{qemu}"));
    let host_dir = folder.join("host");
    let domains_dir = folder.join("domains");
    std::fs::create_dir_all(&host_dir)?;
    std::fs::create_dir_all(&domains_dir)?;

    let info = StackInfo {
        libvirt,
        qemu,
        accelerator: "kvm",
        distribution: format!("Debian {}", stack.name()),
        kernel: command_text(Command::new("uname").arg("-r"))?
            .trim()
            .to_string(),
        recorded: command_text(Command::new("date").args(["-u", "+%Y-%m-%d"]))?
            .trim()
            .to_string(),
    };
    write_json(&folder.join("stack.json"), &info)?;
    capture_host(session, &host_dir)?;

    for domain in corpus {
        let truth = record_domain(session, domain)?;
        println!(
            "  {:<45} {}",
            domain.name,
            if truth.started {
                "started".to_string()
            } else {
                format!(
                    "failed at {}: {}",
                    truth.phase,
                    truth.error.as_deref().unwrap_or("")
                )
            }
        );
        write_json(&domains_dir.join(format!("{}.json", domain.name)), &truth)?;
    }
    if whole_corpus {
        remove_stale_truth(&domains_dir, corpus)?;
    }
    Ok(folder)
}

/// Removes truth files whose domain left the corpus.
fn remove_stale_truth(domains_dir: &Path, corpus: &[CorpusDomain]) -> Result<()> {
    for entry in std::fs::read_dir(domains_dir)? {
        let path = entry?.path();
        let stem = path.file_stem().and_then(|stem| stem.to_str());
        if path.extension().is_some_and(|ext| ext == "json")
            && !corpus
                .iter()
                .any(|domain| Some(domain.name.as_str()) == stem)
        {
            std::fs::remove_file(&path)?;
        }
    }
    Ok(())
}

fn write_json(path: &Path, value: &impl Serialize) -> Result<()> {
    let mut text = serde_json::to_string_pretty(value)?;
    text.push('\n');
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

/// Writes the host files: `cpuid.txt`, `cpuinfo.txt`, `qemu.json`,
/// `capabilities.xml` and `domcapabilities.xml`.
fn capture_host(session: &Session, host_dir: &Path) -> Result<()> {
    let write = |name: &str, text: &str| {
        let path = host_dir.join(name);
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))
    };
    // `cpuid -1` reads the CPU it runs on, and the APIC IDs in leaves 1, 0xb
    // and 0x1f differ between CPUs: always the first one.
    write(
        "cpuid.txt",
        &command_text(Command::new("taskset").args(["--cpu-list", "0", "cpuid", "-1r"]))?,
    )?;
    write(
        "cpuinfo.txt",
        &std::fs::read_to_string("/proc/cpuinfo").context("reading /proc/cpuinfo")?,
    )?;
    write("qemu.json", &qemu_host_replies(session.root())?)?;
    write("capabilities.xml", &session.virsh_text(&["capabilities"])?)?;
    write(
        "domcapabilities.xml",
        &session.virsh_text(&["domcapabilities"])?,
    )
}

/// The identifiers libvirt's `tests/cputestdata/*.json` give the two replies.
const EXPANSION_ID: &str = "model-expansion";
const DEFINITIONS_ID: &str = "definitions";

/// One QMP reply as libvirt's cputestdata files hold it: `return`, then `id`.
#[derive(Serialize)]
struct QmpReply {
    #[serde(rename = "return")]
    value: Value,
    id: String,
}

/// Asks the stack's QEMU, under KVM, for the full expansion of `host` and
/// for its CPU definitions, and renders both replies like libvirt's
/// `tests/cputestdata/x86_64-cpuid-*.json`: each reply pretty-printed, a blank
/// line between them.
fn qemu_host_replies(root: Option<&Path>) -> Result<String> {
    let commands = [
        serde_json::json!({"execute": "qmp_capabilities"}),
        serde_json::json!({"execute": "query-cpu-model-expansion", "id": EXPANSION_ID,
            "arguments": {"type": "full", "model": {"name": "host"}}}),
        serde_json::json!({"execute": "query-cpu-definitions", "id": DEFINITIONS_ID}),
        serde_json::json!({"execute": "quit"}),
    ];
    let mut child = command_in(root, "qemu-system-x86_64")
        .args([
            "-machine",
            "none",
            "-accel",
            "kvm",
            "-nodefaults",
            "-nographic",
            "-qmp",
            "stdio",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting qemu-system-x86_64")?;
    if let Some(mut stdin) = child.stdin.take() {
        let mut text = String::new();
        for command in &commands {
            writeln!(text, "{command}")?;
        }
        stdin
            .write_all(text.as_bytes())
            .context("writing to QEMU's QMP stdin")?;
    }
    let output = child.wait_with_output().context("waiting for QEMU")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let reply = |id: &str| -> Result<QmpReply> {
        let message = stdout
            .lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .find(|message| message.get("id").and_then(Value::as_str) == Some(id))
            .ok_or_else(|| {
                anyhow!(
                    "QEMU gave no reply `{id}`: {}",
                    String::from_utf8_lossy(&output.stderr).trim()
                )
            })?;
        let value = message
            .get("return")
            .cloned()
            .ok_or_else(|| anyhow!("QEMU's reply `{id}` is an error: {message}"))?;
        Ok(QmpReply {
            value,
            id: id.to_string(),
        })
    };
    let expansion = serde_json::to_string_pretty(&reply(EXPANSION_ID)?)?;
    let definitions = serde_json::to_string_pretty(&reply(DEFINITIONS_ID)?)?;
    Ok(format!("{expansion}\n\n{definitions}\n"))
}

/// Defines, starts, reads, destroys and undefines one domain.
fn record_domain(session: &Session, domain: &CorpusDomain) -> Result<DomainTruth> {
    let name = format!("{DOMAIN_PREFIX}{}", domain.name);
    let mut truth = DomainTruth {
        domain: domain.name.clone(),
        started: false,
        phase: "define",
        error: None,
        live_cpu: None,
        qemu_cpu_arg: None,
        qemu_warnings: Vec::new(),
        qemu_errors: Vec::new(),
    };
    let defined = session.virsh(&["define", "/dev/stdin"], Some(&domain.xml))?;
    if !defined.status.success() {
        truth.error = Some(libvirt_error(&String::from_utf8_lossy(&defined.stderr)));
        return Ok(truth);
    }
    truth.phase = "start";
    let log_path = session.path(&format!("/var/log/libvirt/qemu/{name}.log"));
    let log_offset = std::fs::metadata(&log_path).map_or(0, |meta| meta.len());

    let started = session.virsh(&["start", &name], None)?;
    truth.started = started.status.success();
    if truth.started {
        let live_xml = session.virsh_text(&["dumpxml", &name])?;
        truth.live_cpu = cpu_element(&live_xml);
        session.virsh_text(&["destroy", &name])?;
    } else {
        truth.error = Some(libvirt_error(&String::from_utf8_lossy(&started.stderr)));
    }
    session.virsh_text(&["undefine", &name])?;

    let log = read_from(&log_path, log_offset)?;
    let messages = StartLog::parse(&log);
    truth.qemu_cpu_arg = messages.cpu_arg;
    truth.qemu_warnings = messages.warnings;
    if !truth.started {
        truth.qemu_errors = messages.other_qemu_lines;
    }
    Ok(truth)
}

/// The part of a log file written after it was `offset` bytes long.
fn read_from(path: &Path, offset: u64) -> Result<String> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(String::new()),
        Err(error) => return Err(error).with_context(|| format!("reading {}", path.display())),
    };
    let start = usize::try_from(offset)
        .unwrap_or(usize::MAX)
        .min(bytes.len());
    Ok(String::from_utf8_lossy(&bytes[start..]).into_owned())
}

/// libvirt's message from virsh's stderr. virsh prints its own line for the
/// failed command (`error: Failed to start domain 'X'`, `vshError` in
/// virsh-domain.c), then libvirt's error as `error: MESSAGE`
/// (`vshReportError`, virsh.c), whose message may itself span lines (QEMU's
/// output quoted in it). The message starts at the first `error: ` line after
/// virsh's own and runs to the end, that prefix removed.
fn libvirt_error(stderr: &str) -> String {
    let text = stderr.trim_end();
    let message_start = text
        .match_indices("\nerror: ")
        .map(|(index, _)| index + 1)
        .next()
        .unwrap_or(0);
    let message = &text[message_start..];
    message
        .strip_prefix("error: ")
        .unwrap_or(message)
        .to_string()
}

/// The `<cpu>` element of a domain XML as virsh prints it, its indentation
/// re-based to column 0; `None` when there is none.
fn cpu_element(xml: &str) -> Option<String> {
    let lines: Vec<&str> = xml.lines().collect();
    let first = lines.iter().position(|line| {
        let trimmed = line.trim_start();
        trimmed
            .strip_prefix("<cpu")
            .is_some_and(|rest| rest.starts_with([' ', '>', '/']))
    })?;
    let indent = lines[first].len() - lines[first].trim_start().len();
    let last = if lines[first].trim_end().ends_with("/>") {
        first
    } else {
        first
            + lines[first..]
                .iter()
                .position(|line| line.trim() == "</cpu>")?
    };
    let rebased: Vec<&str> = lines[first..=last]
        .iter()
        .map(|line| {
            let leading = line.len() - line.trim_start().len();
            &line[leading.min(indent)..]
        })
        .collect();
    Some(rebased.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_of_one_start_is_what_was_appended() -> Result<()> {
        let path = std::env::temp_dir().join(format!("record-real-{}.log", std::process::id()));
        std::fs::write(
            &path,
            "2026-12-05 19:17:39.448+0000: starting up libvirt version: 9.0.0\n",
        )?;
        let offset = std::fs::metadata(&path)?.len();
        let appended = "2026-12-05 19:18:00.000+0000: shutting down, reason=failed\n";
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)?
            .write_all(appended.as_bytes())?;
        let slice = read_from(&path, offset)?;
        std::fs::remove_file(&path)?;
        assert_eq!(slice, appended);
        assert_eq!(StartLog::parse(&slice).cpu_arg, None);
        Ok(())
    }

    #[test]
    fn libvirts_error_is_what_follows_virshs_own_line() {
        let stderr = "error: Failed to start domain 'gc-test'\n\
error: the CPU is incompatible with host CPU: Host CPU does not provide required features: hle, rtm\n\n";
        assert_eq!(
            libvirt_error(stderr),
            "the CPU is incompatible with host CPU: Host CPU does not provide required features: hle, rtm"
        );
        let multi_line = "error: Failed to start domain 'gc-x'\n\
error: internal error: qemu unexpectedly closed the monitor: 2026-12-05T19:20:00.000000Z qemu-system-x86_64: warning: a\n\
2026-12-05T19:20:00.000001Z qemu-system-x86_64: error: failed to set MSR 0x10a to 0x0\n";
        assert_eq!(
            libvirt_error(multi_line),
            "internal error: qemu unexpectedly closed the monitor: 2026-12-05T19:20:00.000000Z qemu-system-x86_64: warning: a\n\
2026-12-05T19:20:00.000001Z qemu-system-x86_64: error: failed to set MSR 0x10a to 0x0"
        );
    }

    #[test]
    fn the_cpu_element_is_rebased_to_column_zero() {
        let xml = "<domain type='kvm' id='2'>\n  <cputune/>\n  <cpu mode='custom' match='exact' check='full'>\n    <model fallback='forbid'>qemu64</model>\n    <feature policy='disable' name='pni'/>\n  </cpu>\n</domain>\n";
        assert_eq!(
            cpu_element(xml).as_deref(),
            Some("<cpu mode='custom' match='exact' check='full'>\n  <model fallback='forbid'>qemu64</model>\n  <feature policy='disable' name='pni'/>\n</cpu>")
        );
        assert_eq!(
            cpu_element("<domain>\n  <cpu mode='host-passthrough' check='none'/>\n</domain>")
                .as_deref(),
            Some("<cpu mode='host-passthrough' check='none'/>")
        );
        assert_eq!(cpu_element("<domain>\n</domain>"), None);
    }
}
