//! The directory of published calendars: looked up by id, listed in id order.
//!
//! Lookups go to one of [`SHARDS`] hash maps, picked by the id's hash; each shard is a
//! snapshot behind `arc-swap`, so readers never lock. A create or a delete (made under the
//! writer lock, one at a time) copies only its id's shard: at a million calendars that is
//! about 60 entries, a few microseconds, where one map for all would copy them all. (Copying
//! a shard touches every entry's reference counts: with 4,096 shards, 250 entries each, a
//! durable create at a million calendars cost 1.2 times its cost at 10,000, and at 16,384
//! about 1.05 times, for a lookup a tenth slower.) The
//! listing order ([`Order`]) is the ids the directory was built with, sorted, and the
//! persistent B-trees (`imbl`) of those created and deleted since, also a snapshot, of which
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
const SHARDS: usize = 1 << 14;
// A shard's number is kept in 16 bits while the directory is built.
const _: () = assert!(SHARDS <= 1 << 16);

type Shard = HashMap<Arc<str>, Arc<Published>, foldhash::fast::RandomState>;

pub(super) struct Directory {
    shards: Vec<ArcSwap<Shard>>,
    /// Which shard an id is in: the top bits of this hash of it.
    pick: foldhash::fast::RandomState,
    in_order: ArcSwap<Order>,
    len: AtomicUsize,
}

impl Directory {
    /// A directory of `calendars`, whose ids are all different (in id order, as the open
    /// hands them over, the listing order takes them as they come).
    pub(super) fn build(calendars: impl IntoIterator<Item = (Arc<str>, Arc<Published>)>) -> Self {
        let pick = foldhash::fast::RandomState::default();
        let mut in_order = Vec::new();
        let mut counts = alloc::vec![0usize; SHARDS];
        let mut by_shard: Vec<(u16, Arc<str>, Arc<Published>)> = calendars
            .into_iter()
            .map(|(id, published)| {
                in_order.push(Arc::clone(&id));
                let shard = shard_of(&pick, &id);
                counts[shard] += 1;
                // SHARDS is at most 2^16 (checked above): a shard's number fits.
                (shard as u16, id, published)
            })
            .collect();
        let len = by_shard.len();
        // In id order already, as the open hands them over; sorted for any other caller.
        if !in_order.is_sorted() {
            in_order.sort_unstable();
        }
        // Filled shard by shard, each map is in the cache while it fills: at a million
        // calendars, in the order of the ids, every insert missed it.
        by_shard.sort_unstable_by_key(|(shard, ..)| *shard);
        // Room for a quarter more than each holds, so that creates do not grow them soon.
        let mut shards: Vec<Shard> = counts
            .iter()
            .map(|&n| Shard::with_capacity_and_hasher(n + n / 4, Default::default()))
            .collect();
        for (shard, id, published) in by_shard {
            shards[usize::from(shard)].insert(id, published);
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
            in_order: ArcSwap::from_pointee(Order {
                built: in_order.into(),
                created: imbl::OrdSet::new(),
                deleted: imbl::OrdSet::new(),
            }),
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
        let mut in_order = Order::clone(&self.in_order.load());
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
        let mut in_order = Order::clone(&self.in_order.load());
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
            .after(after)
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

/// The ids of a directory in order: those it was built with (sorted: at a million
/// calendars, a B-tree of them took half a second to build at every open), less those
/// deleted since, with those created since.
#[derive(Clone)]
struct Order {
    /// The ids at the build, sorted.
    built: Arc<[Arc<str>]>,
    /// Ids created since, none of them in `built`.
    created: imbl::OrdSet<Arc<str>>,
    /// Ids of `built` deleted since.
    deleted: imbl::OrdSet<Arc<str>>,
}

impl Order {
    /// Where id `id` is in `built`, if it is.
    fn built_at(&self, id: &str) -> Option<usize> {
        self.built.binary_search_by(|b| (**b).cmp(id)).ok()
    }

    fn insert(&mut self, id: Arc<str>) {
        if self.built_at(&id).is_some() {
            self.deleted.remove(&id);
        } else {
            self.created.insert(id);
        }
    }

    fn remove(&mut self, id: &str) {
        match self.built_at(id).and_then(|at| self.built.get(at)) {
            Some(built) => {
                self.deleted.insert(Arc::clone(built));
                // A page skips the deleted ids it meets: once they are half of those built,
                // the order is built again from what it holds (a pass over the ids, once
                // every so many deletes).
                if self.deleted.len() * 2 > self.built.len() {
                    *self = Order {
                        built: self.after(None).cloned().collect(),
                        created: imbl::OrdSet::new(),
                        deleted: imbl::OrdSet::new(),
                    };
                }
            }
            None => {
                self.created.remove(id);
            }
        }
    }

    /// The ids after `after` (all of them without it), in order.
    fn after<'a>(&'a self, after: Option<&str>) -> impl Iterator<Item = &'a Arc<str>> + 'a {
        let from = after.map_or(0, |after| self.built.partition_point(|b| &**b <= after));
        let mut built = self
            .built
            .get(from..)
            .unwrap_or_default()
            .iter()
            .filter(|id| !self.deleted.contains(&***id))
            .peekable();
        let mut created = self
            .created
            .range::<_, str>(super::after_id(after))
            .peekable();
        core::iter::from_fn(move || match (built.peek(), created.peek()) {
            (Some(b), Some(c)) if c < b => created.next(),
            (Some(_), _) => built.next(),
            (None, _) => created.next(),
        })
    }
}

fn shard_of(pick: &foldhash::fast::RandomState, id: &str) -> usize {
    // The top bits: the map in the shard uses the hash's low bits of its own hasher.
    (pick.hash_one(id) >> (64 - SHARDS.trailing_zeros())) as usize
}

#[cfg(test)]
mod tests;
