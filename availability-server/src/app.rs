//! [`App`]: everything a request handler needs, shared by all connections.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::auth::Auth;
use crate::cache::Cache;
use crate::limit::Limits;
use crate::metrics::Metrics;
use crate::server::Connections;
use crate::store::Store;
use availability_core::tz::PlanCache;

/// The default cap on request bodies: a full batch of 336 ranges in verbose JSON is ~30 KiB.
pub const BODY_LIMIT: usize = 64 * 1024;

/// How many time-zone plans to keep: each is a few hundred bytes.
const PLANS: usize = 4096;

/// Shared state of the server.
#[derive(Debug)]
pub struct App {
    /// The calendars.
    pub store: Arc<Store>,
    /// Time-zone plans by (owner zone, viewer zone, week): a repeated view costs one plan
    /// application.
    pub plans: PlanCache,
    /// Rendered bodies.
    pub cache: Cache,
    /// Counters for `/metrics`.
    pub metrics: Metrics,
    /// Key checks.
    pub auth: Auth,
    /// Per-client rate limits.
    pub limits: Limits,
    /// The largest request body read, in bytes.
    pub body_limit: usize,
    /// Time for a request body to arrive once its head has.
    pub body_timeout: Duration,
    /// Whether `/metrics` is open to anyone (otherwise it needs an admin key).
    pub metrics_public: bool,
    /// Connection timeouts and limits, for the accept loop.
    pub connections: Connections,
    /// Set when shutdown begins: requests that still arrive get 503.
    shutting_down: AtomicBool,
}

/// The plain settings of [`App`].
#[derive(Debug, Clone, Copy)]
pub struct AppSettings {
    /// Rendered bodies to cache.
    pub cache_entries: usize,
    /// The largest request body read, in bytes.
    pub body_limit: usize,
    /// Time for a request body to arrive once its head has.
    pub body_timeout: Duration,
    /// Whether `/metrics` is open to anyone.
    pub metrics_public: bool,
    /// Connection timeouts and limits.
    pub connections: Connections,
}

impl Default for AppSettings {
    fn default() -> AppSettings {
        AppSettings {
            cache_entries: 4096,
            body_limit: BODY_LIMIT,
            body_timeout: Duration::from_secs(30),
            metrics_public: false,
            connections: Connections::default(),
        }
    }
}

impl App {
    /// Shared state over this store. Indexes the store's keys.
    pub fn new(store: Arc<Store>, auth: Auth, limits: Limits, settings: AppSettings) -> App {
        auth.index_all(&store);
        App {
            store,
            plans: PlanCache::new(PLANS),
            cache: Cache::new(settings.cache_entries),
            metrics: Metrics::default(),
            auth,
            limits,
            body_limit: settings.body_limit,
            body_timeout: settings.body_timeout,
            metrics_public: settings.metrics_public,
            connections: settings.connections,
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
