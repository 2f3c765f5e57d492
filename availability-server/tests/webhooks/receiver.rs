//! A webhook receiver for the tests: HTTPS on 127.0.0.1 with its own self-signed
//! certificate, recording every request it reads, answering as told (a status, after a delay,
//! or by resetting the connection), and able to stop and start again on the same port.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// How the receiver answers.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Mode {
    /// This status at once.
    Status(u16),
    /// 200, after this long.
    Slow(Duration),
    /// No answer: the connection is closed under the request.
    Reset,
    /// 302 to this URL.
    Redirect(&'static str),
}

/// A request the receiver read.
#[derive(Clone, Debug)]
pub(crate) struct Message {
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: String,
}

impl Message {
    /// The value of header `name`.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON.
    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).expect("a JSON body")
    }
}

pub(crate) struct Receiver {
    pub(crate) addr: SocketAddr,
    /// The certificate, PEM: the server's `webhook_ca_file`.
    pub(crate) ca_file: PathBuf,
    tls: Arc<rustls::ServerConfig>,
    messages: Arc<Mutex<Vec<Message>>>,
    mode: Arc<Mutex<Mode>>,
    task: Option<JoinHandle<()>>,
}

impl Receiver {
    /// A receiver on a free port of 127.0.0.1, answering 204; its certificate in `dir`.
    pub(crate) async fn start(dir: &Path) -> Receiver {
        let certified = rcgen::generate_simple_self_signed(vec![
            "127.0.0.1".to_owned(),
            "receiver.test".to_owned(),
        ])
        .unwrap();
        let ca_file = dir.join("receiver-ca.pem");
        std::fs::write(&ca_file, certified.cert.pem()).unwrap();
        let key =
            rustls_pki_types::PrivateKeyDer::try_from(certified.key_pair.serialize_der()).unwrap();
        let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![certified.cert.der().clone()], key)
        .unwrap();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut receiver = Receiver {
            addr: listener.local_addr().unwrap(),
            ca_file,
            tls: Arc::new(config),
            messages: Arc::default(),
            mode: Arc::new(Mutex::new(Mode::Status(204))),
            task: None,
        };
        receiver.serve(listener);
        receiver
    }

    /// The URL of its endpoint.
    pub(crate) fn url(&self) -> String {
        format!("https://{}/hook?from=test", self.addr)
    }

    pub(crate) fn set_mode(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    /// What it read so far, in the order it read it.
    pub(crate) fn messages(&self) -> Vec<Message> {
        self.messages.lock().unwrap().clone()
    }

    /// Waits (up to `within`) until it read at least `n` requests.
    pub(crate) async fn wait_for(&self, n: usize, within: Duration) -> Vec<Message> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let got = self.messages();
            if got.len() >= n || tokio::time::Instant::now() > deadline {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Stops listening (connections open are cut).
    pub(crate) fn stop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }

    /// Listens again on the same port.
    pub(crate) async fn restart(&mut self) {
        self.stop();
        let listener = loop {
            match TcpListener::bind(self.addr).await {
                Ok(listener) => break listener,
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        };
        self.serve(listener);
    }

    fn serve(&mut self, listener: TcpListener) {
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::clone(&self.tls));
        let (messages, mode) = (Arc::clone(&self.messages), Arc::clone(&self.mode));
        self.task = Some(tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let (acceptor, messages, mode) =
                    (acceptor.clone(), Arc::clone(&messages), Arc::clone(&mode));
                connections.spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let service = hyper::service::service_fn(move |request| {
                        answer(request, Arc::clone(&messages), Arc::clone(&mode))
                    });
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(tls), service)
                        .await;
                });
            }
        }));
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn answer(
    request: Request<Incoming>,
    messages: Arc<Mutex<Vec<Message>>>,
    mode: Arc<Mutex<Mode>>,
) -> Result<Response<Full<Bytes>>, std::io::Error> {
    let headers = request
        .headers()
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or_default().to_owned()))
        .collect();
    let body = request
        .into_body()
        .collect()
        .await
        .map_err(std::io::Error::other)?;
    let message = Message {
        headers,
        body: String::from_utf8_lossy(&body.to_bytes()).into_owned(),
    };
    messages.lock().unwrap().push(message);
    let mode = *mode.lock().unwrap();
    match mode {
        Mode::Reset => return Err(std::io::Error::other("reset")),
        Mode::Slow(delay) => tokio::time::sleep(delay).await,
        Mode::Status(_) | Mode::Redirect(_) => {}
    }
    let (status, location) = match mode {
        Mode::Status(status) => (StatusCode::from_u16(status).unwrap(), None),
        Mode::Redirect(to) => (StatusCode::FOUND, Some(to)),
        _ => (StatusCode::OK, None),
    };
    let mut response = Response::builder().status(status);
    if let Some(to) = location {
        response = response.header(http::header::LOCATION, to);
    }
    Ok(response.body(Full::new(Bytes::new())).unwrap())
}
