//! Edits: [`Entry`] and [`Batch`].
//!
//! A batch is validated as a whole and applied to a copy of a week, entry by entry in order
//! (a later entry overrides an earlier one where they overlap). If any entry is invalid the
//! result is an error naming the first bad entry, and the original week is untouched: edits
//! are copy-on-write by construction, since [`Week`] is a value.

use alloc::format;
use alloc::vec::Vec;

use crate::error::{Error, Kind};
use crate::grid::{Day, Status, Time, HALF_HOURS_PER_DAY};
use crate::plane::WORDS;
use crate::week::Week;

/// One edit: a status for one slot, or for a range `[from, to)` on one day. Times are the
/// owner's wall-clock times.
///
/// An entry can be built invalid (a range that ends before it starts, a slot at `24:00`);
/// [`Entry::validate`] and [`Batch::apply`] reject it.
///
/// ```
/// use availability_core::{Day, Entry, Status, Time};
///
/// let ok = Entry::range(Day::Monday, "09:00".parse()?, "17:00".parse()?, Status::Available);
/// assert!(ok.validate().is_ok());
/// let backwards = Entry::range(Day::Monday, "17:00".parse()?, "09:00".parse()?, Status::Available);
/// assert!(backwards.validate().is_err());
/// let end_of_day = Entry::slot(Day::Monday, Time::END_OF_DAY, Status::Maybe);
/// assert!(end_of_day.validate().is_err());
/// # Ok::<(), availability_core::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Entry {
    /// One half hour, starting at `time` on `day`.
    Slot {
        /// The day.
        day: Day,
        /// The start of the half hour; `24:00` is invalid here.
        time: Time,
        /// The new status.
        status: Status,
    },
    /// The half hours from `from` up to, not including, `to`, on `day`.
    Range {
        /// The day.
        day: Day,
        /// The first half hour's start.
        from: Time,
        /// The end of the range: later than `from`, at most `24:00`.
        to: Time,
        /// The new status.
        status: Status,
    },
}

impl Entry {
    /// An entry for one half hour.
    pub const fn slot(day: Day, time: Time, status: Status) -> Entry {
        Entry::Slot { day, time, status }
    }

    /// An entry for the half hours `[from, to)` of one day.
    pub const fn range(day: Day, from: Time, to: Time, status: Status) -> Entry {
        Entry::Range {
            day,
            from,
            to,
            status,
        }
    }

    /// The status the entry sets.
    pub const fn status(&self) -> Status {
        match *self {
            Entry::Slot { status, .. } | Entry::Range { status, .. } => status,
        }
    }

    /// The day the entry is on.
    pub const fn day(&self) -> Day {
        match *self {
            Entry::Slot { day, .. } | Entry::Range { day, .. } => day,
        }
    }

    /// Checks the entry on its own.
    ///
    /// # Errors
    ///
    /// For a slot at `24:00`, or a range whose end is not later than its start.
    pub fn validate(&self) -> Result<(), Error> {
        self.span().map(|_| ())
    }

    /// The slot indices `[start, end)` the entry covers.
    #[inline]
    fn span(&self) -> Result<(usize, usize), Error> {
        match *self {
            Entry::Slot { day, time, .. } => {
                if time.is_end_of_day() {
                    return Err(Error::new(
                        Kind::Parse,
                        "time 24:00 is the end of the day, not a slot; \
                         the last slot of a day starts at 23:30",
                    ));
                }
                let start = day.index() * HALF_HOURS_PER_DAY + time.half_hours();
                Ok((start, start + 1))
            }
            Entry::Range { day, from, to, .. } => {
                if to <= from {
                    return Err(Error::new(
                        Kind::Parse,
                        format!(
                            "the range {from}-{to} is empty or backwards: \"to\" must be later \
                             than \"from\", and a range stays within one day (use 24:00 for \
                             the end of the day)"
                        ),
                    ));
                }
                let base = day.index() * HALF_HOURS_PER_DAY;
                Ok((base + from.half_hours(), base + to.half_hours()))
            }
        }
    }
}

/// A batch of edits, applied all or nothing.
///
/// ```
/// use availability_core::{Batch, Day, Entry, Status, Week};
///
/// let mut batch = Batch::new();
/// batch.push(Entry::range(Day::Friday, "09:00".parse()?, "12:00".parse()?, Status::Available));
/// batch.push(Entry::range(Day::Friday, "12:00".parse()?, "11:00".parse()?, Status::Maybe)); // backwards
///
/// let before = Week::UNAVAILABLE;
/// let err = batch.apply(&before).unwrap_err();
/// assert_eq!(err.entry_index(), Some(1));
/// assert!(err.to_string().starts_with("entry 1: "));
/// # Ok::<(), availability_core::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Batch {
    entries: Vec<Entry>,
}

impl Batch {
    /// The most entries a batch may hold: one per slot of the week.
    pub const MAX_ENTRIES: usize = crate::grid::SLOTS;

    /// An empty batch.
    pub const fn new() -> Batch {
        Batch {
            entries: Vec::new(),
        }
    }

    /// Adds an entry at the end; later entries override earlier ones.
    pub fn push(&mut self, entry: Entry) {
        self.entries.push(entry);
    }

    /// The entries, in order.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// How many entries the batch holds.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the batch has no entry.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Checks every entry and the batch's size, without applying anything.
    ///
    /// # Errors
    ///
    /// For more than [`Batch::MAX_ENTRIES`] entries, or the first invalid entry (by index).
    pub fn validate(&self) -> Result<(), Error> {
        self.apply(&Week::UNAVAILABLE).map(|_| ())
    }

    /// The week after applying every entry, in order, to a copy of `week`.
    ///
    /// # Errors
    ///
    /// For more than [`Batch::MAX_ENTRIES`] entries, or the first invalid entry (by index);
    /// then nothing is applied.
    pub fn apply(&self, week: &Week) -> Result<Week, Error> {
        if self.entries.len() > Batch::MAX_ENTRIES {
            return Err(Error::new(
                Kind::TooManyEntries,
                format!(
                    "a batch has at most {} entries (one per slot); this one has {}",
                    Batch::MAX_ENTRIES,
                    self.entries.len()
                ),
            ));
        }
        let mut open = week.open_words();
        let mut firm = week.firm_words();
        for (index, entry) in self.entries.iter().enumerate() {
            let (start, end) = entry.span().map_err(|e| e.in_entry(index))?;
            fill_words(&mut open, &mut firm, start, end, entry.status());
        }
        // Entries keep `firm ⊆ open` and the tail clear; `from_words` re-checks both, which
        // costs two comparisons per word.
        Week::from_words(open, firm)
    }

    /// The week in which the entries' slots have their statuses and every other slot is
    /// unavailable: the replace-all form of an edit (HTTP `PUT`).
    ///
    /// # Errors
    ///
    /// As [`Batch::apply`].
    pub fn apply_replacing(&self) -> Result<Week, Error> {
        self.apply(&Week::UNAVAILABLE)
    }
}

impl From<Vec<Entry>> for Batch {
    fn from(entries: Vec<Entry>) -> Batch {
        Batch { entries }
    }
}

impl FromIterator<Entry> for Batch {
    fn from_iter<I: IntoIterator<Item = Entry>>(iter: I) -> Batch {
        Batch {
            entries: iter.into_iter().collect(),
        }
    }
}

impl Extend<Entry> for Batch {
    fn extend<I: IntoIterator<Item = Entry>>(&mut self, iter: I) {
        self.entries.extend(iter);
    }
}

impl<'a> IntoIterator for &'a Batch {
    type Item = &'a Entry;
    type IntoIter = core::slice::Iter<'a, Entry>;

    fn into_iter(self) -> Self::IntoIter {
        self.entries.iter()
    }
}

/// Sets slots `[start, end)` (within one day, so at most two words) to `status`.
#[inline(always)]
fn fill_words(
    open: &mut [u64; WORDS],
    firm: &mut [u64; WORDS],
    start: usize,
    end: usize,
    status: Status,
) {
    let set_open = if status.is_open() { !0u64 } else { 0 };
    let set_firm = if status.is_firm() { !0u64 } else { 0 };
    let mut j = start / 64;
    let last = (end - 1) / 64;
    while j <= last && j < WORDS {
        let lo = start.saturating_sub(64 * j);
        let hi = (end - 64 * j).min(64);
        let mask = (!0u64 >> (64 - (hi - lo))) << lo;
        open[j] = (open[j] & !mask) | (mask & set_open);
        firm[j] = (firm[j] & !mask) | (mask & set_firm);
        j += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grid::{Slot, SLOTS};
    use alloc::string::ToString;
    use alloc::vec;

    fn t(s: &str) -> Time {
        s.parse().expect("time")
    }

    #[test]
    fn a_range_sets_exactly_its_slots() {
        let entry = Entry::range(Day::Sunday, t("22:00"), Time::END_OF_DAY, Status::Maybe);
        let week = Batch::from(vec![entry]).apply_replacing().expect("valid");
        for slot in Slot::all() {
            let expected = if slot.index() >= SLOTS - 4 {
                Status::Maybe
            } else {
                Status::Unavailable
            };
            assert_eq!(week.status(slot), expected, "{slot}");
        }
    }

    #[test]
    fn later_entries_override_earlier_ones() {
        let batch = Batch::from(vec![
            Entry::range(Day::Monday, t("09:00"), t("17:00"), Status::Available),
            Entry::slot(Day::Monday, t("12:00"), Status::Unavailable),
            Entry::range(Day::Monday, t("16:00"), t("18:00"), Status::Maybe),
        ]);
        let week = batch.apply_replacing().expect("valid");
        let at = |s: &str| week.status(s.parse().expect("slot"));
        assert_eq!(at("monday 11:30"), Status::Available);
        assert_eq!(at("monday 12:00"), Status::Unavailable);
        assert_eq!(at("monday 15:30"), Status::Available);
        assert_eq!(at("monday 16:00"), Status::Maybe);
        assert_eq!(at("monday 17:30"), Status::Maybe);
        assert_eq!(at("monday 18:00"), Status::Unavailable);
    }

    #[test]
    fn too_many_entries_is_rejected_whole() {
        let entry = Entry::slot(Day::Monday, t("00:00"), Status::Available);
        let batch: Batch = core::iter::repeat_n(entry, Batch::MAX_ENTRIES + 1).collect();
        let err = batch.apply(&Week::UNAVAILABLE).expect_err("too many");
        assert!(err.is_too_many_entries());
        assert_eq!(err.entry_index(), None);
        assert!(err.to_string().contains("at most 336"), "{err}");
        let full: Batch = core::iter::repeat_n(entry, Batch::MAX_ENTRIES).collect();
        assert!(full.validate().is_ok());
    }

    #[test]
    fn the_first_bad_entry_is_named() {
        let batch = Batch::from(vec![
            Entry::slot(Day::Monday, t("00:00"), Status::Available),
            Entry::slot(Day::Monday, Time::END_OF_DAY, Status::Available),
            Entry::range(Day::Monday, t("10:00"), t("10:00"), Status::Available),
        ]);
        let err = batch.validate().expect_err("invalid");
        assert!(err.is_invalid_entry());
        assert_eq!(err.entry_index(), Some(1));
        assert!(
            err.to_string().contains("24:00 is the end of the day"),
            "{err}"
        );
    }
}
