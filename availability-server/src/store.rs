//! The calendars: `availability_core::store`, opened in the data directory.
//!
//! Routes use the core's store directly: a read is one lock-free lookup that shares the
//! calendar's `Arc`, with nothing copied or converted. Writes block until their page is on
//! disk, so routes run them on tokio's blocking pool.

use std::path::Path;
use std::sync::Arc;

pub use availability_core::store::{
    Answer, Authority, Calendar, Change, Expected, Group, IdempotencyKey, KeyHash, KeyScope,
    Remembered, Store, DEFAULT_CALENDAR,
};

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
