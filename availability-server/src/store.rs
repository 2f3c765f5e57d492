//! The calendars: `availability_core::store`, opened in the data directory.
//!
//! Routes use the core's store directly: a read is one lock-free lookup that shares the
//! calendar's `Arc`, with nothing copied or converted. Writes block until their page is on
//! disk, so routes run them on tokio's blocking pool.

use std::path::Path;
use std::sync::Arc;

pub use availability_core::store::{
    Authority, Calendar, Change, Expected, Group, IdempotencyKey, KeyHash, KeyScope, Remembered,
    Store, DEFAULT_CALENDAR,
};

use crate::wire::Problem;

/// The file of the store inside the data directory.
pub const STORE_FILE: &str = "availability.store";

/// Opens (or creates) the store in `data_dir`.
///
/// # Errors
///
/// The store's own message: which file, which record and what failed.
pub fn open(data_dir: &Path) -> Result<Arc<Store>, String> {
    std::fs::create_dir_all(data_dir)
        .map_err(|e| format!("creating the data directory {}: {e}", data_dir.display()))?;
    Store::open(data_dir.join(STORE_FILE))
        .map(Arc::new)
        .map_err(|e| e.to_string())
}

/// The HTTP answer to a store refusal. The store's messages are written for the client
/// (they name the calendar, the key or the version); a full disk is 507, which says so
/// without naming the file; any other failure of the store itself (I/O) is logged and
/// answered with a bare 500.
pub fn problem(what: &str, err: availability_core::Error) -> Problem {
    if err.is_storage_full() {
        Problem::insufficient_storage(what, err)
    } else if err.is_unauthorized() {
        // As any request with a revoked key is answered.
        Problem::unauthorized(err.to_string())
    } else if err.is_forbidden() {
        Problem::forbidden(err.to_string())
    } else if err.is_last_admin_key() {
        Problem::conflict(err.to_string())
    } else if err.is_not_found() {
        Problem::not_found(err.to_string())
    } else if err.is_already_exists() || err.is_capacity() || err.is_conflict() {
        Problem::conflict(err.to_string())
    } else if err.is_invalid_span() {
        Problem::unprocessable(err.to_string())
    } else if err.is_version_mismatch() {
        Problem::precondition_failed(err.to_string())
    } else if err.is_parse() || err.is_invalid_entry() || err.is_too_many_entries() {
        Problem::bad_request(err.to_string())
    } else {
        Problem::internal(what, err)
    }
}
