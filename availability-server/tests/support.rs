//! The harness: an in-memory store and a fixed-offset time-zone engine behind the server's
//! traits, a test certificate, a server on port 0 and a TLS client that speaks HTTP/1.1 or
//! HTTP/2.

#![allow(dead_code, unreachable_pub)]

use std::collections::{BTreeMap, VecDeque};
use std::convert::Infallible;
use std::path::Path;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use availability_core::{Slot, Status, Week};
use availability_server::app::App;
use availability_server::config::Config;
use availability_server::state::{
    Backend, Calendar, Change, Interval, IsoWeek, KeyHash, StoreError, Zones,
};
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
    fn delete(&self, id: &str) -> Result<(), StoreError> {
        self.calendars
            .lock()
            .unwrap()
            .remove(id)
            .map(|_| ())
            .ok_or(StoreError::NotFound)
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
            Change::Edit(batch) => {
                next.week = batch
                    .apply(&next.week)
                    .map_err(|e| StoreError::Invalid(e.to_string()))?
            }
            Change::Replace(week) => next.week = week,
            Change::Zone(zone) => next.zone = zone,
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
// A time-zone engine for fixed offsets only: `UTC` and `Etc/GMT-N` (UTC+N, as in the IANA
// database, where the sign is inverted). Enough to drive every route; the real engine's own
// tests cover DST.

pub struct FixedZones;

fn offset_hours(zone: &str) -> Option<i64> {
    if zone == "UTC" {
        return Some(0);
    }
    let n: i64 = zone.strip_prefix("Etc/GMT")?.parse().ok()?;
    Some(-n)
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// The Monday (days since the epoch) of ISO week `w` of ISO year `y`.
fn iso_monday(y: i64, w: i64) -> i64 {
    let jan4 = days_from_civil(y, 1, 4);
    let weekday = (jan4 + 3).rem_euclid(7); // 0 = Monday
    jan4 - weekday + (w - 1) * 7
}

fn date(days: i64) -> String {
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

fn week_of(days: i64) -> IsoWeek {
    let monday = days - (days + 3).rem_euclid(7);
    let thursday = monday + 3;
    let (year, _, _) = civil_from_days(thursday);
    let number = (thursday - iso_monday(year, 1)) / 7 + 1;
    IsoWeek {
        label: format!("{year:04}-W{number:02}"),
        dates: std::array::from_fn(|i| date(monday + i as i64)),
    }
}

impl Zones for FixedZones {
    fn zone(&self, name: &str) -> Result<String, String> {
        offset_hours(name).map(|_| name.to_owned()).ok_or_else(|| {
            format!("unknown time zone {name:?}: use an IANA name such as Europe/Paris")
        })
    }
    fn week(&self, zone: &str, param: Option<&str>, now: i64) -> Result<IsoWeek, String> {
        let bad = || format!("invalid week {param:?}: use 2026-W48 or a date such as 2026-11-23");
        match param {
            None => Ok(week_of(
                (now + offset_hours(zone).unwrap_or(0) * 3600).div_euclid(86_400),
            )),
            Some(p) if p.len() == 8 && &p[4..6] == "-W" => {
                let y: i64 = p[..4].parse().map_err(|_| bad())?;
                let w: i64 = p[6..].parse().map_err(|_| bad())?;
                if !(1..=53).contains(&w) {
                    return Err(bad());
                }
                Ok(week_of(iso_monday(y, w)))
            }
            Some(p) if p.len() == 10 => {
                let y: i64 = p[..4].parse().map_err(|_| bad())?;
                let m: i64 = p[5..7].parse().map_err(|_| bad())?;
                let d: i64 = p[8..].parse().map_err(|_| bad())?;
                Ok(week_of(days_from_civil(y, m, d)))
            }
            Some(_) => Err(bad()),
        }
    }
    fn view(&self, owner: &str, viewer: &str, _: &IsoWeek, stored: &Week) -> Result<Week, String> {
        let shift = 2 * (offset_hours(viewer).unwrap_or(0) - offset_hours(owner).unwrap_or(0));
        Ok(Week::from_fn(|s| {
            let i = (s.index() as i64 - shift).rem_euclid(336) as usize;
            stored.status(Slot::from_index(i).unwrap())
        }))
    }
    fn intervals(
        &self,
        owner: &str,
        viewer: &str,
        week: &IsoWeek,
        stored: &Week,
    ) -> Result<Vec<Interval>, String> {
        let viewed = self.view(owner, viewer, week, stored)?;
        let offset = offset_hours(viewer).unwrap_or(0);
        let (y, m, d): (i64, i64, i64) = (
            week.dates[0][..4].parse().unwrap(),
            week.dates[0][5..7].parse().unwrap(),
            week.dates[0][8..].parse().unwrap(),
        );
        let base = days_from_civil(y, m, d);
        let stamp = |slot: usize| {
            let days = base + (slot / 48) as i64;
            let minutes = (slot % 48) * 30;
            format!(
                "{}T{:02}:{:02}:00{}{:02}:00",
                date(days),
                minutes / 60,
                minutes % 60,
                if offset < 0 { '-' } else { '+' },
                offset.abs()
            )
        };
        Ok(viewed
            .runs()
            .filter(|r| r.status() != Status::Unavailable)
            .map(|r| Interval {
                start: stamp(r.start_index()),
                end: stamp(r.end_index()),
                status: r.status(),
            })
            .collect())
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
    pub backend: Arc<MemBackend>,
    pub admin: String,
    pub root: CertificateDer<'static>,
    pub data: tempfile::TempDir,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

pub fn test_config(data: &Path) -> Config {
    Config {
        data_dir: data.to_path_buf(),
        bcrypt_cost: 4,
        ..Config::default()
    }
}

impl TestServer {
    /// A server with a test certificate and a fresh store.
    pub async fn start() -> TestServer {
        let data = tempfile::tempdir().unwrap();
        let (cert, key, root) = test_certificate(data.path());
        let mut config = test_config(data.path());
        config.tls = Some((cert, key));
        let backend = Arc::new(MemBackend::default());
        TestServer::start_with(config, backend, root, data).await
    }

    pub async fn start_with(
        config: Config,
        backend: Arc<MemBackend>,
        root: CertificateDer<'static>,
        data: tempfile::TempDir,
    ) -> TestServer {
        let prepared = startup::prepare(&config, backend.clone(), Arc::new(FixedZones))
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
        }
    }

    pub async fn tls(&self) -> tokio_rustls::client::TlsStream<TcpStream> {
        let tcp = TcpStream::connect(self.addr).await.unwrap();
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
