//! What a write expects to still hold when it commits: the version a client read (HTTP
//! `If-Match`), the calendar it was checked against, and the key that authorized it.
//!
//! A server checks a request's key long before the commit (a bcrypt wait, a slow body). A key
//! revoked or a calendar deleted and created again meanwhile must not let the write through,
//! so the store checks these again under the calendar's write lock, where no revocation or
//! re-creation can slip between the check and the write.

use alloc::string::String;
use std::format;

use super::calendar::{version_mismatch, Calendar};
use super::checked::{KeyHash, KeyScope};
use crate::error::{Error, Kind};

/// Who authorized a write, as the key check found it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Authority {
    /// Nothing in the store to check again: a caller that checked nothing (a program of its
    /// own, a server's own setup).
    #[default]
    Unchecked,
    /// Nobody: the calendar takes bookings from anyone. It must still do so.
    PublicBooking,
    /// The stored admin key with this id: it must still be stored.
    Admin(String),
    /// The admin key of the server's configuration with this id: nothing in the store to
    /// check, and the id to name as the writer (the pattern history keeps it).
    Configured(String),
    /// The calendar's key with this id and scope: the calendar must still have it, with
    /// that scope.
    Key {
        /// The key's id.
        key_id: String,
        /// Its scope when it was checked.
        scope: KeyScope,
    },
}

impl Authority {
    /// The id of the key that authorized the write, when a key did.
    pub fn key_id(&self) -> Option<&str> {
        match self {
            Authority::Admin(key_id)
            | Authority::Configured(key_id)
            | Authority::Key { key_id, .. } => Some(key_id),
            Authority::Unchecked | Authority::PublicBooking => None,
        }
    }

    /// Whether the authority still covers a write to `calendar` (or, with `None`, a write to
    /// no calendar), given the admin keys stored now.
    pub(super) fn check(
        &self,
        calendar: Option<&Calendar>,
        admin_keys: &[KeyHash],
    ) -> Result<(), Error> {
        match self {
            Authority::Unchecked | Authority::Configured(_) => Ok(()),
            Authority::Admin(key_id) => {
                if admin_keys.iter().any(|k| k.id() == key_id) {
                    Ok(())
                } else {
                    Err(Error::new(
                        Kind::Unauthorized,
                        format!(
                            "admin key {key_id:?} was revoked while this request was under way"
                        ),
                    ))
                }
            }
            Authority::PublicBooking => match calendar {
                Some(calendar) if calendar.booking_public() => Ok(()),
                Some(calendar) => Err(Error::new(
                    Kind::Forbidden,
                    format!(
                        "calendar {:?} stopped taking bookings from anyone while this request \
                         was under way; book with a key of the calendar",
                        calendar.id()
                    ),
                )),
                None => Err(admin_only()),
            },
            Authority::Key { key_id, scope } => {
                let Some(calendar) = calendar else {
                    return Err(admin_only());
                };
                match calendar.key(key_id) {
                    None => Err(Error::new(
                        Kind::Unauthorized,
                        format!(
                            "key {key_id:?} of calendar {:?} was revoked while this request was \
                             under way",
                            calendar.id()
                        ),
                    )),
                    Some(key) if key.scope() != *scope => Err(Error::new(
                        Kind::Forbidden,
                        format!(
                            "key {key_id:?} of calendar {:?} lost its scope while this request \
                             was under way",
                            calendar.id()
                        ),
                    )),
                    Some(_) => Ok(()),
                }
            }
        }
    }
}

#[cold]
fn admin_only() -> Error {
    Error::new(
        Kind::Forbidden,
        "this needs an admin key; a calendar key does not cover it",
    )
}

/// What a write to one calendar expects when it commits. `Expected::default()` (or `None`
/// where an `impl Into<Expected>` is asked for) expects nothing; `Some(version)` expects
/// that version only.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Expected {
    /// The calendar's version (HTTP `If-Match`): refused as a version mismatch otherwise.
    pub version: Option<u64>,
    /// The calendar's incarnation when the request was checked: a calendar deleted and
    /// created again since is not the one the request was about, and is refused as not
    /// found.
    pub incarnation: Option<u64>,
    /// Who authorized the write.
    pub by: Authority,
}

impl From<Option<u64>> for Expected {
    fn from(version: Option<u64>) -> Expected {
        Expected {
            version,
            ..Expected::default()
        }
    }
}

impl Expected {
    /// Checks `current`, the state of calendar `id` under its write lock, and the admin keys
    /// stored then: the incarnation first (another calendar is not found), then the key
    /// (revoked is unauthorized), then the version.
    pub(super) fn check(
        &self,
        id: &str,
        current: &Calendar,
        admin_keys: &[KeyHash],
    ) -> Result<(), Error> {
        if self
            .incarnation
            .is_some_and(|seen| seen != current.incarnation())
        {
            return Err(Error::new(
                Kind::NotFound,
                format!(
                    "calendar {id:?} was deleted and created again while this request was \
                     under way; this request was about the calendar it replaced"
                ),
            ));
        }
        self.by.check(Some(current), admin_keys)?;
        if let Some(expected) = self.version.filter(|&v| v != current.version()) {
            return Err(version_mismatch(id, expected, current.version()));
        }
        Ok(())
    }
}
