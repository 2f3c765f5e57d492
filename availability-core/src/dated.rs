//! Dated availability: overrides and bookings on top of the recurring week.
//!
//! The pattern ([`Week`]) says what usually holds. A calendar's [`Dated`] data says what holds
//! on real dates, in the owner's zone and calendar:
//!
//! - an **override** ([`DayOverride`]) replaces one owner date's 48 slots;
//! - a **booking** ([`Booking`]) claims a span of real time: every owner slot that any instant
//!   of the span falls in. A claim succeeds only if each of those slots is available in the
//!   effective week and not claimed by another booking.
//!
//! The **effective week** of a concrete owner ISO week is the pattern, each overridden date's
//! day replaced, claimed slots made unavailable ([`Dated::effective`]). It is three plane
//! operations per word: the per-week planes are kept up to date when dated data changes, so
//! reading never walks slots or bookings. A view of a concrete viewer week ([`Dated::view`])
//! judges each instant by the owner date it falls on (a viewer week can read two owner
//! weeks); a calendar without dated data takes exactly the pattern's path.
//!
//! ```
//! use availability_core::dated::{Claim, Dated};
//! use availability_core::tz::{IsoWeek, Plan, Zone};
//! use availability_core::{Status, Week};
//!
//! let owner: Zone = "Europe/Paris".parse()?;
//! let pattern = Week::AVAILABLE;
//! let mut dated = Dated::new();
//! // 2026-12-01 09:00 to 10:00 in Paris (UTC+01).
//! let start = 1_796_112_000;
//! let now = start - 86_400;
//! let booking = dated.claim(owner, &pattern, &Claim::new(start, start + 3600), now)?;
//! assert_eq!(booking.slot_count(), 2);
//!
//! let week: IsoWeek = "2026-12-01".parse()?;
//! let effective = dated.effective(&pattern, week);
//! assert_eq!(effective.status("tuesday 09:00".parse()?), Status::Unavailable);
//! assert_eq!(effective.status("tuesday 10:00".parse()?), Status::Available);
//!
//! // The same hour again is refused, naming the booking that holds it.
//! let again = dated.claim(owner, &pattern, &Claim::new(start + 1800, start + 5400), now);
//! let conflict = again.unwrap_err();
//! assert_eq!(conflict.conflict_details().and_then(|c| c.booking()), Some(booking.id()));
//!
//! // A viewer in New York sees the hour at 03:00 their time.
//! let plan = Plan::new(owner, "America/New_York".parse()?, week)?;
//! let view = dated.view(&pattern, &plan);
//! assert_eq!(view.status("tuesday 03:00".parse()?), Status::Unavailable);
//! assert_eq!(view.status("tuesday 04:00".parse()?), Status::Available);
//! # Ok::<(), availability_core::Error>(())
//! ```

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;
use core::ops::Bound;

use chrono::{Datelike, NaiveDate};

pub use crate::conflict::{BookingId, Conflict};
use crate::error::{Error, Kind};
use crate::grid::{Day, Slot, Status, Time, HALF_HOURS_PER_DAY, SLOTS};
use crate::plane::Plane;
use crate::tz::interval::Interval;
use crate::tz::plan::week_number;
use crate::tz::{IsoWeek, Plan, Zone};
use crate::week::Week;

const HALF_HOUR: i64 = 1800;
const DAY_SECONDS: i64 = 86_400;
/// The longest booking.
pub const MAX_SPAN_SECONDS: i64 = 7 * DAY_SECONDS;
/// How far ahead a booking may end.
pub const MAX_AHEAD_SECONDS: i64 = 730 * DAY_SECONDS;
/// The longest booking label, in bytes.
pub const MAX_LABEL: usize = 200;
/// The bits of a day's 48 slots.
const DAY_MASK: u64 = (1 << HALF_HOURS_PER_DAY) - 1;
/// `NaiveDate::num_days_from_ce` of 1970-01-01.
const EPOCH_DAYS_FROM_CE: i64 = 719_163;

/// The number of `date` counted in days from 1970-01-01.
pub(crate) fn day_number(date: NaiveDate) -> i64 {
    i64::from(date.num_days_from_ce()) - EPOCH_DAYS_FROM_CE
}

/// The date of day number `day` (see [`day_number`]).
pub(crate) fn date_of_day(day: i64) -> Option<NaiveDate> {
    let ce = i32::try_from(day.checked_add(EPOCH_DAYS_FROM_CE)?).ok()?;
    NaiveDate::from_num_days_from_ce_opt(ce)
}

/// The number of the ISO week of day number `day` (week 0 holds 1970-01-01).
fn week_of_day(day: i64) -> i64 {
    (day + 3).div_euclid(7)
}

/// The ISO week number (as [`week_of_day`]) of `week`.
pub(crate) fn week_number_of(week: IsoWeek) -> i64 {
    week_of_day(day_number(week.monday()))
}

/// One owner date's 48 slots, replacing the pattern's day on that date.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct DayOverride {
    /// Bit `t`: half hour `t` is maybe or available.
    open: u64,
    /// Bit `t`: half hour `t` is available; a subset of `open`.
    firm: u64,
}

impl DayOverride {
    /// A day off: every slot unavailable.
    pub const UNAVAILABLE: DayOverride = DayOverride { open: 0, firm: 0 };

    /// Day `day` of `week`, as an override.
    pub fn from_week_day(week: &Week, day: Day) -> DayOverride {
        let at = day.index() * HALF_HOURS_PER_DAY;
        DayOverride {
            open: week.open.bits_at(at) & DAY_MASK,
            firm: week.firm.bits_at(at) & DAY_MASK,
        }
    }

    /// The override from its two bit masks (bit `t` is half hour `t`), as stored.
    ///
    /// # Errors
    ///
    /// [`Error::is_invalid_week`] when a bit past the 48th is set or an available slot is not
    /// open.
    pub fn from_bits(open: u64, firm: u64) -> Result<DayOverride, Error> {
        if open & !DAY_MASK != 0 || firm & !DAY_MASK != 0 || firm & !open != 0 {
            return Err(Error::new(
                Kind::InvalidWeek,
                "invalid day override: bits past the 48th half hour, or an available slot \
                 that is not open",
            ));
        }
        Ok(DayOverride { open, firm })
    }

    /// The two bit masks: (maybe or available, available).
    pub fn bits(&self) -> (u64, u64) {
        (self.open, self.firm)
    }

    /// The status of the half hour that starts at `time` (`24:00` is no slot: unavailable).
    pub fn status(&self, time: Time) -> Status {
        let t = time.half_hours();
        if t >= HALF_HOURS_PER_DAY {
            return Status::Unavailable;
        }
        Status::from_bits(self.open >> t & 1 != 0, self.firm >> t & 1 != 0)
    }

    /// Sets the half hour that starts at `time` (`24:00` is ignored).
    pub fn set(&mut self, time: Time, status: Status) {
        let t = time.half_hours();
        if t >= HALF_HOURS_PER_DAY {
            return;
        }
        let bit = 1u64 << t;
        self.open = (self.open & !bit) | if status.is_open() { bit } else { 0 };
        self.firm = (self.firm & !bit) | if status.is_firm() { bit } else { 0 };
    }
}

impl fmt::Debug for DayOverride {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DayOverride(")?;
        for t in 0..HALF_HOURS_PER_DAY {
            let status = Status::from_bits(self.open >> t & 1 != 0, self.firm >> t & 1 != 0);
            f.write_str(match status {
                Status::Available => "#",
                Status::Maybe => "?",
                Status::Unavailable => ".",
            })?;
        }
        write!(f, ")")
    }
}

impl core::str::FromStr for BookingId {
    type Err = Error;

    fn from_str(s: &str) -> Result<BookingId, Error> {
        if s.is_empty() || s.len() > 20 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid_booking_id(s));
        }
        s.parse::<u64>()
            .ok()
            .filter(|&n| n > 0)
            .map(BookingId)
            .ok_or_else(|| invalid_booking_id(s))
    }
}

#[cold]
fn invalid_booking_id(s: &str) -> Error {
    Error::new(
        Kind::Parse,
        format!(
            "invalid booking id {:?}: booking ids are positive decimal numbers",
            crate::error::Truncated(s)
        ),
    )
}

/// What a booking asks for: a span of real time, `[start, end)` in seconds since
/// 1970-01-01T00:00:00Z, with an optional label and the key that made it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claim {
    /// The first instant.
    pub start: i64,
    /// The instant after the last.
    pub end: i64,
    /// A label for the owner, at most [`MAX_LABEL`] bytes of printable text.
    pub label: Option<String>,
    /// The id of the key that made the booking (to let it cancel its own).
    pub key_id: Option<String>,
}

impl Claim {
    /// A claim of `[start, end)` with no label and no key.
    pub fn new(start: i64, end: i64) -> Claim {
        Claim {
            start,
            end,
            label: None,
            key_id: None,
        }
    }

    /// Checks the span rules against the present instant `now`: whole minutes,
    /// `end > start`, at most seven days, not in the past (a start within the current minute
    /// is allowed), ending at most two years ahead; and the label's length and characters.
    ///
    /// # Errors
    ///
    /// [`Error::is_invalid_span`], saying which rule failed.
    pub fn check(&self, now: i64) -> Result<(), Error> {
        let (start, end) = (self.start, self.end);
        let refuse = |why: String| Err(Error::new(Kind::InvalidSpan, why));
        if start % 60 != 0 || end % 60 != 0 {
            return refuse(String::from(
                "a booking starts and ends on whole minutes (seconds must be 00)",
            ));
        }
        if end <= start {
            return refuse(String::from("a booking's end must be after its start"));
        }
        if end - start > MAX_SPAN_SECONDS {
            return refuse(String::from("a booking is at most 7 days long"));
        }
        if start < now - now.rem_euclid(60) {
            return refuse(String::from("a booking cannot start in the past"));
        }
        if end > now.saturating_add(MAX_AHEAD_SECONDS) {
            return refuse(String::from(
                "a booking must end within 2 years (730 days) from now",
            ));
        }
        if let Some(label) = &self.label {
            if label.len() > MAX_LABEL || label.chars().any(char::is_control) {
                return refuse(format!(
                    "a booking label is at most {MAX_LABEL} bytes of text without control \
                     characters"
                ));
            }
        }
        Ok(())
    }
}

/// A claimed span: what a booking holds.
#[derive(Clone, PartialEq, Eq)]
pub struct Booking {
    id: BookingId,
    start: i64,
    end: i64,
    label: Option<Box<str>>,
    key_id: Option<Box<str>>,
    created_ms: i64,
    /// The owner slots the span touches, per owner week number: derived from the span and
    /// the owner's zone. Boxed to its length: a calendar holds many bookings, and most touch
    /// one week.
    slots: Box<[(i64, Plane)]>,
}

impl Booking {
    /// The booking's id.
    pub fn id(&self) -> BookingId {
        self.id
    }

    /// The first instant, in seconds since 1970-01-01T00:00:00Z.
    pub fn start(&self) -> i64 {
        self.start
    }

    /// The instant after the last.
    pub fn end(&self) -> i64 {
        self.end
    }

    /// The owner's label, if any.
    pub fn label(&self) -> Option<&str> {
        self.label.as_deref()
    }

    /// The id of the key that made it, if any.
    pub fn key_id(&self) -> Option<&str> {
        self.key_id.as_deref()
    }

    /// When it was made, in milliseconds since the Unix epoch.
    pub fn created_unix_ms(&self) -> i64 {
        self.created_ms
    }

    /// How many owner slots it holds.
    pub fn slot_count(&self) -> usize {
        self.slots.iter().map(|(_, plane)| plane.count()).sum()
    }

    /// What it claimed: its span, label and key.
    fn claim(&self) -> Claim {
        Claim {
            start: self.start,
            end: self.end,
            label: self.label.as_deref().map(String::from),
            key_id: self.key_id.as_deref().map(String::from),
        }
    }

    /// The owner slots it holds, as (owner ISO week, slot) in time order.
    pub fn slots(&self) -> Vec<(IsoWeek, Slot)> {
        let mut out = Vec::new();
        for (n, plane) in self.slots.iter() {
            let Some(week) = iso_week(*n) else { continue };
            out.extend(plane.ones().filter_map(Slot::from_index).map(|s| (week, s)));
        }
        out
    }
}

impl fmt::Debug for Booking {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Booking")
            .field("id", &self.id)
            .field("start", &self.start)
            .field("end", &self.end)
            .field("label", &self.label)
            .field("key_id", &self.key_id)
            .field("slots", &self.slot_count())
            .finish()
    }
}

/// The dated planes of one owner ISO week.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
struct WeekPlanes {
    /// Slots of overridden dates.
    overridden: Plane,
    /// Those dates' statuses (zero outside `overridden`).
    over: Week,
    /// Slots some booking claims.
    claimed: Plane,
}

impl WeekPlanes {
    #[inline]
    fn effective(&self, pattern: &Week) -> Week {
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

    fn is_empty(&self) -> bool {
        self.overridden == Plane::EMPTY && self.claimed == Plane::EMPTY
    }
}

/// A calendar's dated data: its overrides and bookings, and per owner week the planes that
/// make the effective week.
///
/// A value: changes are made to a copy (the store publishes each new state whole).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Dated {
    /// Per owner week number, its planes; only weeks with an override or a claim.
    weeks: Weeks,
    /// Per owner day number.
    overrides: BTreeMap<i64, DayOverride>,
    bookings: Ledger,
    /// The id the next booking gets.
    next_booking: u64,
}

/// A map whose keys are split into chunks of `1 << SHIFT` consecutive keys, each chunk behind
/// its own `Arc`. A copy of the map shares every chunk; a change copies the outer map (one
/// pointer per chunk) and the one chunk it touches, so what a write copies does not grow with
/// everything the map holds. It keeps no empty chunk, so equal contents are equal maps.
#[derive(Clone, PartialEq, Eq)]
struct Chunked<K, V, const SHIFT: u32> {
    chunks: BTreeMap<i64, Arc<BTreeMap<K, V>>>,
}

/// A key of a [`Chunked`] map: a whole number, and so the chunk it falls in.
trait ChunkKey: Ord + Copy {
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
    fn is_empty(&self) -> bool {
        self.chunks.is_empty()
    }

    fn get(&self, key: K) -> Option<&V> {
        self.chunks.get(&key.chunk(SHIFT))?.get(&key)
    }

    /// The entries with keys `first..=last`, in order.
    fn range(&self, first: K, last: K) -> impl Iterator<Item = (&K, &V)> + '_ {
        self.chunks
            .range(first.chunk(SHIFT)..=last.chunk(SHIFT))
            .flat_map(move |(_, chunk)| chunk.range(first..=last))
    }

    /// Every value, by key.
    fn values(&self) -> impl Iterator<Item = &V> + '_ {
        self.chunks.values().flat_map(|chunk| chunk.values())
    }

    /// Sets `key` to `value`; the value it had, if any.
    fn insert(&mut self, key: K, value: V) -> Option<V> {
        Arc::make_mut(self.chunks.entry(key.chunk(SHIFT)).or_default()).insert(key, value)
    }

    /// Removes `key`; its value, if it had one. A key it does not hold copies nothing.
    fn remove(&mut self, key: K) -> Option<V> {
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
type Weeks = Chunked<i64, WeekPlanes, 4>;

impl Weeks {
    /// Changes week `n`'s planes (empty ones when it has none), dropping them if that leaves
    /// them empty.
    fn update(&mut self, n: i64, change: impl FnOnce(&mut WeekPlanes)) {
        let mut planes = self.get(n).copied().unwrap_or_default();
        change(&mut planes);
        if planes.is_empty() {
            self.remove(n);
        } else {
            self.insert(n, planes);
        }
    }
}

/// A calendar's bookings by id, 64 consecutive ids to a chunk.
#[derive(Clone)]
struct Ledger {
    chunks: Chunked<BookingId, Arc<Booking>, 6>,
    len: usize,
    /// No booking ends before this: a lower bound, exact after each pass of
    /// [`Dated::compact_before`] that drops something.
    earliest_end: i64,
}

impl Default for Ledger {
    fn default() -> Ledger {
        Ledger {
            chunks: Chunked::default(),
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
    fn get(&self, id: BookingId) -> Option<&Arc<Booking>> {
        self.chunks.get(id)
    }

    fn insert(&mut self, booking: Arc<Booking>) {
        self.earliest_end = self.earliest_end.min(booking.end);
        if self.chunks.insert(booking.id, booking).is_none() {
            self.len += 1;
        }
    }

    fn remove(&mut self, id: BookingId) -> Option<Arc<Booking>> {
        let booking = self.chunks.remove(id)?;
        self.len -= 1;
        Some(booking)
    }

    /// Every booking, by id.
    fn values(&self) -> impl Iterator<Item = &Arc<Booking>> + '_ {
        self.chunks.values()
    }

    fn len(&self) -> usize {
        self.len
    }
}

impl fmt::Debug for Dated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dated")
            .field("overrides", &self.overrides.len())
            .field("bookings", &self.bookings.len())
            .field("next_booking", &self.next_booking)
            .finish()
    }
}

impl Dated {
    /// No overrides and no bookings.
    pub fn new() -> Dated {
        Dated {
            next_booking: 1,
            ..Dated::default()
        }
    }

    /// Whether there are no overrides and no bookings: views then read the pattern alone.
    pub fn is_empty(&self) -> bool {
        self.weeks.is_empty()
    }

    /// The effective week of owner ISO week `week`: `pattern` with each overridden date's day
    /// replaced and claimed slots unavailable.
    #[inline]
    pub fn effective(&self, pattern: &Week, week: IsoWeek) -> Week {
        self.effective_by_number(pattern, week_number_of(week))
    }

    #[inline]
    fn effective_by_number(&self, pattern: &Week, n: i64) -> Week {
        match self.weeks.get(n) {
            Some(planes) => planes.effective(pattern),
            None => *pattern,
        }
    }

    /// The owner's effective weeks seen through `plan` (whose owner zone must be the
    /// calendar's): [`Plan::apply`] of the effective weeks, each instant judged by the owner
    /// week it falls in.
    pub fn view(&self, pattern: &Week, plan: &Plan) -> Week {
        let Some((first, last)) = plan.owner_week_span().filter(|_| !self.weeks.is_empty()) else {
            return plan.apply(pattern);
        };
        if first == last {
            // The common case: the view reads one owner week.
            return match self.weeks.get(first) {
                Some(planes) => plan.apply(&planes.effective(pattern)),
                None => plan.apply(pattern),
            };
        }
        // One walk of the map for the (at most three) owner weeks the view reads.
        let mut found: [Option<(i64, &WeekPlanes)>; 3] = [None; 3];
        for (slot, (n, planes)) in found.iter_mut().zip(self.weeks.range(first, last)) {
            *slot = Some((*n, planes));
        }
        if found.iter().all(Option::is_none) {
            return plan.apply(pattern);
        }
        plan.apply_by_week(|n| match found.iter().flatten().find(|(w, _)| *w == n) {
            Some((_, planes)) => planes.effective(pattern),
            None => *pattern,
        })
    }

    /// [`Plan::intervals`] of the effective weeks, as [`Dated::view`].
    pub fn intervals(&self, pattern: &Week, plan: &Plan) -> Vec<Interval> {
        if self.weeks.is_empty() {
            return plan.intervals(pattern);
        }
        plan.intervals_by_week(|n| self.effective_by_number(pattern, n))
    }

    /// The override of owner date `date`.
    pub fn override_on(&self, date: NaiveDate) -> Option<DayOverride> {
        self.overrides.get(&day_number(date)).copied()
    }

    /// The overrides of owner dates `from..=to`, in date order.
    pub fn overrides(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> impl Iterator<Item = (NaiveDate, DayOverride)> + '_ {
        let range = (
            Bound::Included(day_number(from)),
            Bound::Included(day_number(to).max(day_number(from))),
        );
        self.overrides
            .range(range)
            .filter_map(|(day, o)| Some((date_of_day(*day)?, *o)))
    }

    /// Every override, in date order.
    pub fn all_overrides(&self) -> impl Iterator<Item = (NaiveDate, DayOverride)> + '_ {
        self.overrides
            .iter()
            .filter_map(|(day, o)| Some((date_of_day(*day)?, *o)))
    }

    /// The booking with id `id`.
    pub fn booking(&self, id: BookingId) -> Option<&Arc<Booking>> {
        self.bookings.get(id)
    }

    /// The bookings that overlap `[from, to)` (seconds since the epoch), by start.
    pub fn bookings(&self, from: i64, to: i64) -> Vec<Arc<Booking>> {
        let mut out: Vec<Arc<Booking>> = self
            .bookings
            .values()
            .filter(|b| b.start < to && b.end > from)
            .cloned()
            .collect();
        out.sort_by_key(|b| (b.start, b.id));
        out
    }

    /// Every booking, by id.
    pub fn all_bookings(&self) -> impl Iterator<Item = &Arc<Booking>> + '_ {
        self.bookings.values()
    }

    /// How many bookings there are.
    pub fn booking_count(&self) -> usize {
        self.bookings.len()
    }

    /// The id the next booking will get.
    pub fn next_booking_id(&self) -> BookingId {
        BookingId(self.next_booking.max(1))
    }

    /// Sets owner date `date`'s slots to `day` (replacing an earlier override).
    ///
    /// # Errors
    ///
    /// [`Error::is_out_of_range`] for a date outside the years views support.
    pub fn set_override(&mut self, date: NaiveDate, day: DayOverride) -> Result<(), Error> {
        IsoWeek::containing(date)?;
        let d = day_number(date);
        self.overrides.insert(d, day);
        self.rebuild_override_planes(d);
        Ok(())
    }

    /// Removes the override of owner date `date`; whether there was one.
    pub fn remove_override(&mut self, date: NaiveDate) -> bool {
        let d = day_number(date);
        let had = self.overrides.remove(&d).is_some();
        if had {
            self.rebuild_override_planes(d);
        }
        had
    }

    /// Sets the override planes of day number `d`'s week from `self.overrides`.
    fn rebuild_override_planes(&mut self, d: i64) {
        let n = week_of_day(d);
        let index = (d + 3).rem_euclid(7) as usize;
        let at = index * HALF_HOURS_PER_DAY;
        let day_slots = Plane::range(at, at + HALF_HOURS_PER_DAY);
        let day = self.overrides.get(&d).copied();
        self.weeks.update(n, |planes| {
            planes.overridden = planes.overridden.and_not(day_slots);
            planes.over.open = planes.over.open.and_not(day_slots);
            planes.over.firm = planes.over.firm.and_not(day_slots);
            if let Some(day) = day {
                planes.overridden = planes.overridden.or(day_slots);
                planes.over.open = planes
                    .over
                    .open
                    .or(Plane::from_low_bits(day.open).shift_up(at));
                planes.over.firm = planes
                    .over
                    .firm
                    .or(Plane::from_low_bits(day.firm).shift_up(at));
            }
        });
    }

    /// Books `claim` on a calendar whose owner zone is `zone` and pattern `pattern`: every
    /// owner slot that an instant of the span falls in must be available in the effective
    /// week and unclaimed. Checks the span rules against `now` (seconds since the epoch) and
    /// stamps the booking with `now`.
    ///
    /// # Errors
    ///
    /// [`Error::is_invalid_span`] when [`Claim::check`] refuses the span;
    /// [`Error::is_conflict`] when a slot is not free ([`Error::conflict_details`] names the
    /// first one and whether a booking or the availability refused it).
    /// Nothing changes on error.
    pub fn claim(
        &mut self,
        zone: Zone,
        pattern: &Week,
        claim: &Claim,
        now: i64,
    ) -> Result<Arc<Booking>, Error> {
        claim.check(now)?;
        let id = self.next_booking_id();
        self.insert_booking(zone, pattern, claim, id, now.saturating_mul(1000))
    }

    /// Adds a booking as it was made (reading it back from a store): no span rules and no
    /// availability check. Its slots are those its span falls in under `zone`; should that
    /// zone's rules have changed since, so that it now shares a slot with another booking,
    /// both keep it (a booking that was acknowledged is never dropped). A repeated id
    /// replaces the earlier booking.
    pub fn restore_booking(
        &mut self,
        zone: Zone,
        claim: &Claim,
        id: BookingId,
        created_ms: i64,
    ) -> Arc<Booking> {
        self.cancel(id);
        let slots = owner_slots(zone, claim.start, claim.end);
        self.hold(id, claim, created_ms, slots)
    }

    /// Records booking `id` of `claim`, holding `slots` (checked by the caller).
    fn hold(
        &mut self,
        id: BookingId,
        claim: &Claim,
        created_ms: i64,
        slots: Vec<(i64, Plane)>,
    ) -> Arc<Booking> {
        for (n, wanted) in &slots {
            self.weeks
                .update(*n, |planes| planes.claimed = planes.claimed.or(*wanted));
        }
        let booking = Arc::new(Booking {
            id,
            start: claim.start,
            end: claim.end,
            label: claim.label.as_deref().map(Box::from),
            key_id: claim.key_id.as_deref().map(Box::from),
            created_ms,
            slots: slots.into_boxed_slice(),
        });
        self.bookings.insert(Arc::clone(&booking));
        self.next_booking = self.next_booking.max(id.0.saturating_add(1));
        booking
    }

    /// A booking whose span overlaps `[start, end)` in real time, if there is one. Claims
    /// never make two (any shared instant falls in a shared slot), so a store that reads one
    /// back has damaged data.
    pub fn overlapping(&self, zone: Zone, start: i64, end: i64) -> Option<BookingId> {
        let slots = owner_slots(zone, start, end);
        let shares = slots.iter().any(|(n, wanted)| {
            self.weeks
                .get(*n)
                .is_some_and(|p| p.claimed.and(*wanted) != Plane::EMPTY)
        });
        if !shares {
            return None;
        }
        self.bookings
            .values()
            .find(|b| b.start < end && start < b.end)
            .map(|b| b.id)
    }

    /// Makes sure no booking gets an id below `next` (ids are never reused, also after the
    /// bookings that had them are gone).
    pub fn reserve_booking_ids(&mut self, next: u64) {
        self.next_booking = self.next_booking.max(next);
    }

    fn insert_booking(
        &mut self,
        zone: Zone,
        pattern: &Week,
        claim: &Claim,
        id: BookingId,
        created_ms: i64,
    ) -> Result<Arc<Booking>, Error> {
        if claim.end <= claim.start || claim.end - claim.start > MAX_SPAN_SECONDS {
            return Err(Error::new(
                Kind::InvalidSpan,
                "a booking's end must be after its start, at most 7 days later",
            ));
        }
        let slots = owner_slots(zone, claim.start, claim.end);
        // The first slot in time that is not free, and why.
        for (n, wanted) in &slots {
            let planes = self.weeks.get(*n).copied().unwrap_or_default();
            let without_claims = WeekPlanes {
                claimed: Plane::EMPTY,
                ..planes
            }
            .effective(pattern);
            let free = without_claims.firm.and_not(planes.claimed);
            let refused = wanted.and_not(free);
            let Some(slot) = refused.ones().next() else {
                continue;
            };
            return Err(self.conflict(zone, pattern, &planes, *n, slot, claim));
        }
        Ok(self.hold(id, claim, created_ms, slots))
    }

    #[cold]
    fn conflict(
        &self,
        zone: Zone,
        pattern: &Week,
        planes: &WeekPlanes,
        n: i64,
        slot: usize,
        claim: &Claim,
    ) -> Error {
        let booking = planes
            .claimed
            .get(slot)
            .then(|| {
                self.bookings
                    .values()
                    .find(|b| b.slots.iter().any(|(w, p)| *w == n && p.get(slot)))
                    .map(|b| b.id)
            })
            .flatten();
        let status = WeekPlanes {
            claimed: Plane::EMPTY,
            ..*planes
        }
        .effective(pattern)
        .status_at(slot);
        let day = n * 7 - 3 + (slot / HALF_HOURS_PER_DAY) as i64;
        let date = date_of_day(day).unwrap_or_default();
        let time = Time::from_half_hours(slot % HALF_HOURS_PER_DAY).unwrap_or(Time::MIDNIGHT);
        let instant = first_instant_in(zone, claim.start, claim.end, day, slot);
        let conflict = Conflict {
            date,
            time,
            instant,
            booking,
            status,
        };
        let why = match booking {
            Some(id) => format!("it is held by booking {id}"),
            None => format!("it is {} there", status.as_str()),
        };
        Error::conflict(
            conflict,
            format!("the slot at {time} on {date} (owner's time) cannot be booked: {why}"),
        )
    }

    /// Cancels booking `id`, freeing its slots; returns it, or `None` when there is no such
    /// booking.
    pub fn cancel(&mut self, id: BookingId) -> Option<Arc<Booking>> {
        let booking = self.bookings.remove(id)?;
        for (n, slots) in booking.slots.iter() {
            if self.weeks.get(*n).is_some() {
                self.weeks
                    .update(*n, |planes| planes.claimed = planes.claimed.and_not(*slots));
            }
        }
        Some(booking)
    }

    /// The same dated data for a calendar whose owner zone is now `zone`: bookings claim the
    /// owner slots their real spans fall in there; overrides stay on their owner dates.
    ///
    /// # Errors
    ///
    /// [`Error::is_conflict`] when two bookings would hold one slot in the new zone (a zone
    /// whose offset splits half hours differently).
    pub fn rezone(&self, zone: Zone) -> Result<Dated, Error> {
        let mut out = Dated {
            weeks: Weeks::default(),
            overrides: BTreeMap::new(),
            bookings: Ledger::default(),
            next_booking: self.next_booking,
        };
        for (day, o) in &self.overrides {
            out.overrides.insert(*day, *o);
            out.rebuild_override_planes(*day);
        }
        for booking in self.bookings.values() {
            let claim = booking.claim();
            let slots = owner_slots(zone, claim.start, claim.end);
            for (n, wanted) in &slots {
                let held = out.weeks.get(*n).map_or(Plane::EMPTY, |p| p.claimed);
                if let Some(slot) = held.and(*wanted).ones().next() {
                    let planes = out.weeks.get(*n).copied().unwrap_or_default();
                    return Err(out.conflict(zone, &Week::AVAILABLE, &planes, *n, slot, &claim));
                }
            }
            out.hold(booking.id, &claim, booking.created_ms, slots);
        }
        Ok(out)
    }

    /// The same dated data with every booking's slots derived again under `zone`, as
    /// [`Dated::restore_booking`] does: for time-zone data installed after the data was read.
    /// Never refuses (a booking that now shares a slot keeps it).
    pub fn rederive(&self, zone: Zone) -> Dated {
        let mut out = self.clone();
        for booking in self.bookings.values() {
            let claim = booking.claim();
            out.restore_booking(zone, &claim, booking.id, booking.created_ms);
        }
        out
    }

    /// Drops what lies entirely before `cutoff` (seconds since the epoch) in owner time:
    /// bookings that ended by then and overrides of owner dates before its date (in `zone`).
    /// No answer about an instant at or after `cutoff` changes. Returns how many records
    /// went.
    pub fn compact_before(&mut self, zone: Zone, cutoff: i64) -> usize {
        let mut dropped = 0;
        // Every write calls this; the bound makes it O(1) until a booking has ended.
        if self.bookings.earliest_end <= cutoff {
            let old: Vec<BookingId> = self
                .bookings
                .values()
                .filter(|b| b.end <= cutoff)
                .map(|b| b.id)
                .collect();
            dropped += old.len();
            for id in old {
                self.cancel(id);
            }
            self.bookings.earliest_end = self
                .bookings
                .values()
                .map(|b| b.end)
                .min()
                .unwrap_or(i64::MAX);
        }
        let offset = i64::from(zone.offset_at(cutoff).unwrap_or(0));
        let cutoff_day = (cutoff + offset).div_euclid(DAY_SECONDS);
        let days: Vec<i64> = self
            .overrides
            .range(..cutoff_day)
            .map(|(d, _)| *d)
            .collect();
        dropped += days.len();
        for d in days {
            self.overrides.remove(&d);
            self.rebuild_override_planes(d);
        }
        dropped
    }
}

/// The ISO week of week number `n`, inside the supported years.
fn iso_week(n: i64) -> Option<IsoWeek> {
    IsoWeek::containing(date_of_day(n * 7 - 3)?).ok()
}

/// The owner slots that the instants `[start, end)` fall in, per owner week number, in time
/// order: each half hour of the owner's wall clock that some instant of the span shows.
pub(crate) fn owner_slots(zone: Zone, start: i64, end: i64) -> Vec<(i64, Plane)> {
    // Most spans fall in one week: room for one, so that a booking keeps them without a copy.
    let mut out: Vec<(i64, Plane)> = Vec::with_capacity(1);
    let changes = zone.changes(start, end);
    for (i, &(from, offset)) in changes.iter().enumerate() {
        let to = changes.get(i + 1).map_or(end, |c| c.0).min(end);
        let from = from.max(start);
        if from >= to {
            continue;
        }
        let offset = i64::from(offset);
        let first = (from + offset).div_euclid(HALF_HOUR);
        let last = (to - 1 + offset).div_euclid(HALF_HOUR);
        for half_hour in first..=last {
            let n = week_number(half_hour);
            let day = half_hour.div_euclid(HALF_HOURS_PER_DAY as i64);
            let slot = ((day + 3).rem_euclid(7) as usize) * HALF_HOURS_PER_DAY
                + half_hour.rem_euclid(HALF_HOURS_PER_DAY as i64) as usize;
            match out.iter_mut().find(|(w, _)| *w == n) {
                Some((_, plane)) => plane.set(slot, true),
                None => {
                    let mut plane = Plane::EMPTY;
                    plane.set(slot, true);
                    out.push((n, plane));
                }
            }
        }
    }
    out.sort_unstable_by_key(|(n, _)| *n);
    out
}

/// The first instant of `[start, end)` that falls in owner slot `slot` of day number `day`.
fn first_instant_in(zone: Zone, start: i64, end: i64, day: i64, slot: usize) -> i64 {
    let half_hour = day * HALF_HOURS_PER_DAY as i64 + (slot % HALF_HOURS_PER_DAY) as i64;
    let changes = zone.changes(start, end);
    for (i, &(from, offset)) in changes.iter().enumerate() {
        let to = changes.get(i + 1).map_or(end, |c| c.0).min(end);
        let from = from.max(start);
        let offset = i64::from(offset);
        let wall_start = half_hour * HALF_HOUR - offset;
        let candidate = wall_start.max(from);
        if candidate < to && candidate < wall_start + HALF_HOUR {
            return candidate;
        }
    }
    start
}

const _: () = assert!(SLOTS == 7 * HALF_HOURS_PER_DAY);
