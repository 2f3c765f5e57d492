//! The PostgreSQL backend of the availability store: several stateless servers on one
//! database.
//!
//! The database is the source of truth. Each server keeps every calendar in memory, in a
//! [`Store::mirror`], and answers reads from it exactly as the embedded store does; a write is
//! one transaction that locks what it touches, reads it back, decides with the core's own
//! rules ([`availability_core::store::decide`]), writes what changed and a row of the change
//! log, and commits; the server that committed installs the new state before it answers.
//! Every server follows the change log (`follow`): a `NOTIFY` is its doorbell, the log is
//! what it reads, and a change that commits late is never skipped.
//!
//! The layout: `schema` (migrations under an advisory lock), `rows` (rows and the core's
//! values), `load` (everything, streamed, at start and after a reconnect), `write` (the
//! transactions), `group_write` (those of group booking types and group bookings: a group
//! and all its members in one), `persist` (their statements, pipelined), `follow` (the
//! change log), `webhooks` (the endpoints, the outbox written in each change's transaction and
//! handed to one server's sender at a time, the attempts), `fail` (the database's errors as the
//! store's),
//! `connect` (the pool, TLS and the settings), `import` (a store file's state copied into an
//! empty database: `availability-server migrate`) and `export` (a database read whole without
//! writing, for the way back; a database opened without a first start).

mod batch;
mod connect;
mod delta;
mod export;
mod fail;
mod follow;
mod group_write;
mod history;
mod import;
mod load;
mod persist;
mod rows;
mod schema;
mod webhooks;
mod write;

use std::sync::Arc;

use availability_core::store::{KeyHash, Store};
use availability_core::Error;
use deadpool_postgres::Pool;

pub use self::connect::Settings;
pub use self::export::{export, Exported};
pub use self::import::import;
pub use self::schema::VERSION as SCHEMA_VERSION;
pub use self::webhooks::{OutboxCounts, HOLD_MS};
pub use self::write::Booked;

/// Connections of a server's webhook sender, beside the pool of writes.
pub const SENDER_POOL: usize = 2;

/// Told the id of each calendar or group that another server changed, once the mirror shows
/// the change (a server forgets its cached answers and wakes its event streams).
pub type OnChange = Arc<dyn Fn(&str) + Send + Sync>;

/// A database of calendars, and this server's mirror of it.
pub struct Database {
    pool: Pool,
    /// The webhook sender's own connections ([`SENDER_POOL`]): its statements do not wait
    /// behind the writes', which can take every connection of `pool` under load.
    sender: Pool,
    store: Arc<Store>,
    settings: Settings,
    follower: Arc<follow::Follower>,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may hold a password.
        f.debug_struct("Database")
            .field("calendars", &self.store.len())
            .finish_non_exhaustive()
    }
}

/// What the first start of a database makes, under the schema lock so that exactly one
/// server makes it: asked only when the database has no admin key.
pub trait FirstStart: Send {
    /// The admin key to store (its hash), or `None` when the server has admin keys of its
    /// own configuration.
    fn admin_key(&mut self) -> Result<Option<KeyHash>, String>;
}

impl<F: FnMut() -> Result<Option<KeyHash>, String> + Send> FirstStart for F {
    fn admin_key(&mut self) -> Result<Option<KeyHash>, String> {
        self()
    }
}

impl Database {
    /// Connects, brings the schema up to date, makes the first start's admin key and
    /// `default` calendar when the database has none, loads every calendar into a new mirror,
    /// and starts following the change log; `on_change` hears of other servers' changes.
    ///
    /// # Errors
    ///
    /// A message for the operator naming the step and the database's own words: the URL
    /// refused, the database unreachable, a schema newer than this server knows, a row the
    /// store could not hold.
    pub async fn open(
        settings: Settings,
        on_change: OnChange,
        mut first: impl FirstStart,
    ) -> Result<Arc<Database>, String> {
        let config = settings.config()?;
        let tls = connect::tls(settings.ca_file.as_deref())?;
        let (mut client, heard) = connect::direct(&config, tls.clone())
            .await
            .map_err(|e| e.to_string())?;
        let pool = connect::pool(&settings, config.clone(), tls.clone())?;
        schema::migrate(&mut client, async |_, _| {
            // Under the schema lock, which this session holds: one instance at a time.
            let mut pooled = pool.get().await.map_err(|e| {
                Error::of_backend(
                    availability_core::BackendError::Unavailable,
                    format!("connecting to the database: {e}"),
                )
            })?;
            persist::first_start(&mut pooled, &mut first).await
        })
        .await
        .map_err(|e| e.to_string())?;
        Database::start(settings, on_change, (config, tls), (client, heard), pool).await
    }

    /// Loads every calendar over `client` into a new mirror and starts following the
    /// change log: the rest of an open, once the schema is known to be this build's.
    async fn start(
        settings: Settings,
        on_change: OnChange,
        (config, tls): (
            tokio_postgres::Config,
            tokio_postgres_rustls::MakeRustlsConnect,
        ),
        (mut client, heard): (
            tokio_postgres::Client,
            tokio::sync::mpsc::UnboundedReceiver<()>,
        ),
        pool: Pool,
    ) -> Result<Arc<Database>, String> {
        let store = Arc::new(
            Store::mirror(availability_core::store::Options {
                retention_seconds: settings.retention_seconds,
            })
            .map_err(|e| e.to_string())?,
        );
        let started = std::time::Instant::now();
        let position = load::everything(&mut client, &store, settings.retention_seconds)
            .await
            .map_err(|e| format!("loading the calendars: {e}"))?;
        tracing::info!(
            calendars = store.len(),
            ms = started.elapsed().as_millis() as u64,
            "loaded from the database"
        );
        let sender = connect::pool_of(&settings, config.clone(), tls.clone(), SENDER_POOL)?;
        let follower = follow::Follower::start(
            follow::Source {
                config,
                tls,
                retention_seconds: settings.retention_seconds,
                wait: settings.write_timeout,
            },
            Arc::clone(&store),
            on_change,
            (client, heard),
            position,
        );
        Ok(Arc::new(Database {
            pool,
            sender,
            store,
            settings,
            follower,
        }))
    }

    /// The mirror: every calendar, group, admin key and remembered answer, in memory.
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// Why this server cannot take writes now (the database is away, or the change log
    /// cannot be followed), or `None`.
    pub fn unready(&self) -> Option<String> {
        self.follower.trouble()
    }

    /// How far behind the change log this server's mirror is: the time since the oldest
    /// change it has not applied was committed, in milliseconds (0 when caught up).
    pub fn lag_ms(&self) -> u64 {
        self.follower.lag_ms()
    }
}

/// The store's error for a write that did not finish within its time.
fn timed_out(what: &str, settings: &Settings) -> Error {
    Error::of_backend(
        availability_core::BackendError::Unavailable,
        format!(
            "the database did not finish {what} within {} ms; it may be away (the write may \
             or may not have been made: read before trying again, or retry with the same \
             Idempotency-Key)",
            settings.write_timeout.as_millis()
        ),
    )
}
