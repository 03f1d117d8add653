//! Domain XML and `<cpu>` definitions: any text must parse or give an
//! `DomainError` inside the text; a parsed `<cpu>` must format without panicking.
#![no_main]

use guestcpu_core::domain::Domain;
use guestcpu_core::CpuDef;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Domain::parse(text) {
        Ok(domain) => {
            let _ = domain.machine_qemu_version();
            let _ = domain.cpu.to_xml();
        }
        Err(error) => assert!(error.offset <= text.len(), "{error:?}"),
    }
    match CpuDef::parse(text) {
        Ok(cpu) => {
            let _ = cpu.to_xml();
        }
        Err(error) => assert!(error.offset <= text.len(), "{error:?}"),
    }
});
