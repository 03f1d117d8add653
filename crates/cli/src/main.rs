//! The `guestcpu` command-line tool.
fn main() {}
