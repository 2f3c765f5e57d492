//! Time-zone views: building a plan, applying it, and the exact intervals of a week.

use std::hint::black_box;

use availability_benches::office_week;
use availability_core::tz::{IsoWeek, Plan, PlanCache, Zone};
use criterion::{criterion_group, criterion_main, Criterion};

fn zone(name: &str) -> Zone {
    name.parse().expect("zone")
}

fn week(name: &str) -> IsoWeek {
    name.parse().expect("week")
}

/// The views measured: a plain rotation, a quarter-hour offset (two rotations), and weeks in
/// which the viewer's or the owner's zone changes offset.
fn views() -> [(&'static str, Zone, Zone, IsoWeek); 4] {
    [
        (
            "one rotation",
            zone("America/New_York"),
            zone("Europe/Berlin"),
            week("2026-W48"),
        ),
        (
            "quarter hour",
            Zone::UTC,
            zone("Asia/Kathmandu"),
            week("2026-W48"),
        ),
        (
            "DST week (viewer fall-back)",
            Zone::UTC,
            zone("America/New_York"),
            week("2026-W44"),
        ),
        (
            "DST week (owner spring-forward)",
            zone("Europe/Berlin"),
            zone("America/New_York"),
            week("2026-W13"),
        ),
    ]
}

fn build(c: &mut Criterion) {
    let mut group = c.benchmark_group("tz/plan build");
    for (name, owner, viewer, week) in views() {
        group.bench_function(name, |b| {
            b.iter(|| Plan::new(black_box(owner), black_box(viewer), black_box(week)))
        });
    }
    group.finish();
}

fn apply(c: &mut Criterion) {
    let stored = office_week();
    let mut group = c.benchmark_group("tz/plan apply");
    for (name, owner, viewer, week) in views() {
        let plan = Plan::new(owner, viewer, week).expect("plan");
        group.bench_function(name, |b| b.iter(|| plan.apply(black_box(&stored))));
    }
    group.finish();

    // A hot view through the cache: lock, lookup, `Arc` clone, apply.
    let cache = PlanCache::default();
    let (_, owner, viewer, week) = views()[0];
    let _ = cache.get(owner, viewer, week).expect("plan");
    c.bench_function("tz/cached view (one rotation)", |b| {
        b.iter(|| {
            let plan = cache
                .get(black_box(owner), black_box(viewer), black_box(week))
                .expect("plan");
            plan.apply(black_box(&stored))
        })
    });
}

fn intervals(c: &mut Criterion) {
    let stored = office_week();
    let mut group = c.benchmark_group("tz/intervals");
    for (name, owner, viewer, week) in views() {
        let plan = Plan::new(owner, viewer, week).expect("plan");
        group.bench_function(name, |b| b.iter(|| plan.intervals(black_box(&stored))));
    }
    group.finish();
}

criterion_group!(benches, build, apply, intervals);
criterion_main!(benches);
