//! Group booking types, group slots and group bookings over HTTPS: types defined by the admin
//! with their zone, the starts a meeting (every member) or a round robin (any member) offers,
//! each offered start booking with 201 and every other start of the grid refused with 409
//! naming the rule, parts on every member's calendar, a move and a cancel as one, and racers
//! for meetings that share a member giving one winner.

use std::time::{SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Datelike, NaiveDate, Weekday};
use http::{Method, StatusCode, Version};
use serde_json::{json, Value};

use crate::support::{Client, TestServer, JSON};

/// Monday to Friday, 09:00 to 17:00 available.
const OFFICE: &str = r#"{"updates":[
    {"day":"monday","from":"09:00","to":"17:00","status":"available"},
    {"day":"tuesday","from":"09:00","to":"17:00","status":"available"},
    {"day":"wednesday","from":"09:00","to":"17:00","status":"available"},
    {"day":"thursday","from":"09:00","to":"17:00","status":"available"},
    {"day":"friday","from":"09:00","to":"17:00","status":"available"}]}"#;

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn unix(text: &str) -> i64 {
    DateTime::parse_from_rfc3339(text).unwrap().timestamp()
}

fn utc(unix: i64) -> String {
    DateTime::from_timestamp(unix, 0)
        .unwrap()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// A Wednesday at least three days ahead.
fn wednesday() -> NaiveDate {
    let mut date = DateTime::from_timestamp(now() + 3 * 86_400, 0)
        .unwrap()
        .date_naive();
    while date.weekday() != Weekday::Wed {
        date = date.succ_opt().unwrap();
    }
    date
}

/// Members in Paris and New York with office hours, group `team` of them, and a 60-minute
/// type every 30 minutes on UTC's clock with 15 minutes kept free after.
async fn team(server: &TestServer) -> Client {
    let client = server.client(Version::HTTP_2);
    for (id, zone) in [("ana", "Europe/Paris"), ("ben", "America/New_York")] {
        let key = server.create_calendar(id, zone).await;
        let path = format!("/calendars/{id}/availability");
        let r = client.json(Method::PUT, &path, &key, OFFICE).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    }
    let r = client
        .json(
            Method::PUT,
            "/groups/team",
            &server.admin,
            r#"{"members":["ana","ben"]}"#,
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let body = json!({ "duration": 60, "interval": 30, "buffer_after": 15, "label": "Sync" });
    let r = client
        .json(
            Method::PUT,
            "/groups/team/booking-types/sync",
            &server.admin,
            &body.to_string(),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_eq!(r.json()["timezone"], "UTC");
    client
}

async fn group_slots(client: &Client, query: &str) -> Vec<(i64, u64)> {
    let r = client.get(&format!("/groups/team/slots?{query}")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    r.json()["slots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let start = unix(s["start"].as_str().unwrap());
            assert_eq!(unix(s["end"].as_str().unwrap()), start + 3600);
            (start, s["free"].as_u64().unwrap())
        })
        .collect()
}

async fn book(client: &Client, key: &str, start: i64, mode: &str) -> crate::support::Resp {
    let body = json!({ "type": "sync", "start": utc(start), "mode": mode });
    client
        .json(
            Method::POST,
            "/groups/team/bookings",
            key,
            &body.to_string(),
        )
        .await
}

#[tokio::test]
async fn group_types_are_the_admins_and_checked_by_field() {
    let server = TestServer::start().await;
    let client = team(&server).await;
    let key = server.create_calendar("kai", "UTC").await;
    let path = "/groups/team/booking-types/call";
    let r = client
        .json(Method::PUT, path, &key, r#"{"duration":30}"#)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());
    for (body, field) in [
        (
            json!({ "duration": 30, "timezone": "Mars/Base" }),
            "timezone",
        ),
        (json!({ "duration": 30, "timezone": 5 }), "timezone"),
        (json!({ "duration": 4 }), "duration"),
        (json!({ "duration": 30, "members": 2 }), "members"),
    ] {
        let r = client
            .json(Method::PUT, path, &server.admin, &body.to_string())
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(r.json()["field"], field, "{body}");
    }
    let body = json!({ "duration": 30, "timezone": "Asia/Kathmandu" });
    let r = client
        .json(Method::PUT, path, &server.admin, &body.to_string())
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let r = client.get("/groups/team/booking-types").await;
    assert_eq!(r.status, StatusCode::OK);
    let listed = r.json();
    let names: Vec<&str> = listed["booking_types"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["call", "sync"]);
    assert_eq!(client.get(path).await.json()["timezone"], "Asia/Kathmandu");
    let r = client.authed(Method::DELETE, path, &server.admin).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(client.get(path).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn every_offered_start_books_and_every_other_is_refused_by_a_rule() {
    let server = TestServer::start().await;
    let client = team(&server).await;
    let date = wednesday();
    let query = format!("type=sync&mode=all&from={date}&to={date}");
    let offered = group_slots(&client, &query).await;
    // Paris 09:00-17:00 and New York 09:00-17:00 overlap 13:00-15:00 UTC (in summer time,
    // 13:00-15:00 or 14:00-16:00 otherwise): one-hour meetings on the half hour fit between.
    assert!(!offered.is_empty(), "{query}");
    assert!(offered.iter().all(|(_, free)| *free == 2));
    let midnight = date.and_hms_opt(0, 0, 0).unwrap().and_utc().timestamp();
    for k in 0..48 {
        let start = midnight + k * 1800;
        let r = book(&client, &server.admin, start, "all").await;
        if offered.iter().any(|(s, _)| *s == start) {
            assert_eq!(
                r.status,
                StatusCode::CREATED,
                "{}: {}",
                utc(start),
                r.text()
            );
            let made = r.json();
            assert_eq!(made["parts"].as_array().unwrap().len(), 2);
            let path = format!("/groups/team/bookings/{}", made["id"].as_str().unwrap());
            let r = client.authed(Method::DELETE, &path, &server.admin).await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        } else {
            assert_eq!(
                r.status,
                StatusCode::CONFLICT,
                "{}: {}",
                utc(start),
                r.text()
            );
            assert!(r.json()["rule"].is_string(), "{}", r.text());
        }
    }
    // Any member: more starts, each naming how many could take it.
    let any = group_slots(
        &client,
        &format!("type=sync&mode=any&from={date}&to={date}"),
    )
    .await;
    assert!(any.len() > offered.len());
    for (start, free) in &any {
        let both = offered.iter().any(|(s, _)| s == start);
        assert_eq!(*free, if both { 2 } else { 1 }, "{}", utc(*start));
    }
}

#[tokio::test]
async fn a_meeting_is_on_every_calendar_and_moves_and_cancels_as_one() {
    let server = TestServer::start().await;
    let client = team(&server).await;
    let date = wednesday();
    let offered = group_slots(&client, &format!("type=sync&from={date}&to={date}")).await;
    let start = offered[0].0;
    let r = client
        .call(
            Method::POST,
            "/groups/team/bookings",
            None,
            &[JSON],
            json!({ "type": "sync", "start": utc(start) }).to_string(),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "not public: {}", r.text());
    let r = book(&client, &server.admin, start, "all").await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let made = r.json();
    let location = r.header("location").unwrap().to_owned();
    assert_eq!(made["label"], Value::Null);
    assert_eq!(made["mode"], "all");
    // Each member's calendar holds its part.
    let parts = made["parts"].as_array().unwrap().clone();
    for part in &parts {
        let member = part["calendar"].as_str().unwrap();
        let path = format!("/calendars/{member}/bookings?from={}", utc(start - 60));
        let r = client.authed(Method::GET, &path, &server.admin).await;
        let listed = r.json()["bookings"].as_array().unwrap().clone();
        assert!(
            listed.iter().any(|b| b["id"] == part["booking"]),
            "{member}: {listed:?}"
        );
        // ...which moves only with its group.
        let path = format!(
            "/calendars/{member}/bookings/{}",
            part["booking"].as_str().unwrap()
        );
        let body = json!({ "start": utc(start + 1800), "end": utc(start + 5400) });
        let r = client
            .json(Method::PATCH, &path, &server.admin, &body.to_string())
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    }
    // Taken now, for the group and for either member's own bookings.
    let r = book(&client, &server.admin, start, "all").await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.json()["rule"], "taken");
    // A move the rules refuse (off the grid) leaves it; one they allow moves every part.
    let off = json!({ "start": utc(start + 600) }).to_string();
    let r = client
        .json(Method::PATCH, &location, &server.admin, &off)
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text());
    assert_eq!(r.json()["rule"], "off_grid");
    let later = offered.last().unwrap().0;
    let to = json!({ "start": utc(later) }).to_string();
    let r = client
        .json(Method::PATCH, &location, &server.admin, &to)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(unix(r.json()["start"].as_str().unwrap()), later);
    assert_eq!(r.json()["id"], made["id"]);
    let r = client.authed(Method::GET, &location, &server.admin).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(unix(r.json()["start"].as_str().unwrap()), later);
    let path = format!("/groups/team/bookings?from={}", utc(start - 86_400));
    let r = client.authed(Method::GET, &path, &server.admin).await;
    assert_eq!(r.json()["bookings"].as_array().unwrap().len(), 1);
    // The later start is taken now; the earlier one is free again (or within the buffer).
    let now_offered = group_slots(&client, &format!("type=sync&from={date}&to={date}")).await;
    assert!(!now_offered.iter().any(|(s, _)| *s == later));
    let r = book(&client, &server.admin, start, "all").await;
    if now_offered.iter().any(|(s, _)| *s == start) {
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        let again = format!("/groups/team/bookings/{}", r.json()["id"].as_str().unwrap());
        let r = client.authed(Method::DELETE, &again, &server.admin).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    } else {
        assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text());
        assert_eq!(r.json()["rule"], "buffer", "{}", r.text());
    }
    let r = client
        .authed(Method::DELETE, &location, &server.admin)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let r = client.authed(Method::GET, &location, &server.admin).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    for part in &parts {
        let member = part["calendar"].as_str().unwrap();
        let path = format!("/calendars/{member}/bookings?from={}", utc(start - 60));
        let r = client.authed(Method::GET, &path, &server.admin).await;
        assert_eq!(r.json()["bookings"], json!([]), "{member}");
    }
}

#[tokio::test]
async fn a_round_robin_names_its_member_and_takes_turns() {
    let server = TestServer::start().await;
    let client = team(&server).await;
    let date = wednesday();
    let offered = group_slots(
        &client,
        &format!("type=sync&mode=all&from={date}&to={date}"),
    )
    .await;
    let mut chosen = Vec::new();
    for (start, _) in [offered[0], offered[offered.len() - 1]] {
        let r = book(&client, &server.admin, start, "any").await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        let made = r.json();
        assert_eq!(made["mode"], "any");
        let parts = made["parts"].as_array().unwrap();
        assert_eq!(parts.len(), 1);
        chosen.push(parts[0]["calendar"].as_str().unwrap().to_owned());
    }
    assert_eq!(chosen, ["ana", "ben"]);
}

#[tokio::test]
async fn racers_for_meetings_that_share_a_member_give_one_winner() {
    let server = TestServer::start().await;
    let client = team(&server).await;
    let key = server.create_calendar("kai", "Europe/London").await;
    let r = client
        .json(Method::PUT, "/calendars/kai/availability", &key, OFFICE)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = client
        .json(
            Method::PUT,
            "/groups/pair",
            &server.admin,
            r#"{"members":["kai","ben"]}"#,
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let body = json!({ "duration": 60, "interval": 30 }).to_string();
    let r = client
        .json(
            Method::PUT,
            "/groups/pair/booking-types/sync",
            &server.admin,
            &body,
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let date = wednesday();
    let offered = group_slots(&client, &format!("type=sync&from={date}&to={date}")).await;
    let start = offered[0].0;
    let racers: Vec<_> = (0..16)
        .map(|i| {
            let client = server.client(Version::HTTP_2);
            let admin = server.admin.clone();
            let group = if i % 2 == 0 { "team" } else { "pair" };
            tokio::spawn(async move {
                let body = json!({ "type": "sync", "start": utc(start) }).to_string();
                let path = format!("/groups/{group}/bookings");
                client.json(Method::POST, &path, &admin, &body).await.status
            })
        })
        .collect();
    let mut won = 0;
    for racer in racers {
        let status = racer.await.unwrap();
        assert!(
            status == StatusCode::CREATED || status == StatusCode::CONFLICT,
            "{status}"
        );
        won += usize::from(status == StatusCode::CREATED);
    }
    assert_eq!(won, 1);
    let path = format!("/calendars/ben/bookings?from={}", utc(start - 60));
    let r = client.authed(Method::GET, &path, &server.admin).await;
    assert_eq!(r.json()["bookings"].as_array().unwrap().len(), 1);
}
