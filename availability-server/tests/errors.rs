//! Every error status, as `application/problem+json` with a detail a person can act on.

use std::collections::VecDeque;

use bytes::Bytes;
use http::{Method, StatusCode};
use http_body_util::BodyExt;

use crate::support::{Chunks, Client, TestServer, JSON, VERSIONS};

const BATCH: &str = r#"{"updates":[{"day":"monday","time":"09:00","status":"available"}]}"#;

#[tokio::test]
async fn bad_parameters_are_400() {
    let server = TestServer::start().await;
    for version in VERSIONS {
        let c = server.client(version);
        let cases = [
            ("/availability?tz=Mars/Base", "unknown time zone"),
            ("/availability?week=2026-W99", "invalid week"),
            ("/availability?week=soon", "invalid week"),
            ("/availability?format=xml", "unknown format \"xml\""),
            (
                "/availability?timezone=UTC",
                "unknown query parameter \"timezone\"",
            ),
            ("/availability?tz=UTC&tz=UTC", "more than once"),
            // Names are decoded before they are compared: `t%7A` is `tz`.
            ("/availability?t%7A=UTC&tz=UTC", "more than once"),
            ("/availability?week=2026-W48+", "invalid week \"2026-W48 \""),
            (
                "/availability/csv?format=csv",
                "unknown query parameter \"format\"",
            ),
            (
                "/availability/slot?day=monday",
                "give the slot as day and time",
            ),
            (
                "/availability/slot?day=someday&time=09:00",
                "day: invalid day",
            ),
            (
                "/availability/slot?day=monday&time=09:15",
                "minutes must be 00 or 30",
            ),
            ("/availability/slot?day=monday&time=24:00", "end of the day"),
            ("/healthz?verbose=1", "takes no parameters"),
        ];
        for (path, expected) in cases {
            let detail = c.get(path).await.problem(StatusCode::BAD_REQUEST);
            assert!(detail.contains(expected), "{path}: {detail}");
        }
    }
}

#[tokio::test]
async fn bad_bodies_are_400_with_the_core_message() {
    let server = TestServer::start().await;
    let c = server.client(http::Version::HTTP_11);
    let cases = [
        ("not json", "not a valid batch"),
        (r#"{"edits":[]}"#, "unknown field `edits`"),
        (
            r#"{"updates":[{"day":0,"time":"09:00","status":"busy"}]}"#,
            "updates[0]: invalid status \"busy\"",
        ),
        (
            r#"{"updates":[{"day":0,"from":"17:00","to":"09:00","status":"maybe"}]}"#,
            "entry 0: the range 17:00-09:00 is empty or backwards",
        ),
    ];
    for (body, expected) in cases {
        let detail = c
            .json(Method::PATCH, "/availability", &server.admin, body)
            .await
            .problem(StatusCode::BAD_REQUEST);
        assert!(detail.contains(expected), "{body}: {detail}");
    }
    let detail = c
        .json(
            Method::POST,
            "/calendars",
            &server.admin,
            r#"{"id":"Bad_Id"}"#,
        )
        .await
        .problem(StatusCode::BAD_REQUEST);
    assert!(detail.contains("invalid calendar id"), "{detail}");
    let detail = c
        .json(
            Method::POST,
            "/calendars",
            &server.admin,
            r#"{"id":"ok","timezone":"Nowhere"}"#,
        )
        .await
        .problem(StatusCode::BAD_REQUEST);
    assert!(detail.contains("unknown time zone"), "{detail}");
    // Nothing was applied.
    assert_eq!(c.get("/calendars/default").await.json()["version"], 1);
}

#[tokio::test]
async fn keys_are_checked_401_and_403() {
    let server = TestServer::start().await;
    let key_a = server.create_calendar("a", "UTC").await;
    server.create_calendar("b", "UTC").await;
    for version in VERSIONS {
        let c = server.client(version);
        let path = "/calendars/a/availability";
        let none = c.call(Method::PATCH, path, None, &[JSON], BATCH).await;
        let detail = none.asks_for_a_key();
        assert!(detail.contains("Authorization: Bearer"), "{detail}");

        c.json(
            Method::PATCH,
            "/calendars/a/availability",
            "avk_nonsense",
            BATCH,
        )
        .await
        .problem(StatusCode::UNAUTHORIZED);
        // Right id, wrong secret (with a checksum that matches it).
        let id = availability_server::auth::key_id(&key_a).unwrap();
        let wrong = availability_server::auth::assemble(id, &[7; 20]);
        let detail = c
            .json(Method::PATCH, "/calendars/a/availability", &wrong, BATCH)
            .await
            .problem(StatusCode::UNAUTHORIZED);
        assert!(detail.contains("wrong key"), "{detail}");
        let unknown = &availability_server::auth::assemble("000000000000", &[0; 20]);
        c.json(Method::PATCH, "/calendars/a/availability", unknown, BATCH)
            .await
            .problem(StatusCode::UNAUTHORIZED);

        let detail = c
            .json(Method::PATCH, "/calendars/b/availability", &key_a, BATCH)
            .await
            .problem(StatusCode::FORBIDDEN);
        assert!(detail.contains("belongs to calendar \"a\""), "{detail}");
        c.authed(Method::GET, "/calendars", &key_a)
            .await
            .problem(StatusCode::FORBIDDEN);
        c.authed(Method::DELETE, "/calendars/a", &key_a)
            .await
            .problem(StatusCode::FORBIDDEN);
        c.json(Method::POST, "/calendars", &key_a, r#"{"id":"c"}"#)
            .await
            .problem(StatusCode::FORBIDDEN);
        c.get("/calendars").await.problem(StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test]
async fn unknown_things_are_404_and_wrong_methods_405() {
    let server = TestServer::start().await;
    for version in VERSIONS {
        let c = server.client(version);
        for path in [
            "/nope",
            "/static/",
            "/static/app.js/x",
            "/calendars/",
            "/calendars/default/other",
            "/availability/slots",
            "/calendars/default/availability/slot/x",
        ] {
            c.get(path).await.problem(StatusCode::NOT_FOUND);
        }
        let detail = c
            .get("/calendars/missing/availability")
            .await
            .problem(StatusCode::NOT_FOUND);
        assert!(detail.contains("no calendar \"missing\""), "{detail}");
        c.json(
            Method::PATCH,
            "/calendars/missing/availability",
            &server.admin,
            BATCH,
        )
        .await
        .problem(StatusCode::NOT_FOUND);

        let cases = [
            (Method::POST, "/availability", "GET, HEAD, PATCH, PUT"),
            (
                Method::DELETE,
                "/calendars/default/availability",
                "GET, HEAD, PATCH, PUT",
            ),
            (Method::PUT, "/calendars", "GET, HEAD, POST"),
            (
                Method::POST,
                "/calendars/default",
                "GET, HEAD, PATCH, DELETE",
            ),
            (Method::PATCH, "/availability/slot", "GET, HEAD"),
            (Method::PUT, "/availability/csv", "GET, HEAD"),
            (Method::PUT, "/calendars/default/keys", "GET, HEAD, POST"),
            (Method::GET, "/calendars/default/keys/abc", "DELETE"),
            (Method::POST, "/healthz", "GET, HEAD"),
            (
                Method::from_bytes(b"BREW").unwrap(),
                "/metrics",
                "GET, HEAD",
            ),
        ];
        for (method, path, allow) in cases {
            let r = c.call(method.clone(), path, None, &[], "").await;
            r.problem(StatusCode::METHOD_NOT_ALLOWED);
            assert_eq!(r.header("allow"), Some(allow), "{method} {path}");
        }
    }
}

#[tokio::test]
async fn taken_ids_are_409() {
    let server = TestServer::start().await;
    server.create_calendar("dup", "UTC").await;
    let c = server.client(http::Version::HTTP_2);
    let detail = c
        .json(Method::POST, "/calendars", &server.admin, r#"{"id":"dup"}"#)
        .await
        .problem(StatusCode::CONFLICT);
    assert!(detail.contains("pick another id"), "{detail}");
    c.json(
        Method::POST,
        "/calendars",
        &server.admin,
        r#"{"id":"default"}"#,
    )
    .await
    .problem(StatusCode::CONFLICT);
}

#[tokio::test]
async fn stale_if_match_is_412_everywhere() {
    let server = TestServer::start().await;
    let key = server.create_calendar("s", "UTC").await;
    let c = server.client(http::Version::HTTP_11);
    let stale = [JSON, ("if-match", "\"v99\"")];
    let send = |method: Method, path: &'static str, body: &'static str| {
        c.call(method, path, Some(&key), &stale, body)
    };
    send(Method::PATCH, "/calendars/s/availability", BATCH)
        .await
        .problem(StatusCode::PRECONDITION_FAILED);
    send(Method::PUT, "/calendars/s/availability", BATCH)
        .await
        .problem(StatusCode::PRECONDITION_FAILED);
    send(Method::PATCH, "/calendars/s", r#"{"timezone":"UTC"}"#)
        .await
        .problem(StatusCode::PRECONDITION_FAILED);
    send(Method::POST, "/calendars/s/keys", "")
        .await
        .problem(StatusCode::PRECONDITION_FAILED);
    // `*` only asks that the calendar exist.
    let star = c
        .call(
            Method::PATCH,
            "/calendars/s/availability",
            Some(&key),
            &[JSON, ("if-match", "*")],
            BATCH,
        )
        .await;
    assert_eq!(star.status, StatusCode::OK);
}

#[tokio::test]
async fn large_bodies_are_413_and_non_json_415() {
    let server = TestServer::start().await;
    for version in VERSIONS {
        let c = server.client(version);
        let big = format!(r#"{{"updates":[],"pad":"{}"}}"#, "x".repeat(70 * 1024));
        let detail = c
            .json(Method::PATCH, "/availability", &server.admin, &big)
            .await
            .problem(StatusCode::PAYLOAD_TOO_LARGE);
        assert!(detail.contains("65536 bytes"), "{detail}");

        // Without a length (chunked on HTTP/1.1), the limit holds while reading.
        let chunks: VecDeque<Bytes> =
            std::iter::repeat_n(Bytes::from(vec![b' '; 8192]), 10).collect();
        let request = Client::request(Method::PUT, "/availability", Some(&server.admin), &[JSON]);
        let r = c.send(request.body(Chunks(chunks).boxed()).unwrap()).await;
        r.problem(StatusCode::PAYLOAD_TOO_LARGE);

        for content_type in [
            None,
            Some("text/plain"),
            Some("application/x-www-form-urlencoded"),
        ] {
            let typed: Vec<_> = content_type
                .map(|t| ("content-type", t))
                .into_iter()
                .collect();
            let detail = c
                .call(
                    Method::PATCH,
                    "/availability",
                    Some(&server.admin),
                    &typed,
                    BATCH,
                )
                .await
                .problem(StatusCode::UNSUPPORTED_MEDIA_TYPE);
            assert!(detail.contains("application/json"), "{detail}");
        }
        let r = c
            .call(
                Method::PATCH,
                "/availability",
                Some(&server.admin),
                &[("content-type", "application/json; charset=utf-8")],
                BATCH,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    }
}

/// One HTTP/1.1 answer read off a raw connection: its status, its header lines (lower-case),
/// and whether the connection was still open after it.
async fn answer_of<S: tokio::io::AsyncRead + Unpin>(stream: &mut S) -> (u16, Vec<String>) {
    use tokio::io::AsyncReadExt;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let n = tokio::time::timeout(std::time::Duration::from_secs(10), stream.read(&mut byte))
            .await
            .expect("an answer in time")
            .expect("readable");
        assert_eq!(n, 1, "the connection closed mid-answer: {head:?}");
        head.push(byte[0]);
    }
    let text = String::from_utf8_lossy(&head).to_ascii_lowercase();
    let mut lines = text.split("\r\n").filter(|l| !l.is_empty());
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .expect("a status line");
    let headers: Vec<String> = lines.map(str::to_owned).collect();
    let length: usize = headers
        .iter()
        .find_map(|h| h.strip_prefix("content-length:"))
        .map_or(0, |v| v.trim().parse().expect("a length"));
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).await.expect("the body");
    (status, headers)
}

/// A request answered before its body is read (refused, or a read that takes no body) has its
/// body read after the answer, so the client is not cut off while it sends, and the
/// connection stays usable for the next request; as does a body that was read.
#[tokio::test]
async fn unread_bodies_are_read_and_the_connection_goes_on() {
    use tokio::io::AsyncWriteExt;
    let server = TestServer::start().await;
    let key = server.create_calendar("room", "UTC").await;
    let c = server.client(http::Version::HTTP_11);
    let request = |method: &str, path: &str, key: &str, body: &str| {
        format!(
            "{method} {path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {key}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
    };
    let wrong = availability_server::auth::assemble(
        availability_server::auth::key_id(&key).unwrap(),
        &[7; 20],
    );
    for (refused, status) in [
        (
            request("PATCH", "/calendars/room/availability", &wrong, BATCH),
            401,
        ),
        (
            request("PATCH", "/calendars/nowhere/availability", &key, BATCH),
            404,
        ),
        (request("GET", "/calendars/room", &key, BATCH), 200),
        (
            request("PATCH", "/calendars/room/availability?tz=UTC", &key, BATCH),
            400,
        ),
    ] {
        let mut tls = c.tls().await;
        tls.write_all(refused.as_bytes()).await.unwrap();
        let (got, headers) = answer_of(&mut tls).await;
        assert_eq!(got, status, "{refused}");
        assert!(
            !headers.iter().any(|h| h.starts_with("connection:")),
            "{refused}: {headers:?}"
        );
        tls.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .await
            .unwrap();
        assert_eq!(answer_of(&mut tls).await.0, 200, "after {refused}");
    }
    // A write whose body was read: the connection goes on.
    let mut tls = c.tls().await;
    let write = request("PATCH", "/calendars/room/availability", &key, BATCH);
    tls.write_all(write.as_bytes()).await.unwrap();
    let (got, headers) = answer_of(&mut tls).await;
    assert_eq!(got, 200);
    assert!(
        !headers.iter().any(|h| h.starts_with("connection:")),
        "{headers:?}"
    );
    tls.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(answer_of(&mut tls).await.0, 200);
}

/// A client that sends a whole body over the cap before reading gets the 413, not a reset
/// connection: an announced body of up to a mebibyte is read and dropped first, and the
/// connection stays usable. A larger one is cut off, with notice.
#[tokio::test]
async fn a_body_over_the_cap_is_read_so_its_sender_sees_the_413() {
    use tokio::io::AsyncWriteExt;
    let server = TestServer::start().await;
    let c = server.client(http::Version::HTTP_11);
    let body = format!(r#"{{"calendars":["{}"]}}"#, "x".repeat(300 * 1024));
    let request = format!(
        "POST /overlap HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut tls = c.tls().await;
    // All of it, before reading anything: a server that stopped reading would stall this.
    tls.write_all(request.as_bytes()).await.unwrap();
    let (got, headers) = answer_of(&mut tls).await;
    assert_eq!(got, 413);
    assert!(
        !headers.iter().any(|h| h.starts_with("connection:")),
        "{headers:?}"
    );
    tls.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(answer_of(&mut tls).await.0, 200);

    // Past a mebibyte: refused at once, and the connection closes.
    let huge = format!(
        "POST /overlap HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n",
        2 << 20
    );
    let mut tls = c.tls().await;
    tls.write_all(huge.as_bytes()).await.unwrap();
    let (got, headers) = answer_of(&mut tls).await;
    assert_eq!(got, 413);
    assert!(
        headers.iter().any(|h| h == "connection: close"),
        "{headers:?}"
    );
}

/// A HEAD answered 304 has no `Content-Length` of its own (RFC 9110: it would describe a body
/// that a 304 never has); writes refuse query parameters they do not take.
#[tokio::test]
async fn head_304_has_no_length_and_writes_refuse_parameters() {
    let server = TestServer::start().await;
    for version in VERSIONS {
        let c = server.client(version);
        let tag = c
            .get("/availability?week=2026-W48")
            .await
            .header("etag")
            .unwrap()
            .to_owned();
        let r = c
            .call(
                Method::HEAD,
                "/availability?week=2026-W48",
                None,
                &[("if-none-match", &tag)],
                Bytes::new(),
            )
            .await;
        assert_eq!(r.status, StatusCode::NOT_MODIFIED);
        assert_eq!(r.header("content-length"), None, "{version:?}");
        let r = c
            .json(
                Method::PUT,
                "/calendars/default/availability?tz=Europe/Paris",
                &server.admin,
                BATCH,
            )
            .await;
        let detail = r.problem(StatusCode::BAD_REQUEST);
        assert!(detail.contains("\"tz\""), "{detail}");
    }
}
