//! Where a viewed week stands in time: the half hour of now and today ([`Now`]), and the
//! clock changes inside the week ([`clock_changes`]), for the page to mark.

use availability_core::tz::{IsoWeek, Zone};
use availability_core::{HALF_HOURS_PER_DAY, SLOTS};

/// Where "now" is in a viewer's week: the slot of the current half hour and the day of today,
/// when they fall in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Now {
    /// The slot (0-335) of the current half hour, or [`SLOTS`] when now is not in the week.
    pub slot: u16,
}

impl Now {
    /// Now (`unix` seconds) in `week` as `viewer` sees it.
    pub fn at(viewer: Zone, week: IsoWeek, unix: i64) -> Now {
        let offset = i64::from(viewer.offset_at(unix).unwrap_or(0));
        let local = unix + offset;
        let days = local.div_euclid(86_400);
        let monday = week.monday().signed_duration_since(epoch()).num_days();
        let day = days - monday;
        let slot = if (0..7).contains(&day) {
            day * 48 + local.rem_euclid(86_400) / 1800
        } else {
            SLOTS as i64
        };
        Now {
            slot: u16::try_from(slot).unwrap_or(SLOTS as u16),
        }
    }

    /// The day (0-6) of today, if it is in the week.
    pub(super) fn day(self) -> Option<usize> {
        let slot = usize::from(self.slot);
        (slot < SLOTS).then_some(slot / HALF_HOURS_PER_DAY)
    }
}

fn epoch() -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default()
}

/// A clock change inside a viewed week.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClockChange {
    /// The zone whose clocks change.
    pub zone: &'static str,
    /// When, as `YYYY-MM-DD HH:MM` local time after the change.
    pub when: String,
    /// The UTC offsets before and after, in seconds.
    pub from: i32,
    /// See `from`.
    pub to: i32,
}

/// The clock changes of `zones` during `week` as `viewer` sees it.
pub fn clock_changes(viewer: Zone, week: IsoWeek, zones: &[Zone]) -> Vec<ClockChange> {
    let monday = week.monday().signed_duration_since(epoch()).num_days() * 86_400;
    let start = monday - i64::from(viewer.offset_at(monday).unwrap_or(0));
    let end = start + 7 * 86_400;
    let mut changes = Vec::new();
    let mut seen: Vec<&'static str> = Vec::new();
    for zone in zones {
        if seen.contains(&zone.name()) {
            continue;
        }
        seen.push(zone.name());
        let mut before = zone.offset_at(start).unwrap_or(0);
        // Every rule in use changes on a quarter hour.
        let mut t = start + 900;
        while t < end {
            let now = zone.offset_at(t).unwrap_or(before);
            if now != before {
                let local = chrono::DateTime::from_timestamp(t + i64::from(now), 0)
                    .map(|d| d.naive_utc().format("%Y-%m-%d %H:%M").to_string())
                    .unwrap_or_default();
                changes.push(ClockChange {
                    zone: zone.name(),
                    when: local,
                    from: before,
                    to: now,
                });
                before = now;
            }
            t += 900;
        }
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn now_falls_in_its_week() {
        let utc = Zone::UTC;
        let week = IsoWeek::new(2026, 48).expect("a week");
        // 2026-11-25 (Wednesday) 10:15 UTC.
        let unix = 1_795_601_700;
        assert_eq!(Now::at(utc, week, unix).slot, 2 * 48 + 20);
        let kathmandu = Zone::new("Asia/Kathmandu").expect("zone");
        // 16:00 there.
        assert_eq!(Now::at(kathmandu, week, unix).slot, 2 * 48 + 32);
        let next = IsoWeek::new(2026, 49).expect("a week");
        assert_eq!(usize::from(Now::at(utc, next, unix).slot), SLOTS);
    }

    #[test]
    fn clock_changes_are_found_in_either_zone() {
        let la = Zone::new("America/Los_Angeles").expect("zone");
        // 2026-11-01 is a Sunday: week 44 holds the end of daylight time there.
        let week = IsoWeek::new(2026, 44).expect("a week");
        let changes = clock_changes(Zone::UTC, week, &[Zone::UTC, la]);
        assert_eq!(changes.len(), 1, "{changes:?}");
        assert_eq!(changes[0].zone, "America/Los_Angeles");
        assert_eq!((changes[0].from, changes[0].to), (-7 * 3600, -8 * 3600));
        assert!(changes[0].when.starts_with("2026-11-01 01:"), "{changes:?}");
        let quiet = IsoWeek::new(2026, 48).expect("a week");
        assert!(clock_changes(la, quiet, &[la, Zone::UTC]).is_empty());
    }
}
