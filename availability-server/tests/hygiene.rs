//! Connection hygiene: clients that hold a connection and say nothing, trickle their
//! headers, idle after a request, send too many headers or an endless body, or open more
//! connections than the server keeps. Timing tests run on tokio's paused clock: the waits
//! cost no real time, and the instants compared are the clock's own.

use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{Method, StatusCode, Version};
use http_body_util::BodyExt;
use hyper::body::Frame;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

use crate::support::{Client, TestServer};

/// Reads until the server closes; returns what it sent.
async fn until_closed(mut io: impl tokio::io::AsyncRead + Unpin) -> Vec<u8> {
    let mut out = Vec::new();
    let _ = io.read_to_end(&mut out).await;
    out
}

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
            let mut r = Client::request(Method::GET, "/healthz")
                .header("host", "localhost")
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

/// A body that makes 64 KiB frames on demand, counting them.
struct Endless {
    frames_left: usize,
    made: Arc<AtomicUsize>,
}

static PAD: [u8; 65536] = [b' '; 65536];

impl hyper::body::Body for Endless {
    type Data = Bytes;
    type Error = std::convert::Infallible;
    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if self.frames_left == 0 {
            return Poll::Ready(None);
        }
        self.frames_left -= 1;
        self.made.fetch_add(1, Ordering::SeqCst);
        Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(&PAD)))))
    }
}

/// A 10 MiB body with no announced length is refused with 413 once the limit is passed:
/// the server stops reading, so the client never gets to send most of it.
#[tokio::test]
async fn a_ten_mebibyte_chunked_body_is_refused_without_reading_it() {
    let server = TestServer::start().await;
    for version in [Version::HTTP_2, Version::HTTP_11] {
        let made = Arc::new(AtomicUsize::new(0));
        let body = Endless {
            frames_left: 160,
            made: Arc::clone(&made),
        };
        let io = TokioIo::new(server.client(version).tls().await);
        let mut request = Client::request(Method::PUT, "/availability")
            .header("host", "localhost")
            .header("authorization", format!("Bearer {}", server.admin))
            .header("content-type", "application/json")
            .body(body.boxed())
            .unwrap();
        *request.version_mut() = version;
        let response = if version == Version::HTTP_2 {
            let (mut sender, conn) =
                hyper::client::conn::http2::handshake(hyper_util::rt::TokioExecutor::new(), io)
                    .await
                    .unwrap();
            tokio::spawn(conn);
            sender.send_request(request).await.unwrap()
        } else {
            let (mut sender, conn) = hyper::client::conn::http1::handshake(io).await.unwrap();
            tokio::spawn(conn);
            sender.send_request(request).await.unwrap()
        };
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
        let text = response.into_body().collect().await.unwrap().to_bytes();
        let text = String::from_utf8_lossy(&text);
        assert!(text.contains("65536 bytes"), "{text}");
        let sent = made.load(Ordering::SeqCst);
        assert!(
            sent < 160 / 2,
            "{version:?}: {sent} of 160 frames were pulled"
        );
    }
}

#[tokio::test]
async fn too_many_headers_are_refused() {
    let server = TestServer::start_tweaked(|config| {
        config.connections.max_headers = 20;
    })
    .await;
    let mut tls = server.client(Version::HTTP_11).tls().await;
    let mut head = String::from("GET /healthz HTTP/1.1\r\nhost: localhost\r\n");
    for i in 0..30 {
        head.push_str(&format!("x-h{i}: {i}\r\n"));
    }
    head.push_str("\r\n");
    tls.write_all(head.as_bytes()).await.unwrap();
    tls.flush().await.unwrap();
    let text = String::from_utf8_lossy(&until_closed(tls).await).into_owned();
    assert!(text.starts_with("HTTP/1.1 431"), "{text}");
    // Within the limit, the same request is served.
    let r = server
        .client(Version::HTTP_11)
        .get_with("/healthz", &[("x-a", "1"), ("x-b", "2")])
        .await;
    assert_eq!(r.status, StatusCode::OK);
}

/// Connections past the limit are closed on accept; once one closes, a new one is served.
#[tokio::test]
async fn connections_past_the_limit_are_closed_at_once() {
    let server = TestServer::start_tweaked(|config| {
        config.connections.max_connections = 2;
    })
    .await;
    let client = server.client(Version::HTTP_11);
    let first = client.tls().await;
    let second = client.tls().await;
    // The third is accepted by the kernel, then closed before any TLS.
    let mut third = client.tcp().await;
    third.write_all(b"\x16\x03\x01").await.unwrap_or(());
    assert!(until_closed(&mut third).await.is_empty());
    assert_eq!(
        server
            .app
            .metrics
            .connections_refused
            .load(Ordering::SeqCst),
        1
    );
    drop(first);
    drop(second);
    // The server frees the slots when it sees the connections end; until then, new ones
    // are refused. Each refused attempt is counted, so the loop is bounded by its count.
    loop {
        let refused = server
            .app
            .metrics
            .connections_refused
            .load(Ordering::SeqCst);
        assert!(refused < 1000, "the slots were never freed");
        let mut tcp = client.tcp().await;
        let connector = tokio_rustls::TlsConnector::from(crate::support::client_config(
            server.root.clone(),
            &[b"http/1.1"],
        ));
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        if let Ok(mut tls) = connector.connect(name, &mut tcp).await {
            tls.write_all(b"GET /healthz HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n")
                .await
                .unwrap();
            let text = String::from_utf8_lossy(&until_closed(&mut tls).await).into_owned();
            if text.starts_with("HTTP/1.1 200") {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
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
