//! QEMU's QMP replies about the host CPU, as libvirt's test data keep them.
//!
//! The input is one or more JSON reply objects, one after another (blank lines
//! between them are fine): a `query-cpu-model-expansion` of `host`, whose
//! `return.model.props` maps property names to booleans, numbers and strings,
//! and optionally a `query-cpu-definitions` reply listing every CPU model with
//! its `unavailable-features`. Replies are recognised by their `id` when it is
//! `model-expansion` or `definitions`, otherwise by their shape; greetings,
//! events and other replies are skipped. Each reply is read from the JSON tree
//! (`crate::json`) straight into [`QemuReplies`]; errors point at the value at
//! fault.
//!
//! [`props_to_cpuid`] turns the expansion into register data exactly as
//! libvirt does (spec section 8.1), so the engine can decode it like a dump.

use std::collections::BTreeMap;

use super::{DumpFormat, HostDump, ParseError};
use crate::cpuid::{vendor_registers, CpuidData, DataKey, Registers, Signature};
use crate::data::CpuMap;
use crate::json::{self, Kind, Value};

/// The value of one CPU property in a model expansion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QemuPropValue {
    Bool(bool),
    /// Any JSON integer (QEMU uses both signed and unsigned 64-bit properties).
    Integer(i128),
    String(String),
    /// Fractions, objects, arrays and null, which libvirt ignores.
    Other,
}

/// The reply of `query-cpu-model-expansion`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QemuExpansion {
    /// The model the expansion is based on (`base` for a static expansion).
    pub model_name: String,
    pub props: BTreeMap<String, QemuPropValue>,
}

/// One entry of `query-cpu-definitions`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QemuCpuDefinition {
    pub name: String,
    pub typename: Option<String>,
    /// QEMU's feature names that block the model on this host; `None` when QEMU
    /// did not say, which libvirt reports as `usable='unknown'`.
    pub unavailable_features: Option<Vec<String>>,
    pub deprecated: bool,
    /// The versioned model this name is an alias of, e.g. `Haswell-v1`.
    pub alias_of: Option<String>,
    pub is_static: bool,
    pub migration_safe: Option<bool>,
}

/// Everything the QMP replies said.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QemuReplies {
    pub expansion: Option<QemuExpansion>,
    pub definitions: Option<Vec<QemuCpuDefinition>>,
}

/// Builds CPU data from model-expansion props as libvirt does: every boolean
/// property that is `true` and names a feature through libvirt's fixed
/// QEMU→libvirt translation adds that feature's bits (unknown names are
/// ignored), `vendor` becomes leaf 0, and `family`, `model` and `stepping`
/// become leaf 1 `eax`. Everything else is ignored.
pub fn props_to_cpuid(props: &BTreeMap<String, QemuPropValue>, map: &CpuMap) -> CpuidData {
    let mut data = CpuidData::new();
    let mut signature = Signature::default();
    for (name, value) in props {
        match (name.as_str(), value) {
            (_, QemuPropValue::Bool(true)) => {
                if let Some(id) = map.feature_by_qemu_name(name) {
                    let bits = map.feature(id).bits;
                    data.add(bits.key, bits.registers);
                }
            }
            ("vendor", QemuPropValue::String(vendor)) => {
                if let Some(registers) = vendor_registers(vendor) {
                    data.add(
                        DataKey::Cpuid {
                            leaf: 0,
                            subleaf: 0,
                        },
                        registers,
                    );
                }
            }
            ("family", QemuPropValue::Integer(n)) => {
                signature.family = u32::try_from(*n).unwrap_or(0)
            }
            ("model", QemuPropValue::Integer(n)) => {
                signature.model = u32::try_from(*n).unwrap_or(0)
            }
            ("stepping", QemuPropValue::Integer(n)) => {
                signature.stepping = u32::try_from(*n).unwrap_or(0)
            }
            _ => {}
        }
    }
    data.add(
        DataKey::Cpuid {
            leaf: 1,
            subleaf: 0,
        },
        Registers([signature.to_eax(), 0, 0, 0]),
    );
    data
}

/// Parses QMP replies.
pub fn parse(text: &str) -> Result<HostDump, ParseError> {
    let mut replies = QemuReplies::default();
    for value in json::parse_many(text) {
        let value = value
            .map_err(|e| ParseError::new(e.offset, format!("malformed JSON: {}", e.message)))?;
        read_reply(&value, &mut replies)?;
    }
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

#[derive(Clone, Copy, PartialEq, Eq)]
enum ReplyKind {
    Expansion,
    Definitions,
}

fn read_reply(value: &Value<'_>, replies: &mut QemuReplies) -> Result<(), ParseError> {
    let offset = value.offset;
    let reply = value
        .object()
        .map_err(|_| ParseError::new(offset, "expected a QMP reply object `{…}`"))?;
    if let Some(error) = reply.optional("error") {
        let error = error
            .object()
            .map_err(|e| wire_error(e, "not a QMP reply"))?;
        let text = |key| -> Result<String, ParseError> {
            Ok(error
                .optional_string(key)
                .map_err(|e| wire_error(e, "not a QMP reply"))?
                .unwrap_or_default())
        };
        return Err(ParseError::new(
            offset,
            format!(
                "QEMU answered with an error: {}: {}",
                text("class")?,
                text("desc")?
            ),
        ));
    }
    // Greetings (`{"QMP": …}`) and events have no `return`.
    let Some(result) = reply.optional("return") else {
        return Ok(());
    };
    let kind = match reply.optional("id").and_then(Value::as_str) {
        Some("model-expansion") => Some(ReplyKind::Expansion),
        Some("definitions") => Some(ReplyKind::Definitions),
        _ if result.get("model").is_some() => Some(ReplyKind::Expansion),
        _ if result
            .as_array()
            .is_some_and(|a| !a.is_empty() && a.iter().all(|d| d.get("typename").is_some())) =>
        {
            Some(ReplyKind::Definitions)
        }
        _ => None,
    };
    match kind {
        Some(ReplyKind::Expansion) => {
            replies.expansion = Some(
                read_expansion(result)
                    .map_err(|e| wire_error(e, "malformed `query-cpu-model-expansion` reply"))?,
            );
        }
        Some(ReplyKind::Definitions) => {
            let definitions = result
                .array()
                .and_then(|list| list.iter().map(read_definition).collect())
                .map_err(|e| wire_error(e, "malformed `query-cpu-definitions` reply"))?;
            replies.definitions = Some(definitions);
        }
        None => {}
    }
    Ok(())
}

fn read_expansion(result: &Value<'_>) -> Result<QemuExpansion, json::Error> {
    let model = result.object()?.field("model")?.object()?;
    let props = match model.optional("props") {
        None => BTreeMap::new(),
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
    })
}

fn read_definition(value: &Value<'_>) -> Result<QemuCpuDefinition, json::Error> {
    let definition = value.object()?;
    Ok(QemuCpuDefinition {
        name: definition.string("name")?,
        typename: definition.optional_string("typename")?,
        unavailable_features: definition
            .optional("unavailable-features")
            .map(Value::strings)
            .transpose()?,
        deprecated: definition.boolean_or("deprecated", false)?,
        alias_of: definition.optional_string("alias-of")?,
        is_static: definition.boolean_or("static", false)?,
        migration_safe: definition
            .optional("migration-safe")
            .map(Value::boolean)
            .transpose()?,
    })
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
    use crate::cpuid::Register;

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
