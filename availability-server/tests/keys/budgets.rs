//! Write budgets: writes are charged apart from reads, to the client or to a verified key, and
//! behind a trusted proxy the client is the address the proxy names.

use availability_server::auth;
use http::{Method, StatusCode, Version};

use super::BATCH;
use crate::support::{Client, TestServer, JSON};

/// A write without a key (or with one not yet verified) is charged to its client's write
/// budget, apart from reads; every answer announces the budget.
#[tokio::test]
async fn writes_have_their_own_budget_and_answers_announce_it() {
    let server = TestServer::start_tweaked(|config| {
        config.rates.write = availability_server::limit::Rate {
            per_minute: 60,
            burst: 3,
        };
    })
    .await;
    let c = server.client(Version::HTTP_11);
    let keyless = |c: Client| async move {
        c.call(Method::PATCH, "/availability", None, &[JSON], BATCH)
            .await
    };
    for remaining in [2, 1, 0] {
        let r = keyless(c.clone()).await;
        r.problem(StatusCode::UNAUTHORIZED);
        assert_eq!(r.header("ratelimit-policy"), Some("\"write\";q=3;w=3"));
        let state = r.header("ratelimit").unwrap();
        assert!(
            state.starts_with(&format!("\"write\";r={remaining};t=")),
            "{state}"
        );
    }
    let r = keyless(c.clone()).await;
    let detail = r.problem(StatusCode::TOO_MANY_REQUESTS);
    assert!(detail.contains("write"), "{detail}");
    assert_eq!(r.header("retry-after"), Some("1"));
    // Reads are charged to their own budget.
    let r = c.get("/availability?week=2026-W48").await;
    assert_eq!(r.status, StatusCode::OK);
    // A client elsewhere has a full write budget.
    let r = keyless(server.client(Version::HTTP_2).from("127.0.0.4")).await;
    r.problem(StatusCode::UNAUTHORIZED);
}

/// Writes with a verified key are charged to the key, at its scope's rate, not to the
/// address: an admin loading many calendars from one host is not held to what one address
/// may write, and a calendar key has its own budget. The first write of a key (not yet
/// verified), and writes without a key, are charged to the address. (Before, every write was
/// charged to the address: the admin was refused at the fourth.)
#[tokio::test]
async fn a_verified_key_writes_on_its_own_budget() {
    let server = TestServer::start_tweaked(|config| {
        // Budgets that refill far slower than the test runs.
        config.rates.write = availability_server::limit::Rate {
            per_minute: 1,
            burst: 3,
        };
        config.rates.key_write = availability_server::limit::Rate {
            per_minute: 1,
            burst: 5,
        };
    })
    .await;
    let c = server.client(Version::HTTP_2);
    // Creating the calendar verifies the admin key: charged to the address.
    let key = server.create_calendar("bulk", "UTC").await;
    for i in 0..40 {
        let r = c
            .json(
                Method::PATCH,
                "/calendars/bulk/availability",
                &server.admin,
                BATCH,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "admin write {i}: {}", r.text());
        assert_eq!(r.header("ratelimit-policy"), Some("\"admin\";q=300;w=3"));
    }
    // The calendar key: its first write is charged to the address, then five to the key.
    let write = || c.json(Method::PATCH, "/calendars/bulk/availability", &key, BATCH);
    let first = write().await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text());
    assert_eq!(
        first.header("ratelimit-policy"),
        Some("\"write\";q=3;w=180")
    );
    for i in 0..5 {
        let r = write().await;
        assert_eq!(r.status, StatusCode::OK, "key write {i}: {}", r.text());
        assert_eq!(r.header("ratelimit-policy"), Some("\"key\";q=5;w=300"));
    }
    let detail = write().await.problem(StatusCode::TOO_MANY_REQUESTS);
    assert!(detail.contains("with this key"), "{detail}");
    // The admin key is not held by the calendar key's budget, nor by the address's.
    let r = c
        .json(
            Method::PATCH,
            "/calendars/bulk/availability",
            &server.admin,
            BATCH,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    // A wrong key from the same address is charged to the address: one left, then 429.
    let wrong = auth::assemble(auth::key_id(&key).unwrap(), &[7; 20]);
    let w = c
        .json(Method::PATCH, "/calendars/bulk/availability", &wrong, BATCH)
        .await;
    w.problem(StatusCode::UNAUTHORIZED);
    let w = c
        .json(Method::PATCH, "/calendars/bulk/availability", &wrong, BATCH)
        .await;
    let detail = w.problem(StatusCode::TOO_MANY_REQUESTS);
    assert!(detail.contains("from this client"), "{detail}");
    assert_eq!(w.header("ratelimit-policy"), Some("\"write\";q=3;w=180"));
}

/// Behind a trusted proxy, the client is the address the proxy names: two clients behind
/// one proxy have two budgets, and a client cannot pick its own address.
#[tokio::test]
async fn a_trusted_proxy_names_the_client() {
    let server = TestServer::start_tweaked(|config| {
        config.client_ip_header = Some(http::HeaderName::from_static("x-forwarded-for"));
        config.rates.write = availability_server::limit::Rate {
            per_minute: 1,
            burst: 1,
        };
    })
    .await;
    let c = server.client(Version::HTTP_11);
    assert_eq!(
        keyless_write(c.clone(), "x-forwarded-for", "198.51.100.1").await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        keyless_write(c.clone(), "x-forwarded-for", "198.51.100.1").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        keyless_write(c.clone(), "x-forwarded-for", "10.0.0.1, 198.51.100.2").await,
        StatusCode::UNAUTHORIZED
    );
    // 127.0.0.5 is not a trusted proxy: its header is ignored, and it is one client.
    let untrusted = c.clone().from("127.0.0.5");
    assert_eq!(
        keyless_write(untrusted.clone(), "x-forwarded-for", "203.0.113.1").await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        keyless_write(untrusted, "x-forwarded-for", "203.0.113.2").await,
        StatusCode::TOO_MANY_REQUESTS
    );
}

/// A write without a key, with `header: value`: its status (401, or 429 when the client's
/// write budget is spent).
async fn keyless_write(client: Client, header: &'static str, value: &str) -> StatusCode {
    let headers = [JSON, (header, value)];
    client
        .call(Method::PATCH, "/availability", None, &headers, BATCH)
        .await
        .status
}

/// Proxies trusted as a range; `X-Forwarded-For` elements with ports and brackets, and
/// `Forwarded` (RFC 7239), name the client; a hop that names no one is charged to the proxy
/// that wrote it. (Before, `ip:port` and `[v6]:port` fell back to the proxy's address, which
/// put every client behind it in one budget.)
#[tokio::test]
async fn proxy_ranges_and_forwarded_forms_name_the_client() {
    for header in ["x-forwarded-for", "forwarded"] {
        let server = TestServer::start_tweaked(|config| {
            config.client_ip_header = Some(http::HeaderName::from_static(header));
            config.trusted_proxies = vec!["127.0.0.0/8".parse().unwrap()];
            config.rates.write = availability_server::limit::Rate {
                per_minute: 1,
                burst: 1,
            };
        })
        .await;
        let proxy = server.client(Version::HTTP_11).from("127.0.0.7");
        let form = |xff: &str, fwd: &str| {
            if header == "forwarded" {
                fwd.to_owned()
            } else {
                xff.to_owned()
            }
        };
        let pairs = [
            (
                form("198.51.100.1:4711", "for=\"198.51.100.1:4711\";proto=https"),
                form("198.51.100.1:5000", "for=198.51.100.1"),
            ),
            (
                form("[2001:db8::1]:443", "for=\"[2001:db8::1]:443\""),
                form("2001:db8::2", "for=\"[2001:db8::2]\""),
            ),
            (
                form(
                    "6.6.6.6, 198.51.100.3, 127.0.0.9",
                    "for=6.6.6.6, for=198.51.100.3, for=127.0.0.9",
                ),
                form("198.51.100.3", "for=198.51.100.3"),
            ),
            (
                form("unknown", "for=unknown"),
                form("garbage", "for=_hidden"),
            ),
        ];
        for (first, second) in pairs {
            assert_eq!(
                keyless_write(proxy.clone(), header, &first).await,
                StatusCode::UNAUTHORIZED,
                "{header}: {first}"
            );
            assert_eq!(
                keyless_write(proxy.clone(), header, &second).await,
                StatusCode::TOO_MANY_REQUESTS,
                "{header}: {second} is the same client as {first}"
            );
        }
    }
}
