//! Keys and abuse resistance over real TLS: every way a key can be wrong, rotation and
//! revocation taking effect at once, the memo sparing bcrypt, per-client and per-key-id limits
//! that stop a flood of wrong keys before bcrypt while other clients go on being served, a
//! bounded wait for bcrypt, write budgets per verified key, and clients behind proxies.

use std::sync::atomic::Ordering;

use availability_server::auth;
use http::{Method, StatusCode, Version};

use crate::support::{files, Client, TestServer, JSON, VERSIONS};

const BATCH: &str = r#"{"updates":[{"day":"monday","time":"09:00","status":"available"}]}"#;

fn runs(server: &TestServer) -> u64 {
    server.app.auth.bcrypt_runs.load(Ordering::SeqCst)
}

#[tokio::test]
async fn every_kind_of_key_gets_its_answer() {
    let server = TestServer::start().await;
    let key_a = server.create_calendar("a", "UTC").await;
    let key_b = server.create_calendar("b", "UTC").await;
    let mut tokens = vec![server.admin.clone(), key_a.clone(), key_b.clone()];
    for version in VERSIONS {
        let c = server.client(version);
        let patch = |path: &'static str, key: String| {
            let c = c.clone();
            async move { c.json(Method::PATCH, path, &key, BATCH).await }
        };

        // No key.
        let path = "/calendars/a/availability";
        let none = c.call(Method::PATCH, path, None, &[JSON], BATCH).await;
        let detail = none.asks_for_a_key();
        assert!(detail.contains("needs a key"), "{detail}");

        // Malformed: a wrong shape, and one mistyped digit (the checksum catches it). Neither
        // reaches bcrypt.
        let before = runs(&server);
        let r = patch("/calendars/a/availability", "avk_nonsense".into()).await;
        let detail = r.problem(StatusCode::UNAUTHORIZED);
        assert!(detail.contains("malformed"), "{detail}");
        let mut typo = key_a.clone().into_bytes();
        let last = typo.len() - 1;
        typo[last] = if typo[last] == b'0' { b'1' } else { b'0' };
        let r = patch(
            "/calendars/a/availability",
            String::from_utf8(typo).unwrap(),
        )
        .await;
        let detail = r.problem(StatusCode::UNAUTHORIZED);
        assert!(detail.contains("checksum"), "{detail}");
        let unknown = auth::assemble("000000000000", &[0; 20]);
        let detail = patch("/calendars/a/availability", unknown)
            .await
            .problem(StatusCode::UNAUTHORIZED);
        assert!(detail.contains("no such key"), "{detail}");
        assert_eq!(
            runs(&server),
            before,
            "no bcrypt for malformed or unknown keys"
        );

        // The right id with a wrong secret: one bcrypt run, 401.
        let wrong = auth::assemble(auth::key_id(&key_a).unwrap(), &[7; 20]);
        let detail = patch("/calendars/a/availability", wrong)
            .await
            .problem(StatusCode::UNAUTHORIZED);
        assert!(detail.contains("wrong key"), "{detail}");
        assert_eq!(runs(&server), before + 1);

        // A valid key of another calendar: 403, on calendar routes and admin routes.
        let detail = patch("/calendars/b/availability", key_a.clone())
            .await
            .problem(StatusCode::FORBIDDEN);
        assert!(detail.contains("belongs to calendar \"a\""), "{detail}");
        let detail = c
            .authed(Method::GET, "/calendars", &key_a)
            .await
            .problem(StatusCode::FORBIDDEN);
        assert!(detail.contains("admin key"), "{detail}");

        // The calendar's own key and an admin key write.
        let r = patch("/calendars/a/availability", key_a.clone()).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        let r = patch("/calendars/b/availability", server.admin.clone()).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        assert_eq!(
            c.authed(Method::GET, "/calendars", &server.admin)
                .await
                .status,
            StatusCode::OK
        );
    }

    // The memo: the keys above verified once each, and now cost no bcrypt at all.
    let c = server.client(Version::HTTP_2);
    let before = runs(&server);
    for _ in 0..3 {
        let r = c
            .json(Method::PATCH, "/calendars/a/availability", &key_a, BATCH)
            .await;
        assert_eq!(r.status, StatusCode::OK);
        let r = c.authed(Method::GET, "/calendars", &server.admin).await;
        assert_eq!(r.status, StatusCode::OK);
    }
    assert_eq!(runs(&server), before);

    // Rotation: a new key, then the old one revoked with it. The old one was remembered,
    // and stops working at once all the same.
    let r = c.authed(Method::POST, "/calendars/a/keys", &key_a).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let rotated = r.json()["key"].as_str().unwrap().to_owned();
    tokens.push(rotated.clone());
    let old_id = auth::key_id(&key_a).unwrap();
    let r = c
        .authed(
            Method::DELETE,
            &format!("/calendars/a/keys/{old_id}"),
            &rotated,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text());
    let detail = c
        .json(Method::PATCH, "/calendars/a/availability", &key_a, BATCH)
        .await
        .problem(StatusCode::UNAUTHORIZED);
    assert!(detail.contains("revoked"), "{detail}");
    let r = c
        .json(Method::PATCH, "/calendars/a/availability", &rotated, BATCH)
        .await;
    assert_eq!(r.status, StatusCode::OK);

    // Deletion by an admin: the remembered key stops at once.
    let id = auth::key_id(&rotated).unwrap();
    let r = c
        .authed(
            Method::DELETE,
            &format!("/calendars/a/keys/{id}"),
            &server.admin,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    c.json(Method::PATCH, "/calendars/a/availability", &rotated, BATCH)
        .await
        .problem(StatusCode::UNAUTHORIZED);

    // A deleted calendar's key is unknown everywhere: 401, not 403.
    let r = c
        .authed(Method::DELETE, "/calendars/b", &server.admin)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let detail = c
        .json(Method::PATCH, "/calendars/a/availability", &key_b, BATCH)
        .await
        .problem(StatusCode::UNAUTHORIZED);
    assert!(detail.contains("no such key"), "{detail}");

    // Only hashes are stored: no token appears in any file of the data directory.
    for file in files(server.data.path()) {
        let bytes = std::fs::read(&file).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        for token in &tokens {
            assert!(!text.contains(token.as_str()), "{}", file.display());
        }
    }
}

/// One client floods writes with a wrong secret while another reads: the flood is refused
/// with 429 after the auth burst, before bcrypt runs, and the reader is always served.
#[tokio::test]
async fn a_flood_of_wrong_keys_is_stopped_before_bcrypt() {
    let server = TestServer::start_tweaked(|config| {
        config.rates.auth = availability_server::limit::Rate {
            per_minute: 10,
            burst: 5,
        };
    })
    .await;
    let key = server.create_calendar("a", "UTC").await;
    let wrong = auth::assemble(auth::key_id(&key).unwrap(), &[9; 20]);
    let flooder = server.client(Version::HTTP_11).from("127.0.0.2");
    let reader = server.client(Version::HTTP_2);
    let before = runs(&server);

    let mut flood = Vec::new();
    for _ in 0..25 {
        let (w, r) = tokio::join!(
            flooder.json(Method::PATCH, "/calendars/a/availability", &wrong, BATCH),
            reader.get("/calendars/a/availability?week=2026-W48"),
        );
        assert_eq!(r.status, StatusCode::OK, "the reader is served");
        assert_eq!(r.header("ratelimit-policy"), Some("\"read\";q=300;w=3"));
        flood.push(w);
    }
    let statuses: Vec<u16> = flood.iter().map(|r| r.status.as_u16()).collect();
    assert_eq!(&statuses[..5], &[401; 5], "{statuses:?}");
    assert!(statuses[5..].iter().all(|s| *s == 429), "{statuses:?}");
    assert_eq!(
        runs(&server) - before,
        5,
        "bcrypt ran once per allowed check"
    );

    let limited = &flood[24];
    let detail = limited.problem(StatusCode::TOO_MANY_REQUESTS);
    assert!(detail.contains("key checks"), "{detail}");
    let retry: u64 = limited.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=6).contains(&retry), "{retry}");
    assert_eq!(
        limited.header("ratelimit-policy"),
        Some("\"auth\";q=5;w=30")
    );
    assert_eq!(
        limited.header("ratelimit"),
        Some(format!("\"auth\";r=0;t={retry}").as_str())
    );
    assert_eq!(flood[4].header("ratelimit"), Some("\"auth\";r=0;t=30"));

    // The flooder's budget is spent: even the right key would need bcrypt, so it waits too.
    flooder
        .json(Method::PATCH, "/calendars/a/availability", &key, BATCH)
        .await
        .problem(StatusCode::TOO_MANY_REQUESTS);
    // Another client verifies the key; once remembered, it costs the flooder nothing.
    let other = server.client(Version::HTTP_11).from("127.0.0.3");
    let r = other
        .json(Method::PATCH, "/calendars/a/availability", &key, BATCH)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let r = flooder
        .json(Method::PATCH, "/calendars/a/availability", &key, BATCH)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());

    let metrics = reader.authed(Method::GET, "/metrics", &server.admin).await;
    let text = metrics.text();
    assert!(
        text.contains("availability_rate_limited_total 21"),
        "{text}"
    );
    assert!(
        text.contains("availability_rate_limit_clients{limit=\"auth\"} 3"),
        "{text}"
    );
}

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

/// The memo is bounded in time: after `key_memo_seconds`, the next write pays bcrypt again.
#[tokio::test(start_paused = true)]
async fn remembered_keys_are_checked_again_after_the_memo_period() {
    let server = TestServer::start_tweaked(|config| {
        config.key_memo_ttl = std::time::Duration::from_secs(60);
    })
    .await;
    let key = server.create_calendar("a", "UTC").await;
    let c = server.client(Version::HTTP_2);
    let write = || c.json(Method::PATCH, "/calendars/a/availability", &key, BATCH);
    let before = runs(&server);
    assert_eq!(write().await.status, StatusCode::OK);
    assert_eq!(write().await.status, StatusCode::OK);
    assert_eq!(runs(&server), before + 1, "verified once, then remembered");
    tokio::time::advance(std::time::Duration::from_secs(61)).await;
    assert_eq!(write().await.status, StatusCode::OK);
    assert_eq!(runs(&server), before + 2, "checked again after the period");
}

/// After a restart, the index of key owners is rebuilt from the store: a valid key of
/// another calendar is still 403, not 401.
#[tokio::test]
async fn key_owners_are_known_after_a_restart() {
    let first = TestServer::start().await;
    let key_a = first.create_calendar("a", "UTC").await;
    first.create_calendar("b", "UTC").await;

    let second = first.restart().await;
    let c = second.client(Version::HTTP_11);
    let detail = c
        .json(Method::PATCH, "/calendars/b/availability", &key_a, BATCH)
        .await
        .problem(StatusCode::FORBIDDEN);
    assert!(detail.contains("belongs to calendar \"a\""), "{detail}");
    let r = c
        .json(Method::PATCH, "/calendars/a/availability", &key_a, BATCH)
        .await;
    assert_eq!(r.status, StatusCode::OK);
}

/// Twelve concurrent first writes with one valid key, from one client with the default key
/// check budget (a burst of 5): bcrypt runs once, the budget is charged once, and all twelve
/// succeed. Before, each request verified on its own: five got 200 and seven 429.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_first_uses_of_a_key_verify_it_once() {
    let server = TestServer::start_tweaked(|config| {
        config.rates.auth = availability_server::config::Config::default().rates.auth;
        // Slow enough that the twelve requests overlap the one verification.
        config.bcrypt_cost = 10;
    })
    .await;
    let key = server.create_calendar("shared", "UTC").await;
    let before = runs(&server);
    let mut writes = Vec::new();
    for i in 0..12 {
        let c = server.client(VERSIONS[i % 2]);
        let key = key.clone();
        writes.push(tokio::spawn(async move {
            c.json(
                Method::PATCH,
                "/calendars/shared/availability",
                &key,
                r#"{"updates":[{"day":"monday","time":"09:00","status":"available"}]}"#,
            )
            .await
        }));
    }
    for write in writes {
        let r = write.await.unwrap();
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    }
    assert_eq!(runs(&server) - before, 1, "bcrypt ran once for one key");
}

/// Wrong secrets for one key id from many addresses (each within its own key-check budget)
/// run bcrypt only as often as the key id's budget allows; the owner, whose key the memo
/// knows, goes on writing without bcrypt. (Before, each new address bought more bcrypt
/// runs: the pool was anyone's who knew one key id.)
#[tokio::test]
async fn wrong_secrets_for_one_key_id_from_many_addresses_are_limited_per_key() {
    let server = TestServer::start_tweaked(|config| {
        config.rates.auth_key = availability_server::limit::Rate {
            per_minute: 1,
            burst: 3,
        };
    })
    .await;
    let key = server.create_calendar("a", "UTC").await;
    let owner = server.client(Version::HTTP_2);
    let write = |key: String| {
        let owner = owner.clone();
        async move {
            owner
                .json(Method::PATCH, "/calendars/a/availability", &key, BATCH)
                .await
        }
    };
    // The owner's first write verifies the key: one check of the key id's three.
    assert_eq!(write(key.clone()).await.status, StatusCode::OK);
    let before = runs(&server);
    let wrong = auth::assemble(auth::key_id(&key).unwrap(), &[5; 20]);
    let mut statuses = Vec::new();
    for address in 10..30 {
        let from = format!("127.0.0.{address}");
        let r = server
            .client(Version::HTTP_11)
            .from(&from)
            .json(Method::PATCH, "/calendars/a/availability", &wrong, BATCH)
            .await;
        if r.status == StatusCode::TOO_MANY_REQUESTS {
            let detail = r.problem(StatusCode::TOO_MANY_REQUESTS);
            assert!(detail.contains("key id"), "{detail}");
            assert_eq!(r.header("ratelimit-policy"), Some("\"auth-key\";q=3;w=180"));
            assert!(r.header("retry-after").is_some());
        }
        statuses.push(r.status.as_u16());
        // The owner is not held up.
        assert_eq!(write(key.clone()).await.status, StatusCode::OK);
    }
    assert_eq!(&statuses[..2], &[401, 401], "{statuses:?}");
    assert!(statuses[2..].iter().all(|s| *s == 429), "{statuses:?}");
    assert_eq!(
        runs(&server) - before,
        2,
        "bcrypt ran for two wrong secrets only"
    );
}

/// With the bcrypt pool busy, a key check waits at most `bcrypt_wait` and is then answered
/// 503 with `Retry-After`, never queued without end; a writer whose key the memo knows
/// never waits for the pool at all. (Before, every check queued for a slot, however long.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waits_for_bcrypt_are_bounded_and_remembered_keys_never_wait() {
    let server = TestServer::start_tweaked(|config| {
        config.bcrypt_concurrency = 1;
        // A verification at cost 12 takes far longer than the wait, on any machine.
        config.bcrypt_cost = 12;
        config.bcrypt_wait = std::time::Duration::from_millis(50);
    })
    .await;
    let key = server.create_calendar("busy", "UTC").await;
    let owner = server.client(Version::HTTP_2);
    let r = owner
        .json(Method::PATCH, "/calendars/busy/availability", &key, BATCH)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let id = auth::key_id(&key).unwrap().to_owned();
    let before = runs(&server);
    let mut checks = Vec::new();
    for address in 40..48u8 {
        let client = server
            .client(Version::HTTP_11)
            .from(&format!("127.0.0.{address}"));
        // Each its own wrong secret, so that each needs bcrypt of its own.
        let wrong = auth::assemble(&id, &[address; 20]);
        checks.push(tokio::spawn(async move {
            client
                .json(Method::PATCH, "/calendars/busy/availability", &wrong, BATCH)
                .await
        }));
    }
    for _ in 0..5 {
        let r = owner
            .json(Method::PATCH, "/calendars/busy/availability", &key, BATCH)
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    }
    let mut busy = 0;
    for check in checks {
        let r = check.await.unwrap();
        if r.status == StatusCode::SERVICE_UNAVAILABLE {
            let detail = r.problem(StatusCode::SERVICE_UNAVAILABLE);
            assert!(detail.contains("busy"), "{detail}");
            assert_eq!(r.header("retry-after"), Some("1"));
            busy += 1;
        } else {
            r.problem(StatusCode::UNAUTHORIZED);
        }
    }
    assert!(
        busy >= 1,
        "eight checks at once on one slot: some were turned away"
    );
    assert_eq!(
        runs(&server) - before,
        8 - busy,
        "bcrypt ran for each 401 and nothing else: not for the owner's writes"
    );
}

/// One client holds at most `bcrypt_per_client` of the bcrypt slots: its other checks at the
/// same time are answered 503 at once, whatever room the pool has, so a single client cannot
/// fill it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_client_holds_only_its_share_of_the_bcrypt_pool() {
    let server = TestServer::start_tweaked(|config| {
        config.bcrypt_concurrency = 4;
        config.bcrypt_per_client = 1;
        // A verification at cost 12 takes far longer than it takes to send the others.
        config.bcrypt_cost = 12;
        config.bcrypt_wait = std::time::Duration::from_secs(60);
    })
    .await;
    let key = server.create_calendar("shared", "UTC").await;
    let id = auth::key_id(&key).unwrap().to_owned();
    let before = runs(&server);
    let mut checks = Vec::new();
    for i in 0..6u8 {
        let client = server.client(Version::HTTP_11).from("127.0.0.50");
        let wrong = auth::assemble(&id, &[i; 20]);
        checks.push(tokio::spawn(async move {
            client
                .json(
                    Method::PATCH,
                    "/calendars/shared/availability",
                    &wrong,
                    BATCH,
                )
                .await
        }));
    }
    // Another client finds room in the pool meanwhile.
    let r = server
        .client(Version::HTTP_2)
        .from("127.0.0.51")
        .json(Method::PATCH, "/calendars/shared/availability", &key, BATCH)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let mut turned_away = 0;
    for check in checks {
        let r = check.await.unwrap();
        if r.status == StatusCode::SERVICE_UNAVAILABLE {
            let detail = r.problem(StatusCode::SERVICE_UNAVAILABLE);
            assert!(detail.contains("this client"), "{detail}");
            assert_eq!(r.header("retry-after"), Some("1"));
            turned_away += 1;
        } else {
            r.problem(StatusCode::UNAUTHORIZED);
        }
    }
    assert!(
        turned_away >= 1,
        "six checks at once from one client: some were turned away"
    );
    assert_eq!(
        runs(&server) - before,
        6 - turned_away + 1,
        "and one for the other client"
    );
}

/// A calendar's keys are listed for its write keys and admins: ids, scopes, labels and
/// creation times, never a secret or a hash.
#[tokio::test]
async fn keys_are_listed_without_their_secrets() {
    let server = TestServer::start().await;
    let key = server.create_calendar("c1", "UTC").await;
    let c = server.client(Version::HTTP_11);
    let r = c
        .json(
            Method::POST,
            "/calendars/c1/keys",
            &key,
            r#"{"scope":"book","label":"front desk"}"#,
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let book_key = r.json()["key"].as_str().unwrap().to_owned();
    let book_id = r.json()["key_id"].as_str().unwrap().to_owned();

    for who in [&key, &server.admin] {
        let r = c.authed(Method::GET, "/calendars/c1/keys", who).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        let text = r.text();
        assert!(!text.contains("$2"), "no hash: {text}");
        assert!(!text.contains(&book_key), "no secret: {text}");
        let keys = r.json()["keys"].as_array().unwrap().clone();
        assert_eq!(keys.len(), 2, "{text}");
        let book = keys
            .iter()
            .find(|k| k["key_id"] == book_id.as_str())
            .unwrap();
        assert_eq!(book["scope"], "book");
        assert_eq!(book["label"], "front desk");
        assert!(book["created"].as_str().unwrap().ends_with('Z'), "{book}");
    }
    // A book key may not list keys, and nobody without a key may.
    c.authed(Method::GET, "/calendars/c1/keys", &book_key)
        .await
        .problem(StatusCode::FORBIDDEN);
    c.get("/calendars/c1/keys")
        .await
        .problem(StatusCode::UNAUTHORIZED);
}
