//! The harness: an in-memory store behind the server's store trait (with the real time-zone
//! engine), a test certificate, a server on port 0 and a TLS client that speaks HTTP/1.1 or
//! HTTP/2.

#![allow(dead_code, unreachable_pub)]

use std::collections::{BTreeMap, VecDeque};
use std::convert::Infallible;
use std::path::Path;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use availability_core::Week;
use availability_server::app::App;
use availability_server::config::Config;
use availability_server::state::{Backend, Calendar, Change, KeyHash, StoreError};
use availability_server::{server, startup};
use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode, Version};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Frame;
use hyper_util::rt::TokioIo;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

// ---------------------------------------------------------------------------------------
// An in-memory store.

/// The store's traits over a map; `flushes` counts calls to `flush`.
#[derive(Default)]
pub struct MemBackend {
    calendars: Mutex<BTreeMap<String, Arc<Calendar>>>,
    admin: Mutex<Vec<KeyHash>>,
    pub flushes: AtomicUsize,
}

impl Backend for MemBackend {
    fn get(&self, id: &str) -> Option<Arc<Calendar>> {
        self.calendars.lock().unwrap().get(id).cloned()
    }
    fn list(&self) -> Vec<Arc<Calendar>> {
        self.calendars.lock().unwrap().values().cloned().collect()
    }
    fn create(
        &self,
        id: &str,
        zone: &str,
        key: Option<KeyHash>,
    ) -> Result<Arc<Calendar>, StoreError> {
        let mut map = self.calendars.lock().unwrap();
        if map.contains_key(id) {
            return Err(StoreError::AlreadyExists);
        }
        let cal = Arc::new(Calendar {
            id: id.into(),
            zone: zone.into(),
            version: 1,
            updated: 1_795_426_799,
            week: Week::UNAVAILABLE,
            keys: key.into_iter().collect(),
        });
        map.insert(id.into(), Arc::clone(&cal));
        Ok(cal)
    }
    fn delete(&self, id: &str, expected: Option<u64>) -> Result<(), StoreError> {
        let mut map = self.calendars.lock().unwrap();
        let current = map.get(id).ok_or(StoreError::NotFound)?.version;
        if expected.is_some_and(|v| v != current) {
            return Err(StoreError::VersionMismatch { current });
        }
        map.remove(id);
        Ok(())
    }
    fn commit(
        &self,
        id: &str,
        change: Change,
        expected: Option<u64>,
    ) -> Result<Arc<Calendar>, StoreError> {
        let mut map = self.calendars.lock().unwrap();
        let current = map.get(id).ok_or(StoreError::NotFound)?;
        if expected.is_some_and(|v| v != current.version) {
            return Err(StoreError::VersionMismatch {
                current: current.version,
            });
        }
        let mut next = Calendar::clone(current);
        match change {
            Change::Apply(batch) => {
                next.week = batch
                    .apply(&next.week)
                    .map_err(|e| StoreError::Invalid(e.to_string()))?
            }
            Change::Replace(batch) => next.week = batch.apply_replacing().unwrap(),
            Change::SetZone(zone) => next.zone = zone,
            Change::AddKey(key) => next.keys.push(key),
            Change::RemoveKey(key_id) => {
                let before = next.keys.len();
                next.keys.retain(|k| k.id != key_id);
                if next.keys.len() == before {
                    return Err(StoreError::KeyNotFound);
                }
            }
        }
        next.version += 1;
        next.updated += 60;
        let next = Arc::new(next);
        map.insert(id.into(), Arc::clone(&next));
        Ok(next)
    }
    fn admin_keys(&self) -> Vec<KeyHash> {
        self.admin.lock().unwrap().clone()
    }
    fn add_admin_key(&self, key: KeyHash) -> Result<(), StoreError> {
        self.admin.lock().unwrap().push(key);
        Ok(())
    }
    fn flush(&self) -> Result<(), StoreError> {
        self.flushes.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

impl MemBackend {
    pub fn get_version(&self, id: &str) -> u64 {
        self.get(id).map_or(0, |c| c.version)
    }
}

// ---------------------------------------------------------------------------------------
// Certificates and the server.

/// A test certificate for localhost, as PEM files in `dir`; returns its DER for clients.
pub fn test_certificate(
    dir: &Path,
) -> (
    std::path::PathBuf,
    std::path::PathBuf,
    CertificateDer<'static>,
) {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert = dir.join("test-cert.pem");
    let key = dir.join("test-key.pem");
    std::fs::write(&cert, certified.cert.pem()).unwrap();
    std::fs::write(&key, certified.key_pair.serialize_pem()).unwrap();
    (cert, key, certified.cert.der().clone())
}

pub struct TestServer {
    pub addr: std::net::SocketAddr,
    pub app: Arc<App>,
    pub backend: Arc<dyn Backend>,
    pub admin: String,
    pub root: CertificateDer<'static>,
    pub data: tempfile::TempDir,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

/// bcrypt at its lowest cost, and key checks limited loosely: most tests make many checks
/// from one address on purpose. The tests of the limits set their own.
pub fn test_config(data: &Path) -> Config {
    let mut config = Config {
        data_dir: data.to_path_buf(),
        bcrypt_cost: 4,
        ..Config::default()
    };
    config.rates.auth = availability_server::limit::Rate {
        per_minute: 60_000,
        burst: 1000,
    };
    config
}

impl TestServer {
    /// A server with a test certificate and a fresh store file.
    pub async fn start() -> TestServer {
        let data = tempfile::tempdir().unwrap();
        let (cert, key, root) = test_certificate(data.path());
        let mut config = test_config(data.path());
        config.tls = Some((cert, key));
        let backend = availability_server::backend::open(data.path()).unwrap();
        TestServer::start_with(config, backend, root, data).await
    }

    /// A server over a fresh store file, with settings changed by `tweak`.
    pub async fn start_tweaked(tweak: impl FnOnce(&mut Config)) -> TestServer {
        let data = tempfile::tempdir().unwrap();
        let (cert, key, root) = test_certificate(data.path());
        let mut config = test_config(data.path());
        config.tls = Some((cert, key));
        tweak(&mut config);
        let backend = availability_server::backend::open(data.path()).unwrap();
        TestServer::start_with(config, backend, root, data).await
    }

    /// The same over the in-memory store, which counts flushes.
    pub async fn start_mem(backend: Arc<MemBackend>) -> TestServer {
        let data = tempfile::tempdir().unwrap();
        let (cert, key, root) = test_certificate(data.path());
        let mut config = test_config(data.path());
        config.tls = Some((cert, key));
        TestServer::start_with(config, backend, root, data).await
    }

    pub async fn start_with(
        config: Config,
        backend: Arc<dyn Backend>,
        root: CertificateDer<'static>,
        data: tempfile::TempDir,
    ) -> TestServer {
        let prepared = startup::prepare(
            &config,
            backend.clone(),
            availability_server::backend::zones(),
        )
        .await
        .unwrap();
        let admin = prepared.new_admin_key.clone().unwrap_or_default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let app = Arc::clone(&prepared.app);
        let task = tokio::spawn(server::run(
            listener,
            prepared.tls,
            prepared.app,
            async move {
                let _ = rx.await;
            },
            std::time::Duration::from_secs(30),
        ));
        TestServer {
            addr,
            app,
            backend,
            admin,
            root,
            data,
            shutdown: Some(tx),
            task: Some(task),
        }
    }

    pub fn client(&self, version: Version) -> Client {
        Client::new(self.addr, self.root.clone(), version)
    }

    /// Signals shutdown and waits for `run` to return.
    pub async fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap();
        }
    }

    pub fn trigger_shutdown(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }

    pub async fn join(&mut self) {
        if let Some(task) = self.task.take() {
            task.await.unwrap();
        }
    }

    /// Creates a calendar with the admin key; returns its key.
    pub async fn create_calendar(&self, id: &str, zone: &str) -> String {
        let r = self
            .client(Version::HTTP_11)
            .json(
                Method::POST,
                "/calendars",
                &self.admin,
                &format!(r#"{{"id":"{id}","timezone":"{zone}"}}"#),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        r.json()["key"].as_str().unwrap().to_owned()
    }
}

// ---------------------------------------------------------------------------------------
// The client.

pub type ReqBody = BoxBody<Bytes, Infallible>;

/// A body sent in chunks, with no announced length (so HTTP/1.1 sends it chunked).
pub struct Chunks(pub VecDeque<Bytes>);

impl hyper::body::Body for Chunks {
    type Data = Bytes;
    type Error = Infallible;
    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Poll::Ready(self.0.pop_front().map(|b| Ok(Frame::data(b))))
    }
}

pub fn full(bytes: impl Into<Bytes>) -> ReqBody {
    Full::new(bytes.into()).boxed()
}

#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub version: Version,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Resp {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    /// Asserts an RFC 9457 problem with this status; returns its detail.
    pub fn problem(&self, status: StatusCode) -> String {
        assert_eq!(self.status, status, "{}", self.text());
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json")
        );
        let v = self.json();
        assert_eq!(v["status"], status.as_u16());
        let detail = v["detail"].as_str().unwrap().to_owned();
        assert!(!detail.is_empty());
        detail
    }
}

#[derive(Clone)]
pub struct Client {
    addr: std::net::SocketAddr,
    config: Arc<rustls::ClientConfig>,
    version: Version,
    /// The local address to connect from (any address of 127.0.0.0/8 is this machine), so
    /// that tests can play several clients.
    from: Option<std::net::IpAddr>,
}

pub fn client_config(root: CertificateDer<'static>, alpn: &[&[u8]]) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(root).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Arc::new(config)
}

impl Client {
    pub fn new(
        addr: std::net::SocketAddr,
        root: CertificateDer<'static>,
        version: Version,
    ) -> Client {
        let alpn: &[&[u8]] = if version == Version::HTTP_2 {
            &[b"h2"]
        } else {
            &[b"http/1.1"]
        };
        Client {
            addr,
            config: client_config(root, alpn),
            version,
            from: None,
        }
    }

    /// The same client, connecting from `from` (for example 127.0.0.2).
    pub fn from(mut self, from: &str) -> Client {
        self.from = Some(from.parse().unwrap());
        self
    }

    pub async fn tcp(&self) -> TcpStream {
        match self.from {
            None => TcpStream::connect(self.addr).await.unwrap(),
            Some(ip) => {
                let socket = tokio::net::TcpSocket::new_v4().unwrap();
                socket.bind(std::net::SocketAddr::new(ip, 0)).unwrap();
                socket.connect(self.addr).await.unwrap()
            }
        }
    }

    pub async fn tls(&self) -> tokio_rustls::client::TlsStream<TcpStream> {
        let tcp = self.tcp().await;
        let connector = tokio_rustls::TlsConnector::from(Arc::clone(&self.config));
        connector
            .connect(ServerName::try_from("localhost").unwrap(), tcp)
            .await
            .unwrap()
    }

    /// Sends one request on a new connection.
    pub async fn send(&self, request: Request<ReqBody>) -> Resp {
        let tls = self.tls().await;
        let negotiated = tls.get_ref().1.alpn_protocol().map(<[u8]>::to_vec);
        let io = TokioIo::new(tls);
        let mut request = request;
        let response = if self.version == Version::HTTP_2 {
            assert_eq!(negotiated.as_deref(), Some(&b"h2"[..]));
            let (mut sender, conn) =
                hyper::client::conn::http2::handshake(hyper_util::rt::TokioExecutor::new(), io)
                    .await
                    .unwrap();
            tokio::spawn(conn);
            *request.version_mut() = Version::HTTP_2;
            sender.send_request(request).await.unwrap()
        } else {
            assert_eq!(negotiated.as_deref(), Some(&b"http/1.1"[..]));
            let (mut sender, conn) = hyper::client::conn::http1::handshake(io).await.unwrap();
            tokio::spawn(conn);
            if !request.headers().contains_key(http::header::HOST) {
                request
                    .headers_mut()
                    .insert(http::header::HOST, "localhost".parse().unwrap());
            }
            sender.send_request(request).await.unwrap()
        };
        let (parts, body) = response.into_parts();
        let body = body.collect().await.unwrap().to_bytes();
        Resp {
            status: parts.status,
            version: parts.version,
            headers: parts.headers,
            body,
        }
    }

    pub fn request(method: Method, path: &str) -> http::request::Builder {
        let uri = format!("https://localhost{path}");
        Request::builder().method(method).uri(uri)
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.send(
            Client::request(Method::GET, path)
                .body(full(Bytes::new()))
                .unwrap(),
        )
        .await
    }

    pub async fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> Resp {
        let mut b = Client::request(Method::GET, path);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        self.send(b.body(full(Bytes::new())).unwrap()).await
    }

    pub async fn authed(&self, method: Method, path: &str, key: &str) -> Resp {
        self.send(
            Client::request(method, path)
                .header("authorization", format!("Bearer {key}"))
                .body(full(Bytes::new()))
                .unwrap(),
        )
        .await
    }

    pub async fn json(&self, method: Method, path: &str, key: &str, body: &str) -> Resp {
        self.send(
            Client::request(method, path)
                .header("authorization", format!("Bearer {key}"))
                .header("content-type", "application/json")
                .body(full(body.to_owned()))
                .unwrap(),
        )
        .await
    }
}

/// Both protocols, for tests that run over each.
pub const VERSIONS: [Version; 2] = [Version::HTTP_11, Version::HTTP_2];

/// Every file under `dir`, recursively.
pub fn files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files(&path));
        } else {
            out.push(path);
        }
    }
    out
}
