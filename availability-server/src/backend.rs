//! The production implementations of the [`crate::state`] traits, over
//! `availability_core::store` and `availability_core::tz`.
//!
//! Both core modules are still being written; until they are in, opening the store fails
//! with a message that says so, and the binary exits instead of serving anything that is
//! not real.

use std::path::Path;
use std::sync::Arc;

use crate::state::{Backend, Interval, IsoWeek, Zones};

/// Opens the store in `data_dir`.
///
/// # Errors
///
/// Always, for now: this build has no store.
pub fn open(data_dir: &Path) -> Result<Arc<dyn Backend>, String> {
    Err(format!(
        "cannot open the store in {}: this build does not include the store \
         (availability_core::store) yet",
        data_dir.display()
    ))
}

/// The time-zone engine.
pub fn zones() -> Arc<dyn Zones> {
    Arc::new(Unavailable)
}

/// The time-zone engine of a build without one: every view is refused.
#[derive(Debug)]
struct Unavailable;

const MISSING: &str = "this build does not include the time-zone engine yet";

impl Zones for Unavailable {
    fn zone(&self, _: &str) -> Result<String, String> {
        Err(MISSING.into())
    }
    fn week(&self, _: &str, _: Option<&str>, _: i64) -> Result<IsoWeek, String> {
        Err(MISSING.into())
    }
    fn view(
        &self,
        _: &str,
        _: &str,
        _: &IsoWeek,
        _: &availability_core::Week,
    ) -> Result<availability_core::Week, String> {
        Err(MISSING.into())
    }
    fn intervals(
        &self,
        _: &str,
        _: &str,
        _: &IsoWeek,
        _: &availability_core::Week,
    ) -> Result<Vec<Interval>, String> {
        Err(MISSING.into())
    }
}
