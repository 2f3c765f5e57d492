//! Following the change log: every server applies every other server's commits to its
//! mirror.
//!
//! A `NOTIFY` in each write's transaction is only the doorbell (a poll every half second
//! stands in for a lost one). What a round reads is the log, from a snapshot: every change
//! whose transaction id is at least the `xmin` of the previous round's snapshot (the oldest
//! transaction still running then). A transaction that was running then, and commits later
//! than changes after it in the log, has an id at least that `xmin`, so its change is read
//! by a later round and never skipped; changes already applied are told apart by their
//! sequence number. After a lost connection the follower reconnects and loads everything
//! again, so nothing that happened while it was away is missed either.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use availability_core::store::Store;
use availability_core::Error;
use tokio::sync::{mpsc, watch, Notify};
use tokio_postgres::{Client, Config, IsolationLevel, Statement};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::connect;
use crate::delta::{Deltas, Logged, Touched};
use crate::fail::from_db;
use crate::load::{self, Position};
use crate::rows::{self, REMEMBERED};
use crate::OnChange;

/// How often the log is read when no notification comes.
const POLL: Duration = Duration::from_millis(500);
/// The least time from the start of a round that found changes to the next round's start:
/// under a stream of writes a round then reads the changes of several (each round is a
/// transaction and several statements, whatever it reads). After a round that found none
/// the next starts as soon as it is rung for, so a lone write is not held back.
const ROUND_GAP: Duration = Duration::from_millis(5);
/// How long changes are kept in the log: far longer than a connected server takes to read
/// them (one that was away loads everything again).
const KEEP_CHANGES: &str = "1 hour";
/// How often one server's follower prunes the log.
const PRUNE_EVERY: Duration = Duration::from_secs(300);

/// How long loading everything again may take before the connection is given up.
const RELOAD_WAIT: Duration = Duration::from_secs(120);

/// Where the follower connects.
pub(crate) struct Source {
    pub(crate) config: Config,
    pub(crate) tls: MakeRustlsConnect,
    pub(crate) retention_seconds: i64,
    /// How long a round (or connecting) may take: past it the database is taken to be away
    /// (its packets may be lost), the connection dropped and another made.
    pub(crate) wait: Duration,
}

/// `work`, given up as the database being away after `wait`.
async fn within<T>(
    wait: Duration,
    what: &str,
    work: impl std::future::Future<Output = Result<T, Error>>,
) -> Result<T, Error> {
    tokio::time::timeout(wait, work).await.unwrap_or_else(|_| {
        Err(Error::of_backend(
            availability_core::BackendError::Unavailable,
            format!(
                "the database did not answer within {} ms while {what}",
                wait.as_millis()
            ),
        ))
    })
}

/// The follower's state, shared with the writers that wait for it.
#[derive(Debug)]
pub(crate) struct Follower {
    wake: Notify,
    requested: AtomicU64,
    done: watch::Sender<u64>,
    trouble: Mutex<Option<String>>,
    lag_ms: AtomicU64,
}

impl Follower {
    /// Starts following from `position` over `connection` (the one the load used).
    pub(crate) fn start(
        source: Source,
        store: Arc<Store>,
        on_change: OnChange,
        connection: (Client, mpsc::UnboundedReceiver<()>),
        position: Position,
    ) -> Arc<Follower> {
        let follower = Arc::new(Follower {
            wake: Notify::new(),
            requested: AtomicU64::new(0),
            done: watch::Sender::new(0),
            trouble: Mutex::new(None),
            lag_ms: AtomicU64::new(0),
        });
        let running = Running {
            follower: Arc::clone(&follower),
            source,
            store,
            on_change,
        };
        tokio::spawn(running.run(Some(connection), Some(position)));
        follower
    }

    /// Why the log cannot be followed now, or `None`.
    pub(crate) fn trouble(&self) -> Option<String> {
        self.trouble.lock().ok().and_then(|t| t.clone())
    }

    fn set_trouble(&self, why: Option<String>) {
        if let Ok(mut trouble) = self.trouble.lock() {
            if why.is_some() && trouble.is_none() {
                tracing::warn!(
                    why = why.as_deref().unwrap_or(""),
                    "not following the database"
                );
            }
            *trouble = why;
        }
    }

    /// How long the oldest change the last round applied had been committed, in ms.
    pub(crate) fn lag_ms(&self) -> u64 {
        self.lag_ms.load(Ordering::Relaxed)
    }

    /// Waits until a round that began after this call has been applied: the mirror then
    /// shows everything committed before it (groups and admin keys are installed this way,
    /// in the log's order).
    pub(crate) async fn sync(&self, within: Duration) -> Result<(), Error> {
        let target = self.requested.fetch_add(1, Ordering::SeqCst) + 1;
        let mut done = self.done.subscribe();
        self.wake.notify_one();
        let caught_up = tokio::time::timeout(within, done.wait_for(|d| *d >= target))
            .await
            .is_ok_and(|waited| waited.is_ok());
        match caught_up {
            true => Ok(()),
            false => Err(Error::of_backend(
                availability_core::BackendError::Unavailable,
                "the change was made, but this server has not read it back from the database \
                 yet; it shows it once it has",
            )),
        }
    }
}

struct Running {
    follower: Arc<Follower>,
    source: Source,
    store: Arc<Store>,
    on_change: OnChange,
}

/// The changes from a transaction id on (`$1`, as text), in the order they were logged.
const READ_LOG: &str = "SELECT seq, xid::text, kind, id, key, incarnation, \
     (extract(epoch from clock_timestamp() - at) * 1000)::bigint, version, bookings, days \
     FROM changes WHERE xid >= $1::text::xid8 ORDER BY seq";

impl Running {
    async fn run(
        self,
        mut connection: Option<(Client, mpsc::UnboundedReceiver<()>)>,
        mut position: Option<Position>,
    ) {
        let mut pruned = Instant::now();
        loop {
            let (mut client, mut heard) = match connection.take() {
                Some(connection) => connection,
                None => match within(
                    self.source.wait,
                    "connecting",
                    connect::direct(&self.source.config, self.source.tls.clone()),
                )
                .await
                {
                    Ok(connection) => connection,
                    Err(e) => {
                        self.follower.set_trouble(Some(e.to_string()));
                        tokio::time::sleep(POLL).await;
                        continue;
                    }
                },
            };
            let listen = async {
                client
                    .batch_execute("LISTEN availability_changes")
                    .await
                    .map_err(|e| from_db("listening for changes", e))?;
                // Prepared once a connection: a round is then one round trip, and its plan is
                // made once (see `round`), not parsed and planned again every round.
                client
                    .prepare(READ_LOG)
                    .await
                    .map_err(|e| from_db("preparing the change log's read", e))
            };
            let read_log = match within(self.source.wait, "listening for changes", listen).await {
                Ok(statement) => statement,
                Err(e) => {
                    self.follower.set_trouble(Some(e.to_string()));
                    tokio::time::sleep(POLL).await;
                    continue;
                }
            };
            let mut at = match position.take() {
                Some(position) => position,
                None => match within(RELOAD_WAIT, "loading everything", self.reload(&mut client))
                    .await
                {
                    Ok(position) => position,
                    Err(e) => {
                        self.follower.set_trouble(Some(e.to_string()));
                        tokio::time::sleep(POLL).await;
                        continue;
                    }
                },
            };
            let mut seen = BTreeMap::new();
            // What the rounds prepare on this connection, kept with it.
            let kept = Mutex::new(HashMap::new());
            loop {
                let began = tokio::time::Instant::now();
                let target = self.follower.requested.load(Ordering::SeqCst);
                let round = self.round(&mut client, (&read_log, &kept), &mut at, &mut seen);
                let found = match within(self.source.wait, "reading the change log", round).await {
                    Ok(found) => found,
                    Err(e) => {
                        self.follower.set_trouble(Some(e.to_string()));
                        break;
                    }
                };
                self.follower.set_trouble(None);
                self.follower.done.send_modify(|d| *d = (*d).max(target));
                if pruned.elapsed() >= PRUNE_EVERY {
                    pruned = Instant::now();
                    let prune =
                        format!("DELETE FROM changes WHERE at < now() - interval '{KEEP_CHANGES}'");
                    if let Err(e) = client.execute(prune.as_str(), &[]).await {
                        tracing::warn!(error = %e, "pruning the change log");
                    }
                }
                tokio::select! {
                    rung = heard.recv() => if rung.is_none() {
                        self.follower.set_trouble(Some(String::from(
                            "the connection to the database was lost",
                        )));
                        break;
                    },
                    () = self.follower.wake.notified() => {}
                    () = tokio::time::sleep(POLL) => {}
                }
                if found {
                    tokio::time::sleep_until(began + ROUND_GAP).await;
                }
            }
        }
    }

    /// Loads everything again (after a reconnect), telling of every calendar that changed.
    async fn reload(&self, client: &mut Client) -> Result<Position, Error> {
        let before: BTreeMap<String, (u64, u64)> = {
            let mut states = BTreeMap::new();
            self.store.for_each(|c| {
                states.insert(c.id().to_owned(), c.state());
            });
            states
        };
        let position = load::everything(client, &self.store, self.source.retention_seconds).await?;
        let mut changed: BTreeSet<String> = BTreeSet::new();
        self.store.for_each(|c| {
            if before.get(c.id()) != Some(&c.state()) {
                changed.insert(c.id().to_owned());
            }
        });
        changed.extend(before.into_keys().filter(|id| !self.store.contains(id)));
        for id in &changed {
            (self.on_change)(id);
        }
        for group in self.store.groups() {
            (self.on_change)(group.id());
        }
        Ok(position)
    }

    /// Reads the changes not applied yet and applies them; whether there were any.
    async fn round(
        &self,
        client: &mut Client,
        (read_log, kept): (&Statement, &Mutex<HashMap<String, Statement>>),
        at: &mut Position,
        seen: &mut BTreeMap<u64, u64>,
    ) -> Result<bool, Error> {
        let tx = client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await
            .map_err(|e| from_db("reading the change log", e))?;
        // The log is read by `xid`, whose share of the rows the planner cannot estimate
        // without fresh statistics (a young or just-pruned log has none, and a busy one's
        // are always behind): it then scans the whole log, up to an hour of changes, every
        // round. The index on `xid` is always the way in, so this transaction uses it. Its
        // reads (the log's and the reloads', prepared once a connection) keep their generic
        // plans: planned for each call, as the planner would choose, the log's read cost
        // more to plan than to run (76 us a round against 58).
        let xmin = load::snapshot_xmin_after(
            &tx,
            "SET LOCAL enable_seqscan = off; SET LOCAL plan_cache_mode = force_generic_plan",
        )
        .await?;
        let rows = tx
            .query(read_log, &[&at.xmin.to_string()])
            .await
            .map_err(|e| from_db("reading the change log", e))?;
        let mut fresh = Vec::new();
        // Calendars read whole, and those whose changes may be applied from the rows they
        // name.
        let mut calendars = BTreeSet::new();
        let mut changed: BTreeMap<String, Vec<Logged>> = BTreeMap::new();
        let mut deleted: BTreeMap<String, u64> = BTreeMap::new();
        let mut groups = BTreeSet::new();
        let mut admin = false;
        let mut remembered = (Vec::new(), Vec::new());
        let mut lag = 0;
        for row in &rows {
            let bad = |e| rows::bad("a change", e);
            let seq: i64 = row.try_get(0).map_err(bad)?;
            if seen.contains_key(&(seq as u64)) {
                continue;
            }
            let xid: &str = row.try_get(1).map_err(bad)?;
            let xid: u64 = xid.parse().map_err(|_| rows::bad("a change", xid))?;
            fresh.push((seq as u64, xid));
            let kind: &str = row.try_get(2).map_err(bad)?;
            let id: String = row.try_get(3).map_err(bad)?;
            lag = lag.max(row.try_get::<_, Option<i64>>(6).map_err(bad)?.unwrap_or(0));
            match kind {
                "calendar" => {
                    // A change this mirror shows already (this instance's own write, most
                    // often) is not read again.
                    let incarnation: Option<i64> = row.try_get(5).map_err(bad)?;
                    let version: Option<i64> = row.try_get(7).map_err(bad)?;
                    let shown = match (incarnation, version) {
                        (Some(i), Some(v)) => self
                            .store
                            .get(&id)
                            .is_some_and(|c| c.state() >= (i.max(0) as u64, v.max(0) as u64)),
                        _ => false,
                    };
                    match (shown, incarnation, version) {
                        (true, _, _) => {}
                        (false, Some(i), Some(v)) => {
                            let touched = match (
                                row.try_get::<_, Option<Vec<i64>>>(8).map_err(bad)?,
                                row.try_get::<_, Option<Vec<chrono::NaiveDate>>>(9)
                                    .map_err(bad)?,
                            ) {
                                (Some(bookings), Some(days)) => Some(Touched { bookings, days }),
                                _ => None,
                            };
                            changed.entry(id).or_default().push(Logged {
                                incarnation: i.max(0) as u64,
                                version: v.max(0) as u64,
                                touched,
                            });
                        }
                        (false, _, _) => {
                            calendars.insert(id);
                        }
                    }
                }
                "deleted" => {
                    let incarnation: Option<i64> = row.try_get(5).map_err(bad)?;
                    let incarnation = incarnation.unwrap_or(0).max(0) as u64;
                    let entry = deleted.entry(id.clone()).or_insert(incarnation);
                    *entry = (*entry).max(incarnation);
                    calendars.insert(id);
                }
                "group" => {
                    groups.insert(id);
                }
                "admin_keys" => admin = true,
                "remembered" => {
                    let key: Option<String> = row.try_get(4).map_err(bad)?;
                    remembered.0.push(id);
                    remembered.1.push(key.unwrap_or_default());
                }
                other => return Err(rows::bad("a change", format!("of kind {other:?}"))),
            }
        }
        changed.retain(|id, _| !calendars.contains(id));
        let (deltas, whole) = Deltas::plan(&self.store, changed);
        calendars.extend(whole);
        let ids: Vec<&str> = calendars.iter().map(String::as_str).collect();
        let group_ids: Vec<&str> = groups.iter().map(String::as_str).collect();
        let cutoff = load::now_s() - self.source.retention_seconds;
        let reads = load::Kept {
            tx: &tx,
            statements: kept,
        };
        let whole = async {
            match ids.is_empty() {
                true => Ok(Vec::new()),
                false => {
                    load::calendars(&reads, Some(&ids), false, load::Dated::All(Some(cutoff))).await
                }
            }
        };
        let named = async {
            match deltas.is_empty() {
                true => Ok(None),
                false => deltas.read(&reads).await.map(Some),
            }
        };
        let (mut loaded, named) = futures_util::future::try_join(whole, named).await?;
        if let Some(named) = named {
            let (applied, again) = deltas.apply(named, cutoff)?;
            loaded.extend(applied);
            if !again.is_empty() {
                let again: Vec<&str> = again.iter().map(String::as_str).collect();
                loaded.extend(
                    load::calendars(&reads, Some(&again), false, load::Dated::All(Some(cutoff)))
                        .await?,
                );
            }
        }
        let loaded_groups = if group_ids.is_empty() {
            BTreeMap::new()
        } else {
            load::groups(&reads, Some(&group_ids), false).await?
        };
        let admin_keys = if admin {
            Some(load::admin_keys(&reads, false).await?)
        } else {
            None
        };
        let answers = if remembered.0.is_empty() {
            Vec::new()
        } else {
            tx.query(
                &format!(
                    "SELECT {REMEMBERED} FROM remembered WHERE (principal, key) IN \
                     (SELECT * FROM unnest($1::text[], $2::text[]))"
                ),
                &[&remembered.0, &remembered.1],
            )
            .await
            .map_err(|e| from_db("reading remembered answers", e))?
        };
        tx.commit()
            .await
            .map_err(|e| from_db("reading the change log", e))?;

        let mut present = BTreeSet::new();
        for calendar in loaded {
            present.insert(calendar.id().to_owned());
            let id = calendar.shared_id();
            if self.store.install(calendar) {
                (self.on_change)(&id);
            }
        }
        for (id, incarnation) in deleted {
            if !present.contains(&id) && self.store.uninstall(&id, incarnation) {
                (self.on_change)(&id);
            }
        }
        for (id, group) in loaded_groups {
            self.store.install_group(&id, group);
            (self.on_change)(&id);
        }
        if let Some(keys) = admin_keys {
            self.store.install_admin_keys(keys);
        }
        for row in &answers {
            self.store.install_remembered(rows::remembered(row)?);
        }
        let found = !fresh.is_empty();
        seen.extend(fresh);
        seen.retain(|_, xid| *xid >= xmin);
        at.xmin = xmin;
        self.follower
            .lag_ms
            .store(lag.max(0) as u64, Ordering::Relaxed);
        Ok(found)
    }
}
