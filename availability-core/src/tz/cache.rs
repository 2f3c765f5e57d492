//! [`PlanCache`]: bounded, thread-safe reuse of plans.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::error::Error;
use crate::tz::{IsoWeek, Plan, Zone};

type Key = (Zone, Zone, IsoWeek);

/// A bounded map from (owner zone, viewer zone, week) to its [`Plan`], shared between threads.
///
/// A hit costs a lock, a hash lookup and an `Arc` clone, so a hot view costs little more than
/// [`Plan::apply`]. A miss builds the plan outside the lock (two threads missing the same key
/// may both build it; both results are equal) and, when the cache is full, evicts the entry
/// used longest ago. The lock is a plain mutex: it is held only for the lookup or the insertion.
///
/// ```
/// use availability_core::tz::{PlanCache, Zone};
///
/// let cache = PlanCache::new(1024);
/// let week = "2026-W48".parse()?;
/// let plan = cache.get(Zone::UTC, "Asia/Tokyo".parse()?, week)?;
/// let again = cache.get(Zone::UTC, "Asia/Tokyo".parse()?, week)?;
/// assert!(std::sync::Arc::ptr_eq(&plan, &again));
/// assert_eq!(cache.len(), 1);
/// # Ok::<(), availability_core::Error>(())
/// ```
#[derive(Debug)]
pub struct PlanCache {
    capacity: usize,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// Each plan with the tick of its last use.
    plans: HashMap<Key, (Arc<Plan>, u64)>,
    tick: u64,
}

impl PlanCache {
    /// A cache that keeps at most `capacity` plans (at least one).
    pub fn new(capacity: usize) -> PlanCache {
        PlanCache {
            capacity: capacity.max(1),
            inner: Mutex::new(Inner::default()),
        }
    }

    /// The plan of this view, from the cache or built and remembered.
    ///
    /// # Errors
    ///
    /// As [`Plan::new`]; failures are not cached.
    pub fn get(&self, owner: Zone, viewer: Zone, week: IsoWeek) -> Result<Arc<Plan>, Error> {
        let key = (owner, viewer, week);
        {
            let mut inner = self.lock();
            inner.tick += 1;
            let tick = inner.tick;
            if let Some((plan, used)) = inner.plans.get_mut(&key) {
                *used = tick;
                return Ok(Arc::clone(plan));
            }
        }
        let plan = Arc::new(Plan::new(owner, viewer, week)?);
        let mut inner = self.lock();
        inner.tick += 1;
        let tick = inner.tick;
        if !inner.plans.contains_key(&key) && inner.plans.len() >= self.capacity {
            let oldest = inner
                .plans
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(key, _)| *key);
            if let Some(oldest) = oldest {
                inner.plans.remove(&oldest);
            }
        }
        let (plan, _) = inner
            .plans
            .entry(key)
            .and_modify(|(_, used)| *used = tick)
            .or_insert((plan, tick));
        Ok(Arc::clone(plan))
    }

    /// How many plans the cache holds.
    pub fn len(&self) -> usize {
        self.lock().plans.len()
    }

    /// Whether the cache holds no plan.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The most plans the cache keeps.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Forgets every plan, as after the time-zone data changed.
    pub fn clear(&self) {
        self.lock().plans.clear();
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Nothing panics while the lock is held, and the map stays consistent if it did.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Default for PlanCache {
    /// A cache of 4096 plans: every zone pair a busy server sees in a few weeks.
    fn default() -> PlanCache {
        PlanCache::new(4096)
    }
}
