//! Every endpoint and format, over HTTP/1.1 and HTTP/2.
//!
//! - `reads`: a calendar's week in every format, zone and encoding, and what a read costs;
//! - `conditional`: tags, `If-None-Match` and `If-Match`;
//! - `manage`: calendars, keys and metrics, under the admin key;
//! - here: the health check, and the week the tests write.

mod conditional;
mod manage;
mod reads;

use http::StatusCode;

use crate::support::{TestServer, VERSIONS};

const NINE_TO_FIVE: &str = r#"{"updates":[{"day":"monday","from":"09:00","to":"17:00","status":"available"},{"day":0,"time":"12:00","status":"maybe"}]}"#;

#[tokio::test]
async fn healthz_on_both_protocols() {
    let server = TestServer::start().await;
    for version in VERSIONS {
        let r = server.client(version).get("/healthz").await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.version, version);
        assert_eq!(r.json()["status"], "ok");
        // The release of the time-zone data in use: the bundled one, in tests.
        let bundled = availability_core::tz::Tzdb::bundled().version();
        assert_eq!(r.json()["tzdata"], bundled);
        assert!(r.header("etag").is_some());
    }
}
