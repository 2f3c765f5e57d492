//! The requests of `answers_match_their_schemas`, by resource, in the order the test makes
//! them: every operation with a success and with a problem, each answer checked against the
//! document by the [`Session`].

use http::{Method, StatusCode as S};
use serde_json::json;

use super::checker::Session;
use super::{instant, OPENAPI};

/// The `Accept` of a browser asking for a page.
const HTML: [(&str, &str); 1] = [("accept", "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8")];

/// The service: its health, its metrics and its own document.
pub(super) async fn service(s: &mut Session<'_>, admin: Option<&str>) {
    s.get("/healthz", S::OK).await;
    s.get("/healthz?verbose=1", S::BAD_REQUEST).await;
    s.get("/readyz", S::OK).await;
    s.get("/readyz?verbose=1", S::BAD_REQUEST).await;
    s.call(Method::GET, "/metrics", admin, None, &[], S::OK)
        .await;
    s.get("/metrics", S::UNAUTHORIZED).await;
    let own = s.get("/openapi.json", S::OK).await;
    assert_eq!(own.body, OPENAPI.as_bytes());
    assert_eq!(own.header("content-type"), Some("application/json"));
    let tag = own.header("etag").unwrap().to_owned();
    let headers = [("if-none-match", tag.as_str())];
    let again = s.call(
        Method::GET,
        "/openapi.json",
        None,
        None,
        &headers,
        S::NOT_MODIFIED,
    );
    assert_eq!(again.await.header("etag"), Some(tag.as_str()));
    s.get("/openapi.json?v=3", S::BAD_REQUEST).await;
}

/// The start page and the pages' files.
pub(super) async fn pages(s: &mut Session<'_>) {
    s.get("/", S::OK).await;
    let on = s.get("/?calendar=alice", S::SEE_OTHER).await;
    assert_eq!(on.header("location"), Some("/calendars/alice"));
    s.get("/?calendar=alice&group=team", S::BAD_REQUEST).await;
    s.get("/static/app.js", S::OK).await;
    s.get("/static/app.css", S::OK).await;
    s.get("/static/app.txt", S::NOT_FOUND).await;
}

/// A backup: the store file's copy (501 on PostgreSQL, whose own tools back it up), refused
/// without a key.
pub(super) async fn backup(s: &mut Session<'_>, admin: Option<&str>) {
    let expected = if crate::support::on_postgres() {
        S::NOT_IMPLEMENTED
    } else {
        S::OK
    };
    let copy = s
        .call(Method::GET, "/admin/backup", admin, None, &[], expected)
        .await;
    if expected == S::OK {
        assert_eq!(
            copy.header("content-length"),
            Some(copy.body.len().to_string().as_str())
        );
        assert!(copy.body.starts_with(b"\x89AVL\r\n\x1a\n"));
    }
    s.get("/admin/backup", S::UNAUTHORIZED).await;
}

/// The admin keys: listed, made (also idempotently), refused, revoked; the last one stays.
pub(super) async fn admin_keys(s: &mut Session<'_>, admin: Option<&str>) {
    s.call(Method::GET, "/admin/keys", admin, None, &[], S::OK)
        .await;
    s.get("/admin/keys", S::UNAUTHORIZED).await;
    let label = r#"{"label":"deploy"}"#;
    let once = [("idempotency-key", "admin-key-1")];
    let body = Some(("application/json", label));
    let made = s
        .call(Method::POST, "/admin/keys", admin, body, &once, S::CREATED)
        .await;
    let again = s
        .call(Method::POST, "/admin/keys", admin, body, &once, S::CREATED)
        .await;
    assert_eq!(made.body, again.body);
    let other = Some(("application/json", r#"{"label":"other"}"#));
    s.call(
        Method::POST,
        "/admin/keys",
        admin,
        other,
        &once,
        S::UNPROCESSABLE_ENTITY,
    )
    .await;
    s.json(
        Method::POST,
        "/admin/keys",
        admin,
        r#"{"scope":"write"}"#,
        S::BAD_REQUEST,
    )
    .await;
    let bare = s
        .call(Method::POST, "/admin/keys", admin, None, &[], S::CREATED)
        .await;
    let path = format!("/admin/keys/{}", made.json()["key_id"].as_str().unwrap());
    s.call(Method::DELETE, &path, admin, None, &[], S::NO_CONTENT)
        .await;
    s.call(Method::DELETE, &path, admin, None, &[], S::NOT_FOUND)
        .await;
    let path = format!("/admin/keys/{}", bare.json()["key_id"].as_str().unwrap());
    s.call(Method::DELETE, &path, admin, None, &[], S::NO_CONTENT)
        .await;
    // The first admin key is the last one now: it stays.
    let first = admin.unwrap().split('_').nth(1).unwrap().to_owned();
    let path = format!("/admin/keys/{first}");
    s.call(Method::DELETE, &path, admin, None, &[], S::CONFLICT)
        .await;
}

/// Calendars: created (`alice`, and `bob` whose bookings are public), listed, read as JSON,
/// as a page and as events, and rezoned; returns alice's key and bob's.
pub(super) async fn calendars(s: &mut Session<'_>, admin: Option<&str>) -> (String, String) {
    let created = s
        .json(
            Method::POST,
            "/calendars",
            admin,
            r#"{"id":"alice","timezone":"Europe/Paris"}"#,
            S::CREATED,
        )
        .await;
    let alice_key = created.json()["key"].as_str().unwrap().to_owned();
    let alice = Some(alice_key.as_str());
    let created = s
        .json(
            Method::POST,
            "/calendars",
            admin,
            r#"{"id":"bob","timezone":"America/New_York","booking":"public"}"#,
            S::CREATED,
        )
        .await;
    let bob_key = created.json()["key"].as_str().unwrap().to_owned();
    let bob = Some(bob_key.as_str());
    let once = [("idempotency-key", "erin-1")];
    let erin = Some(("application/json", r#"{"id":"erin","timezone":"UTC"}"#));
    let made = s
        .call(Method::POST, "/calendars", admin, erin, &once, S::CREATED)
        .await;
    let again = s
        .call(Method::POST, "/calendars", admin, erin, &once, S::CREATED)
        .await;
    assert_eq!(made.body, again.body);
    let frank = Some(("application/json", r#"{"id":"frank"}"#));
    s.call(
        Method::POST,
        "/calendars",
        admin,
        frank,
        &once,
        S::UNPROCESSABLE_ENTITY,
    )
    .await;
    s.json(
        Method::POST,
        "/calendars",
        admin,
        r#"{"id":"alice"}"#,
        S::CONFLICT,
    )
    .await;
    s.json(
        Method::POST,
        "/calendars",
        admin,
        r#"{"id":"Al!ce"}"#,
        S::BAD_REQUEST,
    )
    .await;
    let text = Some(("text/plain", "alice"));
    s.call(
        Method::POST,
        "/calendars",
        admin,
        text,
        &[],
        S::UNSUPPORTED_MEDIA_TYPE,
    )
    .await;
    s.call(Method::GET, "/calendars", admin, None, &[], S::OK)
        .await;
    // A page with a next one: the `Link` field is there.
    let first = "/calendars?limit=1";
    let paged = s.call(Method::GET, first, admin, None, &[], S::OK).await;
    assert!(paged.header("link").is_some());
    let bad = "/calendars?limit=1001";
    s.call(Method::GET, bad, admin, None, &[], S::BAD_REQUEST)
        .await;
    s.get("/calendars", S::UNAUTHORIZED).await;
    let calendar = s.get("/calendars/alice", S::OK).await;
    let alice_tag = calendar.header("etag").unwrap().to_owned();
    s.get("/calendars/nobody", S::NOT_FOUND).await;
    for (page, status) in [
        ("/calendars/alice?tz=Asia/Tokyo&week=2026-W48", S::OK),
        ("/calendars/alice?tz=Nowhere/Else", S::BAD_REQUEST),
        ("/calendars/nobody", S::NOT_FOUND),
    ] {
        s.call(Method::GET, page, None, None, &HTML, status).await;
    }
    s.stream("/calendars/alice/events").await;
    s.get("/calendars/nobody/events", S::NOT_FOUND).await;
    let zone = r#"{"timezone":"Europe/Berlin"}"#;
    s.json(Method::PATCH, "/calendars/alice", alice, zone, S::OK)
        .await;
    s.json(Method::PATCH, "/calendars/alice", bob, zone, S::FORBIDDEN)
        .await;
    let stale = [("if-match", alice_tag.as_str())];
    let body = Some(("application/json", zone));
    s.call(
        Method::PATCH,
        "/calendars/alice",
        alice,
        body,
        &stale,
        S::PRECONDITION_FAILED,
    )
    .await;
    (alice_key, bob_key)
}

/// The week: written as JSON and as iCalendar, read in every format, one slot, and CSV.
pub(super) async fn week(s: &mut Session<'_>, alice: Option<&str>, bob: Option<&str>) {
    let week = r#"{"updates":[{"day":"monday","from":"09:00","to":"17:00","status":"available"},{"day":2,"time":"12:00","status":"maybe"}]}"#;
    s.json(
        Method::PATCH,
        "/calendars/alice/availability",
        alice,
        week,
        S::OK,
    )
    .await;
    let always: Vec<String> = (0..7)
        .map(|d| format!(r#"{{"day":{d},"from":"00:00","to":"24:00","status":"available"}}"#))
        .collect();
    let always = format!(r#"{{"updates":[{}]}}"#, always.join(","));
    s.json(
        Method::PUT,
        "/calendars/bob/availability",
        bob,
        &always,
        S::OK,
    )
    .await;
    let bad = r#"{"updates":[{"day":"monday","time":"09:15","status":"available"}]}"#;
    s.json(
        Method::PUT,
        "/calendars/alice/availability",
        alice,
        bad,
        S::BAD_REQUEST,
    )
    .await;
    s.json(
        Method::PATCH,
        "/calendars/alice/availability",
        None,
        week,
        S::UNAUTHORIZED,
    )
    .await;
    for format in ["json", "intervals", "view", "csv", "ics"] {
        let path =
            format!("/calendars/alice/availability?tz=Asia/Tokyo&week=2026-W48&format={format}");
        s.get(&path, S::OK).await;
    }
    s.get("/calendars/alice/availability?format=xml", S::BAD_REQUEST)
        .await;
    s.get("/calendars/nobody/availability", S::NOT_FOUND).await;
    let pattern = s.get("/calendars/alice/availability.ics", S::OK).await;
    s.get("/calendars/nobody/availability.ics", S::NOT_FOUND)
        .await;
    let pattern = pattern.text();
    let ics = Some(("text/calendar", pattern.as_str()));
    let path = "/calendars/alice/availability";
    s.call(Method::PUT, path, alice, ics, &[], S::OK).await;
    let broken = Some(("text/calendar", "BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n"));
    s.call(Method::PUT, path, alice, broken, &[], S::BAD_REQUEST)
        .await;
    let plain = Some(("text/plain", "monday 09:00"));
    s.call(
        Method::PUT,
        path,
        alice,
        plain,
        &[],
        S::UNSUPPORTED_MEDIA_TYPE,
    )
    .await;
    s.get(
        "/calendars/alice/availability/slot?day=monday&time=09:00&tz=Europe/London",
        S::OK,
    )
    .await;
    s.get(
        "/calendars/alice/availability/slot?day=monday",
        S::BAD_REQUEST,
    )
    .await;
    s.get("/calendars/alice/availability/csv?week=2026-11-23", S::OK)
        .await;
    s.get(
        "/calendars/alice/availability/csv?format=json",
        S::BAD_REQUEST,
    )
    .await;
}

/// A calendar's keys: listed, made (also idempotently), refused and revoked.
pub(super) async fn calendar_keys(s: &mut Session<'_>, alice: Option<&str>) {
    s.call(
        Method::GET,
        "/calendars/alice/keys",
        alice,
        None,
        &[],
        S::OK,
    )
    .await;
    s.get("/calendars/alice/keys", S::UNAUTHORIZED).await;
    let made = s
        .json(
            Method::POST,
            "/calendars/alice/keys",
            alice,
            r#"{"scope":"book","label":"kiosk"}"#,
            S::CREATED,
        )
        .await;
    let key_id = made.json()["key_id"].as_str().unwrap().to_owned();
    let once = [("idempotency-key", "kiosk-2")];
    let kiosk = Some(("application/json", r#"{"scope":"book","label":"kiosk 2"}"#));
    let path = "/calendars/alice/keys";
    let first = s
        .call(Method::POST, path, alice, kiosk, &once, S::CREATED)
        .await;
    let again = s
        .call(Method::POST, path, alice, kiosk, &once, S::CREATED)
        .await;
    assert_eq!(first.body, again.body);
    let write = Some(("application/json", r#"{"scope":"write"}"#));
    s.call(
        Method::POST,
        path,
        alice,
        write,
        &once,
        S::UNPROCESSABLE_ENTITY,
    )
    .await;
    let scope = r#"{"scope":"read"}"#;
    s.json(
        Method::POST,
        "/calendars/alice/keys",
        alice,
        scope,
        S::BAD_REQUEST,
    )
    .await;
    let path = format!("/calendars/alice/keys/{key_id}");
    s.call(Method::DELETE, &path, alice, None, &[], S::NO_CONTENT)
        .await;
    s.call(Method::DELETE, &path, alice, None, &[], S::NOT_FOUND)
        .await;
}

/// Overrides of a date: written, refused, listed and removed.
pub(super) async fn overrides(s: &mut Session<'_>, alice: Option<&str>) {
    let day = r#"{"updates":[{"from":"10:00","to":"12:00","status":"available"},{"time":"15:00","status":"maybe"}]}"#;
    s.json(
        Method::PUT,
        "/calendars/alice/overrides/2027-01-04",
        alice,
        day,
        S::OK,
    )
    .await;
    let dayed = r#"{"updates":[{"day":"monday","time":"15:00","status":"maybe"}]}"#;
    s.json(
        Method::PUT,
        "/calendars/alice/overrides/2027-01-04",
        alice,
        dayed,
        S::BAD_REQUEST,
    )
    .await;
    s.json(
        Method::PUT,
        "/calendars/alice/overrides/2027-13-01",
        alice,
        day,
        S::BAD_REQUEST,
    )
    .await;
    s.get(
        "/calendars/alice/overrides?from=2027-01-01&to=2027-01-31",
        S::OK,
    )
    .await;
    s.get("/calendars/alice/overrides?from=tomorrow", S::BAD_REQUEST)
        .await;
    let path = "/calendars/alice/overrides/2027-01-04";
    s.call(Method::DELETE, path, alice, None, &[], S::OK).await;
    s.call(Method::DELETE, path, None, None, &[], S::UNAUTHORIZED)
        .await;
}

/// Bookings: bob's are public, and bob is always available.
pub(super) async fn bookings(s: &mut Session<'_>, bob: Option<&str>) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let start = (now / 3600 + 48) * 3600;
    let span = json!({ "start": instant(start), "end": instant(start + 3600), "label": "call" });
    let span = span.to_string();
    let booked = s
        .json(
            Method::POST,
            "/calendars/bob/bookings",
            None,
            &span,
            S::CREATED,
        )
        .await;
    let booking = booked.json()["id"].as_str().unwrap().to_owned();
    let conflict = s
        .json(
            Method::POST,
            "/calendars/bob/bookings",
            None,
            &span,
            S::CONFLICT,
        )
        .await;
    assert_eq!(conflict.json()["conflict"]["reason"], "booked");
    let seconds = json!({ "start": instant(start + 7201), "end": instant(start + 9000) });
    s.json(
        Method::POST,
        "/calendars/bob/bookings",
        None,
        &seconds.to_string(),
        S::UNPROCESSABLE_ENTITY,
    )
    .await;
    s.json(
        Method::POST,
        "/calendars/bob/bookings",
        None,
        "{}",
        S::BAD_REQUEST,
    )
    .await;
    let idempotent = [("idempotency-key", "")];
    let body = Some(("application/json", span.as_str()));
    s.call(
        Method::POST,
        "/calendars/bob/bookings",
        None,
        body,
        &idempotent,
        S::BAD_REQUEST,
    )
    .await;
    s.call(
        Method::GET,
        "/calendars/bob/bookings",
        bob,
        None,
        &[],
        S::OK,
    )
    .await;
    s.get("/calendars/bob/bookings", S::UNAUTHORIZED).await;
    let path = "/calendars/bob/bookings?from=soon";
    s.call(Method::GET, path, bob, None, &[], S::BAD_REQUEST)
        .await;
    let path = format!("/calendars/bob/bookings/{booking}");
    s.call(Method::DELETE, &path, bob, None, &[], S::OK).await;
    s.call(Method::DELETE, &path, bob, None, &[], S::NOT_FOUND)
        .await;
    s.call(
        Method::DELETE,
        "/calendars/bob/bookings/x",
        bob,
        None,
        &[],
        S::BAD_REQUEST,
    )
    .await;
}

/// Groups and overlaps.
pub(super) async fn groups(s: &mut Session<'_>, admin: Option<&str>, alice: Option<&str>) {
    let members = r#"{"members":["alice","bob"]}"#;
    s.json(Method::PUT, "/groups/team", admin, members, S::CREATED)
        .await;
    s.json(Method::PUT, "/groups/team", admin, members, S::OK)
        .await;
    let unknown = r#"{"members":["alice","carol"]}"#;
    s.json(Method::PUT, "/groups/team", admin, unknown, S::NOT_FOUND)
        .await;
    s.json(Method::PUT, "/groups/team", alice, members, S::FORBIDDEN)
        .await;
    s.get("/groups/team", S::OK).await;
    // Listing the groups takes the admin key; the page's values are checked after it.
    let (listing, bad) = ("/groups?limit=1&after=a", "/groups?after=A");
    s.call(Method::GET, listing, admin, None, &[], S::OK).await;
    s.call(Method::GET, bad, admin, None, &[], S::BAD_REQUEST)
        .await;
    s.get(bad, S::UNAUTHORIZED).await;
    s.call(Method::GET, listing, alice, None, &[], S::FORBIDDEN)
        .await;
    s.get("/groups/nobody", S::NOT_FOUND).await;
    for (page, status) in [
        ("/groups/team?tz=Europe/Paris", S::OK),
        ("/groups/team?week=2026-W99", S::BAD_REQUEST),
        ("/groups/nobody", S::NOT_FOUND),
    ] {
        s.call(Method::GET, page, None, None, &HTML, status).await;
    }
    s.stream("/groups/team/events").await;
    s.get("/groups/nobody/events", S::NOT_FOUND).await;
    for format in ["json", "intervals", "view", "csv", "ics"] {
        let path =
            format!("/groups/team/availability?tz=Europe/Paris&week=2026-W48&format={format}");
        s.get(&path, S::OK).await;
    }
    s.get("/groups/team/availability?format=intervals&min=1", S::OK)
        .await;
    s.get(
        "/groups/team/availability?format=intervals&min=3",
        S::BAD_REQUEST,
    )
    .await;
    s.get("/groups/nobody/availability", S::NOT_FOUND).await;
    s.get("/overlap?calendars=alice,bob&format=intervals", S::OK)
        .await;
    s.get("/overlap?calendars=alice,bob&format=ics", S::OK)
        .await;
    s.get("/overlap?calendars=alice,alice", S::BAD_REQUEST)
        .await;
    s.get("/overlap?calendars=alice,carol", S::NOT_FOUND).await;
    let question = r#"{"calendars":["alice","bob"],"tz":"Asia/Kolkata","format":"view"}"#;
    s.json(Method::POST, "/overlap", None, question, S::OK)
        .await;
    s.json(
        Method::POST,
        "/overlap",
        None,
        r#"{"calendars":"alice"}"#,
        S::BAD_REQUEST,
    )
    .await;
    s.call(
        Method::DELETE,
        "/groups/team",
        admin,
        None,
        &[],
        S::NO_CONTENT,
    )
    .await;
    s.call(
        Method::DELETE,
        "/groups/team",
        admin,
        None,
        &[],
        S::NOT_FOUND,
    )
    .await;
}

/// Removing a calendar.
pub(super) async fn removal(s: &mut Session<'_>, admin: Option<&str>, alice: Option<&str>) {
    s.call(
        Method::DELETE,
        "/calendars/alice",
        alice,
        None,
        &[],
        S::FORBIDDEN,
    )
    .await;
    s.call(
        Method::DELETE,
        "/calendars/alice",
        admin,
        None,
        &[],
        S::NO_CONTENT,
    )
    .await;
    s.call(
        Method::DELETE,
        "/calendars/alice",
        admin,
        None,
        &[],
        S::NOT_FOUND,
    )
    .await;
}

/// Webhook endpoints: made (by an admin key and by a calendar's), listed, tried, their
/// deliveries read, removed; and refused.
pub(super) async fn webhooks(s: &mut Session<'_>, admin: Option<&str>, alice: Option<&str>) {
    // Nothing listens on port 9 of loopback (which the test server allows): a test event
    // is refused there, and no packet leaves the machine.
    let url = "https://127.0.0.1:9/hook";
    let new = json!({ "url": url, "events": ["calendar.deleted"], "calendars": ["alice"] });
    let made = s
        .json(
            Method::POST,
            "/webhooks",
            alice,
            &new.to_string(),
            S::CREATED,
        )
        .await;
    let id = made.json()["id"].as_str().unwrap().to_owned();
    let everyone = json!({ "url": url, "events": ["booking.created"] });
    s.json(
        Method::POST,
        "/webhooks",
        alice,
        &everyone.to_string(),
        S::FORBIDDEN,
    )
    .await;
    let private = json!({ "url": "https://10.0.0.1/", "events": ["booking.created"] });
    s.json(
        Method::POST,
        "/webhooks",
        admin,
        &private.to_string(),
        S::UNPROCESSABLE_ENTITY,
    )
    .await;
    s.call(Method::GET, "/webhooks", admin, None, &[], S::OK)
        .await;
    s.call(
        Method::GET,
        "/webhooks?calendar=alice",
        alice,
        None,
        &[],
        S::OK,
    )
    .await;
    s.get("/webhooks", S::UNAUTHORIZED).await;
    let tried = s
        .call(
            Method::POST,
            &format!("/webhooks/{id}/test"),
            alice,
            None,
            &[],
            S::OK,
        )
        .await;
    assert_eq!(tried.json()["delivered"], false, "{}", tried.text());
    s.call(
        Method::POST,
        "/webhooks/wh-0/test",
        admin,
        None,
        &[],
        S::NOT_FOUND,
    )
    .await;
    let path = format!("/webhooks/{id}/deliveries");
    s.call(Method::GET, &path, alice, None, &[], S::OK).await;
    s.call(
        Method::GET,
        "/webhooks/wh-0/deliveries",
        admin,
        None,
        &[],
        S::NOT_FOUND,
    )
    .await;
    let path = format!("/webhooks/{id}");
    s.call(Method::DELETE, &path, alice, None, &[], S::NO_CONTENT)
        .await;
    s.call(Method::DELETE, &path, admin, None, &[], S::NOT_FOUND)
        .await;
}

/// The pattern history: listed, its oldest version restored, a version it does not keep
/// refused, and both refused without a key.
pub(super) async fn history(s: &mut Session<'_>, alice: Option<&str>) {
    let listed = s
        .call(
            Method::GET,
            "/calendars/alice/history",
            alice,
            None,
            &[],
            S::OK,
        )
        .await;
    let listed: serde_json::Value = serde_json::from_slice(&listed.body).expect("JSON");
    let versions = listed["versions"].as_array().expect("versions");
    assert!(versions.len() >= 2, "the week was written: {listed}");
    let oldest = versions.last().expect("a version")["version"]
        .as_u64()
        .expect("a version number");
    s.get("/calendars/alice/history", S::UNAUTHORIZED).await;
    let path = "/calendars/alice/availability/restore";
    s.json(
        Method::POST,
        path,
        alice,
        &format!(r#"{{"version":{oldest}}}"#),
        S::OK,
    )
    .await;
    s.json(
        Method::POST,
        path,
        alice,
        r#"{"version":999999}"#,
        S::UNPROCESSABLE_ENTITY,
    )
    .await;
    s.json(
        Method::POST,
        path,
        None,
        r#"{"version":1}"#,
        S::UNAUTHORIZED,
    )
    .await;
}
