//! The directory of published calendars: looked up by id, listed in id order.
//!
//! Lookups go to one of [`SHARDS`] hash maps, picked by the id's hash; each shard is a
//! snapshot behind `arc-swap`, so readers never lock. A create or a delete (made under the
//! writer lock, one at a time) copies only its id's shard: at a million calendars that is
//! about 250 entries, a few microseconds, where one map for all would copy them all. The
//! listing order is a persistent B-tree of the same ids (`imbl`), also a snapshot, of which
//! a write copies one path.
//!
//! Ids reach the directory from the network: every read looks one up, and admins choose the
//! ids it holds. A fixed hash function would let whoever can create calendars pick ids that
//! all land in one shard and one chain; foldhash is seeded at random per directory and per
//! map, so collisions cannot be precomputed.

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::hash::BuildHasher;
use core::sync::atomic::{AtomicUsize, Ordering};
use std::collections::HashMap;

use arc_swap::ArcSwap;

use super::Published;

/// How many shards a directory has (a power of two).
const SHARDS: usize = 4096;

type Shard = HashMap<Arc<str>, Arc<Published>, foldhash::fast::RandomState>;

pub(super) struct Directory {
    shards: Vec<ArcSwap<Shard>>,
    /// Which shard an id is in: the top bits of this hash of it.
    pick: foldhash::fast::RandomState,
    in_order: ArcSwap<imbl::OrdSet<Arc<str>>>,
    len: AtomicUsize,
}

impl Directory {
    /// A directory of `calendars`, whose ids are all different.
    pub(super) fn build(calendars: impl IntoIterator<Item = (Arc<str>, Arc<Published>)>) -> Self {
        let pick = foldhash::fast::RandomState::default();
        let calendars = calendars.into_iter();
        // Room for an even share and a quarter more, so that building does not grow them.
        let share = calendars.size_hint().0 / SHARDS;
        let mut shards: Vec<Shard> = (0..SHARDS)
            .map(|_| Shard::with_capacity_and_hasher(share + share / 4, Default::default()))
            .collect();
        let mut in_order = imbl::OrdSet::new();
        let mut len = 0;
        for (id, published) in calendars {
            in_order.insert(Arc::clone(&id));
            shards[shard_of(&pick, &id)].insert(id, published);
            len += 1;
        }
        // Empty shards share one map: a small store costs a pointer per shard.
        let empty = Arc::new(Shard::default());
        let shards = shards
            .into_iter()
            .map(|shard| {
                if shard.is_empty() {
                    ArcSwap::new(Arc::clone(&empty))
                } else {
                    ArcSwap::from_pointee(shard)
                }
            })
            .collect();
        Directory {
            shards,
            pick,
            in_order: ArcSwap::from_pointee(in_order),
            len: AtomicUsize::new(len),
        }
    }

    fn shard(&self, id: &str) -> &ArcSwap<Shard> {
        &self.shards[shard_of(&self.pick, id)]
    }

    /// Calendar `id`'s published state, through `f`. Lock-free.
    #[inline]
    pub(super) fn with<R>(&self, id: &str, f: impl FnOnce(&Arc<Published>) -> R) -> Option<R> {
        self.shard(id).load().get(id).map(f)
    }

    /// Whether calendar `id` is published.
    pub(super) fn contains(&self, id: &str) -> bool {
        self.shard(id).load().contains_key(id)
    }

    /// How many calendars are published.
    pub(super) fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed)
    }

    /// Publishes a new calendar. Only under the writer lock: writes to the directory are made
    /// one at a time.
    pub(super) fn insert(&self, id: Arc<str>, published: Arc<Published>) {
        let shard = self.shard(&id);
        let mut next = Shard::clone(&shard.load());
        next.insert(Arc::clone(&id), published);
        shard.store(Arc::new(next));
        let mut in_order = imbl::OrdSet::clone(&self.in_order.load());
        in_order.insert(id);
        self.in_order.store(Arc::new(in_order));
        self.len.fetch_add(1, Ordering::Relaxed);
    }

    /// Unpublishes calendar `id`. Only under the writer lock, as [`Directory::insert`].
    pub(super) fn remove(&self, id: &str) {
        let shard = self.shard(id);
        let mut next = Shard::clone(&shard.load());
        if next.remove(id).is_none() {
            return;
        }
        shard.store(Arc::new(next));
        let mut in_order = imbl::OrdSet::clone(&self.in_order.load());
        in_order.remove(id);
        self.in_order.store(Arc::new(in_order));
        self.len.fetch_sub(1, Ordering::Relaxed);
    }

    /// At most `limit` published calendars, in id order, from the first id after `after`.
    /// The ids are those of one moment; a calendar deleted while the page is made is left
    /// out.
    pub(super) fn page(&self, after: Option<&str>, limit: usize) -> Vec<Arc<Published>> {
        self.in_order
            .load()
            .range::<_, str>(super::after_id(after))
            .filter_map(|id| self.with(id, Arc::clone))
            .take(limit)
            .collect()
    }

    /// Calls `f` with every published calendar, shard by shard.
    pub(super) fn for_each(&self, mut f: impl FnMut(&Published)) {
        for shard in &self.shards {
            for published in shard.load().values() {
                f(published);
            }
        }
    }
}

fn shard_of(pick: &foldhash::fast::RandomState, id: &str) -> usize {
    // The top bits: the map in the shard uses the hash's low bits of its own hasher.
    (pick.hash_one(id) >> (64 - SHARDS.trailing_zeros())) as usize
}
