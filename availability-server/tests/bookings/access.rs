//! Who may book: a `book` key books and cancels only its own bookings, and a public calendar
//! takes bookings without a key.

use http::{Method, StatusCode, Version};

use super::{ahead, always, at, book, span, ALWAYS, HOUR};
use crate::support::TestServer;

/// A `book` key books and cancels its own bookings, and nothing else.
#[tokio::test]
async fn a_book_key_books_and_cancels_only_its_own() {
    let server = TestServer::start().await;
    let key = always(&server, "desk").await;
    let c = server.client(Version::HTTP_2);
    let r = c
        .json(
            Method::POST,
            "/calendars/desk/keys",
            &key,
            r#"{"scope":"book","label":"front desk"}"#,
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_eq!(r.json()["scope"], "book");
    assert_eq!(r.json()["label"], "front desk");
    let booker = r.json()["key"].as_str().unwrap().to_owned();
    let booker_id = r.json()["key_id"].clone();
    // Without a body, a write key, as before.
    let r = c.authed(Method::POST, "/calendars/desk/keys", &key).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_eq!(r.json()["scope"], "write");
    c.json(
        Method::POST,
        "/calendars/desk/keys",
        &key,
        r#"{"scope":"root"}"#,
    )
    .await
    .problem(StatusCode::BAD_REQUEST);

    let start = ahead(0);
    let mine = book(
        &c,
        "desk",
        Some(&booker),
        &span(&at(start, 0), &at(start + HOUR, 0), None),
        None,
    )
    .await;
    assert_eq!(mine.status, StatusCode::CREATED, "{}", mine.text());
    let mine = mine.json()["id"].as_str().unwrap().to_owned();
    let theirs = book(
        &c,
        "desk",
        Some(&key),
        &span(&at(start + 2 * HOUR, 0), &at(start + 3 * HOUR, 0), None),
        None,
    )
    .await;
    assert_eq!(theirs.status, StatusCode::CREATED, "{}", theirs.text());
    let theirs = theirs.json()["id"].as_str().unwrap().to_owned();
    let list = c
        .authed(Method::GET, "/calendars/desk/bookings", &key)
        .await
        .json();
    assert_eq!(list["bookings"][0]["id"], mine.as_str());
    assert_eq!(list["bookings"][0]["key_id"], booker_id, "{list}");

    // Everything else is 403.
    for r in [
        c.json(
            Method::PATCH,
            "/calendars/desk/availability",
            &booker,
            ALWAYS,
        )
        .await,
        c.json(
            Method::PUT,
            "/calendars/desk/overrides/2030-01-01",
            &booker,
            r#"{"updates":[]}"#,
        )
        .await,
        c.authed(Method::POST, "/calendars/desk/keys", &booker)
            .await,
        c.json(
            Method::PATCH,
            "/calendars/desk",
            &booker,
            r#"{"timezone":"UTC"}"#,
        )
        .await,
        c.authed(Method::GET, "/calendars/desk/bookings", &booker)
            .await,
        c.authed(
            Method::DELETE,
            &format!("/calendars/desk/bookings/{theirs}"),
            &booker,
        )
        .await,
    ] {
        r.problem(StatusCode::FORBIDDEN);
    }
    let r = c
        .authed(
            Method::DELETE,
            &format!("/calendars/desk/bookings/{mine}"),
            &booker,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    // The write key cancels anyone's.
    let r = c
        .authed(
            Method::DELETE,
            &format!("/calendars/desk/bookings/{theirs}"),
            &key,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
}

/// `"booking": "public"` lets anyone book; `"key"` (the default) asks for a key.
#[tokio::test]
async fn a_public_calendar_takes_bookings_without_a_key() {
    let server = TestServer::start().await;
    let c = server.client(Version::HTTP_11);
    let r = c
        .json(
            Method::POST,
            "/calendars",
            &server.admin,
            r#"{"id":"open","timezone":"Asia/Tokyo","booking":"public"}"#,
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_eq!(r.json()["booking"], "public");
    let key = r.json()["key"].as_str().unwrap().to_owned();
    let r = c
        .json(Method::PUT, "/calendars/open/availability", &key, ALWAYS)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(c.get("/calendars/open").await.json()["booking"], "public");

    let start = ahead(0);
    let r = book(
        &c,
        "open",
        None,
        &span(&at(start, 0), &at(start + HOUR, 0), None),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());

    // Back to keys only: no key is 401.
    let r = c
        .json(
            Method::PATCH,
            "/calendars/open",
            &key,
            r#"{"booking":"key"}"#,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(c.get("/calendars/open").await.json()["booking"], "key");
    book(
        &c,
        "open",
        None,
        &span(&at(start + HOUR, 0), &at(start + 2 * HOUR, 0), None),
        None,
    )
    .await
    .problem(StatusCode::UNAUTHORIZED);
    c.json(
        Method::PATCH,
        "/calendars/open",
        &key,
        r#"{"booking":"all"}"#,
    )
    .await
    .problem(StatusCode::BAD_REQUEST);
    c.json(Method::PATCH, "/calendars/open", &key, "{}")
        .await
        .problem(StatusCode::BAD_REQUEST);
    let list = c
        .authed(Method::GET, "/calendars/open/bookings", &key)
        .await
        .json();
    assert_eq!(list["bookings"][0]["key_id"], serde_json::Value::Null);
}
