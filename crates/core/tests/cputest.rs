//! libvirt's `tests/cputest.c`, data-driven: every row of `cases.tsv` in
//! `../shared/libvirt/cputestdata` goes through one [`check_case`] helper.
//!
//! A case is judged by meaning (type, mode, match, check, fallback, model,
//! vendor, signature and every feature's policy once models are expanded), so
//! that an output listing the same CPU in another order still passes; the
//! summary also counts how many outputs are byte-identical to libvirt's files,
//! which is the stronger promise the formatter makes. The test fails listing
//! every failing case with the expected and actual answers.
//!
//! Only the public API is used, and every host input goes through
//! [`guestcpu_core::host::parse_host`], exactly as the CLI reads it.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use guestcpu_core::host::{parse_host, HostInput};
use guestcpu_core::libvirt::baseline::{baseline, parse_cpu_test};
use guestcpu_core::libvirt::compare::{compare, has_feature, CompareResult};
use guestcpu_core::libvirt::expand::expand_features;
use guestcpu_core::libvirt::translate::translate;
use guestcpu_core::libvirt::update::update;
use guestcpu_core::libvirt::update_live::{live_differences, update_live};
use guestcpu_core::libvirt::{copy_migratable, find_hypervisor_model, HypervisorModel};
use guestcpu_core::{CpuDef, CpuMap, Fallback, Policy, Signature};

use crate::shared;

/// One row of `cases.tsv`.
struct Case {
    /// 1-based line in `cases.tsv`, to find the row again.
    line: usize,
    kind: String,
    args: Vec<String>,
}

impl Case {
    fn arg(&self, index: usize) -> Result<&str, String> {
        self.args
            .get(index)
            .map(String::as_str)
            .ok_or_else(|| format!("cases.tsv:{}: missing argument {}", self.line, index + 1))
    }
}

/// What a CPU-producing step is expected to give.
enum ExpectedCpu {
    /// libvirt's file of that name.
    File(String),
    /// The step must fail.
    Error,
}

/// One answer of a case, next to what the engine gave.
enum Observation {
    /// A one-word answer: a compare verdict, `YES`/`NO`/`FAIL`, a `.sig` text.
    Answer {
        what: String,
        expected: String,
        actual: String,
    },
    /// A CPU definition checked against libvirt's file (or an expected error).
    Cpu {
        what: String,
        expected: ExpectedCpu,
        actual: Box<Result<CpuDef, String>>,
    },
    /// A property checked by the harness itself; `failure` says what is wrong.
    Check {
        what: String,
        failure: Option<String>,
    },
}

/// How one case went.
#[derive(Default)]
struct CaseOutcome {
    failures: Vec<String>,
    /// CPU outputs compared with a libvirt file.
    cpu_outputs: usize,
    byte_identical: usize,
    /// Files whose bytes differ although the meaning is the same.
    only_meaning: Vec<String>,
}

/// Per-kind totals for the summary.
#[derive(Default)]
struct KindTotals {
    cases: usize,
    passed: usize,
    cpu_outputs: usize,
    byte_identical: usize,
}

#[test]
fn cputest_cases() {
    let Some(dir) = shared::libvirt_dir("cputestdata", "cputest_cases") else {
        return;
    };
    let context = Context {
        map: CpuMap::embedded(),
        dir,
    };
    let table = context.read("cases.tsv").expect("cases.tsv is readable");
    let cases: Vec<Case> = table
        .lines()
        .enumerate()
        .filter(|(_, line)| !line.starts_with('#') && !line.trim().is_empty())
        .map(|(index, line)| {
            let mut columns = line.split('\t').map(str::to_string);
            Case {
                line: index + 1,
                kind: columns.next().unwrap_or_default(),
                args: columns.collect(),
            }
        })
        .collect();

    let mut totals: BTreeMap<String, KindTotals> = BTreeMap::new();
    let mut report = String::new();
    let mut only_meaning = Vec::new();
    for case in &cases {
        let outcome = check_case(&context, case);
        let kind = totals.entry(case.kind.clone()).or_default();
        kind.cases += 1;
        kind.cpu_outputs += outcome.cpu_outputs;
        kind.byte_identical += outcome.byte_identical;
        only_meaning.extend(outcome.only_meaning);
        if outcome.failures.is_empty() {
            kind.passed += 1;
        } else {
            let _ = writeln!(
                report,
                "FAIL {} {} (cases.tsv:{})",
                case.kind,
                case.args.join(" "),
                case.line
            );
            for failure in &outcome.failures {
                for line in failure.lines() {
                    let _ = writeln!(report, "    {line}");
                }
            }
        }
    }

    let all = totals
        .values()
        .fold(KindTotals::default(), |sum, kind| KindTotals {
            cases: sum.cases + kind.cases,
            passed: sum.passed + kind.passed,
            cpu_outputs: sum.cpu_outputs + kind.cpu_outputs,
            byte_identical: sum.byte_identical + kind.byte_identical,
        });
    println!(
        "cputest: {} cases, {} pass, {} of {} CPU outputs byte-identical",
        all.cases, all.passed, all.byte_identical, all.cpu_outputs
    );
    for (name, kind) in &totals {
        println!(
            "  {name:<15} {:>3} cases, {:>3} pass, {:>3} of {:>3} byte-identical",
            kind.cases, kind.passed, kind.byte_identical, kind.cpu_outputs
        );
    }
    for file in &only_meaning {
        println!("  same meaning, different bytes: {file}");
    }
    assert!(
        report.is_empty(),
        "{} of {} cputest cases fail:\n{report}",
        all.cases - all.passed,
        all.cases
    );
    assert_eq!(
        all.byte_identical, all.cpu_outputs,
        "every expected CPU file must be byte-identical"
    );
    let claim = format!(
        "{} cases pass and all {} expected CPU files are byte-identical",
        all.cases, all.cpu_outputs
    );
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md"))
            .expect("README.md is readable");
    assert!(
        readme
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .contains(&claim),
        "README.md must say \"{claim}\" (the figures this test found)"
    );
}

/// Runs one case and judges every answer it gives.
fn check_case(context: &Context, case: &Case) -> CaseOutcome {
    let mut outcome = CaseOutcome::default();
    let observations = match run_case(context, case) {
        Ok(observations) => observations,
        Err(problem) => {
            outcome.failures.push(format!("cannot run: {problem}"));
            return outcome;
        }
    };
    for observation in observations {
        match observation {
            Observation::Answer {
                what,
                expected,
                actual,
            } => {
                if expected != actual {
                    outcome
                        .failures
                        .push(format!("{what}: expected {expected:?}, actual {actual:?}"));
                }
            }
            Observation::Check { what, failure } => {
                if let Some(failure) = failure {
                    outcome.failures.push(format!("{what}: {failure}"));
                }
            }
            Observation::Cpu {
                what,
                expected,
                actual,
            } => judge_cpu(context, &what, &expected, actual.as_ref(), &mut outcome),
        }
    }
    outcome
}

/// Compares a CPU output with libvirt's file, by meaning and by bytes.
fn judge_cpu(
    context: &Context,
    what: &str,
    expected: &ExpectedCpu,
    actual: &Result<CpuDef, String>,
    outcome: &mut CaseOutcome,
) {
    let file = match (expected, actual) {
        (ExpectedCpu::Error, Err(_)) => return,
        (ExpectedCpu::Error, Ok(cpu)) => {
            outcome
                .failures
                .push(format!("{what}: expected an error, got:\n{}", cpu.to_xml()));
            return;
        }
        (ExpectedCpu::File(file), Err(error)) => {
            outcome
                .failures
                .push(format!("{what}: expected {file}, got error: {error}"));
            return;
        }
        (ExpectedCpu::File(file), Ok(_)) => file,
    };
    let Ok(actual) = actual else { return };
    let expected_text = match context.read(file) {
        Ok(text) => text,
        Err(problem) => {
            outcome.failures.push(format!("{what}: {problem}"));
            return;
        }
    };
    let expected_cpu = match CpuDef::parse(&expected_text) {
        Ok(cpu) => cpu,
        Err(error) => {
            outcome
                .failures
                .push(format!("{what}: {file} does not parse: {error}"));
            return;
        }
    };
    let actual_xml = actual.to_xml();
    outcome.cpu_outputs += 1;
    let identical = actual_xml == expected_text;
    if identical {
        outcome.byte_identical += 1;
    }
    let differences = meaning_differences(context.map, &expected_cpu, actual);
    if !differences.is_empty() {
        outcome.failures.push(format!(
            "{what} ({file}):\n  {}\n{}",
            differences.join("\n  "),
            line_diff(&expected_text, &actual_xml)
        ));
    } else if !identical {
        outcome.only_meaning.push(format!("{file} ({what})"));
    }
}

/// The ways two CPU definitions differ in meaning; empty when they agree.
fn meaning_differences(map: &CpuMap, expected: &CpuDef, actual: &CpuDef) -> Vec<String> {
    let mut differences = Vec::new();
    let mut field = |name: &str, expected: String, actual: String| {
        if expected != actual {
            differences.push(format!("{name}: expected {expected}, actual {actual}"));
        }
    };
    field(
        "type",
        format!("{:?}", expected.cpu_type),
        format!("{:?}", actual.cpu_type),
    );
    field(
        "mode",
        expected.mode.as_str().into(),
        actual.mode.as_str().into(),
    );
    field(
        "match",
        expected.match_mode.as_str().into(),
        actual.match_mode.as_str().into(),
    );
    field(
        "check",
        format!("{:?}", expected.check),
        format!("{:?}", actual.check),
    );
    field(
        "fallback",
        expected.fallback.as_str().into(),
        actual.fallback.as_str().into(),
    );
    field(
        "model",
        format!("{:?}", expected.model),
        format!("{:?}", actual.model),
    );
    field(
        "vendor",
        format!("{:?}", expected.vendor),
        format!("{:?}", actual.vendor),
    );
    // Only host CPUs carry a signature in libvirt's XML.
    if expected.cpu_type == guestcpu_core::CpuType::Host {
        field(
            "signature",
            format!("{:?}", expected.signature),
            format!("{:?}", actual.signature),
        );
    }
    field(
        "topology",
        format!("{:?}", expected.topology),
        format!("{:?}", actual.topology),
    );
    let expected_features = expanded_policies(map, expected);
    let actual_features = expanded_policies(map, actual);
    let names: std::collections::BTreeSet<&String> = expected_features
        .keys()
        .chain(actual_features.keys())
        .collect();
    for name in names {
        let policy = |features: &BTreeMap<String, String>| {
            features
                .get(name)
                .cloned()
                .unwrap_or_else(|| "absent".into())
        };
        let (want, got) = (policy(&expected_features), policy(&actual_features));
        if want != got {
            differences.push(format!("feature {name}: expected {want}, actual {got}"));
        }
    }
    differences
}

/// Each feature's policy once the model is spelled out; a definition whose
/// model cannot be expanded (none, or unknown) keeps its own list.
fn expanded_policies(map: &CpuMap, cpu: &CpuDef) -> BTreeMap<String, String> {
    let mut expanded = cpu.clone();
    if cpu.model.is_some() && expand_features(map, &mut expanded).is_err() {
        expanded = cpu.clone();
    }
    // Expansion drops force/optional/forbid entries of a guest; keep them
    // visible, since they are part of what the definition means.
    let mut policies: BTreeMap<String, String> = expanded
        .features
        .iter()
        .map(|f| (f.name.clone(), policy_name(f.policy)))
        .collect();
    for feature in &cpu.features {
        if matches!(
            feature.policy,
            Some(Policy::Force | Policy::Optional | Policy::Forbid)
        ) {
            policies.insert(feature.name.clone(), policy_name(feature.policy));
        }
    }
    policies
}

fn policy_name(policy: Option<Policy>) -> String {
    policy.map_or("none", Policy::as_str).to_string()
}

/// The lines only one side has, marked `-` (expected) and `+` (actual).
fn line_diff(expected: &str, actual: &str) -> String {
    let mut diff = String::new();
    for line in expected
        .lines()
        .filter(|l| !actual.lines().any(|a| a == *l))
    {
        let _ = writeln!(diff, "  - {line}");
    }
    for line in actual
        .lines()
        .filter(|l| !expected.lines().any(|e| e == *l))
    {
        let _ = writeln!(diff, "  + {line}");
    }
    diff
}

/// The map and the data folder every case reads from.
struct Context {
    map: &'static CpuMap,
    dir: PathBuf,
}

impl Context {
    fn read(&self, file: &str) -> Result<String, String> {
        std::fs::read_to_string(self.dir.join(file)).map_err(|e| format!("{file}: {e}"))
    }

    /// A host input file, read the way the CLI reads `HOST`.
    fn host(&self, file: &str) -> Result<(String, String), String> {
        let text = self.read(file)?;
        Ok((file.to_string(), text))
    }

    /// `x86_64-NAME.xml` as a host CPU, through [`parse_host`].
    fn host_cpu(&self, name: &str) -> Result<CpuDef, String> {
        let (file, text) = self.host(&format!("x86_64-{name}.xml"))?;
        let input = self.parse_host(&file, &text)?;
        input.host_cpu().map_err(|e| format!("{file}: {e}"))
    }

    fn parse_host(&self, file: &str, text: &str) -> Result<HostInput<'static>, String> {
        parse_host(self.map, text).map_err(|e| format!("{file}: {}", e.render(text)))
    }

    /// `x86_64-NAME.xml` as a guest (or any) CPU definition.
    fn cpu(&self, name: &str) -> Result<CpuDef, String> {
        self.cpu_file(&format!("x86_64-{name}.xml"))
    }

    fn cpu_file(&self, file: &str) -> Result<CpuDef, String> {
        let text = self.read(file)?;
        CpuDef::parse(&text).map_err(|e| format!("{file}: {e}"))
    }
}

fn verdict_word(result: &Result<CompareResult, guestcpu_core::CpuError>) -> String {
    match result {
        Ok(CompareResult::Identical) => "IDENTICAL",
        Ok(CompareResult::Superset) => "SUPERSET",
        Ok(CompareResult::Incompatible(_)) => "INCOMPATIBLE",
        Err(_) => "ERROR",
    }
    .to_string()
}

fn expected_cpu(word: &str) -> ExpectedCpu {
    if word == "ERROR" {
        ExpectedCpu::Error
    } else {
        ExpectedCpu::File(word.to_string())
    }
}

/// Runs the operation a case names and collects its answers.
fn run_case(context: &Context, case: &Case) -> Result<Vec<Observation>, String> {
    match case.kind.as_str() {
        "compare" => run_compare(context, case),
        "update" => run_update(context, case),
        "baseline" => run_baseline(context, case),
        "hasfeature" => run_has_feature(context, case),
        "guestcpu" => run_guest_cpu(context, case),
        "cpuid" => run_cpuid(context, case),
        "cpuid-baseline" => run_cpuid_baseline(context, case),
        other => Err(format!("unknown case kind `{other}`")),
    }
}

/// `DO_TEST_COMPARE`: `virCPUCompare(host, cpu, false)`.
fn run_compare(context: &Context, case: &Case) -> Result<Vec<Observation>, String> {
    let host = context.host_cpu(case.arg(0)?)?;
    let cpu = context.cpu(case.arg(1)?)?;
    let verdict = compare(context.map, Some(&host), &cpu, false);
    Ok(vec![Observation::Answer {
        what: "compare".into(),
        expected: case.arg(2)?.to_string(),
        actual: verdict_word(&verdict),
    }])
}

/// `DO_TEST_UPDATE`: the guest updated against the migratable copy of the host.
fn run_update(context: &Context, case: &Case) -> Result<Vec<Observation>, String> {
    let host = context.host_cpu(case.arg(0)?)?;
    let mut cpu = context.cpu(case.arg(1)?)?;
    let migratable_host = copy_migratable(context.map, &host);
    let actual = update(
        context.map,
        &mut cpu,
        Some(&migratable_host),
        Policy::Disable,
    )
    .map(|()| cpu)
    .map_err(|e| e.to_string());
    Ok(vec![Observation::Cpu {
        what: "update".into(),
        expected: expected_cpu(case.arg(2)?),
        actual: Box::new(actual),
    }])
}

/// `DO_TEST_BASELINE`, then every input must run on the result.
fn run_baseline(context: &Context, case: &Case) -> Result<Vec<Observation>, String> {
    let file = case.arg(0)?;
    let flag = case.arg(1)?;
    let text = context.read(file)?;
    let cpus = parse_cpu_test(&text).map_err(|e| format!("{file}: {e}"))?;
    let actual = baseline(context.map, &cpus, None, None, flag == "migratable")
        .and_then(|mut cpu| {
            if flag == "expand-features" {
                expand_features(context.map, &mut cpu)?;
            }
            Ok(cpu)
        })
        .map_err(|e| e.to_string());
    let mut observations = runs_on(context, &cpus, &actual);
    observations.push(Observation::Cpu {
        what: format!("baseline ({flag})"),
        expected: expected_cpu(case.arg(2)?),
        actual: Box::new(actual),
    });
    Ok(observations)
}

/// cputest's post-check of a baseline: each input compares identical or
/// superset against the result.
fn runs_on(
    context: &Context,
    inputs: &[CpuDef],
    result: &Result<CpuDef, String>,
) -> Vec<Observation> {
    let Ok(result) = result else {
        return Vec::new();
    };
    inputs
        .iter()
        .enumerate()
        .map(|(index, input)| {
            let verdict = compare(context.map, Some(input), result, false);
            let word = verdict_word(&verdict);
            Observation::Check {
                what: format!("input {index} against the baseline"),
                failure: (!matches!(word.as_str(), "IDENTICAL" | "SUPERSET"))
                    .then(|| format!("compares {word}: {verdict:?}")),
            }
        })
        .collect()
}

/// `DO_TEST_HASFEATURE`: `virCPUCheckFeature` on the host CPU.
fn run_has_feature(context: &Context, case: &Case) -> Result<Vec<Observation>, String> {
    let host = context.host_cpu(case.arg(0)?)?;
    let actual = match has_feature(context.map, &host, case.arg(1)?) {
        Ok(true) => "YES",
        Ok(false) => "NO",
        Err(_) => "FAIL",
    };
    Ok(vec![Observation::Answer {
        what: "has-feature".into(),
        expected: case.arg(2)?.to_string(),
        actual: actual.into(),
    }])
}

/// `DO_TEST_GUESTCPU`: compare must pass, then update with the full host, then
/// translate to the hypervisor's list.
fn run_guest_cpu(context: &Context, case: &Case) -> Result<Vec<Observation>, String> {
    let host = context.host_cpu(case.arg(0)?)?;
    let mut cpu = context.cpu(case.arg(1)?)?;
    let allowed: Option<Vec<HypervisorModel>> = match case.arg(2)? {
        "-" => None,
        list => Some(list.split(',').map(HypervisorModel::named).collect()),
    };
    let actual = match compare(context.map, Some(&host), &cpu, false) {
        Err(error) => Err(error.to_string()),
        Ok(CompareResult::Incompatible(reason)) => Err(format!("incompatible: {reason}")),
        Ok(_) => update(context.map, &mut cpu, Some(&host), Policy::Disable)
            .and_then(|()| match &allowed {
                Some(allowed) => translate(context.map, &mut cpu, allowed),
                None => Ok(()),
            })
            .map(|()| cpu)
            .map_err(|e| e.to_string()),
    };
    Ok(vec![Observation::Cpu {
        what: "guest CPU".into(),
        expected: expected_cpu(case.arg(3)?),
        actual: Box::new(actual),
    }])
}

/// libvirt's `.sig` text for a signature.
fn signature_text(signature: Signature) -> String {
    format!(
        "{:06x}\nfamily:   {:3} (0x{:02x})\nmodel:    {:3} (0x{:02x})\nstepping: {:3} (0x{:02x})\n",
        signature.to_eax(),
        signature.family,
        signature.family,
        signature.model,
        signature.model,
        signature.stepping,
        signature.stepping
    )
}

/// Every cputest check of one real CPU: host and guest decode, signatures,
/// the host-model from QEMU and the live-update equivalence (spec 13).
fn run_cpuid(context: &Context, case: &Case) -> Result<Vec<Observation>, String> {
    let name = case.arg(0)?;
    let qemu_data = case.arg(1)?;
    let uses_definitions = matches!(qemu_data, "models" | "models_required");
    let prefix = format!("x86_64-cpuid-{name}");
    let dump_file = format!("{prefix}.xml");
    let dump_text = context.read(&dump_file)?;
    let dump = context.parse_host(&dump_file, &dump_text)?;
    let expected_signature = context.read(&format!("{prefix}.sig"))?;

    let json = if qemu_data == "none" {
        None
    } else {
        let file = format!("{prefix}.json");
        let text = context.read(&file)?;
        Some(context.parse_host(&file, &text)?)
    };
    let definitions = match (&json, uses_definitions) {
        (Some(json), true) => Some(
            json.hypervisor_models()
                .ok_or("the QMP replies have no `query-cpu-definitions` reply")?,
        ),
        _ => None,
    };

    let mut observations = vec![
        Observation::Cpu {
            what: "host CPU from CPUID".into(),
            expected: ExpectedCpu::File(format!("{prefix}-host.xml")),
            actual: Box::new(dump.host_cpu().map_err(|e| e.to_string())),
        },
        Observation::Cpu {
            what: "guest CPU from CPUID".into(),
            expected: ExpectedCpu::File(format!("{prefix}-guest.xml")),
            actual: Box::new(
                dump.host_model_with(definitions.as_deref())
                    .map_err(|e| e.to_string()),
            ),
        },
        Observation::Answer {
            what: "signature from CPUID".into(),
            expected: expected_signature.clone(),
            actual: dump.signature().map(signature_text).unwrap_or_default(),
        },
    ];
    if let Some(json) = &json {
        observations.push(Observation::Cpu {
            what: "host-model from QMP".into(),
            expected: ExpectedCpu::File(format!("{prefix}-json.xml")),
            actual: Box::new(
                json.host_model_with(definitions.as_deref())
                    .map_err(|e| e.to_string()),
            ),
        });
        observations.push(Observation::Answer {
            what: "signature from QMP".into(),
            expected: expected_signature,
            actual: json.signature().map(signature_text).unwrap_or_default(),
        });
        observations.push(Observation::Check {
            what: "live update".into(),
            failure: live_update_failure(context, &prefix, definitions.as_deref()).err(),
        });
    }
    Ok(observations)
}

/// cputest's `cpuTestUpdateLive` (spec 9.3): the `-guest.xml` CPU, updated with
/// what QEMU enabled and disabled, must mean the same as `-json.xml`.
fn live_update_failure(
    context: &Context,
    prefix: &str,
    definitions: Option<&[HypervisorModel]>,
) -> Result<(), String> {
    let mut cpu = context.cpu_file(&format!("{prefix}-guest.xml"))?;
    let mut expected = context.cpu_file(&format!("{prefix}-json.xml"))?;
    let features_of = |suffix: &str| -> Result<_, String> {
        let file = format!("{prefix}-{suffix}.xml");
        let text = context.read(&file)?;
        let input = context.parse_host(&file, &text)?;
        Ok(input.cpuid_features())
    };
    let enabled = features_of("enabled")?;
    let disabled = features_of("disabled")?;

    if cpu.model != expected.model {
        let model = expected.model.clone().unwrap_or_default();
        let entry = definitions
            .and_then(|models| find_hypervisor_model(models, &model))
            .cloned()
            .unwrap_or_else(|| HypervisorModel::named(&model));
        let fallback = cpu.fallback;
        cpu.fallback = Fallback::Allow;
        // libvirt ignores a failed translation here; the comparison catches it.
        let _ = translate(context.map, &mut cpu, &[entry]);
        cpu.fallback = fallback;
    }
    update_live(context.map, &mut cpu, &enabled, &disabled)
        .map_err(|e| format!("update_live: {e}"))?;
    expand_features(context.map, &mut cpu).map_err(|e| format!("expand actual: {e}"))?;
    expand_features(context.map, &mut expected).map_err(|e| format!("expand expected: {e}"))?;
    let differences = live_differences(&cpu, &expected);
    if differences.is_empty() {
        Ok(())
    } else {
        Err(format!("{differences:?}"))
    }
}

/// `DO_TEST_CPUID_BASELINE`: the baseline of two host-model CPUs, which both
/// must run on it.
fn run_cpuid_baseline(context: &Context, case: &Case) -> Result<Vec<Observation>, String> {
    let inputs = [case.arg(1)?, case.arg(2)?]
        .iter()
        .map(|name| context.cpu_file(&format!("x86_64-cpuid-{name}-json.xml")))
        .collect::<Result<Vec<_>, _>>()?;
    let actual = baseline(context.map, &inputs, None, None, false).map_err(|e| e.to_string());
    let mut observations = runs_on(context, &inputs, &actual);
    observations.push(Observation::Cpu {
        what: "CPUID baseline".into(),
        expected: expected_cpu(case.arg(3)?),
        actual: Box::new(actual),
    });
    Ok(observations)
}
