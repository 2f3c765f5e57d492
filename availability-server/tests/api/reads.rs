//! Reads: the default calendar in every format, writes seen in the viewer's zone, `HEAD`,
//! compressed bodies, one rendering per version, and a DST week through the whole stack.

use availability_core::SLOTS;
use http::{Method, StatusCode, Version};

use super::NINE_TO_FIVE;
use crate::support::{TestServer, VERSIONS};

#[tokio::test]
async fn the_default_calendar_reads_in_every_format() {
    let server = TestServer::start().await;
    for version in VERSIONS {
        let c = server.client(version);
        let r = c.get("/availability?week=2026-W48").await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        assert_eq!(r.header("content-type"), Some("application/json"));
        let v = r.json();
        assert_eq!(v["calendar"], "default");
        assert_eq!(v["timezone"], "UTC");
        assert_eq!(v["owner_timezone"], "UTC");
        assert_eq!(v["week"], "2026-W48");
        assert_eq!(v["version"], 1);
        let slots = v["slots"].as_array().unwrap();
        assert_eq!(slots.len(), SLOTS);
        assert_eq!(
            slots[0],
            serde_json::json!({"day":0,"day_name":"Monday","date":"2026-11-23","time":"00:00","status":"unavailable"})
        );
        assert_eq!(slots[335]["date"], "2026-11-29");
        assert_eq!(slots[335]["time"], "23:30");

        // The long path serves the same body.
        let long = c.get("/calendars/default/availability?week=2026-W48").await;
        assert_eq!(long.body, r.body);
        assert_eq!(long.header("etag"), r.header("etag"));

        let csv = c.get("/availability/csv?week=2026-W48").await;
        assert_eq!(csv.status, StatusCode::OK);
        assert!(csv.header("content-type").unwrap().starts_with("text/csv"));
        let text = csv.text();
        assert!(
            text.starts_with("Time,Monday,Tuesday,Wednesday,Thursday,Friday,Saturday,Sunday\r\n")
        );
        assert_eq!(text.matches("\r\n").count(), 49);
        assert!(text.ends_with("23:30,unavailable,unavailable,unavailable,unavailable,unavailable,unavailable,unavailable\r\n"));
        let csv2 = c
            .get("/calendars/default/availability?format=csv&week=2026-W48")
            .await;
        assert_eq!(csv2.body, csv.body);

        let intervals = c.get("/availability?format=intervals&week=2026-W48").await;
        assert_eq!(intervals.status, StatusCode::OK);
        assert_eq!(intervals.json()["intervals"], serde_json::json!([]));

        let slot = c
            .get("/availability/slot?day=monday&time=09:00&week=2026-W48")
            .await;
        assert_eq!(slot.status, StatusCode::OK, "{}", slot.text());
        assert_eq!(slot.json()["slot"]["status"], "unavailable");
        assert_eq!(slot.json()["slot"]["date"], "2026-11-23");
    }
}

#[tokio::test]
async fn writes_show_in_reads_in_the_viewer_zone() {
    let server = TestServer::start().await;
    let key = server.create_calendar("room-1", "UTC").await;
    for version in VERSIONS {
        let c = server.client(version);
        let before = c.get("/calendars/room-1").await.json()["version"]
            .as_u64()
            .unwrap();
        let r = c
            .json(
                Method::PATCH,
                "/calendars/room-1/availability",
                &key,
                NINE_TO_FIVE,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        let expected = before + 1;
        assert_eq!(
            r.json(),
            serde_json::json!({"calendar":"room-1","version":expected})
        );
        // The tag names the version and which creation of the calendar it is.
        let tag = r.header("etag").unwrap();
        assert!(tag.starts_with(&format!("\"v{expected}.")), "{tag}");

        // UTC+2 sees Monday 09:00 UTC at 11:00.
        let v = c
            .get("/calendars/room-1/availability?tz=Etc/GMT-2&week=2026-11-25")
            .await
            .json();
        assert_eq!(v["timezone"], "Etc/GMT-2");
        assert_eq!(v["week"], "2026-W48");
        let slots = v["slots"].as_array().unwrap();
        assert_eq!(slots[21]["status"], "unavailable"); // 10:30
        assert_eq!(slots[22]["status"], "available"); // 11:00
        assert_eq!(slots[28]["status"], "maybe"); // 14:00 = 12:00 UTC
        assert_eq!(slots[37]["status"], "available"); // 18:30
        assert_eq!(slots[38]["status"], "unavailable"); // 19:00

        // Percent-encoded zone and `+`-free query decode the same.
        let same = c
            .get("/calendars/room-1/availability?tz=Etc%2FGMT-2&week=2026-W48")
            .await;
        assert_eq!(same.json(), v);

        let iv = c
            .get("/calendars/room-1/availability?format=intervals&week=2026-W48")
            .await
            .json();
        assert_eq!(
            iv["intervals"],
            serde_json::json!([
                {"start":"2026-11-23T09:00:00+00:00","end":"2026-11-23T12:00:00+00:00","status":"available"},
                {"start":"2026-11-23T12:00:00+00:00","end":"2026-11-23T12:30:00+00:00","status":"maybe"},
                {"start":"2026-11-23T12:30:00+00:00","end":"2026-11-23T17:00:00+00:00","status":"available"}
            ])
        );
        let slot = c
            .get("/calendars/room-1/availability/slot?day=0&time=12:00&week=2026-W48")
            .await;
        assert_eq!(slot.json()["slot"]["status"], "maybe");
    }

    // PUT replaces the whole week.
    let c = server.client(Version::HTTP_11);
    let r = c
        .json(
            Method::PUT,
            "/calendars/room-1/availability",
            &key,
            r#"{"updates":[{"day":"sunday","time":"23:30","status":"maybe"}]}"#,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let csv = c
        .get("/calendars/room-1/availability/csv?week=2026-W48")
        .await
        .text();
    assert!(!csv.contains(",available"), "{csv}");
    assert_eq!(csv.matches("maybe").count(), 1);
    assert!(csv.ends_with(",maybe\r\n"));
}

#[tokio::test]
async fn head_has_the_headers_of_get_and_no_body() {
    let server = TestServer::start().await;
    for version in VERSIONS {
        let c = server.client(version);
        let get = c.get("/availability?week=2026-W48").await;
        let head = c
            .call(Method::HEAD, "/availability?week=2026-W48", None, &[], "")
            .await;
        assert_eq!(head.status, StatusCode::OK);
        assert!(head.body.is_empty());
        assert_eq!(head.header("etag"), get.header("etag"));
        assert_eq!(
            head.header("content-length"),
            Some(get.body.len().to_string().as_str())
        );
    }
}

#[tokio::test]
async fn compressed_bodies_match_the_plain_ones() {
    let server = TestServer::start().await;
    let key = server.create_calendar("z", "UTC").await;
    let c = server.client(Version::HTTP_11);
    c.json(
        Method::PATCH,
        "/calendars/z/availability",
        &key,
        NINE_TO_FIVE,
    )
    .await;
    for version in VERSIONS {
        let c = server.client(version);
        for path in [
            "/calendars/z/availability?week=2026-W48",
            "/calendars/z/availability/csv?week=2026-W48",
            "/calendars/z/availability?format=intervals&week=2026-W48",
        ] {
            let plain = c.get(path).await;
            assert_eq!(plain.header("content-encoding"), None);
            assert_eq!(plain.header("vary"), Some("Accept-Encoding"));

            let gz = c.get_with(path, &[("accept-encoding", "gzip")]).await;
            assert_eq!(gz.header("content-encoding"), Some("gzip"));
            let mut out = Vec::new();
            std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz.body[..]), &mut out)
                .unwrap();
            assert_eq!(out, plain.body);
            assert_ne!(gz.header("etag"), plain.header("etag"));

            let br = c.get_with(path, &[("accept-encoding", "gzip, br")]).await;
            assert_eq!(br.header("content-encoding"), Some("br"));
            let mut out = Vec::new();
            brotli::BrotliDecompress(&mut &br.body[..], &mut out).unwrap();
            assert_eq!(out, plain.body);
            assert!(
                br.body.len() < plain.body.len() / 2,
                "{path}: {} of {}",
                br.body.len(),
                plain.body.len()
            );

            // The compressed tag revalidates too.
            let etag = br.header("etag").unwrap();
            let again = c
                .get_with(path, &[("accept-encoding", "br"), ("if-none-match", etag)])
                .await;
            assert_eq!(again.status, StatusCode::NOT_MODIFIED);
        }
    }
}

#[tokio::test]
async fn reads_render_once_per_version() {
    let server = TestServer::start().await;
    let c = server.client(Version::HTTP_11);
    let misses = || {
        server
            .app
            .metrics
            .cache_misses
            .load(std::sync::atomic::Ordering::Relaxed)
    };
    let hits = || {
        server
            .app
            .metrics
            .cache_hits
            .load(std::sync::atomic::Ordering::Relaxed)
    };
    let first = c.get("/availability?week=2026-W48").await;
    let (m0, h0) = (misses(), hits());
    for _ in 0..3 {
        let again = c
            .get_with("/availability?week=2026-W48", &[("accept-encoding", "br")])
            .await;
        assert_eq!(again.status, StatusCode::OK);
    }
    assert_eq!(misses(), m0);
    assert_eq!(hits(), h0 + 3);
    assert_eq!(c.get("/availability?week=2026-W48").await.body, first.body);
    // A write makes a new version, so the next read renders again.
    c.json(Method::PATCH, "/availability", &server.admin, NINE_TO_FIVE)
        .await;
    let after = c.get("/availability?week=2026-W48").await;
    assert_eq!(misses(), m0 + 1);
    assert_eq!(after.json()["version"], 2);
}

/// A DST week through the whole stack: the US fall-back seen from New York, as grid and as
/// exact intervals, and the default week.
#[tokio::test]
async fn dst_weeks_convert_per_instant() {
    let server = TestServer::start().await;
    let key = server.create_calendar("utc-owner", "UTC").await;
    let c = server.client(Version::HTTP_2);
    let batch =
        r#"{"updates":[{"day":"sunday","from":"04:00","to":"07:00","status":"available"}]}"#;
    let w = c
        .json(
            Method::PUT,
            "/calendars/utc-owner/availability",
            &key,
            batch,
        )
        .await;
    assert_eq!(w.status, StatusCode::OK, "{}", w.text());

    let path = "/calendars/utc-owner/availability?tz=America/New_York&week=2026-11-01";
    let v = c.get(path).await.json();
    assert_eq!(v["week"], "2026-W44");
    let available: Vec<String> = v["slots"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["status"] == "available")
        .map(|s| {
            format!(
                "{} {}",
                s["date"].as_str().unwrap(),
                s["time"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        available,
        [
            "2026-11-01 00:00",
            "2026-11-01 00:30",
            "2026-11-01 01:00",
            "2026-11-01 01:30"
        ]
    );
    let iv = c.get(&format!("{path}&format=intervals")).await.json();
    assert_eq!(
        iv["intervals"],
        serde_json::json!([{"start":"2026-11-01T00:00:00-04:00","end":"2026-11-01T02:00:00-05:00","status":"available"}])
    );

    // Without `week`, the current week in the viewer's zone.
    let now = c
        .get("/calendars/utc-owner/availability?tz=Asia/Kathmandu")
        .await
        .json();
    let label = now["week"].as_str().unwrap();
    assert!(label.len() == 8 && label.contains("-W"), "{label}");
    assert_eq!(now["timezone"], "Asia/Kathmandu");
}
