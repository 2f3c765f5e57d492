//! Connection hygiene: clients that hold a connection and say nothing, trickle their
//! headers, idle after a request, send too many headers or an endless body, open more
//! connections than the server keeps, or flood it with connections that never speak, from one
//! address or from many. Timing tests run on tokio's paused clock: the waits cost no real
//! time, and the instants compared are the clock's own.
//!
//! - `slow`: clients that say nothing, or too little too slowly, and idle connections;
//! - `limits`: headers, bodies, connections and HTTP/2 streams past their limits;
//! - here: other web origins.

mod limits;
mod slow;

use tokio::io::AsyncReadExt;

/// Reads until the server closes; returns what it sent.
async fn until_closed(mut io: impl tokio::io::AsyncRead + Unpin) -> Vec<u8> {
    let mut out = Vec::new();
    let _ = io.read_to_end(&mut out).await;
    out
}

/// Other web origins: every read answers `*`, writes only name a listed origin back, and
/// preflights answer 204 with the route's methods and the headers the API reads.
#[tokio::test]
async fn cross_origin_reads_are_open_and_writes_need_a_listed_origin() {
    let server = crate::support::TestServer::start_tweaked(|config| {
        config.cors_origins = vec!["https://app.example".to_owned()];
    })
    .await;
    let key = server.create_calendar("c1", "UTC").await;
    for version in crate::support::VERSIONS {
        let c = server.client(version);
        let read = c
            .get_with(
                "/calendars/c1/availability",
                &[("origin", "https://widget.example")],
            )
            .await;
        assert_eq!(read.status, http::StatusCode::OK);
        assert_eq!(read.header("access-control-allow-origin"), Some("*"));
        let exposed = read.header("access-control-expose-headers").unwrap();
        assert!(
            exposed.contains("ETag") && exposed.contains("RateLimit"),
            "{exposed}"
        );
        assert!(read.header("access-control-allow-credentials").is_none());
        // No Origin, no CORS fields.
        let plain = c.get("/calendars/c1/availability").await;
        assert!(plain.header("access-control-allow-origin").is_none());

        let preflight = |origin: &'static str, method: &'static str, path: &'static str| {
            let c = c.clone();
            async move {
                let asking = [
                    ("origin", origin),
                    ("access-control-request-method", method),
                    (
                        "access-control-request-headers",
                        "authorization, content-type",
                    ),
                ];
                c.call(http::Method::OPTIONS, path, None, &asking, "").await
            }
        };
        let r = preflight(
            "https://widget.example",
            "GET",
            "/calendars/c1/availability",
        )
        .await;
        assert_eq!(r.status, http::StatusCode::NO_CONTENT);
        assert_eq!(r.header("access-control-allow-origin"), Some("*"));
        assert_eq!(
            r.header("access-control-allow-methods"),
            Some("GET, HEAD, PATCH, PUT")
        );
        let allowed = r.header("access-control-allow-headers").unwrap();
        for name in [
            "Authorization",
            "Content-Type",
            "If-Match",
            "Idempotency-Key",
        ] {
            assert!(allowed.contains(name), "{allowed}");
        }
        assert!(r.header("access-control-max-age").is_some());
        // A write from an unlisted origin gets no permission; from a listed one, its origin.
        let r = preflight(
            "https://widget.example",
            "PATCH",
            "/calendars/c1/availability",
        )
        .await;
        assert_eq!(r.status, http::StatusCode::NO_CONTENT);
        assert!(r.header("access-control-allow-origin").is_none());
        let r = preflight("https://app.example", "PATCH", "/calendars/c1/availability").await;
        assert_eq!(
            r.header("access-control-allow-origin"),
            Some("https://app.example")
        );
        assert!(r.header("vary").unwrap().contains("Origin"));
        // A question sent as a body is a read.
        let r = preflight("https://widget.example", "POST", "/overlap").await;
        assert_eq!(r.header("access-control-allow-origin"), Some("*"));
        let r = preflight("https://widget.example", "GET", "/nowhere").await;
        assert_eq!(r.status, http::StatusCode::NOT_FOUND);

        let write = |origin: &'static str| {
            let (c, key) = (c.clone(), key.clone());
            async move {
                let headers = [("origin", origin), crate::support::JSON];
                let path = "/calendars/c1/availability";
                c.call(
                    http::Method::PATCH,
                    path,
                    Some(&key),
                    &headers,
                    r#"{"updates":[]}"#,
                )
                .await
            }
        };
        let r = write("https://app.example").await;
        assert_eq!(r.status, http::StatusCode::OK, "{}", r.text());
        assert_eq!(
            r.header("access-control-allow-origin"),
            Some("https://app.example")
        );
        let r = write("https://widget.example").await;
        assert!(r.header("access-control-allow-origin").is_none());
    }
}
