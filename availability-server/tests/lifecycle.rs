//! Starting, restarting and stopping: the first-run path, a restart on the same data,
//! graceful shutdown with a request in flight, and connections that misbehave.

use std::sync::atomic::Ordering;
use std::time::Duration;

use availability_server::server::Connections;
use http::{Method, StatusCode, Version};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

use crate::support::{
    database, files, on_postgres, open, test_config, Client, TestServer, VERSIONS,
};

#[tokio::test]
async fn first_run_makes_a_certificate_and_an_admin_key_then_restarts_on_the_same_data() {
    let data = tempfile::tempdir().unwrap();
    // No certificate configured: the server makes one in the data directory.
    let mut config = test_config(data.path());
    if on_postgres() {
        let cluster = crate::support::postgres::Cluster::get().unwrap();
        config.database = Some(database(cluster.database().await));
    }
    let on_database = config.database.clone();
    let (_, new_certificate) = availability_server::startup::tls(&config).unwrap();
    let cert_path = new_certificate.expect("a new certificate");
    assert!(availability_server::startup::tls(&config)
        .unwrap()
        .1
        .is_none());
    let prepared = availability_server::startup::prepare(&config, open(&config).await)
        .await
        .unwrap();
    assert!(cert_path.starts_with(data.path()));
    let admin = prepared.new_admin_key.clone().expect("a new admin key");
    assert!(
        availability_server::auth::key_id(&admin).is_some(),
        "{admin}"
    );
    drop(prepared);

    let cert_pem = std::fs::read(&cert_path).unwrap();
    let root: rustls_pki_types::CertificateDer<'static> =
        rustls_pki_types::pem::PemObject::from_pem_slice(&cert_pem).unwrap();
    let moved = data;

    // The printed key creates a calendar and writes to it, over the made certificate.
    let mut again = test_config(moved.path());
    again.database = on_database;
    let mut server = TestServer::start_with(again, root, moved).await;
    assert_eq!(server.admin, "", "a second start prints no new key");
    server.admin = admin.clone();
    let key = server.create_calendar("first", "UTC").await;
    let c = server.client(Version::HTTP_2);
    let w = c
        .json(
            Method::PATCH,
            "/calendars/first/availability",
            &key,
            r#"{"updates":[{"day":"friday","from":"09:00","to":"12:00","status":"available"}]}"#,
        )
        .await;
    assert_eq!(w.status, StatusCode::OK, "{}", w.text());
    assert_eq!(
        c.get("/availability?week=2026-W48").await.status,
        StatusCode::OK,
        "the default calendar exists"
    );

    // No plaintext key anywhere in the data directory.
    for file in files(server.data.path()) {
        let bytes = std::fs::read(&file).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            !text.contains(&admin) && !text.contains(&key),
            "{}",
            file.display()
        );
    }
    let before = std::fs::read(server.data.path().join("cert.pem")).unwrap();

    // Restart on the same data: same certificate, same calendars, no new admin key.
    let again = server.restart().await;
    let after = std::fs::read(again.data.path().join("cert.pem")).unwrap();
    assert_eq!(before, after);
    let v = again
        .client(Version::HTTP_11)
        .get("/calendars/first/availability?week=2026-W48")
        .await
        .json();
    assert_eq!(v["version"], 2);
    assert_eq!(v["slots"][4 * 48 + 18]["status"], "available");
    let list = again
        .client(Version::HTTP_11)
        .authed(Method::GET, "/calendars", &admin)
        .await;
    assert_eq!(list.status, StatusCode::OK);
}

#[tokio::test]
async fn shutdown_finishes_the_request_in_flight() {
    let mut server = TestServer::start().await;
    let client = server.client(Version::HTTP_11);
    let mut tls = client.tls().await;
    let body = r#"{"updates":[{"day":"monday","time":"09:00","status":"available"}]}"#;
    let head = format!(
        "PATCH /availability HTTP/1.1\r\nhost: localhost\r\nauthorization: Bearer {}\r\n\
         content-type: application/json\r\ncontent-length: {}\r\n\r\n",
        server.admin,
        body.len()
    );
    // The head and half the body: the request is in flight, its handler waiting for the rest.
    tls.write_all(head.as_bytes()).await.unwrap();
    tls.write_all(&body.as_bytes()[..10]).await.unwrap();
    tls.flush().await.unwrap();
    // Wait until the server has routed the request and its handler waits for the body.
    while server.app.metrics.in_flight() == 0 {
        tokio::task::yield_now().await;
    }
    server.trigger_shutdown();
    while !server.app.is_shutting_down() {
        tokio::task::yield_now().await;
    }
    // New connections are refused once shutdown begins.
    assert!(tokio::net::TcpStream::connect(server.addr).await.is_err());
    let version = |server: &TestServer| server.store.get("default").map(|c| c.version());
    assert_eq!(version(&server), Some(1), "not written while in flight");

    tls.write_all(&body.as_bytes()[10..]).await.unwrap();
    tls.flush().await.unwrap();
    let mut response = Vec::new();
    tls.read_to_end(&mut response).await.unwrap_or_default();
    let text = String::from_utf8_lossy(&response);
    assert!(text.starts_with("HTTP/1.1 200 OK"), "{text}");
    assert!(text.contains("\"version\":2"), "{text}");
    server.join().await;
    assert_eq!(version(&server), Some(2));
    // Acknowledged means on disk: a new server on the same data sees it.
    let again = server.restart().await;
    assert_eq!(version(&again), Some(2));
}

#[tokio::test]
async fn garbage_connections_do_not_stop_the_server() {
    let server = TestServer::start().await;
    // Plain text on a TLS port, then an abrupt close mid-handshake.
    let mut tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    tcp.write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let mut sink = Vec::new();
    let _ = tcp.read_to_end(&mut sink).await;
    drop(tokio::net::TcpStream::connect(server.addr).await.unwrap());
    // A TLS connection that sends garbage instead of HTTP.
    let mut tls = server.client(Version::HTTP_11).tls().await;
    tls.write_all(b"\x00\x01garbage\r\n\r\n").await.unwrap();
    let mut out = Vec::new();
    let _ = tls.read_to_end(&mut out).await;
    let text = String::from_utf8_lossy(&out);
    assert!(
        text.is_empty() || text.starts_with("HTTP/1.1 400"),
        "{text}"
    );

    let r = server.client(Version::HTTP_2).get("/healthz").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(server.app.metrics.connection_errors.load(Ordering::SeqCst) >= 1);
}

/// Once shutdown has begun, every request is refused with 503 and `Retry-After: 1` on both
/// protocols, and nothing is done: a read answered from memory, a page, and a write with a
/// body (which waits for its body before it is answered).
#[tokio::test]
async fn requests_after_shutdown_began_get_503() {
    let server = TestServer::start().await;
    server.app.begin_shutdown();
    let body = r#"{"updates":[{"day":"monday","time":"09:00","status":"available"}]}"#;
    for version in VERSIONS {
        let c = server.client(version);
        let answers = [
            ("GET /healthz", c.get("/healthz").await),
            ("GET /", c.get("/").await),
            (
                "PATCH /availability",
                c.json(Method::PATCH, "/availability", &server.admin, body)
                    .await,
            ),
        ];
        for (request, r) in answers {
            assert_eq!(
                r.status,
                StatusCode::SERVICE_UNAVAILABLE,
                "{version:?} {request}: {}",
                r.text()
            );
            let detail = r.problem(StatusCode::SERVICE_UNAVAILABLE);
            assert!(detail.contains("shutting down"), "{request}: {detail}");
            assert_eq!(r.header("retry-after"), Some("1"), "{version:?} {request}");
        }
    }
    let version = server.store.get("default").map(|c| c.version());
    assert_eq!(
        version,
        Some(1),
        "a write refused at shutdown was not applied"
    );
}

/// Reads `stream` until the server closes it, which must come within `limit` and with no byte
/// of answer. A TLS stream may end without `close_notify`: the server drops a connection it
/// gives up on rather than shutting TLS down. Any other read error is not a close.
async fn closed_within(mut stream: impl AsyncRead + Unpin, limit: Duration) {
    let mut got = Vec::new();
    let read = tokio::time::timeout(limit, stream.read_to_end(&mut got))
        .await
        .unwrap_or_else(|_| panic!("the connection was still open after {limit:?}"));
    match read {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {}
        Err(e) => panic!("the connection failed instead of closing: {e}"),
    }
    assert!(
        got.is_empty(),
        "the server answered: {}",
        String::from_utf8_lossy(&got)
    );
}

/// A client that connects and says nothing is dropped once the handshake timeout passes; the
/// clock is tokio's paused one, so no test time is spent waiting.
#[tokio::test(start_paused = true)]
async fn silent_clients_are_disconnected() {
    let server = TestServer::start().await;
    let tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let limit = Connections::default().handshake_timeout + Duration::from_secs(1);
    closed_within(tcp, limit).await;
    assert!(server.app.metrics.connection_errors.load(Ordering::SeqCst) >= 1);
}

/// After the handshake, a client that sends no request head is dropped once the header read
/// timeout passes (hyper ignores that timeout unless a timer is installed).
#[tokio::test(start_paused = true)]
async fn clients_that_send_no_request_are_disconnected() {
    let server = TestServer::start().await;
    let tls = server.client(Version::HTTP_11).tls().await;
    let limit = Connections::default().header_read_timeout + Duration::from_secs(1);
    closed_within(tls, limit).await;
}

/// A request cancelled while it waits (here for a body that never comes, the client gone) no
/// longer counts as in flight: the gauge comes back down, whether the client closes its
/// connection or resets it.
#[tokio::test]
async fn a_request_cancelled_mid_wait_leaves_the_in_flight_gauge() {
    let server = TestServer::start().await;
    let key = server.create_calendar("room", "UTC").await;
    for ending in ["close", "reset"] {
        let c = server.client(Version::HTTP_11);
        let head = format!(
            "PATCH /calendars/room/availability HTTP/1.1\r\nHost: localhost\r\n\
             Authorization: Bearer {key}\r\nContent-Type: application/json\r\n\
             Content-Length: 1000\r\n\r\n{{\"upd"
        );
        let mut tls = c.tls().await;
        if ending == "reset" {
            // Closing with a zero linger time sends a reset instead of a FIN, at once: the
            // blocking the deprecation warns of needs a non-zero time.
            #[allow(deprecated)]
            let _ = tls.get_ref().0.set_linger(Some(std::time::Duration::ZERO));
        }
        tls.write_all(head.as_bytes()).await.unwrap();
        tls.flush().await.unwrap();
        // The request is in flight once its key has been checked and the body awaited.
        let waited = wait_for(|| server.app.metrics.in_flight() == 1).await;
        assert!(waited, "{ending}: the request never started");
        drop(tls);
        let cleared = wait_for(|| server.app.metrics.in_flight() == 0).await;
        assert!(
            cleared,
            "{ending}: {} requests still in flight after the client left",
            server.app.metrics.in_flight()
        );
    }
}

/// Whether `done` holds within two seconds.
async fn wait_for(done: impl Fn() -> bool) -> bool {
    for _ in 0..200 {
        if done() {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    done()
}

/// A handler that panics on `/panic`.
struct Panicky(availability_server::metrics::Metrics);

impl availability_server::server::Handler for Panicky {
    fn handle(
        &self,
        _peer: std::net::IpAddr,
        request: http::Request<hyper::body::Incoming>,
    ) -> impl std::future::Future<Output = http::Response<availability_server::wire::Body>> + Send
    {
        let path = request.uri().path().to_owned();
        async move {
            assert_ne!(path, "/panic", "a bug in a handler");
            http::Response::new(availability_server::wire::Body::new(
                bytes::Bytes::from_static(b"ok"),
            ))
        }
    }

    fn metrics(&self) -> &availability_server::metrics::Metrics {
        &self.0
    }
}

/// A panicking handler is answered 500 and counted, on both protocols, and the server goes
/// on serving: a panic is never just a dropped connection that nobody sees.
#[tokio::test]
async fn a_handler_panic_is_answered_500_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key, root) = crate::support::test_certificate(dir.path());
    let tls = availability_server::tls::server_config(
        availability_server::tls::load(&cert, &key).unwrap(),
    )
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let handler = std::sync::Arc::new(Panicky(Default::default()));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(availability_server::server::run(
        listener,
        tls,
        std::sync::Arc::clone(&handler),
        Default::default(),
        async move {
            let _ = stopped.await;
        },
        std::time::Duration::from_secs(5),
    ));
    for (n, version) in [Version::HTTP_11, Version::HTTP_2].into_iter().enumerate() {
        let c = Client::new(addr, root.clone(), version);
        let r = c.get("/panic").await;
        assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR, "{version:?}");
        assert_eq!(
            handler.0.panics.load(Ordering::Relaxed),
            n as u64 + 1,
            "{version:?}"
        );
        assert_eq!(c.get("/fine").await.status, StatusCode::OK);
    }
    let _ = stop.send(());
    task.await.unwrap();
}
