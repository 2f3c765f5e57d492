//! Connections: the settings, TLS through rustls (or none, for a Unix socket or a server
//! without it), the pool for writes and direct connections for the follower.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use availability_core::{BackendError, Error};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres::{Client, Config};
use tokio_postgres_rustls::MakeRustlsConnect;

/// How to reach the database and how long to wait for it.
#[derive(Clone)]
pub struct Settings {
    /// A libpq-style URL or key=value string (`postgres://user@host:port/db`,
    /// `host=/run/postgresql dbname=availability`). `sslmode=require` (or `verify-full`)
    /// insists on TLS; the default, `prefer`, uses it when the server offers it.
    pub url: String,
    /// The most connections of this server's pool (writes; the follower has one more).
    pub pool_size: usize,
    /// The most a write may take, connecting and retrying included: past it the write is
    /// answered 503 (the database is away, or its packets are lost).
    pub write_timeout: Duration,
    /// The statement timeout set on every connection.
    pub statement_timeout: Duration,
    /// How long dated data is kept after it ends, in seconds (as the embedded store's).
    pub retention_seconds: i64,
    /// A PEM file of certificate authorities to trust besides the platform's own roots.
    pub ca_file: Option<PathBuf>,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not the URL: it may hold a password.
        f.debug_struct("Settings")
            .field("pool_size", &self.pool_size)
            .field("write_timeout", &self.write_timeout)
            .finish_non_exhaustive()
    }
}

impl Settings {
    /// Settings for `url` with the defaults: 16 connections, writes answered within 2 s,
    /// statements cancelled after 5 s, dated data kept 90 days.
    pub fn new(url: impl Into<String>) -> Settings {
        Settings {
            url: url.into(),
            pool_size: 16,
            write_timeout: Duration::from_secs(2),
            statement_timeout: Duration::from_secs(5),
            retention_seconds: availability_core::store::DEFAULT_RETENTION_SECONDS,
            ca_file: None,
        }
    }

    /// The connection configuration, with timeouts that notice a silent network.
    pub(crate) fn config(&self) -> Result<Config, String> {
        let mut config = Config::from_str(&self.url)
            .map_err(|e| format!("the database URL is not one PostgreSQL accepts: {e}"))?;
        if config.get_application_name().is_none() {
            config.application_name("availability-server");
        }
        let wait = self.write_timeout.max(Duration::from_secs(1));
        config
            .connect_timeout(wait)
            .keepalives(true)
            .keepalives_idle(Duration::from_secs(10))
            .tcp_user_timeout(wait * 5)
            .options(format!(
                "-c statement_timeout={} -c idle_in_transaction_session_timeout={}",
                self.statement_timeout.as_millis(),
                (self.statement_timeout * 2).as_millis()
            ));
        Ok(config)
    }
}

/// The TLS connector: the platform's roots (webpki's copy of them) and `ca_file`'s.
pub(crate) fn tls(ca_file: Option<&Path>) -> Result<MakeRustlsConnect, String> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = ca_file {
        let pem = std::fs::read(path)
            .map_err(|e| format!("reading the database CA file {}: {e}", path.display()))?;
        let mut read = 0;
        for cert in rustls_pki_types::pem::PemObject::pem_slice_iter(&pem) {
            let cert: rustls_pki_types::CertificateDer<'_> =
                cert.map_err(|e| format!("the database CA file {}: {e}", path.display()))?;
            roots
                .add(cert)
                .map_err(|e| format!("the database CA file {}: {e}", path.display()))?;
            read += 1;
        }
        if read == 0 {
            return Err(format!(
                "the database CA file {} holds no certificate",
                path.display()
            ));
        }
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| format!("the TLS configuration: {e}"))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

/// A connection of its own (the schema, the load, the follower), driven by a task.
pub(crate) async fn direct(
    config: &Config,
    tls: MakeRustlsConnect,
) -> Result<(Client, tokio::sync::mpsc::UnboundedReceiver<()>), Error> {
    let (client, connection) = config.connect(tls).await.map_err(|e| {
        Error::of_backend(
            BackendError::Unavailable,
            format!("connecting to the database: {e}"),
        )
    })?;
    let (ring, heard) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(drive(connection, ring));
    Ok((client, heard))
}

/// Drives a direct connection, ringing `ring` at each notification it brings.
async fn drive<S, T>(
    mut connection: tokio_postgres::Connection<S, T>,
    ring: tokio::sync::mpsc::UnboundedSender<()>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    use futures_util::StreamExt;
    let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
    while let Some(message) = messages.next().await {
        match message {
            Ok(tokio_postgres::AsyncMessage::Notification(_)) => {
                let _ = ring.send(());
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, "the database connection ended");
                break;
            }
        }
    }
}

/// The pool for writes: connections made on demand, at most `pool_size`, each wait bounded
/// by the write timeout.
pub(crate) fn pool(
    settings: &Settings,
    config: Config,
    tls: MakeRustlsConnect,
) -> Result<Pool, String> {
    pool_of(settings, config, tls, settings.pool_size)
}

/// A pool of at most `size` connections made on demand, each wait bounded by the write
/// timeout.
pub(crate) fn pool_of(
    settings: &Settings,
    config: Config,
    tls: MakeRustlsConnect,
    size: usize,
) -> Result<Pool, String> {
    let manager = Manager::from_config(
        config,
        tls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Pool::builder(manager)
        .max_size(size.max(1))
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(settings.write_timeout))
        .create_timeout(Some(settings.write_timeout))
        .recycle_timeout(Some(settings.write_timeout))
        .build()
        .map_err(|e| format!("the database pool: {e}"))
}
