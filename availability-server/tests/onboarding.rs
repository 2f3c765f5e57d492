//! Bulk onboarding: `POST /calendars` with `"key": false` and `POST /calendars:batch`, all or
//! none, idempotent, on either backend; and what the new calendars are (readable, written with
//! the admin key, given keys later).

use http::{Method, StatusCode, Version};
use serde_json::{json, Value};

use crate::support::{Client, TestServer};

async fn batch(
    c: &Client,
    admin: &str,
    body: &Value,
    headers: &[(&str, &str)],
) -> crate::support::Resp {
    let mut all = vec![("content-type", "application/json")];
    all.extend_from_slice(headers);
    c.call(
        Method::POST,
        "/calendars:batch",
        Some(admin),
        &all,
        body.to_string(),
    )
    .await
}

fn rooms(prefix: &str, n: usize) -> Value {
    json!({
        "calendars": (0..n)
            .map(|i| {
                let (zone, booking) = [("Europe/Paris", "key"), ("Asia/Kathmandu", "public")][i % 2];
                json!({ "id": format!("{prefix}-{i}"), "timezone": zone, "booking": booking })
            })
            .collect::<Vec<_>>()
    })
}

#[tokio::test]
async fn a_calendar_without_a_key_is_written_with_admin_keys_and_given_keys_later() {
    let server = TestServer::start().await;
    let c = server.client(Version::HTTP_11);
    let admin = server.admin.as_str();
    let r = c
        .json(
            Method::POST,
            "/calendars",
            admin,
            r#"{"id":"lobby","timezone":"Europe/Paris","key":false}"#,
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let body = r.json();
    assert_eq!(body["calendar"], "lobby");
    assert!(
        body.get("key").is_none() && body.get("key_id").is_none(),
        "{body}"
    );
    assert_eq!(r.header("location"), Some("/calendars/lobby"));
    // No key of its own: the admin key writes it; a key made later does too.
    let edit = r#"{"updates":[{"day":"monday","from":"09:00","to":"12:00","status":"available"}]}"#;
    let r = c
        .json(Method::PATCH, "/calendars/lobby/availability", admin, edit)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let r = c.authed(Method::POST, "/calendars/lobby/keys", admin).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let key = r.json()["key"].as_str().unwrap().to_owned();
    let r = c
        .json(Method::PATCH, "/calendars/lobby/availability", &key, edit)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    // `key` is a boolean.
    let r = c
        .json(
            Method::POST,
            "/calendars",
            admin,
            r#"{"id":"x","key":"no"}"#,
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
}

#[tokio::test]
async fn a_batch_creates_every_calendar_in_one_commit_or_none() {
    let server = TestServer::start().await;
    let c = server.client(Version::HTTP_2);
    let admin = server.admin.as_str();
    let r = batch(&c, admin, &rooms("room", 1000), &[]).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let body = r.json();
    assert_eq!(body["created"], 1000);
    assert_eq!(body["calendars"][0], "room-0");
    assert_eq!(body["calendars"][999], "room-999");
    let r = c.get("/calendars/room-7").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let seven = r.json();
    assert_eq!(
        (&seven["timezone"], &seven["booking"], &seven["version"]),
        (&json!("Asia/Kathmandu"), &json!("public"), &json!(1))
    );
    let count = |server: &TestServer| server.app.store.len();
    let before = count(&server);

    // Refused whole, naming what is wrong; nothing created.
    let mut taken = rooms("hall", 5);
    taken["calendars"][3]["id"] = json!("room-12");
    let r = batch(&c, admin, &taken, &[]).await;
    assert!(
        r.problem(StatusCode::CONFLICT).contains("room-12"),
        "{}",
        r.text()
    );
    let mut twice = rooms("hall", 5);
    twice["calendars"][4]["id"] = json!("hall-1");
    let r = batch(&c, admin, &twice, &[]).await;
    assert!(
        r.problem(StatusCode::CONFLICT).contains("hall-1"),
        "{}",
        r.text()
    );
    for (field, value) in [
        ("timezone", json!("Mars/Olympus")),
        ("id", json!("Hall")),
        ("booking", json!("anyone")),
        ("key", json!(true)),
    ] {
        let mut wrong = rooms("hall", 5);
        wrong["calendars"][2][field] = value;
        let r = batch(&c, admin, &wrong, &[]).await;
        r.problem(StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            r.json()["field"],
            format!("calendars[2].{field}"),
            "{}",
            r.text()
        );
    }
    let r = batch(&c, admin, &rooms("hall", 1001), &[]).await;
    r.problem(StatusCode::UNPROCESSABLE_ENTITY);
    let r = batch(&c, admin, &json!({"calendars": []}), &[]).await;
    r.problem(StatusCode::UNPROCESSABLE_ENTITY);
    // Only the admin key creates.
    let r = c
        .call(
            Method::POST,
            "/calendars:batch",
            None,
            &[("content-type", "application/json")],
            rooms("hall", 2).to_string(),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text());
    assert_eq!(count(&server), before, "a refused batch creates nothing");
    assert_eq!(
        c.get("/calendars/hall-0").await.status,
        StatusCode::NOT_FOUND
    );

    // A repeat with the same Idempotency-Key creates nothing twice and answers the same.
    let key = [("idempotency-key", "onboard-1")];
    let first = batch(&c, admin, &rooms("desk", 3), &key).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text());
    let again = batch(&c, admin, &rooms("desk", 3), &key).await;
    assert_eq!(again.status, StatusCode::CREATED, "{}", again.text());
    assert_eq!(again.json(), first.json());
    assert_eq!(count(&server), before + 3);
    let other = batch(&c, admin, &rooms("desk", 4), &key).await;
    other.problem(StatusCode::UNPROCESSABLE_ENTITY);

    // The calendars outlive a restart.
    let server = server.restart().await;
    let c = server.client(Version::HTTP_11);
    assert_eq!(c.get("/calendars/room-999").await.status, StatusCode::OK);
    assert_eq!(c.get("/calendars/desk-2").await.status, StatusCode::OK);
}
