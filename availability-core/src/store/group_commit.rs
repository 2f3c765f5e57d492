//! Group commit: many writers, one flush.
//!
//! A writer stages its bytes in the file's cache under its own lock and takes a ticket (the
//! count of writes staged so far). It then asks [`GroupCommit::wait_for`] to make that ticket
//! durable. Under the flush lock, if a flush that began after the write was staged has
//! already completed, it is done. Otherwise it takes every write staged so far (the newest
//! ticket and the span of bytes holding them) and flushes them in one msync; the writers
//! queued behind the flush lock then find their tickets covered and do not flush again.
//!
//! A failed flush is final: the kernel may have dropped the unwritten pages and cleared the
//! error, so a later successful flush proves nothing. Every later wait is refused with the
//! first failure's reason, and only reopening tells what is on disk.

use alloc::string::{String, ToString};
use std::sync::{Mutex, MutexGuard};

use crate::error::Error;

/// The flush lock and how far the flushes have got.
#[derive(Debug)]
pub(super) struct GroupCommit {
    flushes: Mutex<Flushes>,
    /// The error for a write refused after a failure, given the failure's reason.
    refusing: fn(&str) -> Error,
}

#[derive(Debug)]
struct Flushes {
    /// Every write with a ticket up to this one is durable.
    flushed: u64,
    /// Set when a flush failed: no later flush may be trusted to cover the lost bytes.
    failed: Option<String>,
}

/// The flush lock, held: no flush runs until it is dropped. For work that makes every staged
/// write durable by other means (a journal written whole and renamed into place).
pub(super) struct Held<'a> {
    flushes: MutexGuard<'a, Flushes>,
}

impl GroupCommit {
    /// Group commit over a file whose writes up to ticket `flushed` are durable, refusing
    /// writes after a failure with `refusing(reason)`.
    pub(super) fn new(flushed: u64, refusing: fn(&str) -> Error) -> GroupCommit {
        GroupCommit {
            flushes: Mutex::new(Flushes {
                flushed,
                failed: None,
            }),
            refusing,
        }
    }

    /// Returns once every write with a ticket up to `ticket` is durable, with the newest
    /// ticket then known to be durable (at least `ticket`).
    ///
    /// When no completed flush covers `ticket`, `take` runs under the flush lock and returns
    /// the newest ticket staged so far and the flush that makes every write up to it durable,
    /// or `None` when nothing is pending (a flush that took this write has completed). The
    /// flush then runs here, once, for every writer queued behind the lock.
    ///
    /// # Errors
    ///
    /// The error of `take` or of the flush; after any failed flush, every later call fails.
    pub(super) fn wait_for<F>(
        &self,
        ticket: u64,
        take: impl FnOnce() -> Result<(u64, Option<F>), Error>,
    ) -> Result<u64, Error>
    where
        F: FnOnce() -> Result<(), Error>,
    {
        let mut held = self.hold()?;
        let flushes = &mut held.flushes;
        if flushes.flushed >= ticket {
            return Ok(flushes.flushed);
        }
        // Every write with a ticket up to `target` is staged now, within what `flush` covers,
        // so one flush makes them all durable. A write staged later gets the next flush.
        let (target, flush) = take()?;
        if let Some(flush) = flush {
            if let Err(err) = flush() {
                flushes.failed = Some(err.to_string());
                return Err(err);
            }
        }
        flushes.flushed = flushes.flushed.max(target);
        Ok(flushes.flushed)
    }

    /// The flush lock, once no flush holds it; refused after a failed flush.
    pub(super) fn hold(&self) -> Result<Held<'_>, Error> {
        let flushes = self
            .flushes
            .lock()
            .map_err(|_| (self.refusing)("a flush panicked"))?;
        if let Some(reason) = &flushes.failed {
            return Err((self.refusing)(reason));
        }
        Ok(Held { flushes })
    }
}

impl Held<'_> {
    /// Every write up to `ticket` is durable now.
    pub(super) fn covered(&mut self, ticket: u64) {
        self.flushes.flushed = self.flushes.flushed.max(ticket);
    }

    /// The work failed as a flush fails: every later write is refused.
    pub(super) fn fail(&mut self, err: &Error) {
        self.flushes.failed.get_or_insert_with(|| err.to_string());
    }
}

impl core::fmt::Debug for Held<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Held").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Kind;
    use core::cell::Cell;

    /// A flush, as `take` hands one over.
    type Flush = fn() -> Result<(), Error>;

    /// What `take` returns when the test says it must not run.
    type Taken = Result<(u64, Option<Flush>), Error>;

    fn refusing(reason: &str) -> Error {
        Error::new(Kind::Io, std::format!("refused: {reason}"))
    }

    #[test]
    fn a_covered_ticket_does_not_flush_again() {
        let group = GroupCommit::new(0, refusing);
        let flushes = Cell::new(0);
        let flush = || {
            flushes.set(flushes.get() + 1);
            Ok(())
        };
        // Three writes staged, the first waiter flushes all three.
        assert_eq!(group.wait_for(1, || Ok((3, Some(flush)))).ok(), Some(3));
        for ticket in [2, 3] {
            let never = || -> Taken { panic!("ticket {ticket} was covered") };
            assert_eq!(group.wait_for(ticket, never).ok(), Some(3));
        }
        assert_eq!(flushes.get(), 1);
        // Nothing pending: the ticket is covered by the flush that took it.
        let none = || Ok((4, None::<Flush>));
        assert_eq!(group.wait_for(4, none).ok(), Some(4));
    }

    #[test]
    fn a_failed_flush_refuses_every_later_write() {
        let group = GroupCommit::new(0, refusing);
        let fail = || Err(Error::new(Kind::Io, "the disk is gone"));
        let err = group
            .wait_for(1, || Ok((1, Some(fail))))
            .expect_err("fails");
        assert_eq!(err.to_string(), "the disk is gone");
        let ok = || Ok((2, Some(|| Ok(()))));
        let later = group.wait_for(2, ok).expect_err("refused");
        assert_eq!(later.to_string(), "refused: the disk is gone");
        assert!(group.hold().is_err());
    }

    #[test]
    fn work_that_holds_the_lock_can_cover_or_fail() {
        let group = GroupCommit::new(5, refusing);
        group.hold().expect("held").covered(9);
        let never = || -> Taken { panic!("covered by the held work") };
        assert_eq!(group.wait_for(9, never).ok(), Some(9));
        group
            .hold()
            .expect("held")
            .fail(&Error::new(Kind::Io, "rename failed"));
        assert_eq!(
            group.hold().expect_err("refused").to_string(),
            "refused: rename failed"
        );
    }
}
