//! Webhooks as the store keeps them: the endpoints (where events go, which events of which
//! calendars, the signing secret as the server sealed it), the events a change makes, and what
//! each attempt to deliver one answered.
//!
//! An event is not written beside the change it reports: it *is* the change. The log's index
//! of what is live derives each event from the record of a change and the endpoints that
//! precede it in the log (`outbox`), so the event is in the same commit by construction, a
//! crash after the commit still delivers it, and a record that is not there made none.

use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use super::checked::check_id;
use crate::dated::GroupRef;
use crate::error::{Error, Kind};

/// The most webhook endpoints a store holds.
pub const MAX_WEBHOOKS: usize = 1000;
/// The longest endpoint URL, in bytes.
pub const MAX_URL: usize = 2048;
/// The most calendars one endpoint names.
pub const MAX_WEBHOOK_CALENDARS: usize = 100;
/// The longest sealed secret, in bytes.
pub const MAX_SECRET: usize = 255;
/// The longest reason or error text kept, in bytes.
pub(crate) const MAX_REASON: usize = 255;
/// The attempts kept per endpoint, newest last.
pub const KEPT_ATTEMPTS: usize = 100;

/// What happened, as a webhook names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventKind {
    /// A booking was made (`booking.created`).
    BookingCreated,
    /// A booking moved (`booking.rescheduled`).
    BookingRescheduled,
    /// A booking was cancelled (`booking.cancelled`).
    BookingCancelled,
    /// The weekly pattern or the zone changed (`availability.changed`).
    AvailabilityChanged,
    /// An owner date's override was set or cleared (`override.changed`).
    OverrideChanged,
    /// The calendar was deleted (`calendar.deleted`).
    CalendarDeleted,
}

impl EventKind {
    /// Every kind, in the order of their bits.
    pub const ALL: [EventKind; 6] = [
        EventKind::BookingCreated,
        EventKind::BookingRescheduled,
        EventKind::BookingCancelled,
        EventKind::AvailabilityChanged,
        EventKind::OverrideChanged,
        EventKind::CalendarDeleted,
    ];

    /// Its name on the wire.
    pub fn name(self) -> &'static str {
        match self {
            EventKind::BookingCreated => "booking.created",
            EventKind::BookingRescheduled => "booking.rescheduled",
            EventKind::BookingCancelled => "booking.cancelled",
            EventKind::AvailabilityChanged => "availability.changed",
            EventKind::OverrideChanged => "override.changed",
            EventKind::CalendarDeleted => "calendar.deleted",
        }
    }

    /// The kind named `name`, if there is one.
    pub fn from_name(name: &str) -> Option<EventKind> {
        EventKind::ALL.into_iter().find(|k| k.name() == name)
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// A set of event kinds, one bit each.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EventSet(u8);

impl EventSet {
    /// Every kind.
    pub const ALL: EventSet = EventSet((1 << EventKind::ALL.len()) - 1);

    /// The set of `kinds`.
    pub fn of(kinds: impl IntoIterator<Item = EventKind>) -> EventSet {
        EventSet(kinds.into_iter().fold(0, |bits, k| bits | k.bit()))
    }

    /// Whether `kind` is in it.
    pub fn contains(self, kind: EventKind) -> bool {
        self.0 & kind.bit() != 0
    }

    /// Its kinds, in the order of [`EventKind::ALL`].
    pub fn kinds(self) -> impl Iterator<Item = EventKind> {
        EventKind::ALL
            .into_iter()
            .filter(move |k| self.contains(*k))
    }

    /// Its bits.
    pub(crate) fn bits(self) -> u8 {
        self.0
    }

    /// The set of `bits`, which must name kinds only and at least one.
    pub(crate) fn from_bits(bits: u8) -> Option<EventSet> {
        (bits != 0 && bits & !EventSet::ALL.0 == 0).then_some(EventSet(bits))
    }
}

/// Why an endpoint gets no more events.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Disabled {
    /// When, in milliseconds since the epoch.
    pub at_ms: i64,
    /// Why, for a person.
    pub reason: String,
}

/// A webhook endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Webhook {
    pub(crate) id: String,
    pub(crate) url: String,
    pub(crate) events: EventSet,
    pub(crate) calendars: Vec<String>,
    pub(crate) owner: Option<(String, u64)>,
    pub(crate) secret: Vec<u8>,
    pub(crate) created_ms: i64,
    pub(crate) failing_since_ms: Option<i64>,
    pub(crate) disabled: Option<Disabled>,
}

impl Webhook {
    /// An endpoint `id` (a calendar-style id) sending `events` of `calendars` (every
    /// calendar when empty) to `url`, signed with `secret` (as the caller sealed it).
    /// `owner` is the calendar whose key made it, with the incarnation it was made for:
    /// such an endpoint names that calendar only, and goes with it.
    ///
    /// # Errors
    ///
    /// [`Error::is_parse`] for an id or calendar id that is not calendar-style, a URL that
    /// is empty, longer than [`MAX_URL`] or not printable ASCII, no events, more than
    /// [`MAX_WEBHOOK_CALENDARS`] calendars or one twice, a secret empty or longer than
    /// [`MAX_SECRET`], or an owner's endpoint that names another calendar.
    pub fn new(
        id: &str,
        url: &str,
        events: EventSet,
        calendars: Vec<String>,
        owner: Option<(String, u64)>,
        secret: Vec<u8>,
        created_ms: i64,
    ) -> Result<Webhook, Error> {
        let hook = Webhook {
            id: String::from(id),
            url: String::from(url),
            events,
            calendars,
            owner,
            secret,
            created_ms,
            failing_since_ms: None,
            disabled: None,
        };
        hook.check().map_err(|what| Error::new(Kind::Parse, what))?;
        Ok(hook)
    }

    /// The endpoint with the state its deliveries gave it: failing since `failing_since_ms`,
    /// and `disabled` (as a database keeps it beside the endpoint).
    ///
    /// # Errors
    ///
    /// [`Error::is_parse`] for a reason longer than 255 bytes.
    pub fn with_state(
        mut self,
        failing_since_ms: Option<i64>,
        disabled: Option<Disabled>,
    ) -> Result<Webhook, Error> {
        self.failing_since_ms = failing_since_ms;
        self.disabled = disabled;
        self.check().map_err(|what| Error::new(Kind::Parse, what))?;
        Ok(self)
    }

    /// What is wrong with it, if anything (also for one read from the log).
    pub(crate) fn check(&self) -> Result<(), String> {
        check_id(&self.id).map_err(|_| format!("invalid webhook id {:?}", self.id))?;
        if self.url.is_empty()
            || self.url.len() > MAX_URL
            || !self.url.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(format!(
                "a webhook URL is 1 to {MAX_URL} printable ASCII characters"
            ));
        }
        if self.events.bits() == 0 || EventSet::from_bits(self.events.bits()).is_none() {
            return Err(String::from("a webhook names at least one event"));
        }
        if self.calendars.len() > MAX_WEBHOOK_CALENDARS {
            return Err(format!(
                "a webhook names at most {MAX_WEBHOOK_CALENDARS} calendars"
            ));
        }
        for (i, calendar) in self.calendars.iter().enumerate() {
            check_id(calendar).map_err(|e| alloc::string::ToString::to_string(&e))?;
            if self.calendars[..i].contains(calendar) {
                return Err(format!("a webhook names calendar {calendar:?} twice"));
            }
        }
        if self.secret.is_empty() || self.secret.len() > MAX_SECRET {
            return Err(format!("a webhook secret is 1 to {MAX_SECRET} bytes"));
        }
        if let Some((calendar, _)) = &self.owner {
            check_id(calendar).map_err(|e| alloc::string::ToString::to_string(&e))?;
            if self.calendars.as_slice() != [calendar.clone()] {
                return Err(format!(
                    "a webhook made with a key of calendar {calendar:?} names that calendar \
                     only"
                ));
            }
        }
        if let Some(disabled) = &self.disabled {
            if disabled.reason.len() > MAX_REASON {
                return Err(format!("a reason is at most {MAX_REASON} bytes"));
            }
        }
        Ok(())
    }

    /// Its id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Where its events are sent.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The kinds of event it is sent.
    pub fn events(&self) -> EventSet {
        self.events
    }

    /// The calendars whose events it is sent; every calendar's when empty.
    pub fn calendars(&self) -> &[String] {
        &self.calendars
    }

    /// The calendar whose key made it, and that calendar's incarnation; `None` for an
    /// admin's endpoint.
    pub fn owner(&self) -> Option<(&str, u64)> {
        self.owner.as_ref().map(|(id, inc)| (id.as_str(), *inc))
    }

    /// Its signing secret, as the server sealed it.
    pub fn secret(&self) -> &[u8] {
        &self.secret
    }

    /// When it was made, in milliseconds since the epoch.
    pub fn created_unix_ms(&self) -> i64 {
        self.created_ms
    }

    /// Since when every attempt to deliver to it failed, if the last one did.
    pub fn failing_since_unix_ms(&self) -> Option<i64> {
        self.failing_since_ms
    }

    /// Why it gets no more events, if it does not.
    pub fn disabled(&self) -> Option<&Disabled> {
        self.disabled.as_ref()
    }

    /// Whether an event of `kind` of calendar `calendar` (that incarnation of it) is sent
    /// to it.
    pub fn wants(&self, kind: EventKind, calendar: &str, incarnation: u64) -> bool {
        self.disabled.is_none()
            && self.events.contains(kind)
            && (self.calendars.is_empty() || self.calendars.iter().any(|c| c == calendar))
            && self
                .owner
                .as_ref()
                .is_none_or(|(id, inc)| id == calendar && *inc == incarnation)
    }
}

/// Which change an event reports: the calendar's incarnation and the version the change gave
/// it (one more than its last for a deletion). Unique in a store, and the same on every
/// attempt, so a receiver can drop a repeat.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventId {
    /// The calendar's incarnation.
    pub incarnation: u64,
    /// The version the change gave it.
    pub version: u64,
}

/// An event: what changed, on which calendar.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// Which change it reports.
    pub id: EventId,
    /// What happened.
    pub kind: EventKind,
    /// The calendar's id.
    pub calendar: String,
    /// When the store recorded it (for an event read again from the log after a restart,
    /// when it was read), in milliseconds since the epoch.
    pub at_ms: i64,
    /// The booking, for a booking's event: as made, as moved, or as it was when cancelled.
    pub booking: Option<EventBooking>,
    /// The owner date (days since 1970-01-01), for an override's event.
    pub day: Option<i64>,
}

/// A booking as an event reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventBooking {
    /// Its id in its calendar.
    pub id: u64,
    /// Its span, in seconds since the epoch.
    pub start: i64,
    /// Its end (exclusive).
    pub end: i64,
    /// Its label.
    pub label: Option<String>,
    /// The booking type it was made by.
    pub booking_type: Option<String>,
    /// The group booking it is a part of.
    pub group: Option<GroupRef>,
    /// Where it was before, for a move.
    pub previous: Option<(i64, i64)>,
}

/// How an attempt ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The receiver took it (a 2xx): the delivery is done.
    Delivered,
    /// It failed and will be tried again.
    Retry,
    /// It failed and will not be tried again (the endpoint was disabled, or gave up).
    GaveUp,
}

/// One attempt to deliver an event to an endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attempt {
    /// The event.
    pub event: EventId,
    /// Its kind.
    pub kind: EventKind,
    /// Which attempt of this delivery it was, from 1.
    pub number: u32,
    /// When it started, in milliseconds since the epoch.
    pub at_ms: i64,
    /// The answer's status, or 0 when there was no answer.
    pub status: u16,
    /// How long it took, in milliseconds.
    pub duration_ms: u32,
    /// What went wrong, if anything did, for a person.
    pub error: Option<String>,
    /// How it ended.
    pub outcome: Outcome,
}

/// An event waiting for an endpoint: how many attempts it had and when the last started.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    /// The endpoint's id.
    pub hook: String,
    /// Attempts made so far.
    pub attempts: u32,
    /// When the last one started (milliseconds since the epoch), 0 before the first.
    pub last_ms: i64,
}

/// An event and the endpoints still waiting for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pending {
    /// The event.
    pub event: Event,
    /// Its deliveries not yet done, one per endpoint.
    pub deliveries: Vec<Delivery>,
}

/// The oldest event waiting for an endpoint among those of one calendar: the one the sender
/// may deliver next (a calendar's events go in order).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Head {
    /// The endpoint's id.
    pub hook: String,
    /// The event, with every endpoint it waits for.
    pub pending: Arc<Pending>,
    /// How many of this calendar's events wait for this endpoint, this one included.
    pub waiting: usize,
}

/// Shortens `text` to at most 255 bytes (what a reason or an error keeps), on a character
/// boundary.
pub fn clip(text: &str) -> String {
    let mut end = text.len().min(MAX_REASON);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    String::from(&text[..end])
}
