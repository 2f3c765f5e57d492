//! Dated changes applied from the rows they name. A write that changed only a calendar's
//! dated rows (a booking made, moved or cancelled, an override set or cleared, and what
//! retention dropped with it) names those rows in its change log row. A follower whose copy
//! of the calendar shows every version before such changes reads just those rows and the
//! calendar's own row, and applies them to its copy, instead of reading every row of the
//! calendar again (each booking of a busy calendar, at every change another server makes).
//! Whatever does not line up (a version missed, an incarnation or a field of the calendar's
//! own row that differs from the copy) is read whole, as before.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use availability_core::dated::BookingId;
use availability_core::store::{Calendar, Store};
use availability_core::tz::Zone;
use availability_core::Error;
use chrono::NaiveDate;
use tokio_postgres::Row;

use crate::load::{self, Query, Reads};
use crate::rows::{self, BOOKING, CALENDAR, OVERRIDE};

/// The rows a dated change wrote: its bookings by id and its override days.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Touched {
    pub(crate) bookings: Vec<i64>,
    pub(crate) days: Vec<NaiveDate>,
}

/// A calendar's change, as the log tells it.
#[derive(Debug, Clone)]
pub(crate) struct Logged {
    pub(crate) incarnation: u64,
    pub(crate) version: u64,
    /// The rows it wrote, when it wrote dated rows alone.
    pub(crate) touched: Option<Touched>,
}

/// One calendar to bring from the copy shown to version `to` by the rows its changes name.
struct Delta {
    shown: Arc<Calendar>,
    to: u64,
    touched: Touched,
}

/// The calendars a round of the follower applies from the rows their changes name.
#[derive(Default)]
pub(crate) struct Deltas {
    calendars: BTreeMap<String, Delta>,
}

/// What [`Deltas::read`] read: the calendars' own rows, the named bookings' and the named
/// overrides' (a row gone is a booking cancelled or an override cleared).
pub(crate) struct Read {
    own: Vec<Row>,
    bookings: Vec<Row>,
    overrides: Vec<Row>,
}

impl Deltas {
    /// Splits the calendars with changes not shown yet: those `store`'s copy reaches by the
    /// rows their changes name (every version after the copy's, of its incarnation, each a
    /// dated change), and the rest, to be read whole.
    pub(crate) fn plan(
        store: &Store,
        changes: BTreeMap<String, Vec<Logged>>,
    ) -> (Deltas, BTreeSet<String>) {
        let mut deltas = Deltas::default();
        let mut whole = BTreeSet::new();
        for (id, mut logged) in changes {
            logged.sort_by_key(|l| l.version);
            let shown = store.get(&id);
            let delta = shown.and_then(|shown| {
                let (incarnation, version) = shown.state();
                let mut touched = Touched::default();
                for (n, l) in (1u64..).zip(&logged) {
                    if l.incarnation != incarnation || l.version != version.checked_add(n)? {
                        return None;
                    }
                    let rows = l.touched.as_ref()?;
                    touched.bookings.extend(&rows.bookings);
                    touched.days.extend(&rows.days);
                }
                touched.bookings.sort_unstable();
                touched.bookings.dedup();
                touched.days.sort_unstable();
                touched.days.dedup();
                let to = logged.last()?.version;
                Some(Delta { shown, to, touched })
            });
            match delta {
                Some(delta) => {
                    deltas.calendars.insert(id, delta);
                }
                None => {
                    whole.insert(id);
                }
            }
        }
        (deltas, whole)
    }

    /// Whether there is nothing to read.
    pub(crate) fn is_empty(&self) -> bool {
        self.calendars.is_empty()
    }

    /// The rows the changes name, and the calendars' own rows: one round trip once the
    /// statements are prepared.
    pub(crate) async fn read(&self, reads: &impl Reads) -> Result<Read, Error> {
        let ids: Vec<&str> = self.calendars.keys().map(String::as_str).collect();
        let (mut booking_of, mut booking) = (Vec::new(), Vec::new());
        let (mut day_of, mut day) = (Vec::new(), Vec::new());
        for (id, delta) in &self.calendars {
            for b in &delta.touched.bookings {
                booking_of.push(id.as_str());
                booking.push(*b);
            }
            for d in &delta.touched.days {
                day_of.push(id.as_str());
                day.push(*d);
            }
        }
        let mut queries: Vec<Query<'_>> = vec![(
            format!("SELECT {CALENDAR} FROM calendars WHERE id = ANY($1)"),
            vec![&ids],
        )];
        if !booking.is_empty() {
            queries.push((
                format!(
                    "SELECT calendar, {BOOKING} FROM bookings WHERE (calendar, id) IN \
                     (SELECT * FROM unnest($1::text[], $2::bigint[]))"
                ),
                vec![&booking_of, &booking],
            ));
        }
        if !day.is_empty() {
            queries.push((
                format!(
                    "SELECT calendar, {OVERRIDE} FROM overrides WHERE (calendar, day) IN \
                     (SELECT * FROM unnest($1::text[], $2::date[]))"
                ),
                vec![&day_of, &day],
            ));
        }
        let mut read = load::in_order(reads, &queries).await?.into_iter();
        let own = read.next().unwrap_or_default();
        let bookings = match booking.is_empty() {
            true => Vec::new(),
            false => read.next().unwrap_or_default(),
        };
        let overrides = read.next().unwrap_or_default();
        Ok(Read {
            own,
            bookings,
            overrides,
        })
    }

    /// The calendars as the rows read make them, each from its copy, with what lies wholly
    /// before `cutoff` dropped; and the ids of those whose own row does not line up with
    /// their copy (a change this round did not see), to be read whole.
    pub(crate) fn apply(
        self,
        read: Read,
        cutoff: i64,
    ) -> Result<(Vec<Calendar>, Vec<String>), Error> {
        let owner = |row: &Row| -> Result<String, Error> {
            row.try_get(0).map_err(|e| rows::bad("a calendar id", e))
        };
        let mut bookings: BTreeMap<String, Vec<&Row>> = BTreeMap::new();
        for row in &read.bookings {
            bookings.entry(owner(row)?).or_default().push(row);
        }
        let mut overrides: BTreeMap<String, Vec<&Row>> = BTreeMap::new();
        for row in &read.overrides {
            overrides.entry(owner(row)?).or_default().push(row);
        }
        let mut own = BTreeMap::new();
        for row in &read.own {
            let parts = rows::parts(row)?;
            own.insert(parts.0.id.clone(), parts);
        }
        let mut made = Vec::with_capacity(self.calendars.len());
        let mut whole = Vec::new();
        for (id, delta) in self.calendars {
            let shown = &delta.shown;
            let lines_up = own.get(&id).is_some_and(|(parts, _)| {
                parts.incarnation == shown.incarnation()
                    && parts.version == delta.to
                    && parts.zone == shown.zone()
                    && parts.week == shown.week()
                    && parts.booking_public == shown.booking_public()
                    && parts.changed_at_ms == shown.changed_at_unix_ms()
            });
            let Some((mut parts, next_booking)) = own.remove(&id).filter(|_| lines_up) else {
                whole.push(id);
                continue;
            };
            let zone = Zone::new(shown.zone()).unwrap_or(Zone::UTC);
            let mut dated = shown.dated().clone();
            for b in &delta.touched.bookings {
                if let Ok(b) = u64::try_from(*b) {
                    dated.cancel(BookingId(b));
                }
            }
            for d in &delta.touched.days {
                dated.remove_override(*d);
            }
            for row in bookings.remove(&id).unwrap_or_default() {
                let (claim, booking, created_ms) = rows::booking(row, 1)?;
                dated.restore_booking(zone, &claim, booking, created_ms);
            }
            for row in overrides.remove(&id).unwrap_or_default() {
                let (date, day) = rows::day_override(row, 1)?;
                dated
                    .set_override(date, day)
                    .map_err(|e| rows::bad("an override", e))?;
            }
            dated.reserve_booking_ids(next_booking);
            // After the rows: a calendar read whole has none of what ended before the
            // cutoff either.
            dated.compact_before(zone, cutoff);
            parts.keys = shown.keys().to_vec();
            parts.booking_types = shown
                .booking_types()
                .map(|(name, t)| (name.to_owned(), t.clone()))
                .collect();
            made.push(
                Calendar::from_parts(parts, dated)
                    .map_err(|e| rows::bad(&format!("calendar {id:?}"), e))?,
            );
        }
        Ok((made, whole))
    }
}
