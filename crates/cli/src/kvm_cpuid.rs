//! What KVM offers guests, read directly: `KVM_GET_SUPPORTED_CPUID` on
//! `/dev/kvm` (Linux's Documentation/virt/kvm/api.rst, "KVM_GET_SUPPORTED_CPUID").
//! This is the CLI's only `unsafe` code: one `ioctl` call.
//!
//! The ioctl fills a caller-sized `struct kvm_cpuid2`: a header (`nent`, the
//! number of entries the caller made room for, and padding) followed by
//! `nent` `struct kvm_cpuid_entry2` (function, index, flags, eax, ebx, ecx,
//! edx, three words of padding: ten `u32`s). The kernel writes at most `nent`
//! entries and answers `E2BIG` when they do not fit; the call is then
//! repeated with twice the room.
#![allow(unsafe_code)]

use std::fmt::Write as _;
use std::fs::File;
use std::os::fd::AsRawFd as _;

/// `_IOWR(KVMIO, 0x05, struct kvm_cpuid2)`: direction read|write (3 << 30),
/// the header's size 8 (<< 16), `KVMIO` 0xAE (<< 8), number 0x05
/// (include/uapi/linux/kvm.h).
const KVM_GET_SUPPORTED_CPUID: u64 = 0xC008_AE05;

/// `u32`s in the header and in one entry.
const HEADER_WORDS: usize = 2;
const ENTRY_WORDS: usize = 10;

/// The most entries asked for before giving up.
const MAX_ENTRIES: usize = 4096;

/// KVM's supported CPUID, in `cpuid -r`'s line format.
pub fn supported_cpuid() -> Result<String, String> {
    let kvm = File::options()
        .read(true)
        .write(true)
        .open("/dev/kvm")
        .map_err(|error| format!("/dev/kvm: {error}"))?;
    let mut room = 128;
    loop {
        let mut buffer = vec![0u32; HEADER_WORDS + room * ENTRY_WORDS];
        buffer[0] = u32::try_from(room).map_err(|error| error.to_string())?;
        // SAFETY: `buffer` is a live, 4-byte-aligned allocation of
        // HEADER_WORDS + room * ENTRY_WORDS u32s, exactly `struct kvm_cpuid2`
        // with `nent = room` entries of `struct kvm_cpuid_entry2` (all u32
        // fields), and the kernel writes at most `nent` entries into it.
        let result = unsafe {
            libc::ioctl(
                kvm.as_raw_fd(),
                KVM_GET_SUPPORTED_CPUID as _,
                buffer.as_mut_ptr(),
            )
        };
        if result < 0 {
            let error = std::io::Error::last_os_error();
            if error.raw_os_error() == Some(libc::E2BIG) && room < MAX_ENTRIES {
                room *= 2;
                continue;
            }
            return Err(format!("KVM_GET_SUPPORTED_CPUID: {error}"));
        }
        let count = usize::try_from(buffer[0]).unwrap_or(0).min(room);
        let mut text = String::from("KVM:\n");
        for entry in buffer[HEADER_WORDS..].chunks_exact(ENTRY_WORDS).take(count) {
            let _ = writeln!(
                text,
                "   0x{:08x} 0x{:02x}: eax=0x{:08x} ebx=0x{:08x} ecx=0x{:08x} edx=0x{:08x}",
                entry[0], entry[1], entry[3], entry[4], entry[5], entry[6]
            );
        }
        return Ok(text);
    }
}
