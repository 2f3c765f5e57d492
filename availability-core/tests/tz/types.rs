//! The types around views: zones by IANA name, ISO weeks, the current week, timestamps, the
//! plan cache, hostile input to each, and `chrono_tz` zones.

use std::sync::Arc;

use availability_core::tz::{self, IsoWeek, Plan, PlanCache, Zone};
use availability_core::{Day, Status};
use proptest::prelude::*;

use super::oracle::{date, wall_midnight};
use super::{hours, week, zone};

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
