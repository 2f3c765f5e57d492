//! The client: TLS to the test server over HTTP/1.1 or HTTP/2, from any address of
//! 127.0.0.0/8, with the requests the tests make and the answers they read.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{HeaderMap, Method, Request, Response, StatusCode, Version};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Frame, Incoming};
use hyper_util::rt::TokioIo;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;

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
