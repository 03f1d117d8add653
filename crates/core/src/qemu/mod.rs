//! QEMU's side of the guest CPU: the `-cpu` argument libvirt builds, QEMU's own
//! model definitions per version and what each accelerator can provide.

pub mod accel;
mod accel_facts;
pub mod cpu_arg;
pub mod definitions;
pub mod guest;
pub mod models;

pub use crate::data::qemu_order::{feature_word_rank, in_qemu_order};
