//! The host-model CPU libvirt builds from QEMU's answers (spec 8).
//!
//! QEMU describes the host CPU it can give a guest as the properties of
//! `query-cpu-model-expansion` of `host`; libvirt turns them into CPU data and
//! decodes that as a guest CPU (the `-json.xml` of libvirt's tests, the
//! `host-model` of domain capabilities). `query-cpu-definitions` says which
//! named models QEMU can run here and which features block the others; that
//! list constrains the decode.

use super::decode::guest_cpu_from_signals;
use super::{Blockers, CpuSignals, HypervisorModel, Usability};
use crate::cpudef::CpuDef;
use crate::data::{qemu_to_libvirt, CpuMap};
use crate::error::CpuError;
use crate::facts::{props_to_cpuid, QemuCpuDefinition, QemuPropValue, QemuProps};

/// libvirt's view of QEMU's model list (spec 8.3): usability from
/// `unavailable-features` (absent: unknown, empty: yes, else no), blockers
/// translated to libvirt names in QEMU's order (as `qemuMonitorJSONGetCPUDefinitions`
/// keeps them for `qemuDomainCheckCPU`; only domain capabilities sort them,
/// `virDomainCapsCPUModelsSort`), and the list sorted by name. Every entry is
/// kept: decode only looks up the names it knows.
pub fn hypervisor_models(definitions: &[QemuCpuDefinition]) -> Vec<HypervisorModel> {
    let mut models: Vec<HypervisorModel> = definitions
        .iter()
        .map(|definition| {
            let unavailable = definition.unavailable_features.as_deref();
            let blockers: Vec<String> = unavailable
                .unwrap_or_default()
                .iter()
                .map(|name| qemu_to_libvirt(name).to_string())
                .collect();
            let usable = match unavailable {
                None => Usability::Unknown,
                Some([]) => Usability::Yes,
                Some(_) => Usability::No,
            };
            HypervisorModel {
                name: definition.name.clone(),
                usable,
                blockers: Blockers::Named(blockers),
                deprecated: definition.deprecated,
            }
        })
        .collect();
    crate::sort::sort_by(&mut models, |a, b| a.name.cmp(&b.name));
    models
}

/// The host-model CPU libvirt reports for QEMU's expansion `props` (spec 8.2,
/// the `-json.xml` of libvirt's tests): the props become CPU data (spec 8.1,
/// not migratable), which is decoded as a guest CPU constrained by
/// `definitions` when given, with `fallback='forbid'`.
pub fn host_model_from_qmp(
    map: &CpuMap,
    props: &QemuProps,
    definitions: Option<&[HypervisorModel]>,
) -> Result<CpuDef, CpuError> {
    // libvirt refuses an expansion whose vendor cannot be a CPUID string; the
    // conversion alone would just leave the vendor out.
    if let Some(QemuPropValue::String(vendor)) = props.get("vendor") {
        if vendor.len() != 12 {
            return Err(CpuError::internal(format!(
                "Invalid CPU vendor string '{vendor}'"
            )));
        }
    }
    let data = props_to_cpuid(props, map);
    guest_cpu_from_signals(map, &CpuSignals::from_cpuid(map, &data), definitions)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpudef::{CpuType, Fallback};
    use crate::facts::QemuReplies;
    use crate::libvirt::cputestdata;

    /// The QMP replies of one cputest CPU.
    fn replies(dir: &std::path::Path, name: &str) -> QemuReplies {
        let file = format!("x86_64-cpuid-{name}.json");
        crate::dump::qmp::parse(&cputestdata::read(dir, &file))
            .unwrap_or_else(|e| panic!("{file}: {e}"))
            .qemu
            .unwrap_or_else(|| panic!("{file}: no QMP replies"))
    }

    /// The allowed-models list cputest uses: only `models*` tests pass QEMU's
    /// definitions on, `host` tests ignore them even when present (spec 4.7).
    fn allowed_models(replies: &QemuReplies, mode: &str) -> Option<Vec<HypervisorModel>> {
        match mode {
            "models" | "models_required" => Some(hypervisor_models(
                replies
                    .definitions
                    .as_deref()
                    .expect("models tests have definitions"),
            )),
            _ => None,
        }
    }

    #[test]
    fn json_host_models_match_libvirt_byte_for_byte() {
        let Some(dir) = cputestdata::dir() else {
            return;
        };
        let map = CpuMap::embedded();
        let mut checked = 0;
        for case in cputestdata::cases(&dir, "cpuid") {
            let [name, mode] = case.as_slice() else {
                panic!("malformed cpuid case {case:?}");
            };
            if mode == "none" {
                continue;
            }
            let replies = replies(&dir, name);
            let expansion = replies.expansion.as_ref().expect("model expansion");
            let allowed = allowed_models(&replies, mode);
            let host_model = host_model_from_qmp(map, &expansion.props, allowed.as_deref())
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            let expected_file = format!("x86_64-cpuid-{name}-json.xml");
            assert_eq!(
                host_model.to_xml(),
                cputestdata::read(&dir, &expected_file),
                "{expected_file}"
            );
            checked += 1;
        }
        assert_eq!(checked, 34);
    }

    #[test]
    fn definitions_become_sorted_models_with_libvirt_blockers_in_qemu_order() {
        let definition = |name: &str, unavailable: Option<&[&str]>| QemuCpuDefinition {
            name: name.to_string(),
            typename: None,
            unavailable_features: unavailable
                .map(|list| list.iter().map(|s| s.to_string()).collect()),
            deprecated: name == "Icelake-Client",
            alias_of: None,
            is_static: false,
            migration_safe: None,
        };
        let definitions = [
            definition(
                "Skylake-Client",
                Some(&["pclmulqdq", "avx", "pclmuldq", "avx"]),
            ),
            definition("Icelake-Client", None),
            definition("486", Some(&[])),
        ];
        let models = hypervisor_models(&definitions);
        let summary: Vec<(&str, Usability, Vec<&str>, bool)> = models
            .iter()
            .map(|m| {
                let Blockers::Named(names) = &m.blockers else {
                    panic!("QEMU's answer keeps its names: {m:?}");
                };
                let blockers = names.iter().map(String::as_str).collect();
                (m.name.as_str(), m.usable, blockers, m.deprecated)
            })
            .collect();
        assert_eq!(
            summary,
            vec![
                ("486", Usability::Yes, vec![], false),
                ("Icelake-Client", Usability::Unknown, vec![], true),
                (
                    "Skylake-Client",
                    Usability::No,
                    vec!["pclmuldq", "avx", "pclmuldq", "avx"],
                    false
                ),
            ]
        );
    }

    #[test]
    fn expansion_is_a_guest_host_model_with_forbid() {
        let map = CpuMap::embedded();
        let props: QemuProps = [
            ("vendor", QemuPropValue::String("GenuineIntel".into())),
            ("family", QemuPropValue::Integer(6)),
            ("model", QemuPropValue::Integer(15)),
            ("stepping", QemuPropValue::Integer(11)),
            ("sse4-1", QemuPropValue::Bool(true)),
            ("pclmulqdq", QemuPropValue::Bool(false)),
            ("no-such-prop", QemuPropValue::Bool(true)),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_string(), value))
        .collect();
        let cpu = host_model_from_qmp(map, &props, None).expect("host model");
        assert_eq!(cpu.cpu_type, CpuType::Guest);
        assert_eq!(cpu.fallback, Fallback::Forbid);
        assert_eq!(cpu.vendor.as_deref(), Some("Intel"));
        let mut bad_vendor = props;
        bad_vendor.insert("vendor".into(), QemuPropValue::String("Intel".into()));
        let error = host_model_from_qmp(map, &bad_vendor, None).expect_err("short vendor");
        assert_eq!(
            error.to_string(),
            "internal error: Invalid CPU vendor string 'Intel'"
        );
    }
}
