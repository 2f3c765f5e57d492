//! Rate limits: reads generous, writes tighter, key checks much tighter; and who pays.
//!
//! Each limit is a GCRA (generic cell rate algorithm) limiter: per payer it keeps one number,
//! the theoretical arrival time (TAT) of the next request at the sustained rate. A request at
//! `now` is allowed when `TAT - now` is within the burst tolerance, and moves the TAT one
//! interval on. A payer whose TAT is in the past has its whole burst again.
//!
//! Unauthenticated requests (and those whose key is not yet verified) pay by client: its IPv4
//! address, or the /64 prefix of its IPv6 address (one host usually owns a whole /64, so
//! keying by the full address would hand it 2^64 budgets). Behind a reverse proxy the client is
//! read from a configured header, trusted only on connections from configured proxy ranges.
//! Writes with a key the memo of verified keys knows pay by key (see `routes::handle`).
//!
//! Memory stays bounded: a limiter keeps at most about `max_clients` payers. When one of its
//! shards is full, it first forgets the payers whose budget is full again (their state is
//! the same as a fresh one), then, if that is not enough, the ones closest to a full budget.
//! A payer forgotten that way had spent the least of it, so it gains the least by starting
//! over, while the payers that spent the most are kept: many new addresses cannot refill
//! everyone's budget.

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasher, Hash};
use std::net::{IpAddr, Ipv6Addr};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::Instant;

use http::header::{HeaderName, HeaderValue};
use http::HeaderMap;

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
    pub fn state(&self) -> HeaderValue {
        let mut text = String::with_capacity(self.limit.len() + 32);
        text.push('"');
        text.push_str(self.limit);
        text.push_str("\";r=");
        text.push_str(itoa::Buffer::new().format(self.remaining));
        text.push_str(";t=");
        text.push_str(itoa::Buffer::new().format(self.reset));
        HeaderValue::try_from(text).unwrap_or(HeaderValue::from_static(""))
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
}

/// A range of addresses: `10.0.0.0/8`, `2001:db8::/32`, or one address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    net: IpAddr,
    bits: u8,
}

impl Cidr {
    /// Whether `ip` is in the range (IPv4-mapped IPv6 addresses count as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.net, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.bits)).unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.bits))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl From<IpAddr> for Cidr {
    fn from(ip: IpAddr) -> Cidr {
        let ip = canonical(ip);
        let bits = if ip.is_ipv4() { 32 } else { 128 };
        Cidr { net: ip, bits }
    }
}

impl FromStr for Cidr {
    type Err = String;

    fn from_str(text: &str) -> Result<Cidr, String> {
        let text = text.trim();
        let bad = || format!("{text:?} is not an address or a range such as 10.0.0.0/8");
        let (addr, bits) = match text.split_once('/') {
            Some((addr, bits)) => (addr, Some(bits)),
            None => (text, None),
        };
        let whole = Cidr::from(addr.parse::<IpAddr>().map_err(|_| bad())?);
        let Some(bits) = bits else {
            return Ok(whole);
        };
        let bits: u8 = bits.parse().map_err(|_| bad())?;
        // A mapped IPv6 range counts its bits over the IPv4 part.
        let bits = match (addr.parse::<IpAddr>(), whole.net) {
            (Ok(IpAddr::V6(_)), IpAddr::V4(_)) => bits.checked_sub(96).ok_or_else(bad)?,
            _ => bits,
        };
        if bits > whole.bits {
            return Err(bad());
        }
        Ok(Cidr {
            net: whole.net,
            bits,
        })
    }
}

impl TryFrom<String> for Cidr {
    type Error = String;

    fn try_from(text: String) -> Result<Cidr, String> {
        text.parse()
    }
}

impl<'de> serde::Deserialize<'de> for Cidr {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Cidr, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.net, self.bits)
    }
}

/// Where the client address comes from behind a reverse proxy.
#[derive(Debug, Clone, Default)]
pub struct Proxy {
    /// The header the proxies set: `x-forwarded-for` (or another header of that form, a
    /// list of addresses), or `forwarded` (RFC 7239); `None` without a proxy.
    pub header: Option<HeaderName>,
    /// The proxies' own addresses: only connections from them may name another client.
    pub trusted: Vec<Cidr>,
}

impl Proxy {
    /// Whether `ip` is one of the trusted proxies.
    pub fn trusts(&self, ip: IpAddr) -> bool {
        self.trusted.iter().any(|range| range.contains(ip))
    }

    /// The client of a request, normalised for keying.
    ///
    /// Without a trusted proxy it is the peer. On a connection from a trusted proxy, the
    /// header's hops are read from the right (the nearest proxy appends last) past every
    /// trusted proxy, and the first address that is not one is the client: what lies left
    /// of it was written by the client itself and may be anything. A hop that names no
    /// address (`unknown`, an obfuscated name, garbage) ends the walk, and the request is
    /// charged to the last trusted hop, the proxy that could not say whom it spoke to.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = canonical(peer);
        let Some(name) = &self.header else {
            return key_of(peer);
        };
        if !self.trusts(peer) {
            return key_of(peer);
        }
        let forwarded = name == http::header::FORWARDED;
        let mut client = peer;
        let hops = headers
            .get_all(name)
            .iter()
            .rev()
            .flat_map(|line| line.as_bytes().rsplit(|b| *b == b','));
        for hop in hops {
            let named = std::str::from_utf8(hop).ok().and_then(|hop| {
                if forwarded {
                    forwarded_for(hop)
                } else {
                    node(hop)
                }
            });
            let Some(ip) = named.map(canonical) else {
                break;
            };
            client = ip;
            if !self.trusts(ip) {
                break;
            }
        }
        key_of(client)
    }
}

/// The address of an `X-Forwarded-For` element or a `Forwarded` node: `192.0.2.1`,
/// `192.0.2.1:4711`, `2001:db8::1`, `[2001:db8::1]` or `[2001:db8::1]:4711`, perhaps quoted.
/// `None` for anything else (`unknown`, obfuscated names).
fn node(text: &str) -> Option<IpAddr> {
    let text = text.trim();
    let text = text
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .unwrap_or(text);
    let port = |p: &str| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit());
    if let Some(rest) = text.strip_prefix('[') {
        let (inside, after) = rest.split_once(']')?;
        let ok = after.is_empty() || after.strip_prefix(':').is_some_and(port);
        return ok
            .then(|| inside.parse::<Ipv6Addr>().ok().map(IpAddr::V6))
            .flatten();
    }
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Some(ip);
    }
    let (host, p) = text.rsplit_once(':')?;
    port(p)
        .then(|| host.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4))
        .flatten()
}

/// The `for=` address of one element of a `Forwarded` field (RFC 7239: `for=192.0.2.60;
/// proto=https;by=...`).
fn forwarded_for(element: &str) -> Option<IpAddr> {
    element.split(';').find_map(|pair| {
        let (name, value) = pair.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("for")
            .then(|| node(value))
            .flatten()
    })
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

/// The client an address counts as, for every per-client limit (rates, connections, the
/// bcrypt pool): IPv4 as is, IPv6 by its /64 prefix, IPv4-mapped IPv6 as IPv4.
pub fn client_of(ip: IpAddr) -> IpAddr {
    key_of(canonical(ip))
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

    #[test]
    fn ranges() {
        let range: Cidr = "10.0.0.0/8".parse().expect("range");
        assert!(range.contains(ip("10.200.3.4")));
        assert!(range.contains(ip("::ffff:10.0.0.1")));
        assert!(!range.contains(ip("11.0.0.1")));
        let one: Cidr = "192.0.2.5".parse().expect("one");
        assert!(one.contains(ip("192.0.2.5")) && !one.contains(ip("192.0.2.6")));
        let v6: Cidr = "2001:db8::/32".parse().expect("v6");
        assert!(v6.contains(ip("2001:db8:ffff::1")));
        assert!(!v6.contains(ip("2001:db9::1")));
        assert!(!v6.contains(ip("10.0.0.1")));
        let all: Cidr = "0.0.0.0/0".parse().expect("all");
        assert!(all.contains(ip("203.0.113.9")));
        let mapped: Cidr = "::ffff:10.0.0.0/104".parse().expect("mapped");
        assert_eq!(mapped, range);
        for bad in [
            "10.0.0.0/33",
            "10.0.0.0/x",
            "nonsense",
            "2001:db8::/129",
            "",
        ] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad}");
        }
        assert_eq!(range.to_string(), "10.0.0.0/8");
    }

    fn proxy(header: &'static str, trusted: &[&str]) -> Proxy {
        Proxy {
            header: Some(HeaderName::from_static(header)),
            trusted: trusted.iter().map(|t| t.parse().expect("range")).collect(),
        }
    }

    fn named(proxy: &Proxy, peer: &str, values: &[&'static str]) -> IpAddr {
        let mut headers = HeaderMap::new();
        let name = proxy.header.clone().expect("a header");
        for value in values {
            headers.append(name.clone(), HeaderValue::from_static(value));
        }
        proxy.client(ip(peer), &headers)
    }

    #[test]
    fn clients_behind_a_trusted_proxy() {
        let xff = proxy("x-forwarded-for", &["127.0.0.1"]);
        let headers = &["10.9.9.9, 198.51.100.7"];
        assert_eq!(named(&xff, "127.0.0.1", headers), ip("198.51.100.7"));
        assert_eq!(
            named(&xff, "203.0.113.5", headers),
            ip("203.0.113.5"),
            "untrusted peer"
        );
        let v6 = ip("2001:db8::1:2:3:4");
        let v6b = ip("2001:db8::9:9:9:9");
        let none = HeaderMap::new();
        assert_eq!(
            Proxy::default().client(v6, &none),
            Proxy::default().client(v6b, &none),
            "one /64 is one client"
        );
        assert_eq!(
            Proxy::default().client(ip("::ffff:192.0.2.1"), &none),
            ip("192.0.2.1")
        );
    }

    /// Ports, brackets and quotes are read; `unknown` and garbage charge the proxy that
    /// wrote them, never a neighbour in the list.
    #[test]
    fn forwarded_for_forms() {
        let xff = proxy("x-forwarded-for", &["127.0.0.1"]);
        let peer = "127.0.0.1";
        for (value, client) in [
            ("198.51.100.7:4711", "198.51.100.7"),
            ("[2001:db8::17]:4711", "2001:db8::"),
            ("[2001:db8::17]", "2001:db8::"),
            ("2001:db8::17", "2001:db8::"),
            (" 198.51.100.7 ", "198.51.100.7"),
            ("::ffff:198.51.100.7", "198.51.100.7"),
            ("unknown", "127.0.0.1"),
            ("198.51.100.7, unknown", "127.0.0.1"),
            ("198.51.100.7:99999999", "127.0.0.1"),
            ("[2001:db8::17]x", "127.0.0.1"),
            ("", "127.0.0.1"),
        ] {
            let mut headers = HeaderMap::new();
            headers.insert("x-forwarded-for", HeaderValue::from_static(value));
            assert_eq!(xff.client(ip(peer), &headers), ip(client), "{value:?}");
        }
        let fwd = proxy("forwarded", &["127.0.0.1"]);
        for (value, client) in [
            ("for=192.0.2.60;proto=http;by=203.0.113.43", "192.0.2.60"),
            ("For=\"[2001:db8:cafe::17]:4711\"", "2001:db8:cafe::"),
            ("for=192.0.2.43, for=198.51.100.17", "198.51.100.17"),
            ("proto=https;for=\"192.0.2.1:80\"", "192.0.2.1"),
            ("for=unknown", "127.0.0.1"),
            ("for=_hidden", "127.0.0.1"),
            ("proto=https", "127.0.0.1"),
        ] {
            let mut headers = HeaderMap::new();
            headers.insert("forwarded", HeaderValue::from_static(value));
            assert_eq!(fwd.client(ip(peer), &headers), ip(client), "{value:?}");
        }
    }

    /// From the right, past every trusted proxy (ranges included), to the first address that
    /// is not one; several header lines read as one list.
    #[test]
    fn the_walk_passes_trusted_proxies() {
        let chain = proxy("x-forwarded-for", &["127.0.0.0/8", "10.0.0.0/8"]);
        assert_eq!(
            named(&chain, "127.0.0.3", &["6.6.6.6, 198.51.100.7, 10.1.2.3"]),
            ip("198.51.100.7")
        );
        assert_eq!(
            named(
                &chain,
                "127.0.0.3",
                &["6.6.6.6, 198.51.100.7", "10.1.2.3:443"]
            ),
            ip("198.51.100.7")
        );
        assert_eq!(
            named(&chain, "127.0.0.3", &["10.9.9.9, 10.1.2.3"]),
            ip("10.9.9.9"),
            "only proxies: the farthest one"
        );
        assert_eq!(
            named(&chain, "127.0.0.3", &["198.51.100.7, unknown, 10.1.2.3"]),
            ip("10.1.2.3"),
            "an unknown hop: the proxy that wrote it"
        );
        assert_eq!(
            named(&chain, "192.0.2.1", &["198.51.100.7"]),
            ip("192.0.2.1")
        );
    }
}
