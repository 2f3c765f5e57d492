//! The oracle: the rule of the `tz` module applied literally, instant by instant, on jiff's
//! own copy of the database, and the check of a view and its exact intervals against it.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use availability_core::tz::{Interval, IsoWeek, Plan, Zone};
use availability_core::{Slot, Status, Week, SLOTS};
use jiff::tz::{TimeZone, TimeZoneDatabase};
use jiff::Timestamp;

fn db() -> &'static TimeZoneDatabase {
    static DB: OnceLock<TimeZoneDatabase> = OnceLock::new();
    DB.get_or_init(TimeZoneDatabase::bundled)
}

/// Every zone of the crate's database, with jiff's zone of the same name.
pub(super) fn checked_zones() -> &'static [(Zone, TimeZone)] {
    static ZONES: OnceLock<Vec<(Zone, TimeZone)>> = OnceLock::new();
    ZONES.get_or_init(|| Zone::all().map(|zone| (zone, jiff_zone(zone))).collect())
}

pub(super) fn jiff_zone(zone: Zone) -> TimeZone {
    db().get(zone.name())
        .unwrap_or_else(|e| panic!("jiff has no zone {}: {e}", zone.name()))
}

pub(super) fn seconds(ts: Timestamp) -> i64 {
    ts.as_second()
}

pub(super) fn at(second: i64) -> Timestamp {
    Timestamp::from_second(second).expect("in range")
}

/// Wall-clock seconds of `date` 00:00 counted from 1970-01-01 00:00, by jiff's calendar.
pub(super) fn wall_midnight(date: jiff::civil::Date) -> i64 {
    seconds(
        date.to_datetime(jiff::civil::Time::midnight())
            .to_zoned_datetime(TimeZone::UTC)
            .expect("in range")
            .timestamp(),
    )
}

pub(super) fn date(year: i16, month: i8, day: i8) -> jiff::civil::Date {
    jiff::civil::date(year, month, day)
}

/// The Monday of an ISO week, by chrono's ISO week dates (the crate's are jiff's).
fn iso_monday(week: IsoWeek) -> jiff::civil::Date {
    use chrono::Datelike;
    let monday = chrono::NaiveDate::from_isoywd_opt(week.year(), week.week(), chrono::Weekday::Mon)
        .expect("a valid ISO week");
    date(
        i16::try_from(monday.year()).expect("year"),
        i8::try_from(monday.month()).expect("month"),
        i8::try_from(monday.day()).expect("day"),
    )
}

fn rfc3339(second: i64, zone: &TimeZone) -> String {
    at(second)
        .to_zoned_datetime(zone.clone())
        .strftime("%Y-%m-%dT%H:%M:%S%:z")
        .to_string()
}

/// What the oracle expects of one view.
pub(super) struct Expected {
    view: Week,
    /// Viewer slots that hold no real instant.
    pub(super) gaps: Vec<usize>,
    intervals: Vec<(String, String, Status)>,
}

/// The expected view of `stored`, its gaps and its exact intervals, by the rule, from jiff
/// alone.
pub(super) fn oracle(
    stored: &Week,
    owner: &TimeZone,
    viewer: &TimeZone,
    week: IsoWeek,
) -> Expected {
    const HALF_HOUR: i64 = 1800;
    let start = wall_midnight(iso_monday(week));
    let end = start + 7 * 86_400;
    let (from, to) = (start - 2 * 86_400, end + 2 * 86_400);

    // First the instants where either zone changes offset...
    let mut changes: BTreeSet<i64> = [from, to].into();
    for zone in [owner, viewer] {
        for transition in zone.following(at(from - 1)) {
            let t = seconds(transition.timestamp());
            if t > to {
                break;
            }
            changes.insert(t.max(from));
        }
    }
    // ...then, between them, every instant where either wall clock passes a half hour.
    let mut cuts = changes.clone();
    for pair in changes.iter().copied().collect::<Vec<_>>().windows(2) {
        let (p, q) = (pair[0], pair[1]);
        for zone in [owner, viewer] {
            let offset = i64::from(zone.to_offset(at(p)).seconds());
            let mut t = p + (HALF_HOUR - (p + offset).rem_euclid(HALF_HOUR)) % HALF_HOUR;
            while t < q {
                cuts.insert(t);
                t += HALF_HOUR;
            }
        }
    }
    let cuts: Vec<i64> = cuts.into_iter().collect();

    let mut lowest: [Option<Status>; SLOTS] = [None; SLOTS];
    let mut runs: Vec<(i64, i64, Status)> = Vec::new();
    for pair in cuts.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        let viewer_offset = i64::from(viewer.to_offset(at(a)).seconds());
        let wall = a + viewer_offset;
        if !(start..end).contains(&wall) {
            continue;
        }
        let viewer_slot = usize::try_from((wall - start) / 1800).expect("in the week");
        let owner_wall = owner.to_datetime(at(a));
        let owner_slot =
            usize::try_from(owner_wall.weekday().to_monday_zero_offset()).expect("weekday") * 48
                + usize::try_from(owner_wall.hour()).expect("hour") * 2
                + usize::try_from(owner_wall.minute() / 30).expect("minute");
        // The piece must lie in one slot of each zone.
        let last = owner.to_datetime(at(b - 1));
        assert_eq!(
            (last.weekday(), last.hour(), last.minute() / 30),
            (
                owner_wall.weekday(),
                owner_wall.hour(),
                owner_wall.minute() / 30
            )
        );
        assert_eq!(
            (b - 1 + viewer_offset - start) / 1800,
            (wall - start) / 1800
        );

        let status = stored.status(Slot::from_index(owner_slot).expect("slot"));
        let slot = &mut lowest[viewer_slot];
        *slot = Some(slot.map_or(status, |s| s.min(status)));
        match runs.last_mut() {
            Some(run) if run.1 == a && run.2 == status => run.1 = b,
            _ => runs.push((a, b, status)),
        }
    }
    let view = Week::from_fn(|slot| lowest[slot.index()].unwrap_or(Status::Unavailable));
    let gaps = (0..SLOTS).filter(|&v| lowest[v].is_none()).collect();
    let intervals = runs
        .into_iter()
        .filter(|run| run.2 != Status::Unavailable)
        .map(|(a, b, status)| (rfc3339(a, viewer), rfc3339(b, viewer), status))
        .collect();
    Expected {
        view,
        gaps,
        intervals,
    }
}

pub(super) fn ours(intervals: &[Interval]) -> Vec<(String, String, Status)> {
    intervals
        .iter()
        .map(|i| (i.start.to_string(), i.end.to_string(), i.status))
        .collect()
}

/// Checks one view and its intervals against the oracle; says which view on failure.
pub(super) fn check(
    stored: &Week,
    owner: (Zone, &TimeZone),
    viewer: (Zone, &TimeZone),
    week: IsoWeek,
) {
    let plan = Plan::new(owner.0, viewer.0, week).expect("plan");
    let expected = oracle(stored, owner.1, viewer.1, week);
    let got = plan.apply(stored);
    assert!(
        got == expected.view,
        "view of {} from {} in {week} differs\nstored:\n{stored}\ngot:\n{got}\nexpected:\n{}",
        owner.0,
        viewer.0,
        expected.view,
    );
    assert_eq!(
        ours(&plan.intervals(stored)),
        expected.intervals,
        "intervals of {} from {} in {week}",
        owner.0,
        viewer.0
    );
    assert_eq!(
        plan.gaps().map(Slot::index).collect::<Vec<_>>(),
        expected.gaps,
        "gaps of {} from {} in {week}",
        owner.0,
        viewer.0
    );
}
