//! Bookings over HTTPS: claiming spans of real time, seeing them in views, listing and
//! cancelling them; conflicts, `book` keys, public calendars and idempotent retries.
//!
//! - `conflicts`: claims that would share a slot, what a conflict says, and zone changes;
//! - `access`: who may book: `book` keys and public calendars;
//! - `retries`: idempotent retries, after a restart and while the first is running;
//! - here: the helpers, a booking's round trip, and what a valid booking request is.

mod access;
mod conflicts;
mod retries;

use std::time::{SystemTime, UNIX_EPOCH};

use chrono::{DateTime, FixedOffset, SecondsFormat};
use http::{Method, StatusCode, Version};

use crate::support::{Client, Resp, TestServer, JSON, VERSIONS};

/// Every day available all day.
const ALWAYS: &str = r#"{"updates":[
    {"day":0,"from":"00:00","to":"24:00","status":"available"},
    {"day":1,"from":"00:00","to":"24:00","status":"available"},
    {"day":2,"from":"00:00","to":"24:00","status":"available"},
    {"day":3,"from":"00:00","to":"24:00","status":"available"},
    {"day":4,"from":"00:00","to":"24:00","status":"available"},
    {"day":5,"from":"00:00","to":"24:00","status":"available"},
    {"day":6,"from":"00:00","to":"24:00","status":"available"}]}"#;

const HOUR: i64 = 3600;

/// A whole hour three days ahead, plus `hours`, in seconds since the epoch.
fn ahead(hours: i64) -> i64 {
    let now = i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap();
    (now / HOUR + 72 + hours) * HOUR
}

/// `unix` in a fixed offset of `hours` (`Z` for 0).
fn at(unix: i64, hours: i32) -> String {
    let offset = FixedOffset::east_opt(hours * 3600).unwrap();
    DateTime::from_timestamp(unix, 0)
        .unwrap()
        .with_timezone(&offset)
        .to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The date and `HH:MM` of `unix` in a fixed offset of `hours`.
fn wall(unix: i64, hours: i32) -> (String, String) {
    let text = at(unix, hours);
    (text[..10].to_owned(), text[11..16].to_owned())
}

fn span(start: &str, end: &str, label: Option<&str>) -> String {
    let mut body = serde_json::json!({ "start": start, "end": end });
    if let Some(label) = label {
        body["label"] = label.into();
    }
    body.to_string()
}

/// A calendar in Tokyo (UTC+09, no summer time), available all week; returns its key.
async fn always(server: &TestServer, id: &str) -> String {
    let key = server.create_calendar(id, "Asia/Tokyo").await;
    let r = server
        .client(Version::HTTP_11)
        .json(
            Method::PUT,
            &format!("/calendars/{id}/availability"),
            &key,
            ALWAYS,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    key
}

/// `POST /calendars/{id}/bookings`, with a key and an idempotency key when given.
async fn book(c: &Client, id: &str, key: Option<&str>, body: &str, idem: Option<&str>) -> Resp {
    let mut headers = vec![JSON];
    headers.extend(idem.map(|idem| ("idempotency-key", idem)));
    let path = format!("/calendars/{id}/bookings");
    c.call(Method::POST, &path, key, &headers, body.to_owned())
        .await
}

/// The status of the slot at `unix` in the JSON week seen from `tz` (a fixed offset of
/// `hours`).
async fn status_at(c: &Client, id: &str, tz: &str, hours: i32, unix: i64) -> String {
    let (date, time) = wall(unix, hours);
    let r = c
        .get(&format!("/calendars/{id}/availability?tz={tz}&week={date}"))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let week = r.json();
    week["slots"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["date"] == date.as_str() && s["time"] == time.as_str())
        .map(|s| s["status"].as_str().unwrap().to_owned())
        .unwrap_or_else(|| panic!("no slot {date} {time} in {week}"))
}

/// Book, see it from two zones, list it, cancel it, see the slots free again; on both
/// protocols.
#[tokio::test]
async fn a_booking_is_seen_in_views_listed_and_cancelled() {
    let server = TestServer::start().await;
    for (n, version) in VERSIONS.into_iter().enumerate() {
        let id = format!("tokyo-{n}");
        let key = always(&server, &id).await;
        let c = server.client(version);
        let start = ahead(0);
        let body = span(&at(start, 9), &at(start + HOUR, 0), Some("dentist"));
        let r = book(&c, &id, Some(&key), &body, None).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        let created = r.json();
        let bid = created["id"].as_str().unwrap().to_owned();
        assert_eq!(
            r.header("location"),
            Some(format!("/calendars/{id}/bookings/{bid}").as_str())
        );
        assert_eq!(created["calendar"], id.as_str());
        assert_eq!(created["start"], at(start, 9), "the client's offset");
        assert_eq!(created["end"], at(start + HOUR, 0));
        let (date, time) = wall(start, 9);
        let (_, second) = wall(start + 1800, 9);
        assert_eq!(
            created["slots"],
            serde_json::json!([{"date": date, "time": time}, {"date": date, "time": second}])
        );
        let version = created["version"].as_u64().unwrap();
        let tag = r.header("etag").unwrap();
        assert!(tag.starts_with(&format!("\"v{version}.")), "{tag}");

        // Unavailable from UTC and from UTC-05, the hour after still available.
        for (tz, hours) in [("UTC", 0), ("Etc/GMT%2B5", -5)] {
            assert_eq!(status_at(&c, &id, tz, hours, start).await, "unavailable");
            assert_eq!(
                status_at(&c, &id, tz, hours, start + 1800).await,
                "unavailable"
            );
            assert_eq!(
                status_at(&c, &id, tz, hours, start + HOUR).await,
                "available"
            );
        }

        // The listing needs a write key, and shows the label.
        let list_path = format!("/calendars/{id}/bookings");
        c.get(&list_path).await.problem(StatusCode::UNAUTHORIZED);
        let list = c.authed(Method::GET, &list_path, &key).await;
        assert_eq!(list.status, StatusCode::OK, "{}", list.text());
        let list = list.json();
        let bookings = list["bookings"].as_array().unwrap();
        assert_eq!(bookings.len(), 1, "{list}");
        assert_eq!(bookings[0]["id"], bid.as_str());
        assert_eq!(bookings[0]["label"], "dentist");
        assert_eq!(bookings[0]["start"], at(start, 9), "the owner's offset");
        assert_eq!(bookings[0]["slots"], created["slots"]);
        assert!(bookings[0]["key_id"].is_string());
        let (day, _) = wall(start, 9);
        let ranged = c
            .authed(
                Method::GET,
                &format!("{list_path}?from={day}&to={day}"),
                &key,
            )
            .await
            .json();
        assert_eq!(ranged["bookings"].as_array().unwrap().len(), 1, "{ranged}");
        c.authed(Method::GET, &format!("{list_path}?from=x"), &key)
            .await
            .problem(StatusCode::BAD_REQUEST);
        c.authed(
            Method::GET,
            &format!("{list_path}?from=2026-01-01&to=2030-01-01"),
            &key,
        )
        .await
        .problem(StatusCode::BAD_REQUEST);

        // Cancelled, the slots are free again; a second cancel is 404.
        let path = format!("/calendars/{id}/bookings/{bid}");
        let r = c.authed(Method::DELETE, &path, &key).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        for (tz, hours) in [("UTC", 0), ("Etc/GMT%2B5", -5)] {
            assert_eq!(status_at(&c, &id, tz, hours, start).await, "available");
        }
        c.authed(Method::DELETE, &path, &key)
            .await
            .problem(StatusCode::NOT_FOUND);
        c.authed(
            Method::DELETE,
            &format!("/calendars/{id}/bookings/x1"),
            &key,
        )
        .await
        .problem(StatusCode::BAD_REQUEST);
        let list = c.authed(Method::GET, &list_path, &key).await.json();
        assert_eq!(list["bookings"], serde_json::json!([]));
    }
}

/// Spans the rules refuse are 422; bodies that are not a booking are 400.
#[tokio::test]
async fn invalid_spans_are_422_and_malformed_bodies_400() {
    let server = TestServer::start().await;
    let key = always(&server, "rules").await;
    let c = server.client(Version::HTTP_11);
    let start = ahead(0);
    for (from, to) in [
        (start, start),
        (start + HOUR, start),
        (start, start + 8 * 24 * HOUR),
        (start - 5 * 24 * HOUR, start - 4 * 24 * HOUR),
        (start + 800 * 24 * HOUR, start + 800 * 24 * HOUR + HOUR),
        (start + 30, start + HOUR),
    ] {
        let body = span(&at(from, 0), &at(to, 0), None);
        book(&c, "rules", Some(&key), &body, None)
            .await
            .problem(StatusCode::UNPROCESSABLE_ENTITY);
    }
    let fraction = span(
        &at(start, 0).replace('Z', ".5Z"),
        &at(start + HOUR, 0),
        None,
    );
    let control = span(&at(start, 0), &at(start + HOUR, 0), Some("a\u{1}b"));
    for body in [fraction, control] {
        book(&c, "rules", Some(&key), &body, None)
            .await
            .problem(StatusCode::UNPROCESSABLE_ENTITY);
    }
    for body in [
        "{",
        "[]",
        r#"{"start":"tomorrow","end":"2030-01-01T00:00:00Z"}"#,
        r#"{"start":"2030-01-01T00:00:00","end":"2030-01-01T01:00:00"}"#,
        r#"{"start":"2030-01-01T00:00:00Z"}"#,
        r#"{"start":"2030-01-01T00:00:00Z","end":"2030-01-01T01:00:00Z","room":1}"#,
        r#"{"start":1,"end":2}"#,
    ] {
        book(&c, "rules", Some(&key), body, None)
            .await
            .problem(StatusCode::BAD_REQUEST);
    }
    let list = c
        .authed(Method::GET, "/calendars/rules/bookings", &key)
        .await
        .json();
    assert_eq!(list["bookings"], serde_json::json!([]));
}
