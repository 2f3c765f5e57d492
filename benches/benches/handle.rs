//! What the server adds to a read on top of HTTP and TLS: `routes::handle` from a parsed
//! request to a response, in process, for the reads of the load benchmark. Each request is a
//! cache hit after the first, as under load; the load benchmark's floor pays none of this,
//! so this is the whole difference between the two per request.

use std::future::Future;
use std::hint::black_box;
use std::net::IpAddr;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use availability_benches::office_batch;
use availability_core::tz::IsoWeek;
use availability_server::app::{App, AppSettings};
use availability_server::auth::{Auth, AuthSettings};
use availability_server::cache::{Format, Key};
use availability_server::limit::{Limits, Rate, Rates};
use availability_server::routes;
use availability_server::store::{Authority, Change, Store};
use availability_server::wire::client::Proxy;
use availability_server::wire::query::{self, Query};
use availability_server::wire::response;
use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion};
use http::{HeaderMap, Request, StatusCode};
use http_body_util::Full;

/// Runs a handler that never waits (a read answered from memory) to its end.
fn now<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("a read waited"),
    }
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = Arc::new(Store::open(dir.path().join("handle.store")).expect("a new store"));
    store
        .create("load", "Europe/Paris", Vec::new(), &Authority::Unchecked)
        .expect("the calendar");
    store
        .commit("load", None, &Change::Replace(office_batch()))
        .expect("the week");
    // Limits as the load benchmark sets them: checked on every request, never reached.
    let lifted = Rate {
        per_minute: 1_000_000_000,
        burst: 1_000_000,
    };
    let limits = Limits::new(
        Rates {
            read: lifted,
            write: lifted,
            auth: lifted,
            ..Rates::default()
        },
        Proxy::default(),
    );
    let auth = Auth::new(AuthSettings::default()).expect("rng");
    let app = App::new(store, auth, limits, AppSettings::default());
    let peer = IpAddr::from([127, 0, 0, 1]);

    let reads = [
        ("week json", "/calendars/load/availability?tz=America/New_York&week=2026-W48", None),
        (
            "week json br",
            "/calendars/load/availability?tz=America/New_York&week=2026-W48",
            Some("gzip, deflate, br"),
        ),
        (
            "slot",
            "/calendars/load/availability/slot?tz=America/New_York&week=2026-W48&day=monday&time=09:00",
            None,
        ),
        ("csv", "/calendars/load/availability/csv?tz=America/New_York&week=2026-W48", None),
    ];
    let mut group = c.benchmark_group("handle");
    for (name, uri, accept) in reads {
        let request = || {
            let mut builder = Request::get(uri).header("host", "localhost");
            if let Some(accept) = accept {
                builder = builder.header("accept-encoding", accept);
            }
            builder.body(Full::new(Bytes::new())).expect("a request")
        };
        let response = now(routes::handle(&app, peer, request()));
        assert_eq!(response.status(), StatusCode::OK, "{name}");
        group.bench_function(name, |b| {
            b.iter_batched(
                request,
                |request| now(routes::handle(&app, black_box(peer), request)),
                criterion::BatchSize::SmallInput,
            )
        });
    }
    group.finish();

    // What the JSON week's answer is made of, part by part, in the order `handle` runs them:
    // what each microsecond of the figure above buys.
    let uri = "/calendars/load/availability?tz=America/New_York&week=2026-W48";
    let request = Request::get(uri)
        .header("host", "localhost")
        .body(())
        .expect("a request");
    let (parts, ()) = request.into_parts();
    let mut group = c.benchmark_group("handle/parts");
    group.bench_function("in-flight gauge and the latency metric", |b| {
        b.iter(|| {
            let started = Instant::now();
            let _in_flight = app.metrics.start();
            app.metrics
                .observe(black_box("availability"), 200, started.elapsed());
        })
    });
    group.bench_function("rate limit: charge the client", |b| {
        b.iter(|| app.limits.read.check(black_box(&peer)))
    });
    let verdict = app.limits.read.check(&peer);
    group.bench_function("rate limit: its two header fields", |b| {
        b.iter(|| {
            let mut headers = HeaderMap::with_capacity(8);
            verdict.write_headers(&mut headers);
            headers
        })
    });
    group.bench_function("query: parse, zone and week", |b| {
        b.iter(|| {
            let query = Query::parse(black_box(parts.uri.query()), &["tz", "week", "format"])
                .expect("a query");
            let zone = query::zone(query.get("tz").expect("tz")).expect("a zone");
            let week: IsoWeek = query.get("week").expect("week").parse().expect("a week");
            (zone, week)
        })
    });
    group.bench_function("the calendar's current state", |b| {
        b.iter(|| app.calendar(black_box("load")).expect("the calendar"))
    });
    let calendar = app.calendar("load").expect("the calendar");
    let key = Key {
        calendar: &calendar,
        viewer: "America/New_York".parse().expect("a zone"),
        week: "2026-W48".parse().expect("a week"),
        format: Format::Json,
    };
    group.bench_function("render cache lookup", |b| {
        b.iter(|| app.cache.get(black_box(&key)).expect("a hit"))
    });
    let rendered = app.cache.get(&key).expect("a hit");
    group.bench_function("the response: body handle and header fields", |b| {
        b.iter(|| response::read(black_box(&parts), &*rendered))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
