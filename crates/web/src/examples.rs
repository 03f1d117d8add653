//! Example inputs for the "Examples" menu, all written for this project (no
//! third-party files): one domain per common way of choosing a guest CPU, host
//! dumps typed up in the formats people paste, and host dumps synthesized from
//! the embedded CPU model definitions; and pairs of a domain and a host that
//! give a verdict at once, offered on a fresh page.

use guestcpu_core::dump::synthetic::synthesize_cpudata_xml;
use guestcpu_core::CpuMap;

/// One domain of the examples menu.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Example {
    /// What the menu shows.
    pub title: &'static str,
    pub domain_xml: &'static str,
}

/// Every example, in menu order.
pub const EXAMPLES: &[Example] = &[
    Example {
        title: "host-model, check='partial'",
        domain_xml: "<domain type='kvm'>\n  <name>web01</name>\n  \
                     <cpu mode='host-model' check='partial'/>\n</domain>\n",
    },
    Example {
        title: "host-passthrough",
        domain_xml: "<domain type='kvm'>\n  <name>build01</name>\n  \
                     <cpu mode='host-passthrough' check='none' migratable='on'/>\n</domain>\n",
    },
    Example {
        title: "custom Haswell-noTSX, check='full'",
        domain_xml: "<cpu mode='custom' match='exact' check='full'>\n  \
                     <model fallback='forbid'>Haswell-noTSX</model>\n  \
                     <feature policy='require' name='vmx'/>\n  \
                     <feature policy='disable' name='hle'/>\n</cpu>\n",
    },
    Example {
        title: "custom Skylake-Client, default check",
        domain_xml: "<cpu mode='custom' match='exact'>\n  \
                     <model fallback='allow'>Skylake-Client</model>\n  \
                     <vendor>Intel</vendor>\n  \
                     <feature policy='require' name='pcid'/>\n</cpu>\n",
    },
];

/// One host dump of the examples menu.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostExample {
    /// What the menu shows.
    pub title: &'static str,
    pub dump: &'static str,
}

/// A two-socket Skylake server as `/proc/cpuinfo` shows it (first processor
/// only; Linux repeats the block per logical CPU).
const SKYLAKE_SERVER_CPUINFO: &str = "processor\t: 0
vendor_id\t: GenuineIntel
cpu family\t: 6
model\t\t: 85
model name\t: Intel(R) Xeon(R) Gold 6130 CPU @ 2.10GHz
stepping\t: 4
flags\t\t: fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 \
clflush dts acpi mmx fxsr sse sse2 ss ht tm pbe syscall nx pdpe1gb rdtscp lm constant_tsc \
pni pclmulqdq dtes64 monitor ds_cpl vmx smx est tm2 ssse3 sdbg fma cx16 xtpr pdcm pcid dca \
sse4_1 sse4_2 x2apic movbe popcnt tsc_deadline_timer aes xsave avx f16c rdrand lahf_lm abm \
3dnowprefetch invpcid_single ssbd ibrs ibpb stibp fsgsbase tsc_adjust bmi1 hle avx2 smep \
bmi2 erms invpcid rtm mpx avx512f avx512dq rdseed adx smap clflushopt clwb avx512cd \
avx512bw avx512vl xsaveopt xsavec xgetbv1 xsaves arat pku ospke md_clear arch_capabilities
";

/// An older desktop without AVX-512 or TSX, for migration targets.
const HASWELL_DESKTOP_CPUINFO: &str = "processor\t: 0
vendor_id\t: GenuineIntel
cpu family\t: 6
model\t\t: 60
model name\t: Intel(R) Core(TM) i5-4590 CPU @ 3.30GHz
stepping\t: 3
flags\t\t: fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 \
clflush dts acpi mmx fxsr sse sse2 ss ht tm pbe syscall nx pdpe1gb rdtscp lm constant_tsc \
pni pclmulqdq dtes64 monitor ds_cpl vmx est tm2 ssse3 sdbg fma cx16 xtpr pdcm pcid sse4_1 \
sse4_2 x2apic movbe popcnt tsc_deadline_timer aes xsave avx f16c rdrand lahf_lm abm \
invpcid_single ssbd ibrs ibpb stibp fsgsbase tsc_adjust bmi1 avx2 smep bmi2 erms invpcid \
xsaveopt arat md_clear
";

/// Every host example, in menu order.
pub const HOST_EXAMPLES: &[HostExample] = &[
    HostExample {
        title: "Skylake server (/proc/cpuinfo)",
        dump: SKYLAKE_SERVER_CPUINFO,
    },
    HostExample {
        title: "Haswell desktop (/proc/cpuinfo)",
        dump: HASWELL_DESKTOP_CPUINFO,
    },
];

/// A host dump made on demand from a CPU model definition: libvirt's
/// `<cpudata>` XML of a host whose CPU is exactly the model plus some features.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SynthesizedHostExample {
    /// What the menu shows.
    pub title: &'static str,
    /// The model of the embedded CPU map the host is made from.
    pub model: &'static str,
    /// Features the host has beyond the model's (e.g. the virtualization flag).
    pub extra_features: &'static [&'static str],
}

impl SynthesizedHostExample {
    /// The `<cpudata>` dump; `None` only if the embedded data lacks the model or
    /// a feature (a unit test makes sure it does not).
    pub fn dump(&self) -> Option<String> {
        synthesize_cpudata_xml(CpuMap::embedded(), self.model, self.extra_features).ok()
    }
}

/// Every synthesized host example, in menu order.
pub const SYNTHESIZED_HOST_EXAMPLES: &[SynthesizedHostExample] = &[
    SynthesizedHostExample {
        title: "Haswell server (synthesized from the Haswell model)",
        model: "Haswell",
        extra_features: &["vmx"],
    },
    SynthesizedHostExample {
        title: "EPYC host (synthesized from the EPYC model)",
        model: "EPYC",
        extra_features: &["svm"],
    },
    SynthesizedHostExample {
        title: "Atom (synthesized from the n270 model)",
        model: "n270",
        extra_features: &[],
    },
];

/// Where the host of an example pair comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExampleHost {
    /// An entry of [`HOST_EXAMPLES`].
    Typed(usize),
    /// An entry of [`SYNTHESIZED_HOST_EXAMPLES`].
    Synthesized(usize),
}

/// A domain and a host that together show one kind of verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExamplePair {
    /// What the button and the menu show.
    pub title: &'static str,
    /// An entry of [`EXAMPLES`].
    pub domain: usize,
    pub host: ExampleHost,
}

impl ExamplePair {
    /// The pair's domain XML and host dump; `None` only if an index is wrong or
    /// a synthesized host cannot be made (a unit test makes sure neither happens).
    pub fn texts(&self) -> Option<(&'static str, String)> {
        let domain = EXAMPLES.get(self.domain)?.domain_xml;
        let host = match self.host {
            ExampleHost::Typed(index) => HOST_EXAMPLES.get(index)?.dump.to_string(),
            ExampleHost::Synthesized(index) => SYNTHESIZED_HOST_EXAMPLES.get(index)?.dump()?,
        };
        Some((domain, host))
    }
}

/// Every example pair, in the order a fresh page offers them.
pub const EXAMPLE_PAIRS: &[ExamplePair] = &[
    ExamplePair {
        title: "host-model on a Skylake server",
        domain: 0,
        host: ExampleHost::Typed(0),
    },
    ExamplePair {
        title: "Skylake-Client on a Haswell desktop",
        domain: 3,
        host: ExampleHost::Typed(1),
    },
    ExamplePair {
        title: "Haswell-noTSX, check='full', on an EPYC host",
        domain: 2,
        host: ExampleHost::Synthesized(1),
    },
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{analyze, read_domain, read_host, AnalysisOptions, InputKind};

    #[test]
    fn every_example_pair_gives_a_report() {
        for pair in EXAMPLE_PAIRS {
            let Some((domain, host)) = pair.texts() else {
                panic!("{}: an index is wrong", pair.title);
            };
            let host = read_host(InputKind::HostDump, &host)
                .unwrap_or_else(|error| panic!("{}: {error}", pair.title));
            let parsed =
                read_domain(domain).unwrap_or_else(|error| panic!("{}: {error}", pair.title));
            if let Err(error) = analyze(domain, &parsed, &host, None, AnalysisOptions::default()) {
                panic!("{}: {error}", pair.title);
            }
        }
    }

    #[test]
    fn every_example_host_parses() {
        for example in HOST_EXAMPLES {
            if let Err(error) = read_host(InputKind::HostDump, example.dump) {
                panic!("{}: {error}", example.title);
            }
        }
    }

    #[test]
    fn every_synthesized_host_parses_as_cpudata() {
        for example in SYNTHESIZED_HOST_EXAMPLES {
            let Some(dump) = example.dump() else {
                panic!(
                    "{}: the embedded data lacks the model or a feature",
                    example.title
                );
            };
            match read_host(InputKind::HostDump, &dump) {
                Ok(host) => assert!(!host.format.is_empty(), "{}", example.title),
                Err(error) => panic!("{}: {error}", example.title),
            }
        }
    }

    #[test]
    fn every_example_domain_parses() {
        for example in EXAMPLES {
            if let Err(error) = read_domain(example.domain_xml) {
                panic!("{}: {error}", example.title);
            }
        }
    }
}
