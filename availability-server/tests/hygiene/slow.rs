//! Slow clients: a missing HTTP/2 preface, headers or a body trickled in, and connections left
//! idle after their last request, each closed when its timeout passes on the paused clock.

use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, StatusCode, Version};
use hyper_util::rt::TokioIo;
use tokio::io::AsyncWriteExt;
use tokio::time::Instant;

use super::until_closed;
use crate::support::{Client, TestServer};

/// After the handshake, an HTTP/2 client that never sends its preface is dropped once the
/// header read timeout passes.
#[tokio::test(start_paused = true)]
async fn an_http2_client_without_a_preface_is_dropped() {
    let server = TestServer::start_tweaked(|config| {
        config.connections.header_read_timeout = Duration::from_secs(7);
    })
    .await;
    let tls = server.client(Version::HTTP_2).tls().await;
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let start = Instant::now();
    // The server's SETTINGS frame may come first; nothing else will.
    until_closed(tls).await;
    let waited = start.elapsed();
    assert!(
        waited >= Duration::from_secs(7) && waited < Duration::from_secs(8),
        "{waited:?}"
    );
    assert_eq!(server.app.metrics.idle_closed.load(Ordering::SeqCst), 1);
}

/// A client that sends its request head one byte a second is dropped at the header read
/// timeout, while another client is served meanwhile.
#[tokio::test(start_paused = true)]
async fn a_client_trickling_its_headers_is_dropped_while_others_are_served() {
    let server = TestServer::start_tweaked(|config| {
        config.connections.header_read_timeout = Duration::from_secs(10);
    })
    .await;
    let tls = server.client(Version::HTTP_11).tls().await;
    let (reader, mut writer) = tokio::io::split(tls);
    let start = Instant::now();
    let trickle = async move {
        // A head that never ends: one more byte of a header value every second.
        let head = b"GET /healthz HTTP/1.1\r\nhost: localhost\r\nx-pad: ";
        for byte in head.iter().chain(std::iter::repeat(&b'a')).take(600) {
            if writer.write_all(&[*byte]).await.is_err() || writer.flush().await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    };
    let closed = async move {
        until_closed(reader).await;
        start.elapsed()
    };
    let other = async {
        tokio::time::sleep(Duration::from_secs(4)).await;
        server.client(Version::HTTP_2).get("/healthz").await.status
    };
    let (waited, status) = tokio::join!(
        async {
            tokio::select! {
                waited = closed => waited,
                () = trickle => panic!("the trickling client was never dropped"),
            }
        },
        other
    );
    assert_eq!(status, StatusCode::OK, "the other client is served");
    assert!(
        waited >= Duration::from_secs(10) && waited < Duration::from_secs(12),
        "{waited:?}"
    );
}

/// After a request, a keep-alive connection with nothing in flight is closed at the idle
/// timeout, on both protocols. (On HTTP/1.1, hyper also bounds the wait for the next head by
/// the header read timeout, so that one is set longer here.)
#[tokio::test(start_paused = true)]
async fn idle_connections_are_closed_after_their_last_request() {
    let server = TestServer::start_tweaked(|config| {
        config.connections.idle_timeout = Duration::from_secs(30);
        config.connections.header_read_timeout = Duration::from_secs(40);
    })
    .await;
    for version in [Version::HTTP_11, Version::HTTP_2] {
        let io = TokioIo::new(server.client(version).tls().await);
        let request = || {
            let mut r = Client::request(Method::GET, "/healthz", None, &[("host", "localhost")])
                .body(crate::support::full(Bytes::new()))
                .unwrap();
            *r.version_mut() = version;
            r
        };
        // Each branch keeps its sender: dropping it would close the connection from this side.
        let (status, ended, _sender): (_, _, Box<dyn std::any::Any>) = if version == Version::HTTP_2
        {
            let (mut sender, conn) =
                hyper::client::conn::http2::handshake(hyper_util::rt::TokioExecutor::new(), io)
                    .await
                    .unwrap();
            let conn = tokio::spawn(conn);
            let status = sender.send_request(request()).await.unwrap().status();
            (status, conn, Box::new(sender))
        } else {
            let (mut sender, conn) = hyper::client::conn::http1::handshake(io).await.unwrap();
            let conn = tokio::spawn(conn);
            let status = sender.send_request(request()).await.unwrap().status();
            (status, conn, Box::new(sender))
        };
        assert_eq!(status, StatusCode::OK);
        let start = Instant::now();
        let _ = ended.await;
        let waited = start.elapsed();
        assert!(
            waited >= Duration::from_secs(29) && waited < Duration::from_secs(31),
            "{version:?}: {waited:?}"
        );
    }
}

/// A request whose body trickles in is answered 408 at the body read timeout.
#[tokio::test(start_paused = true)]
async fn a_trickled_body_is_answered_408() {
    let server = TestServer::start_tweaked(|config| {
        config.body_read_timeout = Duration::from_secs(20);
    })
    .await;
    let mut tls = server.client(Version::HTTP_11).tls().await;
    let head = format!(
        "PATCH /availability HTTP/1.1\r\nhost: localhost\r\nauthorization: Bearer {}\r\n\
         content-type: application/json\r\ncontent-length: 100\r\n\r\n{{\"upd",
        server.admin
    );
    tls.write_all(head.as_bytes()).await.unwrap();
    tls.flush().await.unwrap();
    let start = Instant::now();
    let text = String::from_utf8_lossy(&until_closed(&mut tls).await).into_owned();
    let waited = start.elapsed();
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("within 20 s"), "{text}");
    assert!(
        waited >= Duration::from_secs(20) && waited < Duration::from_secs(21),
        "{waited:?}"
    );
}
