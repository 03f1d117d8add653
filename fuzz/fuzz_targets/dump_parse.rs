//! Every host dump parser, through format detection: any text must give a
//! `HostDump` or a `ParseError` inside the text, never a panic or a hang.
#![no_main]

use guestcpu_core::dump;
use guestcpu_core::host::parse_host;
use guestcpu_core::CpuMap;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(error) = dump::parse(text) {
        assert!(error.offset <= text.len(), "offset past the end: {error:?}");
    }
    // The host view asks every question of a parsed dump.
    if let Ok(host) = parse_host(CpuMap::embedded(), text) {
        let _ = host.host_cpu();
        let _ = host.host_model();
        let _ = host.signature();
        let _ = host.cpuid_features();
    }
});
