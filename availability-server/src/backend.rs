//! The production implementations of the [`crate::state`] traits, over
//! `availability_core::store` and `availability_core::tz`.

use std::path::Path;
use std::sync::Arc;

use availability_core::store::{self, Store};
use availability_core::tz::{self, PlanCache, Zone};
use availability_core::{Error, Week};

use crate::state::{Backend, Calendar, Change, Interval, IsoWeek, KeyHash, StoreError, Zones};

/// The file of the store inside the data directory.
pub const STORE_FILE: &str = "availability.store";

/// Opens (or creates) the store in `data_dir`.
///
/// # Errors
///
/// The store's own message: which file, which record and what failed.
pub fn open(data_dir: &Path) -> Result<Arc<dyn Backend>, String> {
    std::fs::create_dir_all(data_dir)
        .map_err(|e| format!("creating the data directory {}: {e}", data_dir.display()))?;
    let store = Store::open(data_dir.join(STORE_FILE)).map_err(|e| e.to_string())?;
    Ok(Arc::new(StoreBackend { store }))
}

/// [`Backend`] over the core's store.
#[derive(Debug)]
pub struct StoreBackend {
    store: Store,
}

fn convert(c: &store::Calendar) -> Arc<Calendar> {
    Arc::new(Calendar {
        id: c.id().to_owned(),
        zone: c.zone().to_owned(),
        version: c.version(),
        updated: c.changed_at_unix_ms().div_euclid(1000),
        week: c.week(),
        keys: c.keys().iter().map(key_from_store).collect(),
    })
}

fn key_from_store(k: &store::KeyHash) -> KeyHash {
    KeyHash {
        id: k.id().to_owned(),
        hash: k.hash().to_owned(),
    }
}

fn key_to_store(k: KeyHash) -> Result<store::KeyHash, StoreError> {
    store::KeyHash::new(k.id, k.hash).map_err(|e| StoreError::Invalid(e.to_string()))
}

impl StoreBackend {
    fn error(&self, id: &str, e: Error) -> StoreError {
        if e.is_not_found() {
            StoreError::NotFound
        } else if e.is_already_exists() {
            StoreError::AlreadyExists
        } else if e.is_version_mismatch() {
            StoreError::VersionMismatch {
                current: self.store.get(id).map_or(0, |c| c.version()),
            }
        } else if e.is_capacity() {
            StoreError::Capacity(e.to_string())
        } else if e.is_parse() || e.is_invalid_entry() || e.is_too_many_entries() {
            StoreError::Invalid(e.to_string())
        } else {
            StoreError::Failed(e.to_string())
        }
    }
}

impl Backend for StoreBackend {
    fn get(&self, id: &str) -> Option<Arc<Calendar>> {
        self.store.get(id).map(|c| convert(&c))
    }

    fn list(&self) -> Vec<Arc<Calendar>> {
        self.store.list().iter().map(|c| convert(c)).collect()
    }

    fn create(
        &self,
        id: &str,
        zone: &str,
        key: Option<KeyHash>,
    ) -> Result<Arc<Calendar>, StoreError> {
        let created = self.store.create(id, zone).map_err(|e| self.error(id, e))?;
        match key {
            None => Ok(convert(&created)),
            Some(key) => {
                let change = store::Change::AddKey(key_to_store(key)?);
                self.store
                    .commit(id, Some(created.version()), &change)
                    .map(|c| convert(&c))
                    .map_err(|e| self.error(id, e))
            }
        }
    }

    fn delete(&self, id: &str) -> Result<(), StoreError> {
        self.store.delete(id).map_err(|e| self.error(id, e))
    }

    fn commit(
        &self,
        id: &str,
        change: Change,
        expected: Option<u64>,
    ) -> Result<Arc<Calendar>, StoreError> {
        let change = match change {
            Change::Apply(batch) => store::Change::Apply(batch),
            Change::Replace(batch) => store::Change::Replace(batch),
            Change::SetZone(zone) => store::Change::SetZone(zone),
            Change::AddKey(key) => store::Change::AddKey(key_to_store(key)?),
            Change::RemoveKey(key_id) => store::Change::RemoveKey(key_id),
        };
        self.store
            .commit(id, expected, &change)
            .map(|c| convert(&c))
            .map_err(|e| self.error(id, e))
    }

    fn admin_keys(&self) -> Vec<KeyHash> {
        self.store.admin_keys().iter().map(key_from_store).collect()
    }

    fn add_admin_key(&self, key: KeyHash) -> Result<(), StoreError> {
        self.store
            .add_admin_key(key_to_store(key)?)
            .map_err(|e| self.error("", e))
    }

    fn flush(&self) -> Result<(), StoreError> {
        // Every acknowledged commit is already on disk: each one flushes its own page.
        Ok(())
    }
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
