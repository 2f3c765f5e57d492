//! The writers' bookkeeping: which calendar (or the admin keys) has a write in flight, and
//! the admin keys as the log has them.
//!
//! Every write goes to the log ([`super::journal`]), which makes it durable with group
//! commit: concurrent writes share one flush. What this module adds is order. A write to a
//! calendar checks its change against the calendar's state, appends its record, waits for
//! the flush and publishes the new state; no other write to that calendar may start in
//! between, or it would check its change against a state about to be replaced, and two
//! bookings could claim one slot. So, under the writer lock:
//!
//! 1. a write waits until its calendar has no write in flight ([`Writer::settled`]), checks
//!    its change, marks the calendar in flight and lets the lock go;
//! 2. it appends its record to the log and waits for the flush (without the lock: writes to
//!    other calendars run meanwhile and share the flush);
//! 3. under the lock again, the calendar leaves the in-flight set and, if the append is
//!    durable, the new state is published ([`Writer::exclusive`]). Waiters are woken.
//!
//! The admin keys are rare to change: a change holds the writer lock from its check to its
//! publication, so that no write checks its authority against keys about to change.

use alloc::collections::BTreeSet;
use alloc::string::String;
use alloc::vec::Vec;
use std::sync::{Condvar, Mutex, MutexGuard};

use super::checked::KeyHash;
use crate::error::{Error, Kind};

/// The writers' bookkeeping and the condition they wait on.
#[derive(Debug)]
pub(super) struct Writer {
    state: Mutex<WriterState>,
    /// Signalled (with `state` held) when a write leaves the in-flight set.
    settled: Condvar,
}

/// What the admin keys are, as of the log's last durable write of them.
#[derive(Clone, Debug, Default)]
pub(super) struct Meta {
    pub(super) admin_keys: Vec<KeyHash>,
}

/// What the writers share.
#[derive(Debug)]
pub(super) struct WriterState {
    pub(super) meta: Meta,
    /// The calendars (by id) with a write between its check and its publication.
    in_flight: BTreeSet<String>,
}

pub(super) type Guard<'a> = MutexGuard<'a, WriterState>;

impl Writer {
    pub(super) fn new(admin_keys: Vec<KeyHash>) -> Writer {
        Writer {
            state: Mutex::new(WriterState {
                meta: Meta { admin_keys },
                in_flight: BTreeSet::new(),
            }),
            settled: Condvar::new(),
        }
    }

    /// The writer lock.
    pub(super) fn lock(&self) -> Result<Guard<'_>, Error> {
        self.state.lock().map_err(|_| poisoned())
    }

    /// The writer lock, once the calendar `find` names (by id) has no write in
    /// flight, with what `find` returned then. `find` is asked again after every wait (the
    /// calendar may have been deleted or recreated meanwhile) and returns the name and
    /// anything else the caller needs from that moment.
    pub(super) fn settled<T>(
        &self,
        find: impl Fn() -> Result<(String, T), Error>,
    ) -> Result<(Guard<'_>, T), Error> {
        let mut state = self.lock()?;
        loop {
            let (name, found) = find()?;
            if !state.in_flight.contains(&name) {
                return Ok((state, found));
            }
            state = self.settled.wait(state).map_err(|_| poisoned())?;
        }
    }

    /// As [`Writer::settled`] for a write to several names at once (a group booking's
    /// calendars and its group): once none of those `find` returns has a write in flight.
    /// The names are taken together or not at all, so two such writes never wait on each
    /// other in a circle.
    pub(super) fn settled_all<T>(
        &self,
        find: impl Fn() -> Result<(Vec<String>, T), Error>,
    ) -> Result<(Guard<'_>, Vec<String>, T), Error> {
        let mut state = self.lock()?;
        loop {
            let (names, found) = find()?;
            if !names.iter().any(|name| state.in_flight.contains(name)) {
                return Ok((state, names, found));
            }
            state = self.settled.wait(state).map_err(|_| poisoned())?;
        }
    }

    /// As [`Writer::exclusive`] for every one of `names` (which [`Writer::settled_all`]
    /// returned with `state`).
    pub(super) fn exclusive_all<T>(
        &self,
        mut state: Guard<'_>,
        names: &[String],
        work: impl FnOnce() -> Result<T, Error>,
        publish: impl FnOnce(&mut WriterState, &T),
    ) -> Result<T, Error> {
        state.in_flight.extend(names.iter().cloned());
        drop(state);
        let result = work();
        let mut state = self.state.lock().map_err(|_| poisoned())?;
        for name in names {
            state.in_flight.remove(name);
        }
        if let Ok(value) = &result {
            publish(&mut state, value);
        }
        drop(state);
        self.settled.notify_all();
        result
    }

    /// Runs `work` (an append to the log, returning once durable) as the one write in flight
    /// of `name`, starting from the lock held by `state` (which [`Writer::settled`] returned
    /// for it): no other write to `name` can start until `work` has finished and, when it
    /// succeeded, `publish` has run under the writer lock.
    pub(super) fn exclusive<T>(
        &self,
        mut state: Guard<'_>,
        name: &str,
        work: impl FnOnce() -> Result<T, Error>,
        publish: impl FnOnce(&mut WriterState, &T),
    ) -> Result<T, Error> {
        state.in_flight.insert(String::from(name));
        drop(state);
        let result = work();
        let mut state = self.state.lock().map_err(|_| poisoned())?;
        state.in_flight.remove(name);
        if let Ok(value) = &result {
            publish(&mut state, value);
        }
        drop(state);
        self.settled.notify_all();
        result
    }
}

#[cold]
fn poisoned() -> Error {
    Error::new(
        Kind::Io,
        "the store refuses writes: a write panicked while in progress; reopen it",
    )
}
