//! A key is checked long before its write commits (a bcrypt wait, a body that takes its
//! time). Revoking the key, deleting and re-creating the calendar, or closing it to public
//! bookings in that window must stop the write: the commit checks again. Each test holds a
//! request's body back after its key was checked, changes things through another connection,
//! then lets the body arrive.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{Method, StatusCode, Version};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use crate::support::TestServer;

/// Every day available all day.
const ALWAYS: &str = r#"{"updates":[
    {"day":0,"from":"00:00","to":"24:00","status":"available"},
    {"day":1,"from":"00:00","to":"24:00","status":"available"},
    {"day":2,"from":"00:00","to":"24:00","status":"available"},
    {"day":3,"from":"00:00","to":"24:00","status":"available"},
    {"day":4,"from":"00:00","to":"24:00","status":"available"},
    {"day":5,"from":"00:00","to":"24:00","status":"available"},
    {"day":6,"from":"00:00","to":"24:00","status":"available"}]}"#;

const BATCH: &str = r#"{"updates":[{"day":"monday","time":"09:00","status":"maybe"}]}"#;

/// What the store says when the commit finds the key gone.
const REVOKED_MIDWAY: &str = "revoked while this request was under way";

/// A whole hour `days` days ahead, in seconds since the epoch.
fn days_ahead(days: i64) -> i64 {
    let now = i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap();
    (now / 3600 + 24 * days) * 3600
}

fn rfc3339(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// A booking body for an hour `days` days ahead.
fn booking(days: i64) -> String {
    let start = days_ahead(days);
    format!(
        r#"{{"start":"{}","end":"{}"}}"#,
        rfc3339(start),
        rfc3339(start + 3600)
    )
}

/// A request whose head and first body byte have been sent, and whose handler has checked
/// the key and waits for the rest of the body.
struct Held {
    tls: TlsStream<TcpStream>,
    rest: Vec<u8>,
}

impl Held {
    /// Sends `method path` (with `key`, if any, and a JSON `body`) up to the body's first
    /// byte, and waits until the handler is past its key check.
    async fn start(
        server: &TestServer,
        method: &str,
        path: &str,
        key: Option<&str>,
        body: &str,
    ) -> Held {
        let mut tls = server.client(Version::HTTP_11).tls().await;
        let authorization = key
            .map(|key| format!("authorization: Bearer {key}\r\n"))
            .unwrap_or_default();
        let head = format!(
            "{method} {path} HTTP/1.1\r\nhost: localhost\r\n{authorization}\
             content-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
            body.len()
        );
        let before = server.app.metrics.in_flight();
        tls.write_all(head.as_bytes()).await.unwrap();
        tls.write_all(&body.as_bytes()[..1]).await.unwrap();
        tls.flush().await.unwrap();
        for _ in 0..2000 {
            if server.app.metrics.in_flight() != before {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_ne!(
            server.app.metrics.in_flight(),
            before,
            "{method} {path} was answered before its body arrived"
        );
        // The handler checks the key (bcrypt at the tests' lowest cost takes about a
        // millisecond) before it reads the body: well within this.
        tokio::time::sleep(Duration::from_millis(400)).await;
        Held {
            tls,
            rest: body.as_bytes()[1..].to_vec(),
        }
    }

    /// Sends the rest of the body; returns the status and the whole answer.
    async fn finish(mut self) -> (StatusCode, String) {
        self.tls.write_all(&self.rest).await.unwrap();
        self.tls.flush().await.unwrap();
        let mut answer = Vec::new();
        self.tls.read_to_end(&mut answer).await.unwrap_or_default();
        let text = String::from_utf8_lossy(&answer).into_owned();
        let status = text
            .split_whitespace()
            .nth(1)
            .and_then(|code| code.parse::<u16>().ok())
            .and_then(|code| StatusCode::from_u16(code).ok())
            .unwrap_or_else(|| panic!("no status line: {text}"));
        (status, text)
    }
}

/// A new key of calendar `id` with `scope`, minted by the admin; its token and id.
async fn mint(server: &TestServer, id: &str, scope: &str) -> (String, String) {
    let r = server
        .client(Version::HTTP_2)
        .json(
            Method::POST,
            &format!("/calendars/{id}/keys"),
            &server.admin,
            &format!(r#"{{"scope":"{scope}"}}"#),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let json = r.json();
    (
        json["key"].as_str().unwrap().to_owned(),
        json["key_id"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test]
async fn a_calendar_key_revoked_while_its_write_waits_writes_nothing() {
    let server = TestServer::start().await;
    server.create_calendar("a", "Asia/Tokyo").await;
    let c = server.client(Version::HTTP_2);
    let r = c
        .json(
            Method::PUT,
            "/calendars/a/availability",
            &server.admin,
            ALWAYS,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let override_path = format!("/calendars/a/overrides/{}", &rfc3339(days_ahead(20))[..10]);
    let cases: Vec<(&str, &str, String, &str)> = vec![
        (
            "PATCH",
            "/calendars/a/availability",
            BATCH.to_owned(),
            "write",
        ),
        (
            "PUT",
            "/calendars/a/availability",
            BATCH.to_owned(),
            "write",
        ),
        (
            "PATCH",
            "/calendars/a",
            r#"{"timezone":"Europe/Paris"}"#.to_owned(),
            "write",
        ),
        (
            "POST",
            "/calendars/a/keys",
            r#"{"label":"minted late"}"#.to_owned(),
            "write",
        ),
        (
            "PUT",
            &override_path,
            r#"{"updates":[]}"#.to_owned(),
            "write",
        ),
        ("POST", "/calendars/a/bookings", booking(3), "write"),
        ("POST", "/calendars/a/bookings", booking(4), "book"),
    ];
    for (method, path, body, scope) in cases {
        let (token, key_id) = mint(&server, "a", scope).await;
        let held = Held::start(&server, method, path, Some(&token), &body).await;
        let r = c
            .authed(
                Method::DELETE,
                &format!("/calendars/a/keys/{key_id}"),
                &server.admin,
            )
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text());
        let before = server.store.get("a").unwrap();
        let (status, answer) = held.finish().await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "{method} {path}: {answer}"
        );
        assert!(answer.contains(REVOKED_MIDWAY), "{method} {path}: {answer}");
        assert!(
            answer
                .to_ascii_lowercase()
                .contains("www-authenticate: bearer"),
            "{answer}"
        );
        let after = server.store.get("a").unwrap();
        assert_eq!(after.version(), before.version(), "{method} {path} wrote");
        assert_eq!(after.keys().len(), before.keys().len());
        assert_eq!(after.zone(), "Asia/Tokyo");
        assert_eq!(after.dated().booking_count(), 0);
    }
    // A key that is not revoked goes through the same way.
    let (token, _) = mint(&server, "a", "write").await;
    let held = Held::start(
        &server,
        "PATCH",
        "/calendars/a/availability",
        Some(&token),
        BATCH,
    )
    .await;
    let (status, answer) = held.finish().await;
    assert_eq!(status, StatusCode::OK, "{answer}");
}

#[tokio::test]
async fn an_admin_key_revoked_while_its_write_waits_writes_nothing() {
    let server = TestServer::start().await;
    server.create_calendar("a", "UTC").await;
    let c = server.client(Version::HTTP_2);
    let cases = [
        ("POST", "/calendars", r#"{"id":"late","timezone":"UTC"}"#),
        ("PUT", "/groups/team", r#"{"members":["a"]}"#),
        ("POST", "/admin/keys", r#"{"label":"minted late"}"#),
        ("PATCH", "/calendars/a/availability", BATCH),
        ("PATCH", "/calendars/a", r#"{"booking":"public"}"#),
    ];
    for (method, path, body) in cases {
        let r = c
            .json(
                Method::POST,
                "/admin/keys",
                &server.admin,
                r#"{"label":"short-lived"}"#,
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        let token = r.json()["key"].as_str().unwrap().to_owned();
        let key_id = r.json()["key_id"].as_str().unwrap().to_owned();
        let held = Held::start(&server, method, path, Some(&token), body).await;
        let r = c
            .authed(
                Method::DELETE,
                &format!("/admin/keys/{key_id}"),
                &server.admin,
            )
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text());
        let version = server.store.get("a").unwrap().version();
        let (status, answer) = held.finish().await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "{method} {path}: {answer}"
        );
        assert!(answer.contains(REVOKED_MIDWAY), "{method} {path}: {answer}");
        assert_eq!(server.store.get("a").unwrap().version(), version);
        assert!(!server.store.get("a").unwrap().booking_public());
        assert!(server.store.get("late").is_none());
        assert!(server.store.group("team").is_none());
        assert_eq!(server.store.admin_keys().len(), 1, "{method} {path}");
    }
}

#[tokio::test]
async fn a_calendar_deleted_and_created_again_midway_is_not_written() {
    let server = TestServer::start().await;
    server.create_calendar("b", "UTC").await;
    let c = server.client(Version::HTTP_2);
    for admin in [true, false] {
        // A key of the calendar as it is now, or the admin key.
        let token = if admin {
            server.admin.clone()
        } else {
            mint(&server, "b", "write").await.0
        };
        let held = Held::start(
            &server,
            "PATCH",
            "/calendars/b/availability",
            Some(&token),
            BATCH,
        )
        .await;
        let r = c
            .authed(Method::DELETE, "/calendars/b", &server.admin)
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text());
        server.create_calendar("b", "UTC").await;
        let (status, answer) = held.finish().await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{answer}");
        assert!(answer.contains("created again"), "{answer}");
        assert_eq!(
            server.store.get("b").unwrap().version(),
            1,
            "the new calendar"
        );
    }
}

#[tokio::test]
async fn a_calendar_closed_to_public_bookings_midway_takes_no_keyless_booking() {
    let server = TestServer::start().await;
    let key = server.create_calendar("c", "UTC").await;
    let c = server.client(Version::HTTP_2);
    let r = c
        .json(Method::PUT, "/calendars/c/availability", &key, ALWAYS)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let r = c
        .json(
            Method::PATCH,
            "/calendars/c",
            &key,
            r#"{"booking":"public"}"#,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let held = Held::start(&server, "POST", "/calendars/c/bookings", None, &booking(5)).await;
    let r = c
        .json(Method::PATCH, "/calendars/c", &key, r#"{"booking":"key"}"#)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let (status, answer) = held.finish().await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{answer}");
    assert_eq!(server.store.get("c").unwrap().dated().booking_count(), 0);
}
