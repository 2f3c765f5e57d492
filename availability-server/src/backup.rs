//! `availability-server backup --to <dir>` and `restore --from <dir>`: a consistent copy of
//! the embedded store, taken while a server runs on it or not, and put back in place.
//!
//! A backup directory holds `availability.store` (the copy, a store file as it stands) and,
//! when the data directory has one, `webhook.key` (without it the webhook endpoints' sealed
//! secrets in the copy cannot be read). The copy is written as `availability.store.partial`,
//! synced, checked by opening it as a store (every record's checksum, and every record
//! applied to the state before it), and only then renamed: a directory with only the partial
//! file is a backup that did not finish, and `restore` refuses it.
//!
//! With a server running, the store file is locked by it: the command then asks the server
//! (`GET /admin/backup`, with the admin key in `AVAILABILITY_ADMIN_KEY`), which copies the
//! store while it goes on answering. Without one, the command opens the store itself.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use availability_core::store::{Store, StoreLock, FORMAT_VERSION};

use crate::config::Config;
use crate::store::STORE_FILE;
use crate::tls::sync_dir;

/// The environment variable the admin key is read from, to back up through a running server.
pub const ADMIN_KEY_VAR: &str = "AVAILABILITY_ADMIN_KEY";

/// The webhook signing key's file name in the data directory, the default place.
const WEBHOOK_KEY: &str = "webhook.key";

/// What refuses both commands on PostgreSQL.
const ON_POSTGRES: &str = "this server keeps its data in PostgreSQL (--database-url): back it \
                           up and restore it with the database's own tools (pg_dump and \
                           pg_restore, or a replica); nothing was done";

/// Backs the store of `config` up into the directory `to` (made when missing; it must hold no
/// backup yet), through the server at `server` when one runs on it (default: the configured
/// listen address), and says what it did on `out`.
///
/// # Errors
///
/// A message for the operator: PostgreSQL configured, no store, a directory holding a backup
/// already, no admin key for a running server, a copy that does not open as a store.
pub fn backup(
    config: &Config,
    to: &Path,
    server: Option<&str>,
    out: &mut dyn Write,
) -> Result<(), String> {
    if config.database.is_some() {
        return Err(ON_POSTGRES.to_owned());
    }
    let started = Instant::now();
    let source = config.data_dir.join(STORE_FILE);
    if !source.exists() {
        return Err(format!(
            "there is no store in {}",
            config.data_dir.display()
        ));
    }
    std::fs::create_dir_all(to).map_err(|e| format!("creating {}: {e}", to.display()))?;
    let done = to.join(STORE_FILE);
    if done.exists() {
        return Err(format!(
            "{} holds a backup already; back up into a new directory",
            to.display()
        ));
    }
    if let Some(version) = older_format(&source)? {
        return Err(format!(
            "the store is of format version {version}, which this version rewrites (as version \
             {FORMAT_VERSION}) when it opens it: to keep a copy of it as it is, copy the data \
             directory with the server stopped"
        ));
    }
    let partial = to.join(format!("{STORE_FILE}.partial"));
    let mut file = std::fs::File::create(&partial)
        .map_err(|e| format!("creating {}: {e}", partial.display()))?;
    let how = match Store::open(&source) {
        Ok(store) => {
            let mut writer = std::io::BufWriter::with_capacity(1 << 20, &mut file);
            let copied = store.backup(&mut writer).map_err(|e| e.to_string())?;
            drop(writer);
            format!(
                "the store, opened here (through record {})",
                copied.last_record()
            )
        }
        Err(err) if err.is_locked() => {
            let key = std::env::var(ADMIN_KEY_VAR).map_err(|_| {
                format!(
                    "a server has the store open: set {ADMIN_KEY_VAR} to an admin key to back \
                     it up through the server"
                )
            })?;
            let (url, at) = match server {
                Some(url) => (url.to_owned(), None),
                None => {
                    let (url, at) = default_server(config);
                    (url, Some(at))
                }
            };
            let last = fetch(config, (&url, at), key.trim(), &mut file)?;
            format!("the server at {url} (through record {last})")
        }
        Err(err) => return Err(format!("opening the store: {err}")),
    };
    file.sync_all()
        .map_err(|e| format!("syncing {}: {e}", partial.display()))?;
    drop(file);
    let calendars = check(&partial)?;
    // The key first: a directory that holds the store holds its key.
    let key = key_file(config);
    if key.exists() {
        let bytes = std::fs::read(&key).map_err(|e| format!("reading {}: {e}", key.display()))?;
        crate::tls::write_durably(&to.join(WEBHOOK_KEY), &bytes, true)?;
    }
    std::fs::rename(&partial, &done)
        .map_err(|e| format!("renaming {} into place: {e}", partial.display()))?;
    sync_dir(to)?;
    let bytes = std::fs::metadata(&done).map(|m| m.len()).unwrap_or(0);
    writeln!(
        out,
        "backed up {calendars} calendars ({bytes} bytes) from {how} to {} in {:.1} s; \
         the copy opens as a store",
        to.display(),
        started.elapsed().as_secs_f64()
    )
    .map_err(|e| e.to_string())
}

/// Puts the backup in the directory `from` in place as the store of `config`, and says what
/// it did on `out`. The store there, if any, is kept beside it as
/// `availability.store.before-restore-<unix seconds>`; a server running on it refuses the
/// command.
///
/// # Errors
///
/// A message for the operator: PostgreSQL configured, no finished backup in `from`, a copy
/// that does not open as a store, a server running on the data directory.
pub fn restore(config: &Config, from: &Path, out: &mut dyn Write) -> Result<(), String> {
    if config.database.is_some() {
        return Err(ON_POSTGRES.to_owned());
    }
    let backup = from.join(STORE_FILE);
    if !backup.exists() {
        let partial = from.join(format!("{STORE_FILE}.partial"));
        return Err(if partial.exists() {
            format!(
                "{} holds only a partial copy ({STORE_FILE}.partial): that backup did not \
                 finish, and cannot be restored",
                from.display()
            )
        } else {
            format!("{} holds no backup ({STORE_FILE})", from.display())
        });
    }
    let data = &config.data_dir;
    std::fs::create_dir_all(data).map_err(|e| format!("creating {}: {e}", data.display()))?;
    let live = data.join(STORE_FILE);
    // Held until the new file is in place: a server starting meanwhile waits, then refuses.
    let lock = if live.exists() {
        Some(StoreLock::take(&live).map_err(|e| {
            if e.is_locked() {
                format!(
                    "a server is running on {}: stop it before restoring over its store",
                    data.display()
                )
            } else {
                e.to_string()
            }
        })?)
    } else {
        None
    };
    let restoring = data.join(format!("{STORE_FILE}.restoring"));
    copy_durably(&backup, &restoring)?;
    let calendars = match check(&restoring) {
        Ok(calendars) => calendars,
        Err(err) => {
            let _ = std::fs::remove_file(&restoring);
            return Err(err);
        }
    };
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut kept = None;
    if lock.is_some() {
        let aside = data.join(format!("{STORE_FILE}.before-restore-{seconds}"));
        std::fs::rename(&live, &aside)
            .map_err(|e| format!("moving {} aside: {e}", live.display()))?;
        kept = Some(aside);
    }
    std::fs::rename(&restoring, &live)
        .map_err(|e| format!("renaming {} into place: {e}", restoring.display()))?;
    let key = from.join(WEBHOOK_KEY);
    if key.exists() {
        let bytes = std::fs::read(&key).map_err(|e| format!("reading {}: {e}", key.display()))?;
        let target = key_file(config);
        match std::fs::read(&target) {
            Ok(current) if current == bytes => {}
            Ok(_) => {
                // The key the store that was there needs: kept beside it, as that store is.
                let aside =
                    target.with_file_name(format!("{WEBHOOK_KEY}.before-restore-{seconds}"));
                std::fs::rename(&target, &aside)
                    .map_err(|e| format!("moving {} aside: {e}", target.display()))?;
                crate::tls::write_durably(&target, &bytes, true)?;
            }
            Err(_) => crate::tls::write_durably(&target, &bytes, true)?,
        }
    }
    sync_dir(data)?;
    drop(lock);
    match kept {
        Some(aside) => writeln!(
            out,
            "restored {calendars} calendars from {} into {}; the store that was there is \
             kept as {}",
            from.display(),
            data.display(),
            aside.display()
        ),
        None => writeln!(
            out,
            "restored {calendars} calendars from {} into {}",
            from.display(),
            data.display()
        ),
    }
    .map_err(|e| e.to_string())
}

/// Opens the copy at `path` as a store (every record checked), and says how many calendars
/// it holds.
fn check(path: &Path) -> Result<usize, String> {
    let store = Store::open(path).map_err(|e| {
        format!(
            "the copy {} does not open as a store, and was not put in place: {e}",
            path.display()
        )
    })?;
    Ok(store.len())
}

/// The format version of the store file at `path` when it is an earlier one than this build
/// writes (the version is at bytes 8..12 in every version, after the magic).
fn older_format(path: &Path) -> Result<Option<u32>, String> {
    use std::io::Read;
    let mut head = [0u8; 12];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .map_err(|e| format!("reading {}: {e}", path.display()))?;
    let version = u32::from_le_bytes([head[8], head[9], head[10], head[11]]);
    Ok((version < FORMAT_VERSION).then_some(version))
}

/// Where the webhook signing key is kept.
fn key_file(config: &Config) -> PathBuf {
    config
        .webhook_key_file
        .clone()
        .unwrap_or_else(|| config.data_dir.join(WEBHOOK_KEY))
}

/// The configured listen port on this machine, by the name the self-signed certificate a
/// server makes is for (`localhost`), and the address to reach it at: the listen address, or
/// loopback when it listens on every address.
fn default_server(config: &Config) -> (String, std::net::SocketAddr) {
    let mut at = config.listen;
    if at.ip().is_unspecified() {
        at.set_ip(match at {
            std::net::SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            std::net::SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    (format!("https://localhost:{}", at.port()), at)
}

/// Copies `from` to `to`, synced.
fn copy_durably(from: &Path, to: &Path) -> Result<(), String> {
    std::fs::copy(from, to).map_err(|e| format!("copying {}: {e}", from.display()))?;
    std::fs::File::open(to)
        .and_then(|f| f.sync_all())
        .map_err(|e| format!("syncing {}: {e}", to.display()))
}

/// Streams `GET {url}/admin/backup` into `file`, connecting to `at` when given (else to the
/// URL's host); returns the copy's last record. The server's certificate is checked, for the
/// URL's host, against the platform's roots and the configured certificate (or the data
/// directory's self-signed one).
fn fetch(
    config: &Config,
    (url, at): (&str, Option<std::net::SocketAddr>),
    key: &str,
    file: &mut std::fs::File,
) -> Result<u64, String> {
    let uri: http::Uri = format!("{}/admin/backup", url.trim_end_matches('/'))
        .parse()
        .map_err(|e| format!("the server's address {url:?}: {e}"))?;
    if uri.scheme_str() != Some("https") {
        return Err(format!("the server's address {url:?} is not https://"));
    }
    let host = uri.host().unwrap_or("localhost").to_owned();
    let port = uri.port_u16().unwrap_or(443);
    let cert = match &config.tls {
        Some((cert, _)) => cert.clone(),
        None => config.data_dir.join("cert.pem"),
    };
    let tls = client_config(&cert)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("starting the runtime: {e}"))?;
    runtime.block_on(async {
        use http_body_util::BodyExt;
        let tcp = match at {
            Some(at) => tokio::net::TcpStream::connect(at).await,
            None => tokio::net::TcpStream::connect((host.as_str(), port)).await,
        }
        .map_err(|e| format!("connecting to {url}: {e}"))?;
        let name = rustls_pki_types::ServerName::try_from(host.clone())
            .map_err(|e| format!("the server's name {host:?}: {e}"))?;
        let stream = tokio_rustls::TlsConnector::from(tls)
            .connect(name, tcp)
            .await
            .map_err(|e| format!("TLS with {url}: {e}"))?;
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .map_err(|e| format!("HTTP with {url}: {e}"))?;
        tokio::spawn(connection);
        let request = http::Request::get(uri.clone())
            .header(http::header::HOST, format!("{host}:{port}"))
            .header(http::header::AUTHORIZATION, format!("Bearer {key}"))
            .body(http_body_util::Empty::<bytes::Bytes>::new())
            .map_err(|e| e.to_string())?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| format!("asking {url} for a backup: {e}"))?;
        let status = response.status();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok())
        };
        let (length, last) = (
            header("content-length"),
            header(crate::routes::backup::LAST_RECORD),
        );
        let mut body = response.into_body();
        if !status.is_success() {
            let mut text = Vec::new();
            while let Some(Ok(frame)) = body.frame().await {
                if let Some(data) = frame.data_ref() {
                    text.extend_from_slice(data);
                }
                if text.len() > 4096 {
                    break;
                }
            }
            return Err(format!(
                "the server answered {status}: {}",
                String::from_utf8_lossy(&text)
            ));
        }
        let (Some(length), Some(last)) = (length, last) else {
            return Err(format!(
                "the server's answer has no {} or Content-Length: is {url} this server?",
                crate::routes::backup::LAST_RECORD
            ));
        };
        let mut written = 0u64;
        let mut writer = std::io::BufWriter::with_capacity(1 << 20, file);
        while let Some(frame) = body.frame().await {
            let frame = frame
                .map_err(|e| format!("the copy was cut after {written} of {length} bytes: {e}"))?;
            if let Some(data) = frame.data_ref() {
                writer
                    .write_all(data)
                    .map_err(|e| format!("writing the copy: {e}"))?;
                written += data.len() as u64;
            }
        }
        writer
            .flush()
            .map_err(|e| format!("writing the copy: {e}"))?;
        if written != length {
            return Err(format!(
                "the copy was cut after {written} of {length} bytes"
            ));
        }
        Ok(last)
    })
}

/// A client trusting the platform's roots and the certificates in `cert` (a self-signed
/// server certificate is its own root).
fn client_config(cert: &Path) -> Result<Arc<rustls::ClientConfig>, String> {
    let mut roots = rustls::RootCertStore::empty();
    for root in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(root);
    }
    if cert.exists() {
        use rustls_pki_types::pem::PemObject;
        let certs = rustls_pki_types::CertificateDer::pem_file_iter(cert)
            .map_err(|e| format!("reading {}: {e}", cert.display()))?;
        for c in certs {
            let c = c.map_err(|e| format!("reading {}: {e}", cert.display()))?;
            roots
                .add(c)
                .map_err(|e| format!("the certificate in {}: {e}", cert.display()))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}
