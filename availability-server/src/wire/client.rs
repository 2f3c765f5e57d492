//! Who the client is: the address a request counts as, for every per-client limit (rates,
//! connections, the bcrypt pool), read through trusted reverse proxies.
//!
//! Behind a reverse proxy the client is read from a configured header (`X-Forwarded-For` or
//! `Forwarded`), trusted only on connections from configured proxy ranges, and walked from the
//! right past every trusted proxy. A client is its IPv4 address, or the /64 prefix of its IPv6
//! address (one host usually owns a whole /64, so keying by the full address would hand it
//! 2^64 budgets); an IPv4-mapped IPv6 address counts as the IPv4 one.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};
use std::str::FromStr;

use http::header::HeaderName;
use http::HeaderMap;

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

#[cfg(test)]
mod tests {
    use super::*;
    use http::header::HeaderValue;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("ip")
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
