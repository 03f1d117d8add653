//! `cargo xtask derive-qemu [CAPSDIR]`: QEMU releases that cannot be run here
//! (6.2 to 9.2), as `data/qemu/<major>.<minor>.json` files in the probe's
//! format, from libvirt's captures of their QMP replies
//! (`../shared/libvirt/qemucapabilitiesdata/caps_<version>_x86_64.replies`).
//!
//! A capture holds the release's own model list: `query-cpu-definitions`
//! (names, `alias-of`, deprecation), once under KVM on the capturing host and
//! once under TCG, whose `unavailable-features` are what that release's TCG
//! cannot provide; and `qom-list-properties` of `max-x86_64-cpu`, the
//! properties that release knows. It holds no model's definition. QEMU never
//! changes a versioned (`-vN`) model once released (target/i386/cpu.c: new
//! behaviour gets a new version), so each model's features are taken from a
//! probed QEMU that has it: the oldest probed release not older than the
//! derived one, else the newest older one. An unversioned alias takes the
//! features of the versioned model this release resolves it to. `max` and
//! `base` are no fixed definition: they come from the nearest probe the same
//! way. The file's `version` string names the capture and the probes used. A
//! model no probed QEMU defines (`Icelake-Client-v3`, in 6.2 and 7.0 only,
//! removed in 7.1, after 5.2's probe) is left out and named in
//! `undefined_models`. Releases with a probe of their own are never derived.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use serde_json::Value;

use crate::probe_qemu::{
    primary_spelling, render, unavailable_features, ProbedModel, QemuProbeFile,
};

/// Where the captures are by default, relative to the workspace root.
const DEFAULT_CAPTURES: &str = "../shared/libvirt/qemucapabilitiesdata";

/// The probed files, relative to the workspace root.
const QEMU_DATA: &str = "data/qemu";

/// Entry point of `cargo xtask derive-qemu`.
pub fn run(captures: Option<PathBuf>, workspace_root: &Path) -> Result<()> {
    let captures = captures.unwrap_or_else(|| workspace_root.join(DEFAULT_CAPTURES));
    for (release, text) in derive_all(&captures, &workspace_root.join(QEMU_DATA))? {
        let output = workspace_root
            .join(QEMU_DATA)
            .join(format!("{release}.json"));
        std::fs::write(&output, text).with_context(|| format!("writing {}", output.display()))?;
        println!("wrote {}", output.display());
    }
    Ok(())
}

/// Every derivable release as (`MAJOR.MINOR`, file text), oldest first.
pub fn derive_all(captures: &Path, qemu_data: &Path) -> Result<Vec<(String, String)>> {
    let probes = read_probes(qemu_data)?;
    let mut derived = Vec::new();
    for (release, path) in captures_by_release(captures)? {
        if probes.contains_key(&release) {
            continue;
        }
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let capture = Capture::parse(&text).with_context(|| format!("in {}", path.display()))?;
        let file = derive(release, &path, &capture, &probes)?;
        derived.push((format!("{}.{}", release.0, release.1), render(&file)));
    }
    Ok(derived)
}

type Release = (u32, u32);

/// The probed files (those whose every model was expanded by a real QEMU of
/// that release), by release.
fn read_probes(dir: &Path) -> Result<BTreeMap<Release, QemuProbeFile>> {
    let mut probes = BTreeMap::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
        let path = entry?.path();
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let file: QemuProbeFile = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a probe file", path.display()))?;
        if file.version.contains(DERIVED_MARK) {
            continue;
        }
        probes.insert(release_of(&file.version)?, file);
    }
    if probes.is_empty() {
        bail!("no probed QEMU in {}", dir.display());
    }
    Ok(probes)
}

/// What a derived file's version string says after the number.
const DERIVED_MARK: &str = "derived:";

/// `(8, 2)` from `8.2.0 (...)`.
fn release_of(version: &str) -> Result<Release> {
    let number = version.split_whitespace().next().unwrap_or_default();
    let mut parts = number.split('.').map(str::parse::<u32>);
    match (parts.next(), parts.next()) {
        (Some(Ok(major)), Some(Ok(minor))) => Ok((major, minor)),
        _ => bail!("cannot read major.minor from QEMU version `{version}`"),
    }
}

/// `caps_<version>_x86_64.replies` files (no `+variant`), by release.
fn captures_by_release(dir: &Path) -> Result<BTreeMap<Release, PathBuf>> {
    let mut found = BTreeMap::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
        let path = entry?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let Some(version) = name
            .strip_prefix("caps_")
            .and_then(|rest| rest.strip_suffix("_x86_64.replies"))
        else {
            continue;
        };
        found.insert(release_of(version)?, path);
    }
    Ok(found)
}

/// One model as a capture lists it.
#[derive(Debug, Clone, PartialEq)]
struct ListedModel {
    name: String,
    alias_of: Option<String>,
    deprecated: bool,
    tcg_unavailable: Vec<String>,
}

/// What a capture tells about its release's CPU models.
#[derive(Debug)]
struct Capture {
    /// `query-version`'s `MAJOR.MINOR.MICRO`.
    version: String,
    /// The TCG session's `query-cpu-definitions`, `host` left out.
    models: Vec<ListedModel>,
    /// Boolean properties of `max-x86_64-cpu`, QEMU's primary spellings.
    boolean_properties: BTreeSet<String>,
}

impl Capture {
    fn parse(text: &str) -> Result<Capture> {
        let mut version = None;
        let mut definitions = Vec::new();
        let mut boolean_properties = None;
        let mut last_command: Option<Value> = None;
        for value in serde_json::Deserializer::from_str(text).into_iter::<Value>() {
            let value = value.context("a reply is not JSON")?;
            if value.get("execute").is_some() {
                last_command = Some(value);
                continue;
            }
            let Some(command) = last_command.take() else {
                continue;
            };
            let Some(reply) = value.get("return") else {
                continue;
            };
            match command.get("execute").and_then(Value::as_str) {
                Some("query-version") => {
                    let qemu = reply
                        .get("qemu")
                        .ok_or_else(|| anyhow!("`query-version` has no `qemu`"))?;
                    let part = |key: &str| qemu.get(key).and_then(Value::as_u64).unwrap_or(0);
                    version = Some(format!(
                        "{}.{}.{}",
                        part("major"),
                        part("minor"),
                        part("micro")
                    ));
                }
                Some("query-cpu-definitions") => definitions.push(reply.clone()),
                Some("qom-list-properties")
                    if command
                        .pointer("/arguments/typename")
                        .and_then(Value::as_str)
                        == Some("max-x86_64-cpu") =>
                {
                    boolean_properties = Some(
                        reply
                            .as_array()
                            .ok_or_else(|| anyhow!("`qom-list-properties` is not a list"))?
                            .iter()
                            .filter(|p| p.get("type").and_then(Value::as_str) == Some("bool"))
                            .filter_map(|p| p.get("name").and_then(Value::as_str))
                            .map(primary_spelling)
                            .collect(),
                    );
                }
                _ => {}
            }
        }
        // libvirt probes under KVM first, then under TCG (virQEMUCapsInitQMP).
        let [_, tcg] = definitions.as_slice() else {
            bail!(
                "expected two `query-cpu-definitions` replies (KVM, TCG), found {}",
                definitions.len()
            );
        };
        let models = tcg
            .as_array()
            .ok_or_else(|| anyhow!("`query-cpu-definitions` is not a list"))?
            .iter()
            .map(listed_model)
            .filter(|m| m.as_ref().map_or(true, |m| m.name != "host"))
            .collect::<Result<_>>()?;
        Ok(Capture {
            version: version.ok_or_else(|| anyhow!("no `query-version` reply"))?,
            models,
            boolean_properties: boolean_properties
                .ok_or_else(|| anyhow!("no `qom-list-properties` of `max-x86_64-cpu`"))?,
        })
    }
}

fn listed_model(definition: &Value) -> Result<ListedModel> {
    let name = definition
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| anyhow!("a CPU definition has no `name`"))?;
    let tcg_unavailable = unavailable_features(definition);
    Ok(ListedModel {
        name: name.to_string(),
        alias_of: definition
            .get("alias-of")
            .and_then(Value::as_str)
            .map(str::to_string),
        deprecated: definition
            .get("deprecated")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        tcg_unavailable,
    })
}

/// The probe whose definition of `name` stands for `release`'s: the oldest
/// probed release not older than it that has the model, else the newest
/// older one.
fn source_of<'p>(
    name: &str,
    release: Release,
    probes: &'p BTreeMap<Release, QemuProbeFile>,
) -> Option<(Release, &'p ProbedModel)> {
    let has = |(version, file): (&Release, &'p QemuProbeFile)| {
        file.models
            .iter()
            .find(|m| m.name == name)
            .map(|model| (*version, model))
    };
    probes
        .range(release..)
        .find_map(has)
        .or_else(|| probes.range(..release).rev().find_map(has))
}

fn derive(
    release: Release,
    path: &Path,
    capture: &Capture,
    probes: &BTreeMap<Release, QemuProbeFile>,
) -> Result<QemuProbeFile> {
    if release_of(&capture.version)? != release {
        bail!(
            "{} answers `query-version` with {}",
            path.display(),
            capture.version
        );
    }
    let mut used = BTreeSet::new();
    let mut models = Vec::new();
    let mut undefined_models = Vec::new();
    for listed in &capture.models {
        // An alias is expanded as the model it resolves to in this release.
        let defining = listed.alias_of.as_deref().unwrap_or(&listed.name);
        let Some((source, definition)) = source_of(defining, release, probes) else {
            undefined_models.push(listed.name.clone());
            continue;
        };
        used.insert(source);
        models.push(ProbedModel {
            alias_of: listed.alias_of.clone(),
            deprecated: listed.deprecated,
            name: listed.name.clone(),
            tcg_unavailable: listed.tcg_unavailable.clone(),
            ..definition.clone()
        });
    }
    models.sort_by(|a, b| a.name.cmp(&b.name));
    undefined_models.sort();
    // QEMU's CPUID/MSR flags are the probes' recognised flags; this release
    // knows those of them its `max` CPU has a property for.
    let flags: BTreeSet<&String> = probes.values().flat_map(|p| &p.known_features).collect();
    let known_features: Vec<String> = capture
        .boolean_properties
        .iter()
        .filter(|name| flags.contains(name))
        .cloned()
        .collect();
    // A fixed definition only names flags its release knows; `max` and
    // `base`, taken from a newer probe, lose what this release lacks.
    for model in &mut models {
        model
            .features
            .retain(|name| known_features.binary_search(name).is_ok());
    }
    let used: Vec<String> = used
        .iter()
        .rev()
        .map(|(major, minor)| format!("{major}.{minor}"))
        .collect();
    let capture_name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    Ok(QemuProbeFile {
        generated: GENERATED_MARKER_DERIVED.to_string(),
        expansion_accel: "tcg".to_string(),
        known_features,
        models,
        tcg_given_when_asked: Vec::new(),
        undefined_models,
        version: format!(
            "{} ({DERIVED_MARK} model list from libvirt's {capture_name}, definitions from the probe of QEMU {})",
            capture.version,
            used.join(" and ")
        ),
    })
}

/// The marker of a derived file.
const GENERATED_MARKER_DERIVED: &str = "generated by `cargo xtask derive-qemu`, do not edit";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe_qemu::GENERATED_MARKER;

    /// Needs ../shared (libvirt's captures); fails without it under CI,
    /// skipped otherwise.
    #[test]
    fn committed_derived_files_match_a_fresh_derivation() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let captures = root.join(DEFAULT_CAPTURES);
        if !captures.exists() {
            assert!(
                std::env::var_os("CI").is_none(),
                "{} is missing under CI",
                captures.display()
            );
            eprintln!("skipped: {} is absent", captures.display());
            return;
        }
        let derived = derive_all(&captures, &root.join(QEMU_DATA)).expect("derives");
        let releases: Vec<&str> = derived.iter().map(|(r, _)| r.as_str()).collect();
        assert_eq!(
            releases,
            ["6.2", "7.0", "7.1", "8.0", "8.1", "8.2", "9.0", "9.1", "9.2"]
        );
        for (release, text) in &derived {
            let path = root.join(QEMU_DATA).join(format!("{release}.json"));
            let committed = std::fs::read_to_string(&path).expect("committed file");
            assert!(
                *text == committed,
                "{} is stale: run `cargo xtask derive-qemu`",
                path.display()
            );
        }
    }

    #[test]
    fn aliases_take_the_definition_they_resolve_to() {
        let capture = Capture::parse(
            r#"{"execute": "query-version", "id": "a"}
{"return": {"qemu": {"major": 8, "minor": 2, "micro": 0}, "package": ""}, "id": "a"}
{"execute": "qom-list-properties", "arguments": {"typename": "max-x86_64-cpu"}, "id": "b"}
{"return": [{"name": "sse4_1", "type": "bool"}, {"name": "hle", "type": "bool"}, {"name": "vme", "type": "bool"}, {"name": "vendor", "type": "string"}, {"name": "lbr-fmt", "type": "uint64"}], "id": "b"}
{"execute": "query-cpu-definitions", "id": "c"}
{"return": [{"name": "host", "unavailable-features": []}], "id": "c"}
{"execute": "query-cpu-definitions", "id": "d"}
{"return": [{"name": "host", "unavailable-features": ["kvm"]}, {"name": "Haswell", "alias-of": "Haswell-v1", "unavailable-features": ["hle"], "deprecated": false}, {"name": "Haswell-v1", "unavailable-features": ["hle"], "deprecated": false}], "id": "d"}
"#,
        )
        .expect("parses");
        assert_eq!(capture.version, "8.2.0");
        assert_eq!(capture.models.len(), 2);
        assert_eq!(
            capture.boolean_properties,
            BTreeSet::from(["hle".to_string(), "sse4.1".to_string(), "vme".to_string()])
        );
        let model = |name: &str, features: &[&str]| ProbedModel {
            alias_of: None,
            deprecated: false,
            expanded_under: vec!["kvm".to_string(), "tcg".to_string()],
            family: Some(6),
            features: features.iter().map(|f| f.to_string()).collect(),
            level: None,
            migration_safe: true,
            model: None,
            name: name.to_string(),
            is_static: false,
            stepping: None,
            tcg_unavailable: Vec::new(),
            vendor: Some("GenuineIntel".to_string()),
            xlevel: None,
        };
        let probe = |version: &str, models: Vec<ProbedModel>| QemuProbeFile {
            generated: GENERATED_MARKER.to_string(),
            expansion_accel: "tcg".to_string(),
            known_features: vec!["hle".to_string(), "sse4.1".to_string(), "vme".to_string()],
            models,
            tcg_given_when_asked: Vec::new(),
            undefined_models: Vec::new(),
            version: version.to_string(),
        };
        let probes = BTreeMap::from([
            (
                (7, 2),
                probe("7.2.0", vec![model("Haswell-v1", &["hle", "old"])]),
            ),
            (
                (10, 0),
                probe(
                    "10.0.0",
                    vec![
                        model("Haswell", &["hle", "sse4.1", "vme"]),
                        model("Haswell-v1", &["hle", "sse4.1", "vme"]),
                    ],
                ),
            ),
        ]);
        let file = derive(
            (8, 2),
            Path::new("caps_8.2.0_x86_64.replies"),
            &capture,
            &probes,
        )
        .expect("derives");
        assert_eq!(file.models[0].name, "Haswell");
        assert_eq!(file.models[0].alias_of.as_deref(), Some("Haswell-v1"));
        assert_eq!(file.models[0].features, ["hle", "sse4.1", "vme"]);
        assert_eq!(file.models[0].tcg_unavailable, ["hle"]);
        assert_eq!(file.known_features, ["hle", "sse4.1", "vme"]);
        assert!(
            file.version
                .starts_with("8.2.0 (derived: model list from libvirt's caps_8.2.0_x86_64.replies, definitions from the probe of QEMU 10.0)"),
            "{}",
            file.version
        );
    }
}
