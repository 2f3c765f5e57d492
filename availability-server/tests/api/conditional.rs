//! Conditional requests: a read's tag spares the body when nothing changed, and a write that
//! names a tag is refused once the calendar moved on from it.

use http::{Method, StatusCode, Version};

use super::NINE_TO_FIVE;
use crate::support::{TestServer, JSON, VERSIONS};

#[tokio::test]
async fn conditional_reads_and_writes() {
    let server = TestServer::start().await;
    let key = server.create_calendar("c1", "UTC").await;
    for version in VERSIONS {
        let c = server.client(version);
        let r = c.get("/calendars/c1/availability?week=2026-W48").await;
        let etag = r.header("etag").unwrap().to_owned();
        assert_eq!(r.header("cache-control"), Some("no-cache"));

        let again = c
            .get_with(
                "/calendars/c1/availability?week=2026-W48",
                &[("if-none-match", &etag)],
            )
            .await;
        assert_eq!(again.status, StatusCode::NOT_MODIFIED);
        assert!(again.body.is_empty());
        assert_eq!(again.header("etag"), Some(etag.as_str()));
        let weak = format!("W/{etag}, \"other\"");
        let again = c
            .get_with(
                "/calendars/c1/availability?week=2026-W48",
                &[("if-none-match", &weak)],
            )
            .await;
        assert_eq!(again.status, StatusCode::NOT_MODIFIED);

        // Another format or zone or week has another tag.
        for other in [
            "?week=2026-W48&format=csv",
            "?week=2026-W48&tz=Etc/GMT-1",
            "?week=2026-W49",
        ] {
            let o = c.get(&format!("/calendars/c1/availability{other}")).await;
            assert_ne!(o.header("etag"), Some(etag.as_str()), "{other}");
        }

        // A write with the read's tag succeeds; a second one with the same tag is stale.
        let tagged = [JSON, ("if-match", etag.as_str())];
        let path = "/calendars/c1/availability";
        let ok = c
            .call(Method::PATCH, path, Some(&key), &tagged, NINE_TO_FIVE)
            .await;
        assert_eq!(ok.status, StatusCode::OK, "{}", ok.text());
        let stale = c
            .call(Method::PATCH, path, Some(&key), &tagged, NINE_TO_FIVE)
            .await;
        let detail = stale.problem(StatusCode::PRECONDITION_FAILED);
        assert!(detail.contains("read it again"), "{detail}");

        // After the write, the old tag no longer matches: the body is sent again.
        let fresh = c
            .get_with(
                "/calendars/c1/availability?week=2026-W48",
                &[("if-none-match", &etag)],
            )
            .await;
        assert_eq!(fresh.status, StatusCode::OK);
        assert_ne!(fresh.header("etag"), Some(etag.as_str()));
    }
}

/// If-Match compares strongly and names the calendar's creation: a weak tag, or a tag of a
/// calendar that was deleted and created again under its id, is refused.
#[tokio::test]
async fn if_match_refuses_weak_tags_and_tags_of_an_earlier_calendar() {
    let server = TestServer::start().await;
    let key = server.create_calendar("c1", "UTC").await;
    let c = server.client(Version::HTTP_11);
    let patch = |tag: String, key: String| {
        let c = c.clone();
        async move {
            let tagged = [JSON, ("if-match", tag.as_str())];
            c.call(
                Method::PATCH,
                "/calendars/c1/availability",
                Some(&key),
                &tagged,
                NINE_TO_FIVE,
            )
            .await
        }
    };
    let tag = c
        .get("/calendars/c1")
        .await
        .header("etag")
        .unwrap()
        .to_owned();
    patch(format!("W/{tag}"), key.clone())
        .await
        .problem(StatusCode::PRECONDITION_FAILED);
    let written = patch(tag.clone(), key.clone()).await;
    assert_eq!(written.status, StatusCode::OK, "{}", written.text());
    let old = written.header("etag").unwrap().to_owned();

    // Deleted and created again: version 1 again, but another creation.
    let r = c
        .authed(Method::DELETE, "/calendars/c1", &server.admin)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text());
    let key = server.create_calendar("c1", "UTC").await;
    let again = patch(old.clone(), key.clone()).await;
    again.problem(StatusCode::PRECONDITION_FAILED);
    let r = patch(tag, key.clone()).await;
    r.problem(StatusCode::PRECONDITION_FAILED);
    let fresh = c
        .get("/calendars/c1")
        .await
        .header("etag")
        .unwrap()
        .to_owned();
    assert_ne!(fresh, old);
    assert_eq!(patch(fresh, key).await.status, StatusCode::OK);
}
