//! guestcpu-core's integration tests, compiled into one binary.
//!
//! Each module is one family of tests over the public API only; see the module
//! comments for what each exercises.

mod check;
mod cputest;
mod layers;
mod qemuxml;
mod real_stack;
mod remedy;
mod shared;
mod sosreport;
