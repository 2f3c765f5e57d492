//! `availability-server admin-keys`: the admin keys kept in the store file, managed with the
//! server stopped, or those kept in the database, with the servers running.
//!
//! On the store file the command opens the store as the server does, so it takes the same
//! lock: while a server runs on the data directory, it says so and changes nothing (the
//! running server's `/admin/keys` routes do the same work). It never creates a store: a data
//! directory without one is an error, not a new empty store.
//!
//! With a database (`database_url`), it opens the database as another server would, but
//! makes nothing there (no schema, no `default` calendar, no first admin key): a database
//! that no server has started on is an error. A change commits as the `/admin/keys` routes'
//! do, and the running servers see it through the change log.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use availability_core::store::{Authority, KeyHash, Store};

use crate::auth;
use crate::config::{AdminKeysAction, Config};
use crate::store::{Database, Storage, STORE_FILE};

/// Runs `action` against the store in `config.data_dir`, or against the database of
/// `config.database`, writing what it reports to `out`.
///
/// # Errors
///
/// A message for the operator: no store, a store in use by a running server, a database
/// without the schema or away, a key that is unknown, from the configuration, or the last
/// one.
pub fn run(
    config: &Config,
    action: &AdminKeysAction,
    out: &mut dyn std::io::Write,
) -> Result<(), String> {
    let lines = match &config.database {
        None => {
            let storage = Storage::File(Arc::new(open(
                &config.data_dir,
                ", or manage the admin keys through its /admin/keys routes",
            )?));
            act(config, &storage, action)?
        }
        Some(database) => on_database(config, database, action)?,
    };
    for line in lines {
        writeln!(out, "{line}").map_err(|e| format!("writing the answer: {e}"))?;
    }
    Ok(())
}

/// `action` against the database: its writes block on the runtime, so they run on its
/// blocking pool.
fn on_database(
    config: &Config,
    database: &crate::config::Database,
    action: &AdminKeysAction,
) -> Result<Vec<String>, String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("starting the runtime: {e}"))?;
    let settings = crate::startup::database_settings(database);
    let (config, action) = (config.clone(), action.clone());
    runtime.block_on(async move {
        let db = Database::open_existing(settings, Arc::new(|_: &str| {})).await?;
        let storage = Storage::Postgres(db, Arc::new(OnceLock::new()));
        tokio::task::spawn_blocking(move || act(&config, &storage, &action))
            .await
            .map_err(|e| format!("managing the admin keys: {e}"))?
    })
}

/// Does `action` on the admin keys of `storage`; the lines to print.
fn act(
    config: &Config,
    storage: &Storage,
    action: &AdminKeysAction,
) -> Result<Vec<String>, String> {
    let configured: Vec<&str> = config.admin_keys.iter().map(KeyHash::id).collect();
    let kept = match storage {
        Storage::File(_) => "store",
        Storage::Postgres(..) => "database",
    };
    match action {
        AdminKeysAction::List => {
            let mut lines: Vec<String> = configured
                .iter()
                .map(|id| format!("{id}\t-\tconfiguration\t-"))
                .collect();
            for key in storage.store().admin_keys().iter() {
                let created = crate::render::key_created(key.created_unix_ms())
                    .unwrap_or_else(|| "-".to_owned());
                let label = key.label().unwrap_or("-");
                lines.push(format!("{}\t{created}\t{kept}\t{label}", key.id()));
            }
            Ok(lines)
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
            storage
                .add_admin_key(stored, &Authority::Unchecked)
                .map_err(|e| format!("storing the admin key: {e}"))?;
            Ok(vec![
                format!("key_id: {}", key.id),
                format!("key:    {}", key.token),
                "(shown once; only its hash is kept)".to_owned(),
            ])
        }
        AdminKeysAction::Revoke { key_id } => {
            if configured.contains(&key_id.as_str()) {
                return Err(format!(
                    "admin key {key_id:?} is set in the configuration (admin_keys); remove it \
                     there"
                ));
            }
            // With an admin key in the configuration, the stored last one may go.
            storage
                .revoke_admin_key(key_id, &Authority::Unchecked, configured.is_empty())
                .map_err(|e| format!("revoking the admin key: {e}"))?;
            Ok(vec![format!("revoked admin key {key_id}")])
        }
    }
}

/// The store in `data_dir`, which must exist and not be in use; `instead` says what to do
/// while a server runs on it.
///
/// # Errors
///
/// A message for the operator: no store there, or a store in use (by a running server).
pub fn open(data_dir: &Path, instead: &str) -> Result<Store, String> {
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
                "the store in {} is in use, most likely by a running server: stop it first{instead}",
                data_dir.display()
            )
        } else {
            e.to_string()
        }
    })
}
