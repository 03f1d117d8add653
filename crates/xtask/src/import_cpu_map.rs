//! `cargo xtask import-cpu-map PATH...`: turns libvirt `cpu_map` folders into
//! `data/cpu_map/<release>.json`, the engine's CPU database of each libvirt
//! release (`../shared/libvirt/cpu_map-by-version/{9.0.0,11.3.0,12.9.0}`).
//!
//! The importer follows libvirt's loader: `index.xml` is walked in document
//! order (direct includes and named groups), and within each file vendors come
//! first, then features, then models. Model inheritance is resolved here, so the
//! engine only reads finished definitions.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use guestcpu_core::data::file::{
    CpuMapFile, CpuidBits, FeatureEntry, ModelEntry, MsrBits, SignatureEntry, VendorEntry,
    GENERATED_MARKER,
};
use guestcpu_core::xml::{self, Element};

/// Where the generated databases live, relative to the workspace root.
pub const OUTPUT_DIR: &str = "data/cpu_map";

/// An imported map: its libvirt release (`11.3.0`) and the file's text.
pub struct Imported {
    pub release: String,
    pub text: String,
}

impl Imported {
    /// The file it belongs in, relative to the workspace root.
    pub fn output(&self) -> String {
        format!("{OUTPUT_DIR}/{}.json", self.release)
    }
}

/// Imports `cpu_map_dir`, a folder named after its release
/// (`cpu_map-by-version/11.3.0`) or one beside a README naming it.
pub fn import(cpu_map_dir: &Path) -> Result<Imported> {
    let release = libvirt_version(cpu_map_dir).ok_or_else(|| {
        anyhow!(
            "{}: cannot tell the libvirt release (name the folder after it, e.g. `11.3.0`)",
            cpu_map_dir.display()
        )
    })?;
    let file = read_cpu_map(cpu_map_dir, &release)?;
    // Loading it back applies every check the engine makes.
    guestcpu_core::CpuMap::from_file(&file).map_err(|e| anyhow!("imported map is invalid: {e}"))?;
    Ok(Imported {
        release,
        text: render(&file),
    })
}

fn read_cpu_map(dir: &Path, release: &str) -> Result<CpuMapFile> {
    let mut importer = Importer::default();
    for path in included_files(dir)? {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let root = xml::parse(&text).map_err(|e| {
            let (line, column) = xml::line_column(&text, e.offset);
            anyhow!("{}:{line}:{column}: {e}", path.display())
        })?;
        importer
            .load(&root)
            .with_context(|| format!("in {}", path.display()))?;
    }
    Ok(CpuMapFile {
        generated: GENERATED_MARKER.to_string(),
        source: format!("libvirt {release} cpu_map"),
        vendors: importer.vendors,
        features: importer.features,
        models: importer.models.into_iter().map(|m| m.entry).collect(),
    })
}

/// The libvirt release of a map folder: its own name when that is a
/// version (`cpu_map-by-version/9.0.0`), else the one named in the README
/// beside it (`libvirt 11.3.0 ...`).
fn libvirt_version(dir: &Path) -> Option<String> {
    let looks_like_version = |text: &str| {
        text.split('.').count() == 3
            && text
                .split('.')
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
    };
    let folder = dir.file_name().and_then(|n| n.to_str()).unwrap_or("");
    if looks_like_version(folder) {
        return Some(folder.to_string());
    }
    let readme = std::fs::read_to_string(dir.join("../README.md")).ok()?;
    readme
        .split_whitespace()
        .zip(readme.split_whitespace().skip(1))
        .find_map(|(word, next)| {
            (word == "libvirt" && looks_like_version(next)).then(|| next.to_string())
        })
}

/// The x86 files named by `index.xml`, in document order.
fn included_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let index_path = dir.join("index.xml");
    let text = std::fs::read_to_string(&index_path)
        .with_context(|| format!("reading {}", index_path.display()))?;
    let root = xml::parse(&text).map_err(|e| anyhow!("{}: {e}", index_path.display()))?;
    let arch = root
        .children_named("arch")
        .find(|a| a.attr("name") == Some("x86"))
        .ok_or_else(|| anyhow!("{} has no `<arch name='x86'>`", index_path.display()))?;
    let mut files = Vec::new();
    for child in &arch.children {
        let includes: Vec<&Element> = match child.name.as_str() {
            "include" => vec![child],
            "group" if child.attr("name").is_some() => child.children_named("include").collect(),
            _ => continue,
        };
        for include in includes {
            let name = include
                .attr("filename")
                .ok_or_else(|| anyhow!("`<include>` without `filename` in index.xml"))?;
            files.push(dir.join(name));
        }
    }
    Ok(files)
}

/// A model as loaded, with what children inherit kept beside the file entry.
struct LoadedModel {
    entry: ModelEntry,
}

#[derive(Default)]
struct Importer {
    vendors: Vec<VendorEntry>,
    features: Vec<FeatureEntry>,
    feature_order: HashMap<String, usize>,
    models: Vec<LoadedModel>,
    model_index: HashMap<String, usize>,
}

impl Importer {
    fn load(&mut self, root: &Element) -> Result<()> {
        for vendor in root.children_named("vendor") {
            self.load_vendor(vendor)?;
        }
        for feature in root.children_named("feature") {
            self.load_feature(feature)?;
        }
        for model in root.children_named("model") {
            self.load_model(model)?;
        }
        Ok(())
    }

    fn load_vendor(&mut self, element: &Element) -> Result<()> {
        let name = required(element, "name")?;
        let string = required(element, "string")?;
        if string.len() != 12 {
            bail!("Invalid CPU vendor string '{string}'");
        }
        if self.vendors.iter().any(|v| v.name == name) {
            bail!("CPU vendor {name} already defined");
        }
        self.vendors.push(VendorEntry {
            name: name.to_string(),
            string: string.to_string(),
        });
        Ok(())
    }

    fn load_feature(&mut self, element: &Element) -> Result<()> {
        let name = required(element, "name")?.to_string();
        if self.feature_order.contains_key(&name) {
            bail!("CPU feature {name} already defined");
        }
        let mut entry = FeatureEntry {
            name: name.clone(),
            cpuid: None,
            msr: None,
            migratable: element.attr("migratable") != Some("no"),
            qemu_aliases: Vec::new(),
            linux_aliases: Vec::new(),
        };
        for child in &element.children {
            match child.name.as_str() {
                "alias" => {
                    let alias = required(child, "name")?.to_string();
                    match child.attr("source") {
                        Some("qemu") => entry.qemu_aliases.push(alias),
                        Some("linux") => entry.linux_aliases.push(alias),
                        other => bail!("alias {alias} of {name} has unknown source {other:?}"),
                    }
                }
                "cpuid" => {
                    if entry.cpuid.is_some() || entry.msr.is_some() {
                        bail!("feature {name} has more than one data element");
                    }
                    entry.cpuid = Some(CpuidBits {
                        leaf: number(child, "eax_in")?,
                        subleaf: optional_number(child, "ecx_in")?,
                        eax: optional_number(child, "eax")?,
                        ebx: optional_number(child, "ebx")?,
                        ecx: optional_number(child, "ecx")?,
                        edx: optional_number(child, "edx")?,
                    });
                }
                _ => {
                    // libvirt parses any other child as an MSR.
                    if entry.cpuid.is_some() || entry.msr.is_some() {
                        bail!("feature {name} has more than one data element");
                    }
                    entry.msr = Some(MsrBits {
                        index: number(child, "index")?,
                        eax: number(child, "eax")?,
                        edx: number(child, "edx")?,
                    });
                }
            }
        }
        if entry.cpuid.is_none() && entry.msr.is_none() {
            bail!("feature {name} has no CPUID or MSR data");
        }
        self.feature_order.insert(name, self.features.len());
        self.features.push(entry);
        Ok(())
    }

    fn load_model(&mut self, element: &Element) -> Result<()> {
        let name = required(element, "name")?.to_string();
        if self.model_index.contains_key(&name) {
            bail!("Multiple definitions of CPU model '{name}'");
        }
        let compat_check = match element.child("check") {
            None => false,
            Some(check) => match check.attr("partial") {
                Some("compat") => true,
                Some(other) => bail!("Invalid check/@partial value '{other}' in CPU model {name}"),
                None => bail!("Missing check/@partial in CPU model {name}"),
            },
        };
        let decode = element
            .child("decode")
            .ok_or_else(|| anyhow!("missing decode element in CPU model {name}"))?;
        let decode_host = on_off(decode, "host", &name)?;
        let decode_guest = on_off(decode, "guest", &name)?;

        let mut entry = ModelEntry {
            name: name.clone(),
            ancestor: None,
            pure_copy: false,
            vendor: None,
            signatures: Vec::new(),
            decode_host,
            decode_guest,
            compat_check,
            features: Vec::new(),
            removed: Vec::new(),
            added: Vec::new(),
        };
        let mut data: Vec<String> = Vec::new();
        if let Some(parent) = element.child("model") {
            let parent_name = required(parent, "name")?;
            let parent_index = *self.model_index.get(parent_name).ok_or_else(|| {
                anyhow!("Ancestor model {parent_name} not found for CPU model {name}")
            })?;
            let parent = &self.models[parent_index].entry;
            entry.ancestor = Some(parent_name.to_string());
            entry.vendor = parent.vendor.clone();
            entry.signatures = parent.signatures.clone();
            data = parent
                .features
                .iter()
                .filter(|f| !parent.removed.contains(f))
                .cloned()
                .collect();
            entry.pure_copy = element.child("signature").is_none()
                && element.child("vendor").is_none()
                && element.child("feature").is_none();
        }

        let signatures: Vec<&Element> = element.children_named("signature").collect();
        if !signatures.is_empty() {
            entry.signatures = signatures
                .into_iter()
                .map(|s| signature(s, &name))
                .collect::<Result<_>>()?;
        }
        if let Some(vendor) = element.child("vendor") {
            let vendor_name = required(vendor, "name")?;
            if !self.vendors.iter().any(|v| v.name == vendor_name) {
                bail!("Unknown vendor {vendor_name} referenced by CPU model {name}");
            }
            entry.vendor = Some(vendor_name.to_string());
        }
        for feature in element.children_named("feature") {
            let feature_name = required(feature, "name")?.to_string();
            if !self.feature_order.contains_key(&feature_name) {
                bail!("Feature {feature_name} required by CPU model {name} not found");
            }
            if feature.attr("removed") == Some("yes") {
                entry.removed.push(feature_name);
            } else if feature.attr("added") == Some("yes") {
                entry.added.push(feature_name);
            } else if !data.contains(&feature_name) {
                data.push(feature_name);
            }
        }
        data.sort_by_key(|f| self.feature_order[f]);
        entry.features = data;
        self.model_index.insert(name, self.models.len());
        self.models.push(LoadedModel { entry });
        Ok(())
    }
}

fn signature(element: &Element, model: &str) -> Result<SignatureEntry> {
    let family = number(element, "family")?;
    if family == 0 {
        bail!("invalid CPU signature family in model {model}");
    }
    let steppings = match element.attr("stepping") {
        None => None,
        Some(ranges) => Some(parse_ranges(ranges).with_context(|| {
            format!("invalid stepping '{ranges}' in a signature of model {model}")
        })?),
    };
    Ok(SignatureEntry {
        family,
        model: number(element, "model")?,
        steppings,
    })
}

/// Parses a bitmap range list such as `0-4,7,10-11`.
fn parse_ranges(text: &str) -> Result<Vec<u32>> {
    let mut values = Vec::new();
    for part in text.split(',') {
        let part = part.trim();
        let (first, last) = match part.split_once('-') {
            Some((a, b)) => (a.trim().parse::<u32>()?, b.trim().parse::<u32>()?),
            None => {
                let single = part.parse::<u32>()?;
                (single, single)
            }
        };
        if first > last || last > 15 {
            bail!("range {part} is outside 0-15");
        }
        values.extend(first..=last);
    }
    values.sort_unstable();
    values.dedup();
    Ok(values)
}

fn on_off(element: &Element, attribute: &str, model: &str) -> Result<bool> {
    match element.attr(attribute) {
        Some("on") => Ok(true),
        Some("off") => Ok(false),
        Some(other) => bail!("invalid decode/@{attribute} value '{other}' in CPU model {model}"),
        None => bail!("missing decode/@{attribute} in CPU model {model}"),
    }
}

fn required<'a>(element: &'a Element, attribute: &str) -> Result<&'a str> {
    element
        .attr(attribute)
        .ok_or_else(|| anyhow!("`<{}>` without `{attribute}`", element.name))
}

fn number(element: &Element, attribute: &str) -> Result<u32> {
    parse_c_number(required(element, attribute)?)
}

fn optional_number(element: &Element, attribute: &str) -> Result<u32> {
    element.attr(attribute).map_or(Ok(0), parse_c_number)
}

/// Parses a number with C's base-0 rules: `0x` hex, leading `0` octal, else decimal.
pub fn parse_c_number(text: &str) -> Result<u32> {
    let text = text.trim();
    let parsed = if let Some(hex) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        u32::from_str_radix(hex, 16)
    } else if text.len() > 1 && text.starts_with('0') {
        u32::from_str_radix(&text[1..], 8)
    } else {
        text.parse()
    };
    parsed.with_context(|| format!("invalid number '{text}'"))
}

/// Renders the file with one vendor, feature or model per line, so that diffs of
/// regenerated data stay readable.
fn render(file: &CpuMapFile) -> String {
    fn lines<T: serde::Serialize>(items: &[T]) -> String {
        items
            .iter()
            .map(|item| format!("    {}", serde_json::to_string(item).unwrap_or_default()))
            .collect::<Vec<_>>()
            .join(",\n")
    }
    format!(
        "{{\n  \"_generated\": {},\n  \"source\": {},\n  \"vendors\": [\n{}\n  ],\n  \"features\": [\n{}\n  ],\n  \"models\": [\n{}\n  ]\n}}\n",
        serde_json::Value::from(file.generated.as_str()),
        serde_json::Value::from(file.source.as_str()),
        lines(&file.vendors),
        lines(&file.features),
        lines(&file.models),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c_numbers_and_ranges() {
        assert_eq!(parse_c_number("0x1f").ok(), Some(31));
        assert_eq!(parse_c_number("010").ok(), Some(8));
        assert_eq!(parse_c_number("0").ok(), Some(0));
        assert_eq!(parse_c_number("12").ok(), Some(12));
        assert!(parse_c_number("zz").is_err());
        assert_eq!(parse_ranges("0-2,5").ok(), Some(vec![0, 1, 2, 5]));
        assert!(parse_ranges("3-20").is_err());
    }

    /// Needs ../shared (libvirt's maps by release); fails without it under
    /// CI, skipped otherwise.
    #[test]
    fn committed_data_matches_a_fresh_import() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let sources = root.join("../shared/libvirt/cpu_map-by-version");
        if !sources.exists() {
            assert!(
                std::env::var_os("CI").is_none(),
                "{} is missing under CI",
                sources.display()
            );
            eprintln!("skipped: {} is absent", sources.display());
            return;
        }
        for release in ["9.0.0", "11.3.0", "12.9.0"] {
            let fresh = import(&sources.join(release)).expect("import succeeds");
            let committed =
                std::fs::read_to_string(root.join(fresh.output())).expect("committed map");
            assert!(
                fresh.text == committed,
                "{} is stale: run `cargo xtask import-cpu-map ../shared/libvirt/cpu_map-by-version/*`",
                fresh.output()
            );
        }
        // The 11.3.0 map libvirt's test suite is run against is the same folder.
        let suite = import(&root.join("../shared/libvirt/cpu_map")).expect("import succeeds");
        assert_eq!(suite.release, "11.3.0");
    }
}
