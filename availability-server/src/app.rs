//! [`App`]: everything a request handler needs, shared by all connections.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::auth::Auth;
use crate::cache::Cache;
use crate::metrics::Metrics;
use crate::state::{Backend, Zones};

/// The largest request body accepted: a full batch of 336 ranges in verbose JSON is ~30 KiB.
pub const BODY_LIMIT: usize = 64 * 1024;

/// Shared state of the server.
#[derive(Debug)]
pub struct App {
    /// The calendars.
    pub backend: Arc<dyn Backend>,
    /// The time-zone engine.
    pub zones: Arc<dyn Zones>,
    /// Rendered bodies.
    pub cache: Cache,
    /// Counters for `/metrics`.
    pub metrics: Metrics,
    /// Key checks.
    pub auth: Auth,
    /// Whether `/metrics` is open to anyone (otherwise it needs an admin key).
    pub metrics_public: bool,
    /// Set when shutdown begins: requests that still arrive get 503.
    shutting_down: AtomicBool,
}

impl std::fmt::Debug for dyn Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Backend")
    }
}

impl std::fmt::Debug for dyn Zones {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Zones")
    }
}

impl App {
    /// Shared state over this store and time-zone engine.
    pub fn new(
        backend: Arc<dyn Backend>,
        zones: Arc<dyn Zones>,
        auth: Auth,
        cache_entries: usize,
        metrics_public: bool,
    ) -> App {
        App {
            backend,
            zones,
            cache: Cache::new(cache_entries),
            metrics: Metrics::default(),
            auth,
            metrics_public,
            shutting_down: AtomicBool::new(false),
        }
    }

    /// Marks the start of shutdown.
    pub fn begin_shutdown(&self) {
        self.shutting_down.store(true, Ordering::SeqCst);
    }

    /// Whether shutdown has begun.
    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::SeqCst)
    }

    /// Seconds since the Unix epoch, for the default week.
    pub fn now_unix(&self) -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
    }
}
