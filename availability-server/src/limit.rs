//! Rate limits: reads generous, writes tighter, key checks much tighter; and who pays.
//!
//! Each limit is a GCRA (generic cell rate algorithm) limiter: per payer it keeps one number,
//! the theoretical arrival time (TAT) of the next request at the sustained rate. A request at
//! `now` is allowed when `TAT - now` is within the burst tolerance, and moves the TAT one
//! interval on. A payer whose TAT is in the past has its whole burst again.
//!
//! Unauthenticated requests (and those whose key is not yet verified) pay by client, as
//! `wire::client` finds it (an address, or an IPv6 /64, read through trusted proxies).
//! Writes with a key the memo of verified keys knows pay by key (see `routes::pipeline`).
//!
//! Memory stays bounded: a limiter keeps at most about `max_clients` payers. When one of its
//! shards is full, it first forgets the payers whose budget is full again (their state is
//! the same as a fresh one), then, if that is not enough, the ones closest to a full budget.
//! A payer forgotten that way had spent the least of it, so it gains the least by starting
//! over, while the payers that spent the most are kept: many new addresses cannot refill
//! everyone's budget.

use std::collections::hash_map::RandomState;
use std::collections::HashMap;

use std::hash::{BuildHasher, Hash};
use std::net::IpAddr;

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::Instant;

use http::header::{HeaderName, HeaderValue};
use http::HeaderMap;

use crate::wire::client::Proxy;

/// The header fields of the limits (draft-ietf-httpapi-ratelimit-headers), checked once, at
/// compile time.
const RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
/// The field that says what is left of the limit a request was charged to.
pub const RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");

/// Shards of a limiter's table, each behind its own lock.
const SHARDS: usize = 16;

/// The rate of one limit: `per_minute` requests a minute on average, `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Sustained requests per minute (at least 1).
    pub per_minute: u32,
    /// Requests allowed at once after a quiet spell (at least 1).
    pub burst: u32,
}

/// The answer of a limiter to one request.
#[derive(Debug, Clone)]
pub struct Verdict {
    /// The limit that answered.
    pub limit: &'static str,
    /// `RateLimit-Policy`: the limit's name, quota and window.
    pub policy: HeaderValue,
    /// Requests left right now (0 when refused).
    pub remaining: u32,
    /// Seconds until the budget is full again (allowed) or until the next request is
    /// allowed (refused): `t` of the `RateLimit` field, and `Retry-After` when refused.
    pub reset: u64,
    /// Whether the request may go on.
    pub allowed: bool,
}

impl Verdict {
    /// The `RateLimit` field: `"<name>";r=<remaining>;t=<seconds>`. Every answer carries
    /// one, so it is written without the formatting machinery and handed over without a copy.
    /// Its remaining count changes from one answer to the next, so HTTP/2 sends it never
    /// indexed, as the request id (`wire::request_id::of` says why).
    pub fn state(&self) -> HeaderValue {
        let mut text = String::with_capacity(self.limit.len() + 32);
        text.push('"');
        text.push_str(self.limit);
        text.push_str("\";r=");
        text.push_str(itoa::Buffer::new().format(self.remaining));
        text.push_str(";t=");
        text.push_str(itoa::Buffer::new().format(self.reset));
        let mut value = HeaderValue::try_from(text).unwrap_or(HeaderValue::from_static(""));
        value.set_sensitive(true);
        value
    }

    /// Adds `RateLimit-Policy` and `RateLimit` (and `Retry-After` when refused).
    pub fn write_headers(&self, headers: &mut HeaderMap) {
        headers.insert(RATELIMIT_POLICY, self.policy.clone());
        headers.insert(RATELIMIT, self.state());
        if !self.allowed {
            headers.insert(http::header::RETRY_AFTER, HeaderValue::from(self.reset));
        }
    }
}

/// One named limit, keyed by payer: a client address (the default) or a key.
#[derive(Debug)]
pub struct Limit<K = IpAddr> {
    name: &'static str,
    /// Nanoseconds between requests at the sustained rate.
    interval: u64,
    /// How far ahead of now a TAT may be and the request still pass: `interval * (burst - 1)`.
    tolerance: u64,
    burst: u32,
    policy: HeaderValue,
    /// Payers each shard keeps.
    per_shard: usize,
    hasher: RandomState,
    /// Per payer, its TAT in nanoseconds after `epoch`.
    shards: [Mutex<HashMap<K, u64>>; SHARDS],
    epoch: Instant,
    /// Payers forgotten before their budget was full again, to keep memory bounded.
    pub evicted: AtomicU64,
}

fn ceil_secs(nanos: u64) -> u64 {
    nanos.div_ceil(1_000_000_000)
}

impl<K: Hash + Eq + Clone> Limit<K> {
    /// A limit called `name` (in the response fields) at `rate`, remembering at most about
    /// `max_clients` payers.
    pub fn new(name: &'static str, rate: Rate, max_clients: usize) -> Limit<K> {
        let per_minute = u64::from(rate.per_minute.max(1));
        let burst = rate.burst.max(1);
        let interval = (60_000_000_000 / per_minute).max(1);
        let window = ceil_secs(interval.saturating_mul(u64::from(burst)));
        let policy = HeaderValue::from_str(&format!("\"{name}\";q={burst};w={window}"))
            .unwrap_or(HeaderValue::from_static(""));
        Limit {
            name,
            interval,
            tolerance: interval.saturating_mul(u64::from(burst - 1)),
            burst,
            policy,
            per_shard: max_clients.max(1).div_ceil(SHARDS),
            hasher: RandomState::new(),
            shards: std::array::from_fn(|_| Mutex::new(HashMap::new())),
            epoch: Instant::now(),
            evicted: AtomicU64::new(0),
        }
    }

    fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// Takes one request from `payer`'s budget.
    pub fn check(&self, payer: &K) -> Verdict {
        self.check_at(payer, self.now())
    }

    /// [`Limit::check`] at `now` nanoseconds after the limiter's start.
    fn check_at(&self, payer: &K, now: u64) -> Verdict {
        let shard = &self.shards[self.hasher.hash_one(payer) as usize % SHARDS];
        let mut table = shard.lock().unwrap_or_else(|e| e.into_inner());
        let next = match table.get_mut(payer) {
            Some(stored) => {
                let tat = (*stored).max(now);
                if tat - now > self.tolerance {
                    return Verdict {
                        limit: self.name,
                        policy: self.policy.clone(),
                        remaining: 0,
                        reset: ceil_secs(tat - now - self.tolerance).max(1),
                        allowed: false,
                    };
                }
                *stored = tat.saturating_add(self.interval);
                *stored
            }
            // A newcomer has its whole burst: the request passes.
            None => {
                if table.len() >= self.per_shard {
                    self.make_room(&mut table, now);
                }
                let next = now.saturating_add(self.interval);
                table.insert(payer.clone(), next);
                next
            }
        };
        drop(table);
        // What is left: the tolerance not yet used, in whole intervals.
        let left = now
            .saturating_add(self.tolerance)
            .saturating_add(self.interval)
            .saturating_sub(next)
            / self.interval;
        Verdict {
            limit: self.name,
            policy: self.policy.clone(),
            remaining: u32::try_from(left).unwrap_or(self.burst).min(self.burst),
            reset: ceil_secs(next - now),
            allowed: true,
        }
    }

    /// Frees an eighth of a full shard (so the work is shared by many insertions): first
    /// the payers whose budget is full again, then those closest to it.
    fn make_room(&self, table: &mut HashMap<K, u64>, now: u64) {
        table.retain(|_, tat| *tat > now);
        let keep = self.per_shard - self.per_shard.div_ceil(8);
        if table.len() <= keep {
            return;
        }
        let mut tats: Vec<u64> = table.values().copied().collect();
        let cut = tats.len() - keep;
        let (_, threshold, _) = tats.select_nth_unstable(cut - 1);
        let threshold = *threshold;
        let before = table.len();
        table.retain(|_, tat| *tat > threshold);
        self.evicted
            .fetch_add((before - table.len()) as u64, Relaxed);
    }

    /// Payers remembered right now.
    pub fn clients(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(|e| e.into_inner()).len())
            .sum()
    }

    /// What `/metrics` shows of the limiter: the payers remembered, and how many were
    /// forgotten to make room so far.
    pub fn figures(&self) -> (usize, u64) {
        (self.clients(), self.evicted.load(Relaxed))
    }
}

/// The limits and how to find the client.
#[derive(Debug)]
pub struct Limits {
    /// GET and HEAD, per client.
    pub read: Limit,
    /// Every other method, per client, unless a remembered key pays.
    pub write: Limit,
    /// Writes with a remembered admin key, per key.
    pub admin: Limit<u64>,
    /// Writes with a remembered calendar key, per key.
    pub key: Limit<u64>,
    /// Key checks that are not answered from the memo of verified keys, per client: each one
    /// costs a cell before bcrypt may run, and so does every refused key.
    pub auth: Limit,
    /// Key checks that would run bcrypt, per key id: however many clients bring secrets for
    /// one key, bcrypt runs at this rate for it.
    pub auth_key: Limit<u64>,
    /// The client address behind a proxy.
    pub proxy: Proxy,
}

/// The rates of the limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rates {
    /// GET and HEAD, per client.
    pub read: Rate,
    /// Other methods, per client.
    pub write: Rate,
    /// Writes with an admin key, per key.
    pub admin_write: Rate,
    /// Writes with a calendar key, per key.
    pub key_write: Rate,
    /// Key checks that need bcrypt, and refused keys, per client.
    pub auth: Rate,
    /// Key checks that need bcrypt, per key id.
    pub auth_key: Rate,
    /// Payers each limiter remembers.
    pub max_clients: usize,
}

impl Default for Rates {
    fn default() -> Rates {
        Rates {
            read: Rate {
                per_minute: 6000,
                burst: 300,
            },
            write: Rate {
                per_minute: 300,
                burst: 30,
            },
            admin_write: Rate {
                per_minute: 6000,
                burst: 300,
            },
            key_write: Rate {
                per_minute: 300,
                burst: 30,
            },
            auth: Rate {
                per_minute: 10,
                burst: 5,
            },
            auth_key: Rate {
                per_minute: 30,
                burst: 10,
            },
            max_clients: 100_000,
        }
    }
}

impl Limits {
    /// The limits at these rates.
    pub fn new(rates: Rates, proxy: Proxy) -> Limits {
        Limits {
            read: Limit::new("read", rates.read, rates.max_clients),
            write: Limit::new("write", rates.write, rates.max_clients),
            admin: Limit::new("admin", rates.admin_write, rates.max_clients),
            key: Limit::new("key", rates.key_write, rates.max_clients),
            auth: Limit::new("auth", rates.auth, rates.max_clients),
            auth_key: Limit::new("auth-key", rates.auth_key, rates.max_clients),
            proxy,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("ip")
    }

    #[test]
    fn budgets_run_out_and_say_so() {
        let limit = Limit::new(
            "auth",
            Rate {
                per_minute: 10,
                burst: 3,
            },
            100,
        );
        let a = ip("192.0.2.1");
        let b = ip("192.0.2.2");
        let first = limit.check(&a);
        assert!(first.allowed);
        assert_eq!(first.remaining, 2);
        assert_eq!(first.reset, 6);
        assert_eq!(first.policy, "\"auth\";q=3;w=18");
        assert!(limit.check(&a).allowed);
        assert!(limit.check(&a).allowed);
        let refused = limit.check(&a);
        assert!(!refused.allowed);
        assert_eq!(refused.remaining, 0);
        assert!((1..=6).contains(&refused.reset), "{}", refused.reset);
        let mut headers = HeaderMap::new();
        refused.write_headers(&mut headers);
        assert_eq!(headers["retry-after"], refused.reset.to_string().as_str());
        // The count changes with every answer: never indexed over HTTP/2; the policy repeats.
        assert!(headers["ratelimit"].is_sensitive());
        assert!(!headers["ratelimit-policy"].is_sensitive());
        assert!(limit.check(&b).allowed, "another client has its own budget");
    }

    #[test]
    fn budgets_refill_at_the_rate() {
        let limit = Limit::new(
            "write",
            Rate {
                per_minute: 60,
                burst: 2,
            },
            100,
        );
        let a = ip("192.0.2.1");
        let second = 1_000_000_000;
        assert!(limit.check_at(&a, 0).allowed);
        assert!(limit.check_at(&a, 0).allowed);
        assert!(!limit.check_at(&a, second / 2).allowed);
        let again = limit.check_at(&a, second);
        assert!(again.allowed);
        assert_eq!(again.remaining, 0);
        let full = limit.check_at(&a, 10 * second);
        assert_eq!((full.remaining, full.reset), (1, 1));
    }

    /// Settings far past any sensible rate neither overflow nor refuse.
    #[test]
    fn extreme_rates_saturate() {
        let a = ip("192.0.2.1");
        for (per_minute, burst) in [(1, u32::MAX), (u32::MAX, u32::MAX), (u32::MAX, 1)] {
            let limit = Limit::new("read", Rate { per_minute, burst }, 10);
            let first = limit.check_at(&a, u64::MAX / 2);
            assert!(first.allowed, "{per_minute}/{burst}");
        }
    }

    #[test]
    fn memory_stays_bounded() {
        let limit = Limit::new(
            "read",
            Rate {
                per_minute: 1,
                burst: 1,
            },
            1000,
        );
        for i in 0..20_000u32 {
            let _ = limit.check(&IpAddr::from(i.to_be_bytes()));
        }
        assert!(limit.clients() <= 1000 + SHARDS, "{}", limit.clients());
        assert!(limit.evicted.load(Relaxed) >= 19_000 - SHARDS as u64);
    }

    /// A client that spent its budget stays limited while a crowd of new addresses passes
    /// through the full table: they are forgotten first, since each spent less. (A table
    /// that started over empty when full gave everyone their budget back.)
    #[test]
    fn a_crowd_of_new_addresses_does_not_refill_a_spent_budget() {
        let limit = Limit::new(
            "write",
            Rate {
                per_minute: 1,
                burst: 5,
            },
            1000,
        );
        let heavy = ip("198.51.100.7");
        for _ in 0..5 {
            assert!(limit.check(&heavy).allowed);
        }
        assert!(!limit.check(&heavy).allowed);
        for i in 0..50_000u32 {
            let _ = limit.check(&IpAddr::from((0x0a00_0000 + i).to_be_bytes()));
        }
        assert!(limit.clients() <= 1000 + SHARDS);
        assert!(limit.evicted.load(Relaxed) > 0);
        assert!(!limit.check(&heavy).allowed, "the spent budget is kept");
    }
}
