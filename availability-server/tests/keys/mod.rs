//! Keys and abuse resistance over real TLS: every way a key can be wrong, rotation and
//! revocation taking effect at once, the memo sparing bcrypt, per-client and per-key-id limits
//! that stop a flood of wrong keys before bcrypt while other clients go on being served, a
//! bounded wait for bcrypt, write budgets per verified key, and clients behind proxies.
//!
//! - `bcrypt`: what a key check costs: the memo, floods of wrong keys, and the bcrypt pool;
//! - `budgets`: write budgets, per client and per verified key, and clients behind proxies;
//! - here: every way a key can be wrong, rotation and revocation, key owners after a restart,
//!   and the list of a calendar's keys.

mod bcrypt;
mod budgets;

use std::sync::atomic::Ordering;

use availability_server::auth;
use http::{Method, StatusCode, Version};

use crate::support::{files, TestServer, JSON, VERSIONS};

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
