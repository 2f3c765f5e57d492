//! A week as the batch that replaces a stored week with it: what a pattern read back is
//! written as.

use availability_core::{Batch, Day, Entry, Slot, Status, Time, Week, HALF_HOURS_PER_DAY};

/// `week` as the batch that `PUT` replaces a week with: one range per run of maybe or
/// available half hours within a day.
pub fn batch_of(week: &Week) -> Batch {
    let mut batch = Batch::new();
    for day in Day::ALL {
        let status_at = |h: usize| {
            Slot::from_index(day.index() * HALF_HOURS_PER_DAY + h)
                .map_or(Status::Unavailable, |s| week.status(s))
        };
        let mut h = 0;
        while h < HALF_HOURS_PER_DAY {
            let status = status_at(h);
            let start = h;
            while h < HALF_HOURS_PER_DAY && status_at(h) == status {
                h += 1;
            }
            if status != Status::Unavailable {
                if let (Some(from), Some(to)) =
                    (Time::from_half_hours(start), Time::from_half_hours(h))
                {
                    batch.push(Entry::range(day, from, to, status));
                }
            }
        }
    }
    batch
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ics::pattern::export::tests::sample;

    #[test]
    fn the_batch_of_a_week_replaces_to_it() {
        let week = sample();
        assert_eq!(batch_of(&week).apply_replacing().expect("valid"), week);
        assert!(batch_of(&Week::UNAVAILABLE).is_empty());
    }
}
