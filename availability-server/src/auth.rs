//! Keys: generation, hashing, and checking a request's bearer token.
//!
//! A key is `avk_<id>_<secret>`: the id (12 hex digits) says which stored hash to check, so a
//! request costs at most one bcrypt verification; the secret is 160 bits from the operating
//! system's RNG. Only the bcrypt hash of the whole token is stored.
//!
//! bcrypt is slow on purpose, so it runs on tokio's blocking pool, never on the async workers.
//! A token that verified once is remembered by a keyed hash of it (the key is random per
//! process, so the memo is useless to anyone who reads memory dumps offline) together with the
//! stored hash it matched; revoking a key removes its stored hash, and the memo then no longer
//! matches anything. Per-client limits on failures belong to the rate-limiting layer.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::Mutex;

use http::header::AUTHORIZATION;
use http::HeaderMap;

use crate::problem::Problem;
use crate::state::{Backend, KeyHash};

/// The prefix of every key.
pub const PREFIX: &str = "avk_";
/// Random bytes in a key's id.
const ID_BYTES: usize = 6;
/// Random bytes in a key's secret: 160 bits.
const SECRET_BYTES: usize = 20;
/// How many verified tokens to remember before starting over.
const MEMO_LIMIT: usize = 10_000;

/// A freshly generated key: the token to show once, and what to store.
#[derive(Debug)]
pub struct NewKey {
    /// The whole token, `avk_<id>_<secret>`; shown to its owner once, never stored.
    pub token: String,
    /// The id part.
    pub id: String,
}

fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
        s.push(char::from(b"0123456789abcdef"[usize::from(b & 15)]));
    }
    s
}

/// A new random key.
///
/// # Errors
///
/// When the operating system's RNG fails.
pub fn generate() -> Result<NewKey, getrandom::Error> {
    let mut id = [0u8; ID_BYTES];
    let mut secret = [0u8; SECRET_BYTES];
    getrandom::getrandom(&mut id)?;
    getrandom::getrandom(&mut secret)?;
    let id = hex(&id);
    let token = format!("{PREFIX}{id}_{}", hex(&secret));
    Ok(NewKey { token, id })
}

/// The id part of a token, if it has the shape `avk_<id>_<secret>`.
pub fn key_id(token: &str) -> Option<&str> {
    let rest = token.strip_prefix(PREFIX)?;
    let (id, secret) = rest.split_once('_')?;
    let lower_hex = |s: &str| {
        s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    (id.len() == ID_BYTES * 2
        && secret.len() == SECRET_BYTES * 2
        && lower_hex(id)
        && lower_hex(secret))
    .then_some(id)
}

/// The bcrypt hash of `token` at `cost` (blocking: call it off the async workers).
///
/// # Errors
///
/// When bcrypt fails (an invalid cost).
pub fn hash_blocking(token: &str, cost: u32) -> Result<String, bcrypt::BcryptError> {
    bcrypt::hash(token, cost)
}

/// Who a request's key belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// An admin key: every calendar and the admin routes.
    Admin,
    /// A key of this calendar.
    Calendar(String),
}

/// What a route needs the key to cover.
#[derive(Debug, Clone, Copy)]
pub enum Need<'a> {
    /// An admin key.
    Admin,
    /// A key of this calendar, or an admin key.
    Calendar(&'a str),
}

/// Checks keys, with the memo of verified tokens.
#[derive(Debug)]
pub struct Auth {
    cost: u32,
    /// Admin key hashes from the configuration, beside those in the store.
    configured_admin: Vec<KeyHash>,
    seed: std::collections::hash_map::RandomState,
    /// keyed hash of a verified token -> the stored hash it matched.
    memo: Mutex<HashMap<u64, String>>,
}

impl Auth {
    /// Checks with bcrypt at `cost` for new hashes; `configured_admin` are extra admin hashes.
    pub fn new(cost: u32, configured_admin: Vec<KeyHash>) -> Auth {
        Auth {
            cost,
            configured_admin,
            seed: std::collections::hash_map::RandomState::new(),
            memo: Mutex::new(HashMap::new()),
        }
    }

    /// The bcrypt cost for new hashes.
    pub fn cost(&self) -> u32 {
        self.cost
    }

    /// Whether any admin key exists, in the configuration or the store.
    pub fn has_admin_key(&self, backend: &dyn Backend) -> bool {
        !self.configured_admin.is_empty() || !backend.admin_keys().is_empty()
    }

    /// Hashes a new token on the blocking pool.
    ///
    /// # Errors
    ///
    /// 500 when bcrypt or the pool fails.
    pub async fn hash(&self, token: String) -> Result<String, Problem> {
        let cost = self.cost;
        match tokio::task::spawn_blocking(move || hash_blocking(&token, cost)).await {
            Ok(Ok(hash)) => Ok(hash),
            Ok(Err(err)) => Err(Problem::internal("hashing a new key", err)),
            Err(err) => Err(Problem::internal("hashing a new key", err)),
        }
    }

    /// Checks the request's bearer token against what `need` asks for.
    ///
    /// # Errors
    ///
    /// 401 with no key, a malformed or unknown key, or a wrong secret; 403 for a valid key
    /// that does not cover `need`.
    pub async fn check(
        &self,
        backend: &dyn Backend,
        headers: &HeaderMap,
        need: Need<'_>,
    ) -> Result<Principal, Problem> {
        let token = bearer(headers)?;
        let id = key_id(token).ok_or_else(|| {
            Problem::unauthorized(
                "the key is malformed: keys look like avk_<12 hex digits>_<40 hex digits>",
            )
        })?;
        let (principal, stored) = self.find(backend, id, need).ok_or_else(|| {
            Problem::unauthorized("no such key: it may have been revoked, or mistyped")
        })?;
        if !self.verify(token, &stored).await? {
            return Err(Problem::unauthorized(
                "wrong key: the secret does not match",
            ));
        }
        match (&principal, need) {
            (Principal::Admin, _) => Ok(principal),
            (Principal::Calendar(own), Need::Calendar(target)) if own == target => Ok(principal),
            (Principal::Calendar(own), Need::Calendar(target)) => Err(Problem::forbidden(format!(
                "this key belongs to calendar {own:?}, not {target:?}"
            ))),
            (Principal::Calendar(own), Need::Admin) => Err(Problem::forbidden(format!(
                "this needs an admin key; this key belongs to calendar {own:?}"
            ))),
        }
    }

    /// Whose key has this id, and its stored hash. The calendar the request is about is
    /// searched first, then the admin keys; only a key of neither (a 403 or a 401 to come)
    /// costs a scan of every calendar.
    fn find(&self, backend: &dyn Backend, id: &str, need: Need<'_>) -> Option<(Principal, String)> {
        if let Need::Calendar(target) = need {
            if let Some(calendar) = backend.get(target) {
                if let Some(k) = calendar.keys.iter().find(|k| k.id == id) {
                    return Some((Principal::Calendar(calendar.id.clone()), k.hash.clone()));
                }
            }
        }
        let admin = self.configured_admin.iter().find(|k| k.id == id).cloned();
        if let Some(k) = admin.or_else(|| backend.admin_keys().into_iter().find(|k| k.id == id)) {
            return Some((Principal::Admin, k.hash));
        }
        backend.list().into_iter().find_map(|calendar| {
            calendar
                .keys
                .iter()
                .find(|k| k.id == id)
                .map(|k| (Principal::Calendar(calendar.id.clone()), k.hash.clone()))
        })
    }

    /// Whether `token` matches `stored`: from the memo, or with bcrypt on the blocking pool.
    async fn verify(&self, token: &str, stored: &str) -> Result<bool, Problem> {
        let memo_key = self.seed.hash_one(token);
        {
            let memo = self.memo.lock().unwrap_or_else(|e| e.into_inner());
            if memo.get(&memo_key).is_some_and(|h| h == stored) {
                return Ok(true);
            }
        }
        let (owned_token, owned_hash) = (token.to_owned(), stored.to_owned());
        let ok = tokio::task::spawn_blocking(move || {
            bcrypt::verify(owned_token, &owned_hash).unwrap_or(false)
        })
        .await
        .map_err(|err| Problem::internal("checking a key", err))?;
        if ok {
            let mut memo = self.memo.lock().unwrap_or_else(|e| e.into_inner());
            if memo.len() >= MEMO_LIMIT {
                memo.clear();
            }
            memo.insert(memo_key, stored.to_owned());
        }
        Ok(ok)
    }
}

/// The token of `Authorization: Bearer <token>`.
fn bearer(headers: &HeaderMap) -> Result<&str, Problem> {
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
        assert_eq!(a.token.len(), 4 + 12 + 1 + 40);
        assert_eq!(key_id("avk_0123456789ab_xyz"), None);
        assert_eq!(key_id("bearer"), None);
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
