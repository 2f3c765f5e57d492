//! [`App`]: everything a request handler needs, shared by all connections, and the three
//! steps most handlers share: find the calendar, check the key, commit a change.

use std::net::IpAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use availability_core::tz::{IsoWeek, Plan, PlanCache, Zone};
use http::request::Parts;

use crate::auth::{Auth, Need, NewKey, Principal};
use crate::cache::{Cache, Rendered};
use crate::events::{EventLimits, Events};
use crate::idempotency::Answering;
use crate::limit::Limits;
use crate::metrics::Metrics;
use crate::store::{self, Calendar, Expected, KeyHash, KeyScope, Storage, Store};
use crate::wire::body::BodyLimits;
use crate::wire::problem::shown;
use crate::wire::{Problem, Result};

/// The default cap on request bodies: a full batch of 336 ranges in verbose JSON is ~30 KiB.
pub const BODY_LIMIT: usize = 64 * 1024;

/// The default bound on cached bodies: about 270 full-week JSON views with their compressed
/// forms, or thousands of compressed ones alone. With 16 MiB the server peaked at 53 MB in
/// `benches/load.sh` (its uncached group questions fill the cache); with 8 MiB at 43 MB, within
/// the 50 MB it aims for.
pub const CACHE_BYTES: usize = 8 * 1024 * 1024;

/// How many time-zone plans to keep: each is a few hundred bytes.
const PLANS: usize = 4096;

/// Shared state of the server.
#[derive(Debug)]
pub struct App {
    /// The calendars, as readers see them.
    pub store: Arc<Store>,
    /// Where writes go.
    pub storage: Storage,
    /// Time-zone plans by (owner zone, viewer zone, week): a repeated view costs one plan
    /// application.
    pub plans: PlanCache,
    /// Rendered bodies.
    pub cache: Arc<Cache>,
    /// Counters for `/metrics`.
    pub metrics: Metrics,
    /// Key checks.
    pub auth: Auth,
    /// Per-client rate limits.
    pub limits: Limits,
    /// How much of a request body is read, and for how long.
    pub body: BodyLimits,
    /// Whether `/metrics` is open to anyone (otherwise it needs an admin key).
    pub metrics_public: bool,
    /// Web origins allowed to write from a browser.
    pub cors_origins: Vec<String>,
    /// The commit signal of the event streams, and their counts.
    pub events: Events,
    /// Set when shutdown begins: requests that still arrive get 503.
    shutting_down: AtomicBool,
    /// The requests with an idempotency key being answered now ([`crate::idempotency`]).
    pub answering: Answering,
    /// Webhooks: their client, sealing key and counts, once set up ([`crate::startup`]).
    pub webhooks: std::sync::OnceLock<Arc<crate::webhooks::Webhooks>>,
}

/// The plain settings of [`App`].
#[derive(Debug, Clone, Copy)]
pub struct AppSettings {
    /// Rendered bodies to cache.
    pub cache_entries: usize,
    /// Bytes of rendered bodies to cache, compressed forms included.
    pub cache_bytes: usize,
    /// The largest request body read, in bytes.
    pub body_limit: usize,
    /// Time for a request body to arrive once its head has.
    pub body_timeout: Duration,
    /// Whether `/metrics` is open to anyone.
    pub metrics_public: bool,
    /// The bounds and the heartbeat of the event streams.
    pub events: EventLimits,
}

impl Default for AppSettings {
    fn default() -> AppSettings {
        AppSettings {
            cache_entries: 4096,
            cache_bytes: CACHE_BYTES,
            body_limit: BODY_LIMIT,
            body_timeout: Duration::from_secs(30),
            metrics_public: false,
            events: EventLimits::default(),
        }
    }
}

impl App {
    /// Shared state over this store file. Indexes the store's keys before it returns.
    pub fn new(store: Arc<Store>, auth: Auth, limits: Limits, settings: AppSettings) -> App {
        let app = App::with_origins(Storage::File(store), auth, limits, settings, Vec::new());
        app.auth.index_all(&app.store);
        app
    }

    /// Shared state over `storage`, letting pages of `cors_origins` write. The keys are not
    /// indexed yet: the caller starts that ([`Auth::index_all_in_background`]), and key
    /// checks that need the index wait for it.
    pub fn with_origins(
        storage: Storage,
        auth: Auth,
        limits: Limits,
        settings: AppSettings,
        cors_origins: Vec<String>,
    ) -> App {
        let store = Arc::clone(storage.store());
        App {
            store,
            storage,
            plans: PlanCache::new(PLANS),
            cache: Arc::new(Cache::new(settings.cache_entries, settings.cache_bytes)),
            metrics: Metrics::default(),
            auth,
            limits,
            body: BodyLimits {
                max_bytes: settings.body_limit,
                timeout: settings.body_timeout,
            },
            metrics_public: settings.metrics_public,
            cors_origins,
            events: Events::new(settings.events),
            shutting_down: AtomicBool::new(false),
            answering: Answering::default(),
            webhooks: std::sync::OnceLock::new(),
        }
    }

    /// Marks the start of shutdown.
    pub fn begin_shutdown(&self) {
        self.shutting_down.store(true, Ordering::SeqCst);
        // Open event streams end, so that their connections can close.
        self.events.shut_down();
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

    /// The owner zone of a stored calendar. It was checked when it was stored: a name the
    /// time-zone data in use does not know is the server's fault (500), not the client's.
    pub fn owner_zone(&self, calendar: &Calendar) -> Result<Zone> {
        Zone::new(calendar.zone()).map_err(|e| Problem::internal("reading an owner's zone", e))
    }

    /// The plan that converts `owner`'s wall-clock week to `viewer`'s `week`, from the cache.
    pub fn plan(&self, owner: Zone, viewer: Zone, week: IsoWeek) -> Result<Arc<Plan>> {
        self.plans
            .get(owner, viewer, week)
            .map_err(|e| Problem::bad_request(e.to_string()))
    }

    /// A body from the render cache (`hit`, looked up by the caller with its own kind of key),
    /// or rendered by `render` and cached; counts hits and misses.
    pub fn cached(
        &self,
        hit: Option<Arc<Rendered>>,
        render: impl FnOnce() -> Result<Rendered>,
    ) -> Result<Arc<Rendered>> {
        if let Some(rendered) = hit {
            self.metrics.cache_hits.fetch_add(1, Relaxed);
            return Ok(rendered);
        }
        self.metrics.cache_misses.fetch_add(1, Relaxed);
        let rendered = Arc::new(render()?);
        self.cache
            .insert_checked(Arc::clone(&rendered), |calendar| {
                self.store
                    .get(calendar.id())
                    .is_some_and(|now| Arc::ptr_eq(&now, calendar))
            });
        Ok(rendered)
    }

    /// The calendar, or 404.
    pub fn calendar(&self, id: &str) -> Result<Arc<Calendar>> {
        self.store.get(id).ok_or_else(|| no_calendar(id))
    }

    /// What the store keeps of a new key: its bcrypt hash, `scope` (when given) and `label`. The
    /// label is checked before bcrypt runs, so a label the store refuses costs no hash.
    pub async fn hash_new_key(
        &self,
        key: &NewKey,
        scope: Option<KeyScope>,
        label: Option<String>,
    ) -> Result<KeyHash> {
        let labelled = |hash: String| {
            let mut stored = KeyHash::new(key.id.clone(), hash)
                .map_err(|e| Problem::internal("storing a new key", e))?;
            if let Some(scope) = scope {
                stored = stored.with_scope(scope);
            }
            match label.clone() {
                Some(label) => stored
                    .with_label(label)
                    .map_err(|e| Problem::bad_request(e.to_string())),
                None => Ok(stored),
            }
        };
        labelled("-".to_owned())?;
        let hash = self.auth.hash(key.token.clone()).await?;
        labelled(hash)
    }

    /// The named group, or 404.
    pub fn group(&self, id: &str) -> Result<Arc<store::Group>> {
        self.store
            .group(id)
            .ok_or_else(|| Problem::not_found(format!("no group {:?}", shown(id))))
    }

    /// The calendars `ids`, in order, as they were at one moment; or 404 naming the first
    /// that does not exist.
    pub fn calendars(&self, ids: &[String]) -> Result<Vec<Arc<Calendar>>> {
        self.store.get_all(ids).map_err(no_calendar)
    }

    /// What a write to `calendar` expects when it commits: `version` (from `If-Match`), the
    /// calendar the route found (its incarnation: one deleted and created again meanwhile is
    /// not it), and the key that authorized the write, which the store checks again under
    /// the calendar's write lock (`None`: nobody, for a public booking).
    pub fn expected(
        calendar: &Calendar,
        version: Option<u64>,
        principal: Option<&Principal>,
    ) -> Expected {
        Expected {
            version,
            incarnation: Some(calendar.incarnation()),
            by: principal.map_or(store::Authority::PublicBooking, Principal::authority),
        }
    }

    /// Checks the request's key against `need` (see [`Auth::check`]), charging key checks to
    /// `client`'s `auth` limit and the key id's `auth-key` limit.
    pub async fn authorize(
        &self,
        client: IpAddr,
        parts: &Parts,
        need: Need<'_>,
    ) -> Result<Principal> {
        self.auth
            .check(&self.store, &self.limits, client, &parts.headers, need)
            .await
    }

    /// Tells what depends on calendar (or group) `id` that it changed: its cached bodies go and
    /// the event streams wake. Another instance's change, once the mirror shows it.
    pub fn changed(&self, id: &str) {
        self.cache.forget(id);
        self.events.committed();
    }

    /// Runs a store change to calendar `id` on the blocking pool (commits wait for the disk),
    /// counting commits. A refusal of the store becomes its HTTP answer ([`Problem::of_core`]).
    /// Once the change has run, whatever its outcome, the calendar's cached bodies are
    /// forgotten and the event streams woken.
    pub async fn commit<T: Send + 'static>(
        &self,
        id: &str,
        what: &'static str,
        change: impl FnOnce(&Storage) -> std::result::Result<T, availability_core::Error>
            + Send
            + 'static,
    ) -> Result<T> {
        self.commit_or(id, what, change, |err| Problem::of_core(what, err))
            .await
    }

    /// [`App::commit_or`] for a write that through the database is awaited rather than run
    /// on a blocking thread (see [`Storage::book`]). There it runs as a task of its own, so
    /// that it ends, and the cache and event streams hear of it, even when the request is
    /// dropped while it waits. On the store file, whose writes block, it runs on the blocking
    /// pool as every other write does.
    pub async fn commit_awaited_or<T: Send + 'static, F>(
        &self,
        id: &str,
        what: &'static str,
        change: impl FnOnce(Storage) -> F + Send + 'static,
        refused: impl FnOnce(availability_core::Error) -> Problem,
    ) -> Result<T>
    where
        F: std::future::Future<Output = std::result::Result<T, availability_core::Error>>
            + Send
            + 'static,
    {
        if let Storage::File(_) = self.storage {
            let run = move |storage: &Storage| {
                tokio::runtime::Handle::current().block_on(change(storage.clone()))
            };
            return self.commit_or(id, what, run, refused).await;
        }
        let change = change(self.storage.clone());
        let written = self.written(id);
        let run = tokio::spawn(async move {
            let outcome = change.await;
            written();
            outcome
        });
        self.committed(what, run.await, refused)
    }

    /// [`App::commit`], with the store's refusals answered by `refused` (a route that can say
    /// more than [`Problem::of_core`] about some of them).
    pub async fn commit_or<T: Send + 'static>(
        &self,
        id: &str,
        what: &'static str,
        change: impl FnOnce(&Storage) -> std::result::Result<T, availability_core::Error>
            + Send
            + 'static,
        refused: impl FnOnce(availability_core::Error) -> Problem,
    ) -> Result<T> {
        let store = self.storage.clone();
        let written = self.written(id);
        let run = tokio::task::spawn_blocking(move || {
            let outcome = change(&store);
            // On the pool's thread, so that it happens even when the request is dropped
            // while it waits.
            written();
            outcome
        });
        self.committed(what, run.await, refused)
    }

    /// What a write to calendar `id` tells once it has ended, whatever its outcome (a change
    /// of two commits may have made the first before it was refused): the cache forgets the
    /// calendar's bodies (those of a version that is no longer current must go: a named
    /// group's answer is found without its members' versions), and the event streams look
    /// for new versions.
    fn written(&self, id: &str) -> impl FnOnce() + Send + 'static {
        let cache = Arc::clone(&self.cache);
        let events = self.events.clone();
        let id = id.to_owned();
        move || {
            cache.forget(&id);
            events.committed();
        }
    }

    /// A write's outcome, counted, its refusal answered by `refused`.
    fn committed<T>(
        &self,
        what: &'static str,
        run: std::result::Result<
            std::result::Result<T, availability_core::Error>,
            tokio::task::JoinError,
        >,
        refused: impl FnOnce(availability_core::Error) -> Problem,
    ) -> Result<T> {
        let outcome = match run {
            Ok(outcome) => outcome,
            Err(err) => {
                if err.is_panic() {
                    self.metrics.panics.fetch_add(1, Relaxed);
                }
                return Err(Problem::internal(what, err));
            }
        };
        match outcome {
            Ok(value) => {
                self.metrics.commits.fetch_add(1, Relaxed);
                Ok(value)
            }
            Err(err) => {
                if err.is_storage_full() {
                    self.metrics.storage_full.fetch_add(1, Relaxed);
                }
                Err(refused(err))
            }
        }
    }
}

fn no_calendar(id: &str) -> Problem {
    Problem::not_found(format!("no calendar {id:?}"))
}
