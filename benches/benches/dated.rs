//! Dated data: the effective week of an owner week with overrides and 20 bookings, a view
//! through a plan with dated data against the pattern-only view, a durable claim against a
//! bare one-page msync (interleaved, as in the store benchmark), 64 threads racing for one
//! slot, and a refused claim (a 409, naming the booking that holds the slot) on a calendar
//! holding 100 and 10,000 bookings.
//!
//! The durable benchmarks write to a temporary directory: point `TMPDIR` at the disk that
//! matters; on tmpfs they refuse to run.

use std::hint::black_box;
use std::sync::{Arc, Barrier};
use std::time::Instant;

use availability_core::dated::{Claim, Dated, DayOverride};
use availability_core::store::{Change, Store};
use availability_core::tz::{IsoWeek, Plan, Zone};
use availability_core::{Batch, Day, Entry, Status, Week};
use criterion::{criterion_group, criterion_main, Criterion};

#[path = "support/disk.rs"]
mod disk;
use disk::{map_one_page, on_a_disk};

/// Monday 2027-03-01 00:00 UTC.
const MONDAY: i64 = 1_803_772_800;

fn pattern() -> Week {
    let mut batch = Batch::new();
    for day in Day::WEEKDAYS {
        batch.push(Entry::range(
            day,
            "08:00".parse().expect("time"),
            "18:00".parse().expect("time"),
            Status::Available,
        ));
        batch.push(Entry::range(
            day,
            "12:00".parse().expect("time"),
            "13:00".parse().expect("time"),
            Status::Maybe,
        ));
    }
    batch.apply(&Week::UNAVAILABLE).expect("pattern")
}

/// Two overridden days and 20 bookings in the week of `MONDAY`, and a few in the next.
fn dated(zone: Zone, pattern: &Week) -> Dated {
    let mut dated = Dated::new();
    let week = IsoWeek::at(zone, MONDAY + 43_200).expect("week");
    dated
        .set_override(week.date(Day::Wednesday), DayOverride::UNAVAILABLE)
        .expect("override");
    dated
        .set_override(
            week.date(Day::Saturday),
            DayOverride::from_week_day(&Week::AVAILABLE, Day::Saturday),
        )
        .expect("override");
    let mut booked = 0;
    for day in [0i64, 1, 3, 4, 7, 8] {
        for hour in [8i64, 9, 10, 14, 15, 16] {
            if booked == 24 {
                break;
            }
            let start = MONDAY + day * 86_400 + hour * 3600
                - i64::from(zone.offset_at(MONDAY).unwrap_or(0));
            if dated
                .claim(
                    zone,
                    pattern,
                    &Claim::new(start, start + 1800),
                    MONDAY - 86_400,
                )
                .is_ok()
            {
                booked += 1;
            }
        }
    }
    dated
}

fn effective(c: &mut Criterion) {
    let zone: Zone = "Europe/Paris".parse().expect("zone");
    let pattern = pattern();
    let dated = dated(zone, &pattern);
    let week = IsoWeek::at(zone, MONDAY + 43_200).expect("week");
    let mut group = c.benchmark_group("dated/effective week");
    group.bench_function("pattern only (no dated data)", |b| {
        let empty = Dated::new();
        b.iter(|| black_box(empty.effective(black_box(&pattern), black_box(week))))
    });
    group.bench_function("2 overrides, 20 bookings", |b| {
        b.iter(|| black_box(dated.effective(black_box(&pattern), black_box(week))))
    });
    group.finish();
}

fn view(c: &mut Criterion) {
    let owner: Zone = "Europe/Paris".parse().expect("zone");
    let pattern = pattern();
    let dated = dated(owner, &pattern);
    let week = IsoWeek::at(owner, MONDAY + 43_200).expect("week");
    let mut group = c.benchmark_group("dated/view");
    for viewer in ["Europe/Paris", "America/New_York", "Asia/Kolkata"] {
        let plan = Plan::new(owner, viewer.parse().expect("zone"), week).expect("plan");
        group.bench_function(format!("{viewer}: pattern only"), |b| {
            b.iter(|| black_box(plan.apply(black_box(&pattern))))
        });
        group.bench_function(format!("{viewer}: with dated data"), |b| {
            b.iter(|| black_box(dated.view(black_box(&pattern), black_box(&plan))))
        });
    }
    group.finish();
}

fn all_available(store: &Store, id: &str) {
    let batch: Batch = Day::ALL
        .iter()
        .map(|&day| {
            Entry::range(
                day,
                "00:00".parse().expect("time"),
                "24:00".parse().expect("time"),
                Status::Available,
            )
        })
        .collect();
    store
        .commit(id, None, &Change::Replace(batch))
        .expect("pattern");
}

fn next_hour() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    now - now % 3600 + 3600
}

/// A durable claim against a bare one-page msync, interleaved so that both see the same disk
/// and load; prints the medians and their ratio. Each claim is cancelled (untimed) before the
/// next, so the calendar's dated data stays small, as for an uncontended booking.
fn durable(_: &mut Criterion) {
    let rounds: usize = std::env::var("DATED_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let dir = tempfile::tempdir().expect("temp dir");
    if !on_a_disk(dir.path(), "dated/durable") {
        return;
    }
    let mut map = map_one_page(dir.path());
    let store = Store::open(dir.path().join("store.avs")).expect("open");
    all_available(&store, "default");
    let t = next_hour() + 86_400;
    let (mut bare, mut claim) = (Vec::with_capacity(rounds), Vec::with_capacity(rounds));
    for round in 0..rounds {
        let start = Instant::now();
        map[100] = round as u8;
        map.flush_range(0, 4096).expect("flush");
        bare.push(start.elapsed());
        let span = t + (round as i64 % 1000) * 1800;
        let start = Instant::now();
        let (_, booking) = store
            .book("default", None, &Claim::new(span, span + 1800), None)
            .expect("book");
        claim.push(start.elapsed());
        store.cancel("default", None, booking.id()).expect("cancel");
    }
    bare.sort_unstable();
    claim.sort_unstable();
    let (bare, claim) = (bare[rounds / 2], claim[rounds / 2]);
    eprintln!(
        "dated/durable interleaved ({rounds} rounds): median bare msync {bare:?}, median \
         claim {claim:?}, claim / bare = {:.3}",
        claim.as_secs_f64() / bare.as_secs_f64()
    );
}

/// 64 threads racing for one slot, ten times over: one winner each time; the total time from
/// the start line to the last answer, median of the rounds.
fn race(_: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    if !on_a_disk(dir.path(), "dated/durable") {
        return;
    }
    let store = Arc::new(Store::open(dir.path().join("store.avs")).expect("open"));
    all_available(&store, "default");
    let t = next_hour() + 2 * 86_400;
    let mut times = Vec::new();
    for round in 0..10i64 {
        let threads = 64;
        let barrier = Arc::new(Barrier::new(threads + 1));
        let span = t + round * 1800;
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let (store, barrier) = (Arc::clone(&store), Arc::clone(&barrier));
                std::thread::spawn(move || {
                    barrier.wait();
                    store
                        .book("default", None, &Claim::new(span, span + 1800), None)
                        .is_ok()
                })
            })
            .collect();
        barrier.wait();
        let start = Instant::now();
        let winners = handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .filter(|&won| won)
            .count();
        times.push(start.elapsed());
        assert_eq!(winners, 1, "one winner");
    }
    times.sort_unstable();
    eprintln!(
        "dated/race: 64 threads for one slot, one winner each of 10 rounds; median total \
         {:?} (fastest {:?}, slowest {:?})",
        times[times.len() / 2],
        times[0],
        times[times.len() - 1]
    );
}

/// A refused claim names the booking holding the slot: its cost should not grow with the
/// bookings the calendar holds.
fn refused(c: &mut Criterion) {
    let zone: Zone = "Europe/Paris".parse().expect("zone");
    let mut group = c.benchmark_group("dated/refused claim");
    for held in [100i64, 10_000] {
        let mut dated = Dated::new();
        for i in 0..held {
            let start = MONDAY + i * 1800;
            dated
                .claim(
                    zone,
                    &Week::AVAILABLE,
                    &Claim::new(start, start + 1800),
                    MONDAY,
                )
                .expect("a free half hour");
        }
        let taken = MONDAY + held / 2 * 1800;
        let refused = dated
            .claim(
                zone,
                &Week::AVAILABLE,
                &Claim::new(taken, taken + 1800),
                MONDAY,
            )
            .expect_err("a taken half hour");
        assert!(
            refused
                .conflict_details()
                .and_then(|c| c.booking())
                .is_some(),
            "the holder is named"
        );
        group.bench_function(format!("{held} bookings held"), |b| {
            b.iter(|| {
                black_box(dated.claim(
                    zone,
                    &Week::AVAILABLE,
                    black_box(&Claim::new(taken, taken + 1800)),
                    MONDAY,
                ))
            })
        });
    }
    group.finish();
}

criterion_group!(benches, effective, view, durable, race, refused);
criterion_main!(benches);
