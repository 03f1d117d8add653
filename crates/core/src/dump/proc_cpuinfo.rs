//! Linux's `/proc/cpuinfo`, the host input that is always at hand.
//!
//! Only the first processor's block is read: `vendor_id`, `cpu family`, `model`,
//! `stepping` and `flags`. Since the engine works on register data, the data is
//! synthesised from them: the vendor string becomes leaf 0, the signature leaf
//! 1 `eax`, and each flag that names a libvirt feature (through the map's Linux
//! aliases, its canonical names, then the fallbacks of [`feature_for_linux_flag`])
//! sets that feature's bits. Flags without a
//! libvirt feature, such as Linux's synthetic `constant_tsc`, are listed in a
//! note rather than refused. The result is less than a real dump: Linux hides
//! some CPUID bits and lists only the features it knows.

use super::text::{self, Line};
use super::ParseError;
use crate::cpuid::{vendor_registers, DataKey, Registers, Signature};
use crate::data::{CpuMap, FeatureId};
use crate::facts::{DumpFormat, HostDump};

/// Parses `/proc/cpuinfo`, mapping flags to features with `map`.
pub fn parse(input: &str, map: &CpuMap) -> Result<HostDump, ParseError> {
    let mut fields = FirstProcessor::default();
    let mut processor_count = 0usize;
    let mut in_first_block = true;
    let mut seen_content = false;
    for line in text::lines(input) {
        let line = line.trimmed();
        if line.text.is_empty() {
            in_first_block &= !seen_content;
            continue;
        }
        let colon = line.text.find(':').ok_or_else(|| {
            ParseError::new(
                line.offset,
                format!(
                    "expected a `/proc/cpuinfo` line like `model\t: 85`, found `{}`",
                    text::shown(line.text)
                ),
            )
        })?;
        let key = line.text[..colon].trim();
        let value = line.tail(colon + 1).trimmed();
        if key == "processor" {
            processor_count += 1;
            in_first_block &= processor_count == 1;
        }
        seen_content = true;
        if in_first_block {
            if fields.non_x86.is_none() {
                fields.non_x86 = non_x86_architecture(key).map(|arch| (key, arch, line.offset));
            }
            fields.record(key, value);
        }
    }

    let mut dump = HostDump::new(DumpFormat::ProcCpuinfo);
    if processor_count > 1 {
        dump.description = format!("/proc/cpuinfo, processor 0 of {processor_count}");
    }
    if let (None, Some((key, arch, offset))) = (&fields.flags, fields.non_x86) {
        return Err(ParseError::new(
            offset,
            format!(
                "this /proc/cpuinfo is from {arch} host (it has a `{key}` line and no `flags`); \
                 guestcpu reads x86 hosts only"
            ),
        ));
    }
    let flags = fields.flags.ok_or_else(|| {
        ParseError::new(input.len(), "no `flags` line found for the first processor")
    })?;

    match fields.vendor_id {
        Some(vendor) => match vendor_registers(vendor.text) {
            Some(registers) => dump.cpuid.add(
                DataKey::Cpuid {
                    leaf: 0,
                    subleaf: 0,
                },
                registers,
            ),
            None => {
                return Err(ParseError::new(
                    vendor.offset,
                    format!(
                        "expected a 12-character vendor like `GenuineIntel`, found `{}`",
                        text::shown(vendor.text)
                    ),
                ))
            }
        },
        None => dump
            .notes
            .push("no `vendor_id` line: the CPU vendor is unknown".to_owned()),
    }

    match (fields.family, fields.model) {
        (Some(family), Some(model)) => {
            let stepping = match fields.stepping {
                Some(stepping) if stepping.text != "unknown" => text::parse_decimal_u32(stepping)?,
                _ => {
                    dump.notes
                        .push("the stepping is unknown; 0 is assumed".to_owned());
                    0
                }
            };
            let signature = Signature {
                family: text::parse_decimal_u32(family)?,
                model: text::parse_decimal_u32(model)?,
                stepping,
            };
            dump.cpuid.add(
                DataKey::Cpuid {
                    leaf: 1,
                    subleaf: 0,
                },
                Registers([signature.to_eax(), 0, 0, 0]),
            );
        }
        _ => dump
            .notes
            .push("no `cpu family` or `model` line: the CPU signature is unknown".to_owned()),
    }

    let vendor = fields.vendor_id.map(|v| v.text);
    let mut unknown_flags = Vec::new();
    for flag in text::words(flags, &[]) {
        match feature_for_linux_flag(map, vendor, flag.text) {
            Some(id) => {
                let bits = map.feature(id).bits;
                dump.cpuid.add(bits.key, bits.registers);
            }
            None => unknown_flags.push(flag.text),
        }
    }
    if !unknown_flags.is_empty() {
        dump.notes.push(format!(
            "{} flags have no libvirt CPU feature and were ignored: {}",
            unknown_flags.len(),
            unknown_flags.join(" ")
        ));
    }
    dump.notes.push(
        "/proc/cpuinfo lists the features Linux knows and enabled, not every CPUID bit; a raw dump (`cpuid -1r`) is more exact"
            .to_owned(),
    );
    Ok(dump)
}

/// Linux flags whose libvirt feature has another name, as Linux prints them
/// (the quoted names of arch/x86/include/asm/cpufeatures.h) and as libvirt's
/// map spells them.
const RENAMED_FLAGS: [(&str, &str); 7] = [
    // X86_FEATURE_DS, "dts": Debug Store, CPUID 1 EDX 21.
    ("dts", "ds"),
    // X86_FEATURE_TSC_DEADLINE_TIMER: CPUID 1 ECX 24.
    ("tsc_deadline_timer", "tsc-deadline"),
    // X86_FEATURE_TSXLDTRK: CPUID 7 EDX 16.
    ("tsxldtrk", "tsx-ldtrk"),
    // X86_FEATURE_IBT: CPUID 7 EDX 20.
    ("ibt", "cet-ibt"),
    // X86_FEATURE_USER_SHSTK, "user_shstk": CPUID 7 ECX 7, CET shadow stacks.
    ("user_shstk", "cet-ss"),
    // X86_FEATURE_IBRS_ENHANCED: set from ARCH_CAPABILITIES.IBRS_ALL.
    ("ibrs_enhanced", "ibrs-all"),
    // X86_FEATURE_AMD_SSB_NO, "amd_ssb_no": CPUID 0x80000008 EBX 26.
    ("amd_ssb_no", "amd-no-ssb"),
];

/// Linux's speculation-control flags are synthetic: `ibrs`, `ibpb`, `stibp`
/// and `ssbd` are set from Intel's CPUID 7 EDX bits (SPEC_CTRL covers IBRS
/// and IBPB) or from AMD's CPUID 0x80000008 EBX bits, whose own flags Linux
/// does not print (arch/x86/kernel/cpu/common.c init_speculation_control).
/// The libvirt feature is the vendor's: (flag, Intel's, AMD's and Hygon's).
const SPECULATION_FLAGS: [(&str, &str, &str); 4] = [
    ("ibrs", "spec-ctrl", "ibrs"),
    ("ibpb", "spec-ctrl", "ibpb"),
    ("stibp", "stibp", "amd-stibp"),
    ("ssbd", "ssbd", "amd-ssbd"),
];

/// The libvirt feature a Linux flag names on a CPU of `vendor` (the
/// `vendor_id` string). The speculation controls depend on the vendor
/// (`SPECULATION_FLAGS`); a few flags are renamed (`RENAMED_FLAGS`); the
/// map knows only a few Linux spellings, so the lookup goes on through QEMU's
/// spellings (which mostly follow Linux: `sse4_1`, `pclmulqdq`) and through
/// libvirt's habit of writing Linux's underscores as dashes (`sha_ni` is
/// `sha-ni`) or not at all (`cr8_legacy` is `cr8legacy`).
pub fn feature_for_linux_flag(map: &CpuMap, vendor: Option<&str>, flag: &str) -> Option<FeatureId> {
    if let Some((_, intel, amd)) = SPECULATION_FLAGS.iter().find(|(name, ..)| *name == flag) {
        let amd_like = matches!(vendor, Some("AuthenticAMD" | "HygonGenuine"));
        return map.feature_id(if amd_like { amd } else { intel });
    }
    if let Some((_, libvirt)) = RENAMED_FLAGS.iter().find(|(name, _)| *name == flag) {
        return map.feature_id(libvirt);
    }
    map.feature_by_linux_name(flag)
        .or_else(|| map.feature_by_qemu_alias(flag))
        .or_else(|| {
            if !flag.contains('_') {
                return None;
            }
            map.feature_id(&flag.replace('_', "-"))
                .or_else(|| map.feature_id(&flag.replace('_', "")))
        })
}

/// The fields of the first processor block, as found (values with offsets).
#[derive(Default)]
struct FirstProcessor<'a> {
    vendor_id: Option<Line<'a>>,
    family: Option<Line<'a>>,
    model: Option<Line<'a>>,
    stepping: Option<Line<'a>>,
    flags: Option<Line<'a>>,
    /// The first line only another architecture's `/proc/cpuinfo` has: its
    /// key, the architecture and the line's offset.
    non_x86: Option<(&'a str, &'static str, usize)>,
}

/// The architecture whose `/proc/cpuinfo` has a line `key` that x86's has
/// not (each architecture's `show_cpuinfo`/`c_show` in Linux: `Features` and
/// `CPU architecture` in `arch/arm64/kernel/cpuinfo.c` and
/// `arch/arm/kernel/setup.c`, `cpu` in `arch/powerpc/kernel/setup-common.c`,
/// `features` in `arch/s390/kernel/processor.c`, `isa` in
/// `arch/riscv/kernel/cpu.c`, `CPU Family` in `arch/loongarch/kernel/proc.c`,
/// `cpu model` in `arch/mips/kernel/proc.c`).
fn non_x86_architecture(key: &str) -> Option<&'static str> {
    match key {
        "Features" | "CPU architecture" => Some("an ARM"),
        "cpu" => Some("a POWER"),
        "features" => Some("an s390x"),
        "isa" => Some("a RISC-V"),
        "CPU Family" => Some("a LoongArch"),
        "cpu model" => Some("a MIPS"),
        _ => None,
    }
}

impl<'a> FirstProcessor<'a> {
    fn record(&mut self, key: &str, value: Line<'a>) {
        let slot = match key {
            "vendor_id" => &mut self.vendor_id,
            "cpu family" => &mut self.family,
            "model" => &mut self.model,
            "stepping" => &mut self.stepping,
            "flags" => &mut self.flags,
            _ => return,
        };
        slot.get_or_insert(value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpuid::Register;

    const SAMPLE: &str = "processor\t: 0
vendor_id\t: GenuineIntel
cpu family\t: 6
model\t\t: 85
model name\t: Intel(R) Xeon(R) Gold 6148 CPU @ 2.40GHz
stepping\t: 4
microcode\t: 0x2007006
flags\t\t: fpu vme sse4_1 pclmulqdq constant_tsc lahf_lm avx512f rep_good sha_ni cr8_legacy md_clear
bugs\t\t: spectre_v1

processor\t: 1
vendor_id\t: GenuineIntel
cpu family\t: 6
model\t\t: 85
stepping\t: 4
flags\t\t: fpu
";

    #[test]
    fn synthesises_cpu_data_from_the_first_processor() {
        let map = CpuMap::embedded();
        let dump = crate::dump::parse(SAMPLE).expect("valid cpuinfo");
        assert_eq!(dump.format, DumpFormat::ProcCpuinfo);
        assert_eq!(dump.description, "/proc/cpuinfo, processor 0 of 2");
        assert_eq!(dump.cpuid.vendor_string().as_deref(), Some("GenuineIntel"));
        assert_eq!(format!("{:06x}", dump.cpuid.signature().to_eax()), "050654");
        let found = map.features_in(&dump.cpuid);
        let mut features: Vec<&str> = map.names(&found).collect();
        features.sort_unstable();
        assert_eq!(
            features,
            vec![
                "avx512f",
                "cr8legacy",
                "fpu",
                "lahf_lm",
                "md-clear",
                "pclmuldq",
                "sha-ni",
                "sse4.1",
                "vme"
            ]
        );
        assert_eq!(
            dump.notes[0],
            "2 flags have no libvirt CPU feature and were ignored: constant_tsc rep_good"
        );
        let leaf1 = dump
            .cpuid
            .get(DataKey::Cpuid {
                leaf: 1,
                subleaf: 0,
            })
            .expect("leaf 1");
        assert_eq!(leaf1.get(Register::Eax), 0x50654);
    }

    #[test]
    fn errors_carry_positions() {
        let text = "processor\t: 0\nvendor_id\t: GenuineIntel\ncpu family\t: six\nmodel\t: 1\nflags\t: fpu\n";
        let err = parse(text, CpuMap::embedded()).expect_err("bad family");
        assert_eq!(
            (err.message.as_str(), err.line_column(text)),
            ("expected a decimal number, found `six`", (3, 14))
        );
        let text = "processor\t: 0\nvendor_id\t: Intel\nflags\t: fpu\n";
        assert_eq!(
            parse(text, CpuMap::embedded())
                .expect_err("short vendor")
                .line_column(text),
            (2, 13)
        );
        let text = "processor\t: 0\nvendor_id\t: GenuineIntel\n";
        let err = parse(text, CpuMap::embedded()).expect_err("no flags");
        assert_eq!(err.message, "no `flags` line found for the first processor");
        let text = "processor\t: 0\nBogoMIPS\t: 50.00\nFeatures\t: fp asimd aes\n";
        let err = parse(text, CpuMap::embedded()).expect_err("an ARM host");
        assert_eq!(
            err.message,
            "this /proc/cpuinfo is from an ARM host (it has a `Features` line and no `flags`); \
             guestcpu reads x86 hosts only"
        );
        assert_eq!(err.line_column(text), (3, 1));
        let text = "processor\t: 0\ngarbage line\n";
        assert_eq!(
            parse(text, CpuMap::embedded())
                .expect_err("garbage")
                .line_column(text),
            (2, 1)
        );
        let text = "processor\t: 0\ncpu family\t: 99999999999\nmodel\t: 1\nflags\t: fpu\n";
        assert!(parse(text, CpuMap::embedded())
            .expect_err("huge")
            .message
            .contains("does not fit"));
    }

    #[test]
    fn linux_names_map_to_libvirt_features_by_vendor() {
        let map = CpuMap::newest();
        let name = |vendor: &str, flag: &str| {
            feature_for_linux_flag(map, Some(vendor), flag).map(|id| map.feature(id).name.as_str())
        };
        assert_eq!(
            name("GenuineIntel", "tsc_deadline_timer"),
            Some("tsc-deadline")
        );
        assert_eq!(name("GenuineIntel", "dts"), Some("ds"));
        assert_eq!(name("GenuineIntel", "ibrs"), Some("spec-ctrl"));
        assert_eq!(name("GenuineIntel", "ibpb"), Some("spec-ctrl"));
        assert_eq!(name("GenuineIntel", "stibp"), Some("stibp"));
        assert_eq!(name("AuthenticAMD", "ibrs"), Some("ibrs"));
        assert_eq!(name("AuthenticAMD", "ibpb"), Some("ibpb"));
        assert_eq!(name("AuthenticAMD", "stibp"), Some("amd-stibp"));
        assert_eq!(name("HygonGenuine", "ssbd"), Some("amd-ssbd"));
        assert_eq!(name("GenuineIntel", "ibt"), Some("cet-ibt"));
        // libvirt 11.3 has no CET features: the flag is unknown there.
        assert_eq!(
            feature_for_linux_flag(CpuMap::embedded(), Some("GenuineIntel"), "ibt"),
            None
        );
    }
}
