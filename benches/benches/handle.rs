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

use availability_benches::office_batch;
use availability_server::app::{App, AppSettings};
use availability_server::auth::{Auth, AuthSettings};
use availability_server::limit::{Limits, Proxy, Rate, Rates};
use availability_server::routes;
use availability_server::store::{Change, Store};
use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion};
use http::{Request, StatusCode};
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
    store.create("load", "Europe/Paris").expect("the calendar");
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
}

criterion_group!(benches, bench);
criterion_main!(benches);
