//! QEMU's side of the guest CPU: the `-cpu` argument libvirt builds, QEMU's own
//! model definitions per version and what each accelerator can provide.

pub mod accel;
pub mod cpu_arg;
pub mod definitions;
pub mod guest;
pub mod models;
