//! The production implementations of the [`crate::state`] traits, over
//! `availability_core::store` and `availability_core::tz`.
//!
//! The store is still being written; until it is in, opening it fails with a message that
//! says so, and the binary exits instead of serving anything that is not real.

use std::path::Path;
use std::sync::Arc;

use availability_core::tz::{self, PlanCache, Zone};
use availability_core::{Error, Week};

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

/// The time-zone engine: the core's plans, cached.
pub fn zones() -> Arc<dyn Zones> {
    Arc::new(CoreZones::new(PLANS))
}

/// How many (owner zone, viewer zone, week) plans to keep.
const PLANS: usize = 4096;

/// [`Zones`] over `availability_core::tz`, with a [`PlanCache`] so that a repeated view costs
/// one plan application.
#[derive(Debug)]
pub struct CoreZones {
    plans: PlanCache,
}

impl CoreZones {
    /// An engine keeping at most `plans` plans.
    pub fn new(plans: usize) -> CoreZones {
        CoreZones {
            plans: PlanCache::new(plans),
        }
    }

    fn plan(&self, owner: &str, viewer: &str, week: &IsoWeek) -> Result<Arc<tz::Plan>, String> {
        let owner = Zone::new(owner).map_err(|e| e.to_string())?;
        let viewer = Zone::new(viewer).map_err(|e| e.to_string())?;
        let week: tz::IsoWeek = week.label.parse().map_err(|e: Error| e.to_string())?;
        self.plans
            .get(owner, viewer, week)
            .map_err(|e| e.to_string())
    }
}

impl Zones for CoreZones {
    fn zone(&self, name: &str) -> Result<String, String> {
        Zone::new(name)
            .map(|zone| zone.name().to_owned())
            .map_err(|e| e.to_string())
    }

    fn week(&self, zone: &str, param: Option<&str>, now_unix: i64) -> Result<IsoWeek, String> {
        let week = match param {
            Some(text) => text.parse::<tz::IsoWeek>(),
            None => Zone::new(zone).and_then(|zone| tz::IsoWeek::at(zone, now_unix)),
        }
        .map_err(|e| e.to_string())?;
        Ok(IsoWeek {
            label: week.to_string(),
            dates: week.dates().map(|date| date.to_string()),
        })
    }

    fn view(
        &self,
        owner: &str,
        viewer: &str,
        week: &IsoWeek,
        stored: &Week,
    ) -> Result<Week, String> {
        Ok(self.plan(owner, viewer, week)?.apply(stored))
    }

    fn intervals(
        &self,
        owner: &str,
        viewer: &str,
        week: &IsoWeek,
        stored: &Week,
    ) -> Result<Vec<Interval>, String> {
        Ok(self
            .plan(owner, viewer, week)?
            .intervals(stored)
            .into_iter()
            .map(|interval| Interval {
                start: interval.start.to_string(),
                end: interval.end.to_string(),
                status: interval.status,
            })
            .collect())
    }
}
