//! The client behind proxies, on arbitrary bytes: a list of trusted ranges, then header lines
//! in either form (`X-Forwarded-For`, or RFC 7239's `Forwarded`). The walk never panics and
//! always answers a client key (an IPv4 address or an IPv6 /64); a peer that is not trusted is
//! its own client whatever the header says; and every range that parses prints as text that
//! parses back to it, and holds its own network address.

use std::net::IpAddr;

use availability_server::wire::client::{client_of, Cidr, Proxy};
use http::{HeaderMap, HeaderName, HeaderValue};

/// Checks one input; panics on a finding. The first byte chooses the header (bit 0) and
/// whether the peer is IPv4 or IPv4-mapped IPv6 (bit 1); the first line lists the trusted
/// ranges, comma-separated; every further line is one header line.
pub(crate) fn run(data: &[u8]) {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let mut lines = rest.split(|b| *b == b'\n');
    let ranges = String::from_utf8_lossy(lines.next().unwrap_or_default()).into_owned();
    let trusted: Vec<Cidr> = ranges.split(',').filter_map(|r| r.parse().ok()).collect();
    for range in &trusted {
        let printed = range.to_string();
        assert_eq!(printed.parse::<Cidr>().as_ref(), Ok(range), "{printed}");
        let (net, _) = printed
            .split_once('/')
            .expect("a printed range has a length");
        let net: IpAddr = net.parse().expect("a printed range starts with an address");
        assert!(range.contains(net), "{printed} holds its own address");
    }
    let name = HeaderName::from_static(if flags & 1 == 0 {
        "x-forwarded-for"
    } else {
        "forwarded"
    });
    let mut headers = HeaderMap::new();
    for line in lines {
        if let Ok(value) = HeaderValue::from_bytes(line) {
            headers.append(name.clone(), value);
        }
    }
    let peer: IpAddr = if flags & 2 == 0 {
        IpAddr::from([127, 0, 0, 1])
    } else {
        IpAddr::from(std::net::Ipv4Addr::new(127, 0, 0, 1).to_ipv6_mapped())
    };
    let proxy = Proxy {
        header: Some(name),
        trusted,
    };
    let client = proxy.client(peer, &headers);
    assert_eq!(client_of(client), client, "{client} is a client key");
    if !proxy.trusts(peer) {
        assert_eq!(client, client_of(peer), "an untrusted peer names itself");
    }
    assert_eq!(
        proxy.client(peer, &headers),
        client,
        "the same answer again"
    );
}
