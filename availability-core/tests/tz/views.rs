//! Views on chosen weeks, where the rule's consequences show: a view from the owner's own zone,
//! quarter-hour offsets, a change in mid-week, Lord Howe's half-hour changes, and the single
//! rotation of an ordinary week.

use availability_core::tz::{Plan, Zone};
use availability_core::{Batch, Day, Entry, Slot, Status, Week, SLOTS};
use proptest::test_runner::{RngAlgorithm, TestRng};

use super::oracle::{checked_zones, oracle, ours};
use super::{change_weeks, hours, random_week, slot, week, zone};

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
