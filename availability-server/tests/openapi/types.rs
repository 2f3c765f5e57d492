//! The answers of onboarding, booking types, slots, bookings by type and reschedules, each
//! checked against its schema: successes and the problems a client meets.

use http::{Method, StatusCode as S};
use serde_json::json;

use super::checker::Session;
use super::instant;

/// Bob's calendar (New York, always available, public booking): a type defined, refused,
/// listed and read; its slots as JSON and iCalendar; a booking by type and one refused by a
/// rule; a move and a refused one; the type removed.
pub(super) async fn booking_types(s: &mut Session<'_>, bob: Option<&str>) {
    let path = "/calendars/bob/booking-types/call";
    let body = r#"{"duration":30,"buffer_after":30,"per_day":1,"label":"Call"}"#;
    s.json(Method::PUT, path, bob, body, S::CREATED).await;
    s.json(Method::PUT, path, bob, body, S::OK).await;
    let bad = r#"{"duration":30,"interval":2}"#;
    let refused = s
        .json(Method::PUT, path, bob, bad, S::UNPROCESSABLE_ENTITY)
        .await;
    assert_eq!(refused.json()["field"], "interval");
    s.json(Method::PUT, path, None, body, S::UNAUTHORIZED).await;
    s.get("/calendars/bob/booking-types", S::OK).await;
    s.get("/calendars/nobody/booking-types", S::NOT_FOUND).await;
    s.get(path, S::OK).await;
    s.get("/calendars/bob/booking-types/nope", S::NOT_FOUND)
        .await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let start = (now / 86_400 + 5) * 86_400 + 15 * 3600;
    let day = &instant(start)[..10];
    let slots = format!("/calendars/bob/slots?type=call&tz=Europe/Paris&from={day}&to={day}");
    s.get(&slots, S::OK).await;
    s.get(&format!("{slots}&format=ics"), S::OK).await;
    s.get("/calendars/bob/slots", S::BAD_REQUEST).await;
    s.get("/calendars/bob/slots?type=nope", S::NOT_FOUND).await;
    let typed = json!({ "type": "call", "start": instant(start) }).to_string();
    let made = s
        .json(
            Method::POST,
            "/calendars/bob/bookings",
            None,
            &typed,
            S::CREATED,
        )
        .await;
    let id = made.json()["id"].as_str().unwrap().to_owned();
    let second = json!({ "type": "call", "start": instant(start + 7200) }).to_string();
    let limit = s
        .json(
            Method::POST,
            "/calendars/bob/bookings",
            None,
            &second,
            S::CONFLICT,
        )
        .await;
    assert_eq!(limit.json()["rule"], "per_day");
    let booking = format!("/calendars/bob/bookings/{id}");
    let later = json!({ "start": instant(start + 3600) }).to_string();
    s.json(Method::PATCH, &booking, bob, &later, S::OK).await;
    let past = json!({ "start": instant(now - 86_400 - now % 3600) }).to_string();
    let refused = s
        .json(Method::PATCH, &booking, bob, &past, S::CONFLICT)
        .await;
    assert_eq!(refused.json()["rule"], "notice");
    s.json(Method::PATCH, &booking, bob, "{}", S::BAD_REQUEST)
        .await;
    s.json(Method::PATCH, &booking, None, &later, S::UNAUTHORIZED)
        .await;
    s.call(Method::DELETE, path, bob, None, &[], S::OK).await;
    s.call(Method::DELETE, path, bob, None, &[], S::NOT_FOUND)
        .await;
}

/// Group `pair` (alice and bob): a group type defined, refused, listed and read; its slots
/// as JSON and iCalendar; a round robin booked and one refused by a rule; the group booking
/// listed, read, moved (and a move refused) and cancelled; the type removed.
pub(super) async fn group_bookings(s: &mut Session<'_>, admin: Option<&str>, alice: Option<&str>) {
    let members = r#"{"members":["alice","bob"]}"#;
    s.json(Method::PUT, "/groups/pair", admin, members, S::CREATED)
        .await;
    let path = "/groups/pair/booking-types/sync";
    let body = r#"{"duration":30,"interval":30,"timezone":"America/New_York","label":"Sync"}"#;
    s.json(Method::PUT, path, admin, body, S::CREATED).await;
    s.json(Method::PUT, path, admin, body, S::OK).await;
    let bad = r#"{"duration":30,"timezone":"Nowhere/Land"}"#;
    let refused = s
        .json(Method::PUT, path, admin, bad, S::UNPROCESSABLE_ENTITY)
        .await;
    assert_eq!(refused.json()["field"], "timezone");
    s.json(Method::PUT, path, None, body, S::UNAUTHORIZED).await;
    s.json(Method::PUT, path, alice, body, S::FORBIDDEN).await;
    s.get("/groups/pair/booking-types", S::OK).await;
    s.get("/groups/nobody/booking-types", S::NOT_FOUND).await;
    s.get(path, S::OK).await;
    s.get("/groups/pair/booking-types/nope", S::NOT_FOUND).await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let day = &instant((now / 86_400 + 5) * 86_400)[..10];
    let slots = format!("/groups/pair/slots?type=sync&mode=any&from={day}&to={day}");
    let offered = s.get(&slots, S::OK).await.json();
    s.get(&format!("{slots}&format=ics"), S::OK).await;
    s.get("/groups/pair/slots", S::BAD_REQUEST).await;
    s.get("/groups/pair/slots?type=nope", S::NOT_FOUND).await;
    let first = offered["slots"][0]["start"].as_str().unwrap().to_owned();
    let start = chrono::DateTime::parse_from_rfc3339(&first)
        .unwrap()
        .timestamp();
    let bookings = "/groups/pair/bookings";
    let made = json!({ "type": "sync", "start": first, "mode": "any" }).to_string();
    let made = s
        .json(Method::POST, bookings, admin, &made, S::CREATED)
        .await;
    let id = made.json()["id"].as_str().unwrap().to_owned();
    let off = json!({ "type": "sync", "start": instant(start + 600) }).to_string();
    let refused = s
        .json(Method::POST, bookings, admin, &off, S::CONFLICT)
        .await;
    assert_eq!(refused.json()["rule"], "off_grid");
    s.call(Method::GET, bookings, admin, None, &[], S::OK).await;
    s.get(bookings, S::UNAUTHORIZED).await;
    let one = format!("{bookings}/{id}");
    s.call(Method::GET, &one, admin, None, &[], S::OK).await;
    s.call(
        Method::GET,
        &format!("{bookings}/9999999"),
        admin,
        None,
        &[],
        S::NOT_FOUND,
    )
    .await;
    let later = json!({ "start": offered["slots"][1]["start"] }).to_string();
    s.json(Method::PATCH, &one, admin, &later, S::OK).await;
    let past = json!({ "start": instant(now - 86_400 - now % 3600) }).to_string();
    let refused = s.json(Method::PATCH, &one, admin, &past, S::CONFLICT).await;
    assert_eq!(refused.json()["rule"], "notice");
    s.call(Method::DELETE, &one, admin, None, &[], S::OK).await;
    s.call(Method::DELETE, &one, admin, None, &[], S::NOT_FOUND)
        .await;
    s.call(Method::DELETE, path, admin, None, &[], S::OK).await;
    s.call(Method::DELETE, path, admin, None, &[], S::NOT_FOUND)
        .await;
}

/// Onboarding: a calendar made without a key, a batch made, and batches refused (an id that
/// exists, a field that is wrong, no admin key).
pub(super) async fn onboarding(s: &mut Session<'_>, admin: Option<&str>) {
    let made = s
        .json(
            Method::POST,
            "/calendars",
            admin,
            r#"{"id":"kiosk","key":false}"#,
            S::CREATED,
        )
        .await;
    assert!(made.json().get("key").is_none());
    let batch = json!({
        "calendars": [
            { "id": "desk-1", "timezone": "Europe/Paris" },
            { "id": "desk-2", "booking": "public", "key": false },
        ]
    })
    .to_string();
    let made = s
        .json(Method::POST, "/calendars:batch", admin, &batch, S::CREATED)
        .await;
    assert_eq!(made.json()["calendars"], json!(["desk-1", "desk-2"]));
    s.json(Method::POST, "/calendars:batch", admin, &batch, S::CONFLICT)
        .await;
    let wrong = r#"{"calendars":[{"id":"desk-3","timezone":"Mars/Olympus"}]}"#;
    let refused = s
        .json(
            Method::POST,
            "/calendars:batch",
            admin,
            wrong,
            S::UNPROCESSABLE_ENTITY,
        )
        .await;
    assert_eq!(refused.json()["field"], "calendars[0].timezone");
    s.json(
        Method::POST,
        "/calendars:batch",
        None,
        wrong,
        S::UNAUTHORIZED,
    )
    .await;
}
