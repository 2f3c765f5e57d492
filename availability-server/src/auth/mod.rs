//! Keys: generation, hashing, and checking a request's bearer token.
//!
//! Finding a key is O(1): admin keys are few and checked directly, and an index maps every
//! calendar key id to its calendar. The index is a hint kept up to date by the routes that
//! add or remove keys; the decision always reads the calendar's current keys from the store,
//! so a stale hint can only turn a 403 into a 401, never let a revoked key in.
//!
//! bcrypt is slow on purpose, so it runs on tokio's blocking pool, never on the async workers,
//! and at most `bcrypt_concurrency` at once. A token that verified is remembered for a bounded
//! time under its id, as an HMAC-SHA256 tag of the token (the HMAC key is drawn from the OS at
//! start) together with the stored hash it matched; the memo only answers while that same
//! hash is still stored, so rotating or revoking a key ends it at once. Tags and hashes are
//! compared in constant time. Key checks that miss the memo are charged to the client's
//! `auth` rate limit before bcrypt runs, and those that would run bcrypt to their key id's
//! `auth-key` limit as well, so wrong keys cannot burn the CPU, from one client or from many
//! that know one key id. A client holds at most `bcrypt_per_client` of the bcrypt slots,
//! and a check waits at most `bcrypt_wait` for one (then 503): verified keys never wait here,
//! since the memo answers them before any of it.
//!
//! - `key`: the key format: generation, checksum, key ids, the bearer token of a request.
//! - `principal`: who a key belongs to, what a route needs, and whether the one covers the
//!   other.

mod key;
mod principal;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use http::HeaderMap;
use ring::hmac;
use subtle::ConstantTimeEq;
use tokio::sync::{Notify, Semaphore};
use tokio::time::Instant;

use crate::limit::Limits;
use crate::store::{Calendar, KeyHash, Store};
use crate::wire::Problem;

pub use self::key::{
    assemble, generate, key_id, request_key_id, request_token, NewKey, KEY_LEN, PREFIX,
};
use self::key::{bearer, SHAPE};
use self::principal::authorize;
pub use self::principal::{Need, Principal};

/// How many verified tokens to remember.
const MEMO_LIMIT: usize = 10_000;

/// The bcrypt hash of `token` at `cost` (blocking: call it off the async workers).
///
/// # Errors
///
/// When bcrypt fails (an invalid cost).
pub fn hash_blocking(token: &str, cost: u32) -> Result<String, bcrypt::BcryptError> {
    bcrypt::hash(token, cost)
}

/// Settings of [`Auth`].
#[derive(Debug, Clone)]
pub struct AuthSettings {
    /// bcrypt cost of new hashes.
    pub cost: u32,
    /// Admin key hashes from the configuration, beside those in the store.
    pub configured_admin: Vec<KeyHash>,
    /// bcrypt computations at once (verifications and new hashes).
    pub bcrypt_concurrency: usize,
    /// How long a verified token is remembered.
    pub memo_ttl: Duration,
    /// How long a key check may wait for a bcrypt slot before it is answered 503.
    pub bcrypt_wait: Duration,
    /// bcrypt slots one client may hold or wait for at once.
    pub bcrypt_per_client: usize,
}

impl Default for AuthSettings {
    fn default() -> AuthSettings {
        AuthSettings {
            cost: 12,
            configured_admin: Vec::new(),
            bcrypt_concurrency: 2,
            memo_ttl: Duration::from_secs(300),
            bcrypt_wait: Duration::from_secs(2),
            bcrypt_per_client: 1,
        }
    }
}

/// A remembered verification.
#[derive(Debug)]
struct Memo {
    /// HMAC-SHA256 of the token under the process's key.
    tag: [u8; 32],
    /// The stored bcrypt hash the token matched.
    stored: String,
    /// After this, bcrypt runs again.
    expires: Instant,
}

/// The index of calendar keys: which calendar has a key of this id. A request with another
/// calendar's key (or a calendar's key where an admin key is needed) is told whose it is: a
/// 403, not a 401.
///
/// At start it is built from every calendar on a thread of its own, while the server
/// already answers (a second at a million calendars): changes meanwhile are indexed as
/// usual, into the partial index, and win over what the build read. A key check that finds
/// nothing before the build is complete waits for it.
#[derive(Debug, Default)]
struct Owners {
    /// key id -> the id of the calendar that has it. An entry may outlive its key (a change
    /// indexed late, by a request that lost a race): whoever finds it checks the calendar.
    by_key: HashMap<Box<str>, Arc<str>, foldhash::fast::RandomState>,
    /// Whether every calendar is in `by_key`, not only those changed since the start.
    complete: bool,
}

impl Owners {
    /// The keys of every calendar of `store`.
    fn of(store: &Store) -> HashMap<Box<str>, Arc<str>, foldhash::fast::RandomState> {
        let mut owners = Owners::default();
        // About one key per calendar: room made once, not rehashed as the index grows.
        owners.by_key.reserve(store.len());
        store.for_each(|calendar| owners.set(calendar));
        owners.by_key
    }

    /// Completes the index with `built` ([`Owners::of`]), which was read while changes went
    /// on: what those changes indexed is newer, and stays. (What they forgot may come back
    /// from `built`: a stale entry, which the finder checks.)
    fn complete(&mut self, mut built: HashMap<Box<str>, Arc<str>, foldhash::fast::RandomState>) {
        built.extend(self.by_key.drain());
        self.by_key = built;
        self.complete = true;
    }

    fn set(&mut self, calendar: &Calendar) {
        // Most calendars of a large store may have no key: they cost the index nothing.
        for key in calendar.keys() {
            self.by_key
                .insert(Box::from(key.id()), calendar.shared_id());
        }
    }

    /// Forgets key `key_id` if the index has it as calendar `calendar_id`'s.
    fn forget(&mut self, key_id: &str, calendar_id: &str) {
        if self
            .by_key
            .get(key_id)
            .is_some_and(|owner| &**owner == calendar_id)
        {
            self.by_key.remove(key_id);
        }
    }
}

/// Checks keys, with the memo of verified tokens and the index of key owners.
#[derive(Debug)]
pub struct Auth {
    cost: u32,
    /// Admin keys from the configuration, by id.
    configured_admin: HashMap<String, String>,
    /// The HMAC key of the memo, drawn at start.
    memo_key: hmac::Key,
    memo_ttl: Duration,
    /// key id -> what verified under it.
    memo: Mutex<HashMap<String, Memo>>,
    /// Which calendar each calendar key belongs to; shared with the thread that builds it.
    owners: Arc<RwLock<Owners>>,
    /// Woken when the index of owners is complete.
    indexed: Arc<tokio::sync::Notify>,
    /// At most this many bcrypt computations at once.
    bcrypt: Semaphore,
    /// How long a key check waits for a bcrypt slot.
    bcrypt_wait: Duration,
    /// Slots one client may hold or wait for.
    bcrypt_per_client: usize,
    /// Key checks holding or waiting for a bcrypt slot, by client.
    bcrypt_clients: Mutex<HashMap<IpAddr, usize>>,
    /// bcrypt verifications started (a test counts them to prove the limiter runs first).
    pub bcrypt_runs: AtomicU64,
    /// Verifications under way, by the HMAC tag of their token: a request with the same token
    /// waits for that result instead of running bcrypt (and paying the key-check budget)
    /// again, so a client that opens many connections with one key is checked once, and
    /// many requests with one wrong token cost one bcrypt run.
    in_flight: Mutex<HashMap<[u8; 32], Arc<Pending>>>,
}

/// A verification under way, as those who wait for it see it.
#[derive(Debug, Default)]
struct Pending {
    /// Woken when it ends.
    done: Notify,
    /// Its 401, when it refused the token: the same token gets the same answer.
    refused: Mutex<Option<Problem>>,
}

/// Ends a verification under way: forgets it and wakes whoever waits for it, also when the
/// verifying request is cancelled.
struct Flight<'a> {
    auth: &'a Auth,
    tag: [u8; 32],
    pending: Arc<Pending>,
}

impl Drop for Flight<'_> {
    fn drop(&mut self) {
        self.auth
            .in_flight
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.tag);
        self.pending.done.notify_waiters();
    }
}

/// A client's share of the bcrypt pool, held while its key check waits for or runs bcrypt.
struct Share<'a> {
    auth: &'a Auth,
    client: IpAddr,
}

impl Drop for Share<'_> {
    fn drop(&mut self) {
        let mut clients = self
            .auth
            .bcrypt_clients
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(n) = clients.get_mut(&self.client) {
            *n -= 1;
            if *n == 0 {
                clients.remove(&self.client);
            }
        }
    }
}

impl Auth {
    /// Key checks with these settings.
    ///
    /// # Errors
    ///
    /// When the operating system's RNG cannot give the memo's key.
    pub fn new(settings: AuthSettings) -> Result<Auth, String> {
        let rng = ring::rand::SystemRandom::new();
        let memo_key = hmac::Key::generate(hmac::HMAC_SHA256, &rng)
            .map_err(|_| "the random number generator failed".to_owned())?;
        Ok(Auth {
            cost: settings.cost,
            configured_admin: settings
                .configured_admin
                .into_iter()
                .map(|k| (k.id().to_owned(), k.hash().to_owned()))
                .collect(),
            memo_key,
            memo_ttl: settings.memo_ttl,
            memo: Mutex::new(HashMap::new()),
            owners: Arc::default(),
            indexed: Arc::default(),
            bcrypt: Semaphore::new(settings.bcrypt_concurrency.max(1)),
            bcrypt_wait: settings.bcrypt_wait,
            bcrypt_per_client: settings.bcrypt_per_client.max(1),
            bcrypt_clients: Mutex::new(HashMap::new()),
            bcrypt_runs: AtomicU64::new(0),
            in_flight: Mutex::new(HashMap::new()),
        })
    }

    /// The bcrypt cost for new hashes.
    pub fn cost(&self) -> u32 {
        self.cost
    }

    /// Whether admin key `id` is in the configuration (not the store): the admin key routes
    /// cannot remove it.
    pub fn is_configured_admin(&self, id: &str) -> bool {
        self.configured_admin.contains_key(id)
    }

    /// The ids of the admin keys in the configuration, sorted.
    pub fn configured_admin_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.configured_admin.keys().cloned().collect();
        ids.sort_unstable();
        ids
    }

    /// Whether any admin key exists, in the configuration or the store.
    pub fn has_admin_key(&self, store: &Store) -> bool {
        !self.configured_admin.is_empty() || !store.admin_keys().is_empty()
    }

    /// Builds the index of key owners from every calendar, on this thread.
    pub fn index_all(&self, store: &Store) {
        let built = Owners::of(store);
        complete_index(&self.owners, &self.indexed, built);
    }

    /// Builds the index of key owners from every calendar on a thread of its own, while
    /// requests are answered ([`Owners`]); on this thread if no thread can be had.
    pub fn index_all_in_background(&self, store: Arc<Store>) {
        let (owners, indexed) = (Arc::clone(&self.owners), Arc::clone(&self.indexed));
        let spawned = std::thread::Builder::new()
            .name(String::from("key-index"))
            .spawn({
                let store = Arc::clone(&store);
                move || {
                    let built = Owners::of(&store);
                    complete_index(&owners, &indexed, built);
                }
            });
        if spawned.is_err() {
            self.index_all(&store);
        }
    }

    /// Whether the index of key owners holds every calendar.
    pub fn is_indexed(&self) -> bool {
        self.owners
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .complete
    }

    /// Returns once the index of key owners holds every calendar.
    async fn until_indexed(&self) {
        loop {
            let notified = self.indexed.notified();
            tokio::pin!(notified);
            // Registered before the check: a completion between the two still wakes it.
            notified.as_mut().enable();
            if self.is_indexed() {
                return;
            }
            notified.await;
        }
    }

    /// Records the keys of a calendar after a change that may have added or removed some.
    pub fn index(&self, calendar: &Calendar) {
        self.owners
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .set(calendar);
    }

    /// Forgets the keys of a deleted calendar (as it was before the deletion).
    pub fn unindex(&self, calendar: &Calendar) {
        let mut owners = self.owners.write().unwrap_or_else(|e| e.into_inner());
        for key in calendar.keys() {
            owners.forget(key.id(), calendar.id());
        }
    }

    /// Forgets key `key_id` of calendar `calendar_id`, revoked.
    pub fn unindex_key(&self, calendar_id: &str, key_id: &str) {
        self.owners
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .forget(key_id, calendar_id);
    }

    /// Hashes a new token on the blocking pool.
    ///
    /// # Errors
    ///
    /// 503 when no bcrypt slot frees within `bcrypt_wait`; 500 when bcrypt or the pool fails.
    pub async fn hash(&self, token: String) -> Result<String, Problem> {
        let cost = self.cost;
        let _permit = self.slot("hashing a new key").await?;
        match tokio::task::spawn_blocking(move || hash_blocking(&token, cost)).await {
            Ok(Ok(hash)) => Ok(hash),
            Ok(Err(err)) => Err(Problem::internal("hashing a new key", err)),
            Err(err) => Err(Problem::internal("hashing a new key", err)),
        }
    }

    /// A bcrypt slot, waited for at most `bcrypt_wait` (the runtime needs its timers).
    async fn slot(&self, doing: &str) -> Result<tokio::sync::SemaphorePermit<'_>, Problem> {
        match tokio::time::timeout(self.bcrypt_wait, self.bcrypt.acquire()).await {
            Ok(Ok(permit)) => Ok(permit),
            Ok(Err(err)) => Err(Problem::internal(doing, err)),
            Err(_) => Err(Problem::unavailable(
                "every key-check slot is busy; retry in a moment",
                ceil_secs(self.bcrypt_wait),
            )),
        }
    }

    /// A share of the bcrypt pool for `client`, or 503 when it holds as many as it may.
    fn share(&self, client: IpAddr) -> Result<Share<'_>, Problem> {
        let mut clients = self
            .bcrypt_clients
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let n = clients.entry(client).or_insert(0);
        if *n >= self.bcrypt_per_client {
            return Err(Problem::unavailable(
                "this client has as many key checks under way as it may; retry when one \
                 has finished",
                1,
            ));
        }
        *n += 1;
        Ok(Share { auth: self, client })
    }

    /// The id (as a number) and owner of the request's key when the memo knows it as
    /// verified: what a write is charged to. No bcrypt, no await.
    pub fn remembered_key(&self, store: &Store, headers: &HeaderMap) -> Option<(u64, Principal)> {
        let token = bearer(headers).ok()?;
        let principal = self.remembered(store, token, Need::Admin)?;
        let id = u64::from_str_radix(key_id(token)?, 16).ok()?;
        Some((id, principal))
    }

    /// Checks the request's bearer token against what `need` asks for. Checks the memo can
    /// not answer are charged to `client` on the `auth` limit first, and, once the key is
    /// found, to its id on the `auth-key` limit: an empty budget is 429, and bcrypt does not
    /// run.
    ///
    /// # Errors
    ///
    /// 401 with no key, a malformed or unknown key, or a wrong secret; 403 for a valid key
    /// that does not cover `need`; 429 when the client's or the key id's budget is spent;
    /// 503 when the client already holds its share of the bcrypt slots, or none frees in
    /// time.
    pub async fn check(
        &self,
        store: &Store,
        limits: &Limits,
        client: IpAddr,
        headers: &HeaderMap,
        need: Need<'_>,
    ) -> Result<Principal, Problem> {
        let token = bearer(headers)?;
        if let Some(principal) = self.remembered(store, token, need) {
            return authorize(principal, need);
        }
        // One verification per token at a time: a second request with the same token waits
        // for the first one's result, then reads the memo like any later request, or gets
        // the same 401.
        let mut tag = [0u8; 32];
        tag.copy_from_slice(hmac::sign(&self.memo_key, token.as_bytes()).as_ref());
        let (pending, first) = {
            let mut in_flight = self.in_flight.lock().unwrap_or_else(|e| e.into_inner());
            match in_flight.get(&tag) {
                Some(pending) => (Arc::clone(pending), false),
                None => {
                    let pending = Arc::new(Pending::default());
                    in_flight.insert(tag, Arc::clone(&pending));
                    (pending, true)
                }
            }
        };
        if !first {
            let notified = pending.done.notified();
            // The first verification may have ended between the lookup and now.
            let still = self
                .in_flight
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(&tag)
                .is_some_and(|current| Arc::ptr_eq(current, &pending));
            if still {
                notified.await;
            }
            if let Some(principal) = self.remembered(store, token, need) {
                return authorize(principal, need);
            }
            let refused = pending
                .refused
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone();
            if let Some(problem) = refused {
                return Err(problem);
            }
            // It was cancelled, or refused for its own client (a spent budget, a busy pool):
            // this request decides for itself, as a verification of its own.
            return Box::pin(self.check(store, limits, client, headers, need)).await;
        }
        let flight = Flight {
            auth: self,
            tag,
            pending,
        };
        let verdict = limits.auth.check(&client);
        if !verdict.allowed {
            return Err(Problem::too_many_requests(
                "too many key checks from this client; wait before trying again",
                verdict,
            ));
        }
        let principal = self
            .verify_slow(store, limits, client, token, need)
            .await
            .map_err(|problem| {
                if problem.status() == http::StatusCode::UNAUTHORIZED {
                    *flight
                        .pending
                        .refused
                        .lock()
                        .unwrap_or_else(|e| e.into_inner()) = Some(problem.clone());
                }
                problem.or_limit(verdict)
            })?;
        authorize(principal, need)
    }

    /// The principal of `token` when the memo knows it as verified: no bcrypt, no await.
    /// `None` means the slow path must decide (which may well refuse).
    pub fn remembered(&self, store: &Store, token: &str, need: Need<'_>) -> Option<Principal> {
        let id = key_id(token)?;
        let (principal, stored) = self.find(store, id, need)?;
        let tag = hmac::sign(&self.memo_key, token.as_bytes());
        let memo = self.memo.lock().unwrap_or_else(|e| e.into_inner());
        let entry = memo.get(id)?;
        let same = entry.tag.ct_eq(tag.as_ref()) & entry.stored.as_bytes().ct_eq(stored.as_bytes());
        (bool::from(same) && Instant::now() < entry.expires).then_some(principal)
    }

    /// Parses, finds and verifies `token` with bcrypt; remembers it when it matches. The
    /// key id's budget is charged before bcrypt, and bcrypt runs within `client`'s share.
    async fn verify_slow(
        &self,
        store: &Store,
        limits: &Limits,
        client: IpAddr,
        token: &str,
        need: Need<'_>,
    ) -> Result<Principal, Problem> {
        let id = key_id(token).ok_or_else(|| {
            Problem::unauthorized(format!(
                "the key is malformed or mistyped (its checksum does not match): {SHAPE}"
            ))
        })?;
        let found = match self.find(store, id, need) {
            // Another calendar's key, perhaps, which the index does not hold yet.
            None if !self.is_indexed() => {
                self.until_indexed().await;
                self.find(store, id, need)
            }
            found => found,
        };
        let (principal, stored) = found.ok_or_else(|| {
            Problem::unauthorized("no such key: it may have been revoked, or mistyped")
        })?;
        let number = u64::from_str_radix(id, 16).unwrap_or(u64::MAX);
        let verdict = limits.auth_key.check(&number);
        if !verdict.allowed {
            return Err(Problem::too_many_requests(
                "too many key checks for this key id; wait before trying again",
                verdict,
            ));
        }
        let _share = self.share(client)?;
        let _permit = self.slot("checking a key").await?;
        self.bcrypt_runs.fetch_add(1, Relaxed);
        let (owned_token, owned_hash) = (token.to_owned(), stored.clone());
        let ok = tokio::task::spawn_blocking(move || {
            bcrypt::verify(owned_token, &owned_hash).unwrap_or(false)
        })
        .await
        .map_err(|err| Problem::internal("checking a key", err))?;
        if !ok {
            return Err(Problem::unauthorized(
                "wrong key: the secret does not match",
            ));
        }
        let tag = hmac::sign(&self.memo_key, token.as_bytes());
        let mut entry = Memo {
            tag: [0; 32],
            stored,
            expires: Instant::now() + self.memo_ttl,
        };
        entry.tag.copy_from_slice(tag.as_ref());
        let mut memo = self.memo.lock().unwrap_or_else(|e| e.into_inner());
        if memo.len() >= MEMO_LIMIT {
            let now = Instant::now();
            memo.retain(|_, m| m.expires > now);
            if memo.len() >= MEMO_LIMIT {
                memo.clear();
            }
        }
        memo.insert(id.to_owned(), entry);
        Ok(principal)
    }

    /// Whose key has this id, and its current stored hash: the calendar the request is
    /// about, the admin keys, then the calendar the index names. Each step is a map lookup
    /// or a scan of one calendar's few keys.
    fn find(&self, store: &Store, id: &str, need: Need<'_>) -> Option<(Principal, String)> {
        let in_calendar = |calendar_id: &str| {
            store.get(calendar_id).and_then(|calendar| {
                calendar.key(id).map(|k| {
                    (
                        Principal::Calendar {
                            id: calendar.id().to_owned(),
                            key_id: k.id().to_owned(),
                            scope: k.scope(),
                        },
                        k.hash().to_owned(),
                    )
                })
            })
        };
        if let Need::Calendar(target) | Need::Book(target) = need {
            if let Some(found) = in_calendar(target) {
                return Some(found);
            }
        }
        if let Some(hash) = self.configured_admin.get(id) {
            let principal = Principal::Admin {
                key_id: id.to_owned(),
                stored: false,
            };
            return Some((principal, hash.clone()));
        }
        if let Some(k) = store.admin_key(id) {
            let principal = Principal::Admin {
                key_id: id.to_owned(),
                stored: true,
            };
            return Some((principal, k.hash().to_owned()));
        }
        let owner = self
            .owners
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .by_key
            .get(id)
            .map(Arc::clone)?;
        in_calendar(&owner)
    }
}

/// Completes `owners` with `built` and wakes the key checks waiting for it.
fn complete_index(
    owners: &RwLock<Owners>,
    indexed: &tokio::sync::Notify,
    built: HashMap<Box<str>, Arc<str>, foldhash::fast::RandomState>,
) {
    owners
        .write()
        .unwrap_or_else(|e| e.into_inner())
        .complete(built);
    indexed.notify_waiters();
}

fn ceil_secs(d: Duration) -> u64 {
    (d.as_secs() + u64::from(d.subsec_nanos() > 0)).max(1)
}

#[cfg(test)]
mod tests;
