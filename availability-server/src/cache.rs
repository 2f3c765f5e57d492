//! The cache of rendered bodies.
//!
//! A read renders its body once per (calendar version, viewer zone, ISO week, format), keeps
//! it as shared [`Bytes`], and serves every later request for the same key by cloning the
//! handle: no copy and no re-rendering until the calendar changes. The key names the calendar
//! version by the store's own `Arc` of it (see [`Key`]), so a calendar that is deleted and
//! created again under the same id can never be served a body of the old one. A lookup
//! borrows its key from the request and hashes it once; the map is keyed by that hash, and
//! each body keeps its whole key to tell a collision from a hit.
//!
//! Compressed forms are made on first demand, once per body, and kept beside it.
//!
//! The cache is bounded by count and by bytes: when an insertion would pass either, the oldest
//! bodies (by insertion) go, down to three quarters of the bound. That is cruder than LRU, but
//! it costs nothing on hits (no list to reorder under a lock), and what is evicted is only
//! re-rendered. A write forgets its calendar's bodies at once ([`Cache::forget`]): a body of a
//! superseded version is never served again, so it must not hold memory either.
//!
//! One kind of key names no versions: a named group's answer is found by the group alone
//! ([`NamedKey`]), so that a cached read of a large group does not look up every member. For
//! it the forgetting is what keeps answers current, together with the check made when one is
//! kept ([`Cache::insert_checked`]).

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::{Arc, Mutex, OnceLock};

use availability_core::store::{Calendar, Group};
use availability_core::tz::{IsoWeek, Zone};
use availability_core::Slot;
use bytes::Bytes;
use http::HeaderValue;
use rustc_hash::FxBuildHasher;

use crate::wire::coding::{self, Encoding, COMPRESS_FROM};
use crate::wire::etag::Tag;
use crate::wire::response::{Entity, Kind};

/// The bodies of a view.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// 336 slots as JSON.
    Json,
    /// Exact intervals as JSON.
    Intervals,
    /// RFC 4180 CSV.
    Csv,
    /// One slot as JSON.
    Slot(Slot),
    /// Per day, 48 digits (`2` available, `1` maybe, `0` unavailable), as JSON.
    View,
    /// The week as an iCalendar `VFREEBUSY` in UTC.
    Ics,
    /// The recurring pattern as an iCalendar `VAVAILABILITY` (`availability.ics`); the key's
    /// zone is the owner's and its week the first of the year its rules start in.
    Pattern,
    /// The week as a page for people (`crate::page`). It marks today and the current half
    /// hour, so the slot of now (336 when now is outside the week) is part of the key; and
    /// whether the viewer's zone was asked for (a page of the default zone lets the script
    /// choose the browser's), and on a group page the group's id (two groups of the same
    /// members have pages of their own).
    Page {
        /// The viewer slot of now, or 336.
        now: u16,
        /// Whether `?tz=` was given, in the lowest bit; above it a hash of the group's id
        /// (0 on a calendar's page).
        of: u64,
    },
}

impl Format {
    /// The `Content-Type` of the body. (Each a constant: `HeaderValue::from_static` called
    /// at run time checks every byte of its text, on every answer.)
    pub fn content_type(self) -> HeaderValue {
        const JSON: HeaderValue = HeaderValue::from_static("application/json");
        const CSV: HeaderValue =
            HeaderValue::from_static("text/csv; charset=utf-8; header=present");
        const ICS: HeaderValue = HeaderValue::from_static(crate::ics::CONTENT_TYPE);
        const HTML: HeaderValue = HeaderValue::from_static("text/html; charset=utf-8");
        match self {
            Format::Json | Format::Intervals | Format::Slot(_) | Format::View => JSON,
            Format::Csv => CSV,
            Format::Ics | Format::Pattern => ICS,
            Format::Page { .. } => HTML,
        }
    }
}

/// Everything a rendered body depends on, borrowed from the request.
///
/// The calendar is the store's `Arc` of one version of it: the store makes a new one for
/// every change, and the cache keeps the `Arc` it rendered from, so the same allocation means
/// the same calendar at the same version (with the same id, zone and week). A lookup hashes
/// the pointer, the viewer's zone, the week and the format: a few words, no allocation.
#[derive(Clone, Copy, Debug)]
pub struct Key<'a> {
    /// The calendar, as the store holds it at this version.
    pub calendar: &'a Arc<Calendar>,
    /// The viewer's zone.
    pub viewer: Zone,
    /// The viewer's ISO week.
    pub week: IsoWeek,
    /// The format.
    pub format: Format,
}

impl Key<'_> {
    /// Where the key goes in the cache's map (only within this process). The viewer's zone is
    /// a handle into the time-zone release in use, so a key of one release never finds a body
    /// of another.
    fn slot_hash(&self) -> u64 {
        // FxHash: a multiply per word. Only within the process, and a collision costs a
        // render, never a wrong body, since a hit compares the whole key.
        let mut hasher = FxBuildHasher.build_hasher();
        (Arc::as_ptr(self.calendar) as usize).hash(&mut hasher);
        (self.viewer, self.week, self.format).hash(&mut hasher);
        hasher.finish()
    }

    /// The entity tag of the body: the version (so that `If-Match` can compare it with the
    /// calendar's current version) and a hash of everything the body depends on, by value,
    /// the same in every process of the same build and time-zone release (new rules can move
    /// every slot, so the release's version is part of the hash). Quoted, as a header wants it.
    pub fn etag(&self) -> Tag {
        let c = self.calendar;
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        Zone::database_version().hash(&mut hasher);
        (c.id(), c.version(), c.zone(), c.week()).hash(&mut hasher);
        (self.viewer, self.week, self.format).hash(&mut hasher);
        Tag::of_state(c.state(), hasher.finish())
    }

    fn owned(self) -> OwnedKey {
        OwnedKey {
            calendar: Arc::clone(self.calendar),
            viewer: self.viewer,
            week: self.week,
            format: self.format,
        }
    }
}

/// Everything a group's answer depends on: its members (the store's `Arc`s of their current
/// versions, in the order asked), the viewer's zone and week, the format, and the threshold.
#[derive(Clone, Copy, Debug)]
pub struct GroupKey<'a> {
    /// The named group whose members these are, if the question named one: its answer is
    /// then found by the group ([`NamedKey`]), without the members' versions.
    pub group: Option<&'a Arc<Group>>,
    /// The members, each as the store holds it at its current version.
    pub members: &'a [Arc<Calendar>],
    /// The viewer's zone.
    pub viewer: Zone,
    /// The viewer's ISO week.
    pub week: IsoWeek,
    /// The format.
    pub format: Format,
    /// How many members must be available for a span of `format=intervals`.
    pub min: u32,
}

impl GroupKey<'_> {
    fn slot_hash(&self) -> u64 {
        if let Some(group) = self.group {
            return NamedKey {
                group,
                viewer: self.viewer,
                week: self.week,
                format: self.format,
                min: self.min,
            }
            .slot_hash();
        }
        let mut hasher = FxBuildHasher.build_hasher();
        for member in self.members {
            (Arc::as_ptr(member) as usize).hash(&mut hasher);
        }
        (self.viewer, self.week, self.format, self.min).hash(&mut hasher);
        hasher.finish()
    }

    /// The entity tag of the answer: a hash, by value, of every member's id, version and zone,
    /// the viewer's zone and week, the format, the threshold and the time-zone release. A
    /// member's write changes it.
    pub fn etag(&self) -> Tag {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        Zone::database_version().hash(&mut hasher);
        for c in self.members {
            (c.id(), c.version(), c.zone()).hash(&mut hasher);
        }
        (self.viewer, self.week, self.format, self.min).hash(&mut hasher);
        Tag::of_group(hasher.finish())
    }

    fn owned(self) -> OwnedGroupKey {
        OwnedGroupKey {
            group: self.group.cloned(),
            members: self.members.to_vec(),
            viewer: self.viewer,
            week: self.week,
            format: self.format,
            min: self.min,
        }
    }
}

/// A named group's answer, looked up by the group's `Arc` alone: a cached read of a group of a
/// thousand calendars costs one lookup, not a thousand. Nothing in the key says which versions
/// of the members the answer was computed from, so it is correct only while the cache forgets
/// it on every member's write, and keeps it only if no member had moved on when it was
/// computed ([`Cache::insert_checked`]).
#[derive(Clone, Copy, Debug)]
pub struct NamedKey<'a> {
    /// The group, as the store holds it now: a new definition is a new `Arc`.
    pub group: &'a Arc<Group>,
    /// The viewer's zone.
    pub viewer: Zone,
    /// The viewer's ISO week.
    pub week: IsoWeek,
    /// The format.
    pub format: Format,
    /// How many members must be available for a span of `format=intervals`.
    pub min: u32,
}

impl NamedKey<'_> {
    fn slot_hash(&self) -> u64 {
        let mut hasher = FxBuildHasher.build_hasher();
        (Arc::as_ptr(self.group) as usize).hash(&mut hasher);
        (self.viewer, self.week, self.format, self.min).hash(&mut hasher);
        hasher.finish()
    }
}

/// A [`GroupKey`] kept beside its body. Holding the group's and the members' `Arc`s keeps
/// their addresses from being reused while the body is cached.
#[derive(Debug)]
struct OwnedGroupKey {
    group: Option<Arc<Group>>,
    members: Vec<Arc<Calendar>>,
    viewer: Zone,
    week: IsoWeek,
    format: Format,
    min: u32,
}

impl OwnedGroupKey {
    fn matches(&self, key: &GroupKey<'_>) -> bool {
        self.group.is_none()
            && key.group.is_none()
            && self.members.len() == key.members.len()
            && self
                .members
                .iter()
                .zip(key.members)
                .all(|(a, b)| Arc::ptr_eq(a, b))
            && (self.viewer, self.week, self.format, self.min)
                == (key.viewer, key.week, key.format, key.min)
    }

    fn matches_named(&self, key: &NamedKey<'_>) -> bool {
        self.group
            .as_ref()
            .is_some_and(|g| Arc::ptr_eq(g, key.group))
            && (self.viewer, self.week, self.format, self.min)
                == (key.viewer, key.week, key.format, key.min)
    }

    fn borrow(&self) -> GroupKey<'_> {
        GroupKey {
            group: self.group.as_ref(),
            members: &self.members,
            viewer: self.viewer,
            week: self.week,
            format: self.format,
            min: self.min,
        }
    }
}

/// What a cached body answers: one calendar's view, or a group's.
#[derive(Debug)]
enum Owned {
    One(OwnedKey),
    Group(OwnedGroupKey),
}

impl Owned {
    /// The ids of the calendars the body depends on.
    fn calendar_ids(&self) -> impl Iterator<Item = &str> + '_ {
        let calendars = match self {
            Owned::One(key) => std::slice::from_ref(&key.calendar),
            Owned::Group(key) => key.members.as_slice(),
        };
        calendars.iter().map(|calendar| calendar.id())
    }

    fn slot_hash(&self) -> u64 {
        match self {
            Owned::One(key) => key.borrow().slot_hash(),
            Owned::Group(key) => key.borrow().slot_hash(),
        }
    }
}

/// A [`Key`] kept beside its body, to tell a hash collision from a hit. Holding the calendar's
/// `Arc` keeps its address from being reused by another calendar while the body is cached.
#[derive(Debug)]
struct OwnedKey {
    calendar: Arc<Calendar>,
    viewer: Zone,
    week: IsoWeek,
    format: Format,
}

impl OwnedKey {
    fn matches(&self, key: &Key<'_>) -> bool {
        Arc::ptr_eq(&self.calendar, key.calendar)
            && self.viewer == key.viewer
            && self.week == key.week
            && self.format == key.format
    }

    fn borrow(&self) -> Key<'_> {
        Key {
            calendar: &self.calendar,
            viewer: self.viewer,
            week: self.week,
            format: self.format,
        }
    }
}

/// A rendered body, its compressed forms, and the entity tag of each.
#[derive(Debug)]
pub struct Rendered {
    key: Owned,
    /// The body as rendered.
    pub body: Bytes,
    /// The entity tag of the identity form, for example `"v3-0123456789abcdef"`.
    pub etag: HeaderValue,
    /// The entity tags of the compressed forms: the identity tag with `-gzip` or `-br`.
    gzip_etag: HeaderValue,
    brotli_etag: HeaderValue,
    /// The format, for the content type.
    pub format: Format,
    gzip: OnceLock<Bytes>,
    brotli: OnceLock<Bytes>,
}

impl Rendered {
    /// The body rendered for `key`, with no compressed forms yet.
    pub fn new(key: &Key<'_>, body: Vec<u8>) -> Rendered {
        Rendered::with(Owned::One(key.owned()), key.etag(), key.format, body)
    }

    /// A group's answer rendered for `key`.
    pub fn for_group(key: &GroupKey<'_>, body: Vec<u8>) -> Rendered {
        Rendered::with(Owned::Group(key.owned()), key.etag(), key.format, body)
    }

    fn with(key: Owned, etag: Tag, format: Format, body: Vec<u8>) -> Rendered {
        Rendered {
            key,
            body: Bytes::from(body),
            gzip_etag: etag.coded("gzip").into(),
            brotli_etag: etag.coded("br").into(),
            etag: etag.into(),
            format,
            gzip: OnceLock::new(),
            brotli: OnceLock::new(),
        }
    }

    /// The body in `encoding`, compressing it on first use. Short bodies (see
    /// [`COMPRESS_FROM`]) stay as they are, and so does a body whose compression fails (it
    /// writes to memory, so it should not).
    pub fn encoded(&self, encoding: Encoding) -> (Bytes, Encoding) {
        if self.body.len() < COMPRESS_FROM {
            return (self.body.clone(), Encoding::Identity);
        }
        let made = match encoding {
            Encoding::Identity => return (self.body.clone(), Encoding::Identity),
            Encoding::Gzip => self.gzip.get_or_init(|| coding::gzip(&self.body)),
            Encoding::Brotli => self.brotli.get_or_init(|| coding::brotli(&self.body)),
        };
        if made.is_empty() {
            (self.body.clone(), Encoding::Identity)
        } else {
            (made.clone(), encoding)
        }
    }

    /// The bytes this body holds: as rendered, and its compressed forms made so far.
    pub fn size(&self) -> usize {
        self.body.len()
            + self.gzip.get().map_or(0, Bytes::len)
            + self.brotli.get().map_or(0, Bytes::len)
    }

    /// The entity tag of the body in `encoding`: a different representation has its own tag.
    pub fn etag_for(&self, encoding: Encoding) -> &HeaderValue {
        match encoding {
            Encoding::Identity => &self.etag,
            Encoding::Gzip => &self.gzip_etag,
            Encoding::Brotli => &self.brotli_etag,
        }
    }
}

/// A cached body is what a read answers with: `wire::response::read` negotiates its coding,
/// answers 304 and writes its fields.
impl Entity for Rendered {
    fn encoded(&self, wanted: Encoding) -> (Bytes, Encoding) {
        Rendered::encoded(self, wanted)
    }

    fn tag(&self, encoding: Encoding) -> &HeaderValue {
        self.etag_for(encoding)
    }

    fn content_type(&self) -> HeaderValue {
        self.format.content_type()
    }

    fn kind(&self) -> Kind {
        match self.format {
            Format::Page { .. } => Kind::Page,
            _ => Kind::Data,
        }
    }
}

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
    /// By the key's hash: the insertion time and the body.
    map: HashMap<u64, (u64, Arc<Rendered>), FxBuildHasher>,
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
    /// The bytes the cached bodies hold, compressed forms included.
    fn bytes(&self) -> usize {
        self.map.values().map(|(_, rendered)| rendered.size()).sum()
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
        self.map.insert(hash, (self.clock, rendered));
    }

    /// Drops the body in slot `hash`, if there is one.
    fn remove(&mut self, hash: u64) {
        let Some((_, rendered)) = self.map.remove(&hash) else {
            return;
        };
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
        for (hash, (_, rendered)) in &self.map {
            for id in rendered.key.calendar_ids() {
                expected.entry(id_hash(id)).or_default().insert(*hash);
            }
        }
        expected == self.by_calendar
    }

    /// Drops the oldest bodies until at most `entries` and `bytes` remain.
    fn shrink_to(&mut self, entries: usize, bytes: usize) {
        let mut held = self.bytes();
        if self.map.len() <= entries && held <= bytes {
            return;
        }
        let mut by_age: Vec<(u64, u64, usize)> = self
            .map
            .iter()
            .map(|(hash, (age, rendered))| (*age, *hash, rendered.size()))
            .collect();
        by_age.sort_unstable();
        let mut left = self.map.len();
        for (_, hash, size) in by_age {
            if left <= entries && held <= bytes {
                break;
            }
            self.remove(hash);
            left -= 1;
            held -= size;
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
        let (_, rendered) = inner.map.get(&hash)?;
        match &rendered.key {
            Owned::One(owned) if owned.matches(key) => Some(Arc::clone(rendered)),
            _ => None,
        }
    }

    /// The answer for a group's `key`, if cached.
    pub fn get_group(&self, key: &GroupKey<'_>) -> Option<Arc<Rendered>> {
        let hash = key.slot_hash();
        let inner = self.lock();
        let (_, rendered) = inner.map.get(&hash)?;
        match &rendered.key {
            Owned::Group(owned) if owned.matches(key) => Some(Arc::clone(rendered)),
            _ => None,
        }
    }

    /// The answer for a named group's `key`, if cached.
    pub fn get_named(&self, key: &NamedKey<'_>) -> Option<Arc<Rendered>> {
        let hash = key.slot_hash();
        let inner = self.lock();
        let (_, rendered) = inner.map.get(&hash)?;
        match &rendered.key {
            Owned::Group(owned) if owned.matches_named(key) => Some(Arc::clone(rendered)),
            _ => None,
        }
    }

    /// Keeps `rendered` (made by [`Rendered::new`] or [`Rendered::for_group`]). When the cache
    /// would pass its count or its bytes, the oldest bodies go first, down to three quarters
    /// of either bound, so that a full cache does not sort itself on every miss. Compressed
    /// forms made after a body was inserted count from the next insertion on. A body whose key
    /// hashes like another's replaces it.
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
            inner.map.len() >= self.capacity || inner.bytes().saturating_add(size) > self.max_bytes;
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
                    .is_some_and(|(_, rendered)| rendered.key.calendar_ids().any(|c| c == id))
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
    use super::*;
    use availability_core::store::{Change, Store};
    use availability_core::{Batch, Day, Entry, Status, Time};

    /// A store with calendar `c` at version 1 and `d` at version 1, and `c` at version 2.
    struct Fixture {
        _dir: tempfile::TempDir,
        c1: Arc<Calendar>,
        c2: Arc<Calendar>,
        d1: Arc<Calendar>,
        /// Of `c` and `d`.
        group: Arc<Group>,
        /// The same members, stored again.
        regrouped: Arc<Group>,
    }

    fn fixture() -> Fixture {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let store = Store::open(dir.path().join("cache.store")).expect("a store");
        let c1 = store.create("c", "UTC").expect("c");
        let d1 = store.create("d", "UTC").expect("d");
        let mut batch = Batch::new();
        batch.push(Entry::slot(
            Day::Monday,
            Time::from_half_hours(18).expect("09:00"),
            Status::Available,
        ));
        let c2 = store
            .commit("c", None, &Change::Apply(batch))
            .expect("c, version 2");
        let members = || vec![String::from("c"), String::from("d")];
        let (group, _) = store.put_group("g", members()).expect("g");
        let (regrouped, _) = store.put_group("g", members()).expect("g again");
        Fixture {
            _dir: dir,
            c1,
            c2,
            d1,
            group,
            regrouped,
        }
    }

    fn key(calendar: &Arc<Calendar>) -> Key<'_> {
        Key {
            calendar,
            viewer: Zone::UTC,
            week: IsoWeek::new(2026, 48).expect("a week"),
            format: Format::Json,
        }
    }

    fn rendered(key: &Key<'_>, body: &str) -> Arc<Rendered> {
        Arc::new(Rendered::new(key, body.as_bytes().to_vec()))
    }

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
                            .all(|(_, r)| r.key.calendar_ids().all(|c| c != id)),
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
        cache
            .lock()
            .map
            .insert(a.slot_hash(), (1, rendered(&b, "d1")));
        assert!(cache.get(&a).is_none());
    }

    #[test]
    fn etags_differ_by_every_part_and_name_the_version() {
        let f = fixture();
        let a = key(&f.c1);
        let slot = Slot::new(Day::Monday, Time::from_half_hours(18).expect("09:00")).expect("slot");
        let tags = [
            a,
            Key {
                format: Format::Csv,
                ..a
            },
            Key {
                format: Format::Slot(slot),
                ..a
            },
            Key {
                viewer: Zone::new("Europe/Paris").expect("zone"),
                ..a
            },
            Key {
                week: IsoWeek::new(2026, 49).expect("week"),
                ..a
            },
            key(&f.c2),
            key(&f.d1),
        ]
        .map(|k| k.etag().as_str().to_owned());
        for (i, t) in tags.iter().enumerate() {
            assert!(tags[i + 1..].iter().all(|u| u != t), "{tags:?}");
        }
        assert!(tags[0].starts_with("\"v1."));
        assert!(tags[5].starts_with("\"v2."));
        // By value: the same calendar in another allocation has the same tag.
        assert_eq!(
            key(&Arc::new(Calendar::clone(&f.c1))).etag().as_str(),
            tags[0]
        );
        assert_eq!(rendered(&a, "x").etag, tags[0].as_str());
    }

    #[test]
    fn the_map_hash_spreads_nearby_keys() {
        let f = fixture();
        let hashes: std::collections::HashSet<u64> = (1..=52)
            .map(|w| {
                Key {
                    week: IsoWeek::new(2026, w).expect("a week"),
                    ..key(&f.c1)
                }
                .slot_hash()
            })
            .collect();
        assert_eq!(hashes.len(), 52);
        // The low bits (the bucket) differ too.
        let low: std::collections::HashSet<u64> = hashes.iter().map(|h| h & 0xff).collect();
        assert!(low.len() > 30, "{}", low.len());
    }

    #[test]
    fn compressed_forms_round_trip() {
        let f = fixture();
        let body = "Time,Monday\r\n".repeat(100);
        let k = Key {
            format: Format::Csv,
            ..key(&f.c1)
        };
        let r = rendered(&k, &body);
        let (gz, enc) = r.encoded(Encoding::Gzip);
        assert_eq!(enc, Encoding::Gzip);
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz[..]), &mut out)
            .expect("gunzip");
        assert_eq!(out, body.as_bytes());
        let (br, enc) = r.encoded(Encoding::Brotli);
        assert_eq!(enc, Encoding::Brotli);
        let mut out = Vec::new();
        brotli::BrotliDecompress(&mut &br[..], &mut out).expect("unbrotli");
        assert_eq!(out, body.as_bytes());
        let plain = k.etag();
        let br_tag = r.etag_for(Encoding::Brotli).to_str().expect("ascii");
        assert_eq!(br_tag, plain.coded("br").as_str());
    }

    #[test]
    fn short_bodies_are_not_compressed() {
        let f = fixture();
        let r = rendered(&key(&f.c1), &"x".repeat(COMPRESS_FROM - 1));
        assert_eq!(r.encoded(Encoding::Brotli).1, Encoding::Identity);
        assert_eq!(r.encoded(Encoding::Gzip).1, Encoding::Identity);
    }
}
