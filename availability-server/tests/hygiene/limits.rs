//! Limits: a body or a header section too large, more connections than the server keeps, from
//! one address or from many, and more HTTP/2 streams than it allows at once.

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
use tokio::io::AsyncWriteExt;

use super::until_closed;
use crate::support::{Client, TestServer, JSON};

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
        let request = Client::request(Method::PUT, "/availability", Some(&server.admin), &[JSON]);
        let response = server
            .client(version)
            .open(request.body(body.boxed()).unwrap())
            .await;
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

/// An HTTP/1.1 keep-alive connection from `client` that has been served once: its sender,
/// for more requests on the same connection.
async fn served_connection(
    client: &Client,
) -> hyper::client::conn::http1::SendRequest<crate::support::ReqBody> {
    let io = TokioIo::new(client.tls().await);
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io).await.unwrap();
    tokio::spawn(conn);
    assert_eq!(healthz_on(&mut sender).await, StatusCode::OK);
    sender
}

/// `GET /healthz` on a kept connection.
async fn healthz_on(
    sender: &mut hyper::client::conn::http1::SendRequest<crate::support::ReqBody>,
) -> StatusCode {
    let request = Client::request(Method::GET, "/healthz", None, &[("host", "localhost")])
        .body(crate::support::full(Bytes::new()))
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    let status = response.status();
    let _ = response.into_body().collect().await;
    status
}

/// Connections past the limit are closed on accept when every slot holds a connection that
/// has been served; once one closes, a new one is served.
#[tokio::test]
async fn connections_past_the_limit_are_closed_at_once() {
    let server = TestServer::start_tweaked(|config| {
        config.connections.max_connections = 2;
    })
    .await;
    let client = server.client(Version::HTTP_11);
    let first = served_connection(&client).await;
    let second = served_connection(&client).await;
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

/// A hundred TCP connections from one address that never send a ClientHello take only that
/// address's share of the slots: another address goes on being served on both protocols.
/// (With one pool for everyone, the flood held every slot until its handshakes timed out.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_cannot_take_every_connection_slot() {
    let server = TestServer::start_tweaked(|config| {
        config.connections.max_connections = 32;
        config.connections.max_connections_per_client = 8;
    })
    .await;
    let flooder = server.client(Version::HTTP_11).from("127.0.0.2");
    let mut flood = Vec::new();
    for _ in 0..100 {
        flood.push(flooder.tcp().await);
    }
    for round in 0..5 {
        for version in crate::support::VERSIONS {
            let r = server
                .client(version)
                .from("127.0.0.1")
                .get("/healthz")
                .await;
            assert_eq!(r.status, StatusCode::OK, "round {round}, {version:?}");
        }
    }
    // The accept queue is first in, first out: the whole flood was accepted before the
    // first honest connection, so every connection past the share has been refused.
    let refused = server
        .app
        .metrics
        .connections_refused
        .load(Ordering::SeqCst);
    assert_eq!(refused, 92, "eight of the hundred were kept");
    drop(flood);
}

/// With every slot taken, a new connection takes the place of the oldest one that has not
/// sent a request yet, never of one that has been served: silent connections from many
/// addresses, each within its share, cannot lock a new client out, and clients already
/// served keep their connections.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_connections_make_room_and_served_ones_are_kept() {
    let server = TestServer::start_tweaked(|config| {
        config.connections.max_connections = 8;
        config.connections.max_connections_per_client = 4;
    })
    .await;
    let mut kept = Vec::new();
    let served = server.client(Version::HTTP_11).from("127.0.0.1");
    for _ in 0..4 {
        kept.push(served_connection(&served).await);
    }
    let mut silent = Vec::new();
    for address in 2..=5 {
        let from = format!("127.0.0.{address}");
        let client = server.client(Version::HTTP_11).from(&from);
        for _ in 0..4 {
            silent.push(client.tcp().await);
        }
    }
    for version in crate::support::VERSIONS {
        let r = server
            .client(version)
            .from("127.0.0.6")
            .get("/healthz")
            .await;
        assert_eq!(
            r.status,
            StatusCode::OK,
            "{version:?}: a new client is served"
        );
    }
    for sender in &mut kept {
        assert_eq!(
            healthz_on(sender).await,
            StatusCode::OK,
            "a served connection is kept"
        );
    }
    let metrics = &server.app.metrics;
    // Sixteen silent connections for four free slots: twelve shed. Then a new client sheds
    // one more, and the second another unless the first one's slot is free again by then.
    let shed = metrics.connections_shed.load(Ordering::SeqCst);
    assert!((13..=14).contains(&shed), "{shed}");
    assert_eq!(metrics.connections_refused.load(Ordering::SeqCst), 0);
    drop(silent);
}

/// HTTP/2 by hand, for a client that does not keep to the server's settings.
mod raw_h2 {
    use tokio::io::{AsyncRead, AsyncReadExt};

    pub(super) const HEADERS: u8 = 1;
    pub(super) const RST_STREAM: u8 = 3;
    pub(super) const SETTINGS: u8 = 4;
    pub(super) const GOAWAY: u8 = 7;
    pub(super) const END_HEADERS: u8 = 4;
    pub(super) const ACK: u8 = 1;
    pub(super) const REFUSED_STREAM: u32 = 7;

    /// One frame: a 9-byte head (length, type, flags, stream) and its payload.
    pub(super) fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
        let len = u32::try_from(payload.len()).unwrap();
        let mut out = len.to_be_bytes()[1..].to_vec();
        out.extend([kind, flags]);
        out.extend(stream.to_be_bytes());
        out.extend(payload);
        out
    }

    /// An HPACK header block of literal fields without indexing, all shorter than 127 bytes.
    pub(super) fn block(fields: &[(&str, &str)]) -> Vec<u8> {
        let mut out = Vec::new();
        for (name, value) in fields {
            out.push(0);
            out.push(u8::try_from(name.len()).unwrap());
            out.extend(name.as_bytes());
            out.push(u8::try_from(value.len()).unwrap());
            out.extend(value.as_bytes());
        }
        out
    }

    /// The next frame's type, flags, stream and payload.
    pub(super) async fn read(io: &mut (impl AsyncRead + Unpin)) -> Option<(u8, u8, u32, Vec<u8>)> {
        let mut head = [0u8; 9];
        io.read_exact(&mut head).await.ok()?;
        let len = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
        let stream = u32::from_be_bytes([head[5], head[6], head[7], head[8]]) & 0x7fff_ffff;
        let mut payload = vec![0u8; len];
        io.read_exact(&mut payload).await.ok()?;
        Some((head[3], head[4], stream, payload))
    }
}

/// A client that opens more HTTP/2 streams than the server allows at once has the extra one
/// refused (RST_STREAM REFUSED_STREAM), while its streams within the limit stay open and
/// other clients are served.
#[tokio::test]
async fn http2_streams_past_the_limit_are_refused() {
    use raw_h2::*;
    let server = TestServer::start_tweaked(|config| {
        config.connections.h2_max_streams = 2;
    })
    .await;
    let mut tls = server.client(Version::HTTP_2).tls().await;
    tls.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        .await
        .unwrap();
    tls.write_all(&frame(SETTINGS, 0, 0, &[])).await.unwrap();
    tls.flush().await.unwrap();
    // Keep to the protocol until the server's settings are acknowledged.
    let mut acked = false;
    let mut settings_seen = false;
    while !(acked && settings_seen) {
        let (kind, flags, _, _) = tokio::time::timeout(Duration::from_secs(5), read(&mut tls))
            .await
            .unwrap()
            .expect("the server's settings");
        if kind == SETTINGS && flags & ACK == 0 {
            settings_seen = true;
            tls.write_all(&frame(SETTINGS, ACK, 0, &[])).await.unwrap();
            tls.flush().await.unwrap();
        } else if kind == SETTINGS {
            acked = true;
        }
    }
    // Three writes with a valid key whose bodies never come: each handler waits for its body,
    // so each stream stays open.
    let authorization = format!("Bearer {}", server.admin);
    let head = block(&[
        (":method", "PATCH"),
        (":scheme", "https"),
        (":path", "/availability"),
        (":authority", "localhost"),
        ("authorization", &authorization),
        ("content-type", "application/json"),
        ("content-length", "100"),
    ]);
    for stream in [1, 3, 5] {
        tls.write_all(&frame(HEADERS, END_HEADERS, stream, &head))
            .await
            .unwrap();
    }
    tls.flush().await.unwrap();
    let mut resets = Vec::new();
    while let Ok(Some((kind, _, stream, payload))) =
        tokio::time::timeout(Duration::from_secs(2), read(&mut tls)).await
    {
        assert_ne!(kind, GOAWAY, "the connection itself was ended: {payload:?}");
        if kind == RST_STREAM {
            let code = u32::from_be_bytes(payload[..4].try_into().unwrap());
            resets.push((stream, code));
        }
    }
    assert_eq!(
        resets,
        [(5, REFUSED_STREAM)],
        "only the third stream is refused"
    );
    // Others are served meanwhile.
    let r = server.client(Version::HTTP_2).get("/healthz").await;
    assert_eq!(r.status, StatusCode::OK);
}
