// The `data/` files the web app's module embeds: what a check needs with no
// release asked for (the newest libvirt map and QEMU release, libvirt 11.3's
// map, with which host dumps are read, and the accelerator facts). Built with
// the feature `deferred-releases`, the engine has only these until
// `data::load_deferred` is given the others. Included by `build.rs` and by
// `data/mod.rs`, whose tests hold it to the releases it names.

/// Paths under `data/` of the files embedded in the web app's module.
const AT_START: &[&str] = &[
    "accel/kvm.json",
    "accel/tcg.json",
    "cpu_map/11.3.0.json",
    "cpu_map/12.9.0.json",
    "qemu/11.1.json",
];
