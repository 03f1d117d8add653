//! The real stack as the oracle: every domain of `tests/real/domains/`, as
//! recorded on each stack under `tests/real/<stack>/` (`cargo xtask
//! record-real`), checked again with that stack's QEMU version and each host
//! input the recorder captured, and compared aspect by aspect with what
//! libvirt, QEMU and KVM really did:
//!
//! * `start`: whether the domain started, under its own `check`;
//! * `error`: libvirt's exact error text, when it did not;
//! * `live`: the live `<cpu>` of `virsh dumpxml`, same features in the same
//!   order (indentation normalised), when it started;
//! * `cpu_arg`: the argument after `-cpu`, when QEMU was launched;
//! * `filtered`: the features QEMU filtered, as its `warning:` lines, when
//!   QEMU was launched.
//!
//! Every disagreement must be listed in `tests/real/expected-misses.json`
//! (stack, host input, domain, aspect) with the name of its reason; the file's
//! `reasons` explain each name: a cause no CPU data can predict, or, for a
//! name starting `open-`, `open: ` and the rule still missing. The test fails
//! on a disagreement that is not listed, on a listed one that now agrees and
//! on a reason no miss uses, so the list stays true. It prints the agreement
//! per stack and host input, and holds the README's table of it to the
//! figures it finds.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use guestcpu_core::check::{analyze, CheckError, CheckOptions, Report};
use guestcpu_core::host::{join_hosts, parse_host, HostInput};
use guestcpu_core::json;
use guestcpu_core::libvirt::release::VersionChoice;
use guestcpu_core::CpuMap;

/// The host inputs of a stack: files of its `host/` folder, alone or joined
/// as libvirt joins its own probe with QEMU's answer (`join_hosts`).
const HOST_INPUTS: [&[&str]; 6] = [
    &["qemu.json"],
    &["domcapabilities.xml"],
    &["capabilities.xml"],
    &["cpuid.txt"],
    &["cpuid.txt", "qemu.json"],
    &["cpuid.txt", "domcapabilities.xml"],
];

/// The aspects compared, in the table's order.
const ASPECTS: [&str; 5] = ["start", "error", "live", "cpu_arg", "filtered"];

fn real_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/real")
}

/// What one start did, recorded or predicted.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Outcome {
    started: bool,
    error: Option<String>,
    live_cpu: Option<String>,
    qemu_cpu_arg: Option<String>,
    /// Only the `warning:` lines about CPU features.
    warnings: Vec<String>,
}

/// One recorded stack.
struct Stack {
    name: String,
    /// Its libvirt, as the check is told (`--libvirt`).
    libvirt: VersionChoice,
    /// `MAJOR.MINOR` of its QEMU.
    qemu: String,
    truths: BTreeMap<String, Outcome>,
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn read_truth(path: &Path) -> Outcome {
    let text = read(path);
    let value =
        json::parse(&text).unwrap_or_else(|e| panic!("{}: {}", path.display(), e.describe(&text)));
    let object = value.object().expect("a truth file is an object");
    let field = |key: &str| {
        object
            .optional_string(key)
            .unwrap_or_else(|e| panic!("{}: {key}: {}", path.display(), e.describe(&text)))
    };
    Outcome {
        started: object
            .field("started")
            .and_then(|v| v.boolean())
            .expect("started"),
        error: field("error"),
        live_cpu: field("live_cpu").map(|cpu| normalise_xml(&cpu)),
        qemu_cpu_arg: field("qemu_cpu_arg"),
        warnings: object
            .strings_or_empty("qemu_warnings")
            .expect("qemu_warnings")
            .into_iter()
            .filter(|line| is_feature_warning(line))
            .collect(),
    }
}

/// QEMU's warnings about features it filters (`x86_cpu_filter_features`,
/// `mark_unavailable_features`), the ones a CPU definition causes.
fn is_feature_warning(line: &str) -> bool {
    line.starts_with("warning: host doesn't support requested feature")
        || line.starts_with("warning: This feature depends on other features")
        || line.starts_with("warning: TCG doesn't support requested feature")
}

/// Each line trimmed of its indentation, empty lines dropped.
fn normalise_xml(xml: &str) -> String {
    xml.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The `<cpu>` element of a domain XML, `<cpu .../>` included.
fn cpu_element(domain_xml: &str) -> Option<String> {
    let start = domain_xml.find("<cpu")?;
    let rest = &domain_xml[start..];
    let open_end = rest.find('>')?;
    let end = if rest[..open_end].ends_with('/') {
        open_end + 1
    } else {
        rest.find("</cpu>")? + "</cpu>".len()
    };
    Some(normalise_xml(&rest[..end]))
}

/// The `-cpu` argument as QEMU received it (the report quotes it for a shell).
fn unquote(arg: &str) -> String {
    match arg.strip_prefix('\'').and_then(|a| a.strip_suffix('\'')) {
        Some(inner) => inner.replace("'\\''", "'"),
        None => arg.to_string(),
    }
}

fn load_stacks() -> Vec<Stack> {
    let root = real_dir();
    let mut stacks = Vec::new();
    for entry in fs::read_dir(&root).expect("tests/real is readable") {
        let path = entry.expect("entry").path();
        let name = path
            .file_name()
            .expect("a folder entry has a name")
            .to_string_lossy()
            .to_string();
        if !path.is_dir() || !name.starts_with("libvirt-") {
            continue;
        }
        let text = read(&path.join("stack.json"));
        let value = json::parse(&text).expect("stack.json parses");
        let object = value.object().expect("stack.json is an object");
        let qemu_full = object.string("qemu").expect("qemu version");
        let libvirt_full = object.string("libvirt").expect("libvirt version");
        let libvirt =
            VersionChoice::choose(Some(libvirt_full.parse().expect("a libvirt version")), None);
        let qemu = qemu_full.split('.').take(2).collect::<Vec<_>>().join(".");
        let mut truths = BTreeMap::new();
        for truth in fs::read_dir(path.join("domains")).expect("domains folder") {
            let truth = truth.expect("entry").path();
            if truth.extension().is_some_and(|e| e == "json") {
                let domain = truth
                    .file_stem()
                    .expect("a truth file has a name")
                    .to_string_lossy()
                    .to_string();
                truths.insert(domain, read_truth(&truth));
            }
        }
        stacks.push(Stack {
            name,
            libvirt,
            qemu,
            truths,
        });
    }
    stacks.sort_by(|a, b| a.name.cmp(&b.name));
    stacks
}

/// The host input made of `files` of `host_dir` for `map` (the stack's
/// libvirt's), joined when more than one.
fn host_input(map: &'static CpuMap, host_dir: &Path, files: &[&str]) -> HostInput<'static> {
    let mut parts = Vec::new();
    for file in files {
        let path = host_dir.join(file);
        let text = read(&path);
        let part = parse_host(map, &text)
            .unwrap_or_else(|e| panic!("{}: {}", path.display(), e.render(&text)));
        parts.push((file.to_string(), part));
    }
    if parts.len() == 1 {
        return parts.pop().expect("one part").1;
    }
    join_hosts(map, parts).unwrap_or_else(|e| panic!("{}: {e}", host_dir.display()))
}

/// The engine's outcome for the domain's own `check`.
fn predict(domain_xml: &str, host: &HostInput<'_>, stack: &Stack) -> Outcome {
    let map = CpuMap::for_version(stack.libvirt.version);
    let failed = |message: String| Outcome {
        started: false,
        error: Some(message),
        live_cpu: None,
        qemu_cpu_arg: None,
        warnings: Vec::new(),
    };
    let options = CheckOptions {
        qemu_version: Some(stack.qemu.parse().expect("a QEMU release")),
        qemu_inferred_from: None,
        accelerator: None,
        libvirt: Some(stack.libvirt),
    };
    let report: Report = match analyze(map, domain_xml, host, None, &options) {
        Ok(report) => report,
        Err(CheckError::Cpu(e)) => return failed(e.to_string()),
        // libvirt refuses the definition itself.
        Err(CheckError::Domain(e)) => return failed(e.message),
        Err(e) => return failed(format!("guestcpu: {e}")),
    };
    let verdicts = [
        &report.verdicts.none,
        &report.verdicts.partial,
        &report.verdicts.full,
    ];
    let own = verdicts
        .into_iter()
        .find(|v| v.own)
        .expect("one verdict is the domain's own");
    let launched = report.guest_cpu.is_some();
    Outcome {
        started: own.starts,
        error: (!own.starts).then(|| own.message.clone()),
        live_cpu: report.live_xml.as_deref().and_then(cpu_element),
        qemu_cpu_arg: if launched {
            report.qemu_cpu_arg.as_deref().map(unquote)
        } else {
            None
        },
        warnings: if launched {
            report
                .filtered
                .iter()
                .map(|f| f.qemu_warning.clone())
                .collect()
        } else {
            Vec::new()
        },
    }
}

/// Whether `aspect` applies to `truth`, and if so whether `ours` agrees.
fn agrees(aspect: &str, truth: &Outcome, ours: &Outcome) -> Option<bool> {
    let launched = truth.qemu_cpu_arg.is_some();
    match aspect {
        "start" => Some(truth.started == ours.started),
        "error" => truth.error.as_ref().map(|_| truth.error == ours.error),
        "live" => truth
            .live_cpu
            .as_ref()
            .map(|_| truth.live_cpu == ours.live_cpu),
        "cpu_arg" => launched.then(|| truth.qemu_cpu_arg == ours.qemu_cpu_arg),
        "filtered" => {
            launched.then(|| ours.qemu_cpu_arg.is_some() && truth.warnings == ours.warnings)
        }
        _ => unreachable!("unknown aspect {aspect}"),
    }
}

/// One disagreement (or listed miss): stack, host input, domain, aspect.
type MissKey = (String, String, String, String);

/// The listed misses, each with its reason's name, and the reasons by name.
struct ExpectedMisses {
    misses: BTreeMap<MissKey, String>,
    reasons: BTreeMap<String, String>,
}

fn load_expected_misses() -> ExpectedMisses {
    let path = real_dir().join("expected-misses.json");
    let text = read(&path);
    let fail = |e: json::Error| -> ! { panic!("{}: {}", path.display(), e.describe(&text)) };
    let value = json::parse(&text).unwrap_or_else(|e| fail(e));
    let root = value.object().unwrap_or_else(|e| fail(e));
    let mut reasons = BTreeMap::new();
    for (name, explanation) in root
        .field("reasons")
        .and_then(|r| r.object())
        .unwrap_or_else(|e| fail(e))
        .members()
    {
        let explanation = explanation.string().unwrap_or_else(|e| fail(e)).to_string();
        // A reason is a cause no CPU data can predict, or a rule still missing.
        assert_eq!(
            name.starts_with("open-"),
            explanation.starts_with("open: "),
            "reason {name}: an open reason is named open-… and says `open: `"
        );
        reasons.insert(name.to_string(), explanation);
    }
    let mut misses = BTreeMap::new();
    for entry in root
        .field("misses")
        .and_then(|m| m.array())
        .unwrap_or_else(|e| fail(e))
    {
        let object = entry.object().unwrap_or_else(|e| fail(e));
        let get = |key: &str| object.string(key).unwrap_or_else(|e| fail(e));
        let key = (get("stack"), get("host"), get("domain"), get("aspect"));
        let reason = get("reason");
        assert!(ASPECTS.contains(&key.3.as_str()), "unknown aspect: {key:?}");
        assert!(
            reasons.contains_key(&reason),
            "{key:?}: no reason named {reason}"
        );
        assert!(
            misses.insert(key.clone(), reason).is_none(),
            "listed twice: {key:?}"
        );
    }
    for name in reasons.keys() {
        assert!(
            misses.values().any(|reason| reason == name),
            "reason {name} explains no listed miss: remove it"
        );
    }
    ExpectedMisses { misses, reasons }
}

/// Agreement counts of one stack and host input: (agreeing, compared) per aspect.
type Tally = BTreeMap<&'static str, (usize, usize)>;

#[test]
fn the_engine_agrees_with_every_recorded_stack_except_the_listed_misses() {
    let stacks = load_stacks();
    assert!(!stacks.is_empty(), "no recorded stack under tests/real");
    let expected = load_expected_misses();
    let mut found: BTreeMap<MissKey, String> = BTreeMap::new();
    let mut tallies: Vec<(String, String, Tally)> = Vec::new();
    for stack in &stacks {
        let host_dir = real_dir().join(&stack.name).join("host");
        for files in HOST_INPUTS {
            let input = files.join(" + ");
            let map = CpuMap::for_version(stack.libvirt.version);
            let host = host_input(map, &host_dir, files);
            let mut tally: Tally = ASPECTS.iter().map(|a| (*a, (0, 0))).collect();
            for (domain, truth) in &stack.truths {
                let domain_xml = read(&real_dir().join("domains").join(format!("{domain}.xml")));
                let ours = predict(&domain_xml, &host, stack);
                for aspect in ASPECTS {
                    let Some(agreed) = agrees(aspect, truth, &ours) else {
                        continue;
                    };
                    let counts = tally.get_mut(aspect).expect("every aspect tallied");
                    counts.1 += 1;
                    if agreed {
                        counts.0 += 1;
                    } else {
                        let key = (
                            stack.name.clone(),
                            input.to_string(),
                            domain.clone(),
                            aspect.to_string(),
                        );
                        found.insert(key, describe_miss(aspect, truth, &ours));
                    }
                }
            }
            tallies.push((stack.name.clone(), input, tally));
        }
    }

    let table = agreement_table(&tallies, &found, &expected);
    let expected = expected.misses;
    println!("{table}");

    let unlisted: Vec<_> = found
        .keys()
        .filter(|k| !expected.contains_key(*k))
        .collect();
    let now_agree: Vec<_> = expected
        .keys()
        .filter(|k| !found.contains_key(*k))
        .collect();
    let mut problems = String::new();
    for key in &unlisted {
        let _ = writeln!(
            problems,
            "unlisted disagreement: {{\"stack\": \"{}\", \"host\": \"{}\", \"domain\": \"{}\", \"aspect\": \"{}\", \"reason\": \"NAME\"}} (NAME: one of the reasons, or a new one: a cause no CPU data predicts, or open-…, `open: ` and the missing rule)\n    {}",
            key.0, key.1, key.2, key.3, found[*key]
        );
    }
    for key in &now_agree {
        let _ = writeln!(problems, "listed miss now agrees (remove it): {key:?}");
    }
    assert!(problems.is_empty(), "{problems}");

    let readme = read(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../README.md"));
    assert!(
        readme.contains(&table),
        "README.md's agreement table is stale; it must contain:\n{table}"
    );
}

/// What was recorded against what the engine says, for a person reading the failure.
fn describe_miss(aspect: &str, truth: &Outcome, ours: &Outcome) -> String {
    match aspect {
        "start" => format!(
            "recorded started={} ({:?}), guestcpu started={} ({:?})",
            truth.started, truth.error, ours.started, ours.error
        ),
        "error" => format!("recorded {:?}\n    guestcpu {:?}", truth.error, ours.error),
        "live" => format!(
            "recorded\n{}\n    guestcpu\n{}",
            truth.live_cpu.as_deref().unwrap_or("-"),
            ours.live_cpu.as_deref().unwrap_or("-")
        ),
        "cpu_arg" => format!(
            "recorded {:?}\n    guestcpu {:?}",
            truth.qemu_cpu_arg, ours.qemu_cpu_arg
        ),
        _ => format!(
            "recorded {:?}\n    guestcpu {:?}",
            truth.warnings, ours.warnings
        ),
    }
}

/// The agreement per stack and host input as a Markdown table, then the
/// expected misses per reason and stack.
fn agreement_table(
    tallies: &[(String, String, Tally)],
    found: &BTreeMap<MissKey, String>,
    expected: &ExpectedMisses,
) -> String {
    let mut out = String::new();
    out.push_str(
        "| stack | host input | starts | error text | live `<cpu>` | `-cpu` | filtered |\n",
    );
    out.push_str("|---|---|---|---|---|---|---|\n");
    for (stack, input, tally) in tallies {
        let _ = write!(out, "| {stack} | {input} |");
        for aspect in ASPECTS {
            let (agreed, compared) = tally[aspect];
            let _ = write!(out, " {agreed}/{compared} |");
        }
        out.push('\n');
    }
    let stacks: Vec<&String> = {
        let mut stacks: Vec<&String> = tallies.iter().map(|(stack, _, _)| stack).collect();
        stacks.dedup();
        stacks
    };
    let mut counts: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for (key, reason) in expected
        .misses
        .iter()
        .filter(|(k, _)| found.contains_key(*k))
    {
        *counts.entry((reason.as_str(), key.0.as_str())).or_default() += 1;
    }
    out.push_str("\n| expected misses |");
    for stack in &stacks {
        let _ = write!(out, " {stack} |");
    }
    out.push_str(" cause |\n|---|");
    out.push_str(&"---|".repeat(stacks.len() + 1));
    out.push('\n');
    for (name, explanation) in &expected.reasons {
        let _ = write!(out, "| {name} |");
        for stack in &stacks {
            let count = counts
                .get(&(name.as_str(), stack.as_str()))
                .copied()
                .unwrap_or(0);
            let _ = write!(out, " {count} |");
        }
        let _ = writeln!(out, " {explanation} |");
    }
    out
}
