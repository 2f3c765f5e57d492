//! Time-zone views against an independent oracle.
//!
//! The oracle applies the rule of DESIGN section 3 literally, with the `jiff` crate and its own
//! bundled copy of the time-zone database: it cuts the real instants around the viewed week at
//! every quarter hour and at every offset change of either zone (from jiff's transition list),
//! so within each piece both offsets are fixed and every instant of the piece lies in the same
//! viewer slot and the same owner slot. Each viewer slot takes the minimum over its pieces;
//! the exact intervals are the pieces' runs.
//!
//! Set `AVAILABILITY_TZ_CASES` to run more random cases than the default, and
//! `AVAILABILITY_TZ_ALL_YEARS=1` to check the offset changes of every year 2020-2035 rather
//! than of 2026 alone (about 15 times longer).

use std::collections::BTreeSet;
use std::sync::{Arc, OnceLock};

use availability_core::tz::{self, Interval, IsoWeek, Plan, PlanCache, Zone};
use availability_core::{Batch, Day, Entry, Slot, Status, Week, SLOTS};
use chrono::Datelike;
use jiff::tz::{TimeZone, TimeZoneDatabase};
use jiff::Timestamp;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng};

/// Zones on which the two databases (chrono-tz's and jiff's) disagree between 2019-12 and
/// 2036-02, with the reason; they are left out of the oracle comparisons. A test checks that
/// each listed zone really disagrees and that no other zone does, so the list stays exact.
const EXCLUDED: &[(&str, &str)] = &[
    (
        "Africa/Casablanca",
        "from 2026-09-20 01:00 UTC chrono-tz's 2025b data has +01:00 and jiff's newer data +00:00, to the end of the tested years",
    ),
    (
        "Africa/El_Aaiun",
        "as Africa/Casablanca: from 2026-09-20 01:00 UTC chrono-tz has +01:00 and jiff +00:00",
    ),
    (
        "America/Edmonton",
        "from 2026-11-01 jiff's data keeps daylight time (permanent UTC-06) where chrono-tz's 2025b still falls back to UTC-07",
    ),
    (
        "America/Inuvik",
        "from 2026-11-01 jiff's data keeps daylight time (permanent UTC-06) where chrono-tz's 2025b still falls back to UTC-07",
    ),
    (
        "America/Rainy_River",
        "from 2026-11-01 jiff's data keeps daylight time (permanent UTC-05) where chrono-tz's 2025b still falls back to UTC-06 (an alias of America/Winnipeg)",
    ),
    (
        "America/Vancouver",
        "from 2026-11-01 jiff's data keeps daylight time (permanent UTC-07) where chrono-tz's 2025b still falls back to UTC-08",
    ),
    (
        "America/Winnipeg",
        "from 2026-11-01 jiff's data keeps daylight time (permanent UTC-05) where chrono-tz's 2025b still falls back to UTC-06",
    ),
    (
        "America/Yellowknife",
        "from 2026-11-01 jiff's data keeps daylight time (permanent UTC-06) where chrono-tz's 2025b still falls back to UTC-07 (an alias of America/Edmonton)",
    ),
    (
        "Canada/Central",
        "an alias of America/Winnipeg: from 2026-11-01 jiff's data keeps daylight time (permanent UTC-05) where chrono-tz's 2025b still falls back to UTC-06",
    ),
    (
        "Canada/Mountain",
        "an alias of America/Edmonton: from 2026-11-01 jiff's data keeps daylight time (permanent UTC-06) where chrono-tz's 2025b still falls back to UTC-07",
    ),
    (
        "Canada/Pacific",
        "an alias of America/Vancouver: from 2026-11-01 jiff's data keeps daylight time (permanent UTC-07) where chrono-tz's 2025b still falls back to UTC-08",
    ),
    (
        "Europe/Chisinau",
        "since 2022 jiff's data changes at the EU instants (01:00 UTC) while chrono-tz's 2025b keeps Moldova's local 02:00/03:00, an hour apart each spring and autumn",
    ),
    (
        "Europe/Tiraspol",
        "an alias of Europe/Chisinau: the transition instants differ by an hour since 2022",
    ),
];

fn db() -> &'static TimeZoneDatabase {
    static DB: OnceLock<TimeZoneDatabase> = OnceLock::new();
    DB.get_or_init(TimeZoneDatabase::bundled)
}

fn excluded(name: &str) -> bool {
    EXCLUDED.iter().any(|(zone, _)| *zone == name)
}

/// The zones the oracle checks: every zone of chrono-tz that jiff knows, minus the exclusions.
fn checked_zones() -> &'static [(Zone, TimeZone)] {
    static ZONES: OnceLock<Vec<(Zone, TimeZone)>> = OnceLock::new();
    ZONES.get_or_init(|| {
        Zone::all()
            .filter(|zone| !excluded(zone.name()))
            .filter_map(|zone| Some((zone, db().get(zone.name()).ok()?)))
            .collect()
    })
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
fn wall_midnight(date: chrono::NaiveDate) -> i64 {
    let civil = jiff::civil::date(
        i16::try_from(date.year()).expect("year"),
        i8::try_from(date.month()).expect("month"),
        i8::try_from(date.day()).expect("day"),
    );
    seconds(
        civil
            .to_datetime(jiff::civil::Time::midnight())
            .to_zoned(TimeZone::UTC)
            .expect("in range")
            .timestamp(),
    )
}

fn rfc3339(second: i64, zone: &TimeZone) -> String {
    at(second)
        .to_zoned(zone.clone())
        .strftime("%Y-%m-%dT%H:%M:%S%:z")
        .to_string()
}

/// The expected view of `stored` and its exact intervals, by the rule, from jiff alone.
fn oracle(
    stored: &Week,
    owner: &TimeZone,
    viewer: &TimeZone,
    week: IsoWeek,
) -> (Week, Vec<(String, String, Status)>) {
    const QUARTER: i64 = 900;
    let start = wall_midnight(week.monday());
    let end = start + 7 * 86_400;
    let (from, to) = (start - 2 * 86_400, end + 2 * 86_400);

    let mut cuts: BTreeSet<i64> = (from / QUARTER..=to / QUARTER)
        .map(|q| q * QUARTER)
        .collect();
    for zone in [owner, viewer] {
        for transition in zone.following(at(from - 1)) {
            let t = seconds(transition.timestamp());
            if t > to {
                break;
            }
            cuts.insert(t);
        }
    }
    let cuts: Vec<i64> = cuts
        .into_iter()
        .filter(|t| (from..=to).contains(t))
        .collect();

    let mut lowest: [Option<Status>; SLOTS] = [None; SLOTS];
    let mut runs: Vec<(i64, i64, Status)> = Vec::new();
    for pair in cuts.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        let viewer_offset = i64::from(viewer.to_offset(at(a)).seconds());
        let owner_offset = i64::from(owner.to_offset(at(a)).seconds());
        assert!(
            viewer_offset % QUARTER == 0 && owner_offset % QUARTER == 0,
            "the oracle assumes quarter-hour offsets: {viewer_offset} {owner_offset}"
        );
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
    let intervals = runs
        .into_iter()
        .filter(|run| run.2 != Status::Unavailable)
        .map(|(a, b, status)| (rfc3339(a, viewer), rfc3339(b, viewer), status))
        .collect();
    (view, intervals)
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
    let (expected, expected_intervals) = oracle(stored, owner.1, viewer.1, week);
    let got = plan.apply(stored);
    assert!(
        got == expected,
        "view of {} from {} in {week} differs\nstored:\n{stored}\ngot:\n{got}\nexpected:\n{expected}",
        owner.0,
        viewer.0,
    );
    assert_eq!(
        ours(&plan.intervals(stored)),
        expected_intervals,
        "intervals of {} from {} in {week}",
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

/// The years whose offset changes the exhaustive pass checks.
fn change_years() -> (i32, i32) {
    if std::env::var_os("AVAILABILITY_TZ_ALL_YEARS").is_some() {
        (2020, 2035)
    } else {
        (2026, 2026)
    }
}

/// The weeks of [`change_years`] in which `zone` changes offset, as ISO weeks of `seen_from`.
fn change_weeks(zone: &TimeZone, seen_from: Zone) -> Vec<IsoWeek> {
    let (first, last) = change_years();
    let (from, to) = (
        wall_midnight(chrono::NaiveDate::from_ymd_opt(first, 1, 1).expect("date")),
        wall_midnight(chrono::NaiveDate::from_ymd_opt(last + 1, 1, 1).expect("date")),
    );
    let mut weeks = BTreeSet::new();
    for transition in zone.following(at(from)) {
        let t = seconds(transition.timestamp());
        if t >= to {
            break;
        }
        for instant in [t - 1, t] {
            weeks.insert(IsoWeek::at(seen_from, instant).expect("week"));
        }
    }
    weeks.into_iter().collect()
}

/// Every week of 2026 (or 2020-2035) in which a zone changes offset, seen from the zone itself, from UTC and
/// from zones with unusual offsets, in both directions.
#[test]
fn every_offset_change_of_2026_matches_the_oracle() {
    let partners: Vec<Zone> = [
        "UTC",
        "America/New_York",
        "Europe/Berlin",
        "Asia/Kathmandu",
        "Australia/Lord_Howe",
        "Pacific/Chatham",
    ]
    .iter()
    .map(|name| name.parse().expect("zone"))
    .collect();
    let mut rng = TestRng::deterministic_rng(RngAlgorithm::ChaCha);
    let mut views = 0;
    let mut zones = 0;
    for (zone, jz) in checked_zones() {
        if change_weeks(jz, *zone).is_empty() {
            continue;
        }
        zones += 1;
        let stored = random_week(&mut rng);
        for partner in partners.iter().chain([zone]) {
            let jp = jiff_zone(*partner);
            // The zone as the viewer, in its own weeks of change...
            for week in change_weeks(jz, *zone) {
                check(&stored, (*partner, &jp), (*zone, jz), week);
                views += 1;
            }
            // ...and as the owner, in the partner's weeks that hold its changes.
            for week in change_weeks(jz, *partner) {
                check(&stored, (*zone, jz), (*partner, &jp), week);
                views += 1;
            }
        }
    }
    eprintln!(
        "offset changes of {:?}: {zones} zones, {views} views checked",
        change_years()
    );
    assert!(zones > 100, "only {zones} zones change offset in 2026");
    assert!(views > 1000, "only {views} views checked");
}

/// The two databases agree on every zone not excluded, and disagree on every excluded one.
#[test]
fn the_databases_agree_except_where_listed() {
    let from = wall_midnight(chrono::NaiveDate::from_ymd_opt(2019, 12, 1).expect("date"));
    let to = wall_midnight(chrono::NaiveDate::from_ymd_opt(2036, 2, 1).expect("date"));
    let mut disagree = Vec::new();
    let mut missing = Vec::new();
    for zone in Zone::all() {
        let Ok(jz) = db().get(zone.name()) else {
            missing.push(zone.name());
            continue;
        };
        let mut instants: Vec<i64> = (from..to).step_by(6 * 3600).collect();
        for transition in jz.following(at(from)) {
            let t = seconds(transition.timestamp());
            if t >= to {
                break;
            }
            instants.extend([t - 1, t]);
        }
        let differs = instants
            .iter()
            .any(|&t| zone.offset_at(t) != Some(jz.to_offset(at(t)).seconds()));
        if differs {
            disagree.push(zone.name());
        }
    }
    let listed: Vec<&str> = EXCLUDED.iter().map(|(zone, _)| *zone).collect();
    assert_eq!(disagree, listed, "zones where chrono-tz and jiff disagree");
    assert_eq!(missing, Vec::<&str>::new(), "zones jiff does not know");
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
/// zone, in ordinary weeks and in the weeks of its 2026 offset changes.
#[test]
fn a_same_zone_view_is_the_stored_week_except_gaps() {
    let mut rng = TestRng::deterministic_rng(RngAlgorithm::ChaCha);
    let mut gap_weeks = 0;
    for (zone, jz) in checked_zones() {
        let stored = random_week(&mut rng);
        for week in change_weeks(jz, *zone)
            .into_iter()
            .chain([week("2026-W30")])
        {
            let plan = Plan::new(*zone, *zone, week).expect("plan");
            let mut expected = stored;
            for gap in plan.gaps() {
                expected.set(gap, Status::Unavailable);
            }
            assert_eq!(plan.apply(&stored), expected, "{zone} in {week}");
            assert_eq!(
                plan.apply(&Week::AVAILABLE).counts().unavailable,
                plan.gaps().count()
            );
            gap_weeks += usize::from(plan.gaps().next().is_some());
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

/// Plans build for every zone at both ends of the supported range.
#[test]
fn every_zone_plans_at_the_range_ends() {
    let first = IsoWeek::new(IsoWeek::MIN_YEAR, 1).expect("first");
    let last = IsoWeek::containing(
        chrono::NaiveDate::from_ymd_opt(IsoWeek::MAX_YEAR, 12, 28).expect("date"),
    )
    .expect("last");
    assert_eq!(last.next(), None);
    assert_eq!(first.previous(), None);
    for zone in Zone::all() {
        for week in [first, last] {
            let plan = Plan::new(zone, Zone::UTC, week).expect("plan");
            assert_eq!(plan.apply(&Week::AVAILABLE).counts().available, SLOTS);
            let plan = Plan::new(Zone::UTC, zone, week).expect("plan");
            let exact = plan.intervals(&Week::AVAILABLE);
            assert!(!exact.is_empty(), "{zone} {week}");
        }
    }
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
    let instant =
        wall_midnight(chrono::NaiveDate::from_ymd_opt(2026, 11, 29).expect("d")) + 20 * 3600;
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

/// Plans find offset changes by sampling every few hours, which misses a change that is undone
/// before the next sample. No zone changes offset twice within a day in the supported years.
#[test]
fn offset_changes_are_days_apart() {
    let from = wall_midnight(chrono::NaiveDate::from_ymd_opt(1972, 12, 1).expect("date"));
    let to = wall_midnight(chrono::NaiveDate::from_ymd_opt(2100, 2, 1).expect("date"));
    for zone in Zone::all() {
        let Ok(jz) = db().get(zone.name()) else {
            continue;
        };
        let mut previous: Option<(i64, i32)> = None;
        for transition in jz.following(at(from)) {
            let t = seconds(transition.timestamp());
            if t > to {
                break;
            }
            let offset = transition.offset().seconds();
            if let Some((last, last_offset)) = previous {
                if offset != last_offset {
                    assert!(t - last >= 86_400, "{zone}: changes at {last} and {t}");
                }
            }
            if previous.is_none_or(|(_, last_offset)| offset != last_offset) {
                previous = Some((t, offset));
            }
        }
    }
}
