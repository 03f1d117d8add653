//! The functions behind `window.guestcpu`, exported from the same WebAssembly
//! module as the page.
//!
//! `web/boot.js` wraps these exports as `window.guestcpu.analyze(domainXml,
//! hostDump, options)` and resolves `window.guestcpu.ready` once the module is
//! loaded. The result is the very JSON `guestcpu check --json` prints, handed over
//! through `JSON.parse` so callers get plain objects: `headline` first, and
//! `remedy` (`{domain_xml, changes, explanation}`, or `null` when the domain
//! already starts under `check='full'` with nothing filtered on the host and
//! the `secondHost`).

use guestcpu_core::json;
use wasm_bindgen::prelude::{wasm_bindgen, JsError, JsValue};

use crate::engine::{self, AnalysisOptions};
use crate::state::Accelerator;

/// The `options` argument as JavaScript callers write it; every field is optional.
#[derive(Debug, Default, PartialEq, Eq)]
struct JsAnalysisOptions {
    /// E.g. `"9.2"`; default: the domain's machine type's, else the newest known.
    qemu_version: Option<String>,
    /// E.g. `"9.0"`; default: what the host dump tells, else the newest known.
    libvirt_version: Option<String>,
    /// `"kvm"` or `"tcg"`; default: the domain type's.
    accel: Option<String>,
    /// A second host dump, to check migration to it.
    second_host: Option<String>,
}

impl JsAnalysisOptions {
    /// Reads the options from their JSON text (`JSON.stringify` of the object);
    /// unknown members are refused, so a misspelt option is not silently ignored.
    fn from_json(text: &str) -> Result<JsAnalysisOptions, json::Error> {
        let root = json::parse(text)?;
        let root = root.object()?;
        root.deny_unknown(&["qemuVersion", "libvirtVersion", "accel", "secondHost"])?;
        Ok(JsAnalysisOptions {
            qemu_version: root.optional_string("qemuVersion")?,
            libvirt_version: root.optional_string("libvirtVersion")?,
            accel: root.optional_string("accel")?,
            second_host: root.optional_string("secondHost")?,
        })
    }

    fn accelerator(&self) -> Result<Option<Accelerator>, String> {
        self.accel
            .as_deref()
            .map(|name| {
                Accelerator::from_name(name)
                    .ok_or_else(|| format!("unknown accelerator `{name}`, expected `kvm` or `tcg`"))
            })
            .transpose()
    }
}

fn read_options(options: &JsValue) -> Result<JsAnalysisOptions, String> {
    if options.is_undefined() || options.is_null() {
        return Ok(JsAnalysisOptions::default());
    }
    let json = js_sys::JSON::stringify(options)
        .map_err(|_| "options must be a plain object".to_string())?;
    JsAnalysisOptions::from_json(&String::from(json)).map_err(|e| format!("invalid options: {e}"))
}

/// `window.guestcpu.analyze`: the report for `domain_xml` on `host_dump`, or an
/// `Error` whose message gives the input, line and column of the problem.
#[wasm_bindgen]
pub fn analyze(domain_xml: &str, host_dump: &str, options: JsValue) -> Result<JsValue, JsError> {
    let options = read_options(&options).map_err(|message| JsError::new(&message))?;
    let accelerator = options
        .accelerator()
        .map_err(|message| JsError::new(&message))?;
    let analysis_options = AnalysisOptions {
        qemu_version: options.qemu_version.as_deref(),
        accelerator,
        libvirt_version: options.libvirt_version.as_deref(),
    };
    let report = engine::analyze_texts(
        domain_xml,
        host_dump,
        options.second_host.as_deref(),
        analysis_options,
    )
    .map_err(|error| JsError::new(&error.to_string()))?;
    let json =
        json::to_string(&report).map_err(|e| JsError::new(&format!("internal error: {e}")))?;
    js_sys::JSON::parse(&json)
        .map_err(|_| JsError::new("internal error: the report is not valid JSON"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(json: &str) -> Result<JsAnalysisOptions, String> {
        JsAnalysisOptions::from_json(json).map_err(|e| e.to_string())
    }

    #[test]
    fn options_are_camel_case_and_optional() {
        let parsed = options(
            r#"{"qemuVersion":"9.1","libvirtVersion":"9.0","accel":"tcg","secondHost":"x"}"#,
        )
        .expect("valid options");
        assert_eq!(parsed.qemu_version.as_deref(), Some("9.1"));
        assert_eq!(parsed.libvirt_version.as_deref(), Some("9.0"));
        assert_eq!(parsed.accelerator(), Ok(Some(Accelerator::Tcg)));
        assert_eq!(parsed.second_host.as_deref(), Some("x"));
        assert_eq!(options("{}"), Ok(JsAnalysisOptions::default()));
    }

    #[test]
    fn unknown_accelerators_and_fields_are_refused() {
        let hvf = options(r#"{"accel":"hvf"}"#).expect("well-formed options");
        assert!(hvf.accelerator().is_err_and(|e| e.contains("`hvf`")));
        assert!(options(r#"{"qemu":"9.1"}"#).is_err());
    }
}
