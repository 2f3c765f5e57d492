//! The admin keys over real TLS: listed without secrets, issued with a label, revoked at
//! once; the last one, and those from the configuration, are refused with 409.

use availability_server::auth;
use availability_server::store::KeyHash;
use http::{Method, StatusCode, Version};

use crate::support::TestServer;

#[tokio::test]
async fn admin_keys_are_listed_issued_and_revoked_but_never_the_last() {
    let server = TestServer::start().await;
    let calendar_key = server.create_calendar("a", "UTC").await;
    let c = server.client(Version::HTTP_2);
    let first = auth::key_id(&server.admin).unwrap().to_owned();

    // Only admin keys may look.
    let r = c.authed(Method::GET, "/admin/keys", &calendar_key).await;
    r.problem(StatusCode::FORBIDDEN);
    let r = c.get("/admin/keys").await;
    r.problem(StatusCode::UNAUTHORIZED);

    let r = c
        .json(
            Method::POST,
            "/admin/keys",
            &server.admin,
            r#"{"label":"ops on call"}"#,
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let second = r.json()["key"].as_str().unwrap().to_owned();
    let second_id = r.json()["key_id"].as_str().unwrap().to_owned();
    assert_eq!(auth::key_id(&second), Some(second_id.as_str()));
    assert_eq!(r.json()["label"], "ops on call");
    // The new key administers.
    let r = c.authed(Method::GET, "/calendars", &second).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    // A label the store refuses costs no key.
    let r = c
        .json(
            Method::POST,
            "/admin/keys",
            &server.admin,
            &format!(r#"{{"label":"{}"}}"#, "x".repeat(65)),
        )
        .await;
    r.problem(StatusCode::BAD_REQUEST);
    let r = c
        .json(
            Method::POST,
            "/admin/keys",
            &server.admin,
            r#"{"scope":"book"}"#,
        )
        .await;
    r.problem(StatusCode::BAD_REQUEST);

    let r = c.authed(Method::GET, "/admin/keys", &second).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let text = r.text();
    assert!(
        !text.contains(&server.admin) && !text.contains(&second),
        "{text}"
    );
    assert!(!text.contains("$2"), "no hash: {text}");
    let keys = r.json()["keys"].as_array().unwrap().clone();
    assert_eq!(keys.len(), 2, "{text}");
    assert_eq!(keys[0]["key_id"], first.as_str());
    assert_eq!(keys[0]["source"], "store");
    assert!(keys[0]["label"].is_null());
    assert_eq!(keys[1]["key_id"], second_id.as_str());
    assert_eq!(keys[1]["label"], "ops on call");
    assert!(keys[1]["created"].as_str().unwrap().ends_with('Z'));

    // The first key revoked by the second: it stops at once, remembered or not.
    let r = c
        .authed(Method::DELETE, &format!("/admin/keys/{first}"), &second)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text());
    let detail = c
        .authed(Method::GET, "/calendars", &server.admin)
        .await
        .problem(StatusCode::UNAUTHORIZED);
    assert!(detail.contains("revoked"), "{detail}");

    // The last one is refused, and keeps working.
    let detail = c
        .authed(Method::DELETE, &format!("/admin/keys/{second_id}"), &second)
        .await
        .problem(StatusCode::CONFLICT);
    assert!(detail.contains("last admin key"), "{detail}");
    assert_eq!(server.store.admin_keys().len(), 1);
    let r = c.authed(Method::GET, "/calendars", &second).await;
    assert_eq!(r.status, StatusCode::OK);

    // Unknown ids are 404; other methods 405 with the table's Allow.
    c.authed(Method::DELETE, "/admin/keys/000000000000", &second)
        .await
        .problem(StatusCode::NOT_FOUND);
    let r = c.authed(Method::PUT, "/admin/keys", &second).await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.header("allow"), Some("GET, HEAD, POST"));
    // Calendar keys cannot reach the admin routes at all.
    c.authed(Method::POST, "/admin/keys", &calendar_key)
        .await
        .problem(StatusCode::FORBIDDEN);
    c.authed(
        Method::DELETE,
        &format!("/admin/keys/{second_id}"),
        &calendar_key,
    )
    .await
    .problem(StatusCode::FORBIDDEN);

    // Kept across a restart.
    let server = server.restart().await;
    let c = server.client(Version::HTTP_11);
    let r = c.authed(Method::GET, "/admin/keys", &second).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["keys"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn configured_admin_keys_are_listed_and_left_to_the_configuration() {
    let token = auth::generate().unwrap();
    let hash = auth::hash_blocking(&token.token, 4).unwrap();
    let configured = KeyHash::new(token.id.clone(), hash).unwrap();
    let server = TestServer::start_tweaked(|config| config.admin_keys = vec![configured]).await;
    let c = server.client(Version::HTTP_2);
    // The configuration holds an admin key, so the first start made none in the store.
    assert!(server.store.admin_keys().is_empty());
    let r = c
        .json(
            Method::POST,
            "/admin/keys",
            &token.token,
            r#"{"label":"stored"}"#,
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let stored_id = r.json()["key_id"].as_str().unwrap().to_owned();
    let r = c.authed(Method::GET, "/admin/keys", &token.token).await;
    let keys = r.json()["keys"].as_array().unwrap().clone();
    assert_eq!(keys.len(), 2, "{}", r.text());
    assert_eq!(keys[0]["key_id"], token.id.as_str());
    assert_eq!(keys[0]["source"], "configuration");
    assert_eq!(keys[1]["source"], "store");

    let detail = c
        .authed(
            Method::DELETE,
            &format!("/admin/keys/{}", token.id),
            &token.token,
        )
        .await
        .problem(StatusCode::CONFLICT);
    assert!(detail.contains("configuration"), "{detail}");
    // The configuration's key remains, so the store's only one may go.
    let r = c
        .authed(
            Method::DELETE,
            &format!("/admin/keys/{stored_id}"),
            &token.token,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text());
    assert!(server.store.admin_keys().is_empty());
}
