//! Rendering a viewed week as the server sends it: JSON slots, exact intervals and CSV, and
//! compressing each once. Also prints each body's size plain, gzip and brotli, since the
//! size is what a client pays on every cache miss of its own.

use std::hint::black_box;

use availability_benches::office_week;
use availability_core::{Status, Week};
use availability_server::cache;
use availability_server::render::{self, Header};
use availability_server::state::{Interval, IsoWeek};
use criterion::{criterion_group, criterion_main, Criterion};

fn iso_week() -> IsoWeek {
    IsoWeek {
        label: "2026-W48".into(),
        dates: [
            "2026-11-23",
            "2026-11-24",
            "2026-11-25",
            "2026-11-26",
            "2026-11-27",
            "2026-11-28",
            "2026-11-29",
        ]
        .map(String::from),
    }
}

/// The week's intervals as a same-zone view in New York's winter offset would give them.
fn intervals(week: &Week, iso: &IsoWeek) -> Vec<Interval> {
    let stamp = |slot: usize| {
        let day = iso
            .dates
            .get(slot / 48)
            .map_or("2026-11-30", String::as_str);
        let minutes = (slot % 48) * 30;
        format!("{day}T{:02}:{:02}:00-05:00", minutes / 60, minutes % 60)
    };
    week.runs()
        .filter(|r| r.status() != Status::Unavailable)
        .map(|r| Interval {
            start: stamp(r.start_index()),
            end: stamp(r.end_index()),
            status: r.status(),
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let week = office_week();
    let iso = iso_week();
    let list = intervals(&week, &iso);
    let header = Header {
        calendar: "meeting-room-4",
        timezone: "America/New_York",
        owner_timezone: "America/New_York",
        week: &iso,
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
            cache::gzip(body).len(),
            cache::brotli(body).len()
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
            b.iter(|| cache::gzip(black_box(body)))
        });
        group.bench_function(format!("{name}/br"), |b| {
            b.iter(|| cache::brotli(black_box(body)))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
