//! The key format: a key is `avk_<id>_<secret>`: the id (12 hex digits, 48 random bits) says
//! which stored hash to check, so a request costs at most one bcrypt verification; the secret
//! is 40 hex digits (160 bits from the operating system's RNG) followed by 8 hex digits of
//! CRC-32 over everything before them. The checksum lets a mistyped or made-up token be
//! refused by arithmetic alone, before any lookup. Also here: generating a key, and finding
//! the token in a request's `Authorization` field.

use http::header::AUTHORIZATION;
use http::HeaderMap;

use crate::wire::Problem;

/// The prefix of every key.
pub const PREFIX: &str = "avk_";
/// Random bytes in a key's id.
const ID_BYTES: usize = 6;
/// Random bytes in a key's secret: 160 bits.
const SECRET_BYTES: usize = 20;
/// Hex digits of the checksum (CRC-32).
const CHECK_DIGITS: usize = 8;
/// Hex digits of the id.
const ID_DIGITS: usize = ID_BYTES * 2;
/// The length of every key: `avk_`, the id, `_`, the secret, the checksum.
pub const KEY_LEN: usize = PREFIX.len() + ID_DIGITS + 1 + SECRET_BYTES * 2 + CHECK_DIGITS;
/// How many verified tokens to remember.
/// What a malformed key is told.
pub(super) const SHAPE: &str = "keys look like avk_<12 hex digits>_<48 hex digits>, as issued";

/// A freshly generated key: the token to show once, and what to store.
#[derive(Debug)]
pub struct NewKey {
    /// The whole token, `avk_<id>_<secret>`; shown to its owner once, never stored.
    pub token: String,
    /// The id part.
    pub id: String,
}

fn push_hex(s: &mut String, bytes: &[u8]) {
    for b in bytes {
        s.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
        s.push(char::from(b"0123456789abcdef"[usize::from(b & 15)]));
    }
}

/// The token with this id (12 lowercase hex digits) and secret, checksum appended. Public so
/// that tests can build a well-formed token with a wrong secret.
pub fn assemble(id: &str, secret: &[u8; SECRET_BYTES]) -> String {
    let mut token = String::with_capacity(KEY_LEN);
    token.push_str(PREFIX);
    token.push_str(id);
    token.push('_');
    push_hex(&mut token, secret);
    let check = crc32fast::hash(token.as_bytes());
    push_hex(&mut token, &check.to_be_bytes());
    token
}

/// A new random key, from the operating system's RNG.
///
/// # Errors
///
/// When the operating system's RNG fails.
pub fn generate() -> Result<NewKey, getrandom::Error> {
    let mut id = [0u8; ID_BYTES];
    let mut secret = [0u8; SECRET_BYTES];
    getrandom::getrandom(&mut id)?;
    getrandom::getrandom(&mut secret)?;
    let mut id_hex = String::with_capacity(ID_DIGITS);
    push_hex(&mut id_hex, &id);
    let token = assemble(&id_hex, &secret);
    Ok(NewKey { token, id: id_hex })
}

fn hex_value(b: u8) -> Option<u32> {
    match b {
        b'0'..=b'9' => Some(u32::from(b - b'0')),
        b'a'..=b'f' => Some(u32::from(b - b'a' + 10)),
        _ => None,
    }
}

/// The id part of a token, if it is well formed: the shape, lowercase hex, and a checksum
/// that matches. No lookup, no allocation.
pub fn key_id(token: &str) -> Option<&str> {
    let bytes = token.as_bytes();
    if bytes.len() != KEY_LEN || !token.starts_with(PREFIX) {
        return None;
    }
    let underscore = PREFIX.len() + ID_DIGITS;
    if bytes[underscore] != b'_' {
        return None;
    }
    let body_end = KEY_LEN - CHECK_DIGITS;
    let mut check = 0u32;
    for (i, &b) in bytes.iter().enumerate().skip(PREFIX.len()) {
        if i == underscore {
            continue;
        }
        let v = hex_value(b)?;
        if i >= body_end {
            check = check << 4 | v;
        }
    }
    (crc32fast::hash(&bytes[..body_end]) == check).then(|| &token[PREFIX.len()..underscore])
}

/// The id of the request's key, when it sends one that is well formed (not checked: call it
/// after [`Auth::check`](crate::auth::Auth::check) succeeded).
pub fn request_key_id(headers: &HeaderMap) -> Option<&str> {
    key_id(bearer(headers).ok()?)
}

/// The token of the request's `Authorization: Bearer <token>`, if it sends one.
pub fn request_token(headers: &HeaderMap) -> Option<&str> {
    bearer(headers).ok()
}

/// The token of `Authorization: Bearer <token>`.
pub(super) fn bearer(headers: &HeaderMap) -> Result<&str, Problem> {
    let value = headers.get(AUTHORIZATION).ok_or_else(|| {
        Problem::unauthorized("this needs a key: send Authorization: Bearer avk_...")
    })?;
    let text = value
        .to_str()
        .map_err(|_| Problem::unauthorized("the Authorization header is not ASCII"))?;
    let (scheme, token) = text.split_once(' ').unwrap_or((text, ""));
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(Problem::unauthorized(
            "send the key as Authorization: Bearer avk_...",
        ));
    }
    Ok(token.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_have_the_documented_shape() {
        let a = generate().expect("rng");
        let b = generate().expect("rng");
        assert_ne!(a.token, b.token);
        assert_eq!(key_id(&a.token), Some(a.id.as_str()));
        assert_eq!(a.token.len(), 4 + 12 + 1 + 48);
        assert_eq!(key_id("avk_0123456789ab_xyz"), None);
        assert_eq!(key_id("bearer"), None);
    }

    #[test]
    fn the_checksum_catches_any_one_changed_digit() {
        let key = generate().expect("rng");
        for i in PREFIX.len()..KEY_LEN {
            if i == PREFIX.len() + ID_DIGITS {
                continue;
            }
            let mut bytes = key.token.clone().into_bytes();
            bytes[i] = if bytes[i] == b'0' { b'1' } else { b'0' };
            let changed = String::from_utf8(bytes).expect("ascii");
            assert_eq!(key_id(&changed), None, "{changed}");
        }
        let upper = key.token.to_ascii_uppercase().replace("AVK_", "avk_");
        assert_eq!(key_id(&upper), None);
        assert_eq!(key_id(&format!("{}é", &key.token[..KEY_LEN - 2])), None);
    }

    #[test]
    fn bearer_parsing() {
        let mut h = HeaderMap::new();
        assert_eq!(bearer(&h).expect_err("none").status(), 401);
        h.insert(AUTHORIZATION, http::HeaderValue::from_static("Basic abc"));
        assert!(bearer(&h).is_err());
        h.insert(
            AUTHORIZATION,
            http::HeaderValue::from_static("bearer  avk_x "),
        );
        assert_eq!(bearer(&h).expect("token"), "avk_x");
    }
}
