//! The database's errors as the store's: what a client is told, and what is tried again.

use availability_core::{BackendError, Error};
use tokio_postgres::error::SqlState;

/// Why an attempt at a write failed.
#[derive(Debug)]
pub(crate) enum Fail {
    /// A serialization failure or a deadlock: nothing was written; the same attempt may
    /// succeed now.
    Retry(String),
    /// The answer: the store's refusal, or the database's failure as one.
    Stop(Error),
}

impl From<Error> for Fail {
    fn from(e: Error) -> Fail {
        Fail::Stop(e)
    }
}

/// A failure of the database while doing `what`, as the store's error.
pub(crate) fn from_db(what: &str, e: tokio_postgres::Error) -> Error {
    match classify(what, e) {
        Fail::Retry(message) => Error::of_backend(BackendError::Unavailable, message),
        Fail::Stop(e) => e,
    }
}

/// [`from_db`], telling apart the failures worth another attempt.
pub(crate) fn classify(what: &str, e: tokio_postgres::Error) -> Fail {
    let Some(code) = e.code() else {
        // No SQLSTATE: the connection broke, timed out or was never made.
        return Fail::Stop(Error::of_backend(
            BackendError::Unavailable,
            format!("the database is unreachable while {what}: {e}"),
        ));
    };
    let detail = e
        .as_db_error()
        .map_or_else(|| e.to_string(), |db| db.message().to_owned());
    if *code == SqlState::T_R_SERIALIZATION_FAILURE || *code == SqlState::T_R_DEADLOCK_DETECTED {
        return Fail::Retry(format!("{what}: {detail}"));
    }
    let kind = if *code == SqlState::EXCLUSION_VIOLATION {
        BackendError::Conflict
    } else if *code == SqlState::UNIQUE_VIOLATION {
        BackendError::AlreadyExists
    } else if code.code().starts_with("08")
        || code.code().starts_with("53")
        || code.code().starts_with("57")
        || *code == SqlState::READ_ONLY_SQL_TRANSACTION
    {
        // Connection exceptions, insufficient resources, an operator's intervention (a
        // shutdown, a cancelled statement), a standby: the database is away for now.
        BackendError::Unavailable
    } else {
        BackendError::Io
    };
    Fail::Stop(Error::of_backend(
        kind,
        format!(
            "the database refused {what}: {detail} (SQLSTATE {})",
            code.code()
        ),
    ))
}

/// `Fail` from a database error while doing `what`.
pub(crate) fn db(what: &'static str) -> impl Fn(tokio_postgres::Error) -> Fail {
    move |e| classify(what, e)
}
