//! The checked values a record holds: calendar ids, owner zone names, keys and their scopes,
//! and the limit on each.
//!
//! Every string that reaches a record is checked here, on the way in (the API) and on the way
//! back (decoding a file), so a file can never hold what the API would refuse. Both the
//! calendar rules (`calendar`) and the byte format (`format`) build on this module.

use alloc::boxed::Box;
use alloc::string::String;
use std::format;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::{Error, Kind};

/// The longest calendar id (`[a-z0-9][a-z0-9-]{0,62}`).
pub(crate) const MAX_ID: usize = 63;
/// The longest owner time-zone name. IANA names are at most about 30 bytes.
pub(crate) const MAX_ZONE: usize = 64;
/// The longest key id.
pub(crate) const MAX_KEY_ID: usize = 32;
/// The longest key hash (a bcrypt hash is 60 bytes).
pub(crate) const MAX_KEY_HASH: usize = 100;
/// The longest key label.
pub(crate) const MAX_KEY_LABEL: usize = 64;
/// The most keys per calendar, and the most admin keys.
pub(crate) const MAX_KEYS: usize = 16;

/// What a calendar key may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[repr(u8)]
pub enum KeyScope {
    /// Everything on its calendar: the week, the zone, keys, overrides, bookings.
    #[default]
    Write = 1,
    /// Create bookings and cancel its own; nothing else.
    Book = 2,
}

impl KeyScope {
    pub(crate) fn from_byte(byte: u8) -> Option<KeyScope> {
        match byte {
            1 => Some(KeyScope::Write),
            2 => Some(KeyScope::Book),
            _ => None,
        }
    }

    /// `write` or `book`.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyScope::Write => "write",
            KeyScope::Book => "book",
        }
    }
}

/// A key's id and its (bcrypt) hash, with what it may do, a label and when it was made. The
/// store never sees the key itself.
///
/// Every calendar of a store holds its keys in memory, so a key is kept compact: its id, hash
/// and label in one allocation.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct KeyHash {
    /// The id, the hash and the label (empty when there is none), one after the other.
    text: Box<str>,
    id_len: u8,
    hash_len: u8,
    scope: KeyScope,
    created_ms: i64,
}

impl core::fmt::Debug for KeyHash {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("KeyHash")
            .field("id", &self.id())
            .field("hash", &self.hash())
            .field("scope", &self.scope)
            .field("label", &self.label())
            .field("created_ms", &self.created_ms)
            .finish()
    }
}

impl KeyHash {
    /// A key id and hash.
    ///
    /// # Errors
    ///
    /// [`Error::is_parse`] when the id is not 1 to 32 characters of `[A-Za-z0-9_-]`, or the
    /// hash is not 1 to 100 printable ASCII characters (a bcrypt hash is 60).
    pub fn new(id: impl Into<String>, hash: impl Into<String>) -> Result<KeyHash, Error> {
        KeyHash::from_parts(&id.into(), &hash.into(), None, KeyScope::Write, now_ms())
    }

    /// A key as a record of the file holds it, checked as [`KeyHash::new`] and
    /// [`KeyHash::with_label`] check, in one allocation: opening a store makes one for every
    /// key of every calendar.
    pub(crate) fn from_parts(
        id: &str,
        hash: &str,
        label: Option<&str>,
        scope: KeyScope,
        created_ms: i64,
    ) -> Result<KeyHash, Error> {
        check_key_id(id)?;
        if hash.is_empty()
            || hash.len() > MAX_KEY_HASH
            || !hash.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(Error::new(
                Kind::Parse,
                format!(
                    "invalid key hash for key {id:?}: it must be 1 to {MAX_KEY_HASH} printable \
                     ASCII characters (a bcrypt hash such as \"$2b$12$...\")"
                ),
            ));
        }
        let label = label.unwrap_or_default();
        if !label.is_empty() {
            check_label(label)?;
        }
        let mut text = String::with_capacity(id.len() + hash.len() + label.len());
        text.push_str(id);
        text.push_str(hash);
        text.push_str(label);
        Ok(KeyHash {
            // The checks bound both lengths well below 256.
            id_len: id.len() as u8,
            hash_len: hash.len() as u8,
            text: text.into_boxed_str(),
            scope,
            created_ms,
        })
    }

    /// The same key with scope `scope` (a new key's is [`KeyScope::Write`]).
    #[must_use]
    pub fn with_scope(mut self, scope: KeyScope) -> KeyHash {
        self.scope = scope;
        self
    }

    /// The same key with a label for the people who manage keys.
    ///
    /// # Errors
    ///
    /// [`Error::is_parse`] for a label that is empty, longer than 64 bytes or holds control
    /// characters.
    pub fn with_label(mut self, label: impl Into<String>) -> Result<KeyHash, Error> {
        let label = label.into();
        check_label(&label)?;
        let unlabelled = usize::from(self.id_len) + usize::from(self.hash_len);
        self.text = (String::from(&self.text[..unlabelled]) + &label).into_boxed_str();
        Ok(self)
    }

    /// The same key, made at `created_ms` (milliseconds since the Unix epoch; 0 when unknown).
    #[must_use]
    pub fn created_at(mut self, created_ms: i64) -> KeyHash {
        self.created_ms = created_ms;
        self
    }

    /// What the key may do.
    pub fn scope(&self) -> KeyScope {
        self.scope
    }

    /// The key's label, if it has one.
    pub fn label(&self) -> Option<&str> {
        let label = &self.text[usize::from(self.id_len) + usize::from(self.hash_len)..];
        (!label.is_empty()).then_some(label)
    }

    /// When the key was made, in milliseconds since the Unix epoch (0 for keys from a store
    /// file of format version 1, which did not record it).
    pub fn created_unix_ms(&self) -> i64 {
        self.created_ms
    }

    /// The key's id (the part of the key that says which hash to check).
    pub fn id(&self) -> &str {
        &self.text[..usize::from(self.id_len)]
    }

    /// The key's hash.
    pub fn hash(&self) -> &str {
        &self.text[usize::from(self.id_len)..usize::from(self.id_len) + usize::from(self.hash_len)]
    }
}

/// Checks a key's label: 1 to 64 bytes of text without control characters.
fn check_label(label: &str) -> Result<(), Error> {
    if label.is_empty() || label.len() > MAX_KEY_LABEL || label.chars().any(char::is_control) {
        return Err(Error::new(
            Kind::Parse,
            format!(
                "invalid key label: it must be 1 to {MAX_KEY_LABEL} bytes of text without \
                 control characters"
            ),
        ));
    }
    Ok(())
}

/// Checks a key id: 1 to 32 characters of `[A-Za-z0-9_-]`.
pub(crate) fn check_key_id(id: &str) -> Result<(), Error> {
    if id.is_empty()
        || id.len() > MAX_KEY_ID
        || !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(Error::new(
            Kind::Parse,
            format!(
                "invalid key id {id:?}: it must be 1 to {MAX_KEY_ID} characters of \
                 A-Z, a-z, 0-9, '-' and '_'"
            ),
        ));
    }
    Ok(())
}

/// Checks a calendar id: 1 to 63 characters of `[a-z0-9-]`, starting with a letter or digit
/// (`[a-z0-9][a-z0-9-]{0,62}`), the ids the store accepts and the file holds.
///
/// # Errors
///
/// [`Error::is_parse`] for any other string; the message says what an id looks like.
///
/// ```
/// use availability_core::store::check_id;
///
/// assert!(check_id("room-4").is_ok());
/// assert!(check_id("Room 4").unwrap_err().is_parse());
/// ```
pub fn check_id(id: &str) -> Result<(), Error> {
    let bytes = id.as_bytes();
    let first_ok = bytes
        .first()
        .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    let rest_ok = bytes
        .iter()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-');
    if !first_ok || !rest_ok || bytes.len() > MAX_ID {
        return Err(Error::new(
            Kind::Parse,
            format!(
                "invalid calendar id {:?}: it must be 1 to {MAX_ID} characters of a-z, 0-9 \
                 and '-', starting with a letter or digit",
                crate::error::Truncated(id)
            ),
        ));
    }
    Ok(())
}

/// Checks the shape of an owner zone name: 1 to 64 characters of `[A-Za-z0-9/_+-]`, the
/// alphabet of IANA names. The store does not consult the time-zone database (that is the
/// caller's business): `Mars/Olympus` passes this check.
///
/// # Errors
///
/// [`Error::is_parse`] for any other string; the message says what a zone name looks like.
pub fn check_zone_name(zone: &str) -> Result<(), Error> {
    if zone.is_empty()
        || zone.len() > MAX_ZONE
        || !zone
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'-' | b'+'))
    {
        return Err(Error::new(
            Kind::Parse,
            format!(
                "invalid time-zone name {zone:?}: it must be 1 to {MAX_ZONE} characters of \
                 A-Z, a-z, 0-9, '/', '_', '-' and '+' (an IANA name such as Europe/Paris)"
            ),
        ));
    }
    Ok(())
}

pub(super) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_zones_and_keys_are_checked() {
        for good in ["default", "a", "0-room", &"a".repeat(63)] {
            assert!(check_id(good).is_ok(), "{good}");
        }
        for bad in ["", "-a", "A", "a_b", "a b", &"a".repeat(64), "é"] {
            assert!(check_id(bad).is_err(), "{bad}");
        }
        for good in [
            "UTC",
            "America/Argentina/Buenos_Aires",
            "Etc/GMT+5",
            "America/Port-au-Prince",
        ] {
            assert!(check_zone_name(good).is_ok(), "{good}");
        }
        for bad in ["", "Europe/Par is", &"Z".repeat(65), "Europe\n"] {
            assert!(check_zone_name(bad).is_err(), "{bad}");
        }
        assert!(KeyHash::new("", "h").is_err());
        assert!(KeyHash::new("k", "").is_err());
        assert!(KeyHash::new("k", "has space").is_err());
    }
}
