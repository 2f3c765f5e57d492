//! A catalogue of hostile requests, written byte by byte onto real TLS connections: every one
//! gets the answer pinned for it (a 4xx, or a close where no request was sent), never a 5xx,
//! a panic or a hang; the server counts no panic, goes on serving everyone else, and still
//! takes writes afterwards.
//!
//! The cases and their pinned answers are `catalogue`; here, how a case is sent and the tests.

mod catalogue;

use std::time::Duration;

use http::{StatusCode, Version};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::TestServer;
use catalogue::{catalogue, CASES, EXPECTED, TOLERATED};

/// How long one hostile request may take to be answered or closed.
const PATIENCE: Duration = Duration::from_secs(20);

#[derive(Debug, Clone, Copy, PartialEq)]
enum Outcome {
    /// The status code of the answer.
    Status(u16),
    /// The server closed the connection without answering.
    Closed,
}

/// Sends `bytes` on a new HTTP/1.1 connection and returns the status line's code, or
/// `Closed`. With `hang_up`, the client closes its side once the bytes are sent. Fails the
/// test if neither an answer nor a close comes within [`PATIENCE`].
async fn send_raw(server: &TestServer, bytes: &[u8], hang_up: bool) -> Outcome {
    let mut tls = server.client(Version::HTTP_11).tls().await;
    // The server may stop reading (and close) before everything is written; that is a close,
    // and the answer, if any, is still read below.
    let _ = tls.write_all(bytes).await;
    let _ = tls.flush().await;
    if hang_up {
        let _ = tls.shutdown().await;
    }
    let mut received = Vec::new();
    let read = tokio::time::timeout(PATIENCE, async {
        let mut chunk = [0u8; 4096];
        while !received.windows(2).any(|w| w == b"\r\n") {
            match tls.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&chunk[..n]),
            }
        }
    })
    .await;
    let shown = String::from_utf8_lossy(&bytes[..bytes.len().min(80)]).into_owned();
    assert!(
        read.is_ok(),
        "no answer and no close within {PATIENCE:?}: {shown:?}"
    );
    let line = String::from_utf8_lossy(&received);
    match line
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse::<u16>().ok())
    {
        Some(code) => Outcome::Status(code),
        None if received.is_empty() => Outcome::Closed,
        None => panic!("not an HTTP answer to {shown:?}: {line:?}"),
    }
}

#[tokio::test]
async fn hostile_requests_get_their_pinned_answer_and_others_are_still_served() {
    let mut server = TestServer::start_tweaked(|config| {
        config.client_ip_header = Some(http::HeaderName::from_static("x-forwarded-for"));
    })
    .await;
    let cases = catalogue(&server.admin);
    assert_eq!(
        cases.len(),
        CASES,
        "the catalogue's size (the README quotes it)"
    );
    assert_eq!(EXPECTED.len(), CASES, "every case is pinned once");
    let mut wrong = Vec::new();
    for (name, bytes) in &cases {
        let outcome = send_raw(&server, bytes, name.ends_with("then gone")).await;
        let expected = EXPECTED
            .iter()
            .find(|(pinned, _)| pinned == name)
            .map(|(_, outcome)| *outcome);
        match (outcome, expected) {
            (got, Some(want)) if got == want => {}
            (got, want) => wrong.push(format!("{name}: got {got:?}, pinned {want:?}")),
        }
        if let Outcome::Status(code) = outcome {
            let tolerated = code < 300 && TOLERATED.contains(name);
            if !(400..500).contains(&code) && !tolerated {
                wrong.push(format!("{name}: answered {code}"));
            }
        }
        // After every case, an honest client is still served, on both protocols.
        for version in [Version::HTTP_11, Version::HTTP_2] {
            let ok = server.client(version).get("/healthz").await;
            assert_eq!(ok.status, StatusCode::OK, "after {name} ({version:?})");
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
    // No case made anything panic, not even in a task whose failure only drops a connection.
    let panics = server
        .app
        .metrics
        .panics
        .load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(panics, 0, "panics while answering the catalogue");

    // Nothing hostile changed the data: the one admin key is still the only one...
    assert_eq!(server.store.admin_keys().len(), 1);
    // ...the default calendar is as it started...
    let c = server.client(Version::HTTP_2);
    let week = c.get("/calendars/default").await.json();
    assert_eq!(week["version"], 1, "{week}");
    // ...and writes still work.
    let w = c
        .json(
            http::Method::PATCH,
            "/calendars/default/availability",
            &server.admin,
            r#"{"updates":[{"day":"monday","time":"09:00","status":"available"}]}"#,
        )
        .await;
    assert_eq!(w.status, StatusCode::OK, "{}", w.text());
    assert_eq!(c.get("/calendars/default").await.json()["version"], 2);
    server.stop().await;
}

#[tokio::test]
async fn plain_http_and_abandoned_handshakes_are_closed() {
    let mut server = TestServer::start().await;
    // Plain HTTP to the TLS port: the handshake fails and the connection closes.
    let mut tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    tcp.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let closed = tokio::time::timeout(PATIENCE, tcp.read_to_end(&mut buf)).await;
    assert!(closed.is_ok(), "plain HTTP was neither answered nor closed");
    assert!(!String::from_utf8_lossy(&buf).contains("200 OK"));
    // Half a ClientHello, then gone; and a connection dropped right after its handshake.
    let mut tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    tcp.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00])
        .await
        .unwrap();
    drop(tcp);
    drop(server.client(Version::HTTP_11).tls().await);
    for version in [Version::HTTP_11, Version::HTTP_2] {
        let ok = server.client(version).get("/healthz").await;
        assert_eq!(ok.status, StatusCode::OK);
    }
    server.stop().await;
}
