//! The crate's one error type.
//!
//! [`Error`] is a single pointer, so `Result<T, Error>` stays small on the hot paths that
//! return it. What went wrong is a private kind with public predicates, plus a message written
//! for a person: it says what was wrong and what is allowed.

use alloc::boxed::Box;
use alloc::string::String;
use core::fmt;

/// An error from parsing, validating, viewing or storing availability.
///
/// The [`Display`](fmt::Display) text is meant for a person: it says what was wrong and what
/// would be accepted. Match on the predicates (`is_*`) rather than on the text.
///
/// ```
/// use availability_core::Time;
///
/// let err = "09:15".parse::<Time>().unwrap_err();
/// assert!(err.is_parse());
/// assert_eq!(
///     err.to_string(),
///     "invalid time \"09:15\": minutes must be 00 or 30 (times are whole or half hours)"
/// );
/// ```
pub struct Error {
    inner: Box<Inner>,
}

struct Inner {
    kind: Kind,
    message: String,
    /// The index of the offending entry, for errors about one entry of a batch.
    entry: Option<usize>,
    #[cfg(feature = "std")]
    source: Option<std::io::Error>,
    /// What refused a claim, for [`Kind::Conflict`].
    #[cfg(feature = "tz")]
    conflict: Option<crate::conflict::Conflict>,
    /// The booking type's rule that refused a start, for [`Kind::Conflict`].
    #[cfg(feature = "tz")]
    rule: Option<crate::slots::Rule>,
    /// The field an invalid value was given for.
    field: Option<&'static str>,
}

/// What kind of thing went wrong. Private so that it can grow; callers use the predicates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Text that should name a day, time, slot, status, week or zone did not.
    Parse,
    /// Raw words or bytes that break the week's invariants (`firm ⊆ open`, zero tail bits).
    InvalidWeek,
    /// An entry of a batch is invalid; `entry` holds its index.
    InvalidEntry,
    /// A batch has more entries than [`crate::Batch::MAX_ENTRIES`].
    TooManyEntries,
    /// A time-zone name that is not in the IANA database.
    #[cfg(feature = "tz")]
    UnknownZone,
    /// A week or date outside the range that views support.
    #[cfg(feature = "tz")]
    OutOfRange,
    /// Time-zone data (a TZif file, a zoneinfo directory) that cannot be used.
    #[cfg(feature = "tz")]
    TzData,
    /// A claim that an unavailable or claimed slot refused; `conflict` says which.
    #[cfg(feature = "tz")]
    Conflict,
    /// A booking span the rules refuse: not on whole minutes, empty, too long, in the past or
    /// too far ahead.
    #[cfg(feature = "tz")]
    InvalidSpan,
    /// A booking type whose fields break their ranges; `field` names the first.
    #[cfg(feature = "tz")]
    InvalidBookingType,
    /// An operating-system I/O error (with the underlying error as the source).
    #[cfg(feature = "std")]
    Io,
    /// The store file is damaged or not a store file; the message names file, record and check.
    #[cfg(feature = "std")]
    Corrupt,
    /// Another process holds the store's lock.
    #[cfg(feature = "std")]
    Locked,
    /// A calendar that does not exist.
    #[cfg(feature = "std")]
    NotFound,
    /// A calendar id that is already taken.
    #[cfg(feature = "std")]
    AlreadyExists,
    /// A write was refused because the stored version differs from the expected one.
    #[cfg(feature = "std")]
    VersionMismatch,
    /// A value too large for the store's fixed-size record (too many keys, a long zone name).
    #[cfg(feature = "std")]
    Capacity,
    /// The key that authorized a write no longer exists (it was revoked meanwhile).
    #[cfg(feature = "std")]
    Unauthorized,
    /// The key that authorized a write no longer covers it (its calendar stopped taking
    /// public bookings, or the key lost its scope).
    #[cfg(feature = "std")]
    Forbidden,
    /// Removing the last admin key, which would leave nobody able to administer the store.
    #[cfg(feature = "std")]
    LastAdminKey,
    /// The store's source of truth (a database) cannot be reached now; try again shortly.
    #[cfg(feature = "std")]
    Unavailable,
}

/// The kinds of error a backend that keeps the store's data elsewhere reports
/// ([`Error::of_backend`]).
#[cfg(feature = "std")]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BackendError {
    /// It cannot be reached now ([`Error::is_unavailable`]).
    Unavailable,
    /// No such calendar, group or key ([`Error::is_not_found`]).
    NotFound,
    /// The id is taken ([`Error::is_already_exists`]).
    AlreadyExists,
    /// Another booking holds the span ([`Error::is_conflict`]).
    Conflict,
    /// What it holds is not what the store would hold ([`Error::is_corrupt`]).
    Corrupt,
    /// It holds as many of a thing as it may ([`Error::is_capacity`]).
    Capacity,
    /// Any other failure ([`Error::is_io`]).
    Io,
}

impl Error {
    #[cold]
    #[inline(never)]
    pub(crate) fn new(kind: Kind, message: impl Into<String>) -> Error {
        Error {
            inner: Box::new(Inner {
                kind,
                message: message.into(),
                entry: None,
                #[cfg(feature = "std")]
                source: None,
                #[cfg(feature = "tz")]
                conflict: None,
                #[cfg(feature = "tz")]
                rule: None,
                field: None,
            }),
        }
    }

    /// A value of `kind` refused for its field `field`.
    #[cfg(feature = "tz")]
    #[cold]
    pub(crate) fn invalid_field(
        kind: Kind,
        field: &'static str,
        message: impl Into<String>,
    ) -> Error {
        let mut err = Error::new(kind, message);
        err.inner.field = Some(field);
        err
    }

    /// A start that `rule` of a booking type refuses.
    #[cfg(feature = "tz")]
    #[cold]
    pub(crate) fn refused_by(rule: crate::slots::Rule, message: impl Into<String>) -> Error {
        let mut err = Error::new(Kind::Conflict, message);
        err.inner.rule = Some(rule);
        err
    }

    /// The same error, attributed to entry `index` of a batch.
    #[cold]
    pub(crate) fn in_entry(mut self, index: usize) -> Error {
        self.inner.kind = Kind::InvalidEntry;
        self.inner.entry = Some(index);
        let message = core::mem::take(&mut self.inner.message);
        self.inner.message = alloc::format!("entry {index}: {message}");
        self
    }

    /// An I/O error, with a message that says what was being done and to which file.
    #[cfg(feature = "std")]
    #[cold]
    #[inline(never)]
    pub(crate) fn io(message: impl Into<String>, source: std::io::Error) -> Error {
        let mut err = Error::new(Kind::Io, message);
        err.inner.source = Some(source);
        err
    }

    /// A claim refused by `conflict`.
    #[cfg(feature = "tz")]
    #[cold]
    pub(crate) fn conflict(
        conflict: crate::conflict::Conflict,
        message: impl Into<String>,
    ) -> Error {
        let mut err = Error::new(Kind::Conflict, message);
        err.inner.conflict = Some(conflict);
        err
    }

    #[allow(dead_code)] // Not every feature combination asks for the kind.
    pub(crate) fn kind(&self) -> Kind {
        self.inner.kind
    }

    /// Text (a day, time, slot, status, week name, zone name or text-form week) did not parse.
    pub fn is_parse(&self) -> bool {
        self.inner.kind == Kind::Parse
    }

    /// Raw words or bytes that do not form a valid week.
    pub fn is_invalid_week(&self) -> bool {
        self.inner.kind == Kind::InvalidWeek
    }

    /// An entry of a batch is invalid; [`Error::entry_index`] says which.
    pub fn is_invalid_entry(&self) -> bool {
        self.inner.kind == Kind::InvalidEntry
    }

    /// A batch with more than [`crate::Batch::MAX_ENTRIES`] entries.
    pub fn is_too_many_entries(&self) -> bool {
        self.inner.kind == Kind::TooManyEntries
    }

    /// The index of the first invalid entry, for errors about a batch.
    pub fn entry_index(&self) -> Option<usize> {
        self.inner.entry
    }

    /// A time-zone name that is not in the IANA time-zone database.
    #[cfg(feature = "tz")]
    pub fn is_unknown_zone(&self) -> bool {
        self.inner.kind == Kind::UnknownZone
    }

    /// A week or date outside the range that views support.
    #[cfg(feature = "tz")]
    pub fn is_out_of_range(&self) -> bool {
        self.inner.kind == Kind::OutOfRange
    }

    /// Time-zone data that cannot be used: a file that is not valid TZif, a zoneinfo
    /// directory without a version, or a database installed too late.
    #[cfg(feature = "tz")]
    pub fn is_tz_data(&self) -> bool {
        self.inner.kind == Kind::TzData
    }

    /// A claim was refused: a slot of its span is not available or is claimed already.
    /// [`Error::conflict_details`] says which slot and why.
    #[cfg(feature = "tz")]
    pub fn is_conflict(&self) -> bool {
        self.inner.kind == Kind::Conflict
    }

    /// For a refused claim, the first slot that refused it and why.
    #[cfg(feature = "tz")]
    pub fn conflict_details(&self) -> Option<&crate::conflict::Conflict> {
        self.inner.conflict.as_ref()
    }

    /// For a start that a booking type refused, the first of its rules that refused it.
    #[cfg(feature = "tz")]
    pub fn rule(&self) -> Option<crate::slots::Rule> {
        self.inner.rule
    }

    /// A booking type whose fields break their ranges; [`Error::field`] names the first.
    #[cfg(feature = "tz")]
    pub fn is_invalid_booking_type(&self) -> bool {
        self.inner.kind == Kind::InvalidBookingType
    }

    /// The field of an invalid value, where one is to blame.
    pub fn field(&self) -> Option<&'static str> {
        self.inner.field
    }

    /// A booking span the rules refuse: not on whole minutes, `end <= start`, longer than
    /// seven days, in the past, or more than two years ahead.
    #[cfg(feature = "tz")]
    pub fn is_invalid_span(&self) -> bool {
        self.inner.kind == Kind::InvalidSpan
    }

    /// An error of a backend that keeps the store's data elsewhere (a database), of one of
    /// the kinds a store reports: [`BackendError`] says which.
    #[cfg(feature = "std")]
    #[cold]
    pub fn of_backend(kind: BackendError, message: impl Into<String>) -> Error {
        Error::new(
            match kind {
                BackendError::Unavailable => Kind::Unavailable,
                BackendError::NotFound => Kind::NotFound,
                BackendError::AlreadyExists => Kind::AlreadyExists,
                BackendError::Conflict => Kind::Conflict,
                BackendError::Corrupt => Kind::Corrupt,
                BackendError::Capacity => Kind::Capacity,
                BackendError::Io => Kind::Io,
            },
            message,
        )
    }

    /// The store's source of truth (a database) cannot be reached now: nothing was changed
    /// that the caller was told of, and the same write may be tried again shortly.
    #[cfg(feature = "std")]
    pub fn is_unavailable(&self) -> bool {
        self.inner.kind == Kind::Unavailable
    }

    /// An I/O error from the operating system.
    #[cfg(feature = "std")]
    pub fn is_io(&self) -> bool {
        self.inner.kind == Kind::Io
    }

    /// An I/O error because the disk is full (`ENOSPC`) or the owner's quota is spent
    /// (`EDQUOT`): the store could not grow, and nothing was changed.
    #[cfg(feature = "std")]
    pub fn is_storage_full(&self) -> bool {
        use std::io::ErrorKind::{QuotaExceeded, StorageFull};
        self.inner.kind == Kind::Io
            && self
                .inner
                .source
                .as_ref()
                .is_some_and(|e| matches!(e.kind(), StorageFull | QuotaExceeded))
    }

    /// The store file is damaged or is not a store file of a version this build reads.
    #[cfg(feature = "std")]
    pub fn is_corrupt(&self) -> bool {
        self.inner.kind == Kind::Corrupt
    }

    /// Another process has the store open.
    #[cfg(feature = "std")]
    pub fn is_locked(&self) -> bool {
        self.inner.kind == Kind::Locked
    }

    /// No calendar with that id.
    #[cfg(feature = "std")]
    pub fn is_not_found(&self) -> bool {
        self.inner.kind == Kind::NotFound
    }

    /// The calendar id is already taken.
    #[cfg(feature = "std")]
    pub fn is_already_exists(&self) -> bool {
        self.inner.kind == Kind::AlreadyExists
    }

    /// The calendar's version is not the one the write expected.
    #[cfg(feature = "std")]
    pub fn is_version_mismatch(&self) -> bool {
        self.inner.kind == Kind::VersionMismatch
    }

    /// A value does not fit the store's fixed-size record.
    #[cfg(feature = "std")]
    pub fn is_capacity(&self) -> bool {
        self.inner.kind == Kind::Capacity
    }

    /// The key that authorized the write was revoked before the write could commit.
    #[cfg(feature = "std")]
    pub fn is_unauthorized(&self) -> bool {
        self.inner.kind == Kind::Unauthorized
    }

    /// What authorized the write no longer covers it (a calendar closed to public bookings
    /// meanwhile).
    #[cfg(feature = "std")]
    pub fn is_forbidden(&self) -> bool {
        self.inner.kind == Kind::Forbidden
    }

    /// The write would have removed the last admin key.
    #[cfg(feature = "std")]
    pub fn is_last_admin_key(&self) -> bool {
        self.inner.kind == Kind::LastAdminKey
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.inner.message)?;
        #[cfg(feature = "std")]
        if let Some(source) = &self.inner.source {
            write!(f, ": {source}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Error");
        d.field("kind", &self.inner.kind)
            .field("message", &self.inner.message);
        if let Some(entry) = self.inner.entry {
            d.field("entry", &entry);
        }
        #[cfg(feature = "std")]
        if let Some(source) = &self.inner.source {
            d.field("source", source);
        }
        d.finish()
    }
}

#[cfg(feature = "std")]
impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.inner
            .source
            .as_ref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

const _: () = assert!(core::mem::size_of::<Error>() == core::mem::size_of::<usize>());

/// Debug-formats at most 40 characters of untrusted input, so that an error message about a
/// megabyte of garbage stays short.
pub(crate) struct Truncated<'a>(pub(crate) &'a str);

impl fmt::Debug for Truncated<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const LIMIT: usize = 40;
        match self.0.char_indices().nth(LIMIT) {
            None => fmt::Debug::fmt(self.0, f),
            Some((end, _)) => {
                fmt::Debug::fmt(&self.0[..end], f)?;
                f.write_str("...")
            }
        }
    }
}
