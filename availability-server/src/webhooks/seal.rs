//! Webhook secrets at rest: sealed with ChaCha20-Poly1305 under a key of the operator's
//! (`webhook_key_file`, made on first use beside the data, readable by its owner only), and
//! bound to their endpoint's id. A copy of the store file or of the database alone shows no
//! secret; instances that share a database share the key file.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305, NONCE_LEN};

/// Bytes of the key.
const KEY_BYTES: usize = 32;

/// Bytes of a key's check value.
pub const CHECK_BYTES: usize = 16;

/// The key secrets are sealed with.
pub struct Sealer {
    path: PathBuf,
    /// Read at start when the file exists, else made with the first secret sealed.
    key: Mutex<Option<Arc<Key>>>,
}

/// A sealing key, and its check value: an HMAC under it of a fixed text, which tells two
/// keys apart without showing either (a database keeps it, so that an instance with another
/// key file is refused rather than unable to open the secrets).
struct Key {
    aead: LessSafeKey,
    check: Vec<u8>,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealer")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl Sealer {
    /// The key in `path` (64 hexadecimal digits), read now if the file exists; otherwise
    /// made there (durably, owner-only) when the first secret is sealed.
    ///
    /// # Errors
    ///
    /// When the file exists but cannot be read or does not hold a key.
    pub fn at(path: &Path) -> Result<Sealer, String> {
        let key = match std::fs::read_to_string(path) {
            Ok(text) => Some(Arc::new(key_of(&text, path)?)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(format!("webhook_key_file {}: {e}", path.display())),
        };
        Ok(Sealer {
            path: path.to_path_buf(),
            key: Mutex::new(key),
        })
    }

    /// The check value of the key, if there is one yet.
    pub fn check(&self) -> Option<Vec<u8>> {
        self.key(false).ok()?.map(|k| k.check.clone())
    }

    /// The check value of the key, made now if there is none yet.
    ///
    /// # Errors
    ///
    /// When the key file cannot be written, or the system has no randomness to give.
    pub fn check_made(&self) -> Result<Vec<u8>, String> {
        Ok(self.key(true)?.ok_or("no sealing key")?.check.clone())
    }

    /// The key: read again from the file while there is none (a server sharing it may have
    /// made it), and made now if `make` and there is none yet.
    fn key(&self, make: bool) -> Result<Option<Arc<Key>>, String> {
        let mut key = self
            .key
            .lock()
            .map_err(|_| "the sealing key's lock".to_string())?;
        if key.is_none() {
            // Another server sharing the file may have made it since.
            match std::fs::read_to_string(&self.path) {
                Ok(text) => *key = Some(Arc::new(key_of(&text, &self.path)?)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(format!("webhook_key_file {}: {e}", self.path.display())),
            }
        }
        if key.is_none() && make {
            let mut bytes = [0u8; KEY_BYTES];
            getrandom::getrandom(&mut bytes).map_err(|e| format!("randomness: {e}"))?;
            let text: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            crate::tls::write_durably(&self.path, format!("{text}\n").as_bytes(), true)?;
            *key = Some(Arc::new(key_of(&text, &self.path)?));
        }
        Ok(key.clone())
    }

    /// `secret` sealed for endpoint `hook`: a random nonce, then the ciphertext and tag.
    ///
    /// # Errors
    ///
    /// When the system has no randomness to give.
    pub fn seal(&self, hook: &str, secret: &[u8]) -> Result<Vec<u8>, String> {
        let key = self.key(true)?.ok_or("no sealing key")?;
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::getrandom(&mut nonce).map_err(|e| format!("randomness: {e}"))?;
        let mut sealed = secret.to_vec();
        key.aead
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(hook.as_bytes()),
                &mut sealed,
            )
            .map_err(|_| "sealing a secret failed".to_string())?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// The secret of endpoint `hook` that [`Sealer::seal`] sealed, or `None` when it was
    /// sealed with another key or for another endpoint, or changed.
    pub fn open(&self, hook: &str, sealed: &[u8]) -> Option<Vec<u8>> {
        let key = self.key(false).ok()??;
        let nonce = Nonce::try_assume_unique_for_key(sealed.get(..NONCE_LEN)?).ok()?;
        let mut data = sealed.get(NONCE_LEN..)?.to_vec();
        let plain = key
            .aead
            .open_in_place(nonce, Aad::from(hook.as_bytes()), &mut data)
            .ok()?;
        Some(plain.to_vec())
    }
}

/// The key `text` (of the file at `path`) holds.
fn key_of(text: &str, path: &Path) -> Result<Key, String> {
    let text = text.trim();
    let bytes: Option<Vec<u8>> = (text.len() == 2 * KEY_BYTES)
        .then(|| {
            (0..KEY_BYTES)
                .map(|i| u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok())
                .collect()
        })
        .flatten();
    let bytes = bytes.ok_or_else(|| {
        format!(
            "webhook_key_file {} must hold {} hexadecimal digits",
            path.display(),
            2 * KEY_BYTES
        )
    })?;
    let key = UnboundKey::new(&CHACHA20_POLY1305, &bytes).map_err(|_| "a key".to_string())?;
    let mac = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &bytes);
    let check = ring::hmac::sign(&mac, b"availability webhook sealing key check");
    Ok(Key {
        aead: LessSafeKey::new(key),
        check: check.as_ref()[..CHECK_BYTES].to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_opens_only_for_its_endpoint_and_key() {
        let dir = tempfile::tempdir().expect("a directory");
        let path = dir.path().join("webhook.key");
        let sealer = Sealer::at(&path).expect("no key yet");
        assert!(!path.exists(), "made only when a secret is sealed");
        assert_eq!(sealer.open("wh-1", &[0; 40]), None);
        let sealed = sealer.seal("wh-1", b"secret bytes").expect("sealed");
        assert!(!sealed.windows(6).any(|w| w == b"secret"));
        assert_eq!(
            sealer.open("wh-1", &sealed).as_deref(),
            Some(&b"secret bytes"[..])
        );
        assert_eq!(sealer.open("wh-2", &sealed), None);
        let mut changed = sealed.clone();
        *changed.last_mut().expect("bytes") ^= 1;
        assert_eq!(sealer.open("wh-1", &changed), None);
        // The same file gives the same key; another file another.
        let again = Sealer::at(&path).expect("the key");
        assert!(again.open("wh-1", &sealed).is_some());
        let other = Sealer::at(&dir.path().join("other.key")).expect("a key");
        assert_eq!(other.check(), None, "no key yet");
        other.seal("wh-1", b"x").expect("made");
        assert_eq!(other.open("wh-1", &sealed), None);
        // A key's check value is its own: the same from the same file, another for another.
        let check = sealer.check().expect("a key");
        assert_eq!(check.len(), CHECK_BYTES);
        assert_eq!(again.check(), Some(check.clone()));
        assert_ne!(other.check(), Some(check));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path)
                .expect("the file")
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "readable by its owner only");
        }
        std::fs::write(&path, "not a key\n").expect("write");
        assert!(Sealer::at(&path).unwrap_err().contains("hexadecimal"));
    }
}
