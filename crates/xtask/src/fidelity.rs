//! `cargo xtask fidelity [CPUTESTDATA]`: how well guestcpu predicts QEMU's
//! model blockers, measured against libvirt's captured QEMU answers.
//!
//! For every host of `../shared/libvirt/cputestdata` whose `NAME.json` holds a
//! `query-cpu-definitions` reply, every model QEMU listed that libvirt's map
//! knows is one pair; QEMU's `unavailable-features` (translated to libvirt
//! names) is the truth. Two predictions are scored, each with every embedded
//! QEMU data version: from the raw CPUID of `x86_64-cpuid-NAME.xml` under KVM,
//! and from the QMP `host` expansion alone (the definitions reply is never
//! used to predict). The report gives the share of exactly matching pairs,
//! the data version that fits each host best, and the features most often
//! wrong in each direction.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use guestcpu_core::data::CpuMap;
use guestcpu_core::domain::Accelerator;
use guestcpu_core::dump;
use guestcpu_core::qemu::accel::HostFeatures;
use guestcpu_core::qemu::definitions::{QemuDefinitions, QemuVersion};
use guestcpu_core::qemu::models::model_usability;

/// How a prediction was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum PredictionMode {
    /// From the raw CPUID dump, KVM rules applied.
    RawCpuid,
    /// From QEMU's `host` expansion under KVM.
    QmpExpansion,
}

impl PredictionMode {
    pub const ALL: [PredictionMode; 2] = [PredictionMode::RawCpuid, PredictionMode::QmpExpansion];

    fn label(self) -> &'static str {
        match self {
            PredictionMode::RawCpuid => "raw CPUID",
            PredictionMode::QmpExpansion => "QMP host expansion",
        }
    }
}

/// One host of the test data with QEMU's answer.
struct HostCase {
    name: String,
    raw: HostFeatures,
    expansion: HostFeatures,
    /// Model name → QEMU's blockers (libvirt names, sorted).
    truth: BTreeMap<String, BTreeSet<String>>,
}

/// Scores of one mode with one data version.
#[derive(Debug, Default, Clone)]
pub struct Score {
    pub pairs: usize,
    pub exact: usize,
    /// Per host: (pairs, exact).
    pub per_host: BTreeMap<String, (usize, usize)>,
    /// Feature → how often predicted but not real.
    pub predicted_not_real: BTreeMap<String, usize>,
    /// Feature → how often real but not predicted.
    pub real_not_predicted: BTreeMap<String, usize>,
}

impl Score {
    pub fn share(&self) -> f64 {
        if self.pairs == 0 {
            return 0.0;
        }
        self.exact as f64 / self.pairs as f64
    }
}

/// The whole report: `(mode, version) → score`, plus the best-fitting
/// version per host and mode.
pub struct FidelityReport {
    pub scores: BTreeMap<(PredictionMode, String), Score>,
    pub best: BTreeMap<(PredictionMode, String), Score>,
}

fn load_cases(map: &CpuMap, dir: &Path) -> Result<Vec<HostCase>> {
    let mut cases = Vec::new();
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for path in entries {
        let Some(name) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_prefix("x86_64-cpuid-"))
            .and_then(|n| n.strip_suffix(".json"))
        else {
            continue;
        };
        let json = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let qmp = dump::parse(&json).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        let Some(replies) = qmp.qemu.as_ref() else {
            continue;
        };
        let (Some(definitions), Some(expansion)) = (&replies.definitions, &replies.expansion)
        else {
            continue;
        };
        let xml_path = dir.join(format!("x86_64-cpuid-{name}.xml"));
        let xml = std::fs::read_to_string(&xml_path)
            .with_context(|| format!("reading {}", xml_path.display()))?;
        let raw_dump =
            dump::parse(&xml).map_err(|e| anyhow::anyhow!("{}: {e}", xml_path.display()))?;
        let mut truth = BTreeMap::new();
        for definition in definitions {
            let Some(unavailable) = &definition.unavailable_features else {
                continue;
            };
            if definition.name == "host" || map.model_id(&definition.name).is_none() {
                continue;
            }
            let blockers: BTreeSet<String> = unavailable
                .iter()
                .filter(|qemu_name| !qemu_name.is_empty())
                .map(|qemu_name| match map.feature_by_qemu_alias(qemu_name) {
                    Some(id) => map.feature(id).name.clone(),
                    None => guestcpu_core::data::qemu_to_libvirt(qemu_name).to_string(),
                })
                .collect();
            truth.insert(definition.name.clone(), blockers);
        }
        cases.push(HostCase {
            name: name.to_string(),
            raw: HostFeatures::from_cpuid(map, &raw_dump.cpuid),
            expansion: HostFeatures::from_expansion(map, expansion),
            truth,
        });
    }
    Ok(cases)
}

fn score_case(
    map: &CpuMap,
    version: &QemuVersion,
    case: &HostCase,
    host: &HostFeatures,
    score: &mut Score,
) {
    let predicted: BTreeMap<String, BTreeSet<String>> =
        model_usability(map, version, Accelerator::Kvm, host)
            .into_iter()
            .map(|m| (m.name, m.blockers.into_iter().collect()))
            .collect();
    let entry = score.per_host.entry(case.name.clone()).or_default();
    for (model, real) in &case.truth {
        let empty = BTreeSet::new();
        let guess = predicted.get(model).unwrap_or(&empty);
        score.pairs += 1;
        entry.0 += 1;
        if guess == real {
            score.exact += 1;
            entry.1 += 1;
        } else if std::env::var_os("FIDELITY_VERBOSE").is_some() {
            eprintln!(
                "{} {} {}: predicted {:?}, real {:?}",
                version.version,
                case.name,
                model,
                guess.difference(real).collect::<Vec<_>>(),
                real.difference(guess).collect::<Vec<_>>()
            );
        }
        for extra in guess.difference(real) {
            *score.predicted_not_real.entry(extra.clone()).or_default() += 1;
        }
        for missing in real.difference(guess) {
            *score.real_not_predicted.entry(missing.clone()).or_default() += 1;
        }
    }
}

/// Computes the report over the test data in `dir`.
pub fn measure(dir: &Path) -> Result<FidelityReport> {
    let map = CpuMap::embedded();
    let cases = load_cases(map, dir)?;
    if cases.is_empty() {
        bail!("no host with `query-cpu-definitions` in {}", dir.display());
    }
    let mut scores: BTreeMap<(PredictionMode, String), Score> = BTreeMap::new();
    let mut best: BTreeMap<(PredictionMode, String), Score> = BTreeMap::new();
    for mode in PredictionMode::ALL {
        for case in &cases {
            let host = match mode {
                PredictionMode::RawCpuid => &case.raw,
                PredictionMode::QmpExpansion => &case.expansion,
            };
            let mut best_here: Option<(String, Score)> = None;
            for version in QemuDefinitions::embedded().versions() {
                let mut one = Score::default();
                score_case(map, version, case, host, &mut one);
                let total = scores.entry((mode, version.version.clone())).or_default();
                merge(total, &one);
                if best_here.as_ref().is_none_or(|(_, b)| one.exact > b.exact) {
                    best_here = Some((version.version.clone(), one));
                }
            }
            if let Some((version, one)) = best_here {
                let total = best.entry((mode, version)).or_default();
                merge(total, &one);
            }
        }
    }
    Ok(FidelityReport { scores, best })
}

fn merge(total: &mut Score, one: &Score) {
    total.pairs += one.pairs;
    total.exact += one.exact;
    for (host, (pairs, exact)) in &one.per_host {
        let entry = total.per_host.entry(host.clone()).or_default();
        entry.0 += pairs;
        entry.1 += exact;
    }
    for (feature, n) in &one.predicted_not_real {
        *total.predicted_not_real.entry(feature.clone()).or_default() += n;
    }
    for (feature, n) in &one.real_not_predicted {
        *total.real_not_predicted.entry(feature.clone()).or_default() += n;
    }
}

fn top(counts: &BTreeMap<String, usize>, n: usize) -> String {
    let mut list: Vec<(&String, &usize)> = counts.iter().collect();
    list.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
    let shown: Vec<String> = list
        .iter()
        .take(n)
        .map(|(f, c)| format!("{f} ({c})"))
        .collect();
    if shown.is_empty() {
        "none".to_string()
    } else {
        shown.join(", ")
    }
}

/// Entry point of `cargo xtask fidelity [CPUTESTDATA]`.
pub fn run(args: &[String], workspace_root: &Path) -> Result<()> {
    let dir = match args {
        [] => workspace_root.join("../shared/libvirt/cputestdata"),
        [dir] => PathBuf::from(dir),
        _ => bail!("usage: cargo xtask fidelity [CPUTESTDATA]"),
    };
    let report = measure(&dir)?;
    println!("exactly matching (host, model) blocker sets, by prediction and QEMU data version:");
    for ((mode, version), score) in &report.scores {
        println!(
            "  {:<20} QEMU {:<5} {:>4}/{:<4} {:6.2}%",
            mode.label(),
            version,
            score.exact,
            score.pairs,
            100.0 * score.share()
        );
    }
    for mode in PredictionMode::ALL {
        let (mut pairs, mut exact) = (0, 0);
        let mut choices = Vec::new();
        for ((m, version), score) in &report.best {
            if *m != mode {
                continue;
            }
            pairs += score.pairs;
            exact += score.exact;
            for (host, (p, e)) in &score.per_host {
                choices.push(format!("{host}={version} ({e}/{p})"));
            }
        }
        choices.sort();
        let share = if pairs == 0 {
            0.0
        } else {
            100.0 * exact as f64 / pairs as f64
        };
        println!(
            "\n{} with the best-fitting version per host: {exact}/{pairs} {share:.2}%",
            mode.label()
        );
        println!("  {}", choices.join(", "));
    }
    for ((mode, version), score) in &report.scores {
        println!("\n{} / QEMU {version}:", mode.label());
        println!(
            "  predicted, not real: {}",
            top(&score.predicted_not_real, 12)
        );
        println!(
            "  real, not predicted: {}",
            top(&score.real_not_predicted, 12)
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Floors reached on libvirt's test data; a rule change that lowers them fails.
    #[test]
    fn fidelity_floors() -> Result<()> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/libvirt/cputestdata");
        if !dir.is_dir() {
            eprintln!("skipping: {} is absent", dir.display());
            return Ok(());
        }
        let report = measure(&dir)?;
        let share = |mode: PredictionMode, version: &str| {
            report
                .scores
                .get(&(mode, version.to_string()))
                .map_or(0.0, Score::share)
        };
        assert!(
            share(PredictionMode::RawCpuid, "7.2") >= RAW_FLOOR,
            "raw 7.2"
        );
        assert!(
            share(PredictionMode::QmpExpansion, "7.2") >= QMP_FLOOR,
            "qmp 7.2"
        );
        Ok(())
    }

    const RAW_FLOOR: f64 = 0.865;
    const QMP_FLOOR: f64 = 0.885;
}
