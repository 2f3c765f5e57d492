//! The event a record of a change makes (`docs/format.md`, section 5.3), read from the index
//! as it stood before the record.

use alloc::string::String;
use alloc::sync::Arc;

use super::super::id_key::IdKey;
use super::super::journal_format::Record;
use super::super::webhook::{Event, EventBooking, EventId, EventKind};
use super::Live;

impl Live {
    /// The event `record` makes, from the state before it: a booking made, moved or
    /// cancelled, an override set or cleared, the pattern or zone changed, the calendar
    /// deleted. Records that only restate what is live (compaction's) make none, as no
    /// endpoint precedes them in the file.
    pub(super) fn event_of(&self, record: &Record) -> Option<Event> {
        let now = super::super::checked::now_ms();
        let event = |kind, id: &str, incarnation, version| Event {
            id: EventId {
                incarnation,
                version,
            },
            kind,
            calendar: String::from(id),
            at_ms: now,
            booking: None,
            day: None,
        };
        let live = |id: &str, incarnation| {
            self.calendars
                .get(&(IdKey::new(Arc::from(id)), incarnation))
        };
        match record {
            Record::Calendar(next) | Record::Pattern { record: next, .. } => {
                let before = live(&next.id, next.incarnation)?.record.as_ref()?;
                (before.week != next.week || before.zone != next.zone).then(|| {
                    event(
                        EventKind::AvailabilityChanged,
                        &next.id,
                        next.incarnation,
                        next.version,
                    )
                })
            }
            Record::DeleteCalendar { id, incarnation } => {
                let version = live(id, *incarnation)?.version;
                Some(event(
                    EventKind::CalendarDeleted,
                    id,
                    *incarnation,
                    version + 1,
                ))
            }
            Record::Override { owner, day, .. } | Record::ClearOverride { owner, day } => {
                Some(Event {
                    day: Some(*day),
                    ..event(
                        EventKind::OverrideChanged,
                        &owner.id,
                        owner.incarnation,
                        owner.version,
                    )
                })
            }
            Record::Book {
                owner,
                id,
                start,
                end,
                label,
                booking_type,
                group,
                ..
            } => {
                let before = live(&owner.id, owner.incarnation)
                    .and_then(|c| c.dated.as_ref())
                    .and_then(|d| d.bookings.get(id));
                let kind = match before {
                    Some(_) => EventKind::BookingRescheduled,
                    None => EventKind::BookingCreated,
                };
                Some(Event {
                    booking: Some(EventBooking {
                        id: *id,
                        start: *start,
                        end: *end,
                        label: label.clone(),
                        booking_type: booking_type.clone(),
                        group: group.clone(),
                        previous: before.map(|b| (b.start, b.end)),
                    }),
                    ..event(kind, &owner.id, owner.incarnation, owner.version)
                })
            }
            Record::Cancel { owner, id } => {
                let before = live(&owner.id, owner.incarnation)?
                    .dated
                    .as_ref()?
                    .bookings
                    .get(id)?;
                Some(Event {
                    booking: Some(EventBooking {
                        id: *id,
                        start: before.start,
                        end: before.end,
                        label: before.label.as_deref().map(String::from),
                        booking_type: before.booking_type.as_deref().map(String::from),
                        group: before.group.as_deref().cloned(),
                        previous: None,
                    }),
                    ..event(
                        EventKind::BookingCancelled,
                        &owner.id,
                        owner.incarnation,
                        owner.version,
                    )
                })
            }
            _ => None,
        }
    }
}
