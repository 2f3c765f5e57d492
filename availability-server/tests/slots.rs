//! Booking types and slots over HTTPS: types defined and checked field by field, the starts a
//! type offers in the viewer's zone across a DST change, every offered start booking with 201
//! and the rest refused with 409 naming the rule, `format=ics`, entity tags, and a reschedule
//! that moves a booking or leaves it.

use std::time::{SystemTime, UNIX_EPOCH};

use chrono::{DateTime, NaiveDate};
use http::{Method, StatusCode, Version};
use serde_json::{json, Value};

use crate::support::{Client, TestServer};

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

/// The Monday at least `days` days ahead, as a date.
fn monday_after(days: i64) -> NaiveDate {
    let mut date = DateTime::from_timestamp(now() + days * 86_400, 0)
        .unwrap()
        .date_naive();
    while chrono::Datelike::weekday(&date) != chrono::Weekday::Mon {
        date = date.succ_opt().unwrap();
    }
    date
}

/// A calendar in `zone` with office hours; returns its key.
async fn office(server: &TestServer, id: &str, zone: &str) -> String {
    let key = server.create_calendar(id, zone).await;
    let r = server
        .client(Version::HTTP_11)
        .json(
            Method::PUT,
            &format!("/calendars/{id}/availability"),
            &key,
            OFFICE,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    key
}

async fn put_type(client: &Client, id: &str, key: &str, name: &str, body: Value) -> Value {
    let r = client
        .json(
            Method::PUT,
            &format!("/calendars/{id}/booking-types/{name}"),
            key,
            &body.to_string(),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.text());
    r.json()
}

async fn slots(client: &Client, id: &str, query: &str) -> Vec<(String, String)> {
    let r = client.get(&format!("/calendars/{id}/slots?{query}")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    r.json()["slots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["start"].as_str().unwrap().to_owned(),
                s["end"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn types_are_defined_field_by_field_and_refused_by_name() {
    let server = TestServer::start().await;
    let key = office(&server, "ana", "Europe/Paris").await;
    let client = server.client(Version::HTTP_2);
    let path = "/calendars/ana/booking-types/intro";
    for (body, field) in [
        (json!({}), "duration"),
        (json!({ "duration": 4 }), "duration"),
        (json!({ "duration": 30, "interval": 1441 }), "interval"),
        (json!({ "duration": 30, "interval": "15" }), "interval"),
        (json!({ "duration": 30.5 }), "duration"),
        (
            json!({ "duration": 30, "buffer_after": 721 }),
            "buffer_after",
        ),
        (json!({ "duration": 30, "horizon": 0 }), "horizon"),
        (json!({ "duration": 30, "horizon": 731 }), "horizon"),
        (json!({ "duration": 30, "per_day": 0 }), "per_day"),
        (json!({ "duration": 30, "notice": -5 }), "notice"),
        (json!({ "duration": 30, "label": "a\u{7}b" }), "label"),
        (json!({ "duration": 30, "colour": "red" }), "colour"),
    ] {
        let r = client
            .json(Method::PUT, path, &key, &body.to_string())
            .await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            r.text()
        );
        assert_eq!(r.json()["field"], field, "{body}: {}", r.text());
    }
    let r = client
        .json(
            Method::PUT,
            "/calendars/ana/booking-types/Intro",
            &key,
            r#"{"duration":30}"#,
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    assert_eq!(r.json()["field"], "name");
    // Without a key: refused; with it: 201, then 200 for a replacement.
    let r = client
        .json(Method::PUT, path, "", r#"{"duration":30}"#)
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text());
    let body = r#"{"duration":30,"interval":15,"buffer_before":5,"notice":120,"label":"Intro"}"#;
    let r = client.json(Method::PUT, path, &key, body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let etag = r.header("etag").unwrap().to_owned();
    let shown = r.json();
    for (field, value) in [
        ("name", json!("intro")),
        ("duration", json!(30)),
        ("interval", json!(15)),
        ("buffer_before", json!(5)),
        ("buffer_after", json!(0)),
        ("notice", json!(120)),
        ("horizon", json!(60)),
        ("label", json!("Intro")),
    ] {
        assert_eq!(shown[field], value, "{field}: {shown}");
    }
    assert!(shown.get("per_day").is_none(), "{shown}");
    let r = client.get_with(path, &[]).await;
    assert_eq!(r.json()["interval"], 15);
    let r = client
        .json(Method::PUT, path, &key, r#"{"duration":45}"#)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_ne!(r.header("etag").unwrap(), etag, "a type change is a change");
    let r = client.get("/calendars/ana/booking-types").await;
    let types = r.json()["booking_types"].clone();
    assert_eq!(types.as_array().unwrap().len(), 1);
    assert_eq!(
        types[0]["interval"], 45,
        "the default interval is the duration"
    );
    let r = client.authed(Method::DELETE, path, &key).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let r = client.get(path).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text());
}

/// Kathmandu (UTC+05:45) office hours seen from New York, over the week the US changes to
/// summer time: the same wall times in Kathmandu are an hour later in New York after it.
#[tokio::test]
async fn slots_follow_the_viewers_dst_change_and_each_books() {
    let server = TestServer::start().await;
    let key = office(&server, "ravi", "Asia/Kathmandu").await;
    let client = server.client(Version::HTTP_2);
    put_type(
        &client,
        "ravi",
        &key,
        "call",
        json!({ "duration": 30, "horizon": 730 }),
    )
    .await;
    // The Sunday the US changes (2027-03-14, 2028-03-12, ...), the next one ahead.
    let sunday = (2027..2030)
        .map(|y| {
            let march = NaiveDate::from_ymd_opt(y, 3, 8).unwrap();
            (0..7)
                .map(|d| march + chrono::Days::new(d))
                .find(|d| chrono::Datelike::weekday(d) == chrono::Weekday::Sun)
                .unwrap()
        })
        .find(|d| d.and_hms_opt(0, 0, 0).unwrap().and_utc().timestamp() > now() + 86_400)
        .unwrap();
    let (friday, tuesday) = (sunday - chrono::Days::new(2), sunday + chrono::Days::new(2));
    let query = format!("type=call&tz=America/New_York&from={friday}&to={tuesday}");
    let offered = slots(&client, "ravi", &query).await;
    // Friday 09:00 in Kathmandu is Thursday 22:15 in New York (EST): not on the viewer's
    // dates; Monday 09:00 there is Sunday 23:15 EDT, on them.
    let first_friday = format!("{}T22:15:00-05:00", friday - chrono::Days::new(1));
    assert!(!offered.iter().any(|(s, _)| *s == first_friday));
    let monday_first = format!("{sunday}T23:15:00-04:00");
    assert!(
        offered.iter().any(|(s, _)| *s == monday_first),
        "{offered:?}"
    );
    // Kathmandu's Friday (16 starts, 22:15 Thursday to 05:45 Friday in New York) gives
    // Friday 12; Monday's begin on Sunday evening there, an hour later on the clock than
    // before the change; Monday and Tuesday each have 14 of their own day and 2 of the next.
    let on = |date: NaiveDate| {
        offered
            .iter()
            .filter(|(s, _)| s.starts_with(&date.to_string()))
            .count()
    };
    assert_eq!(on(friday), 12, "{offered:?}");
    assert_eq!(on(sunday), 2, "{offered:?}");
    assert_eq!(on(tuesday), 16, "{offered:?}");
    assert_eq!(offered.len(), 12 + 2 + 16 + 16, "{offered:?}");
    for (start, end) in &offered {
        assert_eq!(unix(end) - unix(start), 1800);
        assert!(start.ends_with("-05:00") || start.ends_with("-04:00"));
    }
    // Each offered start books; the same start again is taken, naming the rule.
    for (start, _) in offered.iter().step_by(7) {
        let body = json!({ "type": "call", "start": start }).to_string();
        let r = client
            .json(Method::POST, "/calendars/ravi/bookings", &key, &body)
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{start}: {}", r.text());
        assert_eq!(r.json()["type"], "call");
        assert_eq!(unix(r.json()["end"].as_str().unwrap()), unix(start) + 1800);
        let r = client
            .json(Method::POST, "/calendars/ravi/bookings", &key, &body)
            .await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text());
        assert_eq!(r.json()["rule"], "taken", "{}", r.text());
    }
    let after = slots(&client, "ravi", &query).await;
    assert_eq!(
        after.len(),
        offered.len() - offered.iter().step_by(7).count()
    );
    // Off the grid, and outside the office hours.
    let off = unix(&offered[0].0) + 600;
    let body =
        json!({ "type": "call", "start": DateTime::from_timestamp(off, 0).unwrap().to_rfc3339() });
    let r = client
        .json(
            Method::POST,
            "/calendars/ravi/bookings",
            &key,
            &body.to_string(),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text());
    assert_eq!(r.json()["rule"], "off_grid");
    let night = format!("{tuesday}T12:15:00-04:00");
    let body = json!({ "type": "call", "start": night });
    let r = client
        .json(
            Method::POST,
            "/calendars/ravi/bookings",
            &key,
            &body.to_string(),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text());
    assert_eq!(r.json()["rule"], "unavailable", "{}", r.text());
    // The same answer as a VFREEBUSY of FREE periods.
    let r = client
        .get(&format!("/calendars/ravi/slots?{query}&format=ics"))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(
        r.text().matches("FREEBUSY;FBTYPE=FREE:").count(),
        after.len()
    );
}

#[tokio::test]
async fn slots_answers_are_tagged_and_refused_when_malformed() {
    let server = TestServer::start().await;
    let key = office(&server, "bo", "UTC").await;
    let client = server.client(Version::HTTP_11);
    put_type(&client, "bo", &key, "call", json!({ "duration": 60 })).await;
    let monday = monday_after(3);
    let path = format!("/calendars/bo/slots?type=call&from={monday}&to={monday}");
    let r = client.get(&path).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["slots"].as_array().unwrap().len(), 8);
    let etag = r.header("etag").unwrap().to_owned();
    let r = client.get_with(&path, &[("if-none-match", &etag)]).await;
    assert_eq!(r.status, StatusCode::NOT_MODIFIED);
    // A booking changes the answer and its tag.
    let body = json!({ "type": "call", "start": format!("{monday}T09:00:00Z") });
    let r = client
        .json(
            Method::POST,
            "/calendars/bo/bookings",
            &key,
            &body.to_string(),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let r = client.get_with(&path, &[("if-none-match", &etag)]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["slots"].as_array().unwrap().len(), 7);
    for bad in [
        format!("/calendars/bo/slots?from={monday}"),
        format!("/calendars/bo/slots?type=call&from={monday}&to=2031-01-01"),
        format!("/calendars/bo/slots?type=call&from={monday}&to=2020-01-01"),
        "/calendars/bo/slots?type=call&tz=Mars/Olympus".to_owned(),
        "/calendars/bo/slots?type=call&format=csv".to_owned(),
        "/calendars/bo/slots?type=call&from=tomorrow".to_owned(),
    ] {
        let r = client.get(&bad).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}: {}", r.text());
    }
    let r = client.get("/calendars/bo/slots?type=nope").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = client.get("/calendars/nobody/slots?type=call").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_reschedule_moves_the_booking_or_leaves_it() {
    let server = TestServer::start().await;
    let key = office(&server, "cy", "UTC").await;
    let client = server.client(Version::HTTP_2);
    put_type(
        &client,
        "cy",
        &key,
        "call",
        json!({ "duration": 30, "buffer_after": 30, "per_day": 2 }),
    )
    .await;
    let monday = monday_after(3);
    let book = |start: String| json!({ "type": "call", "start": start }).to_string();
    let r = client
        .json(
            Method::POST,
            "/calendars/cy/bookings",
            &key,
            &book(format!("{monday}T09:00:00Z")),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let first = r.json()["id"].as_str().unwrap().to_owned();
    let r = client
        .json(
            Method::POST,
            "/calendars/cy/bookings",
            &key,
            &book(format!("{monday}T11:00:00Z")),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    // A third on the day is over the type's limit.
    let r = client
        .json(
            Method::POST,
            "/calendars/cy/bookings",
            &key,
            &book(format!("{monday}T14:00:00Z")),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text());
    assert_eq!(r.json()["rule"], "per_day");
    let path = format!("/calendars/cy/bookings/{first}");
    // 10:30 ends where the 11:00 booking starts, but its buffer after reaches it.
    let before = client
        .get(&format!(
            "/calendars/cy/slots?type=call&from={monday}&to={monday}"
        ))
        .await;
    let r = client
        .json(
            Method::PATCH,
            &path,
            &key,
            &json!({ "start": format!("{monday}T10:30:00Z") }).to_string(),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text());
    assert_eq!(r.json()["rule"], "buffer");
    let unchanged = client
        .get(&format!(
            "/calendars/cy/slots?type=call&from={monday}&to={monday}"
        ))
        .await;
    assert_eq!(
        unchanged.header("etag"),
        before.header("etag"),
        "nothing moved"
    );
    // Moving within the same day does not count the booking twice against its limit.
    let r = client
        .json(
            Method::PATCH,
            &path,
            &key,
            &json!({ "start": format!("{monday}T15:00:00+00:00") }).to_string(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let moved = r.json();
    assert_eq!(moved["id"], first.as_str());
    assert_eq!(moved["start"], format!("{monday}T15:00:00+00:00"));
    assert_eq!(moved["end"], format!("{monday}T15:30:00+00:00"));
    assert_eq!(moved["type"], "call");
    let r = client
        .json(Method::PATCH, &path, &key, &json!({ "start": format!("{monday}T16:00:00Z"), "end": format!("{monday}T17:00:00Z") }).to_string())
        .await;
    assert_eq!(
        r.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a typed booking keeps its length: {}",
        r.text()
    );
    let r = client
        .json(
            Method::PATCH,
            "/calendars/cy/bookings/999",
            &key,
            &json!({ "start": format!("{monday}T16:00:00Z") }).to_string(),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text());
    let r = client
        .authed(Method::GET, "/calendars/cy/bookings", &key)
        .await;
    let spans: Vec<(String, Value)> = r.json()["bookings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| (b["start"].as_str().unwrap().to_owned(), b["type"].clone()))
        .collect();
    assert_eq!(
        spans,
        [
            (format!("{monday}T11:00:00Z"), json!("call")),
            (format!("{monday}T15:00:00Z"), json!("call"))
        ]
    );
}
