//! Gives back what only the start-up needed, once the cockpit has settled:
//! the code pages of start-up (config parsing, the SSH handshake, back-fill,
//! the first layout) and the heap freed after the back-fill.
//!
//! Why: code is most of an idle cockpit's resident memory. Release builds
//! put the code a settled cockpit runs side by side (`build.rs`,
//! `assets/text-order.txt`), so after `MADV_PAGEOUT` of the executable's
//! code only that run of pages comes back, within a second; start-up's
//! pages stay out until they are needed again (a reconnect faults them in
//! from the file, as at start). glibc keeps freed heap pages unless asked:
//! `malloc_trim` returns them.
//!
//! Both are hints. Where they are not available nothing happens, and
//! nothing here can change what the cockpit does, only what stays resident.

/// Pages out the executable's read-only mappings (code, constants) and
/// trims the heap. Returns the bytes of mappings advised (0 where nothing
/// was done), for the log.
pub fn release_start_up_memory() -> usize {
    trim_heap();
    page_out_own_code()
}

/// Returns the allocator's free heap pages to the system: glibc keeps them
/// otherwise, and an idle cockpit would carry a burst's memory (a back-fill,
/// the Cost source's month of rows) for good.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn trim_heap() {
    // SAFETY: malloc_trim only returns free pages of glibc's own arenas to
    // the kernel; it has no preconditions and touches no live allocation.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn trim_heap() {}

#[cfg(target_os = "linux")]
fn page_out_own_code() -> usize {
    let Ok(exe) = std::fs::read_link("/proc/self/exe") else {
        return 0;
    };
    let Ok(maps) = std::fs::read_to_string("/proc/self/maps") else {
        return 0;
    };
    let mut advised = 0;
    for (start, end) in read_only_ranges(&maps, &exe.to_string_lossy()) {
        let len = end - start;
        // SAFETY: the range is a whole read-only mapping of this process's
        // own executable, read from /proc/self/maps; MADV_PAGEOUT only drops
        // clean file pages, which the kernel reads back on the next touch.
        let done = unsafe { libc::madvise(start as *mut libc::c_void, len, libc::MADV_PAGEOUT) };
        if done == 0 {
            advised += len;
        }
    }
    advised
}

#[cfg(not(target_os = "linux"))]
fn page_out_own_code() -> usize {
    0
}

/// The read-only mappings of `exe` (its code and constants) in a
/// `/proc/PID/maps` text, as (start, end) addresses.
fn read_only_ranges(maps: &str, exe: &str) -> Vec<(usize, usize)> {
    maps.lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let range = fields.next()?;
            let perms = fields.next()?;
            let path = fields.nth(3)?;
            // Code and read-only data (constants, unwind tables): clean
            // file pages, read back on the next touch. Never a writable one.
            if path != exe || perms.contains('w') {
                return None;
            }
            let (start, end) = range.split_once('-')?;
            let start = usize::from_str_radix(start, 16).ok()?;
            let end = usize::from_str_radix(end, 16).ok()?;
            (end > start).then_some((start, end))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_executables_own_read_only_mappings_are_chosen() {
        let maps = "\
55d0c0000000-55d0c0400000 r--p 00000000 08:01 123 /usr/bin/opscockpit
55d0c0400000-55d0c1000000 r-xp 00400000 08:01 123 /usr/bin/opscockpit
55d0c1000000-55d0c1100000 rw-p 01000000 08:01 123 /usr/bin/opscockpit
7f0000000000-7f0000100000 r-xp 00000000 08:01 456 /usr/lib/libc.so.6
7f0000200000-7f0000300000 rw-p 00000000 00:00 0
7ffc00000000-7ffc00001000 r-xp 00000000 00:00 0 [vdso]
";
        assert_eq!(
            read_only_ranges(maps, "/usr/bin/opscockpit"),
            vec![
                (0x55d0_c000_0000, 0x55d0_c040_0000),
                (0x55d0_c040_0000, 0x55d0_c100_0000)
            ]
        );
        // A path with the executable's name as a prefix is another file.
        assert!(read_only_ranges(maps, "/usr/bin/opscock").is_empty());
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_test_binary_pages_out_its_code_and_keeps_running() {
        // The test binary is an executable of its own: its code is advised
        // and the next call runs from pages read back in.
        assert!(release_start_up_memory() > 0);
    }
}
