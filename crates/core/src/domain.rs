//! The parts of a libvirt `<domain>` that decide the guest CPU: the domain type
//! (accelerator), the machine type, the `<cpu>` element, and the features and
//! timers that become `-cpu` flags.
//!
//! A bare `<cpu>` document is accepted too, as a KVM domain with no machine type.

use crate::cpudef::CpuDef;
use crate::xml::{self, Element, XmlError};

/// The accelerator a domain asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Accelerator {
    #[default]
    Kvm,
    Tcg,
}

impl Accelerator {
    pub fn as_str(self) -> &'static str {
        match self {
            Accelerator::Kvm => "kvm",
            Accelerator::Tcg => "tcg",
        }
    }

    /// Parses `kvm` or `tcg` (also libvirt's domain type `qemu`).
    pub fn parse(text: &str) -> Option<Accelerator> {
        match text {
            "kvm" => Some(Accelerator::Kvm),
            "tcg" | "qemu" => Some(Accelerator::Tcg),
            _ => None,
        }
    }
}

/// One Hyper-V enlightenment switched on in `<features><hyperv>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HypervFeature {
    pub name: String,
    /// A value the flag carries (`spinlocks` retries, `vendor_id` value).
    pub value: Option<String>,
}

/// The domain settings that turn into `-cpu` flags besides the features.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CpuFlags {
    /// `<timer name='kvmclock' present=…>`.
    pub kvmclock: Option<bool>,
    /// `<timer name='hypervclock' present='yes'>`.
    pub hypervclock: bool,
    /// `<timer name='tsc' frequency=…>`.
    pub tsc_frequency: Option<u64>,
    /// `<apic eoi=…>`.
    pub apic_eoi: Option<bool>,
    /// `<pvspinlock state=…>`.
    pub pvspinlock: Option<bool>,
    /// `<hyperv mode='passthrough'>`.
    pub hyperv_passthrough: bool,
    pub hyperv: Vec<HypervFeature>,
    /// `<kvm><hidden state='on'/>`.
    pub kvm_hidden: bool,
    pub kvm_hint_dedicated: bool,
    pub kvm_poll_control: bool,
    /// `<kvm><pv-ipi state=…>`.
    pub kvm_pv_ipi: Option<bool>,
    /// `<pmu state=…>`.
    pub pmu: Option<bool>,
}

/// A domain as far as its CPU is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Domain {
    pub accelerator: Accelerator,
    /// `<os><type arch=…>`, default `x86_64`.
    pub arch: String,
    /// `<os><type machine=…>`, e.g. `pc-q35-7.2`.
    pub machine: Option<String>,
    pub cpu: CpuDef,
    /// False when the document had no `<cpu>` element at all.
    pub has_cpu_element: bool,
    pub flags: CpuFlags,
}

/// Where a parsed document's `<cpu>` lies, so that the live one can be
/// written back into the same text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CpuPlace {
    /// The document is a bare `<cpu>`.
    Bare,
    /// A `<domain>`, with the byte range of its `<cpu>` when it has one.
    InDomain(Option<(usize, usize)>),
}

impl Domain {
    /// Parses a `<domain>` document or a bare `<cpu>`.
    pub fn parse(text: &str) -> Result<Domain, XmlError> {
        Domain::parse_placed(text).map(|(domain, _)| domain)
    }

    /// [`Domain::parse`], and where the document's `<cpu>` lies in `text`.
    pub(crate) fn parse_placed(text: &str) -> Result<(Domain, CpuPlace), XmlError> {
        let root = xml::parse(text)?;
        match root.name.as_str() {
            "cpu" => Ok((
                Domain {
                    accelerator: Accelerator::Kvm,
                    arch: "x86_64".to_string(),
                    machine: None,
                    cpu: CpuDef::from_element(&root)?,
                    has_cpu_element: true,
                    flags: CpuFlags::default(),
                },
                CpuPlace::Bare,
            )),
            "domain" => {
                let place = CpuPlace::InDomain(root.child("cpu").map(|cpu| (cpu.offset, cpu.end)));
                Ok((Domain::from_element(&root)?, place))
            }
            other => Err(XmlError::new(
                root.offset,
                format!("expected `<domain>` or `<cpu>`, found `<{other}>`"),
            )),
        }
    }

    fn from_element(root: &Element) -> Result<Domain, XmlError> {
        let accelerator = match root.attribute("type") {
            None => Accelerator::Kvm,
            Some(attr) => Accelerator::parse(&attr.value).ok_or_else(|| {
                XmlError::new(
                    attr.offset,
                    format!(
                        "unsupported domain type '{}': expected `kvm` or `qemu`",
                        attr.value
                    ),
                )
            })?,
        };
        let os_type = root.child("os").and_then(|os| os.child("type"));
        let arch = os_type
            .and_then(|t| t.attr("arch"))
            .unwrap_or("x86_64")
            .to_string();
        let machine = os_type.and_then(|t| t.attr("machine")).map(str::to_string);
        let cpu_element = root.child("cpu");
        let cpu = match cpu_element {
            Some(element) => CpuDef::from_element(element)?,
            None => CpuDef::new(crate::cpudef::CpuType::Guest),
        };
        Ok(Domain {
            accelerator,
            arch,
            machine,
            cpu,
            has_cpu_element: cpu_element.is_some(),
            flags: cpu_flags(root),
        })
    }

    /// The QEMU version a versioned machine type names (`pc-q35-7.2` → `7.2`).
    /// A RHEL machine type (`pc-q35-rhel9.4.0`) names the RHEL release whose
    /// QEMU first had it (`RHEL_QEMU`).
    pub fn machine_qemu_version(&self) -> Option<String> {
        let machine = self.machine.as_deref()?;
        let version = machine.rsplit('-').next()?;
        if let Some(rhel) = version.strip_prefix("rhel") {
            let release = rhel.strip_suffix(".0").unwrap_or(rhel);
            return RHEL_QEMU
                .iter()
                .find(|(name, _)| *name == release)
                .map(|(_, qemu)| qemu.to_string());
        }
        let mut parts = version.split('.');
        let major = parts
            .next()
            .filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))?;
        let minor = parts
            .next()
            .filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))?;
        Some(format!("{major}.{minor}"))
    }
}

/// The QEMU release (upstream `MAJOR.MINOR`) each RHEL release's `qemu-kvm`
/// is based on, for the `pc-q35-rhelX.Y.0` / `pc-i440fx-rhelX.Y.0` machine
/// types it introduced (Red Hat's release notes of RHEL 9.0 to 9.6 and 10.0,
/// "Virtualization" chapter).
const RHEL_QEMU: [(&str, &str); 8] = [
    ("9.0", "6.2"),
    ("9.1", "7.0"),
    ("9.2", "7.2"),
    ("9.3", "8.0"),
    ("9.4", "8.2"),
    ("9.5", "9.0"),
    ("9.6", "9.1"),
    ("10.0", "9.1"),
];

fn cpu_flags(root: &Element) -> CpuFlags {
    let mut flags = CpuFlags::default();
    let state_on = |e: &Element| e.attr("state").map(|s| s == "on");
    if let Some(clock) = root.child("clock") {
        for timer in clock.children_named("timer") {
            let present = timer.attr("present").map(|p| p == "yes");
            match timer.attr("name") {
                Some("kvmclock") => flags.kvmclock = present,
                Some("hypervclock") => flags.hypervclock = present == Some(true),
                Some("tsc") => {
                    flags.tsc_frequency = timer.attr("frequency").and_then(|f| f.parse().ok())
                }
                _ => {}
            }
        }
    }
    let Some(features) = root.child("features") else {
        return flags;
    };
    flags.apic_eoi = features
        .child("apic")
        .and_then(|a| a.attr("eoi"))
        .map(|e| e == "on");
    flags.pvspinlock = features.child("pvspinlock").and_then(state_on);
    flags.pmu = features.child("pmu").and_then(state_on);
    if let Some(hyperv) = features.child("hyperv") {
        flags.hyperv_passthrough = hyperv.attr("mode") == Some("passthrough");
        for feature in hyperv.children.iter().filter(|f| state_on(f) == Some(true)) {
            let value = feature
                .attr("retries")
                .or_else(|| feature.attr("value"))
                .map(str::to_string);
            flags.hyperv.push(HypervFeature {
                name: feature.name.clone(),
                value,
            });
        }
    }
    if let Some(kvm) = features.child("kvm") {
        flags.kvm_hidden = kvm.child("hidden").and_then(state_on) == Some(true);
        flags.kvm_hint_dedicated = kvm.child("hint-dedicated").and_then(state_on) == Some(true);
        flags.kvm_poll_control = kvm.child("poll-control").and_then(state_on) == Some(true);
        flags.kvm_pv_ipi = kvm.child("pv-ipi").and_then(state_on);
    }
    flags
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_type_machine_and_flags() {
        let domain = Domain::parse(
            "<domain type='qemu'><os><type arch='x86_64' machine='pc-q35-7.2'>hvm</type></os>\
             <features><apic eoi='off'/><pvspinlock state='on'/></features>\
             <cpu><model>core2duo</model></cpu><clock offset='utc'><timer name='kvmclock' present='no'/></clock></domain>",
        )
        .expect("valid domain");
        assert_eq!(domain.accelerator, Accelerator::Tcg);
        assert_eq!(domain.machine_qemu_version().as_deref(), Some("7.2"));
        assert_eq!(domain.flags.apic_eoi, Some(false));
        assert_eq!(domain.flags.pvspinlock, Some(true));
        assert_eq!(domain.flags.kvmclock, Some(false));
        assert_eq!(domain.cpu.model.as_deref(), Some("core2duo"));
    }

    #[test]
    fn machine_types_name_their_qemu_release() {
        let release = |machine: &str| {
            Domain::parse(&format!(
                "<domain type='kvm'><os><type arch='x86_64' machine='{machine}'>hvm</type></os></domain>"
            ))
            .expect("valid")
            .machine_qemu_version()
        };
        assert_eq!(release("pc-i440fx-9.1").as_deref(), Some("9.1"));
        assert_eq!(release("pc-q35-rhel9.4.0").as_deref(), Some("8.2"));
        assert_eq!(release("pc-q35-rhel10.0.0").as_deref(), Some("9.1"));
        assert_eq!(release("pc-q35-rhel7.6.0"), None);
        assert_eq!(release("q35"), None);
    }

    #[test]
    fn unknown_domain_type_is_an_error_with_position() {
        let text = "<domain type='xen'>\n</domain>";
        let err = Domain::parse(text).expect_err("xen");
        assert!(err.message.contains("xen"));
        assert_eq!(xml::line_column(text, err.offset), (1, 9));
    }
}
