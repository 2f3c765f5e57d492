//! TLS: the rustls configuration, loading PEM files, and the self-signed first-run
//! certificate.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// A certificate chain and its private key.
#[derive(Debug)]
pub struct Identity {
    /// The chain, leaf first.
    pub certs: Vec<CertificateDer<'static>>,
    /// The leaf's key.
    pub key: PrivateKeyDer<'static>,
}

/// The server's TLS configuration: rustls defaults (TLS 1.2 and 1.3, safe suites) on the
/// `ring` provider, ALPN `h2` then `http/1.1`. Built once; each connection clones the `Arc`.
///
/// # Errors
///
/// When the key does not match the certificate or is of an unsupported kind.
pub fn server_config(identity: Identity) -> Result<Arc<ServerConfig>, rustls::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(identity.certs, identity.key)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Reads a PEM certificate chain and a PEM private key.
///
/// # Errors
///
/// Names the file that is missing, unreadable or holds no certificate or key.
pub fn load(cert: &Path, key: &Path) -> Result<Identity, String> {
    let certs = CertificateDer::pem_file_iter(cert)
        .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("reading the certificate {}: {e}", cert.display()))?;
    if certs.is_empty() {
        return Err(format!("no certificate in {}", cert.display()));
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| format!("reading the private key {}: {e}", key.display()))?;
    Ok(Identity { certs, key })
}

/// A self-signed certificate for `localhost`, `127.0.0.1` and `::1`, as PEM (certificate,
/// key).
///
/// # Errors
///
/// When rcgen fails.
pub fn self_signed() -> Result<(String, String), rcgen::Error> {
    let names = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    let certified = rcgen::generate_simple_self_signed(names)?;
    Ok((certified.cert.pem(), certified.key_pair.serialize_pem()))
}

/// The certificate in `dir` (`cert.pem`, `key.pem`), made self-signed on first use. Returns
/// the identity and, when it was just made, the certificate's path (so the caller can say
/// so).
///
/// # Errors
///
/// When the files cannot be written or read.
pub fn load_or_create(dir: &Path) -> Result<(Identity, Option<PathBuf>), String> {
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    let mut created = None;
    if !cert.exists() || !key.exists() {
        std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        let (cert_pem, key_pem) =
            self_signed().map_err(|e| format!("making a self-signed certificate: {e}"))?;
        // The key first: a start that finds a certificate finds its key.
        write_durably(&key, key_pem.as_bytes(), true)?;
        write_durably(&cert, cert_pem.as_bytes(), false)?;
        created = Some(cert.clone());
    }
    Ok((load(&cert, &key)?, created))
}

/// Writes `path` the way the store file is created: into a temporary file beside it, synced,
/// renamed over `path`, and the directory synced, so that a crash or a power loss leaves either
/// no file or the whole file, never an empty or torn one that would stop the next start.
/// With `private`, only the owner can read it.
pub(crate) fn write_durably(path: &Path, bytes: &[u8], private: bool) -> Result<(), String> {
    use std::io::Write;
    let fail = |e: std::io::Error| format!("writing {}: {e}", path.display());
    let temporary = path.with_extension("pem.partial");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if private {
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    }
    #[cfg(not(unix))]
    let _ = private;
    let mut file = options.open(&temporary).map_err(fail)?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(fail)?;
    drop(file);
    std::fs::rename(&temporary, path).map_err(fail)?;
    match path.parent() {
        Some(dir) => sync_dir(dir),
        None => Ok(()),
    }
}

/// Makes the names in `dir` durable (a rename into it, a file made there); nothing to do off
/// Unix.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), String> {
    #[cfg(unix)]
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| format!("syncing the directory {}: {e}", dir.display()))?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first start writes both files whole, the key readable by its owner only, and leaves
    /// nothing half-written behind; what an interrupted earlier start left is replaced.
    #[test]
    fn first_run_files_are_written_whole() {
        let dir = tempfile::tempdir().expect("a directory");
        // An earlier start that lost power mid-write left a torn temporary file and no
        // certificate.
        std::fs::write(dir.path().join("cert.pem.partial"), b"-----BEGIN CERT").expect("write");
        let (_, created) = load_or_create(dir.path()).expect("a certificate");
        assert_eq!(created, Some(dir.path().join("cert.pem")));
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .expect("list")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["cert.pem", "key.pem"]);
        for name in names {
            let text = std::fs::read_to_string(dir.path().join(&name)).expect("read");
            assert!(text.starts_with("-----BEGIN") && text.trim_end().ends_with("-----"));
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("key.pem"))
                .expect("metadata")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // A second start reuses them.
        let (_, created) = load_or_create(dir.path()).expect("the same certificate");
        assert_eq!(created, None);
    }
}
