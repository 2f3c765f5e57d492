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
//!
//! Those are here, with what they draw at random; the oracle is `oracle`, views on chosen
//! weeks are `views`, and zones, weeks, timestamps and the cache are `types`.

mod oracle;
mod types;
mod views;

use std::collections::BTreeSet;

use availability_core::tz::{IsoWeek, Tzdb, Zone};
use availability_core::{Batch, Day, Entry, Slot, Status, Week, SLOTS};
use jiff::tz::TimeZone;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng};

use oracle::{at, check, checked_zones, date, jiff_zone, seconds, wall_midnight};

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
