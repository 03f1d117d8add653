//! libvirt's fixed QEMU ↔ libvirt feature-name table and the names it never
//! passes to QEMU. Both are hard-coded in libvirt's QEMU driver, not in its data.

/// `(libvirt name, QEMU name)`; applied in both directions, nothing else translates.
const TRANSLATIONS: [(&str, &str); 15] = [
    ("cmp_legacy", "cmp-legacy"),
    ("ds_cpl", "ds-cpl"),
    ("fxsr_opt", "fxsr-opt"),
    ("kvm_pv_eoi", "kvm-pv-eoi"),
    ("kvm_pv_unhalt", "kvm-pv-unhalt"),
    ("lahf_lm", "lahf-lm"),
    ("nodeid_msr", "nodeid-msr"),
    ("pclmuldq", "pclmulqdq"),
    ("perfctr_core", "perfctr-core"),
    ("perfctr_nb", "perfctr-nb"),
    ("tsc_adjust", "tsc-adjust"),
    (
        "vmx-invvpid-single-context-noglobals",
        "vmx-invept-single-context-noglobals",
    ),
    ("hv-vendor_id", "hv-vendor-id"),
    ("hv-emsr_bitmap", "hv-emsr-bitmap"),
    ("hv-xmm_input", "hv-xmm-input"),
];

/// Features stripped from a guest CPU before the `-cpu` argument is built.
pub const NEVER_PASSED_TO_QEMU: [&str; 8] = [
    "cmt",
    "mbm_total",
    "mbm_local",
    "osxsave",
    "ospke",
    "vmx-ept-uc",
    "vmx-ept-wb",
    "vmx-invvpid-single-context",
];

/// Features QEMU sets itself from the guest's topology (`ht` in CPUID 1 EDX
/// and, on vendors other than Intel and Zhaoxin, `cmp_legacy` in 0x80000001
/// ECX, whenever a package has more than one thread: `x86_cpu_expand_features`,
/// QEMU's target/i386/cpu.c). Newer libvirt strips them from the guest CPU
/// as well before the `-cpu` argument is built
/// (`strips_topology_features` in `libvirt::release`).
pub const TOPOLOGY_FEATURES: [&str; 2] = ["ht", "cmp_legacy"];

/// The QEMU spelling of a libvirt feature name.
pub fn libvirt_to_qemu(name: &str) -> &str {
    TRANSLATIONS
        .iter()
        .find(|(l, _)| *l == name)
        .map_or(name, |(_, q)| q)
}

/// The libvirt spelling of a QEMU property name.
pub fn qemu_to_libvirt(name: &str) -> &str {
    TRANSLATIONS
        .iter()
        .find(|(_, q)| *q == name)
        .map_or(name, |(l, _)| l)
}
