//! Getting from a configuration to a ready server: TLS identity, the `default` calendar and
//! the first admin key.

use std::path::PathBuf;
use std::sync::Arc;

use rustls::ServerConfig;

use crate::app::App;
use crate::auth::{self, Auth};
use crate::config::Config;
use crate::routes::DEFAULT_CALENDAR;
use crate::state::{Backend, KeyHash, Zones};
use crate::tls;

/// A server ready to run.
#[derive(Debug)]
pub struct Prepared {
    /// The shared state.
    pub app: Arc<App>,
    /// The TLS configuration.
    pub tls: Arc<ServerConfig>,
    /// An admin key generated on this start (the first): to show once, then forget.
    pub new_admin_key: Option<String>,
    /// The self-signed certificate made on this start, if one was.
    pub new_certificate: Option<PathBuf>,
}

/// Loads or makes the TLS identity, creates the `default` calendar on an empty store, and
/// generates an admin key when none exists (only its bcrypt hash is kept, in the store).
///
/// # Errors
///
/// A message for the operator: which file or step failed.
pub async fn prepare(
    config: &Config,
    backend: Arc<dyn Backend>,
    zones: Arc<dyn Zones>,
) -> Result<Prepared, String> {
    let (identity, new_certificate) = match &config.tls {
        Some((cert, key)) => (tls::load(cert, key)?, None),
        None => tls::load_or_create(&config.data_dir)?,
    };
    let tls = tls::server_config(identity).map_err(|e| format!("the TLS configuration: {e}"))?;

    if backend.list().is_empty() {
        let b = Arc::clone(&backend);
        tokio::task::spawn_blocking(move || b.create(DEFAULT_CALENDAR, "UTC", None))
            .await
            .map_err(|e| format!("creating the default calendar: {e}"))?
            .map_err(|e| format!("creating the default calendar: {e}"))?;
    }

    let auth = Auth::new(config.bcrypt_cost, config.admin_keys.clone());
    let mut new_admin_key = None;
    if !auth.has_admin_key(backend.as_ref()) {
        let key = auth::generate().map_err(|e| format!("generating the admin key: {e}"))?;
        let token = key.token.clone();
        let cost = config.bcrypt_cost;
        let b = Arc::clone(&backend);
        tokio::task::spawn_blocking(move || {
            let hash = auth::hash_blocking(&token, cost).map_err(|e| e.to_string())?;
            b.add_admin_key(KeyHash { id: key.id, hash })
                .map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| format!("storing the admin key: {e}"))?
        .map_err(|e| format!("storing the admin key: {e}"))?;
        new_admin_key = Some(key.token);
    }

    let app = Arc::new(App::new(
        backend,
        zones,
        auth,
        config.cache_entries,
        config.metrics_public,
    ));
    Ok(Prepared {
        app,
        tls,
        new_admin_key,
        new_certificate,
    })
}
