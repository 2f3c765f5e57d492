//! `availability-server admin-keys`: the admin keys kept in the store, managed with the
//! server stopped.
//!
//! The command opens the store file as the server does, so it takes the same lock: while a
//! server runs on the data directory, it says so and changes nothing (the running server's
//! `/admin/keys` routes do the same work). It never creates a store: a data directory
//! without one is an error, not a new empty store.

use std::path::Path;

use availability_core::store::{Authority, KeyHash, Store};

use crate::auth;
use crate::config::{AdminKeysAction, Config};
use crate::store::STORE_FILE;

/// Runs `action` against the store in `config.data_dir`, writing what it reports to `out`.
///
/// # Errors
///
/// A message for the operator: no store, a store in use by a running server, a key that is
/// unknown, from the configuration, or the last one.
pub fn run(
    config: &Config,
    action: &AdminKeysAction,
    out: &mut dyn std::io::Write,
) -> Result<(), String> {
    let store = open(&config.data_dir)?;
    let configured: Vec<&str> = config.admin_keys.iter().map(KeyHash::id).collect();
    let write = |out: &mut dyn std::io::Write, line: String| {
        writeln!(out, "{line}").map_err(|e| format!("writing the answer: {e}"))
    };
    match action {
        AdminKeysAction::List => {
            for id in &configured {
                write(out, format!("{id}\t-\tconfiguration\t-"))?;
            }
            for key in store.admin_keys().iter() {
                let created = crate::render::key_created(key.created_unix_ms())
                    .unwrap_or_else(|| "-".to_owned());
                let label = key.label().unwrap_or("-");
                write(out, format!("{}\t{created}\tstore\t{label}", key.id()))?;
            }
            Ok(())
        }
        AdminKeysAction::Create { label } => {
            let key = auth::generate().map_err(|e| format!("the random number generator: {e}"))?;
            let hash =
                auth::hash_blocking(&key.token, config.bcrypt_cost).map_err(|e| e.to_string())?;
            let mut stored = KeyHash::new(key.id.clone(), hash).map_err(|e| e.to_string())?;
            if let Some(label) = label {
                stored = stored
                    .with_label(label.clone())
                    .map_err(|e| e.to_string())?;
            }
            store
                .add_admin_key(stored, &Authority::Unchecked)
                .map_err(|e| format!("storing the admin key: {e}"))?;
            write(out, format!("key_id: {}", key.id))?;
            write(out, format!("key:    {}", key.token))?;
            write(out, "(shown once; only its hash is kept)".to_owned())
        }
        AdminKeysAction::Revoke { key_id } => {
            if configured.contains(&key_id.as_str()) {
                return Err(format!(
                    "admin key {key_id:?} is set in the configuration (admin_keys); remove it \
                     there"
                ));
            }
            // With an admin key in the configuration, the store's last one may go.
            store
                .revoke_admin_key(key_id, &Authority::Unchecked, configured.is_empty())
                .map_err(|e| format!("revoking the admin key: {e}"))?;
            write(out, format!("revoked admin key {key_id}"))
        }
    }
}

/// The store in `data_dir`, which must exist and not be in use.
fn open(data_dir: &Path) -> Result<Store, String> {
    let path = data_dir.join(STORE_FILE);
    if std::fs::symlink_metadata(&path).is_err() {
        return Err(format!(
            "no store in {}: start the server once to make one, or pass --data-dir",
            data_dir.display()
        ));
    }
    Store::open(&path).map_err(|e| {
        if e.is_locked() {
            format!(
                "the store in {} is in use, most likely by a running server: stop it first, or \
                 manage the admin keys through its /admin/keys routes",
                data_dir.display()
            )
        } else {
            e.to_string()
        }
    })
}
