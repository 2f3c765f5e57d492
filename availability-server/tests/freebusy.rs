//! A `VFREEBUSY` gives the owners' real times, exact to the instant, whatever grid the viewer
//! draws: every quarter hour of a week, read from the document by Python's `icalendar`,
//! against the owners' patterns and bookings placed in time by Python's `zoneinfo`
//! (`tests/oracle/ics_oracle.py`), for a calendar and for a group, seen from zones a quarter
//! or half an hour off the owners', in weeks in which the owner's or the viewer's clocks
//! change. Skips loudly without the oracle, as `ics.rs` says.

use availability_core::tz::{IsoWeek, Zone};
use chrono::{DateTime, NaiveDate};
use http::{Method, StatusCode, Version};
use serde_json::{json, Value};

use crate::ics::{change_mondays, oracle, put_pattern, PATTERN};
use crate::support::{Client, TestServer, JSON};

/// What the oracle is told of a calendar: its zone, its pattern and its bookings' spans.
fn owner(zone: &str, bookings: &[(i64, i64)]) -> Value {
    let pattern: Value = serde_json::from_str(PATTERN).unwrap();
    json!({"zone": zone, "pattern": pattern["updates"], "bookings": bookings})
}

/// Checks `path` (a `format=ics` read of the week of `monday` from `viewer`) against `owners`.
async fn check(
    c: &Client,
    test: &str,
    path: &str,
    viewer: &str,
    monday: NaiveDate,
    owners: &[Value],
) -> bool {
    let r = c.get(path).await;
    assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.text());
    let request = json!({
        "mode": "exact",
        "ics": r.text(),
        "viewer": viewer,
        "monday": monday.to_string(),
        "owners": owners,
    });
    let Some(answer) = oracle(test, &request) else {
        return false;
    };
    assert_eq!(answer["wrong"], json!([]), "{path}: {answer}");
    assert_eq!(
        answer["covered"], answer["week"],
        "{path}: the week, no more"
    );
    let checked = answer["checked"].as_u64().unwrap();
    // 672 quarter hours, less the four of an hour the viewer's clocks skip.
    assert!(
        checked == 672 || checked == 668 || checked == 676,
        "{path}: {checked}"
    );
    true
}

#[tokio::test]
async fn every_quarter_hour_is_the_owners_status_at_that_instant() {
    const TEST: &str = "every_quarter_hour_is_the_owners_status_at_that_instant";
    let server = TestServer::start().await;
    let c = server.client(Version::HTTP_11);
    for (id, zone) in [("berlin", "Europe/Berlin"), ("kolkata", "Asia/Kolkata")] {
        let key = server.create_calendar(id, zone).await;
        put_pattern(&c, id, &key).await;
    }
    let year = IsoWeek::current(Zone::UTC).unwrap().year();
    // Berlin's next change of clocks, and a booking on the Monday of its week from 10:15 to
    // 11:00 Berlin time (three quarters of an hour, two owner half hours claimed).
    let next_change = change_mondays("Europe/Berlin", year + 1)[0];
    let start = DateTime::parse_from_rfc3339(&format!("{next_change}T10:15:00+01:00")).unwrap();
    let booked = (start.timestamp(), start.timestamp() + 45 * 60);
    let admin = server.admin.clone();
    let body = json!({"start": start.to_rfc3339(), "end": DateTime::from_timestamp(booked.1, 0).unwrap().to_rfc3339()});
    let r = c
        .call(
            Method::POST,
            "/calendars/berlin/bookings",
            Some(&admin),
            &[JSON],
            body.to_string(),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());

    // Berlin seen from Kathmandu (UTC+05:45) in the weeks of Berlin's changes.
    let mut berlin_weeks = change_mondays("Europe/Berlin", year);
    berlin_weeks.push(next_change);
    for monday in berlin_weeks {
        let path =
            format!("/calendars/berlin/availability?tz=Asia/Kathmandu&week={monday}&format=ics");
        let bookings = if monday == next_change {
            vec![booked]
        } else {
            vec![]
        };
        if !check(
            &c,
            TEST,
            &path,
            "Asia/Kathmandu",
            monday,
            &[owner("Europe/Berlin", &bookings)],
        )
        .await
        {
            return;
        }
    }
    // Kolkata (UTC+05:30) seen from St. John's (UTC-03:30, summer -02:30) in the weeks of
    // St. John's changes: the viewer's clocks skip and repeat an hour.
    for monday in change_mondays("America/St_Johns", year) {
        let path =
            format!("/calendars/kolkata/availability?tz=America/St_Johns&week={monday}&format=ics");
        check(
            &c,
            TEST,
            &path,
            "America/St_Johns",
            monday,
            &[owner("Asia/Kolkata", &[])],
        )
        .await;
    }
    // Both, as a group, from Kathmandu in the week of the booking: each instant is the
    // busiest member's.
    let path = format!(
        "/overlap?calendars=berlin,kolkata&tz=Asia/Kathmandu&week={next_change}&format=ics"
    );
    let owners = [
        owner("Europe/Berlin", &[booked]),
        owner("Asia/Kolkata", &[]),
    ];
    check(&c, TEST, &path, "Asia/Kathmandu", next_change, &owners).await;
}
