//! Giving back the stack a shim's setup used. Loading the bundle (serde's
//! frames for an OCI spec run to tens of kilobytes) and cloning the init
//! go deep once; a shim then lives as long as its container on a shallow
//! event loop, so the pages below it would stay its own for nothing.

use std::io;

/// Room kept below the caller's frame: what the event loop's own calls
/// (reaping, logging, a client's request) reach without faulting pages in
/// again.
const KEEP: usize = 16 * 1024;

/// Releases the main thread's stack pages more than [`KEEP`] below the
/// caller's frame; they read as zeros if ever touched again. Call from the
/// main thread, from a frame no deeper than the loop that then runs.
pub fn release_unused() -> io::Result<()> {
    let marker = 0u8;
    let here = std::ptr::addr_of!(marker) as usize;
    let page = page_size();
    let Some(below) = here.checked_sub(KEEP).map(|a| a & !(page - 1)) else {
        return Ok(());
    };
    let maps = std::fs::read_to_string("/proc/self/maps")?;
    let Some(bottom) = stack_bottom(&maps, here) else {
        return Ok(());
    };
    if below <= bottom {
        return Ok(());
    }
    // SAFETY: [bottom, below) lies inside this thread's stack mapping and
    // at least KEEP bytes below the current frame: no live frame, red zone
    // or argument is there, so dropping its pages loses nothing; the range
    // is page-aligned (`bottom` is a mapping start, `below` rounded down).
    let rc = unsafe {
        libc::madvise(
            bottom as *mut libc::c_void,
            below - bottom,
            libc::MADV_DONTNEED,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(size).unwrap_or(4096).max(4096)
}

/// The start of the mapping in `maps` (`/proc/self/maps`) that holds
/// `address`, when it is the `[stack]`.
fn stack_bottom(maps: &str, address: usize) -> Option<usize> {
    maps.lines()
        .filter(|line| line.ends_with("[stack]"))
        .find_map(|line| {
            let (start, end) = line.split_whitespace().next()?.split_once('-')?;
            let start = usize::from_str_radix(start, 16).ok()?;
            let end = usize::from_str_radix(end, 16).ok()?;
            (start..end).contains(&address).then_some(start)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stack_mapping_is_found_by_an_address_in_it() {
        let maps = "55d0-55e0 r-xp 00000000 fe:00 1 /bin/x\n\
                    7ffd1000-7ffd9000 rw-p 00000000 00:00 0                          [stack]\n";
        assert_eq!(stack_bottom(maps, 0x7ffd8000), Some(0x7ffd1000));
        assert_eq!(stack_bottom(maps, 0x55d8), None);
    }

    #[test]
    fn off_the_main_thread_nothing_is_released() {
        // A spawned thread's stack is no `[stack]` mapping: nothing to do.
        let deep = |n: u8| {
            std::hint::black_box([n; 32 * 1024])
                .iter()
                .map(|b| u64::from(*b))
                .sum::<u64>()
        };
        let before = deep(3);
        std::thread::spawn(|| release_unused().unwrap())
            .join()
            .unwrap();
        assert_eq!(deep(3), before);
    }
}
