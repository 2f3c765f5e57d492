//! Why a claim was refused, and the id of the booking that can refuse it.
//!
//! These are plain values below the error type: [`crate::Error`] carries a [`Conflict`] for a
//! refused claim, and `dated` re-exports both types where callers meet them.

use core::fmt;

use chrono::NaiveDate;

use crate::grid::{Status, Time};

/// A booking's id, unique within its calendar for the store's life.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct BookingId(pub u64);

impl fmt::Display for BookingId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Why a claim was refused: the first owner slot of its span that is not free.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conflict {
    /// The owner date of the slot.
    pub date: NaiveDate,
    /// The owner's wall time at which the slot starts.
    pub time: Time,
    /// The first instant of the claimed span that falls in the slot.
    pub instant: i64,
    /// The booking that holds the slot, or `None` when the effective week refused it.
    pub(crate) booking: Option<BookingId>,
    /// The slot's status in the effective week without bookings, when that refused it.
    pub(crate) status: Status,
}

impl Conflict {
    /// The booking that holds the slot, when a booking refused the claim.
    pub fn booking(&self) -> Option<BookingId> {
        self.booking
    }

    /// The slot's status (`unavailable` or `maybe`) when the availability refused the claim.
    pub fn status(&self) -> Option<Status> {
        self.booking.is_none().then_some(self.status)
    }
}
