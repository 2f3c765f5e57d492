//! Where a webhook may go: its URL read and checked, names resolved, and every address it
//! resolves to checked against the ranges no webhook reaches (loopback, private, link-local,
//! unique-local, shared, metadata and the other special-purpose ranges) unless the operator
//! allowed them (`webhook_allow`). Resolving and dialling are behind traits, so tests map
//! names to addresses and record every dial without ever sending a packet.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use futures_util::future::BoxFuture;
use tokio::net::TcpStream;

use crate::wire::client::Cidr;

/// A webhook's URL, read: an `https` URL with a host, no user information and no fragment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// The host as written (a name, or an address without brackets).
    pub host: String,
    /// The port (443 when none is written).
    pub port: u16,
    /// The `Host` field: the authority as written.
    pub authority: String,
    /// The path and query sent.
    pub path: String,
}

impl Target {
    /// Reads `url`.
    ///
    /// # Errors
    ///
    /// What is wrong with it, for a person.
    pub fn parse(url: &str) -> Result<Target, String> {
        let uri: http::Uri = url.parse().map_err(|_| format!("{url:?} is not a URL"))?;
        if uri.scheme_str() != Some("https") {
            return Err(String::from("a webhook URL must start with https://"));
        }
        let authority = uri
            .authority()
            .ok_or_else(|| String::from("a webhook URL must name a host"))?;
        if authority.as_str().contains('@') {
            return Err(String::from(
                "a webhook URL must not hold a user name or password",
            ));
        }
        if url.contains('#') {
            return Err(String::from("a webhook URL must not hold a fragment"));
        }
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase();
        if host.is_empty() {
            return Err(String::from("a webhook URL must name a host"));
        }
        Ok(Target {
            host,
            port: authority.port_u16().unwrap_or(443),
            authority: authority.as_str().to_string(),
            path: uri
                .path_and_query()
                .map_or_else(|| String::from("/"), |p| p.as_str().to_string()),
        })
    }

    /// The address the host is, when it is one.
    pub fn literal(&self) -> Option<IpAddr> {
        self.host.parse().ok()
    }
}

/// Which addresses a webhook may reach.
#[derive(Clone, Debug, Default)]
pub struct Policy {
    /// Ranges allowed although special (a receiver on the operator's own network).
    pub allow: Vec<Cidr>,
}

impl Policy {
    /// Whether a webhook may connect to `ip`; if not, why.
    ///
    /// # Errors
    ///
    /// The kind of range `ip` is in.
    pub fn check(&self, ip: IpAddr) -> Result<(), String> {
        if self.allow.iter().any(|range| range.contains(ip)) {
            return Ok(());
        }
        match special(ip) {
            Some(kind) => Err(format!(
                "{ip} is a {kind} address, which webhooks may not reach (webhook_allow lists \
                 the ranges that may)"
            )),
            None => Ok(()),
        }
    }
}

/// The kind of special-purpose range `ip` is in, if any (IANA's registries of IPv4 and IPv6
/// special-purpose addresses, and the cloud metadata addresses).
pub fn special(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => special_v4(v4),
        IpAddr::V6(v6) => special_v6(v6),
    }
}

fn special_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        _ if ip == Ipv4Addr::new(169, 254, 169, 254) || ip == Ipv4Addr::new(100, 100, 100, 200) => {
            "metadata"
        }
        (0, ..) => "this-network",
        (10, ..) | (172, 16..=31, _) | (192, 168, _) => "private",
        (100, 64..=127, _) => "shared (carrier-grade NAT)",
        (127, ..) => "loopback",
        (169, 254, _) => "link-local",
        (192, 0, 0) | (192, 0, 2) | (198, 51, 100) | (203, 0, 113) | (192, 88, 99) => "reserved",
        (198, 18..=19, _) => "benchmarking",
        (224..=239, ..) => "multicast",
        (240..=255, ..) => "reserved",
        _ => return None,
    })
}

fn special_v6(ip: Ipv6Addr) -> Option<&'static str> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return special_v4(v4);
    }
    let s = ip.segments();
    // NAT64 (64:ff9b::/96) reaches the IPv4 address it embeds.
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        let [a, b] = s[6].to_be_bytes();
        let [c, d] = s[7].to_be_bytes();
        return special_v4(Ipv4Addr::new(a, b, c, d));
    }
    Some(match s[0] {
        _ if ip.is_unspecified() => "unspecified",
        _ if ip.is_loopback() => "loopback",
        // The IPv4-compatible form, deprecated, and what is left of ::/8.
        0 => "reserved",
        0xfd00 if s[1..] == [0xec2, 0, 0, 0, 0, 0, 0x254] => "metadata",
        0xfc00..=0xfdff => "unique-local",
        0xfe80..=0xfebf => "link-local",
        0xfec0..=0xfeff => "site-local",
        0xff00..=0xffff => "multicast",
        0x2001 if s[1] == 0xdb8 => "documentation",
        0x2001 if s[1] < 0x200 => "reserved (IETF protocol assignments)",
        0x2002 => "6to4",
        0x100 if s[1..4] == [0, 0, 0] => "discard",
        _ => return None,
    })
}

/// Resolves a host name to its addresses.
pub trait Resolve: Send + Sync + 'static {
    /// The addresses of `host`.
    fn resolve<'a>(&'a self, host: &'a str, port: u16) -> BoxFuture<'a, io::Result<Vec<IpAddr>>>;
}

/// The system's resolver.
#[derive(Debug, Default)]
pub struct SystemResolver;

impl Resolve for SystemResolver {
    fn resolve<'a>(&'a self, host: &'a str, port: u16) -> BoxFuture<'a, io::Result<Vec<IpAddr>>> {
        Box::pin(async move {
            let addrs = tokio::net::lookup_host((host, port)).await?;
            Ok(addrs.map(|a| a.ip()).collect())
        })
    }
}

/// Opens a TCP connection to an address that was checked.
pub trait Dial: Send + Sync + 'static {
    /// A connection to `addr`.
    fn dial(&self, addr: SocketAddr) -> BoxFuture<'static, io::Result<TcpStream>>;
}

/// The system's sockets.
#[derive(Debug, Default)]
pub struct SystemDialer;

impl Dial for SystemDialer {
    fn dial(&self, addr: SocketAddr) -> BoxFuture<'static, io::Result<TcpStream>> {
        Box::pin(async move {
            let stream = TcpStream::connect(addr).await?;
            stream.set_nodelay(true)?;
            Ok(stream)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("an address")
    }

    #[test]
    fn special_ranges_are_refused_and_public_ones_pass() {
        let policy = Policy::default();
        for refused in [
            "127.0.0.1",
            "127.255.0.9",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "169.254.1.1",
            "100.64.0.1",
            "100.100.100.200",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "::ffff:10.0.0.1",
            "::ffff:127.0.0.1",
            "64:ff9b::a00:1",
            "fc00::1",
            "fd12:3456::1",
            "fd00:ec2::254",
            "fe80::1",
            "ff02::1",
            "2001:db8::1",
        ] {
            assert!(policy.check(ip(refused)).is_err(), "{refused}");
        }
        for allowed in [
            "1.1.1.1",
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "2606:4700::1111",
            "::ffff:1.1.1.1",
            "64:ff9b::808:808",
        ] {
            assert!(policy.check(ip(allowed)).is_ok(), "{allowed}");
        }
        assert!(policy
            .check(ip("169.254.169.254"))
            .unwrap_err()
            .contains("metadata"));
    }

    #[test]
    fn allowed_ranges_pass() {
        let policy = Policy {
            allow: vec!["127.0.0.0/8".parse().expect("a range")],
        };
        assert!(policy.check(ip("127.0.0.1")).is_ok());
        assert!(policy.check(ip("::ffff:127.0.0.1")).is_ok());
        assert!(policy.check(ip("10.0.0.1")).is_err());
        assert!(policy.check(ip("::1")).is_err());
    }

    #[test]
    fn urls_are_read_strictly() {
        let t = Target::parse("https://Hooks.Example.com:8443/in?x=1").expect("a URL");
        assert_eq!(
            (t.host.as_str(), t.port, t.path.as_str()),
            ("hooks.example.com", 8443, "/in?x=1")
        );
        let t = Target::parse("https://[::1]/").expect("a URL");
        assert_eq!(t.literal(), Some(ip("::1")));
        assert_eq!(Target::parse("https://a.example").expect("a URL").path, "/");
        for bad in [
            "http://a.example/",
            "ftp://a.example/",
            "https://user:pw@a.example/",
            "https:///x",
            "a.example/x",
            "https://a.example/#top",
            "",
        ] {
            assert!(Target::parse(bad).is_err(), "{bad}");
        }
    }
}
