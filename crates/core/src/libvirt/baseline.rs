//! Baseline: the best CPU that every given CPU can run (libvirt's `virCPUBaseline`).
//!
//! The CPUs' data are intersected, the result is decoded as a guest CPU with
//! the input model names preferred, and the vendor is reported only when the
//! first CPU named one. The vendor rule is asymmetric on purpose (QUIRK, spec
//! 7.1): the first CPU contributes only its explicit vendor, the others also
//! their model's vendor.

use super::decode::{decode, DecodeOptions};
use super::{model_data, CpuSignals, HypervisorModel, PolicySelector};
use crate::cpudef::{CpuDef, CpuType, Fallback};
use crate::cpuid::Signature;
use crate::data::{CpuMap, VendorId};
use crate::error::CpuError;
use crate::featureset::FeatureSet;
use crate::xml::{self, XmlError};

/// Computes the baseline of `cpus`.
///
/// `allowed` restricts the result to the hypervisor's models (`None` allows
/// every model), `feature_filter` limits the result to the named features (names
/// the map does not know are ignored, as libvirt does) and `migratable` drops
/// features that block migration.
pub fn baseline(
    map: &CpuMap,
    cpus: &[CpuDef],
    allowed: Option<&[HypervisorModel]>,
    feature_filter: Option<&[String]>,
    migratable: bool,
) -> Result<CpuDef, CpuError> {
    let Some(first) = cpus.first() else {
        return Err(CpuError::invalid_argument("no CPUs given"));
    };
    if let Some(index) = cpus.iter().position(|cpu| cpu.model.is_none()) {
        return Err(CpuError::invalid_argument(format!(
            "no CPU model specified at index {index}"
        )));
    }

    let mut base = model_data(map, first, PolicySelector::All)?.features;
    // QUIRK: only the first CPU's explicit vendor counts, never its model's.
    let mut output_vendor = first.vendor.is_some();
    let mut vendor = match &first.vendor {
        Some(name) => Some(known_vendor(map, name)?),
        None => None,
    };
    let mut model_names: Vec<String> = first.model.iter().cloned().collect();

    for cpu in &cpus[1..] {
        let model_name = cpu.model.clone().unwrap_or_default();
        if !model_names.contains(&model_name) {
            model_names.push(model_name.clone());
        }
        let data = model_data(map, cpu, PolicySelector::All)?;
        let model_vendor = data.vendor.map(|id| map.vendor(id).name.as_str());
        if let (Some(explicit), Some(model_vendor)) = (&cpu.vendor, model_vendor) {
            if explicit != model_vendor {
                return Err(CpuError::operation_failed(format!(
                    "CPU vendor {model_vendor} of model {model_name} differs from vendor {explicit}"
                )));
            }
        }
        let vendor_name = match &cpu.vendor {
            Some(explicit) => Some(explicit.as_str()),
            None => {
                output_vendor = false;
                model_vendor
            }
        };
        if let Some(vendor_name) = vendor_name {
            match vendor {
                None => vendor = Some(known_vendor(map, vendor_name)?),
                Some(id) if map.vendor(id).name != vendor_name => {
                    return Err(CpuError::operation_failed("CPU vendors do not match"));
                }
                Some(_) => {}
            }
        }
        base.intersect_with(&data.features);
    }

    if let Some(filter) = feature_filter {
        let wanted: FeatureSet = filter
            .iter()
            .filter_map(|name| map.feature_id(name))
            .filter(|id| !map.feature(*id).internal)
            .collect();
        base.intersect_with(&wanted);
    }
    if base.is_empty() {
        return Err(CpuError::operation_failed("CPUs are incompatible"));
    }

    let mut result = CpuDef::new(CpuType::Guest);
    // Baseline data carry a vendor but no leaf 1: signature 0 turns signature
    // matching (and the Haswell TSX filter) off.
    let signals = CpuSignals {
        features: base,
        vendor,
        signature: Signature::default(),
    };
    decode(
        map,
        &mut result,
        &signals,
        DecodeOptions {
            allowed,
            preferred: &model_names,
            migratable,
        },
    )?;
    // The signature decode records is meaningless for a baseline.
    result.signature = None;
    if model_names.len() == 1 && result.model == model_names.first().cloned() {
        result.fallback = Fallback::Forbid;
    }
    if !output_vendor {
        result.vendor = None;
    }
    Ok(result)
}

fn known_vendor(map: &CpuMap, name: &str) -> Result<VendorId, CpuError> {
    map.vendor_id(name)
        .ok_or_else(|| CpuError::operation_failed(format!("Unknown CPU vendor {name}")))
}

/// Reads every CPU of a document: the root itself when it is `<cpu>`, else its
/// `<cpu>` children (libvirt's `<cpuTest>` files) and those of its `<host>`
/// children (a pasted `virsh capabilities`).
pub fn parse_cpu_test(text: &str) -> Result<Vec<CpuDef>, XmlError> {
    let root = xml::parse(text)?;
    if root.name == "cpu" {
        return Ok(vec![CpuDef::from_element(&root)?]);
    }
    let hosts = root.children_named("host");
    let elements = root
        .children_named("cpu")
        .chain(hosts.flat_map(|host| host.children_named("cpu")));
    let cpus = elements
        .map(CpuDef::from_element)
        .collect::<Result<Vec<_>, _>>()?;
    if cpus.is_empty() {
        return Err(XmlError::new(
            root.offset,
            format!("expected `<cpu>` elements in `<{}>`, found none", root.name),
        ));
    }
    Ok(cpus)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorClass;
    use crate::libvirt::compare::{compare, CompareResult};
    use crate::libvirt::cputestdata;
    use crate::libvirt::expand::expand_features;

    /// Runs one baseline, checks the expected file byte for byte (or the
    /// error), and that every input runs on the result, as cputest does.
    fn check(
        dir: &std::path::Path,
        cpus: &[CpuDef],
        migratable: bool,
        expand: bool,
        expected_file: &str,
    ) {
        let map = CpuMap::embedded();
        let mut result = baseline(map, cpus, None, None, migratable)
            .unwrap_or_else(|e| panic!("{expected_file}: {e}"));
        for (i, cpu) in cpus.iter().enumerate() {
            let verdict = compare(map, Some(cpu), &result, false)
                .unwrap_or_else(|e| panic!("{expected_file}: compare {i}: {e}"));
            assert!(
                matches!(verdict, CompareResult::Identical | CompareResult::Superset),
                "{expected_file}: input {i} cannot run the baseline: {verdict:?}"
            );
        }
        if expand {
            expand_features(map, &mut result).expect("expand baseline");
        }
        assert_eq!(
            result.to_xml(),
            cputestdata::read(dir, expected_file),
            "{expected_file}"
        );
    }

    #[test]
    fn baseline_cases_match_libvirt_byte_for_byte() {
        let Some(dir) = cputestdata::dir() else {
            return;
        };
        let cases = cputestdata::cases(&dir, "baseline");
        assert_eq!(cases.len(), 9);
        for case in &cases {
            let [input, flag, expected] = case.as_slice() else {
                panic!("malformed baseline case {case:?}");
            };
            let cpus = parse_cpu_test(&cputestdata::read(&dir, input)).expect(input);
            if expected == "ERROR" {
                let error = baseline(CpuMap::embedded(), &cpus, None, None, false)
                    .expect_err("baseline must fail");
                assert_eq!(error.class, ErrorClass::OperationFailed);
                assert_eq!(
                    error.to_string(),
                    "operation failed: CPU vendors do not match"
                );
                continue;
            }
            check(
                &dir,
                &cpus,
                flag == "migratable",
                flag == "expand-features",
                expected,
            );
        }
    }

    #[test]
    fn cpuid_baseline_cases_match_libvirt_byte_for_byte() {
        let Some(dir) = cputestdata::dir() else {
            return;
        };
        let cases = cputestdata::cases(&dir, "cpuid-baseline");
        assert_eq!(cases.len(), 8);
        for case in &cases {
            let [label, first, second, expected] = case.as_slice() else {
                panic!("malformed cpuid-baseline case {case:?}");
            };
            let cpus: Vec<CpuDef> = [first, second]
                .iter()
                .map(|name| {
                    let file = format!("x86_64-cpuid-{name}-json.xml");
                    CpuDef::parse(&cputestdata::read(&dir, &file)).expect(&file)
                })
                .collect();
            assert!(expected.contains(label.as_str()));
            check(&dir, &cpus, false, false, expected);
        }
    }

    fn host_cpu(model: &str, vendor: Option<&str>) -> CpuDef {
        let mut cpu = CpuDef::new(CpuType::Host);
        cpu.arch = Some("x86_64".to_string());
        cpu.model = Some(model.to_string());
        cpu.vendor = vendor.map(str::to_string);
        cpu
    }

    #[test]
    fn generic_errors_come_first() {
        let map = CpuMap::embedded();
        let error = baseline(map, &[], None, None, false).expect_err("empty list");
        assert_eq!(error.message, "no CPUs given");
        let mut nameless = host_cpu("Penryn", None);
        nameless.model = None;
        let error = baseline(
            map,
            &[host_cpu("Penryn", None), nameless],
            None,
            None,
            false,
        )
        .expect_err("no model");
        assert_eq!(error.message, "no CPU model specified at index 1");
    }

    #[test]
    fn vendor_errors_use_libvirt_texts() {
        let map = CpuMap::embedded();
        let error = baseline(map, &[host_cpu("Penryn", Some("Cyrix"))], None, None, false)
            .expect_err("unknown vendor");
        assert_eq!(
            error.to_string(),
            "operation failed: Unknown CPU vendor Cyrix"
        );
        let cpus = [
            host_cpu("Penryn", None),
            host_cpu("Opteron_G3", Some("Intel")),
        ];
        let error = baseline(map, &cpus, None, None, false).expect_err("model vendor differs");
        assert_eq!(
            error.message,
            "CPU vendor AMD of model Opteron_G3 differs from vendor Intel"
        );
    }

    #[test]
    fn feature_filter_limits_the_result() {
        let map = CpuMap::embedded();
        let filter = vec!["sse".to_string(), "no-such-feature".to_string()];
        let result = baseline(
            map,
            &[host_cpu("Westmere", Some("Intel"))],
            None,
            Some(&filter),
            false,
        )
        .expect("baseline with filter");
        // The only data left is `sse`, but a single input model is "best"
        // as soon as decode meets it, so the result is Westmere with every
        // other feature disabled.
        assert_eq!(result.model.as_deref(), Some("Westmere"));
        assert_eq!(result.fallback, Fallback::Forbid);
        assert!(result.feature("sse").is_none());
        assert_eq!(
            result.feature("aes").and_then(|f| f.policy),
            Some(crate::cpudef::Policy::Disable)
        );
        let filter = vec!["no-such-feature".to_string()];
        let error = baseline(
            map,
            &[host_cpu("Westmere", None)],
            None,
            Some(&filter),
            false,
        )
        .expect_err("nothing left");
        assert_eq!(error.message, "CPUs are incompatible");
    }

    #[test]
    fn single_model_missing_from_the_hypervisor_falls_back() {
        let map = CpuMap::embedded();
        let allowed = [HypervisorModel::named("qemu64")];
        // A baseline result is a new def whose fallback is `allow`, so libvirt
        // only warns and falls back to an allowed model.
        let result = baseline(
            map,
            &[host_cpu("Westmere", None)],
            Some(&allowed),
            None,
            false,
        )
        .expect("falls back");
        assert_eq!(result.model.as_deref(), Some("qemu64"));
    }

    #[test]
    fn cpu_test_documents_and_capabilities_are_read() {
        let cpus = parse_cpu_test(
            "<cpuTest><cpu><arch>x86_64</arch><model>Penryn</model></cpu>\n<cpu><model>Westmere</model></cpu></cpuTest>",
        )
        .expect("cpuTest");
        assert_eq!(cpus.len(), 2);
        assert_eq!(cpus[1].cpu_type, CpuType::Guest);
        let cpus = parse_cpu_test(
            "<capabilities><host><uuid>x</uuid><cpu><arch>x86_64</arch><model>Skylake-Client-v3</model></cpu></host></capabilities>",
        )
        .expect("capabilities");
        assert_eq!(cpus[0].model.as_deref(), Some("Skylake-Client-v3"));
        let single = parse_cpu_test("<cpu><model>Penryn</model></cpu>").expect("single cpu");
        assert_eq!(single.len(), 1);
        let text = "<cpuTest>\n</cpuTest>";
        let error = parse_cpu_test(text).expect_err("no cpu");
        assert_eq!(xml::line_column(text, error.offset), (1, 1));
    }
}
