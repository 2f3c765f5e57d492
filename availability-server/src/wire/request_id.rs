//! `Request-Id`: every answer names its request, so that a client's report and the server's
//! log line can be matched. A request that sends a well-formed `Request-Id` (1 to 128 of
//! `A-Z a-z 0-9 - _ . :`, as a proxy in front may set) keeps it; any other gets one made here:
//! 16 hex digits, unique within the process and unlikely to repeat across restarts.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use http::header::{HeaderName, HeaderValue};
use http::request::Parts;

/// The header, on requests and answers.
pub const HEADER: HeaderName = HeaderName::from_static("request-id");

/// The longest id kept from a request.
const MAX_LEN: usize = 128;

/// The request's own id when it sent a well-formed one, else a new one.
///
/// The value is marked sensitive, which HTTP/2 sends as a literal never indexed: an id is
/// new with every answer, so entering it in the connection's header table (HPACK) only
/// evicts the fields that do repeat, and every entry of the same name is compared with the
/// next id before it goes in (the table holds about sixty of them). Over HTTP/1.1 the mark
/// changes nothing.
pub fn of(parts: &Parts) -> HeaderValue {
    let mut given = parts.headers.get_all(&HEADER).iter();
    let mut id = match (given.next(), given.next()) {
        (Some(id), None) if well_formed(id.as_bytes()) => id.clone(),
        _ => made(),
    };
    id.set_sensitive(true);
    id
}

/// Whether `id` is one to keep: 1 to 128 characters of the safe alphabet.
fn well_formed(id: &[u8]) -> bool {
    (1..=MAX_LEN).contains(&id.len())
        && id
            .iter()
            .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.' | b':'))
}

/// A new id: a counter, spread over 64 bits by an odd multiplier (a bijection, so ids never
/// repeat within a process) and offset by a random start chosen once.
fn made() -> HeaderValue {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    static START: OnceLock<u64> = OnceLock::new();
    let start = *START.get_or_init(|| {
        let mut seed = [0u8; 8];
        let random = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut seed);
        match random {
            Ok(()) => u64::from_le_bytes(seed),
            // No randomness: ids stay unique within the process, from the clock's start.
            Err(_) => std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64),
        }
    });
    let n = NEXT
        .fetch_add(1, Ordering::Relaxed)
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(start);
    let mut hex = [0u8; 16];
    for (i, digit) in hex.iter_mut().enumerate() {
        *digit = b"0123456789abcdef"[((n >> (60 - 4 * i)) & 0xf) as usize];
    }
    HeaderValue::from_bytes(&hex).unwrap_or_else(|_| HeaderValue::from_static("0"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(ids: &[&str]) -> Parts {
        let mut request = http::Request::builder();
        for id in ids {
            request = request.header("request-id", *id);
        }
        request.body(()).unwrap().into_parts().0
    }

    #[test]
    fn a_well_formed_id_is_kept_and_any_other_replaced() {
        assert_eq!(of(&parts(&["abc-123_x.y:z"])), "abc-123_x.y:z");
        let long = "a".repeat(128);
        assert_eq!(of(&parts(&[&long])), long.as_str());
        for bad in ["", "has space", "quote\"", &"a".repeat(129)] {
            let id = of(&parts(&[bad]));
            assert_ne!(id, bad);
            assert_eq!(id.len(), 16, "{id:?}");
        }
        let twice = of(&parts(&["one", "two"]));
        assert!(twice != "one" && twice != "two");
    }

    #[test]
    fn ids_are_never_indexed_over_http2() {
        assert!(of(&parts(&["abc"])).is_sensitive());
        assert!(of(&parts(&[])).is_sensitive());
    }

    #[test]
    fn made_ids_do_not_repeat() {
        let ids: std::collections::HashSet<_> = (0..10_000).map(|_| made()).collect();
        assert_eq!(ids.len(), 10_000);
        assert!(ids
            .iter()
            .all(|id| id.as_bytes().iter().all(u8::is_ascii_hexdigit)));
    }
}
