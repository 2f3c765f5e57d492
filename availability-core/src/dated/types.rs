//! The values of dated data: an owner date's override, a claim (what a booking asks for),
//! and a booking.

use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use super::{iso_week, DAY_MASK, MAX_AHEAD_SECONDS, MAX_LABEL, MAX_SPAN_SECONDS};
use crate::conflict::BookingId;
use crate::error::{Error, Kind};
use crate::grid::{Day, Slot, Status, Time, HALF_HOURS_PER_DAY};
use crate::plane::Plane;
use crate::tz::IsoWeek;
use crate::week::Week;

/// One owner date's 48 slots, replacing the pattern's day on that date.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct DayOverride {
    /// Bit `t`: half hour `t` is maybe or available.
    pub(super) open: u64,
    /// Bit `t`: half hour `t` is available; a subset of `open`.
    pub(super) firm: u64,
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
    /// The booking type it was made by, if any (its rules were checked when it was made, and
    /// its `per_day` counts it).
    pub booking_type: Option<String>,
    /// The group booking it is a part of, if any: a group's booking of several calendars
    /// claims one span on each, and cancels and moves as one.
    pub group: Option<GroupRef>,
}

/// The group booking a calendar's booking is a part of: the group's id and the group
/// booking's id (unique in the store, never reused).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct GroupRef {
    /// The group's id.
    pub group: String,
    /// The group booking's id.
    pub id: u64,
}

impl Claim {
    /// A claim of `[start, end)` with no label and no key.
    pub fn new(start: i64, end: i64) -> Claim {
        Claim {
            start,
            end,
            label: None,
            key_id: None,
            booking_type: None,
            group: None,
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
        if end.saturating_sub(start) > MAX_SPAN_SECONDS {
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
    pub(super) id: BookingId,
    pub(super) start: i64,
    pub(super) end: i64,
    pub(super) label: Option<Box<str>>,
    pub(super) key_id: Option<Box<str>>,
    pub(super) booking_type: Option<Box<str>>,
    pub(super) group: Option<Box<GroupRef>>,
    pub(super) created_ms: i64,
    /// The owner slots the span touches, per owner week number: derived from the span and
    /// the owner's zone. Boxed to its length: a calendar holds many bookings, and most touch
    /// one week.
    pub(super) slots: Box<[(i64, Plane)]>,
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

    /// The booking type it was made by, if any.
    pub fn booking_type(&self) -> Option<&str> {
        self.booking_type.as_deref()
    }

    /// The group booking it is a part of, if any.
    pub fn group(&self) -> Option<&GroupRef> {
        self.group.as_deref()
    }

    /// When it was made, in milliseconds since the Unix epoch.
    pub fn created_unix_ms(&self) -> i64 {
        self.created_ms
    }

    /// How many owner slots it holds.
    pub fn slot_count(&self) -> usize {
        self.slots.iter().map(|(_, plane)| plane.count()).sum()
    }

    /// A booking as it was made, read back from a store: `claim`'s span, label and key, and
    /// the owner slots it held then, per owner week number.
    pub(crate) fn made(
        id: BookingId,
        claim: &Claim,
        created_ms: i64,
        slots: Box<[(i64, Plane)]>,
    ) -> Booking {
        Booking {
            id,
            start: claim.start,
            end: claim.end,
            label: claim.label.as_deref().map(Box::from),
            key_id: claim.key_id.as_deref().map(Box::from),
            booking_type: claim.booking_type.as_deref().map(Box::from),
            group: claim.group.clone().map(Box::new),
            created_ms,
            slots,
        }
    }

    /// The owner slots it holds, per owner week number.
    #[cfg(feature = "std")]
    pub(crate) fn planes(&self) -> &[(i64, Plane)] {
        &self.slots
    }

    /// What it claimed: its span, label and key.
    pub fn claim(&self) -> Claim {
        Claim {
            start: self.start,
            end: self.end,
            label: self.label.as_deref().map(String::from),
            key_id: self.key_id.as_deref().map(String::from),
            booking_type: self.booking_type.as_deref().map(String::from),
            group: self.group.as_deref().cloned(),
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
            .field("booking_type", &self.booking_type)
            .field("group", &self.group)
            .field("slots", &self.slot_count())
            .finish()
    }
}
