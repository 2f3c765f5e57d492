//! Who a key belongs to ([`Principal`]), what a route needs of it ([`Need`]), and whether the
//! one covers the other.

use crate::store::{Authority, KeyScope};
use crate::wire::Problem;

/// Who a request's key belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// An admin key: every calendar and the admin routes.
    Admin {
        /// The key's id.
        key_id: String,
        /// Whether it is kept in the store (and so can be revoked while the server runs),
        /// rather than in the configuration.
        stored: bool,
    },
    /// A key of calendar `id`: its own id, and what it may do there.
    Calendar {
        /// The calendar the key belongs to.
        id: String,
        /// The key's id.
        key_id: String,
        /// `write` (everything on the calendar) or `book` (bookings only).
        scope: KeyScope,
    },
}

impl Principal {
    /// What the store checks again when the write this principal authorized commits: the
    /// calendar key, or the stored admin key, must still exist. An admin key from the
    /// configuration cannot be revoked while the server runs, so it has nothing to check.
    pub fn authority(&self) -> Authority {
        match self {
            Principal::Admin {
                key_id,
                stored: true,
            } => Authority::Admin(key_id.clone()),
            Principal::Admin {
                key_id,
                stored: false,
            } => Authority::Configured(key_id.clone()),
            Principal::Calendar { key_id, scope, .. } => Authority::Key {
                key_id: key_id.clone(),
                scope: *scope,
            },
        }
    }

    /// The id of the key.
    pub fn key_id(&self) -> &str {
        match self {
            Principal::Admin { key_id, .. } | Principal::Calendar { key_id, .. } => key_id,
        }
    }
}

/// What a route needs the key to cover.
#[derive(Debug, Clone, Copy)]
pub enum Need<'a> {
    /// An admin key.
    Admin,
    /// A write key of this calendar, or an admin key.
    Calendar(&'a str),
    /// A key of this calendar of either scope (`write` or `book`), or an admin key.
    Book(&'a str),
}

/// Whether `principal` covers `need`: 403 when it does not. A `book` key covers only
/// [`Need::Book`] of its own calendar.
pub(super) fn authorize(principal: Principal, need: Need<'_>) -> Result<Principal, Problem> {
    let Principal::Calendar { id: own, scope, .. } = &principal else {
        return Ok(principal);
    };
    match need {
        Need::Admin => Err(Problem::forbidden(format!(
            "this needs an admin key; this key belongs to calendar {own:?}"
        ))),
        Need::Calendar(target) | Need::Book(target) if own != target => Err(Problem::forbidden(
            format!("this key belongs to calendar {own:?}, not {target:?}"),
        )),
        Need::Calendar(_) if *scope == KeyScope::Book => Err(Problem::forbidden(
            "this key may only book: create bookings and cancel its own; this needs a \
             write key of the calendar or an admin key",
        )),
        Need::Calendar(_) | Need::Book(_) => Ok(principal),
    }
}
