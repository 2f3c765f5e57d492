//! The bounded map of the render cache: lookups by a key's hash, eviction of the oldest bodies
//! when a bound would be passed, and the index by calendar that lets a write forget the bodies
//! it makes stale.

use std::collections::{HashMap, HashSet};
use std::hash::BuildHasher;
use std::sync::{Arc, Mutex};

use availability_core::store::Calendar;
use rustc_hash::FxBuildHasher;

use super::key::{GroupKey, Key, NamedKey, Owned, OwnedGroupKey};
use super::rendered::Rendered;

/// The bounded cache.
#[derive(Debug)]
pub struct Cache {
    capacity: usize,
    max_bytes: usize,
    /// A std mutex: it is held for one hash-map operation and never across an `.await`.
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// By the key's hash: the insertion time, the bytes counted for the body in `held`, and
    /// the body.
    map: HashMap<u64, (u64, usize, Arc<Rendered>), FxBuildHasher>,
    /// The sum of the counted bytes: each body's size when it came in, or when the cache last
    /// filled (its compressed forms grow it after it came in, and count from then).
    held: usize,
    /// By a hash of a calendar's id: the slots (keys of `map`) of the bodies that depend on
    /// that calendar, its own and the groups it is in. A write forgets its calendar's bodies
    /// through it instead of walking every body while the readers wait for the lock. Exact:
    /// every body is listed under each of its calendars and nowhere else ([`Inner::add`] and
    /// [`Inner::remove`] are the only ways in and out of `map`).
    by_calendar: HashMap<u64, HashSet<u64, FxBuildHasher>, FxBuildHasher>,
    /// Insertion counter, for evicting the oldest first.
    clock: u64,
}

/// The index's key for calendar `id`. Two ids may share one: a slot found under it is only
/// forgotten if its body depends on the calendar named.
fn id_hash(id: &str) -> u64 {
    FxBuildHasher.hash_one(id)
}

impl Inner {
    /// The bytes the cached bodies hold, compressed forms included: a walk over every body.
    fn bytes(&self) -> usize {
        self.map
            .values()
            .map(|(_, _, rendered)| rendered.size())
            .sum()
    }

    /// Counts every body at its size now, its compressed forms included.
    fn recount(&mut self) {
        let mut held = 0;
        for (_, counted, rendered) in self.map.values_mut() {
            *counted = rendered.size();
            held += *counted;
        }
        self.held = held;
    }

    /// Keeps `rendered` in slot `hash`, which is free.
    fn add(&mut self, hash: u64, rendered: Arc<Rendered>) {
        for id in rendered.key.calendar_ids() {
            self.by_calendar
                .entry(id_hash(id))
                .or_default()
                .insert(hash);
        }
        self.clock += 1;
        let size = rendered.size();
        self.held += size;
        self.map.insert(hash, (self.clock, size, rendered));
    }

    /// Drops the body in slot `hash`, if there is one.
    fn remove(&mut self, hash: u64) {
        let Some((_, counted, rendered)) = self.map.remove(&hash) else {
            return;
        };
        self.held -= counted;
        for id in rendered.key.calendar_ids() {
            let at = id_hash(id);
            if let Some(slots) = self.by_calendar.get_mut(&at) {
                slots.remove(&hash);
                if slots.is_empty() {
                    self.by_calendar.remove(&at);
                }
            }
        }
    }

    /// Whether `by_calendar` lists exactly the bodies in `map` under each of their calendars.
    #[cfg(test)]
    fn index_is_exact(&self) -> bool {
        let mut expected: HashMap<u64, HashSet<u64, FxBuildHasher>, FxBuildHasher> =
            HashMap::default();
        for (hash, (_, _, rendered)) in &self.map {
            for id in rendered.key.calendar_ids() {
                expected.entry(id_hash(id)).or_default().insert(*hash);
            }
        }
        let held: usize = self.map.values().map(|(_, counted, _)| counted).sum();
        expected == self.by_calendar && held == self.held
    }

    /// Drops the oldest bodies until at most `entries` and `bytes` remain, every body counted
    /// at its size now.
    fn shrink_to(&mut self, entries: usize, bytes: usize) {
        self.recount();
        if self.map.len() <= entries && self.held <= bytes {
            return;
        }
        let mut by_age: Vec<(u64, u64)> = self
            .map
            .iter()
            .map(|(hash, (age, _, _))| (*age, *hash))
            .collect();
        by_age.sort_unstable();
        for (_, hash) in by_age {
            if self.map.len() <= entries && self.held <= bytes {
                break;
            }
            self.remove(hash);
        }
    }
}

impl Cache {
    /// A cache holding at most `capacity` bodies (at least one) and about `max_bytes` of them,
    /// compressed forms included.
    pub fn new(capacity: usize, max_bytes: usize) -> Cache {
        Cache {
            capacity: capacity.max(1),
            max_bytes,
            inner: Mutex::new(Inner::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The body for `key`, if cached.
    pub fn get(&self, key: &Key<'_>) -> Option<Arc<Rendered>> {
        let hash = key.slot_hash();
        let inner = self.lock();
        let (_, _, rendered) = inner.map.get(&hash)?;
        match &rendered.key {
            Owned::One(owned) if owned.matches(key) => Some(Arc::clone(rendered)),
            _ => None,
        }
    }

    /// The answer for a group's `key`, if cached.
    pub fn get_group(&self, key: &GroupKey<'_>) -> Option<Arc<Rendered>> {
        let hash = key.slot_hash();
        let inner = self.lock();
        let (_, _, rendered) = inner.map.get(&hash)?;
        match &rendered.key {
            Owned::Group(owned) if owned.matches(key) => Some(Arc::clone(rendered)),
            _ => None,
        }
    }

    /// The answer for a named group's `key`, if cached.
    pub fn get_named(&self, key: &NamedKey<'_>) -> Option<Arc<Rendered>> {
        let hash = key.slot_hash();
        let inner = self.lock();
        let (_, _, rendered) = inner.map.get(&hash)?;
        match &rendered.key {
            Owned::Group(owned) if owned.matches_named(key) => Some(Arc::clone(rendered)),
            _ => None,
        }
    }

    /// Keeps `rendered` (made by [`Rendered::new`] or [`Rendered::for_group`]). When the cache
    /// would pass its count or its bytes, the oldest bodies go first, down to three quarters
    /// of either bound, so that a full cache does not sort itself on every miss. A body counts
    /// at its size when it comes in; its compressed forms made later count from the next time
    /// the cache fills, when every body is counted again. So an insert costs the same whatever
    /// the cache holds, but for the eviction, which is rare. A body whose key hashes like
    /// another's replaces it.
    pub fn insert(&self, rendered: Arc<Rendered>) {
        self.insert_checked(rendered, |_| true);
    }

    /// [`Cache::insert`], except that a named group's answer (found later without its
    /// members' versions, [`NamedKey`]) is kept only if `current` says that each member it was
    /// computed from is still the store's current version. `current` is asked under the
    /// cache's lock, and a write publishes its version before it forgets its calendar's
    /// bodies under that lock: so either the answer is not kept, or the write's forgetting
    /// comes after it and drops it.
    pub fn insert_checked(
        &self,
        rendered: Arc<Rendered>,
        current: impl Fn(&Arc<Calendar>) -> bool,
    ) {
        let hash = rendered.key.slot_hash();
        let size = rendered.size();
        let mut inner = self.lock();
        if let Owned::Group(OwnedGroupKey {
            group: Some(_),
            members,
            ..
        }) = &rendered.key
        {
            if !members.iter().all(current) {
                return;
            }
        }
        inner.remove(hash);
        let full =
            inner.map.len() >= self.capacity || inner.held.saturating_add(size) > self.max_bytes;
        if full {
            let entries = (self.capacity * 3 / 4).max(1) - 1;
            let bytes = (self.max_bytes / 4 * 3).saturating_sub(size);
            inner.shrink_to(entries, bytes);
        }
        inner.add(hash, rendered);
    }

    /// Drops every body of calendar `id` (and every group answer it is part of): called when
    /// its version moves on, since bodies of an old version can never be served again. Costs
    /// what those bodies are, not what the cache holds.
    pub fn forget(&self, id: &str) {
        let mut inner = self.lock();
        let Some(slots) = inner.by_calendar.get(&id_hash(id)) else {
            return;
        };
        let doomed: Vec<u64> = slots
            .iter()
            .copied()
            .filter(|hash| {
                inner
                    .map
                    .get(hash)
                    .is_some_and(|(_, _, rendered)| rendered.key.calendar_ids().any(|c| c == id))
            })
            .collect();
        for hash in doomed {
            inner.remove(hash);
        }
    }

    /// The bytes the cached bodies hold, compressed forms included.
    pub fn bytes(&self) -> usize {
        self.lock().bytes()
    }

    /// How many bodies are cached.
    pub fn len(&self) -> usize {
        self.lock().map.len()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use availability_core::tz::{IsoWeek, Zone};
    use bytes::Bytes;

    use super::*;
    use crate::cache::fixture::fixture;
    use crate::cache::key::tests::key;
    use crate::cache::key::Format;
    use crate::cache::rendered::tests::rendered;
    use crate::wire::coding::Encoding;

    #[test]
    fn bounded_and_keeps_the_newest() {
        let f = fixture();
        let cache = Cache::new(4, usize::MAX);
        let keys: Vec<Key<'_>> = (1..=10)
            .map(|w| Key {
                week: IsoWeek::new(2026, w).expect("a week"),
                ..key(&f.c1)
            })
            .collect();
        for k in &keys {
            cache.insert(rendered(k, "body"));
            assert!(cache.len() <= 4);
        }
        assert!(cache.get(&keys[9]).is_some());
        assert!(cache.get(&keys[0]).is_none());
    }

    #[test]
    fn bounded_in_bytes_compressed_forms_included() {
        let f = fixture();
        let cache = Cache::new(1000, 10_000);
        let body = "Time,Monday\r\n".repeat(100); // 1,300 bytes
        for w in 1..=40 {
            let k = Key {
                week: IsoWeek::new(2026, w).expect("a week"),
                format: Format::Csv,
                ..key(&f.c1)
            };
            let r = rendered(&k, &body);
            let _ = r.encoded(Encoding::Gzip);
            cache.insert(r);
            assert!(
                cache.bytes() <= 10_000,
                "{} bytes after week {w}",
                cache.bytes()
            );
        }
        assert!(cache.len() >= 4, "{} bodies", cache.len());
        // The newest stays.
        let newest = Key {
            week: IsoWeek::new(2026, 40).expect("a week"),
            format: Format::Csv,
            ..key(&f.c1)
        };
        assert!(cache.get(&newest).is_some());
    }

    #[test]
    fn forgetting_a_calendar_drops_its_bodies_and_its_groups() {
        let f = fixture();
        let cache = Cache::new(100, usize::MAX);
        cache.insert(rendered(&key(&f.c1), "c1"));
        cache.insert(rendered(&key(&f.d1), "d1"));
        let members = [Arc::clone(&f.c1), Arc::clone(&f.d1)];
        let group = GroupKey {
            group: None,
            members: &members,
            viewer: Zone::UTC,
            week: IsoWeek::new(2026, 48).expect("a week"),
            format: Format::Json,
            min: 2,
        };
        cache.insert(Arc::new(Rendered::for_group(&group, b"{}".to_vec())));
        assert_eq!(cache.len(), 3);
        cache.forget("c");
        assert_eq!(cache.len(), 1);
        assert!(cache.get(&key(&f.d1)).is_some());
        assert!(cache.get_group(&group).is_none());
    }

    /// A named group's answer is found by the group alone, so it is kept only if every member
    /// it was computed from is still current, and forgetting any member drops it.
    #[test]
    fn a_named_groups_answer_is_kept_only_while_its_members_are_current() {
        let f = fixture();
        let cache = Cache::new(100, usize::MAX);
        let week = IsoWeek::new(2026, 48).expect("a week");
        let named = |group| NamedKey {
            group,
            viewer: Zone::UTC,
            week,
            format: Format::Json,
            min: 2,
        };
        let answer = |members: &[Arc<Calendar>]| {
            let key = GroupKey {
                group: Some(&f.group),
                members,
                viewer: Zone::UTC,
                week,
                format: Format::Json,
                min: 2,
            };
            Arc::new(Rendered::for_group(&key, b"{}".to_vec()))
        };
        // `c1` is the version of `c` that `c2` replaced.
        let current = |c: &Arc<Calendar>| !Arc::ptr_eq(c, &f.c1);

        cache.insert_checked(answer(&[Arc::clone(&f.c1), Arc::clone(&f.d1)]), current);
        assert_eq!(cache.len(), 0, "computed from a superseded member");
        assert!(cache.get_named(&named(&f.group)).is_none());

        let members = [Arc::clone(&f.c2), Arc::clone(&f.d1)];
        cache.insert_checked(answer(&members), current);
        assert!(cache.get_named(&named(&f.group)).is_some());
        assert!(cache
            .get_named(&NamedKey {
                min: 1,
                ..named(&f.group)
            })
            .is_none());
        assert!(
            cache.get_named(&named(&f.regrouped)).is_none(),
            "a new definition of the group is another answer"
        );
        let adhoc = GroupKey {
            group: None,
            members: &members,
            viewer: Zone::UTC,
            week,
            format: Format::Json,
            min: 2,
        };
        assert!(
            cache.get_group(&adhoc).is_none(),
            "a question naming the members"
        );

        cache.forget("d");
        assert!(cache.get_named(&named(&f.group)).is_none());
        assert_eq!(cache.len(), 0);
    }

    /// Inserts (some replacing a colliding slot), evictions and forgets in a long mixed run:
    /// after each, the index lists exactly the cached bodies, and a forgotten calendar has
    /// no body left, on its own or in a group.
    #[test]
    fn the_index_follows_every_insert_eviction_and_forget() {
        let f = fixture();
        let cache = Cache::new(12, usize::MAX);
        let pairs = [
            [Arc::clone(&f.c1), Arc::clone(&f.d1)],
            [Arc::clone(&f.d1), Arc::clone(&f.c2)],
        ];
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for step in 0..2_000 {
            // xorshift: a fixed, well-spread sequence.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let week = IsoWeek::new(2026, 1 + (state % 20) as u32).expect("a week");
            match state >> 60 {
                0..=5 => {
                    let calendar = [&f.c1, &f.c2, &f.d1][(state >> 8) as usize % 3];
                    let k = Key {
                        week,
                        ..key(calendar)
                    };
                    cache.insert(rendered(&k, "body"));
                }
                6..=11 => {
                    let group = GroupKey {
                        group: None,
                        members: &pairs[(state >> 8) as usize % 2],
                        viewer: Zone::UTC,
                        week,
                        format: Format::Json,
                        min: 1,
                    };
                    cache.insert(Arc::new(Rendered::for_group(&group, b"{}".to_vec())));
                }
                _ => {
                    let id = ["c", "d", "nobody"][(state >> 8) as usize % 3];
                    cache.forget(id);
                    let inner = cache.lock();
                    assert!(
                        inner
                            .map
                            .values()
                            .all(|(_, _, r)| r.key.calendar_ids().all(|c| c != id)),
                        "a body of {id} outlived its forget at step {step}"
                    );
                }
            }
            let inner = cache.lock();
            assert!(inner.map.len() <= 12);
            assert!(inner.index_is_exact(), "the index drifted at step {step}");
        }
    }

    #[test]
    fn a_hit_needs_the_same_calendar_version_and_view() {
        let f = fixture();
        let cache = Cache::new(8, usize::MAX);
        let a = key(&f.c1);
        cache.insert(rendered(&a, "c1"));
        assert_eq!(
            cache.get(&a).map(|r| r.body.clone()),
            Some(Bytes::from("c1"))
        );
        assert!(cache.get(&key(&f.c2)).is_none(), "a newer version");
        assert!(cache.get(&key(&f.d1)).is_none(), "another calendar");
        let c1_again = Arc::new(Calendar::clone(&f.c1));
        assert!(
            cache.get(&key(&c1_again)).is_none(),
            "an equal calendar in another allocation is not assumed to be the same"
        );
        assert!(cache
            .get(&Key {
                viewer: Zone::new("Asia/Tokyo").expect("zone"),
                ..a
            })
            .is_none());
        assert!(cache
            .get(&Key {
                format: Format::Csv,
                ..a
            })
            .is_none());
    }

    #[test]
    fn a_colliding_key_is_a_miss() {
        // A body stored under another key's hash is never served for that key.
        let f = fixture();
        let cache = Cache::new(8, usize::MAX);
        let a = key(&f.c1);
        let b = key(&f.d1);
        cache.lock().add(a.slot_hash(), rendered(&b, "d1"));
        assert!(cache.get(&a).is_none());
    }
}
