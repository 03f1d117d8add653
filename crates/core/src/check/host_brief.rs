//! The host in brief: vendor, signature, host-model and x86-64 micro-architecture
//! level, as the report's header shows them.

use serde::Serialize;

use crate::data::CpuMap;
use crate::featureset::FeatureSet;

/// The x86-64 psABI levels, each with the CPUID features it adds (libvirt names).
const LEVELS: [(&str, &[&str]); 4] = [
    (
        "v1",
        &[
            "lm", "cmov", "cx8", "fpu", "fxsr", "mmx", "syscall", "sse", "sse2",
        ],
    ),
    (
        "v2",
        &[
            "cx16", "lahf_lm", "popcnt", "pni", "sse4.1", "sse4.2", "ssse3",
        ],
    ),
    (
        "v3",
        &[
            "avx", "avx2", "bmi1", "bmi2", "f16c", "fma", "abm", "movbe", "xsave",
        ],
    ),
    (
        "v4",
        &["avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"],
    ),
];

/// The highest x86-64 level whose features (and those of every lower level) are
/// all in `features`, e.g. `x86-64-v3`; `None` when not even v1 is there.
pub fn x86_64_level(map: &CpuMap, features: &FeatureSet) -> Option<String> {
    let mut reached = None;
    for (level, names) in LEVELS {
        let complete = names
            .iter()
            .all(|name| map.feature_id(name).is_some_and(|id| features.contains(id)));
        if !complete {
            break;
        }
        reached = Some(format!("x86-64-{level}"));
    }
    reached
}

/// The report's summary of a host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostBrief {
    /// How the input was read, e.g. "cpuid -1r, CPU 0 of 16".
    pub format: String,
    pub vendor: Option<String>,
    pub family: Option<u32>,
    pub model: Option<u32>,
    pub stepping: Option<u32>,
    /// The host CPU model libvirt reports (`virsh capabilities`).
    pub host_cpu_model: Option<String>,
    /// The host-model guest CPU's model (`virsh domcapabilities`).
    pub host_model: Option<String>,
    /// The host-model guest CPU as libvirt XML.
    pub host_model_xml: Option<String>,
    pub x86_64_level: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_follow_the_model_features() {
        let map = CpuMap::embedded();
        let level_of = |model: &str, extra: &[&str]| {
            let id = map.model_id(model).expect("model");
            let mut features = map.model(id).features;
            for name in extra {
                features.insert(map.feature_id(name).expect("feature"));
            }
            x86_64_level(map, &features)
        };
        assert_eq!(level_of("qemu64", &[]).as_deref(), Some("x86-64-v1"));
        assert_eq!(level_of("Nehalem", &[]).as_deref(), Some("x86-64-v2"));
        // libvirt's Haswell lacks f16c and abm, which every Haswell has.
        assert_eq!(level_of("Haswell", &[]).as_deref(), Some("x86-64-v2"));
        assert_eq!(
            level_of("Haswell", &["f16c", "abm"]).as_deref(),
            Some("x86-64-v3")
        );
        assert_eq!(
            level_of("Skylake-Server", &["f16c", "abm"]).as_deref(),
            Some("x86-64-v4")
        );
        assert_eq!(x86_64_level(map, &FeatureSet::EMPTY), None);
    }
}
