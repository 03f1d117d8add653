//! `virsh capabilities`: the host CPU as libvirt decoded it.
//!
//! The document holds no raw registers, only libvirt's decode of them: the
//! `<host><cpu>` element with `<arch>`, `<model>`, `<vendor>`, `<microcode>`,
//! `<signature>` and one `<feature>` per feature beyond the model. That element
//! is handed on unchanged in [`HostDump::host_cpu_xml`]; it is a host-type CPU
//! definition that [`crate::CpuDef::from_element`] reads.

use super::text;
use super::ParseError;
use crate::facts::{DumpFormat, HostDump};
use crate::xml::{self, Element};

/// Parses `virsh capabilities` output.
pub fn parse(text: &str) -> Result<HostDump, ParseError> {
    from_root(&xml::parse(text)?)
}

/// Reads a parsed `<capabilities>` root element.
pub fn from_root(root: &Element) -> Result<HostDump, ParseError> {
    if root.name != "capabilities" {
        return Err(ParseError::new(
            root.offset,
            format!(
                "expected `<capabilities>`, found `<{}>`",
                text::shown(&root.name)
            ),
        ));
    }
    let cpu = root
        .child("host")
        .and_then(|host| host.child("cpu"))
        .ok_or_else(|| {
            ParseError::new(root.offset, "no `<host><cpu>` element in `<capabilities>`")
        })?;
    check_x86_arch(cpu.child("arch"), cpu)?;
    let mut dump = HostDump::new(DumpFormat::Capabilities);
    if cpu.child("model").is_none() {
        dump.notes
            .push("libvirt reports no CPU model for this host".to_owned());
    }
    dump.host_cpu_xml = Some(cpu.clone());
    Ok(dump)
}

/// Refuses an `<arch>` that is not x86; `context` is where a missing one is reported.
pub(crate) fn check_x86_arch(arch: Option<&Element>, context: &Element) -> Result<(), ParseError> {
    let arch = arch.ok_or_else(|| {
        ParseError::new(
            context.offset,
            format!("no `<arch>` in `<{}>`", text::shown(&context.name)),
        )
    })?;
    match arch.trimmed_text() {
        "x86_64" | "i686" => Ok(()),
        other => Err(ParseError::new(
            arch.offset,
            format!(
                "the host architecture is `{}`; only x86 (`x86_64`, `i686`) is supported",
                text::shown(other)
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "<capabilities>
  <host>
    <uuid>4c4c4544-0000-1010-8000-b2c04f4e3632</uuid>
    <cpu>
      <arch>x86_64</arch>
      <model>Skylake-Client-noTSX-IBRS</model>
      <vendor>Intel</vendor>
      <microcode version='240'/>
      <signature family='6' model='94' stepping='3'/>
      <topology sockets='1' dies='1' clusters='1' cores='4' threads='2'/>
      <feature name='ds'/>
      <feature name='vmx'/>
      <pages unit='KiB' size='4'/>
    </cpu>
    <power_management/>
  </host>
  <guest><os_type>hvm</os_type></guest>
</capabilities>
";

    #[test]
    fn keeps_the_host_cpu_element() {
        let dump = crate::dump::parse(SAMPLE).expect("valid capabilities");
        assert_eq!(dump.format, DumpFormat::Capabilities);
        assert!(dump.cpuid.is_empty());
        let cpu = dump.host_cpu_xml.expect("host cpu");
        assert_eq!(cpu.name, "cpu");
        assert_eq!(
            cpu.child("model").map(Element::trimmed_text),
            Some("Skylake-Client-noTSX-IBRS")
        );
        let features: Vec<&str> = cpu
            .children_named("feature")
            .filter_map(|f| f.attr("name"))
            .collect();
        assert_eq!(features, vec!["ds", "vmx"]);
        assert_eq!(xml::line_column(SAMPLE, cpu.offset), (4, 5));
    }

    #[test]
    fn other_architectures_and_missing_cpus_are_errors() {
        let text = "<capabilities>\n  <host>\n    <cpu>\n      <arch>aarch64</arch>\n    </cpu>\n  </host>\n</capabilities>";
        let err = parse(text).expect_err("arm");
        assert!(err.message.contains("`aarch64`"), "{}", err.message);
        assert_eq!(err.line_column(text), (4, 7));
        let text = "<capabilities>\n  <host/>\n</capabilities>";
        let err = parse(text).expect_err("no cpu");
        assert_eq!(
            (err.message.as_str(), err.line_column(text)),
            ("no `<host><cpu>` element in `<capabilities>`", (1, 1))
        );
    }
}
