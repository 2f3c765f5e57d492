//! The store: lock-free reads among many calendars, durable commits against a bare one-page
//! msync, and commit throughput with 1 and 8 writers.
//!
//! The durable benchmarks write to a temporary directory: point `TMPDIR` at the disk that
//! matters. On a file system held in memory (tmpfs, ramfs) every flush is free and the
//! comparison meaningless, so they refuse to run there and say so.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use availability_core::store::{Authority, Change, Store};
use availability_core::{Batch, Day, Entry, Status, Time};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

#[path = "support/disk.rs"]
mod disk;
use disk::{map_one_page, on_a_disk};

/// A 100-entry batch: one-slot entries spread over the week, statuses cycling.
fn batch_of_100(round: u64) -> Batch {
    (0..100u64)
        .map(|i| {
            let slot = ((i * 7 + round) % 336) as usize;
            let time: Time = format!("{:02}:{:02}", (slot % 48) / 2, (slot % 2) * 30)
                .parse()
                .expect("time");
            Entry::slot(
                Day::ALL[slot / 48],
                time,
                Status::ALL[((i + round) % 3) as usize],
            )
        })
        .collect()
}

/// Calendars in the store that `get` is measured on: a lookup among many, as a server holds.
const CALENDARS: usize = 10_000;

fn reads(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(dir.path().join("store.avs")).expect("open");
    for i in 1..CALENDARS {
        store
            .create(
                &format!("calendar-{i}"),
                "UTC",
                Vec::new(),
                &Authority::Unchecked,
            )
            .expect("create");
    }
    let ids: Vec<String> = (1..CALENDARS)
        .step_by(97)
        .map(|i| format!("calendar-{i}"))
        .collect();
    let mut group = c.benchmark_group("store/read");
    let mut next = 0;
    group.bench_function(format!("get ({CALENDARS} calendars)"), |b| {
        b.iter(|| {
            next = (next + 1) % ids.len();
            black_box(store.get(black_box(&ids[next])))
        })
    });
    group.finish();
}

fn durable(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    if !on_a_disk(dir.path(), "store/durable") {
        return;
    }
    let mut group = c.benchmark_group("store/durable");
    group
        .sample_size(50)
        .measurement_time(Duration::from_secs(8));

    let mut map = map_one_page(dir.path());
    let mut n = 0u8;
    group.bench_function("bare msync of one dirty page", |b| {
        b.iter(|| {
            n = n.wrapping_add(1);
            map[100] = n;
            map.flush_range(0, 4096).expect("flush");
        })
    });

    let store = Store::open(dir.path().join("store.avs")).expect("open");
    let batches: Vec<Change> = (0..16).map(|r| Change::Apply(batch_of_100(r))).collect();
    let mut round = 0;
    group.bench_function("commit of a 100-entry batch", |b| {
        b.iter(|| {
            round = (round + 1) % batches.len();
            black_box(
                store
                    .commit("default", None, &batches[round])
                    .expect("commit"),
            )
        })
    });
    group.finish();
}

/// The same comparison, interleaved: one bare flush, one commit, and again, each timed alone,
/// so that both see the same disk and the same load from other processes. Prints the medians
/// and their ratio (criterion runs the two benchmarks above minutes apart, and a shared
/// disk's flush latency drifts by more than the difference being measured).
fn interleaved(_: &mut Criterion) {
    let rounds: usize = std::env::var("STORE_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let dir = tempfile::tempdir().expect("temp dir");
    if !on_a_disk(dir.path(), "store/durable") {
        return;
    }
    let mut map = map_one_page(dir.path());
    let store = Store::open(dir.path().join("store.avs")).expect("open");
    let batches: Vec<Change> = (0..16).map(|r| Change::Apply(batch_of_100(r))).collect();
    let (mut bare, mut commit) = (Vec::with_capacity(rounds), Vec::with_capacity(rounds));
    for round in 0..rounds {
        let start = Instant::now();
        map[100] = round as u8;
        map.flush_range(0, 4096).expect("flush");
        bare.push(start.elapsed());
        let start = Instant::now();
        black_box(
            store
                .commit("default", None, &batches[round % batches.len()])
                .expect("commit"),
        );
        commit.push(start.elapsed());
    }
    bare.sort_unstable();
    commit.sort_unstable();
    let (bare, commit) = (bare[rounds / 2], commit[rounds / 2]);
    eprintln!(
        "store/durable interleaved ({rounds} rounds): median bare msync {bare:?}, median \
         commit {commit:?}, commit / bare = {:.3}",
        commit.as_secs_f64() / bare.as_secs_f64()
    );
}

fn throughput(c: &mut Criterion) {
    let mut group = c.benchmark_group("store/throughput");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(8));
    group.throughput(Throughput::Elements(1));
    for writers in [1usize, 8] {
        let dir = tempfile::tempdir().expect("temp dir");
        if !on_a_disk(dir.path(), "store/durable") {
            return;
        }
        let store = Arc::new(Store::open(dir.path().join("store.avs")).expect("open"));
        for w in 0..writers {
            store
                .create(&format!("w{w}"), "UTC", Vec::new(), &Authority::Unchecked)
                .expect("create");
        }
        let change = Change::Apply(batch_of_100(1));
        group.bench_function(format!("commits, {writers} writers"), |b| {
            b.iter_custom(|iters| {
                let per_writer = iters.div_ceil(writers as u64);
                let start = Instant::now();
                std::thread::scope(|scope| {
                    for w in 0..writers {
                        let (store, change) = (&store, &change);
                        scope.spawn(move || {
                            let id = format!("w{w}");
                            for _ in 0..per_writer {
                                store.commit(&id, None, change).expect("commit");
                            }
                        });
                    }
                });
                // Time per commit, whichever writer made it.
                start
                    .elapsed()
                    .mul_f64(iters as f64 / (per_writer * writers as u64) as f64)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, reads, durable, interleaved, throughput);
criterion_main!(benches);
