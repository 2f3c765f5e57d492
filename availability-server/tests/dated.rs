//! Dated data over HTTPS: overrides of owner dates, read back through every view.

use http::{Method, StatusCode};

use crate::support::{Client, TestServer, JSON, VERSIONS};

const NINE_TO_FIVE: &str = r#"{"updates":[
    {"day":"monday","from":"09:00","to":"17:00","status":"available"},
    {"day":"tuesday","from":"09:00","to":"17:00","status":"available"}]}"#;

/// The status of the viewer slot at `day` (0 = Monday) and `time` in a JSON week.
fn status_at(week: &serde_json::Value, day: u64, time: &str) -> String {
    week["slots"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["day"] == day && s["time"] == time)
        .map(|s| s["status"].as_str().unwrap().to_owned())
        .unwrap()
}

async fn put_override(c: &Client, key: &str, date: &str, body: &str) -> crate::support::Resp {
    c.json(
        Method::PUT,
        &format!("/calendars/ny/overrides/{date}"),
        key,
        body,
    )
    .await
}

/// An override of the Monday after New York's spring change, read from Paris (where the
/// clocks change two weeks later): the owner date's slots replace the pattern in every
/// format, the tags change, and removing it restores the pattern.
#[tokio::test]
async fn an_override_replaces_its_date_in_every_view() {
    let server = TestServer::start().await;
    let key = server.create_calendar("ny", "America/New_York").await;
    let c = server.client(http::Version::HTTP_11);
    let r = c
        .json(
            Method::PUT,
            "/calendars/ny/availability",
            &key,
            NINE_TO_FIVE,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let view = "/calendars/ny/availability?tz=Europe/Paris&week=2027-W11";
    let before = c.get(view).await;
    // 09:00-17:00 in New York (UTC-04 from 2027-03-14) is 14:00-22:00 in Paris (UTC+01).
    assert_eq!(status_at(&before.json(), 0, "14:00"), "available");
    let old_tag = before.header("etag").unwrap().to_owned();

    // Only 10:00-11:00, maybe, on Monday 2027-03-15.
    let body = r#"{"updates":[{"from":"10:00","to":"11:00","status":"maybe"}]}"#;
    let r = put_override(&c, &key, "2027-03-15", body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let written = r.json();
    assert_eq!(written["version"], 3);
    assert_eq!(written["date"], "2027-03-15");

    for version in VERSIONS {
        let c = server.client(version);
        let after = c.get(view).await;
        assert_eq!(after.status, StatusCode::OK);
        let week = after.json();
        assert_eq!(week["version"], 3);
        assert_eq!(status_at(&week, 0, "14:00"), "unavailable");
        assert_eq!(status_at(&week, 0, "15:00"), "maybe");
        assert_eq!(status_at(&week, 0, "15:30"), "maybe");
        assert_eq!(status_at(&week, 0, "16:00"), "unavailable");
        // Tuesday keeps the pattern.
        assert_eq!(status_at(&week, 1, "14:00"), "available");
        assert_ne!(after.header("etag"), Some(old_tag.as_str()));
        let stale = c
            .get_with(view, &[("if-none-match", old_tag.as_str())])
            .await;
        assert_eq!(
            stale.status,
            StatusCode::OK,
            "no 304 for the week before the override"
        );

        // The exact intervals and the compact view say the same.
        let intervals = c.get(&format!("{view}&format=intervals")).await.json();
        let first = &intervals["intervals"][0];
        assert_eq!(first["start"], "2027-03-15T15:00:00+01:00", "{intervals}");
        assert_eq!(first["end"], "2027-03-15T16:00:00+01:00");
        assert_eq!(first["status"], "maybe");
        let compact = c.get(&format!("{view}&format=view")).await.json();
        let monday = compact["days"][0]["view"].as_str().unwrap();
        assert_eq!(&monday[28..33], "00110", "{monday}"); // 14:00 to 16:30

        // The listing (public) gives the override as the updates that set it.
        let list = c
            .get("/calendars/ny/overrides?from=2027-03-01&to=2027-03-31")
            .await;
        assert_eq!(list.status, StatusCode::OK, "{}", list.text());
        let list = list.json();
        assert_eq!(
            list["overrides"],
            serde_json::json!([{"date":"2027-03-15","updates":[{"from":"10:00","to":"11:00","status":"maybe"}]}])
        );
    }

    // Refusals: no key, a day in an entry, a date that is not one, a stale tag.
    let path = "/calendars/ny/overrides/2027-03-16";
    let r = c.call(Method::PUT, path, None, &[JSON], body).await;
    r.problem(StatusCode::UNAUTHORIZED);
    let with_day = r#"{"updates":[{"day":"monday","from":"10:00","to":"11:00","status":"maybe"}]}"#;
    let detail = put_override(&c, &key, "2027-03-16", with_day)
        .await
        .problem(StatusCode::BAD_REQUEST);
    assert!(detail.contains("no day"), "{detail}");
    let detail = put_override(&c, &key, "2027-02-30", body)
        .await
        .problem(StatusCode::BAD_REQUEST);
    assert!(detail.contains("YYYY-MM-DD"), "{detail}");
    let stale = c
        .call(
            Method::PUT,
            path,
            Some(&key),
            &[JSON, ("if-match", "\"2\"")],
            body,
        )
        .await;
    stale.problem(StatusCode::PRECONDITION_FAILED);

    // A day off is an empty list; removing the override brings the pattern back.
    let r = put_override(&c, &key, "2027-03-16", r#"{"updates":[]}"#).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let week = c.get(view).await.json();
    assert_eq!(status_at(&week, 1, "14:00"), "unavailable");
    let r = c
        .authed(Method::DELETE, "/calendars/ny/overrides/2027-03-15", &key)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let week = c.get(view).await.json();
    assert_eq!(status_at(&week, 0, "14:00"), "available");
    assert_eq!(week["version"], 5);
    let again = c
        .authed(Method::DELETE, "/calendars/ny/overrides/2027-03-15", &key)
        .await;
    again.problem(StatusCode::NOT_FOUND);

    // After a restart everything reads the same.
    let server = server.restart().await;
    let c = server.client(http::Version::HTTP_2);
    let week = c.get(view).await.json();
    assert_eq!(week["version"], 5);
    assert_eq!(status_at(&week, 1, "14:00"), "unavailable");
    assert_eq!(status_at(&week, 0, "14:00"), "available");
}
