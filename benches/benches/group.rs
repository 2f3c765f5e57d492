//! Groups: "when is everyone free" over many calendars in many zones. Each member's week is
//! viewed from the viewer's zone through its (cached) plan and counted into a bit-sliced
//! [`Tally`]; the figure is the whole answer: plans looked up once per owner zone, every
//! member viewed and counted, then the per-slot counts and everyone's minimum read out.

use std::hint::black_box;

use availability_core::group::Tally;
use availability_core::tz::{IsoWeek, PlanCache, Zone};
use availability_core::{Slot, Status, Week, SLOTS};
use criterion::{criterion_group, criterion_main, Criterion};

/// Twenty owner zones, quarter-hour and DST zones among them.
const ZONES: [&str; 20] = [
    "UTC",
    "America/New_York",
    "America/Los_Angeles",
    "America/Vancouver",
    "America/Sao_Paulo",
    "Europe/London",
    "Europe/Berlin",
    "Europe/Chisinau",
    "Africa/Casablanca",
    "Africa/Lagos",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Asia/Shanghai",
    "Asia/Tokyo",
    "Australia/Sydney",
    "Australia/Eucla",
    "Australia/Lord_Howe",
    "Pacific/Auckland",
    "Pacific/Chatham",
    "America/St_Johns",
];

/// `n` members: a week each (office hours with noise), owners spread over the zones.
fn members(n: usize) -> Vec<(Zone, Week)> {
    let zones: Vec<Zone> = ZONES.iter().map(|z| z.parse().expect("zone")).collect();
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    (0..n)
        .map(|i| {
            let week = Week::from_fn(|slot: Slot| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let working = slot.index() % 48 >= 16 && slot.index() % 48 < 36;
                match (working, seed % 8) {
                    (true, 0) => Status::Maybe,
                    (true, 1) => Status::Unavailable,
                    (true, _) => Status::Available,
                    (false, 0) => Status::Maybe,
                    (false, _) => Status::Unavailable,
                }
            });
            (zones[i % zones.len()], week)
        })
        .collect()
}

/// The group's answer: per-slot counts and everyone's minimum in `viewer`'s `week`.
fn answer(
    members: &[(Zone, Week)],
    plans: &PlanCache,
    viewer: Zone,
    week: IsoWeek,
) -> ([u32; SLOTS], [u32; SLOTS], Week) {
    let mut tally = Tally::new();
    // Members arrive grouped by owner zone, as a group keeps them: one plan per zone.
    for chunk in members.chunk_by(|a, b| a.0 == b.0) {
        let plan = plans.get(chunk[0].0, viewer, week).expect("plan");
        for (_, member) in chunk {
            tally.add(&plan.apply(member));
        }
    }
    let (available, maybe) = tally.counts();
    (available, maybe, tally.everyone())
}

fn groups(c: &mut Criterion) {
    let viewer: Zone = "Europe/Berlin".parse().expect("zone");
    let week: IsoWeek = "2026-W48".parse().expect("week");
    let plans = PlanCache::default();
    let mut group = c.benchmark_group("group/answer");
    for n in [10usize, 100, 1000] {
        let mut members = members(n);
        members.sort_by_key(|(zone, _)| zone.name());
        let _ = answer(&members, &plans, viewer, week);
        group.bench_function(format!("{n} calendars, 20 owner zones"), |b| {
            b.iter(|| answer(black_box(&members), &plans, viewer, week))
        });
    }
    group.finish();

    // The counting alone, without the views.
    let weeks: Vec<Week> = members(1000).into_iter().map(|(_, w)| w).collect();
    c.bench_function("group/tally 1000 weeks", |b| {
        b.iter(|| {
            let mut tally = Tally::new();
            for week in black_box(&weeks) {
                tally.add(week);
            }
            tally.everyone()
        })
    });
}

criterion_group!(benches, groups);
criterion_main!(benches);
