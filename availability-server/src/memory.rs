//! Giving back to the system the memory that closed connections freed.
//!
//! glibc's allocator keeps what is freed for the next allocation, in the arena of the thread
//! that freed it, and returns to the system only what lies at the top of the main heap. So
//! after a wave of connections closes (a flash sale's thousand TLS sessions, each with its
//! buffers), tens of megabytes stay resident for good: 40 MB where the same server rested at
//! 11 MB before the wave. When the open connections fall far below their most, the allocator
//! is asked (`malloc_trim`) to return every free page, a second later, once the wave has
//! passed, and again once the blocking threads the wave started have ended (the runtime ends
//! them after 10 s idle; each had an arena of its own). That brings the same server back to
//! 18 MB, against 12 MB for a server started afresh on the data the wave left.
//!
//! The arenas themselves are bounded too ([`bound_arenas`]): glibc makes up to eight per CPU,
//! one for each thread that finds the others busy, and every commit runs on a blocking thread
//! of its own. After 16 clients had written one calendar for 10 s a server held 17 MB of
//! anonymous memory in a dozen arenas; with one arena per CPU, 6.5 MB, at the same rate.

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::Duration;

/// How many connections must have closed since the most were open before memory is given
/// back (fewer than that free little), and at least half of those most.
const CLOSED: usize = 64;

/// How long after the fall the memory is given back, so that one trim follows a whole wave;
/// and how long after that again, once the blocking threads the wave started have ended
/// (the runtime ends them after 10 s idle).
const AFTER: [Duration; 2] = [Duration::from_secs(1), Duration::from_secs(11)];

/// The rise and fall of the open connections, since memory was last given back.
#[derive(Debug, Default)]
pub(crate) struct Ebb {
    most: usize,
}

impl Ebb {
    /// `open` connections are open, one more than before.
    pub(crate) fn rose(&mut self, open: usize) {
        self.most = self.most.max(open);
    }

    /// `open` connections are open, one fewer than before. Whether to give memory back now
    /// (then the fall starts again from `open`).
    pub(crate) fn fell(&mut self, open: usize) -> bool {
        let fallen = self.most.saturating_sub(open);
        if fallen >= CLOSED && open <= self.most / 2 {
            self.most = open;
            true
        } else {
            false
        }
    }
}

/// Bounds glibc's arenas to one per CPU the process may use, unless `MALLOC_ARENA_MAX` says
/// otherwise: at most that many threads run at once, so more arenas only keep more freed
/// memory. To be called before any thread is started (the setting is read as threads first
/// allocate).
pub fn bound_arenas() {
    if std::env::var_os("MALLOC_ARENA_MAX").is_some() {
        return;
    }
    let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    set_arena_max(i32::try_from(cpus).unwrap_or(i32::MAX));
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn set_arena_max(arenas: i32) {
    // SAFETY: `mallopt` only changes the allocator's settings, under its lock.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, arenas);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn set_arena_max(_arenas: i32) {}

/// A trim is scheduled and has not started.
static SCHEDULED: AtomicBool = AtomicBool::new(false);

/// Gives the allocator's free memory back to the system [`AFTER`] from now and again after
/// that, on the blocking pool. Calls meanwhile are folded into the first; outside a runtime,
/// nothing.
pub(crate) fn give_back_soon() {
    if SCHEDULED.swap(true, Relaxed) {
        return;
    }
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        SCHEDULED.store(false, Relaxed);
        return;
    };
    runtime.spawn(async {
        tokio::time::sleep(AFTER[0]).await;
        // A fall from here on schedules another trim, after this one.
        SCHEDULED.store(false, Relaxed);
        let _ = tokio::task::spawn_blocking(trim).await;
        tokio::time::sleep(AFTER[1]).await;
        let _ = tokio::task::spawn_blocking(trim).await;
    });
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn trim() {
    // SAFETY: `malloc_trim` only walks the allocator's own free lists, under its locks; it
    // may be called from any thread at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Other allocators give memory back on their own.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn trim() {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_goes_back_once_the_connections_have_fallen_far() {
        let mut ebb = Ebb::default();
        for open in 1..=1000 {
            ebb.rose(open);
        }
        // A few closing among many open: nothing.
        assert!(!(950..1000).rev().any(|open| ebb.fell(open)));
        // Half of the most closed: once.
        let trims: Vec<usize> = (0..950).rev().filter(|open| ebb.fell(*open)).collect();
        assert_eq!(
            trims,
            vec![500, 250, 125, 61],
            "where the fall gave memory back"
        );
    }

    #[test]
    fn a_few_connections_coming_and_going_never_give_memory_back() {
        let mut ebb = Ebb::default();
        for _ in 0..100 {
            for open in 1..=60 {
                ebb.rose(open);
            }
            assert!(!(0..60).rev().any(|open| ebb.fell(open)));
        }
    }
}
