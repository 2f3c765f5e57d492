//! How dated data is kept so that a write copies little: per-week planes, and maps split
//! into chunks shared between a state and the next.

use alloc::collections::BTreeMap;
use alloc::sync::Arc;

use super::types::Booking;
use crate::conflict::BookingId;
use crate::plane::Plane;
use crate::week::Week;

/// The dated planes of one owner ISO week.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub(super) struct WeekPlanes {
    /// Slots of overridden dates.
    pub(super) overridden: Plane,
    /// Those dates' statuses (zero outside `overridden`).
    pub(super) over: Week,
    /// Slots some booking claims.
    pub(super) claimed: Plane,
}

impl WeekPlanes {
    #[inline]
    pub(super) fn effective(&self, pattern: &Week) -> Week {
        let keep = |plane: Plane, over: Plane| {
            plane
                .and_not(self.overridden)
                .or(over)
                .and_not(self.claimed)
        };
        Week {
            open: keep(pattern.open, self.over.open),
            firm: keep(pattern.firm, self.over.firm),
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.overridden == Plane::EMPTY && self.claimed == Plane::EMPTY
    }
}

/// A map whose keys are split into chunks of `1 << SHIFT` consecutive keys, each chunk behind
/// its own `Arc`. A copy of the map shares every chunk; a change copies the outer map (one
/// pointer per chunk) and the one chunk it touches, so what a write copies does not grow with
/// everything the map holds. It keeps no empty chunk, so equal contents are equal maps.
#[derive(Clone, PartialEq, Eq)]
pub(super) struct Chunked<K, V, const SHIFT: u32> {
    pub(super) chunks: BTreeMap<i64, Arc<BTreeMap<K, V>>>,
}

/// A key of a [`Chunked`] map: a whole number, and so the chunk it falls in.
pub(super) trait ChunkKey: Ord + Copy {
    fn chunk(self, shift: u32) -> i64;
}

impl ChunkKey for i64 {
    fn chunk(self, shift: u32) -> i64 {
        self >> shift
    }
}

impl ChunkKey for BookingId {
    fn chunk(self, shift: u32) -> i64 {
        i64::try_from(self.0 >> shift).unwrap_or(i64::MAX)
    }
}

impl<K, V, const SHIFT: u32> Default for Chunked<K, V, SHIFT> {
    fn default() -> Self {
        Chunked {
            chunks: BTreeMap::new(),
        }
    }
}

impl<K: ChunkKey, V: Clone, const SHIFT: u32> Chunked<K, V, SHIFT> {
    pub(super) fn is_empty(&self) -> bool {
        self.chunks.is_empty()
    }

    pub(super) fn get(&self, key: K) -> Option<&V> {
        self.chunks.get(&key.chunk(SHIFT))?.get(&key)
    }

    /// The entries with keys `first..=last`, in order.
    pub(super) fn range(&self, first: K, last: K) -> impl Iterator<Item = (&K, &V)> + '_ {
        self.chunks
            .range(first.chunk(SHIFT)..=last.chunk(SHIFT))
            .flat_map(move |(_, chunk)| chunk.range(first..=last))
    }

    /// Every value, by key.
    pub(super) fn values(&self) -> impl Iterator<Item = &V> + '_ {
        self.chunks.values().flat_map(|chunk| chunk.values())
    }

    /// Sets `key` to `value`; the value it had, if any.
    pub(super) fn insert(&mut self, key: K, value: V) -> Option<V> {
        Arc::make_mut(self.chunks.entry(key.chunk(SHIFT)).or_default()).insert(key, value)
    }

    /// Removes `key`; its value, if it had one. A key it does not hold copies nothing.
    pub(super) fn remove(&mut self, key: K) -> Option<V> {
        let at = key.chunk(SHIFT);
        let shared = self.chunks.get_mut(&at)?;
        if !shared.contains_key(&key) {
            return None;
        }
        let chunk = Arc::make_mut(shared);
        let value = chunk.remove(&key);
        if chunk.is_empty() {
            self.chunks.remove(&at);
        }
        value
    }
}

/// Per owner week number, its planes, 16 weeks to a chunk; no week whose planes are empty.
pub(super) type Weeks = Chunked<i64, WeekPlanes, 4>;

impl Weeks {
    /// Changes week `n`'s planes (empty ones when it has none), dropping them if that leaves
    /// them empty.
    pub(super) fn update(&mut self, n: i64, change: impl FnOnce(&mut WeekPlanes)) {
        let mut planes = self.get(n).copied().unwrap_or_default();
        change(&mut planes);
        if planes.is_empty() {
            self.remove(n);
        } else {
            self.insert(n, planes);
        }
    }
}

/// How many bookings' ids share a chunk of a [`Ledger`], as a power of two: 64.
const LEDGER_SHIFT: u32 = 6;

/// A calendar's bookings by id, `1 << LEDGER_SHIFT` consecutive ids to a chunk.
#[derive(Clone)]
pub(super) struct Ledger {
    pub(super) chunks: Chunked<BookingId, Arc<Booking>, LEDGER_SHIFT>,
    /// Per chunk of `chunks`: no booking it holds starts before the first or ends after the
    /// second. Widened by each insert and kept through removals (still a bound), so a search
    /// by time skips the chunks that lie elsewhere: ids are given in the order bookings are
    /// made, which for most calendars is close to the order of their times.
    bounds: BTreeMap<i64, (i64, i64)>,
    pub(super) len: usize,
    /// No booking ends before this: a lower bound, exact after each pass of
    /// [`Dated::compact_before`](super::Dated::compact_before) that drops something.
    pub(super) earliest_end: i64,
}

impl Default for Ledger {
    fn default() -> Ledger {
        Ledger {
            chunks: Chunked::default(),
            bounds: BTreeMap::new(),
            len: 0,
            earliest_end: i64::MAX,
        }
    }
}

/// The same bookings (the bound on their ends is bookkeeping).
impl PartialEq for Ledger {
    fn eq(&self, other: &Ledger) -> bool {
        self.len == other.len && self.values().eq(other.values())
    }
}

impl Eq for Ledger {}

impl Ledger {
    pub(super) fn get(&self, id: BookingId) -> Option<&Arc<Booking>> {
        self.chunks.get(id)
    }

    pub(super) fn insert(&mut self, booking: Arc<Booking>) {
        self.earliest_end = self.earliest_end.min(booking.end);
        let bound = self
            .bounds
            .entry(booking.id.chunk(LEDGER_SHIFT))
            .or_insert((booking.start, booking.end));
        *bound = (bound.0.min(booking.start), bound.1.max(booking.end));
        if self.chunks.insert(booking.id, booking).is_none() {
            self.len += 1;
        }
    }

    pub(super) fn remove(&mut self, id: BookingId) -> Option<Arc<Booking>> {
        let booking = self.chunks.remove(id)?;
        self.len -= 1;
        let at = id.chunk(LEDGER_SHIFT);
        if !self.chunks.chunks.contains_key(&at) {
            self.bounds.remove(&at);
        }
        Some(booking)
    }

    /// Every booking, by id.
    pub(super) fn values(&self) -> impl Iterator<Item = &Arc<Booking>> + '_ {
        self.chunks.values()
    }

    /// Every booking whose span overlaps `[from, to)`, and maybe others: those of the chunks
    /// whose bounds overlap it.
    pub(super) fn near(&self, from: i64, to: i64) -> impl Iterator<Item = &Arc<Booking>> + '_ {
        self.bounds
            .iter()
            .filter(move |(_, (start, end))| *start < to && from < *end)
            .filter_map(|(at, _)| self.chunks.chunks.get(at))
            .flat_map(|chunk| chunk.values())
    }

    pub(super) fn len(&self) -> usize {
        self.len
    }
}
