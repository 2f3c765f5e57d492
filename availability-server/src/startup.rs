//! Getting from a configuration to a ready server: the storage (the store file, or the
//! database), TLS identity, the `default` calendar and the first admin key.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use rustls::ServerConfig;

use crate::app::{App, AppSettings};
use crate::auth::{self, Auth, AuthSettings};
use crate::config::Config;
use crate::limit::Limits;
use crate::store::{Authority, Database, KeyHash, Storage, DEFAULT_CALENDAR};
use crate::tls;
use crate::wire::client::Proxy;

/// A server ready to run.
#[derive(Debug)]
pub struct Prepared {
    /// The shared state.
    pub app: Arc<App>,
    /// An admin key generated on this start (the first): to show once, then forget.
    pub new_admin_key: Option<String>,
}

/// The TLS configuration: the configured certificate, or the self-signed one of the data
/// directory (made on the first start, and then returned as the second value).
///
/// # Errors
///
/// A message for the operator naming the file that failed.
pub fn tls(config: &Config) -> Result<(Arc<ServerConfig>, Option<PathBuf>), String> {
    let (identity, new_certificate) = match &config.tls {
        Some((cert, key)) => (tls::load(cert, key)?, None),
        None => tls::load_or_create(&config.data_dir)?,
    };
    let tls = tls::server_config(identity).map_err(|e| format!("the TLS configuration: {e}"))?;
    Ok((tls, new_certificate))
}

/// Where writes go, opened, and the admin key its first start made (a database's first start
/// makes it while opening: exactly one instance does).
#[derive(Debug)]
pub struct Opened {
    /// The storage.
    pub storage: Storage,
    /// The admin key made by this start, to show once.
    pub new_admin_key: Option<String>,
}

/// Opens the configured database (connecting, migrating its schema, loading every calendar):
/// `None` when the instance runs on the store file.
///
/// # Errors
///
/// A message for the operator naming the step and the database's own words.
pub async fn open_database(config: &Config) -> Result<Option<Opened>, String> {
    let Some(database) = &config.database else {
        return Ok(None);
    };
    let settings = database_settings(database);
    let app: Arc<OnceLock<std::sync::Weak<App>>> = Arc::new(OnceLock::new());
    let told = Arc::clone(&app);
    let on_change: availability_postgres::OnChange = Arc::new(move |id: &str| {
        if let Some(app) = told.get().and_then(std::sync::Weak::upgrade) {
            app.changed(id);
        }
    });
    let configured = !config.admin_keys.is_empty();
    let cost = config.bcrypt_cost;
    let mut new_admin_key = None;
    let made = &mut new_admin_key;
    let first = move || -> Result<Option<KeyHash>, String> {
        if configured {
            return Ok(None);
        }
        let key = auth::generate().map_err(|e| format!("generating the admin key: {e}"))?;
        let hash = auth::hash_blocking(&key.token, cost).map_err(|e| e.to_string())?;
        let stored = KeyHash::new(key.id, hash).map_err(|e| e.to_string())?;
        *made = Some(key.token);
        Ok(Some(stored))
    };
    let db: Arc<Database> = Database::open(settings, on_change, first).await?;
    Ok(Some(Opened {
        storage: Storage::Postgres(db, app),
        new_admin_key,
    }))
}

/// The backend's settings for `database`.
pub fn database_settings(database: &crate::config::Database) -> availability_postgres::Settings {
    let mut settings = availability_postgres::Settings::new(database.url.clone());
    settings.pool_size = database.pool;
    settings.ca_file = database.ca_file.clone();
    settings
}

/// Creates the `default` calendar on an empty store file and generates an admin key when none
/// exists (only its bcrypt hash is kept, in the store); a database did both when it was opened
/// ([`open_database`]).
///
/// # Errors
///
/// A message for the operator: which file or step failed.
pub async fn prepare(config: &Config, opened: Opened) -> Result<Prepared, String> {
    let Opened {
        storage,
        new_admin_key: made_admin_key,
    } = opened;
    let store = Arc::clone(storage.store());

    if store.is_empty() && matches!(storage, Storage::File(_)) {
        let s = Arc::clone(&store);
        tokio::task::spawn_blocking(move || {
            s.create(DEFAULT_CALENDAR, "UTC", Vec::new(), &Authority::Unchecked)
        })
        .await
        .map_err(|e| format!("creating the default calendar: {e}"))?
        .map_err(|e| format!("creating the default calendar: {e}"))?;
    }

    let auth = Auth::new(AuthSettings {
        cost: config.bcrypt_cost,
        configured_admin: config.admin_keys.clone(),
        bcrypt_concurrency: config.bcrypt_concurrency,
        memo_ttl: config.key_memo_ttl,
        bcrypt_wait: config.bcrypt_wait,
        bcrypt_per_client: config.bcrypt_per_client,
    })?;
    let mut new_admin_key = made_admin_key;
    if !auth.has_admin_key(&store) && matches!(storage, Storage::File(_)) {
        let key = auth::generate().map_err(|e| format!("generating the admin key: {e}"))?;
        let token = key.token.clone();
        let cost = config.bcrypt_cost;
        let s = Arc::clone(&store);
        tokio::task::spawn_blocking(move || {
            let hash = auth::hash_blocking(&token, cost).map_err(|e| e.to_string())?;
            let stored = KeyHash::new(key.id, hash).map_err(|e| e.to_string())?;
            s.add_admin_key(stored, &Authority::Unchecked)
                .map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| format!("storing the admin key: {e}"))?
        .map_err(|e| format!("storing the admin key: {e}"))?;
        new_admin_key = Some(key.token);
    }

    let limits = Limits::new(
        config.rates,
        Proxy {
            header: config.client_ip_header.clone(),
            trusted: config.trusted_proxies.clone(),
        },
    );
    let app = Arc::new(App::with_origins(
        storage,
        auth,
        limits,
        AppSettings {
            cache_entries: config.cache_entries,
            cache_bytes: config.cache_bytes,
            body_limit: config.max_body_bytes,
            body_timeout: config.body_read_timeout,
            metrics_public: config.metrics_public,
            events: config.events,
        },
        config.cors_origins.clone(),
    ));
    if let Storage::Postgres(_, told) = &app.storage {
        let _ = told.set(Arc::downgrade(&app));
    }
    // A second at a million calendars: the server answers meanwhile (see `Owners`).
    app.auth.index_all_in_background(Arc::clone(&app.store));
    let key_file = config
        .webhook_key_file
        .clone()
        .unwrap_or_else(|| config.data_dir.join("webhook.key"));
    let webhooks = Arc::new(crate::webhooks::Webhooks::new(
        &key_file,
        &config.webhook_allow,
        config.webhook_ca_file.as_deref(),
    )?);
    if let Storage::Postgres(db, _) = &app.storage {
        // Every server on a database opens the secrets of every endpoint: one whose key is
        // not the database's stops here, not at each delivery it takes.
        db.check_webhook_key(webhooks.sealer.check().as_deref())
            .await
            .map_err(|e| format!("{e} (webhook_key_file {})", key_file.display()))?;
    }
    let _ = app.webhooks.set(Arc::clone(&webhooks));
    crate::webhooks::start(&app, webhooks);
    Ok(Prepared { app, new_admin_key })
}
