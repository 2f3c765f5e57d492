//! The render cache under writes: what an insert costs, and what forgetting one calendar's
//! bodies costs, when the cache is full of other calendars' bodies. Every cached miss inserts
//! and every committed write forgets, each holding the lock that every cached read takes, so
//! neither cost should grow with the cache.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use availability_core::store::{Authority, Store};
use availability_core::tz::{IsoWeek, Zone};
use availability_server::cache::{Cache, Format, GroupKey, Key, Rendered};
use criterion::{criterion_group, criterion_main, Criterion};

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = Store::open(dir.path().join("bench.store")).expect("a store");
    let others: Vec<_> = (0..64)
        .map(|i| {
            store
                .create(
                    &format!("room-{i}"),
                    "UTC",
                    Vec::new(),
                    &Authority::Unchecked,
                )
                .expect("a calendar")
        })
        .collect();
    let written = store
        .create("written", "UTC", Vec::new(), &Authority::Unchecked)
        .expect("a calendar");
    let week = |n: u32| IsoWeek::new(2026, 1 + n % 52).expect("a week");
    let zones: Vec<Zone> = ["UTC", "Europe/Paris", "America/New_York", "Asia/Tokyo"]
        .iter()
        .map(|name| Zone::new(name).expect("a zone"))
        .collect();

    let mut group = c.benchmark_group("cache");
    for cached in [64usize, 4_095] {
        let cache = Cache::new(4_096, usize::MAX);
        for i in 0..cached {
            let key = Key {
                calendar: &others[i % others.len()],
                viewer: zones[i / others.len() % zones.len()],
                week: week((i / (others.len() * zones.len())) as u32),
                format: Format::Json,
            };
            cache.insert(Arc::new(Rendered::new(&key, b"{}".to_vec())));
        }
        assert_eq!(cache.len(), cached);
        let key = Key {
            calendar: &written,
            viewer: Zone::UTC,
            week: week(0),
            format: Format::Json,
        };
        // One body of the written calendar in (timed: an insert should not cost more in a
        // fuller cache), then the write forgets it (untimed).
        group.bench_function(format!("insert one beside {cached} others"), |b| {
            b.iter_custom(|iters| {
                let mut spent = Duration::ZERO;
                for _ in 0..iters {
                    let body = Arc::new(Rendered::new(&key, b"{}".to_vec()));
                    let start = Instant::now();
                    cache.insert(black_box(body));
                    spent += start.elapsed();
                    cache.forget("written");
                }
                spent
            })
        });
        // One body of the written calendar in (untimed), then the write forgets it (timed).
        group.bench_function(format!("forget one of {cached} others"), |b| {
            b.iter_custom(|iters| {
                let mut spent = Duration::ZERO;
                for _ in 0..iters {
                    cache.insert(Arc::new(Rendered::new(&key, b"{}".to_vec())));
                    let start = Instant::now();
                    cache.forget(black_box("written"));
                    spent += start.elapsed();
                }
                spent
            })
        });
    }

    // What the index costs a group answer: an uncached question about 100 calendars puts its
    // answer in (under each member) and, with the cache full, evicts an older one.
    let members: Vec<_> = others
        .iter()
        .chain(others.iter())
        .take(100)
        .cloned()
        .collect();
    let cache = Cache::new(1_024, usize::MAX);
    let mut n = 0u32;
    group.bench_function("insert a group answer of 100 into a full cache", |b| {
        b.iter(|| {
            n = n.wrapping_add(1);
            let key = GroupKey {
                group: None,
                members: &members,
                viewer: zones[(n % 4) as usize],
                week: week(n / 4 % 52),
                format: Format::Json,
                min: 1 + n / 208,
            };
            cache.insert(Arc::new(Rendered::for_group(&key, b"{}".to_vec())));
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
