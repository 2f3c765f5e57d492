//! The outbound HTTPS client of webhooks: one `POST`, bounded in every way (5 s to connect,
//! 15 s in all, 64 KiB of answer read), over HTTP/1.1 and rustls, to an address the policy
//! allows. Redirects are answers like any other: never followed. Connections are kept for
//! the next delivery to the same host and port (a few per host, 30 s idle at most), so a
//! busy receiver costs a request per event, not a handshake.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Request};
use http_body_util::{BodyExt, Full, Limited};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use rustls_pki_types::pem::PemObject;
use tokio_rustls::TlsConnector;

use super::net::{Dial, Policy, Resolve, SystemDialer, SystemResolver, Target};

/// Time to resolve, connect and finish the TLS handshake.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Time for the whole request, connecting included.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// The most of an answer's body read.
pub const MAX_ANSWER: usize = 64 * 1024;
/// Idle connections kept per host and port: as many as deliveries to one endpoint at once,
/// so a busy receiver costs no handshake per event.
const IDLE_PER_HOST: usize = super::sender::PER_HOOK;
/// How long an idle connection is kept.
const IDLE_FOR: Duration = Duration::from_secs(30);

/// What a receiver answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Answer {
    /// The status.
    pub status: u16,
}

/// Why a request got no answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// The policy refused every address (or the URL): nothing was sent.
    Refused(String),
    /// Resolving, connecting, TLS or HTTP failed, or a timeout passed.
    Failed(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Refused(why) | Failure::Failed(why) => f.write_str(why),
        }
    }
}

/// The client.
pub struct Client {
    policy: Policy,
    resolver: Arc<dyn Resolve>,
    dialer: Arc<dyn Dial>,
    tls: TlsConnector,
    idle: Mutex<HashMap<(String, u16), Vec<Idle>>>,
}

/// A kept connection, and since when it is idle.
type Idle = (SendRequest<Full<Bytes>>, Instant);

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

/// The roots a webhook's certificate must chain to: the platform's, and those of `ca_file`
/// (PEM), if given.
///
/// # Errors
///
/// When `ca_file` cannot be read or holds no certificate.
pub fn roots(ca_file: Option<&Path>) -> Result<rustls::RootCertStore, String> {
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    roots.add_parsable_certificates(native.certs);
    if let Some(path) = ca_file {
        let certs: Vec<_> = rustls_pki_types::CertificateDer::pem_file_iter(path)
            .and_then(Iterator::collect::<Result<Vec<_>, _>>)
            .map_err(|e| format!("webhook_ca_file {}: {e}", path.display()))?;
        if certs.is_empty() {
            return Err(format!(
                "webhook_ca_file {} holds no certificate",
                path.display()
            ));
        }
        for cert in certs {
            roots
                .add(cert)
                .map_err(|e| format!("webhook_ca_file {}: {e}", path.display()))?;
        }
    }
    Ok(roots)
}

impl Client {
    /// A client of the system's resolver and sockets.
    pub fn new(policy: Policy, roots: rustls::RootCertStore) -> Client {
        Client::with(
            policy,
            roots,
            Arc::new(SystemResolver),
            Arc::new(SystemDialer),
        )
    }

    /// A client that resolves with `resolver` and connects with `dialer`.
    pub fn with(
        policy: Policy,
        roots: rustls::RootCertStore,
        resolver: Arc<dyn Resolve>,
        dialer: Arc<dyn Dial>,
    ) -> Client {
        let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_or_else(
            |_| unreachable!("ring supports the default protocol versions"),
            |builder| builder.with_root_certificates(roots).with_no_client_auth(),
        );
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Client {
            policy,
            resolver,
            dialer,
            tls: TlsConnector::from(Arc::new(config)),
            idle: Mutex::new(HashMap::new()),
        }
    }

    /// The policy it keeps to.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// `POST`s `body` (JSON) with `headers` to `target`, within [`REQUEST_TIMEOUT`].
    ///
    /// # Errors
    ///
    /// [`Failure::Refused`] when no address may be reached (nothing was sent);
    /// [`Failure::Failed`] for anything else that kept an answer from arriving.
    pub async fn post(
        &self,
        target: &Target,
        headers: &[(HeaderName, HeaderValue)],
        body: Bytes,
    ) -> Result<Answer, Failure> {
        match tokio::time::timeout(REQUEST_TIMEOUT, self.exchange(target, headers, body)).await {
            Ok(result) => result,
            Err(_) => Err(Failure::Failed(format!(
                "no answer within {} s",
                REQUEST_TIMEOUT.as_secs()
            ))),
        }
    }

    async fn exchange(
        &self,
        target: &Target,
        headers: &[(HeaderName, HeaderValue)],
        body: Bytes,
    ) -> Result<Answer, Failure> {
        let mut sender = match self.reuse(target) {
            Some(sender) => sender,
            None => tokio::time::timeout(CONNECT_TIMEOUT, self.connect(target))
                .await
                .map_err(|_| {
                    Failure::Failed(format!(
                        "no connection within {} s",
                        CONNECT_TIMEOUT.as_secs()
                    ))
                })??,
        };
        let mut request = Request::post(target.path.as_str())
            .header(http::header::HOST, target.authority.as_str())
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(http::header::USER_AGENT, "availability-webhooks")
            .body(Full::new(body))
            .map_err(|e| Failure::Failed(format!("the request: {e}")))?;
        for (name, value) in headers {
            request.headers_mut().insert(name.clone(), value.clone());
        }
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| Failure::Failed(format!("the request failed: {e}")))?;
        let status = response.status().as_u16();
        // Read (and drop) a bounded answer, so the connection can carry the next request;
        // one that sends more is not kept.
        let whole = Limited::new(response.into_body(), MAX_ANSWER)
            .collect()
            .await
            .is_ok();
        if whole {
            self.keep(target, sender);
        }
        Ok(Answer { status })
    }

    /// A kept connection to `target` that is still open, if there is one.
    fn reuse(&self, target: &Target) -> Option<SendRequest<Full<Bytes>>> {
        let mut idle = self.idle.lock().ok()?;
        let kept = idle.get_mut(&(target.host.clone(), target.port))?;
        while let Some((sender, since)) = kept.pop() {
            if since.elapsed() < IDLE_FOR && sender.is_ready() {
                return Some(sender);
            }
        }
        None
    }

    fn keep(&self, target: &Target, sender: SendRequest<Full<Bytes>>) {
        if let Ok(mut idle) = self.idle.lock() {
            let kept = idle.entry((target.host.clone(), target.port)).or_default();
            kept.retain(|(s, since)| since.elapsed() < IDLE_FOR && !s.is_closed());
            if kept.len() < IDLE_PER_HOST {
                kept.push((sender, Instant::now()));
            }
        }
    }

    /// Resolves `target`, checks every address, connects to the first that answers, and
    /// shakes hands over TLS with the host's name.
    async fn connect(&self, target: &Target) -> Result<SendRequest<Full<Bytes>>, Failure> {
        let addrs: Vec<IpAddr> = match target.literal() {
            Some(ip) => vec![ip],
            None => self
                .resolver
                .resolve(&target.host, target.port)
                .await
                .map_err(|e| Failure::Failed(format!("resolving {}: {e}", target.host)))?,
        };
        if addrs.is_empty() {
            return Err(Failure::Failed(format!("{} has no address", target.host)));
        }
        // Every address must pass, not just the one dialled: a name that resolves to a
        // private address among public ones is refused whole.
        for ip in &addrs {
            self.policy.check(*ip).map_err(Failure::Refused)?;
        }
        let mut last = String::new();
        let mut stream = None;
        for ip in addrs {
            match self.dialer.dial(SocketAddr::new(ip, target.port)).await {
                Ok(s) => {
                    stream = Some(s);
                    break;
                }
                Err(e) => last = format!("connecting to {ip}: {e}"),
            }
        }
        let stream = stream.ok_or(Failure::Failed(last))?;
        let name = ServerName::try_from(target.host.clone())
            .map_err(|_| Failure::Failed(format!("{:?} is not a server name", target.host)))?;
        let tls = self
            .tls
            .connect(name, stream)
            .await
            .map_err(|e| Failure::Failed(format!("TLS with {}: {e}", target.host)))?;
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .map_err(|e| Failure::Failed(format!("HTTP with {}: {e}", target.host)))?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(sender)
    }
}
