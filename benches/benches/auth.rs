//! The costs that decide whether keys and limits can be abused: refusing a malformed token
//! (before any lookup), accepting a token the memo remembers (no bcrypt), and one rate-limit
//! check. Targets: 1 us, 2 us and 200 ns.

use std::hint::black_box;
use std::net::IpAddr;
use std::time::Duration;

use availability_server::auth::{self, Auth, AuthSettings, Need};
use availability_server::limit::{Limit, Limits, Rate, Rates};
use availability_server::store::{Authority, KeyHash, Store};
use availability_server::wire::client::Proxy;
use criterion::{criterion_group, criterion_main, Criterion};

fn keys(c: &mut Criterion) {
    let key = auth::generate().expect("rng");
    let hash = auth::hash_blocking(&key.token, 4).expect("bcrypt");
    // One calendar with one key, in a real store.
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = Store::open(dir.path().join("auth.store")).expect("a new store");
    store
        .create(
            "team",
            "UTC",
            vec![KeyHash::new(key.id.clone(), hash).expect("a key hash")],
            &Authority::Unchecked,
        )
        .expect("the calendar");
    let auth = Auth::new(AuthSettings {
        cost: 4,
        memo_ttl: Duration::from_secs(3600),
        ..AuthSettings::default()
    })
    .expect("rng");
    auth.index_all(&store);

    // The worst malformed token: the right length and alphabet, one digit mistyped, so only
    // the checksum refuses it.
    let mut typo = key.token.clone().into_bytes();
    let last = typo.len() - 1;
    typo[last] = if typo[last] == b'0' { b'1' } else { b'0' };
    let typo = String::from_utf8(typo).expect("ascii");
    c.bench_function("auth/reject malformed token", |b| {
        b.iter(|| auth::key_id(black_box(&typo)).is_none())
    });
    c.bench_function("auth/reject malformed token via the memo path", |b| {
        b.iter(|| {
            auth.remembered(&store, black_box(&typo), Need::Calendar("team"))
                .is_none()
        })
    });

    // One real check (bcrypt on the blocking pool) puts the token in the memo.
    // With timers: a key check waits for a bcrypt slot for a bounded time.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime");
    let limits = Limits::new(Rates::default(), Proxy::default());
    let mut headers = http::HeaderMap::new();
    headers.insert(
        http::header::AUTHORIZATION,
        format!("Bearer {}", key.token).parse().expect("header"),
    );
    runtime
        .block_on(auth.check(
            &store,
            &limits,
            IpAddr::from([127, 0, 0, 1]),
            &headers,
            Need::Calendar("team"),
        ))
        .expect("the key verifies");
    assert!(auth
        .remembered(&store, &key.token, Need::Calendar("team"))
        .is_some());
    c.bench_function("auth/accept remembered token", |b| {
        b.iter(|| {
            auth.remembered(&store, black_box(&key.token), Need::Calendar("team"))
                .is_some()
        })
    });
}

fn limits(c: &mut Criterion) {
    let limit: Limit = Limit::new(
        "read",
        Rate {
            per_minute: u32::MAX,
            burst: 1000,
        },
        100_000,
    );
    let one = IpAddr::from([192, 0, 2, 1]);
    c.bench_function("limit/check one client", |b| {
        b.iter(|| limit.check(black_box(&one)).allowed)
    });
    let many: Vec<IpAddr> = (0..10_000u32)
        .map(|i| IpAddr::from(i.to_be_bytes()))
        .collect();
    let mut i = 0;
    c.bench_function("limit/check 10000 clients in turn", |b| {
        b.iter(|| {
            i = (i + 1) % many.len();
            limit.check(black_box(&many[i])).allowed
        })
    });
}

criterion_group!(benches, keys, limits);
criterion_main!(benches);
