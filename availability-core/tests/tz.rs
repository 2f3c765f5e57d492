//! Time-zone views against an oracle that applies the rule literally.
//!
//! The oracle applies the rule of the `tz` module instant by instant, independently of the
//! plans: it cuts the real instants around the viewed week at every half hour of either wall
//! clock and at every offset change of either zone, so within each piece both offsets are fixed
//! and every instant of the piece lies in the same viewer slot and the same owner slot. Each
//! viewer slot takes the minimum over its pieces; a viewer slot with no piece is a gap; the
//! exact intervals are the pieces' runs. The week's Monday comes from chrono's ISO week dates,
//! not from the code under test. Every zone of the database is checked; none is left out.
//!
//! The oracle takes offsets, transitions and wall-clock dates from jiff's own copy of the
//! database, and so does the crate: what these tests check is the views, not the offsets.
//! The offsets are checked against Python's `zoneinfo` (`tests/tz_zoneinfo.rs`, every zone
//! 1973-2100) and, without it, against fixed changes that `zoneinfo` gave
//! (`offset_changes_are_zoneinfos`).
//!
//! What runs by default (docs/design.md quotes the figures these tests print):
//! - `every_offset_change_matches_the_oracle`: every zone, in every ISO week of 2020-2035 in
//!   which it changes offset, against a fixed set of partners, as viewer and as owner;
//! - `every_zone_matches_at_the_range_ends`: every zone in the first and last supported weeks,
//!   to and from UTC, with a random week;
//! - `views_match_the_oracle`: 10,000 random (owner, viewer, week 2020-2035, pattern) cases
//!   (`AVAILABILITY_TZ_CASES` sets the number);
//! - `offset_changes_are_zoneinfos`: every change 2026-2029 of eleven zones, as Python's
//!   `zoneinfo` gives them.

use std::collections::BTreeSet;
use std::sync::{Arc, OnceLock};

use availability_core::tz::{self, Interval, IsoWeek, Plan, PlanCache, Tzdb, Zone};
use availability_core::{Batch, Day, Entry, Slot, Status, Week, SLOTS};
use jiff::tz::{TimeZone, TimeZoneDatabase};
use jiff::Timestamp;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng};

fn db() -> &'static TimeZoneDatabase {
    static DB: OnceLock<TimeZoneDatabase> = OnceLock::new();
    DB.get_or_init(TimeZoneDatabase::bundled)
}

/// Every zone of the crate's database, with jiff's zone of the same name.
fn checked_zones() -> &'static [(Zone, TimeZone)] {
    static ZONES: OnceLock<Vec<(Zone, TimeZone)>> = OnceLock::new();
    ZONES.get_or_init(|| Zone::all().map(|zone| (zone, jiff_zone(zone))).collect())
}

fn jiff_zone(zone: Zone) -> TimeZone {
    db().get(zone.name())
        .unwrap_or_else(|e| panic!("jiff has no zone {}: {e}", zone.name()))
}

fn seconds(ts: Timestamp) -> i64 {
    ts.as_second()
}

fn at(second: i64) -> Timestamp {
    Timestamp::from_second(second).expect("in range")
}

/// Wall-clock seconds of `date` 00:00 counted from 1970-01-01 00:00, by jiff's calendar.
fn wall_midnight(date: jiff::civil::Date) -> i64 {
    seconds(
        date.to_datetime(jiff::civil::Time::midnight())
            .to_zoned_datetime(TimeZone::UTC)
            .expect("in range")
            .timestamp(),
    )
}

fn date(year: i16, month: i8, day: i8) -> jiff::civil::Date {
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
struct Expected {
    view: Week,
    /// Viewer slots that hold no real instant.
    gaps: Vec<usize>,
    intervals: Vec<(String, String, Status)>,
}

/// The expected view of `stored`, its gaps and its exact intervals, by the rule, from jiff
/// alone.
fn oracle(stored: &Week, owner: &TimeZone, viewer: &TimeZone, week: IsoWeek) -> Expected {
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

fn ours(intervals: &[Interval]) -> Vec<(String, String, Status)> {
    intervals
        .iter()
        .map(|i| (i.start.to_string(), i.end.to_string(), i.status))
        .collect()
}

/// Checks one view and its intervals against the oracle; says which view on failure.
fn check(stored: &Week, owner: (Zone, &TimeZone), viewer: (Zone, &TimeZone), week: IsoWeek) {
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

fn random_week(rng: &mut TestRng) -> Week {
    Week::from_fn(|_| Status::ALL[(rng.next_u32() % 3) as usize])
}

fn arb_week() -> impl Strategy<Value = Week> {
    proptest::collection::vec(0usize..3, SLOTS)
        .prop_map(|statuses| Week::from_fn(|slot| Status::ALL[statuses[slot.index()]]))
}

fn arb_iso_week() -> impl Strategy<Value = IsoWeek> {
    (2020i32..=2035, 1u32..=53).prop_map(|(year, week)| {
        IsoWeek::new(year, week).unwrap_or_else(|_| IsoWeek::new(year, 52).expect("week 52"))
    })
}

fn cases(default: u32) -> u32 {
    std::env::var("AVAILABILITY_TZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(default)
}

proptest! {
    #![proptest_config(Config::with_cases(cases(10_000)))]

    #[test]
    fn views_match_the_oracle(
        stored in arb_week(),
        owner in 0usize..10_000,
        viewer in 0usize..10_000,
        week in arb_iso_week(),
    ) {
        let zones = checked_zones();
        let (owner, viewer) = (&zones[owner % zones.len()], &zones[viewer % zones.len()]);
        check(&stored, (owner.0, &owner.1), (viewer.0, &viewer.1), week);
    }
}

/// The years whose offset changes the sweep checks.
const CHANGE_YEARS: (i16, i16) = (2020, 2035);

/// The weeks of [`CHANGE_YEARS`] in which `zone` changes offset, as ISO weeks of `seen_from`.
fn change_weeks(zone: &TimeZone, seen_from: Zone) -> Vec<IsoWeek> {
    let (first, last) = CHANGE_YEARS;
    let (from, to) = (
        wall_midnight(date(first, 1, 1)),
        wall_midnight(date(last + 1, 1, 1)),
    );
    let mut weeks = BTreeSet::new();
    let mut previous = zone.to_offset(at(from));
    for transition in zone.following(at(from)) {
        let t = seconds(transition.timestamp());
        if t >= to {
            break;
        }
        // A transition that changes only the abbreviation or the daylight flag moves no slot.
        if transition.offset() == previous {
            continue;
        }
        previous = transition.offset();
        for instant in [t - 1, t] {
            weeks.insert(IsoWeek::at(seen_from, instant).expect("week"));
        }
    }
    weeks.into_iter().collect()
}

/// The sweep's partners: UTC, a northern and a southern DST zone, and the quarter- and
/// half-hour zones with their own changes.
const PARTNERS: [&str; 6] = [
    "UTC",
    "America/New_York",
    "Europe/Berlin",
    "Asia/Kathmandu",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
];

/// Every zone, in every week of 2020-2035 in which it changes offset, seen from itself and
/// from each partner, and seen by each partner in the partner's weeks that hold the change.
/// Deterministic: the same views every run.
#[test]
fn every_offset_change_matches_the_oracle() {
    let partners: Vec<(Zone, TimeZone)> = PARTNERS
        .iter()
        .map(|name| {
            let zone = zone(name);
            (zone, jiff_zone(zone))
        })
        .collect();
    let zones = checked_zones();
    // Two threads: the machine has two cores, and the sweep is the suite's longest test.
    let counts: Vec<(usize, usize, usize)> = std::thread::scope(|scope| {
        let halves: Vec<_> = zones
            .chunks(zones.len().div_ceil(2))
            .enumerate()
            .map(|(half, chunk)| {
                let partners = &partners;
                scope.spawn(move || {
                    let mut rng = TestRng::from_seed(RngAlgorithm::ChaCha, &[half as u8; 32]);
                    let (mut changing, mut changes, mut views) = (0, 0, 0);
                    for (zone, jz) in chunk {
                        let own = change_weeks(jz, *zone);
                        if own.is_empty() {
                            continue;
                        }
                        changing += 1;
                        changes += own.len();
                        let stored = random_week(&mut rng);
                        for (partner, jp) in partners.iter().chain([&(*zone, jz.clone())]) {
                            for week in &own {
                                check(&stored, (*partner, jp), (*zone, jz), *week);
                                views += 1;
                            }
                            for week in change_weeks(jz, *partner) {
                                check(&stored, (*zone, jz), (*partner, jp), week);
                                views += 1;
                            }
                        }
                    }
                    (changing, changes, views)
                })
            })
            .collect();
        halves
            .into_iter()
            .map(|h| h.join().expect("no panic"))
            .collect()
    });
    let (changing, weeks, views) = counts
        .iter()
        .fold((0, 0, 0), |acc, c| (acc.0 + c.0, acc.1 + c.1, acc.2 + c.2));
    eprintln!(
        "offset changes {}-{}: {} zones checked, {changing} change offset in {weeks} weeks; \
         {views} views against {} partners",
        CHANGE_YEARS.0,
        CHANGE_YEARS.1,
        zones.len(),
        PARTNERS.len()
    );
    assert!(changing > 200, "only {changing} zones change offset");
    assert!(views > 50_000, "only {views} views checked");
}

/// The offsets without an oracle at hand: every change 2026-2029 of zones with northern and
/// southern rules, Friday changes, a negative daylight saving (Dublin), Ramadan (Casablanca),
/// half-hour changes (Lord Howe), a quarter-hour zone, and the changes of 2026f (Vancouver,
/// Casablanca, Chisinau), as Python's `zoneinfo` with `tzdata` 2026f gives them (each change
/// found to the second by bisection). `tests/tz_zoneinfo.rs` compares every zone 1973-2100
/// with that oracle when it is installed.
#[test]
fn offset_changes_are_zoneinfos() {
    const FROM: i64 = 1_767_225_600; // 2026-01-01 00:00 UTC
    const TO: i64 = 1_893_456_000; // 2030-01-01 00:00 UTC
    #[rustfmt::skip]
    const EXPECTED: &[(&str, &[(i64, i32)])] = &[
        ("America/New_York", &[
            (1767225600, -18000), (1772953200, -14400), (1793512800, -18000), (1805007600, -14400),
            (1825567200, -18000), (1836457200, -14400), (1857016800, -18000), (1867906800, -14400),
            (1888466400, -18000),
        ]),
        ("America/Vancouver", &[
            (1767225600, -28800), (1772964000, -25200),
        ]),
        ("America/Santiago", &[
            (1767225600, -10800), (1775358000, -14400), (1788667200, -10800), (1806807600, -14400),
            (1820116800, -10800), (1838257200, -14400), (1851566400, -10800), (1870311600, -14400),
            (1883016000, -10800),
        ]),
        ("Europe/Berlin", &[
            (1767225600, 3600), (1774746000, 7200), (1792890000, 3600), (1806195600, 7200),
            (1824944400, 3600), (1837645200, 7200), (1856394000, 3600), (1869094800, 7200),
            (1887843600, 3600),
        ]),
        ("Europe/Chisinau", &[
            (1767225600, 7200), (1774746000, 10800), (1792890000, 7200), (1806195600, 10800),
            (1824944400, 7200), (1837645200, 10800), (1856394000, 7200), (1869094800, 10800),
            (1887843600, 7200),
        ]),
        ("Europe/Dublin", &[
            (1767225600, 0), (1774746000, 3600), (1792890000, 0), (1806195600, 3600),
            (1824944400, 0), (1837645200, 3600), (1856394000, 0), (1869094800, 3600),
            (1887843600, 0),
        ]),
        ("Africa/Casablanca", &[
            (1767225600, 3600), (1771120800, 0), (1774144800, 3600), (1789866000, 0),
        ]),
        ("Asia/Jerusalem", &[
            (1767225600, 7200), (1774569600, 10800), (1792882800, 7200), (1806019200, 10800),
            (1824937200, 7200), (1837468800, 10800), (1856386800, 7200), (1868918400, 10800),
            (1887836400, 7200),
        ]),
        ("Asia/Kathmandu", &[
            (1767225600, 20700),
        ]),
        ("Australia/Lord_Howe", &[
            (1767225600, 39600), (1775314800, 37800), (1791041400, 39600), (1806764400, 37800),
            (1822491000, 39600), (1838214000, 37800), (1853940600, 39600), (1869663600, 37800),
            (1885995000, 39600),
        ]),
        ("Pacific/Chatham", &[
            (1767225600, 49500), (1775311200, 45900), (1790431200, 49500), (1806760800, 45900),
            (1821880800, 49500), (1838210400, 45900), (1853330400, 49500), (1869660000, 45900),
            (1885384800, 49500),
        ]),
    ];
    for (name, expected) in EXPECTED {
        let zone = zone(name);
        assert_eq!(zone.transitions(FROM, TO), *expected, "{name}");
        for pair in expected.windows(2) {
            let ((_, before), (t, after)) = (pair[0], pair[1]);
            assert_eq!(zone.offset_at(t - 1), Some(before), "{name} at {t} - 1");
            assert_eq!(zone.offset_at(t), Some(after), "{name} at {t}");
        }
    }
}

/// The database this crate bundles is the release the test suite was written for (2026f,
/// with the changes pinned in the `tz` module's examples), or newer, and it is the one in use.
/// `tests/tz_zoneinfo.rs` compares the version with an independent copy's.
#[test]
fn the_bundled_database_is_current() {
    let reference =
        Tzdb::from_tzif("2026f", std::iter::empty::<(&str, &[u8])>()).expect("empty database");
    assert!(
        !reference.is_newer_than(Tzdb::bundled()),
        "the bundled database {} is older than 2026f",
        Tzdb::bundled().version()
    );
    assert_eq!(Zone::database_version(), Tzdb::bundled().version());
    assert!(std::ptr::eq(Tzdb::current(), Tzdb::bundled()));
}

fn zone(name: &str) -> Zone {
    name.parse().expect("zone")
}

fn week(name: &str) -> IsoWeek {
    name.parse().expect("week")
}

fn slot(name: &str) -> Slot {
    name.parse().expect("slot")
}

fn hours(day: Day, from: &str, to: &str, status: Status) -> Week {
    let mut batch = Batch::new();
    batch.push(Entry::range(
        day,
        from.parse().expect("time"),
        to.parse().expect("time"),
        status,
    ));
    batch.apply(&Week::UNAVAILABLE).expect("valid")
}

/// Seen from its own zone, a week is the stored week with its gap slots unavailable, in every
/// zone, in ordinary weeks and in the weeks of its offset changes in 2026; the gap slots are
/// those the oracle finds no instant for.
#[test]
fn a_same_zone_view_is_the_stored_week_except_gaps() {
    let mut rng = TestRng::deterministic_rng(RngAlgorithm::ChaCha);
    let mut gap_weeks = 0;
    for (zone, jz) in checked_zones() {
        let stored = random_week(&mut rng);
        let weeks = change_weeks(jz, *zone)
            .into_iter()
            .filter(|w| w.year() == 2026)
            .chain([week("2026-W30")]);
        for week in weeks {
            let plan = Plan::new(*zone, *zone, week).expect("plan");
            let gaps = oracle(&stored, jz, jz, week).gaps;
            let mut expected = stored;
            for &gap in &gaps {
                expected.set(Slot::from_index(gap).expect("slot"), Status::Unavailable);
            }
            assert_eq!(plan.apply(&stored), expected, "{zone} in {week}");
            assert_eq!(
                plan.apply(&Week::AVAILABLE).counts().unavailable,
                gaps.len()
            );
            gap_weeks += usize::from(!gaps.is_empty());
        }
    }
    assert!(gap_weeks > 50, "only {gap_weeks} weeks with gaps");
}

/// A quarter-hour offset difference splits every half hour over two owner half hours: one
/// owner slot alone never shows, two consecutive ones show as one viewer slot.
#[test]
fn quarter_hour_zones_never_promise_a_partial_half_hour() {
    for (name, weeks) in [
        ("Asia/Kathmandu", ["2026-W10", "2026-W40"]),
        ("Australia/Eucla", ["2026-W10", "2026-W40"]),
        // +13:45 in the southern summer, +12:45 in winter.
        ("Pacific/Chatham", ["2026-W10", "2026-W30"]),
    ] {
        for w in weeks {
            for (owner, viewer) in [(Zone::UTC, zone(name)), (zone(name), Zone::UTC)] {
                let plan = Plan::new(owner, viewer, week(w)).expect("plan");
                assert!(!plan.is_rotation());
                assert_eq!(plan.shifts().count(), 2, "{owner} -> {viewer} {w}");
                for start in 0..SLOTS {
                    let mut one = Week::UNAVAILABLE;
                    one.set(Slot::from_index(start).expect("slot"), Status::Available);
                    assert_eq!(
                        plan.apply(&one),
                        Week::UNAVAILABLE,
                        "{owner} -> {viewer} {w}"
                    );
                    let mut two = one;
                    two.set(
                        Slot::from_index((start + 1) % SLOTS).expect("slot"),
                        Status::Maybe,
                    );
                    let view = plan.apply(&two);
                    assert_eq!(
                        (view.counts().maybe, view.counts().available),
                        (1, 0),
                        "{owner} -> {viewer} {w}"
                    );
                }
            }
        }
    }
    // The exact interval keeps the quarter hours.
    let owner = hours(Day::Monday, "09:00", "10:00", Status::Available);
    let plan = Plan::new(Zone::UTC, zone("Australia/Eucla"), week("2026-W48")).expect("plan");
    let exact = ours(&plan.intervals(&owner));
    assert_eq!(
        exact,
        [(
            "2026-11-23T17:45:00+08:45".to_string(),
            "2026-11-23T18:45:00+08:45".to_string(),
            Status::Available
        )]
    );
    assert_eq!(
        plan.apply(&owner)
            .slots()
            .filter(|(_, s)| *s != Status::Unavailable)
            .map(|(s, _)| s)
            .collect::<Vec<_>>(),
        [slot("monday 18:00")]
    );
}

/// A week in which the owner's zone changes offset mid-week uses each offset for its own
/// instants. Israel moves its clocks on the Friday before the last Sunday of March.
#[test]
fn a_mid_week_change_is_converted_per_instant() {
    let mut batch = Batch::new();
    for day in Day::ALL {
        batch.push(Entry::range(
            day,
            "09:00".parse().expect("time"),
            "17:00".parse().expect("time"),
            Status::Available,
        ));
    }
    let owner = batch.apply(&Week::UNAVAILABLE).expect("valid");
    let plan = Plan::new(zone("Asia/Jerusalem"), Zone::UTC, week("2026-W13")).expect("plan");
    assert!(!plan.is_rotation());
    let view = plan.apply(&owner);
    for (at, status) in [
        ("thursday 06:30", Status::Unavailable),
        ("thursday 07:00", Status::Available),
        ("thursday 14:30", Status::Available),
        ("thursday 15:00", Status::Unavailable),
        ("friday 06:00", Status::Available),
        ("friday 06:30", Status::Available),
        ("friday 13:30", Status::Available),
        ("friday 14:00", Status::Unavailable),
    ] {
        assert_eq!(view.status(slot(at)), status, "{at}");
    }
    let exact = ours(&plan.intervals(&owner));
    assert_eq!(exact[3].0, "2026-03-26T07:00:00+00:00");
    assert_eq!(exact[4].0, "2026-03-27T06:00:00+00:00");
    assert_eq!(exact[4].1, "2026-03-27T14:00:00+00:00");
}

/// Lord Howe moves its clocks by 30 minutes: one gap slot in October, one doubled half hour
/// in April, each exact in the intervals.
#[test]
fn lord_howe_half_hour_changes() {
    let lord_howe = zone("Australia/Lord_Howe");
    // 2026-10-04 02:00 (+10:30) becomes 02:30 (+11:00).
    let spring = Plan::new(Zone::UTC, lord_howe, week("2026-W40")).expect("plan");
    assert_eq!(spring.gaps().collect::<Vec<_>>(), [slot("sunday 02:00")]);
    assert!(spring.is_gap(slot("sunday 02:00")));
    assert!(!spring.is_gap(slot("sunday 02:30")));
    // 2026-04-05 02:00 (+11:00) returns to 01:30 (+10:30): 01:30-02:00 happens twice, at
    // 14:30 and 15:00 UTC on Saturday.
    let autumn = Plan::new(Zone::UTC, lord_howe, week("2026-W14")).expect("plan");
    assert_eq!(autumn.gaps().count(), 0);
    let first = hours(Day::Saturday, "14:30", "15:00", Status::Available);
    let both = hours(Day::Saturday, "14:30", "15:30", Status::Maybe);
    assert_eq!(autumn.apply(&first), Week::UNAVAILABLE);
    let view = autumn.apply(&both);
    assert_eq!(view.status(slot("sunday 01:30")), Status::Maybe);
    assert_eq!(view.counts().maybe, 1);
    assert_eq!(
        ours(&autumn.intervals(&first)),
        [(
            "2026-04-05T01:30:00+11:00".to_string(),
            "2026-04-05T01:30:00+10:30".to_string(),
            Status::Available
        )]
    );
    assert_eq!(
        ours(&autumn.intervals(&both)),
        [(
            "2026-04-05T01:30:00+11:00".to_string(),
            "2026-04-05T02:00:00+10:30".to_string(),
            Status::Maybe
        )]
    );
}

/// Ordinary weeks between zones a whole number of half hours apart are one rotation.
#[test]
fn ordinary_weeks_are_one_rotation() {
    for (owner, viewer) in [
        ("UTC", "UTC"),
        ("America/New_York", "Europe/Berlin"),
        ("Asia/Kolkata", "America/Los_Angeles"),
        ("Australia/Lord_Howe", "Asia/Kathmandu"),
    ] {
        let plan = Plan::new(zone(owner), zone(viewer), week("2026-W30")).expect("plan");
        if owner == "Australia/Lord_Howe" {
            assert_eq!(plan.shifts().count(), 2);
        } else {
            assert!(plan.is_rotation(), "{owner} -> {viewer}");
        }
        assert_eq!(plan.owner(), zone(owner));
        assert_eq!(plan.viewer(), zone(viewer));
        assert_eq!(plan.week(), week("2026-W30"));
    }
}

/// Every zone at both ends of the supported range, to and from UTC, with a random pattern
/// (an all-available week would pass whatever the offset).
#[test]
fn every_zone_matches_at_the_range_ends() {
    let first = IsoWeek::new(IsoWeek::MIN_YEAR, 1).expect("first");
    let last = IsoWeek::containing(
        chrono::NaiveDate::from_ymd_opt(IsoWeek::MAX_YEAR, 12, 28).expect("date"),
    )
    .expect("last");
    assert_eq!(last.next(), None);
    assert_eq!(first.previous(), None);
    let utc = TimeZone::UTC;
    let mut rng = TestRng::deterministic_rng(RngAlgorithm::ChaCha);
    let mut views = 0;
    for (zone, jz) in checked_zones() {
        let stored = random_week(&mut rng);
        for week in [first, last] {
            check(&stored, (*zone, jz), (Zone::UTC, &utc), week);
            check(&stored, (Zone::UTC, &utc), (*zone, jz), week);
            views += 2;
        }
    }
    eprintln!("range ends: {views} views checked");
}

#[test]
fn zones_parse_by_iana_name() {
    assert_eq!(zone("UTC"), Zone::UTC);
    assert_eq!(Zone::default(), Zone::UTC);
    assert_eq!(zone("US/Pacific").name(), "US/Pacific");
    assert_eq!(zone("Asia/Calcutta").name(), "Asia/Calcutta");
    assert_eq!(zone("europe/BERLIN").name(), "Europe/Berlin");
    assert_eq!(zone("Europe/Berlin").to_string(), "Europe/Berlin");
    assert!(Zone::all().len() > 500);
    assert!(Zone::all().all(|z| zone(z.name()) == z));
    for bad in [
        "",
        "Europe",
        "Europe/",
        "Nowhere/City",
        " UTC",
        "UTC ",
        "Europe/Berlin\0",
    ] {
        let err = Zone::new(bad).expect_err(bad);
        assert!(err.is_unknown_zone(), "{bad:?}");
        assert!(err.to_string().contains(&format!("{bad:?}")), "{err}");
    }
    let long = "A/".repeat(10_000);
    let err = Zone::new(&long).expect_err("long");
    assert!(err.is_unknown_zone());
    assert!(err.to_string().len() < 300);
}

#[test]
fn weeks_parse_print_and_list_dates() {
    assert_eq!(week("2026-W48").to_string(), "2026-W48");
    assert_eq!(week("2026-w48"), week("2026-W48"));
    assert_eq!(
        week("2026-W48").dates().map(|d| d.to_string()),
        [
            "2026-11-23",
            "2026-11-24",
            "2026-11-25",
            "2026-11-26",
            "2026-11-27",
            "2026-11-28",
            "2026-11-29"
        ]
    );
    for date in week("2026-W48").dates() {
        assert_eq!(week(&date.to_string()), week("2026-W48"));
    }
    assert_eq!(week("2026-W48").date(Day::Sunday).to_string(), "2026-11-29");
    assert_eq!(
        (week("2026-W48").year(), week("2026-W48").week()),
        (2026, 48)
    );
    // Every week of the range round-trips through its name and follows the one before.
    let mut w = IsoWeek::new(IsoWeek::MIN_YEAR, 1).expect("first");
    let mut n = 1;
    while let Some(next) = w.next() {
        assert_eq!(next.previous(), Some(w));
        assert_eq!(week(&next.to_string()), next);
        assert_eq!(next.monday(), w.monday() + chrono::Days::new(7));
        w = next;
        n += 1;
    }
    assert_eq!(n, 6627);
    for (bad, parse) in [
        ("2025-W53", true),
        ("2026-W00", true),
        ("2026-W54", true),
        ("2026-48", true),
        ("2026-W4", true),
        ("2026-W048", true),
        ("26-W48", true),
        ("2026-02-30", true),
        ("2026-13-01", true),
        ("2026/11/23", true),
        ("+2026-W48", true),
        ("", true),
        ("२०२६-W48", true),
        ("1972-W52", false),
        ("2100-W01", false),
        ("9999-12-31", false),
        ("1900-01-01", false),
    ] {
        let err = bad.parse::<IsoWeek>().expect_err(bad);
        assert_eq!(
            (err.is_parse(), err.is_out_of_range()),
            (parse, !parse),
            "{bad}: {err}"
        );
    }
    assert!(IsoWeek::new(2026, 53).is_ok());
    assert!(IsoWeek::new(2027, 53).is_err());
}

#[test]
fn the_current_week_contains_now() {
    let tokyo = zone("Asia/Tokyo");
    let seconds = || {
        i64::try_from(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .expect("after 1970")
                .as_secs(),
        )
        .expect("fits")
    };
    let before = IsoWeek::at(tokyo, seconds()).expect("week");
    let current = IsoWeek::current(tokyo).expect("week");
    let after = IsoWeek::at(tokyo, seconds()).expect("week");
    assert!(current == before || current == after);
    // 2026-11-29 20:00 UTC is already Monday 2026-11-30 in Tokyo.
    let instant = wall_midnight(date(2026, 11, 29)) + 20 * 3600;
    assert_eq!(
        IsoWeek::at(Zone::UTC, instant).expect("week"),
        week("2026-W48")
    );
    assert_eq!(IsoWeek::at(tokyo, instant).expect("week"), week("2026-W49"));
    assert!(IsoWeek::at(Zone::UTC, i64::MAX)
        .expect_err("far")
        .is_out_of_range());
    assert!(IsoWeek::at(Zone::UTC, 0)
        .expect_err("1970")
        .is_out_of_range());
}

#[test]
fn timestamps_print_as_rfc3339() {
    let owner = hours(Day::Monday, "09:00", "17:30", Status::Maybe);
    let los_angeles = zone("America/Los_Angeles");
    let exact = tz::intervals(&owner, Zone::UTC, los_angeles, week("2026-W48")).expect("view");
    assert_eq!(exact.len(), 1);
    assert_eq!(exact[0].start.to_string(), "2026-11-23T01:00:00-08:00");
    assert_eq!(exact[0].end.to_string(), "2026-11-23T09:30:00-08:00");
    assert_eq!(exact[0].start.offset_seconds(), -8 * 3600);
    assert_eq!(
        exact[0].end.to_datetime().expect("valid").to_rfc3339(),
        "2026-11-23T09:30:00-08:00"
    );
    assert_eq!(
        exact[0].end.unix_seconds() - exact[0].start.unix_seconds(),
        17 * 1800
    );
    assert_eq!(
        tz::view(&owner, Zone::UTC, los_angeles, week("2026-W48")).expect("view"),
        Plan::new(Zone::UTC, los_angeles, week("2026-W48"))
            .expect("plan")
            .apply(&owner)
    );
}

#[test]
fn the_cache_is_bounded_and_shared() {
    let cache = PlanCache::new(2);
    let (a, b, c) = (week("2026-W01"), week("2026-W02"), week("2026-W03"));
    let berlin = zone("Europe/Berlin");
    let first = cache.get(Zone::UTC, berlin, a).expect("plan");
    let _ = cache.get(Zone::UTC, berlin, b).expect("plan");
    // Using `a` again makes `b` the least recently used, so `c` evicts it.
    assert!(Arc::ptr_eq(
        &first,
        &cache.get(Zone::UTC, berlin, a).expect("plan")
    ));
    let _ = cache.get(Zone::UTC, berlin, c).expect("plan");
    assert_eq!(cache.len(), 2);
    assert!(Arc::ptr_eq(
        &first,
        &cache.get(Zone::UTC, berlin, a).expect("plan")
    ));
    assert_eq!(cache.capacity(), 2);
    cache.clear();
    assert!(cache.is_empty());
    assert_eq!(PlanCache::new(0).capacity(), 1);

    let cache = Arc::new(PlanCache::default());
    let threads: Vec<_> = (0..4)
        .map(|i| {
            let cache = Arc::clone(&cache);
            std::thread::spawn(move || {
                for n in 0..20u32 {
                    let week = IsoWeek::new(2026, 1 + (n + i) % 10).expect("week");
                    let plan = cache.get(berlin, Zone::UTC, week).expect("plan");
                    assert_eq!(plan.week(), week);
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().expect("no panic");
    }
    assert_eq!(cache.len(), 10);
}

proptest! {
    /// Hostile text never panics and fails with the right kind of error.
    #[test]
    fn hostile_names_are_errors(text in ".{0,80}") {
        if let Err(err) = Zone::new(&text) {
            prop_assert!(err.is_unknown_zone());
        }
        if let Err(err) = text.parse::<IsoWeek>() {
            prop_assert!(err.is_parse() || err.is_out_of_range());
        }
    }

    #[test]
    fn hostile_weeks_are_errors(year in any::<i32>(), number in any::<u32>()) {
        match IsoWeek::new(year, number) {
            Ok(week) => prop_assert_eq!((week.year(), week.week()), (year, number)),
            Err(err) => prop_assert!(err.is_parse() || err.is_out_of_range()),
        }
    }
}

/// A `chrono_tz::Tz` converts by name, and its offsets are this crate's: chrono-tz's own data
/// (IANA 2025b) still has Vancouver at UTC-08 on 2026-12-01.
#[cfg(feature = "chrono-tz")]
#[test]
fn chrono_tz_zones_convert_by_name_and_keep_current_offsets() {
    use chrono::{Offset, TimeZone as _};
    let december = wall_midnight(date(2026, 12, 1));
    let vancouver = Zone::try_from(chrono_tz::America::Vancouver).expect("a zone");
    assert_eq!(vancouver, zone("America/Vancouver"));
    assert_eq!(vancouver.offset_at(december), Some(-7 * 3600));
    let theirs = chrono_tz::America::Vancouver
        .offset_from_utc_datetime(
            &chrono::DateTime::from_timestamp(december, 0)
                .expect("in range")
                .naive_utc(),
        )
        .fix()
        .local_minus_utc();
    assert_eq!(
        theirs,
        -8 * 3600,
        "chrono-tz's data changed; revisit the docs"
    );
    assert_eq!(Zone::try_from(chrono_tz::UTC).expect("UTC"), Zone::UTC);
    for tz in chrono_tz::TZ_VARIANTS {
        // Every name chrono-tz knows is in the newer database too.
        assert!(Zone::try_from(tz).is_ok(), "{}", tz.name());
    }
}
