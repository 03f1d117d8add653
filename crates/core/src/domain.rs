//! The parts of a libvirt `<domain>` that decide the guest CPU: the domain type
//! (accelerator), the machine type, the `<cpu>` element, and the features and
//! timers that become `-cpu` flags.
//!
//! A bare `<cpu>` document is accepted too, as a KVM domain with no machine type.

use crate::cpudef::CpuDef;
use crate::version::QemuRelease;
use crate::xml::{self, Element, XmlError};

/// The accelerator a domain asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Accelerator {
    #[default]
    Kvm,
    Tcg,
}

impl Accelerator {
    /// Every accelerator, KVM first.
    pub const ALL: [Accelerator; 2] = [Accelerator::Kvm, Accelerator::Tcg];

    /// The name QEMU uses (`-accel kvm`).
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

    /// Parses [`Accelerator::as_str`] back (`kvm` or `tcg` only); `None` for
    /// anything else.
    pub fn from_name(name: &str) -> Option<Accelerator> {
        Accelerator::ALL
            .into_iter()
            .find(|accel| accel.as_str() == name)
    }
}

crate::cpudef::libvirt_spelling!(Accelerator);

/// One Hyper-V enlightenment switched on in `<features><hyperv>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HypervFeature {
    /// libvirt's name, e.g. `relaxed`, `vendor_id`, or `stimer-direct`,
    /// `tlbflush-direct`, `tlbflush-ext` for the sub-elements
    /// `<stimer><direct/>` and `<tlbflush><direct/>`/`<extended/>`.
    pub name: String,
    /// A value the flag carries (`spinlocks` retries, `vendor_id` value).
    pub value: Option<String>,
}

/// libvirt's Hyper-V enlightenments in its enum order (`virDomainHyperv`),
/// which is the order `qemuBuildCpuCommandLine` writes them in.
const HYPERV_ENLIGHTENMENTS: [&str; 17] = [
    "relaxed",
    "vapic",
    "spinlocks",
    "vpindex",
    "runtime",
    "synic",
    "stimer",
    "reset",
    "vendor_id",
    "frequencies",
    "reenlightenment",
    "tlbflush",
    "ipi",
    "evmcs",
    "avic",
    "emsr_bitmap",
    "xmm_input",
];

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
    /// `<pvspinlock state=…>` (`state` defaults to on).
    pub pvspinlock: Option<bool>,
    /// `<hyperv mode='passthrough'>`.
    pub hyperv_passthrough: bool,
    /// The enlightenments switched on, in libvirt's order.
    pub hyperv: Vec<HypervFeature>,
    /// `<devices><panic model='hyperv'/>`: QEMU's `hv-crash`.
    pub hyperv_crash: bool,
    /// `<kvm><hidden state='on'/>`.
    pub kvm_hidden: bool,
    pub kvm_hint_dedicated: bool,
    pub kvm_poll_control: bool,
    /// `<kvm><pv-ipi state=…>`.
    pub kvm_pv_ipi: Option<bool>,
    /// `<pmu state=…>` (`state` defaults to on).
    pub pmu: Option<bool>,
    /// `<kvm><dirty-ring state='on' size=…>`: QEMU's `-accel`, not `-cpu`.
    pub kvm_dirty_ring_size: Option<u64>,
    /// `<async-teardown enabled=…>`: QEMU's `-run-with`, not `-cpu`.
    pub async_teardown: Option<bool>,
    /// `<msrs unknown=…>`: read by libvirt's Xen driver only.
    pub msrs_unknown: Option<String>,
    /// `<ibs value=…>`: a ppc64 machine capability.
    pub ibs: Option<String>,
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

/// Why a domain cannot be checked, at a byte offset of its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainError {
    pub offset: usize,
    /// What is wrong, lowercase, without a trailing period.
    pub message: String,
    pub kind: DomainErrorKind,
}

/// What kind of problem a [`DomainError`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DomainErrorKind {
    /// Not well-formed XML, or not a `<domain>`/`<cpu>` libvirt would accept.
    Malformed,
    /// A domain type other than `kvm` or `qemu`.
    UnsupportedType,
    /// A guest architecture other than x86.
    NotX86,
}

impl std::fmt::Display for DomainError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DomainError {}

impl From<XmlError> for DomainError {
    fn from(error: XmlError) -> Self {
        DomainError {
            offset: error.offset,
            message: error.message,
            kind: DomainErrorKind::Malformed,
        }
    }
}

/// The architectures libvirt counts as x86 (`ARCH_IS_X86`: `i686`, `x86_64`).
const X86_ARCHES: [&str; 2] = ["x86_64", "i686"];

/// Where a parsed document's `<cpu>` lies, so that the live one can be
/// written back into the same text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CpuPlace {
    /// The document is a bare `<cpu>`, at this byte range.
    Bare((usize, usize)),
    /// A `<domain>`, with the byte range of its `<cpu>` when it has one.
    InDomain(Option<(usize, usize)>),
}

impl Domain {
    /// Parses a `<domain>` document or a bare `<cpu>`.
    pub fn parse(text: &str) -> Result<Domain, DomainError> {
        Domain::parse_placed(text).map(|(domain, _)| domain)
    }

    /// [`Domain::parse`], and where the document's `<cpu>` lies in `text`.
    pub fn parse_placed(text: &str) -> Result<(Domain, CpuPlace), DomainError> {
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
                CpuPlace::Bare((root.offset, root.end)),
            )),
            "domain" => {
                let place = CpuPlace::InDomain(root.child("cpu").map(|cpu| (cpu.offset, cpu.end)));
                Ok((Domain::from_element(&root)?, place))
            }
            other => Err(XmlError::new(
                root.offset,
                format!("expected `<domain>` or `<cpu>`, found `<{other}>`"),
            )
            .into()),
        }
    }

    fn from_element(root: &Element) -> Result<Domain, DomainError> {
        let accelerator = match root.attribute("type") {
            None => Accelerator::Kvm,
            Some(attr) => Accelerator::parse(&attr.value).ok_or_else(|| DomainError {
                offset: attr.offset,
                message: format!(
                    "guestcpu checks KVM and QEMU (TCG) domains only; this domain's type is '{}'",
                    attr.value
                ),
                kind: DomainErrorKind::UnsupportedType,
            })?,
        };
        let os_type = root.child("os").and_then(|os| os.child("type"));
        let arch_attribute = os_type.and_then(|t| t.attribute("arch"));
        if let Some(attr) = arch_attribute.filter(|a| !X86_ARCHES.contains(&a.value.as_str())) {
            return Err(DomainError {
                offset: attr.offset,
                message: format!(
                    "guestcpu checks x86 guests only; this domain is {}",
                    attr.value
                ),
                kind: DomainErrorKind::NotX86,
            });
        }
        let arch = arch_attribute
            .map_or("x86_64", |a| a.value.as_str())
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
    pub fn machine_qemu_version(&self) -> Option<QemuRelease> {
        let machine = self.machine.as_deref()?;
        let version = machine.rsplit('-').next()?;
        if let Some(rhel) = version.strip_prefix("rhel") {
            let release = rhel.strip_suffix(".0").unwrap_or(rhel);
            return RHEL_QEMU
                .iter()
                .find(|(name, _)| *name == release)
                .map(|(_, qemu)| *qemu);
        }
        let mut parts = version.split('.');
        let mut number = || {
            parts
                .next()
                .filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))?
                .parse()
                .ok()
        };
        Some(QemuRelease::new(number()?, number()?))
    }
}

/// The QEMU release (upstream `MAJOR.MINOR`) each RHEL release's `qemu-kvm`
/// is based on, for the `pc-q35-rhelX.Y.0` / `pc-i440fx-rhelX.Y.0` machine
/// types it introduced (Red Hat's release notes of RHEL 9.0 to 9.6 and 10.0,
/// "Virtualization" chapter).
const RHEL_QEMU: [(&str, QemuRelease); 8] = [
    ("9.0", QemuRelease::new(6, 2)),
    ("9.1", QemuRelease::new(7, 0)),
    ("9.2", QemuRelease::new(7, 2)),
    ("9.3", QemuRelease::new(8, 0)),
    ("9.4", QemuRelease::new(8, 2)),
    ("9.5", QemuRelease::new(9, 0)),
    ("9.6", QemuRelease::new(9, 1)),
    ("10.0", QemuRelease::new(9, 1)),
];

/// Reads the elements `qemuBuildCpuCommandLine` turns into `-cpu` flags.
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
                    flags.tsc_frequency = timer
                        .attr("frequency")
                        .and_then(|f| f.parse().ok())
                        .filter(|&f| f > 0)
                }
                _ => {}
            }
        }
    }
    flags.hyperv_crash = root.child("devices").is_some_and(|devices| {
        devices
            .children_named("panic")
            .any(|panic| panic.attr("model") == Some("hyperv"))
    });
    let Some(features) = root.child("features") else {
        return flags;
    };
    flags.apic_eoi = features
        .child("apic")
        .and_then(|a| a.attr("eoi"))
        .map(|e| e == "on");
    // libvirt's `virDomainFeaturesDefParse`: an on/off feature without
    // `state` is on.
    let switch = |name: &str| features.child(name).map(|e| state_on(e).unwrap_or(true));
    flags.pvspinlock = switch("pvspinlock");
    flags.pmu = switch("pmu");
    if let Some(hyperv) = features.child("hyperv") {
        flags.hyperv_passthrough = hyperv.attr("mode") == Some("passthrough");
        flags.hyperv = hyperv_enlightenments(hyperv);
    }
    if let Some(kvm) = features.child("kvm") {
        flags.kvm_hidden = kvm.child("hidden").and_then(state_on) == Some(true);
        flags.kvm_hint_dedicated = kvm.child("hint-dedicated").and_then(state_on) == Some(true);
        flags.kvm_poll_control = kvm.child("poll-control").and_then(state_on) == Some(true);
        flags.kvm_pv_ipi = kvm.child("pv-ipi").and_then(state_on);
        flags.kvm_dirty_ring_size = kvm
            .child("dirty-ring")
            .filter(|ring| state_on(ring) == Some(true))
            .and_then(|ring| ring.attr("size"))
            .and_then(|size| size.parse().ok());
    }
    flags.async_teardown = features
        .child("async-teardown")
        .map(|e| e.attr("enabled") != Some("no"));
    flags.msrs_unknown = features
        .child("msrs")
        .and_then(|e| e.attr("unknown"))
        .map(str::to_string);
    flags.ibs = features
        .child("ibs")
        .and_then(|e| e.attr("value"))
        .map(str::to_string);
    flags
}

/// The enlightenments of `<hyperv>` switched on, in libvirt's order, with
/// `stimer`'s and `tlbflush`'s sub-features right after them
/// (`qemuBuildCpuCommandLine`).
fn hyperv_enlightenments(hyperv: &Element) -> Vec<HypervFeature> {
    let on = |e: &Element| e.attr("state") == Some("on");
    let mut list = Vec::new();
    for name in HYPERV_ENLIGHTENMENTS {
        let Some(element) = hyperv.child(name) else {
            continue;
        };
        if on(element) {
            let value = match name {
                "spinlocks" => element.attr("retries"),
                "vendor_id" => element.attr("value"),
                _ => None,
            };
            list.push(HypervFeature {
                name: name.to_string(),
                value: value.map(str::to_string),
            });
        }
        let sub_features: &[(&str, &str)] = match name {
            "stimer" => &[("direct", "stimer-direct")],
            "tlbflush" => &[("direct", "tlbflush-direct"), ("extended", "tlbflush-ext")],
            _ => &[],
        };
        for (element_name, feature) in sub_features {
            if element.child(element_name).is_some_and(on) {
                list.push(HypervFeature {
                    name: feature.to_string(),
                    value: None,
                });
            }
        }
    }
    list
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
        assert_eq!(domain.machine_qemu_version(), Some(QemuRelease::new(7, 2)));
        assert_eq!(domain.flags.apic_eoi, Some(false));
        assert_eq!(domain.flags.pvspinlock, Some(true));
        assert_eq!(domain.flags.kvmclock, Some(false));
        assert_eq!(domain.cpu.model.as_deref(), Some("core2duo"));
    }

    #[test]
    fn enlightenments_in_libvirts_order_with_panic_and_pmu() {
        let domain = Domain::parse(
            "<domain type='kvm'><features><pmu/><hyperv>\
             <tlbflush state='on'><extended state='on'/></tlbflush>\
             <stimer state='on'><direct state='on'/></stimer><relaxed state='off'/>\
             <spinlocks state='on' retries='4096'/></hyperv>\
             <kvm><dirty-ring state='on' size='4096'/></kvm></features>\
             <devices><panic model='isa'/><panic model='hyperv'/></devices></domain>",
        )
        .expect("valid domain");
        let names: Vec<&str> = domain
            .flags
            .hyperv
            .iter()
            .map(|f| f.name.as_str())
            .collect();
        assert_eq!(
            names,
            [
                "spinlocks",
                "stimer",
                "stimer-direct",
                "tlbflush",
                "tlbflush-ext"
            ]
        );
        assert_eq!(domain.flags.hyperv[0].value.as_deref(), Some("4096"));
        assert!(domain.flags.hyperv_crash);
        assert_eq!(domain.flags.pmu, Some(true));
        assert_eq!(domain.flags.kvm_dirty_ring_size, Some(4096));
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
        assert_eq!(release("pc-i440fx-9.1"), Some(QemuRelease::new(9, 1)));
        assert_eq!(release("pc-q35-rhel9.4.0"), Some(QemuRelease::new(8, 2)));
        assert_eq!(release("pc-q35-rhel10.0.0"), Some(QemuRelease::new(9, 1)));
        assert_eq!(release("pc-q35-rhel7.6.0"), None);
        assert_eq!(release("q35"), None);
    }

    #[test]
    fn unknown_domain_type_is_an_error_with_position() {
        let text = "<domain type='xen'>\n</domain>";
        let err = Domain::parse(text).expect_err("xen");
        assert_eq!(
            err.message,
            "guestcpu checks KVM and QEMU (TCG) domains only; this domain's type is 'xen'"
        );
        assert_eq!(err.kind, DomainErrorKind::UnsupportedType);
        assert_eq!(xml::line_column(text, err.offset), (1, 9));
    }

    #[test]
    fn non_x86_guest_is_refused_with_its_arch() {
        let text = "<domain type='kvm'>\n<os><type arch='aarch64' machine='virt'>hvm</type></os>\n</domain>";
        let err = Domain::parse(text).expect_err("aarch64");
        assert_eq!(
            err.message,
            "guestcpu checks x86 guests only; this domain is aarch64"
        );
        assert_eq!(err.kind, DomainErrorKind::NotX86);
        assert_eq!(xml::line_column(text, err.offset), (2, 11));
    }
}
