//! [`Week`]: the two planes, reads, combination and the text form.

use core::fmt;
use core::iter::FusedIterator;

use alloc::format;
use bitvec::order::Lsb0;
use bitvec::slice::BitSlice;

use crate::error::{Error, Kind};
use crate::grid::{Day, Slot, Status, HALF_HOURS_PER_DAY, SLOTS};
use crate::plane::{Plane, WORDS};

/// A week of availability: the status of each of the 336 half-hour slots.
///
/// Stored as two planes of 336 bits: `open` holds the slots that are maybe or available,
/// `firm` the slots that are available. The invariant `firm ⊆ open` holds for every `Week`
/// value; raw words or bytes that break it are rejected ([`Week::from_words`],
/// [`Week::from_bytes`]), never repaired. A `Week` is a 96-byte `Copy` value: edits make a new
/// week ([`crate::Batch::apply`]) and leave the old one as it was.
///
/// ```
/// use availability_core::{Status, Week};
///
/// let mut week = Week::UNAVAILABLE;
/// week.set("monday 09:00".parse()?, Status::Available);
/// week.set("monday 09:30".parse()?, Status::Maybe);
/// assert_eq!(week.status("monday 09:00".parse()?), Status::Available);
/// assert_eq!(week.status("monday 09:30".parse()?), Status::Maybe);
/// assert_eq!(week.status("monday 10:00".parse()?), Status::Unavailable);
/// # Ok::<(), availability_core::Error>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Week {
    /// Slots that are maybe or available.
    pub(crate) open: Plane,
    /// Slots that are available; always a subset of `open`.
    pub(crate) firm: Plane,
}

const _: () = assert!(core::mem::size_of::<Week>() == 96);

impl Week {
    /// Every slot unavailable; the identity of [`Week::max`].
    pub const UNAVAILABLE: Week = Week {
        open: Plane::EMPTY,
        firm: Plane::EMPTY,
    };
    /// Every slot maybe.
    pub const MAYBE: Week = Week {
        open: Plane::FULL,
        firm: Plane::EMPTY,
    };
    /// Every slot available; the identity of [`Week::min`].
    pub const AVAILABLE: Week = Week {
        open: Plane::FULL,
        firm: Plane::FULL,
    };
    /// The size of [`Week::to_bytes`]: two planes of 42 bytes.
    pub const BYTES: usize = 2 * SLOTS / 8;

    /// Every slot set to `status`.
    pub const fn filled(status: Status) -> Week {
        match status {
            Status::Unavailable => Week::UNAVAILABLE,
            Status::Maybe => Week::MAYBE,
            Status::Available => Week::AVAILABLE,
        }
    }

    /// The week whose slot `s` has status `f(s)`.
    ///
    /// ```
    /// use availability_core::{Day, Status, Week};
    ///
    /// let weekends = Week::from_fn(|slot| {
    ///     if slot.day() >= Day::Saturday { Status::Available } else { Status::Unavailable }
    /// });
    /// assert_eq!(weekends.counts().available, 2 * 48);
    /// ```
    pub fn from_fn(mut f: impl FnMut(Slot) -> Status) -> Week {
        let mut week = Week::UNAVAILABLE;
        for slot in Slot::all() {
            week.set(slot, f(slot));
        }
        week
    }

    /// The week with these raw planes: bit `i % 64` of word `i / 64` is slot `i`.
    ///
    /// # Errors
    ///
    /// When a bit past slot 335 is set, or a slot is in `firm` but not in `open`.
    ///
    /// ```
    /// use availability_core::Week;
    ///
    /// let week = Week::from_words([0b11, 0, 0, 0, 0, 0], [0b01, 0, 0, 0, 0, 0])?;
    /// assert_eq!(week.counts().available, 1);
    /// assert!(Week::from_words([0b01, 0, 0, 0, 0, 0], [0b11, 0, 0, 0, 0, 0]).is_err());
    /// # Ok::<(), availability_core::Error>(())
    /// ```
    pub fn from_words(open: [u64; 6], firm: [u64; 6]) -> Result<Week, Error> {
        let (Some(open), Some(firm)) = (Plane::from_words(open), Plane::from_words(firm)) else {
            return Err(Error::new(
                Kind::InvalidWeek,
                "invalid week: bits past slot 335 are set (a week has 336 slots)",
            ));
        };
        if let Some(slot) = firm.and_not(open).ones().next().and_then(Slot::from_index) {
            return Err(Error::new(
                Kind::InvalidWeek,
                format!(
                    "invalid week: slot {} ({slot}) is firm (available) but not open \
                     (every available slot must also be open)",
                    slot.index()
                ),
            ));
        }
        Ok(Week { open, firm })
    }

    /// The raw `open` plane: the slots that are maybe or available.
    pub const fn open_words(&self) -> [u64; 6] {
        self.open.0
    }

    /// The raw `firm` plane: the slots that are available.
    pub const fn firm_words(&self) -> [u64; 6] {
        self.firm.0
    }

    /// The `open` plane as bits, slot 0 first.
    pub fn open_bits(&self) -> &BitSlice<u64, Lsb0> {
        &BitSlice::from_slice(&self.open.0)[..SLOTS]
    }

    /// The `firm` plane as bits, slot 0 first.
    pub fn firm_bits(&self) -> &BitSlice<u64, Lsb0> {
        &BitSlice::from_slice(&self.firm.0)[..SLOTS]
    }

    /// The week as 84 bytes: the `open` plane then the `firm` plane, each 42 bytes with slot
    /// `i` in bit `i % 8` of byte `i / 8`. This is the store file's encoding.
    pub fn to_bytes(&self) -> [u8; Week::BYTES] {
        let mut out = [0u8; Week::BYTES];
        for (half, plane) in out
            .chunks_exact_mut(Week::BYTES / 2)
            .zip([self.open, self.firm])
        {
            for (i, byte) in half.iter_mut().enumerate() {
                *byte = plane.0[i / 8].to_le_bytes()[i % 8];
            }
        }
        out
    }

    /// The week encoded by [`Week::to_bytes`].
    ///
    /// # Errors
    ///
    /// When the bytes break `firm ⊆ open`.
    pub fn from_bytes(bytes: &[u8; Week::BYTES]) -> Result<Week, Error> {
        let plane = |half: &[u8]| -> [u64; WORDS] {
            core::array::from_fn(|j| {
                let mut word = [0u8; 8];
                let chunk = half.get(j * 8..).unwrap_or_default();
                let n = chunk.len().min(8);
                word[..n].copy_from_slice(&chunk[..n]);
                u64::from_le_bytes(word)
            })
        };
        let (open, firm) = bytes.split_at(Week::BYTES / 2);
        Week::from_words(plane(open), plane(firm))
    }

    /// The status of one slot.
    #[inline]
    pub const fn status(&self, slot: Slot) -> Status {
        let i = slot.index();
        Status::from_bits(self.open.get(i), self.firm.get(i))
    }

    /// Sets one slot.
    #[inline]
    pub fn set(&mut self, slot: Slot, status: Status) {
        let i = slot.index();
        self.open.set(i, status.is_open());
        self.firm.set(i, status.is_firm());
    }

    /// Every slot and its status, Monday 00:00 first.
    pub fn slots(&self) -> Slots<'_> {
        Slots {
            week: self,
            next: 0,
            end: SLOTS,
        }
    }

    /// How many slots have each status.
    pub fn counts(&self) -> Counts {
        let open = self.open.count();
        let firm = self.firm.count();
        Counts {
            available: firm,
            maybe: open - firm,
            unavailable: SLOTS - open,
        }
    }

    /// The maximal runs of equal status, in order, covering the week from Monday 00:00 to
    /// Sunday 24:00.
    ///
    /// ```
    /// use availability_core::{Status, Week};
    ///
    /// let week: Week = format!("{}{}{}", "#".repeat(10), ".".repeat(320), "#".repeat(6)).parse()?;
    /// let runs: Vec<_> = week.runs().map(|r| (r.start_index(), r.len(), r.status())).collect();
    /// assert_eq!(runs, [(0, 10, Status::Available), (10, 320, Status::Unavailable),
    ///                   (330, 6, Status::Available)]);
    /// # Ok::<(), availability_core::Error>(())
    /// ```
    pub fn runs(&self) -> Runs {
        Runs::new(*self, false)
    }

    /// Like [`Week::runs`], but a run that continues from Sunday night into Monday morning is
    /// one run: it starts late in the week and its end passes 336 ([`Run::wraps`]). A week of
    /// one status is one run from slot 0.
    ///
    /// ```
    /// use availability_core::{Status, Week};
    ///
    /// let week: Week = format!("{}{}{}", "#".repeat(10), ".".repeat(320), "#".repeat(6)).parse()?;
    /// let runs: Vec<_> = week.runs_wrapping().map(|r| (r.start_index(), r.len())).collect();
    /// assert_eq!(runs, [(10, 320), (330, 16)]);
    /// assert!(week.runs_wrapping().last().unwrap().wraps());
    /// # Ok::<(), availability_core::Error>(())
    /// ```
    pub fn runs_wrapping(&self) -> Runs {
        Runs::new(*self, true)
    }

    /// The slot-by-slot minimum: a slot is available only where both weeks are, and so on.
    /// Two bitwise ANDs.
    ///
    /// ```
    /// use availability_core::{Status, Week};
    ///
    /// let a: Week = format!("#?.{}", ".".repeat(333)).parse()?;
    /// let b: Week = format!("??#{}", ".".repeat(333)).parse()?;
    /// let both = a.min(b);
    /// assert_eq!(both.status("monday 00:00".parse()?), Status::Maybe);
    /// assert_eq!(both.status("monday 00:30".parse()?), Status::Maybe);
    /// assert_eq!(both.status("monday 01:00".parse()?), Status::Unavailable);
    /// # Ok::<(), availability_core::Error>(())
    /// ```
    #[inline]
    #[must_use]
    pub fn min(self, other: Week) -> Week {
        Week {
            open: self.open.and(other.open),
            firm: self.firm.and(other.firm),
        }
    }

    /// The slot-by-slot maximum: a slot is available where either week is. Two bitwise ORs.
    #[inline]
    #[must_use]
    pub fn max(self, other: Week) -> Week {
        Week {
            open: self.open.or(other.open),
            firm: self.firm.or(other.firm),
        }
    }

    /// Replaces `self` with `self.min(other)`.
    #[inline]
    pub fn min_with(&mut self, other: &Week) {
        *self = self.min(*other);
    }

    /// Replaces `self` with `self.max(other)`.
    #[inline]
    pub fn max_with(&mut self, other: &Week) {
        *self = self.max(*other);
    }

    /// The minimum of many weeks: when everyone is available. [`Week::AVAILABLE`] for none.
    pub fn min_of<'a>(weeks: impl IntoIterator<Item = &'a Week>) -> Week {
        weeks
            .into_iter()
            .fold(Week::AVAILABLE, |acc, w| acc.min(*w))
    }

    /// The maximum of many weeks: when anyone is available. [`Week::UNAVAILABLE`] for none.
    pub fn max_of<'a>(weeks: impl IntoIterator<Item = &'a Week>) -> Week {
        weeks
            .into_iter()
            .fold(Week::UNAVAILABLE, |acc, w| acc.max(*w))
    }

    /// The week rotated by `k` slots: slot `i` of the result is slot `(i + k) % 336` of `self`.
    #[inline]
    #[must_use]
    #[allow(dead_code)] // Used by the time-zone plans, which are behind a feature.
    pub(crate) fn rotate(self, k: usize) -> Week {
        Week {
            open: self.open.rotate(k),
            firm: self.firm.rotate(k),
        }
    }

    /// Only the slots in `mask`; the others unavailable.
    #[inline]
    #[must_use]
    #[allow(dead_code)] // Used by the time-zone plans, which are behind a feature.
    pub(crate) fn masked(self, mask: Plane) -> Week {
        Week {
            open: self.open.and(mask),
            firm: self.firm.and(mask),
        }
    }
}

/// The text form: one symbol per slot, `.` unavailable, `?` maybe, `#` available; one line of
/// 48 symbols per day, Monday first. Parsing ignores ASCII whitespace, so a week can also be
/// written as one line of 336 symbols.
///
/// ```
/// use availability_core::{Status, Week};
///
/// let week = Week::from_fn(|slot| if slot.index() % 3 == 0 { Status::Maybe } else { Status::Unavailable });
/// let text = week.to_string();
/// assert_eq!(text.lines().count(), 7);
/// assert!(text.starts_with("?..?..?"));
/// assert_eq!(text.parse::<Week>()?, week);
/// # Ok::<(), availability_core::Error>(())
/// ```
impl fmt::Display for Week {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut line = [0u8; HALF_HOURS_PER_DAY];
        for day in Day::ALL {
            for (h, symbol) in line.iter_mut().enumerate() {
                let i = day.index() * HALF_HOURS_PER_DAY + h;
                *symbol = symbol_of(Status::from_bits(self.open.get(i), self.firm.get(i)));
            }
            if day != Day::Monday {
                f.write_str("\n")?;
            }
            f.write_str(core::str::from_utf8(&line).map_err(|_| fmt::Error)?)?;
        }
        Ok(())
    }
}

impl fmt::Debug for Week {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Week {{")?;
        for (day, line) in Day::ALL
            .iter()
            .zip(alloc::string::ToString::to_string(self).lines())
        {
            writeln!(f, "    {:<3} {line}", &day.title()[..3])?;
        }
        write!(f, "}}")
    }
}

const fn symbol_of(status: Status) -> u8 {
    match status {
        Status::Unavailable => b'.',
        Status::Maybe => b'?',
        Status::Available => b'#',
    }
}

/// How many slots of a week have each status; the three add up to 336.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Counts {
    /// Slots that are available.
    pub available: usize,
    /// Slots that are maybe.
    pub maybe: usize,
    /// Slots that are unavailable.
    pub unavailable: usize,
}

/// The slots of a week with their statuses; see [`Week::slots`].
#[derive(Clone, Debug)]
pub struct Slots<'a> {
    week: &'a Week,
    next: usize,
    end: usize,
}

impl Iterator for Slots<'_> {
    type Item = (Slot, Status);

    #[inline]
    fn next(&mut self) -> Option<(Slot, Status)> {
        if self.next >= self.end {
            return None;
        }
        let slot = Slot::from_index(self.next)?;
        self.next += 1;
        Some((slot, self.week.status(slot)))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.end - self.next;
        (n, Some(n))
    }
}

impl DoubleEndedIterator for Slots<'_> {
    fn next_back(&mut self) -> Option<(Slot, Status)> {
        if self.next >= self.end {
            return None;
        }
        self.end -= 1;
        let slot = Slot::from_index(self.end)?;
        Some((slot, self.week.status(slot)))
    }
}

impl ExactSizeIterator for Slots<'_> {}
impl FusedIterator for Slots<'_> {}

/// A maximal run of slots with one status; see [`Week::runs`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Run {
    start: Slot,
    len: u16,
    status: Status,
}

impl Run {
    /// The first slot of the run.
    pub const fn start(&self) -> Slot {
        self.start
    }

    /// The index of the first slot.
    pub const fn start_index(&self) -> usize {
        self.start.index()
    }

    /// The index just past the last slot: up to 336, or past it for a run that wraps into
    /// the next week ([`Week::runs_wrapping`]).
    pub const fn end_index(&self) -> usize {
        self.start.index() + self.len as usize
    }

    /// How many slots the run covers.
    #[allow(clippy::len_without_is_empty)] // A run is never empty.
    pub const fn len(&self) -> usize {
        self.len as usize
    }

    /// The status of every slot in the run.
    pub const fn status(&self) -> Status {
        self.status
    }

    /// Whether the run continues past Sunday 24:00 into Monday.
    pub const fn wraps(&self) -> bool {
        self.end_index() > SLOTS
    }
}

/// The runs of equal status of a week; see [`Week::runs`] and [`Week::runs_wrapping`].
///
/// Run boundaries are found with word operations: a slot starts a run when its bit differs
/// from the previous slot's in either plane, and the boundaries are walked with
/// `trailing_zeros`.
#[derive(Clone, Debug)]
pub struct Runs {
    week: Week,
    /// Bit `i` is set when a run starts at slot `i`.
    starts: Plane,
    /// The next run starts here; `SLOTS` when done.
    next: usize,
    /// Where the last run ends: 336, or past it when the last run wraps into Monday.
    end: usize,
}

impl Runs {
    fn new(week: Week, wrap: bool) -> Runs {
        let mut starts = week.open.xor_previous().or(week.firm.xor_previous());
        starts.set(0, true);
        let mut next = 0;
        let mut end = SLOTS;
        if wrap && week.status_at(0) == week.status_at(SLOTS - 1) {
            // The first run joins the last: start from the second run, end past Sunday.
            if let Some(second) = starts.ones().nth(1) {
                next = second;
                end = SLOTS + second;
            }
        }
        Runs {
            week,
            starts,
            next,
            end,
        }
    }

    /// The start of the next run after slot `from`, or `SLOTS`.
    #[inline]
    fn next_start(&self, from: usize) -> usize {
        let mut j = from / 64;
        // Bits strictly above `from` in its word (none when `from` is bit 63).
        let mut word = self.starts.0.get(j).copied().unwrap_or(0) & (!1u64 << (from % 64));
        loop {
            if word != 0 {
                return j * 64 + word.trailing_zeros() as usize;
            }
            j += 1;
            match self.starts.0.get(j) {
                Some(&w) => word = w,
                None => return SLOTS,
            }
        }
    }
}

impl Iterator for Runs {
    type Item = Run;

    #[inline]
    fn next(&mut self) -> Option<Run> {
        if self.next >= self.end {
            return None;
        }
        let start = self.next;
        let slot = Slot::from_index(start)?;
        let following = self.next_start(start);
        let stop = if following >= SLOTS {
            self.end
        } else {
            following
        };
        self.next = following;
        Some(Run {
            start: slot,
            len: (stop - start) as u16,
            status: self.week.status_at(start),
        })
    }
}

impl FusedIterator for Runs {}

impl Week {
    #[inline]
    pub(crate) const fn status_at(&self, i: usize) -> Status {
        Status::from_bits(self.open.get(i), self.firm.get(i))
    }
}

impl Plane {
    /// Bit `i` set when slot `i` differs from slot `i - 1` (slot 0 compares with zero).
    #[inline]
    fn xor_previous(self) -> Plane {
        let up = self.shift_up(1);
        Plane(core::array::from_fn(|j| self.0[j] ^ up.0[j]))
    }
}

#[cfg(test)]
mod tests;
