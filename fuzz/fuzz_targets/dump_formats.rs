//! Each host dump parser on its own, detection skipped: the first byte picks
//! the format, the rest is its text. Any text must give a `HostDump` or a
//! `ParseError` inside the text, never a panic or a hang, so each parser is
//! reached even by inputs detection would send elsewhere.
#![no_main]

use guestcpu_core::dump;
use guestcpu_core::facts::DumpFormat;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((selector, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let format = DumpFormat::ALL[usize::from(*selector) % DumpFormat::ALL.len()];
    if let Err(error) = dump::parse_as(format, text) {
        assert!(
            error.offset <= text.len(),
            "{format}: offset past the end: {error:?}"
        );
    }
});
