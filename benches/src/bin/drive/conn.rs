//! The connection: where the server is and how to trust it, one keep-alive HTTP/1.1
//! connection, and an answer with the time it took.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;

use crate::Fail;

/// Where the server is, how to trust it, and the admin key.
pub(crate) struct Server {
    addr: SocketAddr,
    tls: Arc<rustls::ClientConfig>,
    pub(crate) admin: String,
}

/// One keep-alive HTTP/1.1 connection.
pub(crate) struct Conn {
    sender: SendRequest<Full<Bytes>>,
}

/// An answer: status, body, and how long it took.
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) body: Bytes,
    pub(crate) took: Duration,
}

impl Answer {
    pub(crate) fn json(&self) -> Result<serde_json::Value, Fail> {
        serde_json::from_slice(&self.body).map_err(|e| format!("an answer is not JSON: {e}"))
    }

    pub(crate) fn expect(self, status: StatusCode, what: &str) -> Result<Answer, Fail> {
        if self.status == status {
            Ok(self)
        } else {
            Err(format!(
                "{what}: expected {status}, got {}: {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            ))
        }
    }
}

impl Server {
    pub(crate) fn new(url: &str, cert: &str, admin: &str) -> Result<Server, Fail> {
        let addr = url
            .strip_prefix("https://")
            .ok_or("the URL is https://127.0.0.1:PORT")?
            .trim_end_matches('/')
            .parse()
            .map_err(|e| format!("the URL's address: {e}"))?;
        let tls = availability_benches::tls_client(cert)?;
        Ok(Server {
            addr,
            tls: Arc::new(tls),
            admin: admin.to_owned(),
        })
    }

    pub(crate) async fn connect(&self) -> Result<Conn, Fail> {
        let tcp = TcpStream::connect(self.addr)
            .await
            .map_err(|e| format!("connecting: {e}"))?;
        tcp.set_nodelay(true).map_err(|e| e.to_string())?;
        let tls = tokio_rustls::TlsConnector::from(Arc::clone(&self.tls))
            .connect(ServerName::try_from("localhost").expect("a name"), tcp)
            .await
            .map_err(|e| format!("the TLS handshake: {e}"))?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .map_err(|e| format!("the HTTP handshake: {e}"))?;
        tokio::spawn(conn);
        Ok(Conn { sender })
    }
}

impl Conn {
    pub(crate) async fn send(
        &mut self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<String>,
    ) -> Result<Answer, Fail> {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header("host", "localhost");
        if body.is_some() {
            request = request.header("content-type", "application/json");
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .map_err(|e| e.to_string())?;
        let start = Instant::now();
        let response = self.request(path, request).await?;
        let (parts, body) = response.into_parts();
        let body = body
            .collect()
            .await
            .map_err(|e| format!("an answer from {path}: {e}"))?
            .to_bytes();
        Ok(Answer {
            status: parts.status,
            body,
            took: start.elapsed(),
        })
    }

    /// Sends `request` (to `path`) once the connection is ready; the answer as it begins.
    async fn request(
        &mut self,
        path: &str,
        request: Request<Full<Bytes>>,
    ) -> Result<http::Response<hyper::body::Incoming>, Fail> {
        self.sender
            .ready()
            .await
            .map_err(|e| format!("the connection: {e}"))?;
        self.sender
            .send_request(request)
            .await
            .map_err(|e| format!("a request to {path}: {e}"))
    }

    /// A GET whose answer's body stays open (an event stream): its body, as it comes.
    pub(crate) async fn open(&mut self, path: &str) -> Result<hyper::body::Incoming, Fail> {
        let request = Request::builder()
            .uri(path)
            .header("host", "localhost")
            .header("accept", "text/event-stream")
            .body(Full::new(Bytes::new()))
            .map_err(|e| e.to_string())?;
        let response = self.request(path, request).await?;
        if response.status() != StatusCode::OK {
            return Err(format!("{path}: {}", response.status()));
        }
        Ok(response.into_body())
    }

    /// A write with `key`; the answer must have `status`.
    pub(crate) async fn write(
        &mut self,
        method: Method,
        path: &str,
        key: &str,
        body: String,
        status: StatusCode,
    ) -> Result<Answer, Fail> {
        let auth = format!("Bearer {key}");
        self.send(
            method.clone(),
            path,
            &[("authorization", &auth)],
            Some(body),
        )
        .await?
        .expect(status, &format!("{method} {path}"))
    }
}
