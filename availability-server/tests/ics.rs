//! iCalendar over real TLS: the week as a `VFREEBUSY`, the pattern as a `VAVAILABILITY`, and
//! that pattern put back.
//!
//! The documents are read by an independent parser: Python's `icalendar` package, with
//! dateutil expanding the rules (`tests/oracle/ics_oracle.py`). When python3 or the package is
//! missing, these checks print loudly that they skipped, unless `CI` or
//! `AVAILABILITY_REQUIRE_ORACLES` is set: then a missing oracle fails them. The checks that
//! need no oracle run always.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::process::{Command, Stdio};

use availability_core::tz::{IsoWeek, Zone};
use bytes::Bytes;
use chrono::{NaiveDate, NaiveTime};
use http::{Method, StatusCode, Version};
use serde_json::{json, Value};

use crate::support::{cannot_run, Client, Resp, TestServer, JSON};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/oracle/ics_oracle.py");

/// Monday to Friday 09:00-17:00 available, Monday 17:00-18:00 maybe, Sunday 00:30-04:00
/// available and 04:00-05:00 maybe (across the changes of New York and Paris), Saturday
/// 22:00-24:00 maybe.
pub(crate) const PATTERN: &str = r#"{"updates":[
  {"day":"monday","from":"09:00","to":"17:00","status":"available"},
  {"day":"tuesday","from":"09:00","to":"17:00","status":"available"},
  {"day":"wednesday","from":"09:00","to":"17:00","status":"available"},
  {"day":"thursday","from":"09:00","to":"17:00","status":"available"},
  {"day":"friday","from":"09:00","to":"17:00","status":"available"},
  {"day":"monday","from":"17:00","to":"18:00","status":"maybe"},
  {"day":"sunday","from":"00:30","to":"04:00","status":"available"},
  {"day":"sunday","from":"04:00","to":"05:00","status":"maybe"},
  {"day":"saturday","from":"22:00","to":"24:00","status":"maybe"}]}"#;

/// The oracle's answer to `request`, or `None` (after saying so) when it is not installed.
pub(crate) fn oracle(test: &str, request: &Value) -> Option<Value> {
    let probe = Command::new("python3")
        .args(["-c", "import icalendar, dateutil"])
        .output();
    match probe {
        Ok(out) if out.status.success() => {}
        Ok(out) => {
            let why = format!(
                "the iCalendar oracle is missing (pip install -r \
                 availability-core/tests/oracle/requirements.txt): {}",
                String::from_utf8_lossy(&out.stderr)
            );
            cannot_run(test, &why);
            return None;
        }
        Err(e) => {
            cannot_run(test, &format!("no python3 for the iCalendar oracle ({e})"));
            return None;
        }
    }
    let mut child = Command::new("python3")
        .arg(SCRIPT)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 starts");
    child
        .stdin
        .take()
        .expect("piped")
        .write_all(request.to_string().as_bytes())
        .expect("request written");
    let out = child.wait_with_output().expect("python3 ran");
    assert!(
        out.status.success(),
        "the oracle failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(serde_json::from_slice(&out.stdout).expect("the oracle answers JSON"))
}

pub(crate) async fn put_pattern(c: &Client, id: &str, key: &str) {
    let r = c
        .json(
            Method::PUT,
            &format!("/calendars/{id}/availability"),
            key,
            PATTERN,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
}

async fn put_ics(c: &Client, id: &str, key: &str, body: &str, etag: Option<&str>) -> Resp {
    let mut headers = vec![("content-type", "text/calendar; charset=utf-8")];
    headers.extend(etag.map(|etag| ("if-match", etag)));
    let path = format!("/calendars/{id}/availability");
    c.call(Method::PUT, &path, Some(key), &headers, body.to_owned())
        .await
}

/// The slots (day * 48 + half hour) of a JSON view with `status`.
fn slots_with(view: &Value, status: &str) -> Vec<u64> {
    view["slots"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .filter(|(_, s)| s["status"] == status)
        .map(|(i, _)| i as u64)
        .collect()
}

/// The Mondays of the ISO weeks (in `zone`) in which `zone` changes its offset during `year`.
pub(crate) fn change_mondays(zone: &str, year: i32) -> Vec<NaiveDate> {
    let zone = Zone::new(zone).unwrap();
    let from = NaiveDate::from_ymd_opt(year, 1, 8)
        .unwrap()
        .and_time(NaiveTime::MIN)
        .and_utc()
        .timestamp();
    let to = NaiveDate::from_ymd_opt(year, 12, 20)
        .unwrap()
        .and_time(NaiveTime::MIN)
        .and_utc()
        .timestamp();
    let mondays: Vec<NaiveDate> = zone
        .transitions(from, to)
        .iter()
        .skip(1)
        .map(|&(t, offset)| {
            let local = chrono::DateTime::from_timestamp(t + i64::from(offset), 0)
                .unwrap()
                .date_naive();
            IsoWeek::containing(local).unwrap().monday()
        })
        .collect();
    assert_eq!(mondays.len(), 2, "{zone} changes twice in {year}");
    mondays
}

/// Expanding `availability.ics` for sample weeks, the changes of both owners' zones
/// included, gives back the available (and, from the `X-` component, the maybe) slots of the
/// JSON view in the owner's zone.
#[tokio::test]
async fn the_pattern_expands_to_the_available_slots_of_the_owners_view() {
    let server = TestServer::start().await;
    let c = server.client(Version::HTTP_2);
    for zone in ["America/New_York", "Europe/Paris", "Australia/Lord_Howe"] {
        let id = zone.to_ascii_lowercase().replace(['/', '_'], "-");
        let key = server.create_calendar(&id, zone).await;
        put_pattern(&c, &id, &key).await;
        let r = c.get(&format!("/calendars/{id}/availability.ics")).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        assert_eq!(
            r.header("content-type"),
            Some("text/calendar; charset=utf-8")
        );
        let ics = r.text();
        assert!(ics.contains(&format!("\r\nTZID:{zone}\r\n")), "{ics}");
        assert!(ics.contains("BEGIN:VAVAILABILITY\r\n"));
        // Maybe time is never offered to a standard reader.
        let year = IsoWeek::current(Zone::new(zone).unwrap()).unwrap().year();
        let mut mondays = change_mondays(zone, year);
        mondays.push(NaiveDate::from_ymd_opt(year, 6, 15).unwrap());
        mondays.push(IsoWeek::new(year + 1, 20).unwrap().monday());
        let request = json!({
            "mode": "pattern",
            "ics": ics,
            "zone": zone,
            "mondays": mondays.iter().map(|d| d.to_string()).collect::<Vec<_>>(),
        });
        let Some(answer) = oracle(
            "the_pattern_expands_to_the_available_slots_of_the_owners_view",
            &request,
        ) else {
            return;
        };
        // The VTIMEZONE alone, read by the oracle, gives the offsets zoneinfo gives over the
        // two years it covers.
        let vtimezone = &answer["vtimezone"];
        assert_eq!(vtimezone["wrong"], 0, "{zone}: {vtimezone}");
        assert!(
            vtimezone["checked"].as_u64().unwrap() > 365 * 48,
            "{vtimezone}"
        );
        assert!(
            vtimezone["observances"].as_u64().unwrap() >= 5,
            "{vtimezone}"
        );
        for (monday, week) in mondays.iter().zip(answer["weeks"].as_array().unwrap()) {
            let view = c
                .get(&format!(
                    "/calendars/{id}/availability?tz={zone}&week={monday}"
                ))
                .await
                .json();
            let theirs = |k: &str| -> Vec<u64> {
                week[k]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_u64().unwrap())
                    .collect()
            };
            assert_eq!(
                theirs("available"),
                slots_with(&view, "available"),
                "{zone} {monday}"
            );
            assert_eq!(
                theirs("maybe"),
                slots_with(&view, "maybe"),
                "{zone} {monday}"
            );
            assert!(!theirs("available").is_empty());
        }
    }
}

/// The week's `VFREEBUSY`, read by the oracle, gives back the JSON view's three states slot
/// by slot, also in weeks with a gap or a fold in the viewer's zone.
#[tokio::test]
async fn the_weeks_freebusy_gives_back_all_three_states() {
    let server = TestServer::start().await;
    let c = server.client(Version::HTTP_11);
    let key = server.create_calendar("desk", "America/New_York").await;
    put_pattern(&c, "desk", &key).await;
    let year = IsoWeek::current(Zone::UTC).unwrap().year();
    let mut mondays = change_mondays("Europe/Paris", year);
    mondays.extend(change_mondays("America/New_York", year));
    for monday in mondays {
        let query = format!("tz=Europe/Paris&week={monday}");
        let r = c
            .get(&format!("/calendars/desk/availability?{query}&format=ics"))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        assert_eq!(
            r.header("content-type"),
            Some("text/calendar; charset=utf-8")
        );
        let etag = r.header("etag").unwrap().to_owned();
        let again = c
            .get_with(
                &format!("/calendars/desk/availability?{query}&format=ics"),
                &[("if-none-match", &etag)],
            )
            .await;
        assert_eq!(again.status, StatusCode::NOT_MODIFIED);
        let json_tag = c
            .get(&format!("/calendars/desk/availability?{query}"))
            .await;
        assert_ne!(json_tag.header("etag"), Some(etag.as_str()));
        for line in r.text().split("\r\n") {
            assert!(line.len() <= 75, "{line:?}");
        }
        let request = json!({"mode": "freebusy", "ics": r.text(), "zone": "Europe/Paris"});
        let Some(answer) = oracle("the_weeks_freebusy_gives_back_all_three_states", &request)
        else {
            return;
        };
        let periods = answer["periods"].as_array().unwrap();
        let kinds: BTreeSet<&str> = periods.iter().map(|p| p[2].as_str().unwrap()).collect();
        assert_eq!(
            kinds,
            BTreeSet::from(["BUSY-TENTATIVE", "BUSY-UNAVAILABLE", "FREE"])
        );
        for pair in periods.windows(2) {
            assert_eq!(pair[0][1], pair[1][0], "contiguous");
            assert_ne!(pair[0][2], pair[1][2], "neighbours of one type are merged");
        }
        assert_eq!(answer["start"], periods[0][0]);
        assert_eq!(answer["end"], periods[periods.len() - 1][1]);
        let view = c
            .get(&format!("/calendars/desk/availability?{query}"))
            .await
            .json();
        let theirs: BTreeMap<String, Vec<String>> =
            serde_json::from_value(answer["slots"].clone()).unwrap();
        let mut skipped = 0;
        for slot in view["slots"].as_array().unwrap() {
            let name = format!(
                "{} {}",
                slot["date"].as_str().unwrap(),
                slot["time"].as_str().unwrap()
            );
            let expected = match slot["status"].as_str().unwrap() {
                "available" => "FREE",
                "maybe" => "BUSY-TENTATIVE",
                _ => "BUSY-UNAVAILABLE",
            };
            match theirs.get(&name) {
                Some(kinds) => assert_eq!(kinds, &[expected.to_owned()], "{monday} {name}"),
                None => {
                    // A slot with no real instant: the spring-forward gap.
                    assert_eq!(expected, "BUSY-UNAVAILABLE", "{name}");
                    skipped += 1;
                }
            }
        }
        assert_eq!(theirs.len() + skipped, 336);
        assert!(skipped == 0 || skipped == 2, "{monday}: {skipped}");
    }
}

fn without_stamps(ics: &str) -> String {
    ics.split("\r\n")
        .filter(|l| !l.starts_with("DTSTAMP:"))
        .collect::<Vec<_>>()
        .join("\r\n")
}

/// What `availability.ics` says, `PUT` with `Content-Type: text/calendar` takes back: the
/// week, and so the document, stay the same. Through the JSON path's checks.
#[tokio::test]
async fn the_pattern_put_back_as_icalendar_is_a_fixed_point() {
    let server = TestServer::start().await;
    let c = server.client(Version::HTTP_11);
    let key = server.create_calendar("room", "Europe/Paris").await;
    put_pattern(&c, "room", &key).await;
    let first = c.get("/calendars/room/availability.ics").await;
    let week_before = c
        .get("/calendars/room/availability?tz=Europe/Paris&week=2026-W43")
        .await
        .json();
    // The document's own tag names the version it describes, so If-Match takes it.
    let etag = first.header("etag").unwrap().to_owned();

    // No key: 401; a stale tag: 412; then the current one.
    let typed = [("content-type", "text/calendar")];
    let path = "/calendars/room/availability";
    let r = c
        .call(Method::PUT, path, None, &typed, first.body.clone())
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text());
    let r = put_ics(&c, "room", &key, &first.text(), Some("\"stale\"")).await;
    assert_eq!(r.status, StatusCode::PRECONDITION_FAILED, "{}", r.text());
    let r = put_ics(&c, "room", &key, &first.text(), Some(&etag)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert!(r.header("etag").is_some());

    let second = c.get("/calendars/room/availability.ics").await;
    assert_eq!(
        without_stamps(&second.text()),
        without_stamps(&first.text())
    );
    let week_after = c
        .get("/calendars/room/availability?tz=Europe/Paris&week=2026-W43")
        .await
        .json();
    assert_eq!(week_after["slots"], week_before["slots"]);
    assert_ne!(week_after["version"], week_before["version"]);

    // The same document as another writer prints it (its own folding, order and escapes).
    let request = json!({"mode": "roundtrip", "ics": first.text()});
    if let Some(answer) = oracle(
        "the_pattern_put_back_as_icalendar_is_a_fixed_point",
        &request,
    ) {
        let theirs = answer["ics"].as_str().unwrap();
        assert_ne!(theirs, first.text(), "a different writer");
        let r = put_ics(&c, "room", &key, theirs, None).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        let third = c.get("/calendars/room/availability.ics").await;
        assert_eq!(without_stamps(&third.text()), without_stamps(&first.text()));
    }
}

/// A document that a weekly pattern cannot hold is a 400 naming the property; the week stays.
#[tokio::test]
async fn what_a_pattern_cannot_hold_is_refused_by_name() {
    let server = TestServer::start().await;
    let c = server.client(Version::HTTP_2);
    let key = server.create_calendar("room", "UTC").await;
    put_pattern(&c, "room", &key).await;
    let before = c.get("/calendars/room").await.json()["version"].clone();
    let rule = |rrule: &str| {
        format!(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VAVAILABILITY\r\nBEGIN:AVAILABLE\r\n\
             DTSTART;TZID=Europe/Paris:20260105T090000\r\nDTEND;TZID=Europe/Paris:20260105T170000\r\n\
             {rrule}END:AVAILABLE\r\nEND:VAVAILABILITY\r\nEND:VCALENDAR\r\n"
        )
    };
    for (body, named) in [
        (rule("RRULE:FREQ=MONTHLY\r\n"), "RRULE"),
        (rule(""), "RRULE"),
        (rule("RRULE:FREQ=WEEKLY\r\nRDATE:20260110T090000Z\r\n"), "RDATE"),
        ("BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n".to_owned(), "VAVAILABILITY"),
        ("\u{0}\u{1}garbage".to_owned(), "VCALENDAR"),
        (
            "BEGIN:VCALENDAR\r\nBEGIN:VAVAILABILITY\r\nDTSTART:20260101T000000Z\r\nEND:VAVAILABILITY\r\nEND:VCALENDAR\r\n"
                .to_owned(),
            "DTSTART",
        ),
    ] {
        let r = put_ics(&c, "room", &key, &body, None).await;
        let detail = r.problem(StatusCode::BAD_REQUEST);
        assert!(detail.contains(named), "{named}: {detail}");
    }
    let r = put_ics(&c, "room", &key, "\u{ff}", None).await;
    r.problem(StatusCode::BAD_REQUEST);
    // PATCH edits: it takes no calendar.
    let path = "/calendars/room/availability";
    let calendar = Bytes::from_static(b"BEGIN:VCALENDAR\r\n");
    let typed = [("content-type", "text/calendar")];
    let r = c
        .call(Method::PATCH, path, Some(&key), &typed, calendar.clone())
        .await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    // PUT names both types it takes.
    let plain = [("content-type", "text/plain")];
    let r = c
        .call(Method::PUT, path, Some(&key), &plain, calendar)
        .await;
    let detail = r.problem(StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(detail.contains("text/calendar"), "{detail}");
    // Past the body cap: 413, however many lines.
    let huge = format!(
        "BEGIN:VCALENDAR\r\n{}",
        "X-PAD:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n"
            .repeat(2000)
    );
    let r = put_ics(&c, "room", &key, &huge, None).await;
    r.problem(StatusCode::PAYLOAD_TOO_LARGE);
    // Hostile shapes within the cap: a clear 400, quickly.
    for body in [
        format!("BEGIN:VCALENDAR\r\n{}", "BEGIN:X\r\n".repeat(5000)),
        format!("BEGIN:VCALENDAR\r\nX-A:{}\r\n", " \r\n ".repeat(10_000)),
        format!("BEGIN:VCALENDAR\r\nX-A;{}:1\r\n", "P=\"".repeat(1000)),
    ] {
        let r = put_ics(&c, "room", &key, &body, None).await;
        r.problem(StatusCode::BAD_REQUEST);
    }
    assert_eq!(c.get("/calendars/room").await.json()["version"], before);
    // A rule in another zone is converted into the owner's: 09:00-17:00 Paris in winter is
    // 08:00-16:00 UTC.
    let r = put_ics(
        &c,
        "room",
        &key,
        &rule("RRULE:FREQ=WEEKLY;BYDAY=MO,WE\r\n"),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let view = c
        .get("/calendars/room/availability?week=2026-W02")
        .await
        .json();
    let available = slots_with(&view, "available");
    let expected: Vec<u64> = (16..32).chain(96 + 16..96 + 32).collect();
    assert_eq!(available, expected);
}

/// A group's everyone-status reads as a `VFREEBUSY` too, cached and tagged like its JSON.
#[tokio::test]
async fn a_groups_week_reads_as_freebusy() {
    let server = TestServer::start().await;
    let c = server.client(Version::HTTP_11);
    let a = server.create_calendar("a", "UTC").await;
    let b = server.create_calendar("b", "Europe/London").await;
    put_pattern(&c, "a", &a).await;
    put_pattern(&c, "b", &b).await;
    let r = c
        .json(
            Method::PUT,
            "/groups/pair",
            &server.admin,
            r#"{"members":["a","b"]}"#,
        )
        .await;
    assert!(r.status.is_success(), "{}", r.text());
    let url = "/groups/pair/availability?week=2026-W48&format=ics";
    let r = c.get(url).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(
        r.header("content-type"),
        Some("text/calendar; charset=utf-8")
    );
    let text = r.text();
    // London is UTC in November: both free 09:00-17:00 on weekdays, Monday 17:00-18:00 maybe.
    assert!(text.contains("FREEBUSY;FBTYPE=FREE:20261123T090000Z/20261123T170000Z\r\n"));
    assert!(text.contains("FREEBUSY;FBTYPE=BUSY-TENTATIVE:20261123T170000Z/20261123T180000Z\r\n"));
    assert!(text.contains("DTSTART:20261123T000000Z\r\nDTEND:20261130T000000Z\r\n"));
    let again = c
        .get_with(url, &[("if-none-match", r.header("etag").unwrap())])
        .await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    let overlap = c
        .get("/overlap?calendars=a,b&week=2026-W48&format=ics")
        .await;
    assert_eq!(overlap.body, r.body);
}

/// A booking's real span is `BUSY`; the rest of the half hours it claims are unavailable.
#[tokio::test]
async fn a_booking_reads_as_busy() {
    let server = TestServer::start().await;
    let c = server.client(Version::HTTP_11);
    let key = server.create_calendar("desk", "UTC").await;
    let r = c
        .json(
            Method::PUT,
            "/calendars/desk/availability",
            &key,
            r#"{"updates":[{"day":"tuesday","from":"00:00","to":"24:00","status":"available"}]}"#,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    // Tuesday of the week after next, 10:15-11:00 UTC.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let today = chrono::DateTime::from_timestamp(i64::try_from(now).unwrap(), 0)
        .unwrap()
        .date_naive();
    let next = IsoWeek::containing(today)
        .unwrap()
        .next()
        .unwrap()
        .next()
        .unwrap();
    let tuesday = next.monday() + chrono::Days::new(1);
    let start = format!("{tuesday}T10:15:00Z");
    let end = format!("{tuesday}T11:00:00Z");
    let span = json!({"start": start, "end": end}).to_string();
    let r = c
        .call(
            Method::POST,
            "/calendars/desk/bookings",
            Some(&key),
            &[JSON],
            span,
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let text = c
        .get(&format!(
            "/calendars/desk/availability?week={}&format=ics",
            next.monday()
        ))
        .await
        .text();
    let day = tuesday.format("%Y%m%d").to_string();
    let expected = [
        format!("FREEBUSY;FBTYPE=FREE:{day}T000000Z/{day}T100000Z"),
        format!("FREEBUSY;FBTYPE=BUSY-UNAVAILABLE:{day}T100000Z/{day}T101500Z"),
        format!("FREEBUSY;FBTYPE=BUSY:{day}T101500Z/{day}T110000Z"),
        format!("FREEBUSY;FBTYPE=FREE:{day}T110000Z/"),
    ];
    let mut at = 0;
    for line in expected {
        let found = text[at..]
            .find(&line)
            .unwrap_or_else(|| panic!("{line} in order in {text}"));
        at += found + line.len();
    }
}
