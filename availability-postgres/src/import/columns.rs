//! The columns of a remembered answer as a copy streams them: a response's, or a booking's
//! with the zone its slots were derived in; and booking types, the calendars' and the groups'.

use availability_core::dated::{Booking, Claim, Dated};
use availability_core::slots::BookingType;
use availability_core::store::{Answer, Remembered, Store};
use availability_core::tz::Zone;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::Transaction;

use crate::rows::{signed, BookingRow};

/// Booking types, with one binary `COPY` into `table` (the columns of the owner, the name,
/// the rules and, for a group's types, the zone): each type as (owner, name, rules, zone).
pub(super) async fn copy_types<'a>(
    tx: &Transaction<'_>,
    table: &str,
    types: impl Iterator<Item = (&'a str, &'a str, &'a BookingType, Option<&'a str>)>,
) -> Result<(), String> {
    struct Cols<'a> {
        owner: &'a str,
        name: &'a str,
        numbers: [i32; 6],
        per_day: Option<i32>,
        label: Option<&'a str>,
        zone: Option<&'a str>,
    }
    let n = |v: u32| i32::try_from(v).map_err(|_| format!("a booking type's rule {v}"));
    let mut rows = Vec::new();
    let mut zoned = false;
    for (owner, name, t, zone) in types {
        zoned |= zone.is_some();
        rows.push(Cols {
            owner,
            name,
            numbers: [
                n(t.duration)?,
                n(t.interval)?,
                n(t.buffer_before)?,
                n(t.buffer_after)?,
                n(t.notice)?,
                n(t.horizon)?,
            ],
            per_day: t.per_day.map(n).transpose()?,
            label: t.label.as_deref(),
            zone,
        });
    }
    let mut columns = vec![Type::TEXT, Type::TEXT];
    columns.extend(std::iter::repeat_n(Type::INT4, 7));
    columns.push(Type::TEXT);
    if zoned {
        columns.push(Type::TEXT);
    }
    super::copy_in(
        tx,
        table,
        &columns,
        rows.iter().map(|r| {
            let mut row: Vec<&(dyn ToSql + Sync)> = vec![
                &r.owner,
                &r.name,
                &r.numbers[0],
                &r.numbers[1],
                &r.numbers[2],
                &r.numbers[3],
                &r.numbers[4],
                &r.numbers[5],
                &r.per_day,
                &r.label,
            ];
            if zoned {
                row.push(&r.zone);
            }
            row
        }),
    )
    .await?;
    Ok(())
}

/// A remembered answer's columns (a response's, or a booking's).
pub(super) struct AnswerCols {
    principal: String,
    key: String,
    fingerprint: Vec<u8>,
    expires_ms: i64,
    status: Option<i16>,
    body: Option<Vec<u8>>,
    state: (Option<i64>, Option<i64>),
    calendar: Option<String>,
    zone: Option<String>,
    incarnation: Option<i64>,
    version: Option<i64>,
    booking: Option<BookingRow>,
}

impl AnswerCols {
    pub(super) fn of(store: &Store, answer: &Remembered) -> Result<AnswerCols, String> {
        let n = |v: u64, what: &str| signed(v, what).map_err(|e| e.to_string());
        let mut cols = AnswerCols {
            principal: answer.principal.clone(),
            key: answer.key.clone(),
            fingerprint: answer.fingerprint.to_vec(),
            expires_ms: answer.expires_ms,
            status: None,
            body: None,
            state: (None, None),
            calendar: None,
            zone: None,
            incarnation: None,
            version: None,
            booking: None,
        };
        match &answer.answer {
            Answer::Response {
                status,
                body,
                state,
            } => {
                cols.status = Some(i16::try_from(*status).map_err(|_| "a status past 599")?);
                cols.body = Some(body.clone());
                if let Some((i, v)) = state {
                    cols.state = (Some(n(*i, "an incarnation")?), Some(n(*v, "a version")?));
                }
            }
            Answer::Booked {
                calendar,
                incarnation,
                version,
                booking,
            } => {
                cols.zone = Some(answer_zone(store, calendar, booking));
                cols.calendar = Some(calendar.clone());
                cols.incarnation = Some(n(*incarnation, "an incarnation")?);
                cols.version = Some(n(*version, "a version")?);
                cols.booking = Some(BookingRow::of(booking).map_err(|e| e.to_string())?);
            }
        }
        Ok(cols)
    }

    pub(super) fn row(&self) -> [&(dyn ToSql + Sync); 21] {
        const NO_NUMBER: &(dyn ToSql + Sync) = &None::<i64>;
        const NO_SECONDS: &(dyn ToSql + Sync) = &None::<f64>;
        const NO_TEXT: &(dyn ToSql + Sync) = &None::<String>;
        let b = self.booking.as_ref();
        [
            &self.principal,
            &self.key,
            &self.fingerprint,
            &self.expires_ms,
            &self.status,
            &self.body,
            &self.state.0,
            &self.state.1,
            &self.calendar,
            &self.zone,
            &self.incarnation,
            &self.version,
            b.map_or(NO_NUMBER, |b| &b.id),
            b.map_or(NO_SECONDS, |b| &b.start),
            b.map_or(NO_SECONDS, |b| &b.end),
            b.map_or(NO_TEXT, |b| &b.label),
            b.map_or(NO_TEXT, |b| &b.key_id),
            b.map_or(NO_NUMBER, |b| &b.created_ms),
            b.map_or(NO_TEXT, |b| &b.booking_type),
            b.map_or(NO_TEXT, |b| &b.group_id),
            b.map_or(NO_NUMBER, |b| &b.group_booking),
        ]
    }
}

/// The zone a remembered booking's slots were derived in, which the database keeps beside
/// its span (a store file keeps the slots themselves): its calendar's zone, unless that
/// changed since the booking was made; then the zone that gives the same slots.
fn answer_zone(store: &Store, calendar: &str, booking: &Booking) -> String {
    let slots = booking.slots();
    // Only the span matters here: the slots do not depend on the rest.
    let claim = Claim::new(booking.start(), booking.end());
    let gives_the_slots = |zone: Zone| {
        Dated::new()
            .restore_booking(zone, &claim, booking.id(), booking.created_unix_ms())
            .slots()
            == slots
    };
    let own = store
        .get(calendar)
        .and_then(|c| Zone::new(c.zone()).ok())
        .unwrap_or(Zone::UTC);
    std::iter::once(own)
        .chain(std::iter::once(Zone::UTC))
        .chain(Zone::all())
        .find(|zone| gives_the_slots(*zone))
        .unwrap_or(own)
        .name()
        .to_owned()
}
