//! Answers remembered for idempotency keys, kept in the log until they expire.

use alloc::string::String;

use super::checked::now_ms;
use super::decide;
use super::journal_format::{self, Answer, Record, Remembered};
use super::Store;
use crate::error::{Error, Kind};

/// What a booking request with an idempotency key is remembered by (HTTP `Idempotency-Key`,
/// with whoever sent it and a digest of the request).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdempotencyKey {
    /// The key, 1 to 255 bytes of printable ASCII.
    pub key: String,
    /// Who sent it, at most 255 bytes.
    pub principal: String,
    /// A digest of the request, to tell a repeat from a reuse of the key.
    pub fingerprint: [u8; 32],
    /// When the answer may be forgotten, in milliseconds since the Unix epoch.
    pub expires_ms: i64,
}

impl IdempotencyKey {
    pub(super) fn check(&self) -> Result<(), Error> {
        if self.key.is_empty()
            || self.key.len() > journal_format::MAX_IDEMPOTENCY_KEY
            || !self.key.bytes().all(|b| b.is_ascii_graphic() || b == b' ')
            || self.principal.len() > journal_format::MAX_IDEMPOTENCY_KEY
        {
            return Err(Error::new(
                Kind::Parse,
                "an idempotency key is 1 to 255 characters of printable ASCII, and its \
                 principal at most 255 bytes",
            ));
        }
        Ok(())
    }
}

impl Store {
    /// Keeps `answer`, a response, for idempotency key `key` until it expires (for requests
    /// that are not bookings: [`Store::book`] keeps a booking for its key itself). Returns
    /// once it is on disk.
    ///
    /// # Errors
    ///
    /// [`Error::is_parse`] for a key or principal that is too long, an answer that is not a
    /// response, a status outside 100 to 599 or a body over 64 KiB; [`Error::is_io`] when
    /// the journal write failed.
    pub fn remember(&self, key: &IdempotencyKey, answer: Answer) -> Result<(), Error> {
        decide::remembered(key, &answer)?;
        let answer = Remembered {
            key: key.key.clone(),
            principal: key.principal.clone(),
            fingerprint: key.fingerprint,
            expires_ms: key.expires_ms,
            answer,
        };
        self.journal.append(&Record::Remember(answer))?;
        self.compact_journal_if_due(false)
    }

    /// The answer kept for idempotency key `key` of `principal`, if it has not expired.
    pub fn remembered(&self, principal: &str, key: &str) -> Option<Remembered> {
        self.journal
            .remembered(principal, key)
            .filter(|answer| answer.expires_ms > now_ms())
    }
}
