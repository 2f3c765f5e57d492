//! The log's index of what is live: the admin keys; per calendar its record, version, next
//! booking id, overrides and bookings; and the unexpired remembered answers and groups.
//! Compaction writes it again as a new file; the due-check sums what that would take without
//! encoding it.

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use super::checked::KeyHash;
use super::format::{keys_len, CalendarRecord};
use super::groups::Group;
use super::history::{self, PastPattern};
use super::id_key::IdKey;
use super::journal_format::{len, Owner, Record, Remembered, ALIGN, FRAME};
use super::outbox::Outbox;
use crate::dated::GroupRef;

/// What compaction keeps: the live records, indexed. Its maps are persistent, so that a copy
/// of the whole index as of one record costs O(1): compaction writes that copy while
/// appends go on.
#[derive(Clone, Default)]
pub(super) struct Live {
    /// By id and incarnation. An entry without a record holds dated data of no calendar
    /// (a damaged log's): compaction leaves it out.
    calendars: imbl::OrdMap<(IdKey, u64), CalendarLive>,
    admin_keys: Vec<KeyHash>,
    pub(super) remembered: imbl::OrdMap<(String, String), Remembered>,
    groups: imbl::OrdMap<String, Arc<Group>>,
    /// The webhook endpoints and the events waiting for them.
    pub(super) outbox: Outbox,
}

#[derive(Clone, Default)]
pub(super) struct CalendarLive {
    /// The calendar's record, shared with the state readers see.
    record: Option<Arc<CalendarRecord>>,
    version: u64,
    /// Its dated data; most calendars have none, and cost the index only the pointer.
    dated: Option<Box<LiveDated>>,
    /// The versions of its pattern, oldest first, packed ([`history::pack`]); none until
    /// the pattern first changes (then the version before the change is the first).
    history: Option<Arc<[u8]>>,
}

#[derive(Clone, Default)]
pub(super) struct LiveDated {
    next_booking: u64,
    overrides: BTreeMap<i64, (u64, u64)>,
    bookings: BTreeMap<u64, LiveBooking>,
}

/// Calls `f` with calendar `key`'s entry, made empty first if there is none. imbl's entry API
/// looks a key up three times when it is new and twice when it is there; this once when it
/// is there, twice when it is new. Every record of a calendar comes through here: each
/// booking and change appended, and two records of each calendar when a store opens.
fn with_calendar<R>(
    calendars: &mut imbl::OrdMap<(IdKey, u64), CalendarLive>,
    key: (IdKey, u64),
    f: impl FnOnce(&mut CalendarLive) -> R,
) -> R {
    if let Some(calendar) = calendars.get_mut(&key) {
        return f(calendar);
    }
    let mut calendar = CalendarLive::default();
    let out = f(&mut calendar);
    calendars.insert(key, calendar);
    out
}

impl CalendarLive {
    fn dated(&mut self) -> &mut LiveDated {
        self.dated.get_or_insert_with(Box::default)
    }
}

/// A live booking as compaction writes it again: its [`Record::Book`] without the calendar,
/// which keys the map, and without the remembered answer, which is kept (and expires) on its
/// own. (The whole record, cloned, took about four times the memory: a copy of the calendar
/// id per booking, and the space of the largest record kind in every slot of the map.)
#[derive(Clone)]
pub(super) struct LiveBooking {
    /// The calendar's version the record was written at.
    version: u64,
    start: i64,
    end: i64,
    created_ms: i64,
    key_id: Option<Box<str>>,
    label: Option<Box<str>>,
    booking_type: Option<Box<str>>,
    group: Option<Box<GroupRef>>,
}

impl Live {
    pub(super) fn apply(&mut self, record: &Record) {
        let event = if self.outbox.listening() {
            self.event_of(record)
        } else {
            None
        };
        self.apply_change(record);
        if let Some(event) = event {
            self.outbox.emit(event);
        }
    }

    fn apply_change(&mut self, record: &Record) {
        match record {
            Record::Remember(r) => {
                self.remembered
                    .insert((r.principal.clone(), r.key.clone()), r.clone());
            }
            Record::Group(group) => {
                self.groups
                    .insert(String::from(group.id()), Arc::clone(group));
            }
            Record::GroupWrite(write) => {
                for part in write.records() {
                    self.apply(&part);
                }
            }
            Record::Calendars(records) => {
                for record in records {
                    self.apply(&Record::Calendar(Arc::clone(record)));
                }
            }
            Record::DeleteGroup { id } => {
                self.groups.remove(id);
            }
            Record::AdminKeys(keys) => self.admin_keys.clone_from(keys),
            Record::Calendar(record) => {
                let key = (IdKey::of(&record.id), record.incarnation);
                with_calendar(&mut self.calendars, key, |calendar| {
                    calendar.version = calendar.version.max(record.version);
                    // The packed history may name the record's week: a record of another week
                    // (none that this version writes) makes it say the week.
                    if let (Some(packed), Some(before)) = (&calendar.history, &calendar.record) {
                        if before.week != record.week {
                            let versions = history::unpack(packed, &before.week);
                            calendar.history = Some(history::pack(&versions, &record.week));
                        }
                    }
                    calendar.record = Some(Arc::clone(record));
                });
            }
            Record::Pattern { by, record } => {
                let key = (IdKey::of(&record.id), record.incarnation);
                with_calendar(&mut self.calendars, key, |calendar| {
                    let before = calendar.record.as_deref();
                    let before_week = before.map(|b| b.week).unwrap_or_default();
                    let next = |week_before: &_| {
                        PastPattern::after(
                            week_before,
                            record.version,
                            record.changed_at_ms,
                            by.clone(),
                            record.week,
                        )
                    };
                    calendar.history = Some(match (&calendar.history, before) {
                        // The first change: most histories are this one, packed at once.
                        (None, Some(before)) => history::begin(before, &next(&before.week)),
                        (packed, _) => {
                            history::add(packed.as_deref(), &before_week, next, &record.week)
                        }
                    });
                    calendar.version = calendar.version.max(record.version);
                    calendar.record = Some(Arc::clone(record));
                });
            }
            Record::Past {
                id,
                incarnation,
                past,
            } => {
                let key = (IdKey::new(Arc::from(id.as_str())), *incarnation);
                with_calendar(&mut self.calendars, key, |calendar| {
                    let week = calendar.record.as_ref().map(|r| r.week).unwrap_or_default();
                    calendar.history = Some(history::add(
                        calendar.history.as_deref(),
                        &week,
                        |_| PastPattern::clone(past),
                        &week,
                    ));
                });
            }
            Record::DeleteCalendar { id, incarnation } => {
                self.calendars
                    .remove(&(IdKey::new(Arc::from(id.as_str())), *incarnation));
                self.outbox.calendar_deleted(id, *incarnation);
            }
            Record::Webhook(hook) => self.outbox.put_hook(hook),
            Record::DeleteWebhook { id } => self.outbox.delete_hook(id),
            Record::Attempts { hook, attempts } => self.outbox.attempted(hook, attempts),
            Record::Pending(pending) => self.outbox.restore(pending),
            _ => {
                let Some(owner) = record.owner() else { return };
                let key = (IdKey::new(Arc::from(owner.id.as_str())), owner.incarnation);
                with_calendar(&mut self.calendars, key, |calendar| {
                    calendar.version = calendar.version.max(owner.version);
                    match record {
                        Record::State { next_booking, .. } => {
                            let dated = calendar.dated();
                            dated.next_booking = dated.next_booking.max(*next_booking);
                        }
                        Record::Override {
                            day, open, firm, ..
                        } => {
                            calendar.dated().overrides.insert(*day, (*open, *firm));
                        }
                        Record::ClearOverride { day, .. } => {
                            calendar.dated().overrides.remove(day);
                        }
                        Record::Book {
                            id,
                            start,
                            end,
                            created_ms,
                            key_id,
                            label,
                            booking_type,
                            group,
                            ..
                        } => {
                            let dated = calendar.dated();
                            dated.next_booking = dated.next_booking.max(id + 1);
                            dated.bookings.insert(
                                *id,
                                LiveBooking {
                                    version: owner.version,
                                    start: *start,
                                    end: *end,
                                    created_ms: *created_ms,
                                    key_id: key_id.as_deref().map(Box::from),
                                    label: label.as_deref().map(Box::from),
                                    booking_type: booking_type.as_deref().map(Box::from),
                                    group: group.clone().map(Box::new),
                                },
                            );
                        }
                        Record::Cancel { id, .. } => {
                            calendar.dated().bookings.remove(id);
                        }
                        Record::Remember(_)
                        | Record::Group(_)
                        | Record::GroupWrite(_)
                        | Record::DeleteGroup { .. }
                        | Record::AdminKeys(_)
                        | Record::Calendar(_)
                        | Record::Calendars(_)
                        | Record::Pattern { .. }
                        | Record::Past { .. }
                        | Record::DeleteCalendar { .. }
                        | Record::Webhook(_)
                        | Record::DeleteWebhook { .. }
                        | Record::Attempts { .. }
                        | Record::Pending(_) => {}
                    }
                });
                if let Record::Book {
                    remembered: Some(r),
                    ..
                } = record
                {
                    self.remembered
                        .insert((r.principal.clone(), r.key.clone()), r.clone());
                }
            }
        }
    }

    /// The versions of the pattern of calendar `id` of `incarnation`, oldest first, when its
    /// pattern changed since the history began (otherwise its record's week is all there is).
    pub(super) fn history(&self, id: &str, incarnation: u64) -> Option<Vec<PastPattern>> {
        let calendar = self
            .calendars
            .get(&(IdKey::new(Arc::from(id)), incarnation))?;
        let week = calendar.record.as_ref().map(|r| r.week).unwrap_or_default();
        Some(history::unpack(calendar.history.as_deref()?, &week))
    }

    /// Hands `out` the live set, record by record (the whole set at once would be a second
    /// copy of it), less bookings that ended and overrides of days before `cutoff`, and
    /// answers that expired by `now_ms`. Each comes borrowed from the index: compaction
    /// builds it ([`LiveRecord::record`]), the due-check only measures it
    /// ([`LiveRecord::encoded_len`]).
    pub(super) fn each_record(
        &self,
        cutoff: i64,
        now_ms: i64,
        out: &mut dyn FnMut(LiveRecord<'_>),
    ) {
        let cutoff_day = cutoff.div_euclid(86_400) - 1;
        out(LiveRecord::AdminKeys(&self.admin_keys));
        for ((id, incarnation), calendar) in &self.calendars {
            let Some(record) = &calendar.record else {
                continue;
            };
            out(LiveRecord::Calendar(record));
            let (id, incarnation) = (&**id.id(), *incarnation);
            if let Some(packed) = &calendar.history {
                let versions = history::unpack(packed, &record.week);
                for past in history::kept(&versions, cutoff.saturating_mul(1000)) {
                    out(LiveRecord::Past {
                        id,
                        incarnation,
                        past,
                    });
                }
            }
            let version = calendar.version.max(record.version);
            // Most calendars have no dated data: their record says all there is.
            let empty = LiveDated::default();
            let dated = calendar.dated.as_deref().unwrap_or(&empty);
            if version > record.version || dated.next_booking > 0 {
                out(LiveRecord::State {
                    id,
                    incarnation,
                    version,
                    next_booking: dated.next_booking,
                });
            }
            for (&day, &planes) in dated.overrides.range(cutoff_day..) {
                out(LiveRecord::Override {
                    id,
                    incarnation,
                    version,
                    day,
                    planes,
                });
            }
            for (&booking_id, booking) in &dated.bookings {
                if booking.end > cutoff {
                    out(LiveRecord::Book {
                        id,
                        incarnation,
                        booking_id,
                        booking,
                    });
                }
            }
        }
        for remembered in self.remembered.values() {
            if remembered.expires_ms > now_ms {
                out(LiveRecord::Remember(remembered));
            }
        }
        for group in self.groups.values() {
            out(LiveRecord::Group(group));
        }
        // Last: replaying the records above makes no events, as no endpoint precedes them.
        self.outbox
            .each_record(cutoff.saturating_mul(1000), &mut |record| {
                out(LiveRecord::Outbox(Box::new(record)))
            });
    }

    /// What the records [`Live::each_record`] hands out take in a journal, each counted with
    /// [`FRAMED`] bytes of frame and padding, without building or encoding one: compaction's
    /// due-check runs this with every commit waiting.
    pub(super) fn live_bytes(&self, cutoff: i64, now_ms: i64) -> usize {
        let mut bytes = 0;
        self.each_record(cutoff, now_ms, &mut |record| {
            bytes += record.encoded_len() + FRAMED;
        });
        bytes
    }
}

/// A live record as the index holds it, borrowed.
pub(super) enum LiveRecord<'a> {
    /// The admin keys.
    AdminKeys(&'a [KeyHash]),
    /// A calendar's record.
    Calendar(&'a Arc<CalendarRecord>),
    /// A calendar's version and next booking id.
    State {
        id: &'a str,
        incarnation: u64,
        version: u64,
        next_booking: u64,
    },
    /// An owner day's override: its open and firm planes.
    Override {
        id: &'a str,
        incarnation: u64,
        version: u64,
        day: i64,
        planes: (u64, u64),
    },
    /// A booking of calendar `id`.
    Book {
        id: &'a str,
        incarnation: u64,
        booking_id: u64,
        booking: &'a LiveBooking,
    },
    /// A version of calendar `id`'s pattern history.
    Past {
        id: &'a str,
        incarnation: u64,
        past: &'a PastPattern,
    },
    /// An answer kept for an idempotency key.
    Remember(&'a Remembered),
    /// A named group.
    Group(&'a Arc<Group>),
    /// A webhook endpoint, its attempts, or an event waiting.
    Outbox(Box<Record>),
}

impl LiveRecord<'_> {
    /// The journal record it is.
    pub(super) fn record(&self) -> Record {
        let owner = |id: &str, incarnation, version| Owner {
            id: String::from(id),
            incarnation,
            version,
        };
        match *self {
            LiveRecord::AdminKeys(keys) => Record::AdminKeys(keys.to_vec()),
            LiveRecord::Calendar(record) => Record::Calendar(Arc::clone(record)),
            LiveRecord::State {
                id,
                incarnation,
                version,
                next_booking,
            } => Record::State {
                owner: owner(id, incarnation, version),
                next_booking,
            },
            LiveRecord::Override {
                id,
                incarnation,
                version,
                day,
                planes: (open, firm),
            } => Record::Override {
                owner: owner(id, incarnation, version),
                day,
                open,
                firm,
            },
            LiveRecord::Book {
                id,
                incarnation,
                booking_id,
                booking,
            } => Record::Book {
                owner: owner(id, incarnation, booking.version),
                id: booking_id,
                start: booking.start,
                end: booking.end,
                created_ms: booking.created_ms,
                key_id: booking.key_id.as_deref().map(String::from),
                label: booking.label.as_deref().map(String::from),
                booking_type: booking.booking_type.as_deref().map(String::from),
                group: booking.group.as_deref().cloned(),
                remembered: None,
            },
            LiveRecord::Past {
                id,
                incarnation,
                past,
            } => Record::Past {
                id: String::from(id),
                incarnation,
                past: Arc::new(past.clone()),
            },
            LiveRecord::Remember(remembered) => Record::Remember(remembered.clone()),
            LiveRecord::Group(group) => Record::Group(Arc::clone(group)),
            LiveRecord::Outbox(ref record) => Record::clone(record),
        }
    }

    /// The length of its payload, as [`Record::encoded_len`] would give it for
    /// [`LiveRecord::record`].
    pub(super) fn encoded_len(&self) -> usize {
        match *self {
            LiveRecord::AdminKeys(keys) => 1 + keys_len(keys),
            LiveRecord::Calendar(record) => record.encoded_len(),
            LiveRecord::State { id, .. } => len::state(id),
            LiveRecord::Override { id, .. } => len::day_override(id),
            LiveRecord::Book { id, booking, .. } => len::book(
                id,
                booking.key_id.as_deref(),
                booking.label.as_deref(),
                booking.booking_type.as_deref(),
                booking.group.as_deref(),
                None,
            ),
            LiveRecord::Past { id, past, .. } => len::past(id, past),
            LiveRecord::Remember(remembered) => len::remember(remembered),
            LiveRecord::Group(group) => Record::Group(Arc::clone(group)).encoded_len(),
            LiveRecord::Outbox(ref record) => record.encoded_len(),
        }
    }
}

/// What the due-check counts for a record's frame and the padding after it: the frame's
/// [`FRAME`] bytes and [`ALIGN`] more, which no padding reaches.
const FRAMED: usize = FRAME + ALIGN;

mod events;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Answer;

    fn owner(id: &str, incarnation: u64, version: u64) -> Owner {
        Owner {
            id: String::from(id),
            incarnation,
            version,
        }
    }

    fn remembered(key: &str, expires_ms: i64, body: usize) -> Remembered {
        Remembered {
            key: String::from(key),
            principal: String::from("key:k1"),
            fingerprint: [7; 32],
            expires_ms,
            answer: Answer::Response {
                status: 201,
                body: alloc::vec![b'x'; body],
                state: None,
            },
        }
    }

    /// Booking `id` of calendar `cal`, remembered for an idempotency key.
    fn booked(cal: &str, incarnation: u64, version: u64, id: u64, start: i64) -> Remembered {
        let claim = crate::dated::Claim {
            start,
            end: start + 3_600,
            label: None,
            key_id: None,
            booking_type: None,
            group: None,
        };
        let slots = alloc::vec![(id as i64, crate::plane::Plane::range(2, 4))];
        Remembered {
            answer: Answer::Booked {
                calendar: String::from(cal),
                incarnation,
                version,
                booking: Arc::new(crate::dated::Booking::made(
                    crate::dated::BookingId(id),
                    &claim,
                    5,
                    slots.into_boxed_slice(),
                )),
            },
            ..remembered(&alloc::format!("booked-{cal}-{id}"), 1_500, 0)
        }
    }

    /// A live set with every kind of record, each on both sides of the cutoffs used below.
    fn live() -> Live {
        let mut live = Live::default();
        let day = 86_400;
        for (i, cal) in ["room-1", "a", "room-with-a-longer-id"].iter().enumerate() {
            let inc = i as u64 + 1;
            live.apply(&Record::Calendar(Arc::new(
                super::super::calendar::new_calendar(cal, "Europe/Paris", Vec::new(), inc),
            )));
            live.apply(&Record::State {
                owner: owner(cal, inc, 1),
                next_booking: 1,
            });
            for d in [9_i64, 10, 11, 30] {
                live.apply(&Record::Override {
                    owner: owner(cal, inc, 2),
                    day: d,
                    open: 0xF0,
                    firm: 0x0F,
                });
            }
            for b in 0..12_u64 {
                let start = (8 + b as i64) * day;
                live.apply(&Record::Book {
                    owner: owner(cal, inc, 3 + b),
                    id: b + 1,
                    start,
                    end: start + 3_600,
                    created_ms: 5,
                    key_id: (b % 2 == 0).then(|| String::from("k1")),
                    label: (b % 3 != 0).then(|| "label ".repeat(b as usize)),
                    booking_type: (b % 5 != 0).then(|| alloc::format!("call-{b}")),
                    group: (b % 4 == 1).then(|| GroupRef {
                        group: String::from("team"),
                        id: 1_000 + b,
                    }),
                    remembered: match b % 4 {
                        1 => Some(remembered(&alloc::format!("b{b}"), 500, 40)),
                        3 => Some(booked(cal, inc, 3 + b, b + 1, start)),
                        _ => None,
                    },
                });
            }
            live.apply(&Record::Cancel {
                owner: owner(cal, inc, 20),
                id: 3,
            });
        }
        live.apply(&Record::Remember(remembered("alone", 2_000, 300)));
        live.apply(&Record::Group(Arc::new(Group::with_types(
            String::from("team"),
            alloc::vec![String::from("room-1"), String::from("a")],
            Vec::new(),
        ))));
        live
    }

    #[test]
    fn the_due_check_counts_what_compaction_would_write() {
        let all_there = live();
        let mut without_a = live();
        without_a.apply(&Record::DeleteCalendar {
            id: String::from("a"),
            incarnation: 2,
        });
        let day = 86_400;
        for live in [&all_there, &without_a] {
            for cutoff in [0, 10 * day + 1, 11 * day + 3_600, 14 * day, 40 * day] {
                for now_ms in [0, 500, 1_000, 2_000, 5_000] {
                    let mut written = 0;
                    live.each_record(cutoff, now_ms, &mut |record| {
                        written += record.record().encode().len() + FRAMED;
                    });
                    assert_eq!(
                        live.live_bytes(cutoff, now_ms),
                        written,
                        "cutoff {cutoff}, now {now_ms}"
                    );
                }
            }
        }
        // The cutoffs, expiries and deletions above do leave things out.
        let mut all = 0;
        all_there.each_record(0, 0, &mut |_| all += 1);
        let mut some = 0;
        without_a.each_record(14 * day, 1_000, &mut |_| some += 1);
        assert!(0 < some && some < all, "{some} of {all}");
    }
}
