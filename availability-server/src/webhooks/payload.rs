//! What a delivery says: `{ "type", "timestamp", "data" }`, the envelope of Standard
//! Webhooks, with the change in `data`. Instants are UTC (RFC 3339); the event's id is also
//! its `webhook-id`, the same on every attempt.

use availability_core::store::{Event, EventId};
use chrono::{DateTime, SecondsFormat};
use serde_json::{json, Value};

/// The id of event `id`, as `webhook-id` and `data.id` give it.
pub fn event_id(id: EventId) -> String {
    format!("evt_{}_{}", id.incarnation, id.version)
}

/// The body of a delivery of `event`.
pub fn body(event: &Event) -> Vec<u8> {
    let mut data = json!({
        "id": event_id(event.id),
        "calendar": event.calendar,
        "version": event.id.version,
    });
    if let Some(b) = &event.booking {
        let mut booking = json!({
            "id": b.id.to_string(),
            "start": instant(b.start),
            "end": instant(b.end),
            "label": b.label,
            "type": b.booking_type,
        });
        if let Some(group) = &b.group {
            booking["group"] = json!({ "id": group.group, "booking": group.id.to_string() });
        }
        data["booking"] = booking;
        if let Some((start, end)) = b.previous {
            data["previous"] = json!({ "start": instant(start), "end": instant(end) });
        }
    }
    if let Some(day) = event.day {
        data["date"] = Value::from(date(day));
    }
    let body = json!({
        "type": event.kind.name(),
        "timestamp": instant_ms(event.at_ms),
        "data": data,
    });
    serde_json::to_vec(&body).unwrap_or_default()
}

/// The body of `POST /webhooks/{id}/test`'s delivery.
pub fn test_body(hook: &str, now_ms: i64) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "type": "webhook.test",
        "timestamp": instant_ms(now_ms),
        "data": { "webhook": hook },
    }))
    .unwrap_or_default()
}

fn instant(unix: i64) -> String {
    DateTime::from_timestamp(unix, 0)
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
        .unwrap_or_default()
}

/// `ms` (milliseconds since the epoch) as an RFC 3339 UTC instant with milliseconds.
pub(crate) fn instant_ms(ms: i64) -> String {
    DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Millis, true))
        .unwrap_or_default()
}

fn date(day: i64) -> String {
    DateTime::from_timestamp(day.saturating_mul(86_400), 0)
        .map(|t| t.date_naive().to_string())
        .unwrap_or_default()
}
