//! guestcpu's engine: libvirt's and QEMU's x86 guest-CPU rules as a pure library.
//!
//! Inputs arrive as text (`&str`), outputs leave as values; nothing here reads
//! files, talks to a hypervisor or knows about the CLI or the browser. See
//! `docs/architecture.md` for the map of modules and their invariants.

pub mod batch;
pub mod capture;
pub mod check;
pub mod cpudef;
pub mod cpuid;
pub mod data;
pub mod domain;
pub mod domain_log;
pub mod dump;
pub mod error;
pub mod facts;
pub mod featureset;
pub mod host;
pub mod json;
pub mod libvirt;
pub mod position;
pub mod qemu;
mod sort;
pub mod sosreport;
pub mod start_evidence;
pub mod version;
pub mod xml;

pub use cpudef::{CpuCheck, CpuDef, CpuFeature, CpuMatch, CpuMode, CpuType, Fallback, Policy};
pub use cpuid::{CpuidData, DataKey, Register, Registers, Signature};
pub use data::{CpuMap, FeatureId, ModelId, VendorId};
pub use error::{CpuError, ErrorClass};
pub use featureset::{FeatureSet, SetRelation};
