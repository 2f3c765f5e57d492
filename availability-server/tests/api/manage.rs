//! Managing the service: calendars created, listed, read, rezoned and deleted, keys issued and
//! revoked, and who may read the metrics.

use http::{Method, StatusCode, Version};

use super::NINE_TO_FIVE;
use crate::support::{TestServer, VERSIONS};

#[tokio::test]
async fn calendars_are_created_listed_read_rezoned_and_deleted() {
    let server = TestServer::start().await;
    for (i, version) in VERSIONS.into_iter().enumerate() {
        let c = server.client(version);
        let id = format!("desk-{i}");
        let r = c
            .json(
                Method::POST,
                "/calendars",
                &server.admin,
                &format!(r#"{{"id":"{id}","timezone":"Etc/GMT-1"}}"#),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        assert_eq!(
            r.header("location"),
            Some(format!("/calendars/{id}").as_str())
        );
        let created = r.json();
        assert_eq!(created["calendar"], id.as_str());
        assert_eq!(created["timezone"], "Etc/GMT-1");
        // The calendar and its first key are one commit.
        let created_version = created["version"].as_u64().unwrap();
        assert_eq!(created_version, 1);
        let key = created["key"].as_str().unwrap().to_owned();
        assert!(key.starts_with("avk_"));

        let one = c.get(&format!("/calendars/{id}")).await;
        assert_eq!(one.status, StatusCode::OK);
        let v = one.json();
        assert_eq!(v["id"], id.as_str());
        assert_eq!(v["timezone"], "Etc/GMT-1");
        assert_eq!(v["version"], created_version);
        let updated = v["updated"].as_str().unwrap();
        assert!(updated.len() == 20 && updated.ends_with('Z'), "{updated}");

        let list = c.authed(Method::GET, "/calendars", &server.admin).await;
        assert_eq!(list.status, StatusCode::OK, "{}", list.text());
        let ids: Vec<String> = list.json()["calendars"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap().to_owned())
            .collect();
        assert!(
            ids.contains(&id) && ids.contains(&"default".to_owned()),
            "{ids:?}"
        );

        let rezoned = c
            .json(
                Method::PATCH,
                &format!("/calendars/{id}"),
                &key,
                r#"{"timezone":"UTC"}"#,
            )
            .await;
        assert_eq!(rezoned.status, StatusCode::OK, "{}", rezoned.text());
        assert_eq!(
            rezoned.json(),
            serde_json::json!({
                "calendar": id,
                "version": created_version + 1,
                "timezone": "UTC",
                "booking": "key",
            })
        );
        assert_eq!(
            c.get(&format!("/calendars/{id}/availability")).await.json()["owner_timezone"],
            "UTC"
        );

        // A delete that names a version the calendar has left behind is refused.
        let stale = c
            .call(
                Method::DELETE,
                &format!("/calendars/{id}"),
                Some(&server.admin),
                &[("if-match", &format!("\"v{created_version}\""))],
                "",
            )
            .await;
        stale.problem(StatusCode::PRECONDITION_FAILED);
        assert_eq!(
            c.get(&format!("/calendars/{id}")).await.status,
            StatusCode::OK
        );

        let deleted = c
            .authed(Method::DELETE, &format!("/calendars/{id}"), &server.admin)
            .await;
        assert_eq!(deleted.status, StatusCode::NO_CONTENT);
        c.get(&format!("/calendars/{id}"))
            .await
            .problem(StatusCode::NOT_FOUND);
        c.get(&format!("/calendars/{id}/availability"))
            .await
            .problem(StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn keys_are_issued_and_revoked() {
    let server = TestServer::start().await;
    let first = server.create_calendar("team", "UTC").await;
    for version in VERSIONS {
        let c = server.client(version);
        let r = c.authed(Method::POST, "/calendars/team/keys", &first).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        let v = r.json();
        let second = v["key"].as_str().unwrap().to_owned();
        let key_id = v["key_id"].as_str().unwrap().to_owned();
        assert!(second.starts_with(&format!("avk_{key_id}_")));

        let w = c
            .json(
                Method::PATCH,
                "/calendars/team/availability",
                &second,
                NINE_TO_FIVE,
            )
            .await;
        assert_eq!(w.status, StatusCode::OK, "{}", w.text());

        let revoked = c
            .authed(
                Method::DELETE,
                &format!("/calendars/team/keys/{key_id}"),
                &first,
            )
            .await;
        assert_eq!(revoked.status, StatusCode::NO_CONTENT, "{}", revoked.text());
        // It stops working at once, although it verified a moment ago.
        let w = c
            .json(
                Method::PATCH,
                "/calendars/team/availability",
                &second,
                NINE_TO_FIVE,
            )
            .await;
        w.problem(StatusCode::UNAUTHORIZED);
        c.authed(
            Method::DELETE,
            &format!("/calendars/team/keys/{key_id}"),
            &first,
        )
        .await
        .problem(StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn metrics_need_the_admin_key() {
    let server = TestServer::start().await;
    let c = server.client(Version::HTTP_2);
    c.get("/healthz").await;
    c.get("/nowhere").await;
    c.get("/metrics").await.problem(StatusCode::UNAUTHORIZED);
    let r = c.authed(Method::GET, "/metrics", &server.admin).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r
        .header("content-type")
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    let text = r.text();
    assert!(
        text.contains("availability_requests_total{route=\"healthz\",status=\"200\"} 1"),
        "{text}"
    );
    let tzdata = format!(
        "availability_tzdata_info{{version=\"{}\"}} 1",
        availability_core::tz::Tzdb::bundled().version()
    );
    assert!(text.contains(&tzdata), "{text}");
    assert!(
        text.contains("availability_requests_total{route=\"unknown\",status=\"404\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("availability_auth_rejections_total 1"),
        "{text}"
    );
    assert!(
        text.contains("availability_request_duration_seconds_count 3"),
        "{text}"
    );
    assert!(text.contains("availability_cache_misses_total 0"), "{text}");
    assert!(text.contains("availability_commits_total 0"), "{text}");
}

#[tokio::test]
async fn metrics_can_be_public() {
    let data = tempfile::tempdir().unwrap();
    let (cert, key, root) = crate::support::test_certificate(data.path());
    let mut config = crate::support::test_config(data.path());
    config.tls = Some((cert, key));
    config.metrics_public = true;
    let server = TestServer::start_with(config, root, data).await;
    let r = server.client(Version::HTTP_11).get("/metrics").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.text().contains("availability_requests_in_flight 1"),
        "{}",
        r.text()
    );
}
