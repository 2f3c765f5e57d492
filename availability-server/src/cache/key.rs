//! The keys of the render cache: what a cached body depends on, borrowed from a request
//! ([`Key`], [`GroupKey`], [`NamedKey`]) or kept beside the body, and their hashes: where a
//! body goes in the map (within this process) and its entity tag (the same in every process).

use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::Arc;

use availability_core::store::{Calendar, Group};
use availability_core::tz::{IsoWeek, Zone};
use availability_core::Slot;
use http::HeaderValue;
use rustc_hash::FxBuildHasher;

use crate::wire::etag::Tag;

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
    /// A booking type's bookable starts (`/slots`) over viewer dates: the type is the
    /// calendar's `index`th (the calendar's `Arc` fixes its list), the dates start at the
    /// key's week's Monday plus `skip` and run for `days`. Starts move with time, so the
    /// minute of now is part of the key: the answer is exact for it, whatever the notice.
    Slots {
        /// The type's place in the calendar's list, by name.
        index: u8,
        /// Days from the key's week's Monday to the first date.
        skip: u8,
        /// How many dates, 1 to 62.
        days: u8,
        /// JSON, a `VFREEBUSY` of `FREE` periods, or the page that books them.
        body: SlotsBody,
        /// Now, in minutes since the epoch.
        minute: i64,
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
            Format::Slots {
                body: SlotsBody::Json,
                ..
            } => JSON,
            Format::Csv => CSV,
            Format::Ics
            | Format::Pattern
            | Format::Slots {
                body: SlotsBody::Ics,
                ..
            } => ICS,
            Format::Page { .. }
            | Format::Slots {
                body: SlotsBody::Page,
                ..
            } => HTML,
        }
    }
}

/// The bodies of a `/slots` answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SlotsBody {
    /// The starts and ends as JSON.
    Json,
    /// `FREE` periods of a `VFREEBUSY`.
    Ics,
    /// A page that lists them by date and books one with a click.
    Page,
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
    pub(super) fn slot_hash(&self) -> u64 {
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

    pub(super) fn owned(self) -> OwnedKey {
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
    pub(super) fn slot_hash(&self) -> u64 {
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

    pub(super) fn owned(self) -> OwnedGroupKey {
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
/// computed ([`Cache::insert_checked`](crate::cache::Cache::insert_checked)).
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
    pub(super) fn slot_hash(&self) -> u64 {
        let mut hasher = FxBuildHasher.build_hasher();
        (Arc::as_ptr(self.group) as usize).hash(&mut hasher);
        (self.viewer, self.week, self.format, self.min).hash(&mut hasher);
        hasher.finish()
    }
}

/// A [`GroupKey`] kept beside its body. Holding the group's and the members' `Arc`s keeps
/// their addresses from being reused while the body is cached.
#[derive(Debug)]
pub(super) struct OwnedGroupKey {
    pub(super) group: Option<Arc<Group>>,
    pub(super) members: Vec<Arc<Calendar>>,
    viewer: Zone,
    week: IsoWeek,
    format: Format,
    min: u32,
}

impl OwnedGroupKey {
    pub(super) fn matches(&self, key: &GroupKey<'_>) -> bool {
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

    pub(super) fn matches_named(&self, key: &NamedKey<'_>) -> bool {
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
pub(super) enum Owned {
    One(OwnedKey),
    Group(OwnedGroupKey),
}

impl Owned {
    /// The ids of the calendars the body depends on.
    pub(super) fn calendar_ids(&self) -> impl Iterator<Item = &str> + '_ {
        let calendars = match self {
            Owned::One(key) => std::slice::from_ref(&key.calendar),
            Owned::Group(key) => key.members.as_slice(),
        };
        calendars.iter().map(|calendar| calendar.id())
    }

    pub(super) fn slot_hash(&self) -> u64 {
        match self {
            Owned::One(key) => key.borrow().slot_hash(),
            Owned::Group(key) => key.borrow().slot_hash(),
        }
    }
}

/// A [`Key`] kept beside its body, to tell a hash collision from a hit. Holding the calendar's
/// `Arc` keeps its address from being reused by another calendar while the body is cached.
#[derive(Debug)]
pub(super) struct OwnedKey {
    calendar: Arc<Calendar>,
    viewer: Zone,
    week: IsoWeek,
    format: Format,
}

impl OwnedKey {
    pub(super) fn matches(&self, key: &Key<'_>) -> bool {
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

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::cache::fixture::fixture;

    pub(in crate::cache) fn key(calendar: &Arc<Calendar>) -> Key<'_> {
        Key {
            calendar,
            viewer: Zone::UTC,
            week: IsoWeek::new(2026, 48).expect("a week"),
            format: Format::Json,
        }
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
}
