//! Bookings over HTTPS: claiming spans of real time, seeing them in views, listing and
//! cancelling them; conflicts, `book` keys, public calendars and idempotent retries.

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

/// 64 clients at once claim overlapping one-hour spans: every answer is 201 or 409, the
/// winners hold disjoint slots, and the store holds exactly the winners.
#[tokio::test]
async fn concurrent_overlapping_claims_get_one_booking_per_slot() {
    let server = TestServer::start_tweaked(|config| {
        let loose = availability_server::limit::Rate {
            per_minute: 60_000,
            burst: 1000,
        };
        config.rates.key_write = loose;
        config.rates.write = loose;
    })
    .await;
    let key = always(&server, "rush").await;
    let base = ahead(5);
    let mut tasks = Vec::new();
    for i in 0..64_i64 {
        let version = VERSIONS[usize::try_from(i % 2).unwrap()];
        let c = server
            .client(version)
            .from(&format!("127.0.0.{}", 2 + i % 8));
        let key = key.clone();
        let start = base + (i % 8) * 1800;
        tasks.push(tokio::spawn(async move {
            let body = span(&at(start, 0), &at(start + HOUR, 0), None);
            book(&c, "rush", Some(&key), &body, None).await
        }));
    }
    let mut won: Vec<serde_json::Value> = Vec::new();
    let mut refused = 0;
    for task in tasks {
        let r = task.await.unwrap();
        match r.status {
            StatusCode::CREATED => won.push(r.json()),
            StatusCode::CONFLICT => {
                r.problem(StatusCode::CONFLICT);
                refused += 1;
            }
            other => panic!("{other}: {}", r.text()),
        }
    }
    // Nine half hours hold at most four one-hour spans.
    assert!((1..=4).contains(&won.len()), "{won:?}");
    assert_eq!(won.len() + refused, 64);
    let mut held = std::collections::HashSet::new();
    for booking in &won {
        for slot in booking["slots"].as_array().unwrap() {
            assert!(held.insert(slot.to_string()), "{slot} held twice");
        }
    }
    let c = server.client(Version::HTTP_2);
    let list = c
        .authed(Method::GET, "/calendars/rush/bookings", &key)
        .await
        .json();
    assert_eq!(list["bookings"].as_array().unwrap().len(), won.len());
}

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

/// A retry with the same `Idempotency-Key` and body gets the same answer and books nothing
/// more, also after a restart; the same key with another body is 422.
#[tokio::test]
async fn an_idempotent_retry_gets_the_first_answer_also_after_a_restart() {
    let server = TestServer::start().await;
    let key = always(&server, "retry").await;
    let start = ahead(0);
    let body = span(&at(start, 0), &at(start + HOUR, 0), Some("retried"));
    let mut first = None;
    for version in VERSIONS {
        let c = server.client(version);
        let r = book(&c, "retry", Some(&key), &body, Some("order-17")).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        let first = first.get_or_insert_with(|| r.body.clone());
        assert_eq!(&r.body, first);
        assert!(r.header("location").is_some());
    }
    let c = server.client(Version::HTTP_11);
    let other = span(&at(start + HOUR, 0), &at(start + 2 * HOUR, 0), None);
    let detail = book(&c, "retry", Some(&key), &other, Some("order-17"))
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY);
    assert!(detail.contains("Idempotency-Key"), "{detail}");
    book(&c, "retry", Some(&key), &other, Some(&"k".repeat(256)))
        .await
        .problem(StatusCode::BAD_REQUEST);

    let server = server.restart().await;
    let c = server.client(Version::HTTP_2);
    let r = book(&c, "retry", Some(&key), &body, Some("order-17")).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_eq!(Some(&r.body), first.as_ref());
    let list = c
        .authed(Method::GET, "/calendars/retry/bookings", &key)
        .await
        .json();
    assert_eq!(list["bookings"].as_array().unwrap().len(), 1, "{list}");
    // Without the key, the same body is a new request, and the slots are taken.
    book(&c, "retry", Some(&key), &body, None)
        .await
        .problem(StatusCode::CONFLICT);
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

/// A conflict names the first slot in the owner's time and the requester's, and what
/// refused it; never the other booking's label.
#[tokio::test]
async fn a_conflict_names_the_owner_slot_and_never_the_holders_label() {
    let server = TestServer::start().await;
    let key = always(&server, "clash").await;
    let c = server.client(Version::HTTP_2);
    let start = ahead(0);
    let r = book(
        &c,
        "clash",
        Some(&key),
        &span(
            &at(start, 0),
            &at(start + HOUR, 0),
            Some("secret interview"),
        ),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());

    // From New York's winter offset, half an hour earlier, overlapping the second half hour
    // of the requested span.
    let r = book(
        &c,
        "clash",
        Some(&key),
        &span(&at(start - 1800, -5), &at(start + 1800, -5), None),
        None,
    )
    .await;
    let detail = r.problem(StatusCode::CONFLICT);
    let (date, time) = wall(start, 9);
    assert!(detail.contains(&date) && detail.contains(&time), "{detail}");
    assert!(detail.contains("Asia/Tokyo"), "{detail}");
    assert!(detail.contains(&at(start, -5)), "{detail}");
    assert!(detail.contains("already booked"), "{detail}");
    assert!(!r.text().contains("secret"), "{}", r.text());
    let conflict = &r.json()["conflict"];
    assert_eq!(conflict["date"], date.as_str());
    assert_eq!(conflict["time"], time.as_str());
    assert_eq!(conflict["timezone"], "Asia/Tokyo");
    assert_eq!(conflict["reason"], "booked");

    // The availability refuses too: a date overridden to one maybe hour.
    let later = start + 48 * HOUR;
    let (day, _) = wall(later, 9);
    let r = c
        .json(
            Method::PUT,
            &format!("/calendars/clash/overrides/{day}"),
            &key,
            r#"{"updates":[{"from":"10:00","to":"11:00","status":"maybe"}]}"#,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let ten = chrono::NaiveDate::parse_from_str(&day, "%Y-%m-%d")
        .unwrap()
        .and_hms_opt(1, 0, 0) // 10:00 in Tokyo
        .unwrap()
        .and_utc()
        .timestamp();
    let r = book(
        &c,
        "clash",
        Some(&key),
        &span(&at(ten, 9), &at(ten + HOUR, 9), None),
        None,
    )
    .await;
    let detail = r.problem(StatusCode::CONFLICT);
    assert!(detail.contains("maybe"), "{detail}");
    assert_eq!(r.json()["conflict"]["reason"], "maybe");
    let r = book(
        &c,
        "clash",
        Some(&key),
        &span(&at(ten + 2 * HOUR, 9), &at(ten + 3 * HOUR, 9), None),
        None,
    )
    .await;
    let detail = r.problem(StatusCode::CONFLICT);
    assert!(detail.contains("not available"), "{detail}");
    assert!(detail.contains("12:00"), "{detail}");
    assert_eq!(r.json()["conflict"]["reason"], "unavailable");
}

/// A repeat that arrives while the first request with its key is still being answered is
/// 409; once that one is done, the key is free again.
#[tokio::test]
async fn a_repeat_while_the_first_is_running_is_409() {
    use availability_server::idempotency::{self, Start};

    let server = TestServer::start().await;
    let key = always(&server, "busy").await;
    let start = ahead(0);
    let body = span(&at(start, 0), &at(start + HOUR, 0), None);
    // Hold the key as a request being answered would.
    let (parts, ()) = http::Request::builder()
        .method(Method::POST)
        .uri("/calendars/busy/bookings")
        .header("idempotency-key", "slow-1")
        .body(())
        .unwrap()
        .into_parts();
    let principal = format!("key:{}", availability_server::auth::key_id(&key).unwrap());
    let running = idempotency::start(
        &server.app.answering,
        &server.app.store,
        &parts,
        principal,
        body.as_bytes(),
    )
    .unwrap();
    assert!(matches!(running, Start::Fresh(Some(_))));
    let c = server.client(Version::HTTP_2);
    let detail = book(&c, "busy", Some(&key), &body, Some("slow-1"))
        .await
        .problem(StatusCode::CONFLICT);
    assert!(detail.contains("still being answered"), "{detail}");
    drop(running);
    let r = book(&c, "busy", Some(&key), &body, Some("slow-1")).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
}

/// A zone change that would make two bookings share a slot is refused with 409 (the store
/// refuses it), and nothing changes.
#[tokio::test]
async fn a_zone_change_that_would_merge_bookings_is_409() {
    let server = TestServer::start().await;
    let key = always(&server, "shift").await;
    let c = server.client(Version::HTTP_11);
    let start = ahead(0);
    for hour in 0..2 {
        let from = start + hour * HOUR;
        let r = book(
            &c,
            "shift",
            Some(&key),
            &span(&at(from, 0), &at(from + HOUR, 0), None),
            None,
        )
        .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    }
    let before = c.get("/calendars/shift").await.json();
    // Kathmandu is UTC+05:45: both hours touch the half hour that holds their boundary.
    let detail = c
        .json(
            Method::PATCH,
            "/calendars/shift",
            &key,
            r#"{"timezone":"Asia/Kathmandu","booking":"public"}"#,
        )
        .await
        .problem(StatusCode::CONFLICT);
    assert!(!detail.is_empty());
    assert_eq!(c.get("/calendars/shift").await.json(), before);
    // A zone that keeps them apart is fine, with the policy in the same request.
    let r = c
        .json(
            Method::PATCH,
            "/calendars/shift",
            &key,
            r#"{"timezone":"Asia/Kolkata","booking":"public"}"#,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["timezone"], "Asia/Kolkata");
    assert_eq!(r.json()["booking"], "public");
}
