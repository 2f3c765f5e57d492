//! The grid takes the fast path where a zone keeps its offset, and hostile ranges and rules
//! end quickly without a panic. Exactness is the property tests' (`tests/slots_oracle.rs`).

use alloc::vec::Vec;

use super::grid::{DayStarts, Grid};
use super::*;

/// Monday 2027-05-03 00:00 in Paris.
const PARIS_MONDAY: i64 = 1_809_295_200;
/// Monday 2027-03-01 00:00 in New York (clocks go forward on Sunday 2027-03-14).
const NEW_YORK_MONDAY: i64 = 1_803_877_200;

fn regular(grid: &Grid) -> Vec<bool> {
    grid.days
        .iter()
        .map(|d| matches!(d.starts, DayStarts::Regular { .. }))
        .collect()
}

#[test]
fn a_zone_without_changes_takes_only_the_fast_path() {
    let paris: Zone = "Europe/Paris".parse().expect("zone");
    let grid = Grid::new(paris, 30, PARIS_MONDAY, PARIS_MONDAY + 31 * DAY);
    assert_eq!(grid.days.len(), 31);
    assert!(regular(&grid).iter().all(|&r| r));
    let kathmandu: Zone = "Asia/Kathmandu".parse().expect("zone");
    let grid = Grid::new(kathmandu, 7, PARIS_MONDAY, PARIS_MONDAY + 62 * DAY);
    assert!(regular(&grid).iter().all(|&r| r));
}

#[test]
fn only_the_dates_around_a_change_are_listed() {
    let new_york: Zone = "America/New_York".parse().expect("zone");
    let grid = Grid::new(new_york, 30, NEW_YORK_MONDAY, NEW_YORK_MONDAY + 31 * DAY);
    let listed: Vec<i64> = grid
        .days
        .iter()
        .filter(|d| matches!(d.starts, DayStarts::Listed(_)))
        .map(|d| d.date - grid.days[0].date)
        .collect();
    // 2027-03-14: the change at 02:00 is within a day of the 13th's and the 15th's midnights.
    assert!(listed.contains(&13), "{listed:?}");
    assert!(listed.len() <= 3, "{listed:?}");
    // The gap: 02:00 and 02:30 are no start on the 14th, so 46 starts.
    let day = grid.days.iter().find(|d| d.date - grid.days[0].date == 13);
    assert_eq!(day.map(|d| d.len()), Some(46));
}

#[test]
fn hostile_ranges_and_rules_answer_quickly_without_panic() {
    let zone: Zone = "America/New_York".parse().expect("zone");
    let pattern = Week::AVAILABLE;
    let dated = Dated::new();
    let owner = Owner {
        pattern: &pattern,
        dated: &dated,
        zone,
    };
    let mut rules = BookingType::new(30);
    rules.buffer_before = 5;
    rules.per_day = Some(1);
    let extremes = [
        i64::MIN,
        -FURTHEST - 1,
        -1,
        0,
        NEW_YORK_MONDAY,
        FURTHEST + 1,
        i64::MAX,
    ];
    for &now in &extremes {
        for &from in &extremes {
            for &to in &extremes {
                let offer = Offer {
                    name: "call",
                    rules: &rules,
                    now,
                };
                let found = slots(&owner, &offer, from, to);
                assert!(found.len() <= 730 * 48, "{now} {from} {to}");
                assert!(found.iter().all(|t| (from..to).contains(t)));
            }
        }
    }
    // The longest range the rules allow: two years of 5-minute starts.
    rules.interval = 5;
    rules.horizon = 730;
    let offer = Offer {
        name: "call",
        rules: &rules,
        now: NEW_YORK_MONDAY,
    };
    let found = slots(&owner, &offer, i64::MIN, i64::MAX);
    assert!(found.len() > 700 * 288 && found.len() <= 731 * 288);
    assert!(found.windows(2).all(|w| w[0] < w[1]));
    // Rules out of range offer nothing (an interval of 0 would never end a walk).
    for broken in [
        BookingType {
            interval: 0,
            ..BookingType::new(30)
        },
        BookingType::new(0),
        BookingType::new(u32::MAX),
        BookingType {
            horizon: u32::MAX,
            ..BookingType::new(30)
        },
    ] {
        let offer = Offer {
            name: "call",
            rules: &broken,
            now: NEW_YORK_MONDAY,
        };
        assert!(slots(&owner, &offer, NEW_YORK_MONDAY, NEW_YORK_MONDAY + DAY).is_empty());
    }
    // `from > to`.
    let offer = Offer {
        name: "call",
        rules: &BookingType::new(30),
        now: 0,
    };
    assert!(slots(&owner, &offer, NEW_YORK_MONDAY + DAY, NEW_YORK_MONDAY).is_empty());
}

/// A calendar on another zone's grid (as a group member will be): each start by its own
/// owner date's planes, or exactly near its zone's change, as a claim would decide.
#[test]
fn marks_on_another_zones_grid_are_what_a_claim_decides() {
    use super::take::{take, Span};
    use crate::dated::Claim;

    let owner_zone: Zone = "America/New_York".parse().expect("zone");
    let pattern = Week::from_fn(|slot| {
        if slot.day().index() < 5 && (18..34).contains(&slot.half_hour()) {
            crate::Status::Available
        } else {
            crate::Status::Unavailable
        }
    });
    let mut dated = Dated::new();
    for (day, minute) in [(9, 600), (13, 555), (14, 720), (15, 545), (17, 900)] {
        let start = NEW_YORK_MONDAY + day * DAY + minute * MINUTE;
        let _ = dated.claim(
            owner_zone,
            &pattern,
            &Claim::new(start, start + 40 * MINUTE),
            0,
        );
    }
    let owner = Owner {
        pattern: &pattern,
        dated: &dated,
        zone: owner_zone,
    };
    // Grids whose dates each cover the end of one owner date and the start of the next, on the
    // half hour (one bit per half hour) and off it.
    for (grid_zone, interval, duration) in [
        ("Asia/Kathmandu", 15, 45),
        ("Europe/London", 20, 95),
        ("Asia/Tokyo", 30, 60),
        ("Pacific/Auckland", 30, 30),
        ("Asia/Kolkata", 30, 90),
        ("Australia/Adelaide", 10, 30),
    ] {
        let grid_zone: Zone = grid_zone.parse().expect("zone");
        let grid = Grid::new(
            grid_zone,
            interval,
            NEW_YORK_MONDAY,
            NEW_YORK_MONDAY + 28 * DAY,
        );
        let span = Span {
            duration: duration * MINUTE,
            before: 0,
            after: 0,
        };
        let marks = take(&owner, span, &grid);
        let mut taken = 0;
        for day in &grid.days {
            let marked: Vec<usize> = marks.ones(day).collect();
            for j in 0..day.len() {
                let t = grid.instant(day, j);
                let claim = Claim::new(t, t + span.duration);
                let fits = dated.check_claim(owner_zone, &pattern, &claim).is_ok();
                assert_eq!(marked.contains(&j), fits, "{grid_zone} {t}");
                taken += usize::from(fits);
            }
        }
        assert!(taken > 100, "{taken}");
    }
}
