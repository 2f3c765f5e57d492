//! Booking-type slots: every bookable start of one calendar over 31 days (weekdays 09:00-17:00
//! available, about 20 bookings, a 30-minute type with 10-minute buffers), with starts every
//! 30 and every 15 minutes, in Paris in May (no offset change) and in New York across the
//! March change; and the plain reference (every start checked alone) for scale.

use std::hint::black_box;

use availability_core::dated::{Claim, Dated};
use availability_core::slots::{self, BookingType, Offer, Owner};
use availability_core::tz::Zone;
use availability_core::{Batch, Day, Entry, Status, Week};
use criterion::{criterion_group, criterion_main, Criterion};

const DAY: i64 = 86_400;
/// Monday 2027-05-03 00:00 in Paris.
const PARIS_MONDAY: i64 = 1_809_295_200;
/// Monday 2027-03-01 00:00 in New York (clocks go forward on Sunday 2027-03-14).
const NEW_YORK_MONDAY: i64 = 1_803_877_200;

fn pattern() -> Week {
    let mut batch = Batch::new();
    for day in Day::WEEKDAYS {
        batch.push(Entry::range(
            day,
            "09:00".parse().expect("time"),
            "17:00".parse().expect("time"),
            Status::Available,
        ));
    }
    batch.apply(&Week::UNAVAILABLE).expect("pattern")
}

/// About 20 bookings over the 31 days from `monday`: 30 minutes, some off the half hour,
/// half of them of the type.
fn dated(zone: Zone, pattern: &Week, monday: i64) -> Dated {
    let mut dated = Dated::new();
    let mut made = 0;
    for i in 0..40i64 {
        if made == 20 {
            break;
        }
        let day = (i * 3) % 31;
        let minute = 9 * 60 + (i * 75) % (8 * 60 - 30);
        let offset = i64::from(zone.offset_at(monday + day * DAY).unwrap_or(0));
        let start = monday + day * DAY + minute * 60 - offset;
        let mut claim = Claim::new(start, start + 1800);
        if i % 2 == 0 {
            claim.booking_type = Some("call".into());
        }
        if dated.claim(zone, pattern, &claim, monday - DAY).is_ok() {
            made += 1;
        }
    }
    assert!(made >= 15, "{made} bookings");
    dated
}

fn bench(c: &mut Criterion) {
    let pattern = pattern();
    let mut group = c.benchmark_group("slots/31 days");
    for (zone, monday) in [
        ("Europe/Paris", PARIS_MONDAY),
        ("America/New_York", NEW_YORK_MONDAY),
    ] {
        let zone: Zone = zone.parse().expect("zone");
        let dated = dated(zone, &pattern, monday);
        let owner = Owner {
            pattern: &pattern,
            dated: &dated,
            zone,
        };
        for interval in [30, 15] {
            let mut rules = BookingType::new(30);
            rules.interval = interval;
            rules.buffer_before = 10;
            rules.buffer_after = 10;
            rules.per_day = Some(8);
            let offer = Offer {
                name: "call",
                rules: &rules,
                now: monday - DAY,
            };
            let (from, to) = (monday, monday + 31 * DAY);
            let found = slots::slots(&owner, &offer, from, to);
            assert_eq!(found, slots::reference(&owner, &offer, from, to));
            group.bench_function(
                format!("{zone}, interval {interval}: {} starts", found.len()),
                |b| {
                    b.iter(|| {
                        black_box(slots::slots(
                            black_box(&owner),
                            black_box(&offer),
                            black_box(from),
                            black_box(to),
                        ))
                    })
                },
            );
        }
    }
    group.finish();

    // A group of 100 over 7 days, each member with the office week and its bookings, a
    // 30-minute type on a UTC grid: any member of 100 in 20 zones (a round robin), and every
    // member (a meeting) of 100 in five European zones.
    let mut group = c.benchmark_group("slots/group of 100, 7 days");
    let zones = [
        "Europe/Paris",
        "America/New_York",
        "Asia/Kolkata",
        "Asia/Kathmandu",
        "Europe/London",
        "America/Los_Angeles",
        "Asia/Tokyo",
        "Australia/Sydney",
        "America/Sao_Paulo",
        "Africa/Nairobi",
        "Asia/Singapore",
        "Europe/Berlin",
        "America/Chicago",
        "Asia/Dubai",
        "Pacific/Auckland",
        "America/St_Johns",
        "Europe/Helsinki",
        "Asia/Shanghai",
        "America/Mexico_City",
        "Australia/Adelaide",
    ];
    let members: Vec<(Zone, Dated)> = (0..100)
        .map(|i| {
            let zone: Zone = zones[i % zones.len()].parse().expect("zone");
            (zone, dated(zone, &pattern, PARIS_MONDAY))
        })
        .collect();
    let owners: Vec<Owner<'_>> = members
        .iter()
        .map(|(zone, dated)| Owner {
            pattern: &pattern,
            dated,
            zone: *zone,
        })
        .collect();
    let rules = BookingType::new(30);
    let offer = Offer {
        name: "meet",
        rules: &rules,
        now: PARIS_MONDAY - DAY,
    };
    // A meeting of the same 100 in five European zones (whose office hours overlap), so that
    // the answer is not empty after a few members.
    let europe = [
        "Europe/Paris",
        "Europe/London",
        "Europe/Berlin",
        "Europe/Helsinki",
        "Europe/Lisbon",
    ];
    let near: Vec<(Zone, Dated)> = (0..100)
        .map(|i| {
            let zone: Zone = europe[i % europe.len()].parse().expect("zone");
            (zone, dated(zone, &pattern, PARIS_MONDAY))
        })
        .collect();
    let near: Vec<Owner<'_>> = near
        .iter()
        .map(|(zone, dated)| Owner {
            pattern: &pattern,
            dated,
            zone: *zone,
        })
        .collect();
    let utc: Zone = "UTC".parse().expect("zone");
    for (mode, owners) in [(slots::Mode::All, &near), (slots::Mode::Any, &owners)] {
        let found = slots::group_slots(
            owners,
            utc,
            &offer,
            mode,
            (PARIS_MONDAY, PARIS_MONDAY + 7 * DAY),
            &[],
        );
        group.bench_function(format!("{mode:?}: {} starts", found.len()), |b| {
            b.iter(|| {
                black_box(slots::group_slots(
                    black_box(owners),
                    utc,
                    black_box(&offer),
                    mode,
                    (PARIS_MONDAY, PARIS_MONDAY + 7 * DAY),
                    &[],
                ))
            })
        });
    }
    group.finish();

    let mut group = c.benchmark_group("slots/reference");
    group.sample_size(10);
    let zone: Zone = "Europe/Paris".parse().expect("zone");
    let dated = dated(zone, &pattern, PARIS_MONDAY);
    let owner = Owner {
        pattern: &pattern,
        dated: &dated,
        zone,
    };
    let mut rules = BookingType::new(30);
    rules.buffer_before = 10;
    rules.buffer_after = 10;
    let offer = Offer {
        name: "call",
        rules: &rules,
        now: PARIS_MONDAY - DAY,
    };
    group.bench_function("Europe/Paris, interval 30, each start checked alone", |b| {
        b.iter(|| {
            black_box(slots::reference(
                &owner,
                &offer,
                black_box(PARIS_MONDAY),
                PARIS_MONDAY + 31 * DAY,
            ))
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
