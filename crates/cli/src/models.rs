//! Rendering of `guestcpu models`: which named CPU models the host can run and
//! what blocks the others, as `virsh domcapabilities` would list them.

use guestcpu_core::json;
use guestcpu_core::libvirt::Usability;
use guestcpu_core::qemu::models::{ModelReport, UsabilitySource};
use serde::Serialize;

/// One model as `--json` lists it.
#[derive(Serialize)]
struct ModelJson<'m> {
    name: &'m str,
    usable: bool,
    blockers: &'m [String],
}

/// The model list as JSON: `[{"name", "usable", "blockers"}, ...]`.
pub fn render_json(report: &ModelReport) -> anyhow::Result<String> {
    let list: Vec<ModelJson<'_>> = report
        .models
        .iter()
        .map(|m| ModelJson {
            name: &m.name,
            usable: m.usable == Usability::Yes,
            blockers: &m.blockers,
        })
        .collect();
    Ok(format!("{}\n", json::to_string_pretty(&list)?))
}

/// The model list as an aligned table under a line saying where it came from.
pub fn render_table(report: &ModelReport, prediction: &str) -> String {
    let source = match report.source {
        UsabilitySource::Qemu => "QEMU's own answer, from the host input",
        UsabilitySource::Predicted => prediction,
    };
    let width = report
        .models
        .iter()
        .map(|m| m.name.len())
        .max()
        .unwrap_or(0)
        .max(5);
    let mut out = format!(
        "# {source}\n{:<width$}  {:<7}  blockers\n",
        "model", "usable"
    );
    for model in &report.models {
        let line = format!(
            "{:<width$}  {:<7}  {}",
            model.name,
            model.usable.as_str(),
            model.blockers.join(", ")
        );
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}
