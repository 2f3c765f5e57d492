//! The pattern history over HTTP: each change of the week is a version naming its key and
//! what it changed; a restore makes an old week current as a new version that readers see,
//! with a new `ETag`; a stale `If-Match`, a version not kept and a key of another calendar are
//! refused. On PostgreSQL too (the versions are rows written in the change's transaction).

use http::{Method, StatusCode, Version};

use crate::support::{TestServer, JSON};

/// A day's 48 digits: `digit` from half hour `from` to `to`, `0` elsewhere.
fn day(from: usize, to: usize, digit: char) -> String {
    (0..48)
        .map(|h| if (from..to).contains(&h) { digit } else { '0' })
        .collect()
}

#[tokio::test]
async fn changes_are_versions_and_a_restore_is_a_new_one() {
    let server = TestServer::start().await;
    let client = server.client(Version::HTTP_11);
    let key = server.create_calendar("room", "Europe/Paris").await;
    let other = server.create_calendar("hall", "UTC").await;
    let keys = client
        .authed(Method::GET, "/calendars/room/keys", &key)
        .await
        .json();
    let key_id = keys["keys"][0]["key_id"]
        .as_str()
        .expect("a key id")
        .to_owned();
    let admins = client
        .authed(Method::GET, "/admin/keys", &server.admin)
        .await
        .json();
    let admin_id = admins["keys"][0]["key_id"]
        .as_str()
        .expect("an admin key id")
        .to_owned();

    // Monday 09:00-12:00 available (the calendar's key), then Tuesday 23:00 to Wednesday
    // 01:00 maybe (the admin key), then the zone (not a change of the week).
    let put = r#"{"updates":[{"day":"monday","from":"09:00","to":"12:00","status":"available"}]}"#;
    let r = client
        .json(Method::PUT, "/calendars/room/availability", &key, put)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let stale_tag = r.header("etag").expect("an ETag").to_owned();
    let patch = r#"{"updates":[{"day":"tuesday","from":"23:00","to":"24:00","status":"maybe"},{"day":"wednesday","from":"00:00","to":"01:00","status":"maybe"}]}"#;
    let r = client
        .json(
            Method::PATCH,
            "/calendars/room/availability",
            &server.admin,
            patch,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let r = client
        .json(
            Method::PATCH,
            "/calendars/room",
            &key,
            r#"{"timezone":"Asia/Tokyo"}"#,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());

    let r = client
        .authed(Method::GET, "/calendars/room/history", &key)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let history = r.json();
    assert_eq!(history["calendar"], "room");
    assert_eq!(history["version"], 4);
    assert_eq!(history["retention_days"], 90);
    let versions = history["versions"].as_array().expect("versions");
    let summary: Vec<(u64, Option<&str>, bool, u64)> = versions
        .iter()
        .map(|v| {
            (
                v["version"].as_u64().unwrap(),
                v["key_id"].as_str(),
                v["current"].as_bool().unwrap(),
                v["changed"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (3, Some(admin_id.as_str()), true, 4),
            (2, Some(key_id.as_str()), false, 6),
            (1, None, false, 0),
        ],
        "{history}"
    );
    assert_eq!(
        versions[0]["changes"],
        serde_json::json!([
            {"day": "tuesday", "from": "23:00", "to": "24:00"},
            {"day": "wednesday", "from": "00:00", "to": "01:00"},
        ])
    );
    assert_eq!(
        versions[1]["changes"],
        serde_json::json!([{"day": "monday", "from": "09:00", "to": "12:00"}])
    );
    let view = &versions[0]["view"];
    assert_eq!(view[0], day(18, 24, '2'));
    assert_eq!(view[1], day(46, 48, '1'));
    assert_eq!(view[2], day(0, 2, '1'));
    assert_eq!(view[3], day(0, 0, '0'));
    assert!(versions[0]["at"].as_str().expect("a time").ends_with('Z'));

    // Refused: no key, another calendar's key, a stale If-Match, a version not kept.
    let r = client.get("/calendars/room/history").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = client
        .authed(Method::GET, "/calendars/room/history", &other)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let restore = "/calendars/room/availability/restore";
    let stale = [JSON, ("if-match", stale_tag.as_str())];
    let r = client
        .call(
            Method::POST,
            restore,
            Some(&key),
            &stale,
            r#"{"version":2}"#,
        )
        .await;
    assert_eq!(r.status, StatusCode::PRECONDITION_FAILED, "{}", r.text());
    let r = client
        .json(Method::POST, restore, &key, r#"{"version":4}"#)
        .await;
    let detail = r.problem(StatusCode::UNPROCESSABLE_ENTITY);
    assert!(detail.contains("no version 4"), "{detail}");

    // Version 2 made current again, with the ETag of version 4.
    let before = client.get("/calendars/room").await;
    let etag = before.header("etag").expect("an ETag").to_owned();
    let matching = [JSON, ("if-match", etag.as_str())];
    let r = client
        .call(
            Method::POST,
            restore,
            Some(&key),
            &matching,
            r#"{"version":2}"#,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["restored"], 2);
    assert_eq!(r.json()["version"], 5);
    assert_ne!(r.header("etag"), Some(etag.as_str()), "the ETag moves");
    let seen = client
        .get("/calendars/room/availability?format=view&tz=Asia/Tokyo&week=2027-W02")
        .await;
    assert_eq!(seen.status, StatusCode::OK, "{}", seen.text());
    let days = seen.json();
    assert_eq!(
        days["days"][0]["view"],
        day(18, 24, '2'),
        "readers see version 2's week"
    );
    assert_eq!(days["days"][1]["view"], day(0, 0, '0'));
    let history = client
        .authed(Method::GET, "/calendars/room/history", &key)
        .await
        .json();
    let newest = &history["versions"][0];
    assert_eq!(newest["version"], 5);
    assert_eq!(newest["key_id"], key_id.as_str());
    assert_eq!(newest["current"], true);
    assert_eq!(newest["changed"], 4, "it undid version 3's four half hours");
    assert_eq!(history["versions"].as_array().map(Vec::len), Some(4));
}
