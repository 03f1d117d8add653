//! guestcpu's engine: libvirt's and QEMU's x86 guest-CPU rules as a pure library.
//!
//! Inputs arrive as text (`&str`), outputs leave as values; nothing here reads
//! files, talks to a hypervisor or knows about the CLI or the browser. See
//! `docs/architecture.md` for the map of modules and their invariants.

pub mod cpuid;
pub mod data;
pub mod featureset;
pub mod xml;

pub use cpuid::{CpuidData, DataKey, Register, Registers, Signature};
pub use data::{CpuMap, FeatureId, ModelId, VendorId};
pub use featureset::{FeatureSet, SetRelation};
