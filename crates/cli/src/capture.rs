//! `guestcpu capture`: run on a host (as root where a part needs it), writes
//! one bundle ([`guestcpu_core::capture`]) with everything the checker can
//! use. Every part is optional; each says how it was obtained, or why not.
//!
//! * `cpuid`: raw CPUID of every CPU, read from `/dev/cpu/N/cpuid` (Linux's
//!   cpuid driver: a 16-byte read at offset `subleaf << 32 | leaf` gives
//!   eax, ebx, ecx, edx; arch/x86/kernel/cpuid.c), else `cpuid -r`; written
//!   in `cpuid -r`'s format;
//! * `msr`: the MSRs libvirt reads, from `/dev/cpu/0/msr` (an 8-byte read at
//!   the MSR's index; arch/x86/kernel/msr.c): `IA32_ARCH_CAPABILITIES`
//!   (0x10a, `virHostCPUGetMSR`) and the VMX capability MSRs 0x480–0x491
//!   (libvirt's `cpu_map` `<msr>` features of the VMX group);
//! * `kvm-parameters`: `/sys/module/kvm*/parameters/*`;
//! * `kvm-supported-cpuid`: what KVM offers guests, `KVM_GET_SUPPORTED_CPUID`
//!   on `/dev/kvm` (`kvm_cpuid`), in `cpuid -r`'s line format;
//! * `qmp`: QEMU's `query-cpu-model-expansion` of `host` and
//!   `query-cpu-definitions` under `-machine none,accel=kvm`, as libvirt
//!   asks them (`virQEMUCapsProbeQMPHostCPU`, `virQEMUCapsProbeQMPCPUDefinitions`);
//! * `virsh-version`, `capabilities`, `domcapabilities`, and `domain:NAME`
//!   for every domain `virsh list --all` names, when libvirt runs.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs::File;
use std::io::Write as _;
use std::os::unix::fs::FileExt as _;
use std::process::{Command, Stdio};

use guestcpu_core::capture::FORMAT_VERSION;
use guestcpu_core::json;
use serde::Serialize;

/// CPUID leaves whose subleaves (`ecx`) select different data, with the
/// rule that ends them (Intel SDM vol. 2A, CPUID; AMD APM vol. 3).
#[derive(Clone, Copy)]
enum Subleaves {
    /// Leaf 4 and 0x8000001d: until the cache type (`eax[4:0]`) is 0.
    UntilNoCache,
    /// Leaves 0xb and 0x1f: until the level type (`ecx[15:8]`) is 0.
    UntilNoLevel,
    /// Leaves 7, 0x14, 0x17, 0x18, 0x1d, 0x20, 0x23, 0x24: subleaf 0's
    /// `eax` is the last subleaf.
    CountInEax,
    /// Leaves 0xd, 0xf, 0x10, 0x12: a fixed range, all-zero ones dropped.
    Range,
}

fn subleaves_of(leaf: u32) -> Option<Subleaves> {
    match leaf {
        0x4 | 0x8000_001d => Some(Subleaves::UntilNoCache),
        0xb | 0x1f => Some(Subleaves::UntilNoLevel),
        0x7 | 0x14 | 0x17 | 0x18 | 0x1d | 0x20 | 0x23 | 0x24 => Some(Subleaves::CountInEax),
        0xd | 0xf | 0x10 | 0x12 => Some(Subleaves::Range),
        _ => None,
    }
}

/// The highest subleaf read of any leaf.
const MAX_SUBLEAF: u32 = 63;

/// The MSRs read: `IA32_ARCH_CAPABILITIES` and the VMX capability MSRs.
const MSRS: [u32; 19] = [
    0x10a, 0x480, 0x481, 0x482, 0x483, 0x484, 0x485, 0x486, 0x487, 0x488, 0x489, 0x48a, 0x48b,
    0x48c, 0x48d, 0x48e, 0x48f, 0x490, 0x491,
];

/// Where the kernel lists its modules and their parameters.
const KVM_MODULES: &str = "/sys/module";

/// The bundle; `guestcpu-capture` must stay the first field: readers know a
/// bundle by its first key.
#[derive(Serialize)]
struct Bundle {
    #[serde(rename = "guestcpu-capture")]
    format: u32,
    host: String,
    kernel: String,
    parts: Vec<Part>,
}

#[derive(Serialize)]
struct Part {
    name: String,
    how: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    missing: Option<String>,
}

impl Part {
    fn got(name: &str, how: impl Into<String>, text: String) -> Part {
        Part {
            name: name.to_string(),
            how: Some(how.into()),
            text: Some(text),
            missing: None,
        }
    }

    fn missing(name: &str, why: impl Into<String>) -> Part {
        Part {
            name: name.to_string(),
            how: None,
            text: None,
            missing: Some(why.into()),
        }
    }

    fn from(name: &str, result: Result<(String, String), String>) -> Part {
        match result {
            Ok((how, text)) => Part::got(name, how, text),
            Err(why) => Part::missing(name, why),
        }
    }
}

/// Captures this host; returns the bundle as JSON text.
pub fn run(qemu: &str, virsh_uri: &str) -> anyhow::Result<String> {
    let read_trimmed = |path: &str| {
        std::fs::read_to_string(path)
            .map(|text| text.trim().to_string())
            .unwrap_or_default()
    };
    let mut parts = vec![
        Part::from("cpuid", raw_cpuid()),
        Part::from("msr", msrs()),
        Part::from("kvm-parameters", kvm_parameters()),
        Part::from(
            "kvm-supported-cpuid",
            crate::kvm_cpuid::supported_cpuid()
                .map(|text| ("/dev/kvm KVM_GET_SUPPORTED_CPUID".to_string(), text)),
        ),
        Part::from("qmp", qmp_replies(qemu)),
    ];
    parts.extend(libvirt_parts(virsh_uri));
    let bundle = Bundle {
        format: FORMAT_VERSION,
        host: read_trimmed("/proc/sys/kernel/hostname"),
        kernel: read_trimmed("/proc/sys/kernel/osrelease"),
        parts,
    };
    for part in &bundle.parts {
        match (&part.how, &part.missing) {
            (Some(how), _) => eprintln!("{:<16} {how}", part.name),
            (None, Some(why)) => eprintln!("{:<16} missing: {why}", part.name),
            (None, None) => {}
        }
    }
    Ok(format!("{}\n", json::to_string_pretty(&bundle)?))
}

/// Raw CPUID of every CPU: `/dev/cpu/N/cpuid`, else the `cpuid` tool.
fn raw_cpuid() -> Result<(String, String), String> {
    let mut cpus: Vec<u32> = std::fs::read_dir("/dev/cpu")
        .map(|entries| {
            entries
                .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    cpus.sort_unstable();
    let mut device_error = None;
    if !cpus.is_empty() {
        let mut text = String::new();
        for cpu in &cpus {
            match cpuid_of_cpu(*cpu) {
                Ok(leaves) => text.push_str(&leaves),
                Err(error) => {
                    device_error = Some(format!("/dev/cpu/{cpu}/cpuid: {error}"));
                    break;
                }
            }
        }
        if device_error.is_none() {
            return Ok(("/dev/cpu/N/cpuid (Linux's cpuid driver)".to_string(), text));
        }
    }
    let tool = run_tool(Command::new("cpuid").arg("-r"));
    tool.map(|text| ("cpuid -r".to_string(), text))
        .map_err(|tool_error| {
            format!(
                "{}; cpuid -r: {tool_error}",
                device_error.unwrap_or_else(|| {
                    "no /dev/cpu/N/cpuid (the cpuid module is not loaded)".to_string()
                })
            )
        })
}

/// One CPU's leaves in `cpuid -r`'s format.
fn cpuid_of_cpu(cpu: u32) -> std::io::Result<String> {
    let device = File::open(format!("/dev/cpu/{cpu}/cpuid"))?;
    let read = |leaf: u32, subleaf: u32| -> std::io::Result<[u32; 4]> {
        let mut bytes = [0u8; 16];
        device.read_exact_at(&mut bytes, (u64::from(subleaf) << 32) | u64::from(leaf))?;
        let word =
            |i: usize| u32::from_le_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
        Ok([word(0), word(4), word(8), word(12)])
    };
    let mut text = format!("CPU {cpu}:\n");
    let mut line = |leaf: u32, subleaf: u32, regs: [u32; 4]| {
        let _ = writeln!(
            text,
            "   0x{leaf:08x} 0x{subleaf:02x}: eax=0x{:08x} ebx=0x{:08x} ecx=0x{:08x} edx=0x{:08x}",
            regs[0], regs[1], regs[2], regs[3]
        );
    };
    let basic_max = read(0, 0)?[0];
    let hypervisor = read(1, 0)?[2] & (1 << 31) != 0;
    let hypervisor_max = if hypervisor {
        read(0x4000_0000, 0)?[0].clamp(0x4000_0000, 0x4000_00ff)
    } else {
        0x3fff_ffff
    };
    let extended_max = read(0x8000_0000, 0)?[0].clamp(0x8000_0000, 0x8000_00ff);
    let ranges = [
        0..=basic_max.min(0xff),
        0x4000_0000..=hypervisor_max,
        0x8000_0000..=extended_max,
    ];
    for leaf in ranges.into_iter().flatten() {
        let first = read(leaf, 0)?;
        line(leaf, 0, first);
        let Some(rule) = subleaves_of(leaf) else {
            continue;
        };
        let last = match rule {
            Subleaves::CountInEax => first[0].min(MAX_SUBLEAF),
            _ => MAX_SUBLEAF,
        };
        for subleaf in 1..=last {
            let regs = read(leaf, subleaf)?;
            let ends = match rule {
                Subleaves::UntilNoCache => regs[0] & 0x1f == 0,
                Subleaves::UntilNoLevel => (regs[2] >> 8) & 0xff == 0,
                Subleaves::CountInEax | Subleaves::Range => false,
            };
            if ends {
                break;
            }
            if regs != [0; 4] {
                line(leaf, subleaf, regs);
            }
        }
    }
    Ok(text)
}

/// The MSRs libvirt reads, from CPU 0.
fn msrs() -> Result<(String, String), String> {
    let path = "/dev/cpu/0/msr";
    let device = File::open(path).map_err(|error| {
        format!("{path}: {error} (load the msr module; reading MSRs needs root)")
    })?;
    let mut text = String::new();
    for msr in MSRS {
        let mut bytes = [0u8; 8];
        match device.read_exact_at(&mut bytes, u64::from(msr)) {
            Ok(()) => {
                let _ = writeln!(text, "0x{msr:08x}: 0x{:016x}", u64::from_le_bytes(bytes));
            }
            // An MSR this CPU does not have cannot be read (#GP → EIO).
            Err(error) => {
                let _ = writeln!(text, "0x{msr:08x}: unreadable ({error})");
            }
        }
    }
    Ok((path.to_string(), text))
}

/// `MODULE.NAME=VALUE` for every parameter of the kvm modules.
fn kvm_parameters() -> Result<(String, String), String> {
    let mut values = BTreeMap::new();
    let modules =
        std::fs::read_dir(KVM_MODULES).map_err(|error| format!("{KVM_MODULES}: {error}"))?;
    for module in modules.flatten() {
        let name = module.file_name().to_string_lossy().into_owned();
        if !name.starts_with("kvm") {
            continue;
        }
        let Ok(parameters) = std::fs::read_dir(module.path().join("parameters")) else {
            continue;
        };
        for parameter in parameters.flatten() {
            if let Ok(value) = std::fs::read_to_string(parameter.path()) {
                let key = format!("{name}.{}", parameter.file_name().to_string_lossy());
                values.insert(key, value.trim().to_string());
            }
        }
    }
    if values.is_empty() {
        return Err("no kvm module loaded (no /sys/module/kvm*/parameters)".to_string());
    }
    let text = values.iter().fold(String::new(), |mut text, (key, value)| {
        let _ = writeln!(text, "{key}={value}");
        text
    });
    Ok(("/sys/module/kvm*/parameters".to_string(), text))
}

/// The QMP replies libvirt asks for, in its cputestdata format.
fn qmp_replies(qemu: &str) -> Result<(String, String), String> {
    let args = [
        "-machine",
        "none,accel=kvm",
        "-nodefaults",
        "-nographic",
        "-qmp",
        "stdio",
    ];
    let commands = concat!(
        "{\"execute\": \"qmp_capabilities\"}\n",
        "{\"execute\": \"query-cpu-model-expansion\", \"id\": \"model-expansion\", ",
        "\"arguments\": {\"type\": \"full\", \"model\": {\"name\": \"host\"}}}\n",
        "{\"execute\": \"query-cpu-definitions\", \"id\": \"definitions\"}\n",
        "{\"execute\": \"quit\"}\n"
    );
    let mut child = Command::new(qemu)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|error| format!("{qemu}: {error}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(commands.as_bytes())
            .map_err(|error| format!("writing to {qemu}: {error}"))?;
    }
    let output = child
        .wait_with_output()
        .map_err(|error| format!("{qemu}: {error}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let reply = |id: &str| {
        stdout
            .lines()
            .find(|line| line.contains(&format!("\"id\": \"{id}\"")) && line.contains("\"return\""))
            .map(str::to_string)
    };
    match (reply("model-expansion"), reply("definitions")) {
        (Some(expansion), Some(definitions)) => Ok((
            format!("{qemu} {}", args.join(" ")),
            format!("{expansion}\n\n{definitions}\n"),
        )),
        _ => Err(format!(
            "{qemu} gave no replies: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        )),
    }
}

/// `virsh version`, `capabilities`, `domcapabilities` and every domain's XML.
fn libvirt_parts(uri: &str) -> Vec<Part> {
    let virsh = |args: &[&str]| -> Result<(String, String), String> {
        let how = format!("virsh -c {uri} {}", args.join(" "));
        run_tool(Command::new("virsh").args(["-c", uri]).args(args)).map(|text| (how, text))
    };
    let version = virsh(&["version"]);
    if let Err(why) = &version {
        return vec![Part::missing(
            "virsh-version",
            format!("libvirt does not answer: {why}"),
        )];
    }
    let mut parts = vec![
        Part::from("virsh-version", version),
        Part::from("capabilities", virsh(&["capabilities"])),
        Part::from("domcapabilities", virsh(&["domcapabilities"])),
    ];
    match virsh(&["list", "--all", "--name"]) {
        Ok((_, names)) => {
            for name in names.lines().map(str::trim).filter(|name| !name.is_empty()) {
                parts.push(Part::from(
                    &format!("domain:{name}"),
                    virsh(&["dumpxml", name]),
                ));
            }
        }
        Err(why) => parts.push(Part::missing("domains", why)),
    }
    parts
}

/// A tool's standard output; its failure (with its first error line) is an error.
fn run_tool(command: &mut Command) -> Result<String, String> {
    let output = command
        .stdin(Stdio::null())
        .output()
        .map_err(|error| error.to_string())?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(stderr
            .lines()
            .find(|line| !line.trim().is_empty())
            .unwrap_or("failed without a message")
            .trim()
            .to_string());
    }
    String::from_utf8(output.stdout).map_err(|_| "printed non-UTF-8".to_string())
}
