//! `Idempotency-Key` on the `POST`s that show a new key (a calendar, a calendar key, an admin
//! key): a repeat gets the first answer, the same working key, also after a restart; nothing
//! is created twice; and the journal never holds the key's secret.

use http::{Method, StatusCode, Version};

use crate::support::{files, Client, Resp, TestServer, JSON, VERSIONS};

async fn post(c: &Client, path: &str, key: &str, body: &str, idem: &str) -> Resp {
    let headers = [JSON, ("idempotency-key", idem)];
    c.call(Method::POST, path, Some(key), &headers, body.to_owned())
        .await
}

/// Every file of the data directory, as one lossy string.
fn stored(server: &TestServer) -> String {
    files(server.data.path())
        .into_iter()
        .map(|f| String::from_utf8_lossy(&std::fs::read(f).unwrap_or_default()).into_owned())
        .collect()
}

#[tokio::test]
async fn a_repeated_post_shows_the_same_new_key_once_made() {
    let server = TestServer::start().await;
    let admin = server.admin.clone();
    let body = r#"{"id":"repeat","timezone":"Europe/Paris"}"#;
    let mut first: Option<Resp> = None;
    for version in VERSIONS {
        let c = server.client(version);
        let r = post(&c, "/calendars", &admin, body, "cal-1").await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        assert_eq!(r.header("location"), Some("/calendars/repeat"));
        assert!(r.header("etag").is_some(), "no ETag");
        if let Some(first) = &first {
            assert_eq!(r.body, first.body, "a repeat answered differently");
            assert_eq!(r.header("etag"), first.header("etag"));
        }
        first.get_or_insert(r);
    }
    let first = first.unwrap();
    let key = first.json()["key"].as_str().unwrap().to_owned();
    let secret = key.rsplit('_').next().unwrap().to_owned();

    // The key works, and a calendar key of its own made the same way is made once.
    let c = server.client(Version::HTTP_11);
    let label = r#"{"scope":"book","label":"desk"}"#;
    let made = post(&c, "/calendars/repeat/keys", &key, label, "key-1").await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.text());
    let again = post(&c, "/calendars/repeat/keys", &key, label, "key-1").await;
    assert_eq!(again.status, StatusCode::CREATED, "{}", again.text());
    assert_eq!(again.body, made.body);
    assert!(made.header("etag").is_some(), "no ETag");
    assert_eq!(again.header("etag"), made.header("etag"));
    let book_key = made.json()["key"].as_str().unwrap().to_owned();
    let listed = c
        .authed(Method::GET, "/calendars/repeat/keys", &key)
        .await
        .json();
    assert_eq!(listed["keys"].as_array().map(Vec::len), Some(2), "{listed}");

    // An admin key, the same.
    let admin_body = r#"{"label":"second operator"}"#;
    let a1 = post(&c, "/admin/keys", &admin, admin_body, "admin-1").await;
    let a2 = post(&c, "/admin/keys", &admin, admin_body, "admin-1").await;
    assert_eq!(a1.status, StatusCode::CREATED, "{}", a1.text());
    assert_eq!(a2.body, a1.body);
    let admins = c.authed(Method::GET, "/admin/keys", &admin).await.json();
    let second = a1.json()["key_id"].as_str().unwrap().to_owned();
    let named = admins["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["key_id"] == second.as_str())
        .count();
    assert_eq!(named, 1, "{admins}");

    // Reused with another body: 422. No secret of a shown key is on disk.
    let other = post(&c, "/calendars", &admin, r#"{"id":"other"}"#, "cal-1").await;
    other.problem(StatusCode::UNPROCESSABLE_ENTITY);
    let disk = stored(&server);
    for shown in [
        &key,
        &book_key,
        &a1.json()["key"].as_str().unwrap().to_owned(),
    ] {
        let secret = shown.rsplit('_').next().unwrap();
        assert!(!disk.contains(secret), "a shown key's secret is on disk");
    }

    // After a restart: the same answer, and the key in it still works.
    let server = server.restart().await;
    let c = server.client(Version::HTTP_2);
    let r = post(&c, "/calendars", &admin, body, "cal-1").await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_eq!(r.body, first.body);
    assert_eq!(
        (r.header("etag"), r.header("location")),
        (first.header("etag"), first.header("location"))
    );
    assert!(r.text().contains(&secret));
    let write = c
        .json(
            Method::PATCH,
            "/calendars/repeat/availability",
            &key,
            r#"{"updates":[{"day":"monday","time":"09:00","status":"available"}]}"#,
        )
        .await;
    assert_eq!(write.status, StatusCode::OK, "{}", write.text());
    // Another admin key with the same Idempotency-Key is another principal: a new request,
    // and the id is taken.
    let second_key = a1.json()["key"].as_str().unwrap().to_owned();
    post(&c, "/calendars", &second_key, body, "cal-1")
        .await
        .problem(StatusCode::CONFLICT);
}
