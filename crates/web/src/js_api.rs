//! The functions behind `window.guestcpu`, exported from the same WebAssembly
//! module as the page.
//!
//! `web/boot.js` wraps these exports as `window.guestcpu.analyze(domainXml,
//! hostDump, options)` (`hostDump` a string, or an array of strings: several
//! files of one host, joined) and resolves `window.guestcpu.ready` once the module is
//! loaded. The result is the very JSON `guestcpu check --json` prints, handed over
//! through `JSON.parse` so callers get plain objects: `headline` first, and
//! `remedy` (`{domain_xml, changes, explanation}`, or `null` when the domain
//! already starts under `check='full'` with nothing filtered on the host and
//! the `secondHost`).

use guestcpu_core::json;
use wasm_bindgen::prelude::{wasm_bindgen, JsError, JsValue};
use wasm_bindgen::JsCast;

use crate::engine::{self, AnalysisError, AnalysisOptions};
use crate::state::Accelerator;

/// The `options` argument as JavaScript callers write it; every field is optional.
#[derive(Debug, Default, PartialEq, Eq)]
struct JsAnalysisOptions {
    /// E.g. `"9.2"`; default: the domain's machine type's, else the newest known.
    qemu_version: Option<String>,
    /// E.g. `"9.0"`; default: what the host dump tells, else the newest known.
    libvirt_version: Option<String>,
    /// `kvm` or `tcg`; default: the domain type's.
    accelerator: Option<Accelerator>,
    /// A second host dump, to check migration to it.
    second_host: Option<String>,
}

/// One member of the options object, as read from JavaScript.
#[derive(Debug, Clone, PartialEq, Eq)]
enum OptionValue {
    /// `undefined` or `null`: the default.
    Absent,
    Text(String),
    /// Anything else (a number, an object, …), named by `typeof`.
    Other(String),
}

impl JsAnalysisOptions {
    /// The options from the object's own members; unknown members are refused,
    /// so a misspelt option is not silently ignored.
    fn from_members(
        members: impl IntoIterator<Item = (String, OptionValue)>,
    ) -> Result<JsAnalysisOptions, String> {
        let mut options = JsAnalysisOptions::default();
        for (name, value) in members {
            let text = match value {
                OptionValue::Absent => continue,
                OptionValue::Text(text) => text,
                OptionValue::Other(kind) => {
                    return Err(format!("option `{name}` must be a string, not {kind}"))
                }
            };
            match name.as_str() {
                "qemuVersion" => options.qemu_version = Some(text),
                "libvirtVersion" => options.libvirt_version = Some(text),
                "accel" => {
                    options.accelerator = Some(Accelerator::from_name(&text).ok_or_else(|| {
                        format!("unknown accelerator `{text}`, expected `kvm` or `tcg`")
                    })?)
                }
                "secondHost" => options.second_host = Some(text),
                _ => {
                    return Err(format!(
                        "unknown option `{name}`, expected `qemuVersion`, `libvirtVersion`, \
                         `accel` or `secondHost`"
                    ))
                }
            }
        }
        Ok(options)
    }
}

/// Reads the `options` argument member by member (`undefined` or `null`: all
/// defaults).
fn read_options(options: &JsValue) -> Result<JsAnalysisOptions, String> {
    if options.is_undefined() || options.is_null() {
        return Ok(JsAnalysisOptions::default());
    }
    let object = options
        .dyn_ref::<js_sys::Object>()
        .filter(|_| options.is_object())
        .ok_or("options must be an object")?;
    let entries = js_sys::Object::entries(object);
    let members = entries.iter().map(|entry| {
        let entry: js_sys::Array = entry.unchecked_into();
        let name = entry.get(0).as_string().unwrap_or_default();
        let value = entry.get(1);
        let value = if value.is_undefined() || value.is_null() {
            OptionValue::Absent
        } else if let Some(text) = value.as_string() {
            OptionValue::Text(text)
        } else {
            OptionValue::Other(value.js_typeof().as_string().unwrap_or_default())
        };
        (name, value)
    });
    JsAnalysisOptions::from_members(members)
        .map_err(|message| format!("invalid options: {message}"))
}

/// `window.guestcpu.analyze`: the report for `domain_xml` on `host_dump`, or an
/// `Error` whose message gives the input, line and column of the problem.
/// The host argument: one dump as a string, or several files of one host as
/// an array of strings (joined as `guestcpu check --host A --host B` joins them).
fn read_host_texts(host: &JsValue) -> Result<Vec<String>, String> {
    if let Some(text) = host.as_string() {
        return Ok(vec![text]);
    }
    let not_texts = || "host must be a string or an array of strings".to_string();
    let array = host.dyn_ref::<js_sys::Array>().ok_or_else(not_texts)?;
    array
        .iter()
        .map(|item| item.as_string().ok_or_else(not_texts))
        .collect()
}

#[wasm_bindgen]
pub fn analyze(domain_xml: &str, host: JsValue, options: JsValue) -> Result<JsValue, JsError> {
    let host_dumps = read_host_texts(&host).map_err(|message| JsError::new(&message))?;
    let options = read_options(&options).map_err(|message| JsError::new(&message))?;
    let analysis_options = AnalysisOptions {
        qemu_version: options.qemu_version.as_deref(),
        accelerator: options.accelerator,
        libvirt_version: options.libvirt_version.as_deref(),
    };
    let report = engine::analyze_texts(
        domain_xml,
        &host_dumps,
        options.second_host.as_deref(),
        analysis_options,
    )
    .map_err(|error| match error {
        AnalysisError::Loading => JsError::new(
            "this check needs an older libvirt or QEMU release's data: await window.guestcpu.ready first",
        ),
        other => JsError::new(&other.to_string()),
    })?;
    // Writing a report cannot fail (every map key is a string); serde_json's
    // message is not shown, so its error texts stay out of the module.
    let json = json::to_string(&report)
        .map_err(|_| JsError::new("internal error: the report cannot be written as JSON"))?;
    js_sys::JSON::parse(&json)
        .map_err(|_| JsError::new("internal error: the report is not valid JSON"))
}

/// Gives the engine the older releases' data, which the page's module leaves
/// out: the bytes crates/releases-worker posts (`web/boot.js` passes them on).
/// `false` when they are not that data (a worker of another build).
#[wasm_bindgen]
pub fn load_releases(packed: Vec<u8>) -> bool {
    guestcpu_core::data::load_deferred(packed).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(members: &[(&str, OptionValue)]) -> Result<JsAnalysisOptions, String> {
        JsAnalysisOptions::from_members(
            members
                .iter()
                .map(|(name, value)| (name.to_string(), value.clone())),
        )
    }

    fn text(value: &str) -> OptionValue {
        OptionValue::Text(value.into())
    }

    #[test]
    fn options_are_camel_case_and_optional() {
        let parsed = options(&[
            ("qemuVersion", text("9.1")),
            ("libvirtVersion", text("9.0")),
            ("accel", text("tcg")),
            ("secondHost", text("x")),
        ])
        .expect("valid options");
        assert_eq!(parsed.qemu_version.as_deref(), Some("9.1"));
        assert_eq!(parsed.libvirt_version.as_deref(), Some("9.0"));
        assert_eq!(parsed.accelerator, Some(Accelerator::Tcg));
        assert_eq!(parsed.second_host.as_deref(), Some("x"));
        assert_eq!(options(&[]), Ok(JsAnalysisOptions::default()));
        assert_eq!(
            options(&[("accel", OptionValue::Absent)]),
            Ok(JsAnalysisOptions::default())
        );
    }

    #[test]
    fn unknown_accelerators_fields_and_kinds_are_refused() {
        assert!(options(&[("accel", text("hvf"))]).is_err_and(|e| e.contains("`hvf`")));
        assert!(options(&[("qemu", text("9.1"))]).is_err_and(|e| e.contains("`qemu`")));
        assert!(
            options(&[("qemuVersion", OptionValue::Other("number".into()))])
                .is_err_and(|e| e.contains("number"))
        );
    }
}
