//! Per-client rate limits: reads generous, writes tighter, key checks much tighter.
//!
//! Each limit is a `governor` GCRA limiter keyed by client. A client is its IPv4 address, or
//! the /64 prefix of its IPv6 address (one host usually owns a whole /64, so keying by the full
//! address would hand it 2^64 budgets). Behind a reverse proxy the client is read from a
//! configured header, trusted only when the connection comes from a configured proxy address.
//!
//! Memory stays bounded: every [`SWEEP_EVERY`] checks, a limiter holding more than its
//! configured number of clients forgets those whose state is the same as a fresh one; if it
//! still holds too many (that many clients all busy at once), it starts over empty, which is
//! logged. A reset gives busy clients a fresh budget, which is the price of a hard bound.

use std::net::{IpAddr, Ipv6Addr};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};
use http::header::{HeaderName, HeaderValue};
use http::HeaderMap;

/// How often (in checks) a limiter looks at its size.
const SWEEP_EVERY: u64 = 4096;

type Keyed =
    RateLimiter<IpAddr, DefaultKeyedStateStore<IpAddr>, DefaultClock, StateInformationMiddleware>;

/// The rate of one limit: `per_minute` requests a minute on average, `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Sustained requests per minute (at least 1).
    pub per_minute: u32,
    /// Requests allowed at once after a quiet spell (at least 1).
    pub burst: u32,
}

impl Rate {
    fn quota(self) -> Quota {
        let per_minute = NonZeroU32::new(self.per_minute).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(self.burst).unwrap_or(NonZeroU32::MIN);
        Quota::per_minute(per_minute).allow_burst(burst)
    }
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
    /// The `RateLimit` field: `"<name>";r=<remaining>;t=<seconds>`.
    pub fn state(&self) -> HeaderValue {
        let text = format!("\"{}\";r={};t={}", self.limit, self.remaining, self.reset);
        HeaderValue::from_str(&text).unwrap_or(HeaderValue::from_static(""))
    }

    /// Adds `RateLimit-Policy` and `RateLimit` (and `Retry-After` when refused).
    pub fn write_headers(&self, headers: &mut HeaderMap) {
        headers.insert(
            HeaderName::from_static("ratelimit-policy"),
            self.policy.clone(),
        );
        headers.insert(HeaderName::from_static("ratelimit"), self.state());
        if !self.allowed {
            headers.insert(http::header::RETRY_AFTER, HeaderValue::from(self.reset));
        }
    }
}

/// One named limit, keyed by client.
#[derive(Debug)]
pub struct Limit {
    name: &'static str,
    quota: Quota,
    policy: HeaderValue,
    max_clients: usize,
    limiter: RwLock<Arc<Keyed>>,
    checks: AtomicU64,
    clock: DefaultClock,
    /// How many times the limiter started over because too many clients were busy at once.
    pub resets: AtomicU64,
}

fn ceil_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

impl Limit {
    /// A limit called `name` (in the response fields) at `rate`, remembering at most about
    /// `max_clients` clients.
    pub fn new(name: &'static str, rate: Rate, max_clients: usize) -> Limit {
        let quota = rate.quota();
        let window = ceil_secs(quota.replenish_interval() * quota.burst_size().get());
        let policy =
            HeaderValue::from_str(&format!("\"{name}\";q={};w={window}", quota.burst_size()))
                .unwrap_or(HeaderValue::from_static(""));
        Limit {
            name,
            quota,
            policy,
            max_clients: max_clients.max(1),
            limiter: RwLock::new(Arc::new(Self::fresh(quota))),
            checks: AtomicU64::new(0),
            clock: DefaultClock::default(),
            resets: AtomicU64::new(0),
        }
    }

    fn fresh(quota: Quota) -> Keyed {
        RateLimiter::dashmap(quota).with_middleware::<StateInformationMiddleware>()
    }

    fn current(&self) -> Arc<Keyed> {
        Arc::clone(&self.limiter.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// Takes one request from `client`'s budget.
    pub fn check(&self, client: &IpAddr) -> Verdict {
        if self.checks.fetch_add(1, Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            self.sweep();
        }
        let limiter = self.current();
        match limiter.check_key(client) {
            Ok(snapshot) => {
                let remaining = snapshot.remaining_burst_capacity();
                let used = self.quota.burst_size().get().saturating_sub(remaining);
                Verdict {
                    limit: self.name,
                    policy: self.policy.clone(),
                    remaining,
                    reset: ceil_secs(self.quota.replenish_interval() * used),
                    allowed: true,
                }
            }
            Err(not_until) => Verdict {
                limit: self.name,
                policy: self.policy.clone(),
                remaining: 0,
                reset: ceil_secs(not_until.wait_time_from(self.clock.now())).max(1),
                allowed: false,
            },
        }
    }

    /// Clients remembered right now.
    pub fn clients(&self) -> usize {
        self.current().len()
    }

    /// Forgets idle clients; starts over when that is not enough.
    pub fn sweep(&self) {
        let limiter = self.current();
        if limiter.len() <= self.max_clients {
            return;
        }
        limiter.retain_recent();
        limiter.shrink_to_fit();
        if limiter.len() > self.max_clients {
            *self.limiter.write().unwrap_or_else(|e| e.into_inner()) =
                Arc::new(Self::fresh(self.quota));
            self.resets.fetch_add(1, Relaxed);
            tracing::warn!(
                limit = self.name,
                max_clients = self.max_clients,
                "more clients than the limiter keeps are busy at once: it starts over"
            );
        }
    }
}

/// Where the client address comes from behind a reverse proxy.
#[derive(Debug, Clone, Default)]
pub struct Proxy {
    /// The header the proxy sets (for example `x-forwarded-for`); `None` without a proxy.
    pub header: Option<HeaderName>,
    /// The proxy's own addresses: only connections from them may name another client.
    pub trusted: Vec<IpAddr>,
}

impl Proxy {
    /// The client of a request: the last address in the proxy header when the connection
    /// comes from a trusted proxy (the last is the one the proxy itself appended; earlier ones
    /// are whatever the client claimed), else the peer. Normalised for keying.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = canonical(peer);
        let Some(name) = &self.header else {
            return key_of(peer);
        };
        if !self.trusted.iter().any(|t| canonical(*t) == peer) {
            return key_of(peer);
        }
        let named = headers
            .get_all(name)
            .iter()
            .next_back()
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .and_then(|v| v.trim().parse::<IpAddr>().ok());
        key_of(canonical(named.unwrap_or(peer)))
    }
}

/// IPv4-mapped IPv6 addresses as IPv4, so one client has one key on a dual-stack socket.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

/// The limiter key of an address: IPv4 as is, IPv6 by its /64 prefix.
fn key_of(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & !u128::from(u64::MAX);
            IpAddr::V6(Ipv6Addr::from(bits))
        }
    }
}

/// The client an address counts as, for every per-client limit (rates, connections): IPv4
/// as is, IPv6 by its /64 prefix, IPv4-mapped IPv6 as IPv4.
pub fn client_of(ip: IpAddr) -> IpAddr {
    key_of(canonical(ip))
}

/// The three limits and how to find the client.
#[derive(Debug)]
pub struct Limits {
    /// GET and HEAD.
    pub read: Limit,
    /// Every other method.
    pub write: Limit,
    /// Key checks that are not answered from the memo of verified keys: each one costs a
    /// cell before bcrypt may run, and so does every refused key.
    pub auth: Limit,
    /// The client address behind a proxy.
    pub proxy: Proxy,
}

/// The rates of the three limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rates {
    /// GET and HEAD.
    pub read: Rate,
    /// Other methods.
    pub write: Rate,
    /// Key checks that need bcrypt, and refused keys.
    pub auth: Rate,
    /// Clients each limiter remembers before sweeping.
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
            auth: Rate {
                per_minute: 10,
                burst: 5,
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
            auth: Limit::new("auth", rates.auth, rates.max_clients),
            proxy,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let a: IpAddr = "192.0.2.1".parse().expect("ip");
        let b: IpAddr = "192.0.2.2".parse().expect("ip");
        let first = limit.check(&a);
        assert!(first.allowed);
        assert_eq!(first.remaining, 2);
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
        assert!(limit.check(&b).allowed, "another client has its own budget");
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
            let ip = IpAddr::from(i.to_be_bytes());
            let _ = limit.check(&ip);
        }
        assert!(limit.clients() <= 1000 + SWEEP_EVERY as usize);
        assert!(limit.resets.load(Relaxed) >= 1);
    }

    #[test]
    fn clients_behind_a_trusted_proxy() {
        let proxy = Proxy {
            header: Some(HeaderName::from_static("x-forwarded-for")),
            trusted: vec!["127.0.0.1".parse().expect("ip")],
        };
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            HeaderValue::from_static("10.9.9.9, 198.51.100.7"),
        );
        let local: IpAddr = "127.0.0.1".parse().expect("ip");
        let other: IpAddr = "203.0.113.5".parse().expect("ip");
        assert_eq!(
            proxy.client(local, &headers),
            "198.51.100.7".parse::<IpAddr>().expect("ip")
        );
        assert_eq!(proxy.client(other, &headers), other, "untrusted peer");
        let v6: IpAddr = "2001:db8::1:2:3:4".parse().expect("ip");
        let v6b: IpAddr = "2001:db8::9:9:9:9".parse().expect("ip");
        assert_eq!(
            Proxy::default().client(v6, &headers),
            Proxy::default().client(v6b, &headers),
            "one /64 is one client"
        );
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().expect("ip");
        assert_eq!(
            Proxy::default().client(mapped, &headers),
            "192.0.2.1".parse::<IpAddr>().expect("ip")
        );
    }
}
