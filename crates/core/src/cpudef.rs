//! CPU definitions: libvirt's `<cpu>` element, parsed and formatted exactly as
//! libvirt does, plus the feature-list editing primitives every operation uses.
//!
//! A definition is *host*-type when it has an `<arch>` child (a host CPU as
//! `virsh capabilities` shows it) and *guest*-type otherwise (a domain's CPU).
//! Feature names are kept as text: libvirt only checks them when an operation
//! actually needs their data, and so does the engine.

use std::fmt::{self, Write as _};

use crate::xml::{self, Element, XmlError};

/// Serialises and displays each listed enum as its `as_str`, the one word a
/// report prints for it: for libvirt's attribute values libvirt's own
/// spelling, the same in reports as in the XML.
macro_rules! libvirt_spelling {
    ($($name:ty),+) => {$(
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    )+};
}
pub(crate) use libvirt_spelling;

libvirt_spelling!(CpuMode, CpuMatch, CpuCheck, Fallback, Policy);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CpuType {
    Host,
    Guest,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CpuMode {
    #[default]
    Custom,
    HostModel,
    HostPassthrough,
    Maximum,
}

impl CpuMode {
    pub fn as_str(self) -> &'static str {
        match self {
            CpuMode::Custom => "custom",
            CpuMode::HostModel => "host-model",
            CpuMode::HostPassthrough => "host-passthrough",
            CpuMode::Maximum => "maximum",
        }
    }

    /// host-passthrough and maximum give the guest the host's CPU as it is.
    pub fn is_passthrough(self) -> bool {
        matches!(self, CpuMode::HostPassthrough | CpuMode::Maximum)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CpuMatch {
    Minimum,
    #[default]
    Exact,
    Strict,
}

impl CpuMatch {
    pub fn as_str(self) -> &'static str {
        match self {
            CpuMatch::Minimum => "minimum",
            CpuMatch::Exact => "exact",
            CpuMatch::Strict => "strict",
        }
    }
}

/// The `check` attribute; `None` in [`CpuDef::check`] is libvirt's "default".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CpuCheck {
    None,
    Partial,
    Full,
}

impl CpuCheck {
    pub const ALL: [CpuCheck; 3] = [CpuCheck::None, CpuCheck::Partial, CpuCheck::Full];

    pub fn as_str(self) -> &'static str {
        match self {
            CpuCheck::None => "none",
            CpuCheck::Partial => "partial",
            CpuCheck::Full => "full",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Fallback {
    #[default]
    Allow,
    Forbid,
}

impl Fallback {
    pub fn as_str(self) -> &'static str {
        match self {
            Fallback::Allow => "allow",
            Fallback::Forbid => "forbid",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    Force,
    Require,
    Optional,
    Disable,
    Forbid,
}

impl Policy {
    pub fn as_str(self) -> &'static str {
        match self {
            Policy::Force => "force",
            Policy::Require => "require",
            Policy::Optional => "optional",
            Policy::Disable => "disable",
            Policy::Forbid => "forbid",
        }
    }

    fn parse(text: &str) -> Option<Policy> {
        Some(match text {
            "force" => Policy::Force,
            "require" => Policy::Require,
            "optional" => Policy::Optional,
            "disable" => Policy::Disable,
            "forbid" => Policy::Forbid,
            _ => return None,
        })
    }
}

/// One `<feature>`: host-type definitions carry no policy (`None`), which every
/// operation treats as `require`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpuFeature {
    pub name: String,
    pub policy: Option<Policy>,
}

impl CpuFeature {
    /// The policy with libvirt's "none counts as require" applied.
    pub fn effective_policy(&self) -> Policy {
        self.policy.unwrap_or(Policy::Require)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Topology {
    pub sockets: u32,
    pub dies: u32,
    pub clusters: u32,
    pub cores: u32,
    pub threads: u32,
}

/// `<cache level='N' mode='…'/>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheDef {
    pub level: Option<u32>,
    pub mode: String,
}

/// `<maxphysaddr mode='…' bits='N' limit='N'/>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaxPhysAddr {
    pub mode: String,
    pub bits: Option<u32>,
    pub limit: Option<u32>,
}

/// `<counter name='tsc' frequency='N' scaling='yes|no'/>` of a host CPU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TscCounter {
    pub frequency: u64,
    pub scaling: Option<bool>,
}

/// A libvirt CPU definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpuDef {
    pub cpu_type: CpuType,
    pub mode: CpuMode,
    pub match_mode: CpuMatch,
    pub check: Option<CpuCheck>,
    pub fallback: Fallback,
    /// `migratable='on|off'` (host-passthrough and maximum only).
    pub migratable: Option<bool>,
    pub deprecated_features: Option<String>,
    pub arch: Option<String>,
    pub model: Option<String>,
    pub vendor_id: Option<String>,
    pub vendor: Option<String>,
    pub microcode: Option<u32>,
    /// Family, model and stepping (host-type only; printed when family is non-zero).
    pub signature: Option<(u32, u32, u32)>,
    pub tsc: Option<TscCounter>,
    pub topology: Option<Topology>,
    pub cache: Option<CacheDef>,
    pub maxphysaddr: Option<MaxPhysAddr>,
    pub features: Vec<CpuFeature>,
}

impl CpuDef {
    /// An empty definition of the given type (custom mode, exact match).
    pub fn new(cpu_type: CpuType) -> Self {
        CpuDef {
            cpu_type,
            mode: CpuMode::Custom,
            match_mode: CpuMatch::Exact,
            check: None,
            fallback: Fallback::Allow,
            migratable: None,
            deprecated_features: None,
            arch: None,
            model: None,
            vendor_id: None,
            vendor: None,
            microcode: None,
            signature: None,
            tsc: None,
            topology: None,
            cache: None,
            maxphysaddr: None,
            features: Vec::new(),
        }
    }

    /// Parses a document whose root is `<cpu>`, or a `<domain>` with a `<cpu>`
    /// (a domain without one gives an empty custom definition).
    pub fn parse(text: &str) -> Result<CpuDef, XmlError> {
        let root = xml::parse(text)?;
        match root.name.as_str() {
            "cpu" => CpuDef::from_element(&root),
            "domain" => match root.child("cpu") {
                Some(cpu) => CpuDef::from_element(cpu),
                None => Ok(CpuDef::new(CpuType::Guest)),
            },
            other => Err(XmlError::new(
                root.offset,
                format!("expected `<cpu>` or `<domain>`, found `<{other}>`"),
            )),
        }
    }

    /// Parses a `<cpu>` element the way libvirt's "auto" type does.
    pub fn from_element(element: &Element) -> Result<CpuDef, XmlError> {
        if element.name != "cpu" {
            return Err(XmlError::new(
                element.offset,
                format!("expected `<cpu>`, found `<{}>`", element.name),
            ));
        }
        let cpu_type = if element.child("arch").is_some() {
            CpuType::Host
        } else {
            CpuType::Guest
        };
        let mut def = CpuDef::new(cpu_type);
        // libvirt's own validation errors (virCPUDefParseXML) carry the prefix
        // of their class, VIR_ERR_XML_ERROR or VIR_ERR_CONFIG_UNSUPPORTED, as
        // virsh prints them when a definition is refused.
        let error = |offset: usize, message: String| XmlError::new(offset, message);

        if cpu_type == CpuType::Host {
            if let Some(attr) = element.attribute("match") {
                return Err(error(
                    attr.offset,
                    "XML error: 'arch' element cannot be used inside 'cpu' element with 'match' attribute'"
                        .into(),
                ));
            }
            if let Some(attr) = element.attribute("mode") {
                return Err(error(
                    attr.offset,
                    "attribute `mode` is not allowed in a host CPU".into(),
                ));
            }
        } else {
            if let Some(attr) = element.attribute("mode") {
                def.mode = match attr.value.as_str() {
                    "custom" => CpuMode::Custom,
                    "host-model" => CpuMode::HostModel,
                    "host-passthrough" => CpuMode::HostPassthrough,
                    "maximum" => CpuMode::Maximum,
                    other => {
                        return Err(error(
                            attr.offset,
                            format!("unsupported configuration: Invalid mode attribute '{other}'"),
                        ))
                    }
                };
            }
            if let Some(attr) = element.attribute("match") {
                def.match_mode = match attr.value.as_str() {
                    "minimum" => CpuMatch::Minimum,
                    "exact" => CpuMatch::Exact,
                    "strict" => CpuMatch::Strict,
                    other => {
                        return Err(error(
                            attr.offset,
                            format!("Invalid match attribute for CPU specification: '{other}'"),
                        ))
                    }
                };
            }
            if let Some(attr) = element.attribute("check") {
                def.check = Some(match attr.value.as_str() {
                    "none" => CpuCheck::None,
                    "partial" => CpuCheck::Partial,
                    "full" => CpuCheck::Full,
                    other => {
                        return Err(error(
                            attr.offset,
                            format!("Invalid check attribute for CPU specification: '{other}'"),
                        ))
                    }
                });
            }
            if let Some(attr) = element.attribute("migratable") {
                if !def.mode.is_passthrough() {
                    return Err(error(
                        attr.offset,
                        "unsupported configuration: Attribute migratable is only allowed for 'host-passthrough' / 'maximum' CPU mode".into(),
                    ));
                }
                def.migratable = Some(on_off(&attr.value).ok_or_else(|| {
                    error(
                        attr.offset,
                        format!("Invalid value in migratable attribute: '{}'", attr.value),
                    )
                })?);
            }
            def.deprecated_features = element.attr("deprecated_features").map(str::to_string);
        }

        if let Some(arch) = element.child("arch") {
            def.arch = Some(arch.trimmed_text().to_string());
        }
        if let Some(model) = element.child("model") {
            let name = model.trimmed_text();
            if !name.is_empty() {
                def.model = Some(name.to_string());
            }
            if cpu_type == CpuType::Guest && !def.mode.is_passthrough() {
                if let Some(attr) = model.attribute("fallback") {
                    def.fallback = match attr.value.as_str() {
                        "allow" => Fallback::Allow,
                        "forbid" => Fallback::Forbid,
                        other => {
                            return Err(error(
                                attr.offset,
                                format!(
                                "unsupported configuration: Invalid fallback attribute '{other}'"
                            ),
                            ))
                        }
                    };
                }
                if let Some(attr) = model.attribute("vendor_id") {
                    if attr.value.len() != 12 || attr.value.contains(',') {
                        return Err(error(
                            attr.offset,
                            format!("XML error: vendor_id must be exactly 12 characters long and contain no comma, found '{}'", attr.value),
                        ));
                    }
                    def.vendor_id = Some(attr.value.clone());
                }
            }
        } else if cpu_type == CpuType::Host {
            return Err(error(
                element.offset,
                "XML error: Missing CPU model name".into(),
            ));
        }
        if let Some(vendor) = element.child("vendor") {
            if def.model.is_none() {
                return Err(error(
                    vendor.offset,
                    "XML error: CPU vendor specified without CPU model".into(),
                ));
            }
            def.vendor = Some(vendor.trimmed_text().to_string());
        }
        if cpu_type == CpuType::Host {
            if let Some(microcode) = element.child("microcode") {
                def.microcode = Some(number_attr(microcode, "version")?.unwrap_or(0) as u32);
            }
            if let Some(sig) = element.child("signature") {
                let field = |name: &str| number_attr(sig, name).map(|v| v.unwrap_or(0) as u32);
                def.signature = Some((field("family")?, field("model")?, field("stepping")?));
            }
            if let Some(counter) = element
                .children_named("counter")
                .find(|c| c.attr("name") == Some("tsc"))
            {
                def.tsc = Some(TscCounter {
                    frequency: number_attr(counter, "frequency")?.unwrap_or(0),
                    scaling: counter.attr("scaling").and_then(yes_no),
                });
            }
        }
        if let Some(topology) = element.child("topology") {
            let field = |name: &str, default: u32| {
                number_attr(topology, name).map(|v| v.map_or(default, |n| n as u32))
            };
            def.topology = Some(Topology {
                sockets: field("sockets", 0)?,
                dies: field("dies", 1)?,
                clusters: field("clusters", 1)?,
                cores: field("cores", 0)?,
                threads: field("threads", 0)?,
            });
        }
        if let Some(cache) = element.child("cache") {
            def.cache = Some(CacheDef {
                level: number_attr(cache, "level")?.map(|n| n as u32),
                mode: cache.attr("mode").unwrap_or_default().to_string(),
            });
        }
        if let Some(maxphysaddr) = element.child("maxphysaddr") {
            def.maxphysaddr = Some(MaxPhysAddr {
                mode: maxphysaddr.attr("mode").unwrap_or_default().to_string(),
                bits: number_attr(maxphysaddr, "bits")?.map(|n| n as u32),
                limit: number_attr(maxphysaddr, "limit")?.map(|n| n as u32),
            });
        }
        for feature in element.children_named("feature") {
            let name = feature.attr("name").ok_or_else(|| {
                error(feature.offset, "XML error: Invalid CPU feature name".into())
            })?;
            let policy = match (cpu_type, feature.attribute("policy")) {
                (CpuType::Host, _) => None,
                (CpuType::Guest, None) => Some(Policy::Require),
                (CpuType::Guest, Some(attr)) => {
                    Some(Policy::parse(&attr.value).ok_or_else(|| {
                        error(
                            attr.offset,
                            format!(
                                "unsupported configuration: Invalid CPU feature policy '{}'",
                                attr.value
                            ),
                        )
                    })?)
                }
            };
            if def.features.iter().any(|f| f.name == name) {
                return Err(error(
                    feature.offset,
                    format!("XML error: CPU feature '{name}' specified more than once"),
                ));
            }
            def.features.push(CpuFeature {
                name: name.to_string(),
                policy,
            });
        }
        if cpu_type == CpuType::Guest
            && def.mode == CpuMode::Custom
            && def.model.is_none()
            && !def.features.is_empty()
        {
            return Err(error(
                element.offset,
                "XML error: Non-empty feature list specified without CPU model".into(),
            ));
        }
        Ok(def)
    }

    /// The policy a definition of this type stores: host-type definitions keep none.
    fn stored_policy(&self, policy: Policy) -> Option<Policy> {
        match self.cpu_type {
            CpuType::Host => None,
            CpuType::Guest => Some(policy),
        }
    }

    pub fn feature(&self, name: &str) -> Option<&CpuFeature> {
        self.features.iter().find(|f| f.name == name)
    }

    /// Appends a feature; fails when the name is already listed.
    pub fn add_exclusive(&mut self, name: &str, policy: Policy) -> Result<(), DuplicateFeature> {
        if self.feature(name).is_some() {
            return Err(DuplicateFeature {
                name: name.to_string(),
            });
        }
        let policy = self.stored_policy(policy);
        self.features.push(CpuFeature {
            name: name.to_string(),
            policy,
        });
        Ok(())
    }

    /// Changes a listed feature's policy in place, or appends it.
    pub fn update_feature(&mut self, name: &str, policy: Policy) {
        let policy = self.stored_policy(policy);
        match self.features.iter_mut().find(|f| f.name == name) {
            Some(existing) => existing.policy = policy,
            None => self.features.push(CpuFeature {
                name: name.to_string(),
                policy,
            }),
        }
    }

    /// Appends a feature unless it is already listed.
    pub fn add_if_missing(&mut self, name: &str, policy: Policy) {
        if self.feature(name).is_none() {
            let policy = self.stored_policy(policy);
            self.features.push(CpuFeature {
                name: name.to_string(),
                policy,
            });
        }
    }

    /// Formats the definition as libvirt does, with a trailing newline.
    pub fn to_xml(&self) -> String {
        self.to_xml_indented(0)
    }

    /// Formats the definition indented by `indent` spaces (for use inside `<domain>`).
    pub fn to_xml_indented(&self, indent: usize) -> String {
        let pad = " ".repeat(indent);
        let mut attributes = String::new();
        let mut children: Vec<String> = Vec::new();
        match self.cpu_type {
            CpuType::Guest => self.format_guest(&mut attributes, &mut children),
            CpuType::Host => self.format_host(&mut children),
        }
        let mut out = String::new();
        if children.is_empty() {
            let _ = writeln!(out, "{pad}<cpu{attributes}/>");
        } else {
            let _ = writeln!(out, "{pad}<cpu{attributes}>");
            for child in children {
                let _ = writeln!(out, "{pad}  {child}");
            }
            let _ = writeln!(out, "{pad}</cpu>");
        }
        out
    }

    fn format_guest(&self, attributes: &mut String, children: &mut Vec<String>) {
        let writes_attributes = self.mode != CpuMode::Custom || self.model.is_some();
        if writes_attributes {
            let _ = write!(attributes, " mode='{}'", self.mode.as_str());
            if self.mode == CpuMode::Custom {
                let _ = write!(attributes, " match='{}'", self.match_mode.as_str());
            }
            if let Some(check) = self.check {
                let _ = write!(attributes, " check='{}'", check.as_str());
            }
            if let (true, Some(migratable)) = (self.mode.is_passthrough(), self.migratable) {
                let _ = write!(
                    attributes,
                    " migratable='{}'",
                    if migratable { "on" } else { "off" }
                );
            }
            if let Some(deprecated) = &self.deprecated_features {
                let _ = write!(attributes, " deprecated_features='{}'", escape(deprecated));
            }
        }
        let custom_or_host_model = matches!(self.mode, CpuMode::Custom | CpuMode::HostModel);
        if custom_or_host_model && (self.model.is_some() || self.vendor_id.is_some()) {
            let mut model = String::from("<model");
            if self.model.is_some() {
                let _ = write!(model, " fallback='{}'", self.fallback.as_str());
            }
            if let Some(vendor_id) = &self.vendor_id {
                let _ = write!(model, " vendor_id='{}'", escape(vendor_id));
            }
            match &self.model {
                Some(name) => {
                    let _ = write!(model, ">{}</model>", escape(name));
                }
                None => model.push_str("/>"),
            }
            children.push(model);
        }
        if custom_or_host_model {
            if let Some(vendor) = &self.vendor {
                children.push(format!("<vendor>{}</vendor>", escape(vendor)));
            }
        }
        self.format_common(children);
        for feature in &self.features {
            let policy = feature.effective_policy().as_str();
            children.push(format!(
                "<feature policy='{policy}' name='{}'/>",
                escape(&feature.name)
            ));
        }
    }

    fn format_host(&self, children: &mut Vec<String>) {
        if let Some(arch) = &self.arch {
            children.push(format!("<arch>{}</arch>", escape(arch)));
        }
        if let Some(model) = &self.model {
            children.push(format!("<model>{}</model>", escape(model)));
        }
        if let Some(vendor) = &self.vendor {
            children.push(format!("<vendor>{}</vendor>", escape(vendor)));
        }
        if let Some(version) = self.microcode.filter(|v| *v != 0) {
            children.push(format!("<microcode version='{version}'/>"));
        }
        if let Some((family, model, stepping)) = self.signature.filter(|s| s.0 != 0) {
            children.push(format!(
                "<signature family='{family}' model='{model}' stepping='{stepping}'/>"
            ));
        }
        if let Some(tsc) = &self.tsc {
            let mut counter = format!("<counter name='tsc' frequency='{}'", tsc.frequency);
            if let Some(scaling) = tsc.scaling {
                let _ = write!(counter, " scaling='{}'", if scaling { "yes" } else { "no" });
            }
            counter.push_str("/>");
            children.push(counter);
        }
        self.format_common(children);
        for feature in &self.features {
            children.push(format!("<feature name='{}'/>", escape(&feature.name)));
        }
    }

    /// Topology, cache and maxphysaddr, shared by both types.
    fn format_common(&self, children: &mut Vec<String>) {
        if let Some(t) = self.topology {
            if t.sockets != 0 && t.dies != 0 && t.clusters != 0 && t.cores != 0 && t.threads != 0 {
                children.push(format!(
                    "<topology sockets='{}' dies='{}' clusters='{}' cores='{}' threads='{}'/>",
                    t.sockets, t.dies, t.clusters, t.cores, t.threads
                ));
            }
        }
        if let Some(cache) = &self.cache {
            let mut text = String::from("<cache");
            if let Some(level) = cache.level {
                let _ = write!(text, " level='{level}'");
            }
            let _ = write!(text, " mode='{}'/>", escape(&cache.mode));
            children.push(text);
        }
        if let Some(max) = &self.maxphysaddr {
            let mut text = format!("<maxphysaddr mode='{}'", escape(&max.mode));
            if let Some(bits) = max.bits {
                let _ = write!(text, " bits='{bits}'");
            }
            if let Some(limit) = max.limit {
                let _ = write!(text, " limit='{limit}'");
            }
            text.push_str("/>");
            children.push(text);
        }
    }
}

fn on_off(text: &str) -> Option<bool> {
    match text {
        "on" => Some(true),
        "off" => Some(false),
        _ => None,
    }
}

fn yes_no(text: &str) -> Option<bool> {
    match text {
        "yes" => Some(true),
        "no" => Some(false),
        _ => None,
    }
}

/// Reads a non-negative decimal attribute; absent gives `None`.
fn number_attr(element: &Element, name: &str) -> Result<Option<u64>, XmlError> {
    match element.attribute(name) {
        None => Ok(None),
        Some(attr) => attr.value.trim().parse::<u64>().map(Some).map_err(|_| {
            XmlError::new(
                attr.offset,
                format!(
                    "invalid value '{}' of attribute `{name}` in `<{}>`",
                    attr.value, element.name
                ),
            )
        }),
    }
}

/// Escapes text for an attribute quoted with `'` or for element content.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\'' => out.push_str("&apos;"),
            '"' => out.push_str("&quot;"),
            _ => out.push(c),
        }
    }
    out
}

/// A feature listed twice in one `<cpu>` (libvirt's "CPU feature '%s'
/// specified more than once", `virCPUDefAddFeatureInternal`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DuplicateFeature {
    pub name: String,
}

impl fmt::Display for DuplicateFeature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CPU feature '{}' specified more than once", self.name)
    }
}

impl std::error::Error for DuplicateFeature {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guest_round_trip_in_libvirt_style() {
        let input = "<cpu match='exact'>\n  <model>Penryn</model>\n  <topology sockets='2' cores='4' threads='1'/>\n  <feature name='dca' policy='optional'/>\n  <feature name='vmx'/>\n</cpu>";
        let def = CpuDef::parse(input).expect("valid cpu");
        assert_eq!(def.cpu_type, CpuType::Guest);
        assert_eq!(
            def.to_xml(),
            "<cpu mode='custom' match='exact'>\n  <model fallback='allow'>Penryn</model>\n  <topology sockets='2' dies='1' clusters='1' cores='4' threads='1'/>\n  <feature policy='optional' name='dca'/>\n  <feature policy='require' name='vmx'/>\n</cpu>\n"
        );
    }

    #[test]
    fn host_def_has_no_policies() {
        let def = CpuDef::parse("<cpu><arch>x86_64</arch><model>Penryn</model><vendor>Intel</vendor><feature name='vmx' policy='disable'/></cpu>")
            .expect("valid host cpu");
        assert_eq!(def.cpu_type, CpuType::Host);
        assert_eq!(def.features[0].policy, None);
        assert_eq!(
            def.to_xml(),
            "<cpu>\n  <arch>x86_64</arch>\n  <model>Penryn</model>\n  <vendor>Intel</vendor>\n  <feature name='vmx'/>\n</cpu>\n"
        );
    }

    #[test]
    fn passthrough_is_self_closing() {
        let def = CpuDef::parse("<domain type='kvm'><cpu mode='host-passthrough' check='none' migratable='on'/></domain>")
            .expect("valid domain");
        assert_eq!(
            def.to_xml(),
            "<cpu mode='host-passthrough' check='none' migratable='on'/>\n"
        );
    }

    #[test]
    fn errors_carry_positions() {
        let text =
            "<cpu>\n  <model>Penryn</model>\n  <feature name='a'/>\n  <feature name='a'/>\n</cpu>";
        let err = CpuDef::parse(text).expect_err("duplicate feature");
        assert_eq!(
            err.message,
            "XML error: CPU feature 'a' specified more than once"
        );
        assert_eq!(xml::line_column(text, err.offset), (4, 3));
        let text = "<cpu match='loose'><model>Penryn</model></cpu>";
        let err = CpuDef::parse(text).expect_err("bad match");
        assert_eq!(xml::line_column(text, err.offset), (1, 6));
    }
}
