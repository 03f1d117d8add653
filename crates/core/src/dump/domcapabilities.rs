//! `virsh domcapabilities`: what libvirt and QEMU offer guests on this host.
//!
//! Two parts of `<cpu>` matter. `<mode name='host-model'>` is the CPU a
//! host-model guest gets (model, vendor and features); it is rewritten as the
//! guest CPU definition it stands for, `<cpu mode='custom' match='exact'>`
//! with the same children, so that [`crate::CpuDef::from_element`] reads it.
//! `<mode name='custom'>` lists each named CPU model with `usable='yes|no|unknown'`,
//! and a `<blockers model='NAME'>` element per unusable model naming the
//! features the host lacks; they become [`ModelUsability`] entries.

use super::capabilities::check_x86_arch;
use super::text;
use super::ParseError;
use crate::facts::{DumpFormat, HostDump};
use crate::facts::{ModelUsability, Usability};
use crate::xml::{self, Attribute, Element};

/// Parses `virsh domcapabilities` output.
pub fn parse(text: &str) -> Result<HostDump, ParseError> {
    from_root(&xml::parse(text)?)
}

/// Reads a parsed `<domainCapabilities>` root element.
pub fn from_root(root: &Element) -> Result<HostDump, ParseError> {
    if root.name != "domainCapabilities" {
        return Err(ParseError::new(
            root.offset,
            format!(
                "expected `<domainCapabilities>`, found `<{}>`",
                text::shown(&root.name)
            ),
        ));
    }
    check_x86_arch(root.child("arch"), root)?;
    let mut dump = HostDump::new(DumpFormat::DomainCapabilities);
    let Some(cpu) = root.child("cpu") else {
        dump.notes
            .push("the domain capabilities say nothing about CPUs".to_owned());
        return Ok(dump);
    };
    let mode = |name: &str| {
        cpu.children_named("mode")
            .find(|m| m.attr("name") == Some(name))
    };
    match mode("host-model") {
        Some(host_model) if host_model.attr("supported") != Some("no") => {
            dump.host_cpu_xml = Some(host_model_as_cpu(host_model));
        }
        _ => dump
            .notes
            .push("host-model is not supported on this host".to_owned()),
    }
    if let Some(custom) = mode("custom") {
        dump.domcaps_models = Some(custom_models(custom)?);
    }
    Ok(dump)
}

/// `<mode name='host-model'>…</mode>` as `<cpu mode='custom' match='exact'>…</cpu>`.
fn host_model_as_cpu(host_model: &Element) -> Element {
    let attribute = |name: &str, value: &str| Attribute {
        name: name.to_owned(),
        value: value.to_owned(),
        offset: host_model.offset,
    };
    Element {
        name: "cpu".to_owned(),
        attributes: vec![attribute("mode", "custom"), attribute("match", "exact")],
        children: host_model.children.clone(),
        text: String::new(),
        offset: host_model.offset,
        end: host_model.end,
    }
}

fn custom_models(custom: &Element) -> Result<Vec<ModelUsability>, ParseError> {
    let mut models = Vec::new();
    for model in custom.children_named("model") {
        let usable = match model.attribute("usable") {
            None => Usability::Unknown,
            Some(attribute) => match attribute.value.as_str() {
                "yes" => Usability::Yes,
                "no" => Usability::No,
                "unknown" => Usability::Unknown,
                other => {
                    return Err(ParseError::new(
                        attribute.offset,
                        format!(
                            "invalid `usable` value `{}`; expected `yes`, `no` or `unknown`",
                            text::shown(other)
                        ),
                    ))
                }
            },
        };
        let name = model.trimmed_text();
        if name.is_empty() {
            return Err(ParseError::new(model.offset, "a `<model>` without a name"));
        }
        models.push(ModelUsability {
            name: name.to_owned(),
            usable,
            blockers: Vec::new(),
            deprecated: model.attr("deprecated") == Some("yes"),
            canonical: model.attr("canonical").map(str::to_owned),
            vendor: model.attr("vendor").map(str::to_owned),
        });
    }
    for blockers in custom.children_named("blockers") {
        let Some(model_name) = blockers.attr("model") else {
            return Err(ParseError::new(
                blockers.offset,
                "missing attribute `model` in `<blockers>`",
            ));
        };
        let features = blockers
            .children_named("feature")
            .filter_map(|f| f.attr("name"))
            .map(str::to_owned);
        if let Some(model) = models.iter_mut().find(|m| m.name == model_name) {
            model.blockers.extend(features);
        }
    }
    Ok(models)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "<domainCapabilities>
  <path>/usr/bin/qemu-system-x86_64</path>
  <domain>kvm</domain>
  <machine>pc-q35-9.2</machine>
  <arch>x86_64</arch>
  <cpu>
    <mode name='host-passthrough' supported='yes'/>
    <mode name='host-model' supported='yes'>
      <model fallback='forbid'>Skylake-Client-IBRS</model>
      <vendor>Intel</vendor>
      <maxphysaddr mode='passthrough' limit='39'/>
      <feature policy='require' name='ss'/>
      <feature policy='disable' name='rtm'/>
    </mode>
    <mode name='custom' supported='yes'>
      <model usable='yes' vendor='Intel' canonical='Broadwell-v1'>Broadwell</model>
      <model usable='no' vendor='Intel' deprecated='yes'>Cascadelake-Server</model>
      <model usable='unknown' vendor='AMD'>EPYC</model>
      <model>qemu64</model>
      <blockers model='Cascadelake-Server'>
        <feature name='avx512f'/>
        <feature name='pku'/>
      </blockers>
    </mode>
  </cpu>
</domainCapabilities>
";

    #[test]
    fn reads_host_model_and_custom_models() {
        let dump = crate::dump::parse(SAMPLE).expect("valid domcapabilities");
        assert_eq!(dump.format, DumpFormat::DomainCapabilities);
        let cpu = dump.host_cpu_xml.expect("host-model");
        assert_eq!(
            (cpu.name.as_str(), cpu.attr("mode"), cpu.attr("match")),
            ("cpu", Some("custom"), Some("exact"))
        );
        assert_eq!(
            cpu.child("model").and_then(|m| m.attr("fallback")),
            Some("forbid")
        );
        assert_eq!(cpu.children_named("feature").count(), 2);
        assert_eq!(xml::line_column(SAMPLE, cpu.offset), (8, 5));
        let models = dump.domcaps_models.expect("custom models");
        let summary: Vec<(&str, Usability, usize, bool)> = models
            .iter()
            .map(|m| (m.name.as_str(), m.usable, m.blockers.len(), m.deprecated))
            .collect();
        assert_eq!(
            summary,
            vec![
                ("Broadwell", Usability::Yes, 0, false),
                ("Cascadelake-Server", Usability::No, 2, true),
                ("EPYC", Usability::Unknown, 0, false),
                ("qemu64", Usability::Unknown, 0, false),
            ]
        );
        assert_eq!(models[0].canonical.as_deref(), Some("Broadwell-v1"));
        assert_eq!(
            models[1].blockers,
            vec!["avx512f".to_owned(), "pku".to_owned()]
        );
    }

    #[test]
    fn bad_usable_value_points_at_the_model() {
        let text = "<domainCapabilities>\n  <arch>x86_64</arch>\n  <cpu>\n    <mode name='custom'>\n      <model usable='maybe'>X</model>\n    </mode>\n  </cpu>\n</domainCapabilities>";
        let err = parse(text).expect_err("bad usable");
        assert!(err.message.contains("`maybe`"), "{}", err.message);
        assert_eq!(err.line_column(text), (5, 14));
        let text = "<domainCapabilities>\n  <arch>s390x</arch>\n</domainCapabilities>";
        assert_eq!(parse(text).expect_err("s390").line_column(text), (2, 3));
    }

    #[test]
    fn unsupported_host_model_is_a_note() {
        let text = "<domainCapabilities><arch>x86_64</arch><cpu><mode name='host-model' supported='no'/></cpu></domainCapabilities>";
        let dump = parse(text).expect("valid");
        assert!(dump.host_cpu_xml.is_none());
        assert_eq!(
            dump.notes,
            vec!["host-model is not supported on this host".to_owned()]
        );
    }
}
