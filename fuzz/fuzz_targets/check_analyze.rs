//! The whole check: a domain and a host dump, split at the first NUL byte,
//! must give a report or an error, never a panic or a hang.
#![no_main]

use guestcpu_core::check::{analyze, CheckOptions};
use guestcpu_core::host::parse_host;
use guestcpu_core::CpuMap;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Some((domain, host)) = text.split_once('\0') else {
        return;
    };
    let map = CpuMap::embedded();
    let Ok(host) = parse_host(map, host) else {
        return;
    };
    let _ = analyze(map, domain, &host, Some(&host), &CheckOptions::default());
});
