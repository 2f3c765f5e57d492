//! The columns of a remembered answer as a copy streams them: a response's, or a booking's
//! with the zone its slots were derived in.

use availability_core::dated::{Booking, Claim, Dated};
use availability_core::store::{Answer, Remembered, Store};
use availability_core::tz::Zone;
use tokio_postgres::types::ToSql;

use crate::rows::{signed, BookingRow};

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

    pub(super) fn row(&self) -> [&(dyn ToSql + Sync); 18] {
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
        ]
    }
}

/// The zone a remembered booking's slots were derived in, which the database keeps beside
/// its span (a store file keeps the slots themselves): its calendar's zone, unless that
/// changed since the booking was made; then the zone that gives the same slots.
fn answer_zone(store: &Store, calendar: &str, booking: &Booking) -> String {
    let slots = booking.slots();
    let claim = Claim {
        start: booking.start(),
        end: booking.end(),
        label: None,
        booking_type: None,
        key_id: None,
    };
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
