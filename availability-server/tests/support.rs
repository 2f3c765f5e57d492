//! The harness: a test certificate, a server on port 0 over a store in a temporary directory,
//! a TLS client that speaks HTTP/1.1 or HTTP/2, the real binary, and what a test does when a
//! tool it needs is missing.

#![allow(dead_code, unreachable_pub)]

#[path = "../../availability-core/tests/oracles.rs"]
mod oracles;

pub(crate) use oracles::cannot_run;

use std::collections::VecDeque;
use std::convert::Infallible;
use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::pin::Pin;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use availability_server::app::App;
use availability_server::config::Config;
use availability_server::store::Store;
use availability_server::{server, startup};
use bytes::Bytes;
use http::{HeaderMap, Method, Request, Response, StatusCode, Version};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Frame, Incoming};
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

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
    pub store: Arc<Store>,
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
    let loose = availability_server::limit::Rate {
        per_minute: 60_000,
        burst: 1000,
    };
    config.rates.auth = loose;
    config.rates.auth_key = loose;
    config
}

impl TestServer {
    /// A server with a test certificate and a fresh store file.
    pub async fn start() -> TestServer {
        let data = tempfile::tempdir().unwrap();
        let (cert, key, root) = test_certificate(data.path());
        let mut config = test_config(data.path());
        config.tls = Some((cert, key));
        TestServer::start_with(config, root, data).await
    }

    /// A server over a fresh store file, with settings changed by `tweak`.
    pub async fn start_tweaked(tweak: impl FnOnce(&mut Config)) -> TestServer {
        let data = tempfile::tempdir().unwrap();
        let (cert, key, root) = test_certificate(data.path());
        let mut config = test_config(data.path());
        config.tls = Some((cert, key));
        tweak(&mut config);
        TestServer::start_with(config, root, data).await
    }

    /// A server with `config`, over the store in `config.data_dir`.
    pub async fn start_with(
        config: Config,
        root: CertificateDer<'static>,
        data: tempfile::TempDir,
    ) -> TestServer {
        let store = open_store(&config.data_dir).await;
        let prepared = startup::prepare(&config, Arc::clone(&store)).await.unwrap();
        let admin = prepared.new_admin_key.clone().unwrap_or_default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let app = Arc::clone(&prepared.app);
        let task = tokio::spawn(server::run(
            listener,
            prepared.tls,
            prepared.app,
            config.connections,
            async move {
                let _ = rx.await;
            },
            std::time::Duration::from_secs(30),
        ));
        TestServer {
            addr,
            app,
            store,
            admin,
            root,
            data,
            shutdown: Some(tx),
            task: Some(task),
        }
    }

    /// Stops the server and starts another on the same data directory (and certificate),
    /// which must make no new admin key; the new one keeps the old one's.
    pub async fn restart(mut self) -> TestServer {
        self.stop().await;
        // Dropping the rest closes the store, so the new server can lock it.
        let TestServer {
            data,
            root,
            admin,
            app,
            store,
            ..
        } = self;
        drop((app, store));
        let mut config = test_config(data.path());
        let (cert, key) = (
            data.path().join("test-cert.pem"),
            data.path().join("test-key.pem"),
        );
        config.tls = cert.exists().then_some((cert, key));
        let mut again = TestServer::start_with(config, root, data).await;
        assert_eq!(again.admin, "", "a restart makes no new admin key");
        again.admin = admin;
        again
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
        self.client(Version::HTTP_11)
            .create_calendar(&self.admin, id, zone)
            .await
    }
}

/// Opens the store in `dir`. A server that has just stopped may still be dropping its last
/// connection's share of the store (and so its lock) on another worker: wait a little for it.
pub async fn open_store(dir: &Path) -> Arc<Store> {
    for _ in 0..100 {
        match availability_server::store::open(dir) {
            Ok(store) => return store,
            Err(e) if e.contains("lock") => {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            Err(e) => panic!("opening the store: {e}"),
        }
    }
    panic!("the store in {} stayed locked", dir.display())
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

    /// Asserts a 401 problem that asks for a bearer key; returns its detail.
    pub fn asks_for_a_key(&self) -> String {
        let detail = self.problem(StatusCode::UNAUTHORIZED);
        assert_eq!(
            self.header("www-authenticate"),
            Some("Bearer realm=\"availability\"")
        );
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

    /// Sends `request` on a new connection; the answer comes with its body unread (an event
    /// stream, or the answer to a body the server stops reading).
    pub async fn open(&self, mut request: Request<ReqBody>) -> Response<Incoming> {
        let tls = self.tls().await;
        let negotiated = tls.get_ref().1.alpn_protocol().map(<[u8]>::to_vec);
        let io = TokioIo::new(tls);
        if self.version == Version::HTTP_2 {
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
        }
    }

    /// Sends one request on a new connection; the answer with its whole body.
    pub async fn send(&self, request: Request<ReqBody>) -> Resp {
        let (parts, body) = self.open(request).await.into_parts();
        let body = body.collect().await.unwrap().to_bytes();
        Resp {
            status: parts.status,
            version: parts.version,
            headers: parts.headers,
            body,
        }
    }

    /// A request for `path` with `headers`, and `Authorization: Bearer <key>` when there is a
    /// key; its body is the caller's.
    pub fn request(
        method: Method,
        path: &str,
        key: Option<&str>,
        headers: &[(&str, &str)],
    ) -> http::request::Builder {
        let mut builder = Request::builder()
            .method(method)
            .uri(format!("https://localhost{path}"));
        if let Some(key) = key {
            builder = builder.header("authorization", format!("Bearer {key}"));
        }
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder
    }

    /// Sends `method path` with `headers` (and the key, when there is one) and `body`, on a
    /// new connection.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
    ) -> Resp {
        let request = Client::request(method, path, key, headers);
        self.send(request.body(full(body)).unwrap()).await
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.get_with(path, &[]).await
    }

    pub async fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> Resp {
        self.call(Method::GET, path, None, headers, Bytes::new())
            .await
    }

    pub async fn authed(&self, method: Method, path: &str, key: &str) -> Resp {
        self.call(method, path, Some(key), &[], Bytes::new()).await
    }

    /// Creates a calendar with `admin`, an admin key; returns its key.
    pub async fn create_calendar(&self, admin: &str, id: &str, zone: &str) -> String {
        let body = format!(r#"{{"id":"{id}","timezone":"{zone}"}}"#);
        let r = self.json(Method::POST, "/calendars", admin, &body).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        r.json()["key"].as_str().unwrap().to_owned()
    }

    pub async fn json(&self, method: Method, path: &str, key: &str, body: &str) -> Resp {
        self.call(method, path, Some(key), &[JSON], body.to_owned())
            .await
    }
}

/// The header of a JSON body.
pub const JSON: (&str, &str) = ("content-type", "application/json");

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

// ---------------------------------------------------------------------------------------
// The real binary.

/// The server's binary, with no setting taken from this environment (`AVAILABILITY_*`): each
/// test says what it runs with.
pub fn binary() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_availability-server"));
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("AVAILABILITY_") {
            command.env_remove(name);
        }
    }
    command
}

/// What a running binary wrote: its standard output (where the first run prints the admin
/// key), its standard error (the log), and how many of the two have ended.
#[derive(Default)]
struct Written {
    out: String,
    log: String,
    ended: usize,
}

/// [`Written`], and a signal for each change.
#[derive(Default)]
struct Captured {
    written: Mutex<Written>,
    changed: Condvar,
}

impl Captured {
    /// Appends every line of `pipe` to the text `field` picks, to its end: the binary never
    /// blocks on a full pipe.
    fn drain(
        self: &Arc<Captured>,
        pipe: impl Read + Send + 'static,
        field: fn(&mut Written) -> &mut String,
    ) {
        let captured = Arc::clone(self);
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                let mut written = captured.written.lock().unwrap();
                let text = field(&mut written);
                text.push_str(&line);
                text.push('\n');
                captured.changed.notify_all();
            }
            captured.written.lock().unwrap().ended += 1;
            captured.changed.notify_all();
        });
    }

    /// What `found` finds in what was written, once it finds it; fails, saying that `what`
    /// was missing, after a minute or when both pipes ended first.
    fn wait_for<T>(&self, what: &str, found: impl Fn(&Written) -> Option<T>) -> T {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        let mut written = self.written.lock().unwrap();
        loop {
            if let Some(it) = found(&written) {
                return it;
            }
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            assert!(
                written.ended < 2 && !left.is_zero(),
                "{what}, within a minute and before the binary ended: {}",
                written.log
            );
            written = self.changed.wait_timeout(written, left).unwrap().0;
        }
    }
}

/// The real `availability-server` serving HTTPS on a free port of 127.0.0.1 over a data
/// directory, its output captured; killed when dropped, however the test ends.
pub struct Binary {
    child: Child,
    pub addr: std::net::SocketAddr,
    data: std::path::PathBuf,
    captured: Arc<Captured>,
}

impl Binary {
    /// Starts the binary over `data` (also its working directory) with bcrypt at its lowest
    /// cost, logging at `log`, with `flags` besides; returns once it logs its address.
    pub fn start(
        data: &Path,
        log: &str,
        flags: impl IntoIterator<Item = impl AsRef<OsStr>>,
    ) -> Binary {
        let mut child = binary()
            .args([
                "--listen",
                "127.0.0.1:0",
                "--bcrypt-cost",
                "4",
                "--log",
                log,
            ])
            .arg("--data-dir")
            .arg(data)
            .args(flags)
            .current_dir(data)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let captured = Arc::new(Captured::default());
        captured.drain(child.stdout.take().unwrap(), |w| &mut w.out);
        captured.drain(child.stderr.take().unwrap(), |w| &mut w.log);
        let mut binary = Binary {
            child,
            addr: ([127, 0, 0, 1], 0).into(),
            data: data.to_path_buf(),
            captured,
        };
        binary.addr = binary
            .captured
            .wait_for("the server logs its address", |w| {
                let rest = w
                    .log
                    .lines()
                    .find_map(|line| line.split("address=").nth(1))?;
                rest.split_whitespace().next()?.parse().ok()
            });
        binary
    }

    /// The certificate it serves, as it stands in the data directory.
    pub fn root(&self) -> CertificateDer<'static> {
        let pem = std::fs::read(self.data.join("cert.pem")).unwrap();
        CertificateDer::from_pem_slice(&pem).unwrap()
    }

    /// The admin key a first run prints; `None` once the binary has ended without printing
    /// one.
    pub fn printed_key(&self) -> Option<String> {
        let printed = |w: &Written| {
            w.out
                .split_whitespace()
                .find(|word| word.starts_with("avk_"))
                .map(str::to_owned)
        };
        self.captured
            .wait_for("a key, or the end of its output", |w| match printed(w) {
                Some(key) => Some(Some(key)),
                None if w.ended == 2 => Some(None),
                None => None,
            })
    }

    /// Everything it logged so far (all of it, once it has ended).
    pub fn log(&self) -> String {
        self.captured.written.lock().unwrap().log.clone()
    }

    /// Everything it wrote to standard output so far.
    pub fn output(&self) -> String {
        self.captured.written.lock().unwrap().out.clone()
    }

    /// Its process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Its exit status, once it has ended.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().unwrap()
    }

    /// Whether it still runs.
    pub fn running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// Sends it SIGTERM (by its own process id); returns its exit code once it has ended and
    /// its output is all captured.
    pub fn terminate(&mut self) -> i32 {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let code = self.child.wait().unwrap().code().unwrap_or(-1);
        self.captured
            .wait_for("the end of its output", |w| (w.ended == 2).then_some(()));
        code
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
