//! QEMU's side of the guest CPU: the `-cpu` argument libvirt builds, QEMU's own
//! model definitions per version and what each accelerator can provide.

pub mod cpu_arg;
