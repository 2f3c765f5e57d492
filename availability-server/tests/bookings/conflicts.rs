//! Conflicts: overlapping claims at once make one booking a slot, a conflict names the slot
//! and never the holder's label, and a zone change may not merge two bookings.

use http::{Method, StatusCode, Version};

use super::{ahead, always, at, book, span, wall, HOUR};
use crate::support::{TestServer, VERSIONS};

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
