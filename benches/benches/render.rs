//! Rendering a viewed week as the server sends it: JSON slots, exact intervals and CSV, and
//! compressing each once. Also prints each body's size plain, gzip and brotli, since the
//! size is what a client pays on every cache miss of its own.

use std::hint::black_box;

use availability_benches::office_week;
use availability_core::tz::{self, IsoWeek, Zone};
use availability_server::render::{self, Header};
use availability_server::wire::coding;
use criterion::{criterion_group, criterion_main, Criterion};

fn bench(c: &mut Criterion) {
    let week = office_week();
    let iso = IsoWeek::new(2026, 48).expect("a week");
    let new_york = Zone::new("America/New_York").expect("a zone");
    let list = tz::intervals(&week, new_york, new_york, iso).expect("the intervals");
    let header = Header {
        calendar: "meeting-room-4",
        timezone: new_york.name(),
        owner_timezone: new_york.name(),
        week: iso,
        version: 1234,
    };

    let bodies = [
        ("json", render::json(&header, &week)),
        ("intervals", render::intervals(&header, &list)),
        ("csv", render::csv(&week)),
    ];
    for (name, body) in &bodies {
        eprintln!(
            "render/{name}: {} bytes plain, {} gzip, {} br",
            body.len(),
            coding::gzip(body).len(),
            coding::brotli(body).len()
        );
    }

    let mut group = c.benchmark_group("render");
    group.bench_function("json", |b| {
        b.iter(|| render::json(black_box(&header), black_box(&week)))
    });
    group.bench_function("intervals", |b| {
        b.iter(|| render::intervals(black_box(&header), black_box(&list)))
    });
    group.bench_function("csv", |b| b.iter(|| render::csv(black_box(&week))));
    group.finish();

    let mut group = c.benchmark_group("compress");
    for (name, body) in &bodies {
        group.bench_function(format!("{name}/gzip"), |b| {
            b.iter(|| coding::gzip(black_box(body)))
        });
        group.bench_function(format!("{name}/br"), |b| {
            b.iter(|| coding::brotli(black_box(body)))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
