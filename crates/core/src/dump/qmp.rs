//! QEMU's QMP replies about the host CPU, as libvirt's test data keep them.
//!
//! The input is one or more JSON objects, one after another (blank lines
//! between them are fine): a `query-cpu-model-expansion` of `host`, whose
//! `return.model.props` maps property names to booleans, numbers and strings,
//! and optionally a `query-cpu-definitions` reply listing every CPU model with
//! its `unavailable-features`. Replies are recognised by the command they
//! answer when the input records it (libvirt's `caps_*.replies` captures keep
//! each `{"execute": …}` before its reply), else by their `id` when it is
//! `model-expansion` or `definitions`, else by their shape; greetings, events
//! and other replies are skipped, and so are error replies to commands other
//! than the CPU queries (a capture's `DeviceNotFound` for a device the binary
//! lacks says nothing about the CPU). Each reply is read from the JSON tree
//! (`crate::json`) straight into [`QemuReplies`]; errors point at the value at
//! fault.
//!
//! A libvirt capture probes QEMU twice, each run opened by `qmp_capabilities`
//! (`virQEMUCapsInitQMPMonitor` and `virQEMUCapsInitQMPMonitorTCG`): the run
//! that expands `host` is KVM's, the one that expands `max` is TCG's
//! ([`QemuReplies::tcg`]). Within a run the expansion with `migratable: false`
//! marks the properties QEMU hides from migratable guests, as libvirt's
//! `virQEMUCapsProbeQMPHostCPU` does ([`QemuExpansion::non_migratable`]).
//!
//! [`props_to_cpuid`] turns the expansion into register data exactly as
//! libvirt does (spec section 8.1), so the engine can decode it like a dump.
//! The replies' types are the engine's own ([`crate::facts`]).

use super::ParseError;
use crate::data::CpuMap;
use crate::facts::{
    props_to_cpuid, QemuCpuDefinition, QemuExpansion, QemuPropValue, QemuProps, QemuReplies,
};
use crate::facts::{DumpFormat, HostDump};
use crate::json::{self, Fields, Kind, Value};

/// Parses QMP replies.
pub fn parse(text: &str) -> Result<HostDump, ParseError> {
    let mut reader = Reader::default();
    for value in json::parse_many(text) {
        let value = value
            .map_err(|e| ParseError::new(e.offset, format!("malformed JSON: {}", e.message)))?;
        reader.read(&value)?;
    }
    let skipped_errors = reader.skipped_errors;
    let replies = reader.finish();
    let mut dump = HostDump::new(DumpFormat::Qmp);
    let definition_count = replies.definitions.as_ref().map(Vec::len);
    dump.description = match (&replies.expansion, definition_count) {
        (Some(_), Some(count)) => {
            format!("QMP replies (model expansion + {count} CPU definitions)")
        }
        (Some(_), None) => "QMP replies (model expansion)".to_owned(),
        (None, Some(count)) => format!("QMP replies ({count} CPU definitions)"),
        (None, None) => {
            return Err(ParseError::new(
                text.len(),
                "no `query-cpu-model-expansion` or `query-cpu-definitions` reply found",
            ))
        }
    };
    if replies.tcg.is_some() {
        dump.description.push_str(", with TCG's answers");
    }
    if skipped_errors > 0 {
        dump.notes.push(format!(
            "skipped {skipped_errors} error replies to commands other than the CPU queries"
        ));
    }
    match &replies.expansion {
        Some(expansion) => {
            dump.cpuid = props_to_cpuid(&expansion.props, CpuMap::embedded());
            if let Some(QemuPropValue::String(vendor)) = expansion.props.get("vendor") {
                if vendor.len() != 12 {
                    dump.notes.push(format!(
                        "ignored the vendor `{vendor}`: it is not 12 characters long"
                    ));
                }
            }
        }
        None => dump
            .notes
            .push("no model expansion reply: the host CPU's features are unknown".to_owned()),
    }
    dump.qemu = Some(replies);
    Ok(dump)
}

/// A command recorded before its reply in a capture.
#[derive(Debug, Clone, Default)]
struct Command {
    name: String,
    id: Option<String>,
    /// The model a `query-cpu-model-expansion` asks for (`host`, `max`).
    model: Option<String>,
    /// False when the expansion asks for `migratable: false`.
    migratable: bool,
    /// The expansion type (`static`, `full`).
    expansion_type: Option<String>,
}

/// One QEMU run of a capture: what it answered to the CPU queries.
#[derive(Debug, Default)]
struct Run {
    /// The model the run expanded (`host` under KVM, `max` under TCG), when
    /// the capture recorded the command.
    expanded_model: Option<String>,
    expansion: Option<QemuExpansion>,
    non_migratable_expansion: Option<QemuExpansion>,
    definitions: Option<Vec<QemuCpuDefinition>>,
}

impl Run {
    fn is_empty(&self) -> bool {
        self.expansion.is_none() && self.definitions.is_none()
    }

    /// The run's replies, with libvirt's migratability marks on the expansion.
    fn into_replies(self) -> QemuReplies {
        let expansion = self.expansion.map(|mut expansion| {
            if let Some(other) = self.non_migratable_expansion {
                mark_non_migratable(&mut expansion, &other);
            }
            expansion
        });
        QemuReplies {
            expansion,
            definitions: self.definitions,
            tcg: None,
        }
    }
}

/// libvirt's `virQEMUCapsProbeQMPHostCPU`: a boolean property `false` in the
/// migratable expansion but `true` in the non-migratable one is set `true`
/// and marked non-migratable.
fn mark_non_migratable(expansion: &mut QemuExpansion, non_migratable: &QemuExpansion) {
    for (name, value) in expansion.props.iter_mut() {
        if *value == QemuPropValue::Bool(false)
            && non_migratable.props.get(name) == Some(&QemuPropValue::Bool(true))
        {
            *value = QemuPropValue::Bool(true);
            expansion.non_migratable.push(name.clone());
        }
    }
}

/// Reads the objects of a capture one by one.
#[derive(Debug, Default)]
struct Reader {
    runs: Vec<Run>,
    /// The last command seen, which the next reply answers.
    pending: Option<Command>,
    skipped_errors: usize,
}

impl Reader {
    fn run(&mut self) -> &mut Run {
        if self.runs.is_empty() {
            self.runs.push(Run::default());
        }
        let last = self.runs.len() - 1;
        &mut self.runs[last]
    }

    fn read(&mut self, value: &Value<'_>) -> Result<(), ParseError> {
        let offset = value.offset;
        let object = value
            .object()
            .map_err(|_| ParseError::new(offset, "expected a QMP reply object `{…}`"))?;
        if let Some(execute) = object.optional("execute") {
            let command =
                read_command(value, execute).map_err(|e| wire_error(e, "malformed QMP command"))?;
            if command.name == "qmp_capabilities" && !self.run().is_empty() {
                self.runs.push(Run::default());
            }
            self.pending = Some(command);
            return Ok(());
        }
        // Greetings (`{"QMP": …}`) and events answer no command.
        if object.optional("return").is_none() && object.optional("error").is_none() {
            return Ok(());
        }
        let id = object.optional("id").and_then(Value::as_str);
        let command = self
            .pending
            .take()
            .filter(|c| c.id.is_none() || c.id.as_deref() == id);
        if let Some(error) = object.optional("error") {
            let about_cpu = command.as_ref().is_none_or(|c| {
                matches!(
                    c.name.as_str(),
                    "query-cpu-model-expansion" | "query-cpu-definitions"
                )
            });
            if !about_cpu {
                self.skipped_errors += 1;
                return Ok(());
            }
            return Err(error_reply(offset, error)?);
        }
        let Some(result) = object.optional("return") else {
            return Ok(());
        };
        let kind = match (command.as_ref().map(|c| c.name.as_str()), id) {
            (Some("query-cpu-model-expansion"), _) | (None, Some("model-expansion")) => {
                Some(ReplyKind::Expansion)
            }
            (Some("query-cpu-definitions"), _) | (None, Some("definitions")) => {
                Some(ReplyKind::Definitions)
            }
            (Some(_), _) => None,
            (None, _) if result.get("model").is_some() => Some(ReplyKind::Expansion),
            (None, _)
                if result.as_array().is_some_and(|a| {
                    !a.is_empty() && a.iter().all(|d| d.get("typename").is_some())
                }) =>
            {
                Some(ReplyKind::Definitions)
            }
            (None, _) => None,
        };
        if command.as_ref().is_some_and(|c| c.name == "query-target") {
            check_target(result)?;
        }
        match kind {
            Some(ReplyKind::Expansion) => {
                let expansion = read_expansion(result)
                    .map_err(|e| wire_error(e, "malformed `query-cpu-model-expansion` reply"))?;
                let command = command.unwrap_or_default();
                let run = self.run();
                if run.expanded_model.is_none() {
                    run.expanded_model = command.model.clone();
                }
                // libvirt reads the static expansion; the full one with
                // `hv-passthrough` serves Hyper-V passthrough only.
                if command.expansion_type.as_deref() == Some("full") && run.expansion.is_some() {
                    return Ok(());
                }
                if command.name.is_empty() || command.migratable {
                    run.expansion = Some(expansion);
                } else {
                    run.non_migratable_expansion = Some(expansion);
                }
            }
            Some(ReplyKind::Definitions) => {
                let definitions = result
                    .array()
                    .and_then(|list| list.iter().map(read_definition).collect())
                    .map_err(|e| wire_error(e, "malformed `query-cpu-definitions` reply"))?;
                self.run().definitions = Some(definitions);
            }
            None => {}
        }
        Ok(())
    }

    /// The replies: KVM's run (the one expanding `host`, else the first with
    /// answers), with TCG's (the one expanding `max`) beside it.
    fn finish(self) -> QemuReplies {
        let mut runs: Vec<Run> = self.runs.into_iter().filter(|r| !r.is_empty()).collect();
        let tcg_index = runs
            .iter()
            .position(|r| r.expanded_model.as_deref() == Some("max"));
        let tcg = tcg_index.map(|index| runs.remove(index));
        let main_index = runs
            .iter()
            .position(|r| r.expanded_model.as_deref() == Some("host"))
            .unwrap_or(0);
        let mut replies = if runs.is_empty() {
            QemuReplies::default()
        } else {
            runs.swap_remove(main_index).into_replies()
        };
        match tcg {
            Some(tcg) if replies.expansion.is_none() && replies.definitions.is_none() => {
                replies = tcg.into_replies();
            }
            Some(tcg) => replies.tcg = Some(Box::new(tcg.into_replies())),
            None => {}
        }
        replies
    }
}

/// Refuses a capture of a QEMU for another architecture (its `query-target`
/// reply names the binary's target: `x86_64` or `i386` for x86).
fn check_target(result: &Value<'_>) -> Result<(), ParseError> {
    let arch = result
        .object()
        .and_then(|target| target.field("arch"))
        .map_err(|e| wire_error(e, "malformed `query-target` reply"))?;
    match arch.as_str() {
        Some("x86_64" | "i386") => Ok(()),
        Some(other) => Err(ParseError::new(
            arch.offset,
            format!("this capture is of QEMU for {other}; guestcpu reads x86 hosts only"),
        )),
        None => Err(ParseError::new(
            arch.offset,
            "malformed `query-target` reply: `arch` is not a string",
        )),
    }
}

/// A `{"execute": …}` object of a capture.
fn read_command(value: &Value<'_>, execute: &Value<'_>) -> Result<Command, json::Error> {
    let object = value.object()?;
    let mut command = Command {
        name: execute.string()?.to_string(),
        id: object.optional_string("id")?,
        migratable: true,
        ..Command::default()
    };
    if let Some(arguments) = object.optional("arguments") {
        let arguments = arguments.object()?;
        command.expansion_type = arguments.optional_string("type")?;
        if let Some(model) = arguments.optional("model") {
            let model = model.object()?;
            command.model = model.optional_string("name")?;
            if let Some(props) = model.optional("props") {
                command.migratable = props.object()?.boolean_or("migratable", true)?;
            }
        }
    }
    Ok(command)
}

/// The error QEMU gave to a CPU query, at the reply.
fn error_reply(offset: usize, error: &Value<'_>) -> Result<ParseError, ParseError> {
    let error = error
        .object()
        .map_err(|e| wire_error(e, "not a QMP reply"))?;
    let text = |key| -> Result<String, ParseError> {
        Ok(error
            .optional_string(key)
            .map_err(|e| wire_error(e, "not a QMP reply"))?
            .unwrap_or_default())
    };
    Ok(ParseError::new(
        offset,
        format!(
            "QEMU answered with an error: {}: {}",
            text("class")?,
            text("desc")?
        ),
    ))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ReplyKind {
    Expansion,
    Definitions,
}

fn read_expansion(result: &Value<'_>) -> Result<QemuExpansion, json::Error> {
    let model = result.object()?.field("model")?.object()?;
    let props = match model.optional("props") {
        None => QemuProps::default(),
        Some(props) => props
            .object()?
            .members()
            .iter()
            .map(|(name, value)| (name.to_string(), prop_value(value)))
            .collect(),
    };
    Ok(QemuExpansion {
        model_name: model.string("name")?,
        props,
        non_migratable: Vec::new(),
    })
}

fn read_definition(value: &Value<'_>) -> Result<QemuCpuDefinition, json::Error> {
    let mut definition = Fields::of(&value.object()?);
    let read = QemuCpuDefinition {
        name: definition.string("name"),
        typename: definition.optional_string("typename"),
        unavailable_features: definition.optional_strings("unavailable-features"),
        deprecated: definition.boolean_or("deprecated", false),
        alias_of: definition.optional_string("alias-of"),
        is_static: definition.boolean_or("static", false),
        migration_safe: definition.optional_boolean("migration-safe"),
    };
    definition.finish(read)
}

/// A reply that is valid JSON but not of the expected shape: `what`, then why,
/// at the offending value.
fn wire_error(error: json::Error, what: &str) -> ParseError {
    ParseError::new(error.offset, format!("{what}: {}", error.message))
}

fn prop_value(value: &Value<'_>) -> QemuPropValue {
    let in_range = |n: &i128| (i128::from(i64::MIN)..=i128::from(u64::MAX)).contains(n);
    match &value.kind {
        Kind::Bool(b) => QemuPropValue::Bool(*b),
        Kind::String(s) => QemuPropValue::String(s.to_string()),
        Kind::Number(_) => value
            .as_integer()
            .filter(in_range)
            .map_or(QemuPropValue::Other, QemuPropValue::Integer),
        Kind::Null | Kind::Array(_) | Kind::Object(_) => QemuPropValue::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpuid::{DataKey, Register};

    const SAMPLE: &str = r#"{"QMP": {"version": {}, "capabilities": []}}
{
  "return": {
    "model": {
      "name": "base",
      "props": {
        "vendor": "GenuineIntel", "family": 6, "model": 85, "stepping": 11,
        "sse4.1": true, "sse4_1": true, "sse4-1": true, "pclmulqdq": true,
        "pclmuldq": false, "lm": true, "i64": true, "avx512f": false,
        "xlevel": 2147483656, "core-id": -1, "no-such-feature": true,
        "model-id": "Intel(R) Xeon(R)", "tsc-frequency": 1.5, "hv-vendor-id": ""
      }
    }
  },
  "id": "model-expansion"
}

{"return": [
  {"name": "Haswell", "typename": "Haswell-x86_64-cpu", "unavailable-features": ["hle", "rtm"], "alias-of": "Haswell-v1", "static": false, "migration-safe": true},
  {"name": "486", "typename": "486-x86_64-cpu", "unavailable-features": [], "deprecated": true},
  {"name": "qemu64", "typename": "qemu64-x86_64-cpu"}
], "id": "definitions"}
"#;

    #[test]
    fn parses_expansion_and_definitions() {
        let dump = crate::dump::parse(SAMPLE).expect("valid QMP");
        assert_eq!(dump.format, DumpFormat::Qmp);
        assert_eq!(
            dump.description,
            "QMP replies (model expansion + 3 CPU definitions)"
        );
        let qemu = dump.qemu.as_ref().expect("replies");
        let expansion = qemu.expansion.as_ref().expect("expansion");
        assert_eq!(expansion.model_name, "base");
        assert_eq!(
            expansion.props.get("xlevel"),
            Some(&QemuPropValue::Integer(2_147_483_656))
        );
        assert_eq!(
            expansion.props.get("core-id"),
            Some(&QemuPropValue::Integer(-1))
        );
        assert_eq!(
            expansion.props.get("tsc-frequency"),
            Some(&QemuPropValue::Other)
        );
        let definitions = qemu.definitions.as_ref().expect("definitions");
        assert_eq!(
            definitions[0].unavailable_features,
            Some(vec!["hle".to_owned(), "rtm".to_owned()])
        );
        assert_eq!(definitions[0].alias_of.as_deref(), Some("Haswell-v1"));
        assert!(definitions[1].deprecated && !definitions[0].deprecated);
        assert_eq!(definitions[2].unavailable_features, None);
    }

    #[test]
    fn props_become_cpu_data_as_in_libvirt() {
        let map = CpuMap::embedded();
        let dump = parse(SAMPLE).expect("valid QMP");
        let data = &dump.cpuid;
        assert_eq!(data.vendor_string().as_deref(), Some("GenuineIntel"));
        assert_eq!(format!("{:06x}", data.signature().to_eax()), "05065b");
        let found = map.features_in(data);
        let features: Vec<&str> = map.names(&found).collect();
        // `sse4_1`, `sse4-1` and `i64` are not libvirt names and are ignored;
        // `sse4.1`, `lm` and the translated `pclmulqdq` are found.
        assert_eq!(features, vec!["pclmuldq", "sse4.1", "lm"]);
        let leaf1 = data
            .get(DataKey::Cpuid {
                leaf: 1,
                subleaf: 0,
            })
            .expect("leaf 1");
        assert_eq!(leaf1.get(Register::Eax), 0x5065b);
    }

    /// A libvirt capture: commands before their replies, an unrelated error,
    /// KVM's run expanding `host` (migratable and not), then TCG's run.
    const CAPTURE: &str = r#"{"execute": "qmp_capabilities", "id": "libvirt-1"}
{"return": {}, "id": "libvirt-1"}
{"execute": "device-list-properties", "arguments": {"typename": "virtio-net-ccw"}, "id": "libvirt-2"}
{"event": "RESUME", "timestamp": {"seconds": 1, "microseconds": 2}}
{"id": "libvirt-2", "error": {"class": "DeviceNotFound", "desc": "Device 'virtio-net-ccw' not found"}}
{"execute": "query-cpu-definitions", "id": "libvirt-3"}
{"return": [{"name": "Haswell", "typename": "Haswell-x86_64-cpu", "unavailable-features": []}], "id": "libvirt-3"}
{"execute": "query-cpu-model-expansion", "arguments": {"type": "static", "model": {"name": "host"}}, "id": "libvirt-4"}
{"return": {"model": {"name": "base", "props": {"vendor": "GenuineIntel", "sse4.2": true, "invtsc": false}}}, "id": "libvirt-4"}
{"execute": "query-cpu-model-expansion", "arguments": {"type": "static", "model": {"name": "host", "props": {"migratable": false}}}, "id": "libvirt-5"}
{"return": {"model": {"name": "base", "props": {"vendor": "GenuineIntel", "sse4.2": true, "invtsc": true}}}, "id": "libvirt-5"}
{"execute": "qmp_capabilities", "id": "libvirt-1"}
{"return": {}, "id": "libvirt-1"}
{"execute": "query-cpu-definitions", "id": "libvirt-2"}
{"return": [{"name": "486", "typename": "486-x86_64-cpu", "unavailable-features": []}], "id": "libvirt-2"}
{"execute": "query-cpu-model-expansion", "arguments": {"type": "static", "model": {"name": "max"}}, "id": "libvirt-3"}
{"return": {"model": {"name": "base", "props": {"vendor": "AuthenticAMD", "sse4.2": true}}}, "id": "libvirt-3"}
"#;

    #[test]
    fn libvirt_captures_give_each_accelerator_its_answers() {
        let dump = parse(CAPTURE).expect("a capture with an unrelated error is accepted");
        assert_eq!(
            dump.notes,
            ["skipped 1 error replies to commands other than the CPU queries"]
        );
        let qemu = dump.qemu.expect("replies");
        let kvm = qemu.expansion.expect("KVM's expansion");
        assert_eq!(kvm.props.get("invtsc"), Some(&QemuPropValue::Bool(true)));
        assert_eq!(kvm.non_migratable.iter().collect::<Vec<_>>(), ["invtsc"]);
        assert_eq!(qemu.definitions.expect("KVM's models")[0].name, "Haswell");
        let tcg = qemu.tcg.expect("TCG's run");
        assert_eq!(tcg.definitions.expect("TCG's models")[0].name, "486");
        assert_eq!(
            tcg.expansion.expect("TCG's expansion").props.get("vendor"),
            Some(&QemuPropValue::String("AuthenticAMD".to_string()))
        );
        let error_to_cpu_query = CAPTURE.replace(
            r#"{"return": [{"name": "Haswell", "typename": "Haswell-x86_64-cpu", "unavailable-features": []}], "id": "libvirt-3"}"#,
            r#"{"id": "libvirt-3", "error": {"class": "GenericError", "desc": "no KVM"}}"#,
        );
        let s390x = CAPTURE.replace(
            r#"{"return": {}, "id": "libvirt-1"}"#,
            r#"{"return": {}, "id": "libvirt-1"}
{"execute": "query-target", "id": "libvirt-9"}
{"return": {"arch": "s390x"}, "id": "libvirt-9"}"#,
        );
        let err = parse(&s390x).expect_err("not x86");
        assert_eq!(
            err.message,
            "this capture is of QEMU for s390x; guestcpu reads x86 hosts only"
        );
        let err = parse(&error_to_cpu_query).expect_err("a CPU query failed");
        assert_eq!(
            err.message,
            "QEMU answered with an error: GenericError: no KVM"
        );
        assert_eq!(err.line_column(&error_to_cpu_query).0, 7);
    }

    #[test]
    fn json_errors_carry_positions() {
        let text = "{\"return\": {}}\n\n{\"return\": [1, 2,, 3]}";
        let err = parse(text).expect_err("bad JSON");
        assert!(err.message.starts_with("malformed JSON"), "{}", err.message);
        assert_eq!(err.line_column(text), (3, 18));
        let text =
            "{\"return\": {}}\n  {\"error\": {\"class\": \"GenericError\", \"desc\": \"no KVM\"}}";
        let err = parse(text).expect_err("error reply");
        assert_eq!(
            err.message,
            "QEMU answered with an error: GenericError: no KVM"
        );
        assert_eq!(err.line_column(text), (2, 3));
        let text = "{\"return\": {}}";
        assert!(parse(text)
            .expect_err("nothing useful")
            .message
            .starts_with("no `query-cpu-model-expansion`"));
        let text = "{\"return\": {\"model\": {\"props\": {}}}}";
        assert!(parse(text)
            .expect_err("no name")
            .message
            .contains("missing field `name`"));
    }

    #[test]
    fn cputest_replies_parse_with_their_signatures() {
        let all = crate::dump::cputest_dumps("json");
        for (name, text, expected_signature) in &all {
            let dump =
                crate::dump::parse(text).unwrap_or_else(|e| panic!("{name}: {}", e.render(text)));
            assert_eq!(dump.format, DumpFormat::Qmp, "{name}");
            let qemu = dump.qemu.as_ref().expect("replies");
            let props = &qemu.expansion.as_ref().expect("expansion").props;
            let signature = format!(
                "{:06x}",
                props_to_cpuid(props, CpuMap::embedded())
                    .signature()
                    .to_eax()
            );
            assert_eq!(&signature, expected_signature, "{name}");
            assert!(dump.cpuid.vendor_string().is_some(), "{name}");
        }
        if crate::dump::cputest_dir().is_some() {
            assert_eq!(all.len(), 34);
        }
    }
}
