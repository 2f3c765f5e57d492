//! What the writer and the reader of the pattern share: the name of the component that
//! carries maybe runs, the `BYDAY` codes, and local midnight.

use chrono::{NaiveDate, NaiveTime};

/// The component that carries maybe runs.
pub const MAYBE_COMPONENT: &str = "X-AVAILABILITY-MAYBE";

/// `BYDAY` names, Monday first.
pub(super) const DAY_CODES: [&str; 7] = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"];

/// Local seconds (wall time read as if UTC) of `date` at midnight.
pub(super) fn local_midnight(date: NaiveDate) -> i64 {
    date.and_time(NaiveTime::MIN).and_utc().timestamp()
}
