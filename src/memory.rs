//! Giving start-up memory back: the code pages of our own binary that only
//! start-up ran.
//!
//! Measured on the bed (2026-12): of the cockpit's 18 MB resident while
//! idle, 13 MB were pages of the binary file and 5 MB its own heap. The
//! kernel maps file pages 64 KB at a time around each one touched
//! ("fault-around"), so parsing the config, the first SSH handshake and the
//! first frames leave most of the 9 MB of code mapped, though an idle second
//! runs a small part of it. Dropping those mappings once start-up is over
//! costs nothing but a few minor faults: the pages are clean copies of the
//! file still in the page cache, and what the loop runs again comes back on
//! first use. Only mappings that were never writable are touched — the code
//! and the read-only data at the file's start — never the relocated
//! read-only data (RELRO), whose pages are private copies.

/// Drops this process's mappings of its own executable's code and leading
/// read-only data from the page tables; returns the bytes advised. Best
/// effort: nothing happens where `/proc` cannot be read.
pub fn drop_startup_pages() -> usize {
    #[cfg(target_os = "linux")]
    {
        let (Ok(exe), Ok(maps)) = (
            std::fs::read_link("/proc/self/exe"),
            std::fs::read_to_string("/proc/self/maps"),
        ) else {
            return 0;
        };
        let exe = exe.to_string_lossy();
        maps.lines()
            .filter_map(|line| clean_file_mapping(line, &exe))
            .map(|(start, len)| {
                // SAFETY: [start, start+len) is a whole mapping of our own
                // executable that was never writable (code, or read-only
                // data at file offset 0): its pages are clean copies of the
                // file, so MADV_DONTNEED only unmaps them, and the next
                // access faults the same bytes back in from the file.
                let done =
                    unsafe { libc::madvise(start as *mut libc::c_void, len, libc::MADV_DONTNEED) };
                if done == 0 { len } else { 0 }
            })
            .sum()
    }
    #[cfg(not(target_os = "linux"))]
    {
        0
    }
}

/// `(start, length)` of a `/proc/self/maps` line that maps `exe` and was
/// never writable: executable code (`r-xp`), or the read-only segment at
/// offset 0 (ELF headers, dynamic symbols, relocations, rodata). Later
/// `r--p` mappings of the file are left alone: RELRO is one of them.
fn clean_file_mapping(line: &str, exe: &str) -> Option<(usize, usize)> {
    let mut fields = line.split_whitespace();
    let range = fields.next()?;
    let perms = fields.next()?;
    let offset = fields.next()?;
    let _dev = fields.next()?;
    let _inode = fields.next()?;
    let path = fields.collect::<Vec<_>>().join(" ");
    if path != exe {
        return None;
    }
    let at_start = u64::from_str_radix(offset, 16).ok()? == 0;
    if !(perms == "r-xp" || (perms == "r--p" && at_start)) {
        return None;
    }
    let (start, end) = range.split_once('-')?;
    let start = usize::from_str_radix(start, 16).ok()?;
    let end = usize::from_str_radix(end, 16).ok()?;
    (end > start).then_some((start, end - start))
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXE: &str = "/usr/bin/opscockpit";

    #[test]
    fn only_code_and_the_leading_read_only_segment_are_chosen() {
        let maps = [
            (
                "55d0c0000000-55d0c0400000 r--p 00000000 08:01 42 /usr/bin/opscockpit",
                Some((0x55d0c0000000, 0x400000)),
            ),
            (
                "55d0c0400000-55d0c0d00000 r-xp 00400000 08:01 42 /usr/bin/opscockpit",
                Some((0x55d0c0400000, 0x900000)),
            ),
            // RELRO after mprotect: relocated private copies, never dropped.
            (
                "55d0c0d00000-55d0c0d80000 r--p 00d00000 08:01 42 /usr/bin/opscockpit",
                None,
            ),
            (
                "55d0c0d80000-55d0c0d90000 rw-p 00d80000 08:01 42 /usr/bin/opscockpit",
                None,
            ),
            (
                "7f0000000000-7f0000200000 r-xp 00000000 08:01 7 /usr/lib/x86_64-linux-gnu/libc.so.6",
                None,
            ),
            ("7f0000400000-7f0000500000 rw-p 00000000 00:00 0 ", None),
            (
                "7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0 [stack]",
                None,
            ),
            ("garbage", None),
        ];
        for (line, want) in maps {
            assert_eq!(clean_file_mapping(line, EXE), want, "{line}");
        }
    }

    #[test]
    fn a_path_with_spaces_is_matched_whole() {
        let line = "1000-2000 r-xp 00001000 08:01 42 /opt/my tools/opscockpit";
        assert_eq!(
            clean_file_mapping(line, "/opt/my tools/opscockpit"),
            Some((0x1000, 0x1000))
        );
        assert_eq!(clean_file_mapping(line, "/opt/my"), None);
    }

    #[test]
    fn the_running_test_binary_survives_its_pages_being_dropped() {
        // The code dropped here is running this very test: it faults back in.
        let dropped = drop_startup_pages();
        assert!(dropped > 0, "the test binary has code mapped");
        let after: usize = (1..=1000).sum();
        assert_eq!(after, 500_500);
    }
}
