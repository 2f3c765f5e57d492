//! Criterion benchmarks for availability (see `benches/`), and the inputs they share.

use availability_core::{Batch, Day, Entry, Status, Time, Week};

/// The time `half_hours` half hours after midnight.
///
/// # Panics
///
/// Past 48 (24:00).
pub fn time(half_hours: usize) -> Time {
    Time::from_half_hours(half_hours).expect("at most 48 half hours")
}

/// A typical published week: weekdays 09:00-17:00 available with a maybe lunch hour, and a
/// maybe Saturday morning.
pub fn office_week() -> Week {
    office_batch().apply_replacing().expect("a valid batch")
}

/// The batch that writes [`office_week`] with `PUT` (it replaces the whole week).
pub fn office_batch() -> Batch {
    let mut batch = Batch::new();
    for day in Day::WEEKDAYS {
        batch.push(Entry::range(day, time(18), time(34), Status::Available));
        batch.push(Entry::range(day, time(24), time(26), Status::Maybe));
    }
    batch.push(Entry::range(
        Day::Saturday,
        time(20),
        time(28),
        Status::Maybe,
    ));
    batch
}
