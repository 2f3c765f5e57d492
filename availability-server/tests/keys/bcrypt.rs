//! What a key check costs: wrong keys are stopped before bcrypt, per client and per key id; the
//! memo spares bcrypt for a while and a key verified at once by many requests is verified
//! once; a wait for the bcrypt pool is bounded, and no client holds more than its share.

use availability_server::auth;
use http::{Method, StatusCode, Version};

use super::{runs, BATCH};
use crate::support::{TestServer, VERSIONS};

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
