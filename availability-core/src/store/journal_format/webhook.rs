//! The records of webhooks (docs/format.md, section 8): an endpoint (kind 17), its removal
//! (18), attempts to deliver to one (19), and an event still waiting, as compaction writes it
//! (20). Events themselves have no record: the index derives them from the changes.

use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use super::super::format::Cursor;
use super::super::webhook::{
    Attempt, Delivery, Disabled, Event, EventBooking, EventId, EventKind, EventSet, Outcome,
    Pending, Webhook, KEPT_ATTEMPTS, MAX_REASON, MAX_URL, MAX_WEBHOOKS,
};
use super::{Record, MAX_LABEL};
use crate::dated::GroupRef;

/// The length of the payload of a webhook record: the encoding itself, measured (these
/// records are few, and a second account of their bytes could drift from the first).
pub(super) fn len(record: &Record) -> usize {
    let mut out = Vec::new();
    encode(&mut out, record);
    out.len()
}

pub(super) fn encode(out: &mut Vec<u8>, record: &Record) {
    match record {
        Record::Webhook(hook) => {
            id(out, &hook.id);
            out.extend_from_slice(&(hook.url.len() as u16).to_le_bytes());
            out.extend_from_slice(hook.url.as_bytes());
            out.push(hook.events.bits());
            out.push(hook.calendars.len() as u8);
            for calendar in &hook.calendars {
                id(out, calendar);
            }
            match &hook.owner {
                Some((calendar, incarnation)) => {
                    out.push(1);
                    id(out, calendar);
                    out.extend_from_slice(&incarnation.to_le_bytes());
                }
                None => out.push(0),
            }
            out.push(hook.secret.len() as u8);
            out.extend_from_slice(&hook.secret);
            out.extend_from_slice(&hook.created_ms.to_le_bytes());
            optional_i64(out, hook.failing_since_ms);
            match &hook.disabled {
                Some(disabled) => {
                    out.push(1);
                    out.extend_from_slice(&disabled.at_ms.to_le_bytes());
                    text(out, Some(&disabled.reason));
                }
                None => out.push(0),
            }
        }
        Record::DeleteWebhook { id: hook } => id(out, hook),
        Record::Attempts { hook, attempts } => {
            id(out, hook);
            out.extend_from_slice(&(attempts.len() as u16).to_le_bytes());
            for a in attempts {
                event_id(out, a.event);
                out.push(a.kind as u8);
                out.extend_from_slice(&a.number.to_le_bytes());
                out.extend_from_slice(&a.at_ms.to_le_bytes());
                out.extend_from_slice(&a.status.to_le_bytes());
                out.extend_from_slice(&a.duration_ms.to_le_bytes());
                out.push(a.outcome as u8);
                text(out, a.error.as_deref());
            }
        }
        Record::Pending(pending) => {
            let event = &pending.event;
            event_id(out, event.id);
            out.push(event.kind as u8);
            id(out, &event.calendar);
            out.extend_from_slice(&event.at_ms.to_le_bytes());
            match &event.booking {
                Some(b) => {
                    out.push(1);
                    for value in [b.id as i64, b.start, b.end] {
                        out.extend_from_slice(&value.to_le_bytes());
                    }
                    text(out, b.label.as_deref());
                    text(out, b.booking_type.as_deref());
                    match &b.group {
                        Some(group) => {
                            out.push(1);
                            id(out, &group.group);
                            out.extend_from_slice(&group.id.to_le_bytes());
                        }
                        None => out.push(0),
                    }
                    match b.previous {
                        Some((start, end)) => {
                            out.push(1);
                            out.extend_from_slice(&start.to_le_bytes());
                            out.extend_from_slice(&end.to_le_bytes());
                        }
                        None => out.push(0),
                    }
                }
                None => out.push(0),
            }
            optional_i64(out, event.day);
            out.extend_from_slice(&(pending.deliveries.len() as u16).to_le_bytes());
            for d in &pending.deliveries {
                id(out, &d.hook);
                out.extend_from_slice(&d.attempts.to_le_bytes());
                out.extend_from_slice(&d.last_ms.to_le_bytes());
            }
        }
        _ => {}
    }
}

pub(super) fn decode(kind: u8, c: &mut Cursor<'_>) -> Result<Record, String> {
    Ok(match kind {
        17 => {
            let hook_id = c.id("webhook id")?;
            let url_len = c.u16()? as usize;
            if url_len > MAX_URL {
                return Err(String::from("a webhook URL past its limit"));
            }
            let url = c.text(url_len, "webhook URL")?;
            let events = EventSet::from_bits(c.byte()?)
                .ok_or_else(|| String::from("a webhook's events are not events"))?;
            let count = c.byte()? as usize;
            let calendars = (0..count)
                .map(|_| c.id("calendar id"))
                .collect::<Result<Vec<_>, _>>()?;
            let owner = match c.byte()? {
                0 => None,
                1 => Some((c.id("calendar id")?, c.u64()?)),
                _ => return Err(String::from("a webhook's owner flag is not 0 or 1")),
            };
            let secret_len = c.byte()? as usize;
            let secret = c.take(secret_len)?.to_vec();
            let created_ms = c.i64()?;
            let failing_since_ms = read_optional_i64(c)?;
            let disabled = match c.byte()? {
                0 => None,
                1 => Some(Disabled {
                    at_ms: c.i64()?,
                    reason: read_text(c, MAX_REASON, "reason")?
                        .ok_or_else(|| String::from("a disabled webhook without a reason"))?,
                }),
                _ => return Err(String::from("a webhook's disabled flag is not 0 or 1")),
            };
            let hook = Webhook {
                id: hook_id,
                url,
                events,
                calendars,
                owner,
                secret,
                created_ms,
                failing_since_ms,
                disabled,
            };
            hook.check()?;
            Record::Webhook(Arc::new(hook))
        }
        18 => Record::DeleteWebhook {
            id: c.id("webhook id")?,
        },
        19 => {
            let hook = c.id("webhook id")?;
            let count = c.u16()? as usize;
            if count > KEPT_ATTEMPTS.max(MAX_WEBHOOKS) {
                return Err(format!("{count} attempts in one record"));
            }
            let mut attempts = Vec::with_capacity(count);
            for _ in 0..count {
                attempts.push(Attempt {
                    event: read_event_id(c)?,
                    kind: read_kind(c)?,
                    number: c.u32()?,
                    at_ms: c.i64()?,
                    status: c.u16()?,
                    duration_ms: c.u32()?,
                    outcome: match c.byte()? {
                        0 => Outcome::Delivered,
                        1 => Outcome::Retry,
                        2 => Outcome::GaveUp,
                        other => return Err(format!("attempt outcome {other}")),
                    },
                    error: read_text(c, MAX_REASON, "error")?,
                });
            }
            Record::Attempts { hook, attempts }
        }
        20 => {
            let id = read_event_id(c)?;
            let kind = read_kind(c)?;
            let calendar = c.id("calendar id")?;
            let at_ms = c.i64()?;
            let booking = match c.byte()? {
                0 => None,
                1 => Some(EventBooking {
                    id: c.u64()?,
                    start: c.i64()?,
                    end: c.i64()?,
                    label: read_text(c, MAX_LABEL, "label")?,
                    booking_type: read_text(c, 255, "booking type")?,
                    group: match c.byte()? {
                        0 => None,
                        1 => Some(GroupRef {
                            group: c.id("group id")?,
                            id: c.u64()?,
                        }),
                        _ => return Err(String::from("a group flag is not 0 or 1")),
                    },
                    previous: match c.byte()? {
                        0 => None,
                        1 => Some((c.i64()?, c.i64()?)),
                        _ => return Err(String::from("a move flag is not 0 or 1")),
                    },
                }),
                _ => return Err(String::from("a booking flag is not 0 or 1")),
            };
            let day = read_optional_i64(c)?;
            let count = c.u16()? as usize;
            if count > MAX_WEBHOOKS {
                return Err(format!("an event waits for {count} webhooks"));
            }
            let mut deliveries = Vec::with_capacity(count);
            for _ in 0..count {
                deliveries.push(Delivery {
                    hook: c.id("webhook id")?,
                    attempts: c.u32()?,
                    last_ms: c.i64()?,
                });
            }
            let event = Event {
                id,
                kind,
                calendar,
                at_ms,
                booking,
                day,
            };
            Record::Pending(Arc::new(Pending { event, deliveries }))
        }
        other => return Err(format!("unknown record kind {other}")),
    })
}

fn id(out: &mut Vec<u8>, id: &str) {
    out.push(id.len() as u8);
    out.extend_from_slice(id.as_bytes());
}

fn event_id(out: &mut Vec<u8>, id: EventId) {
    out.extend_from_slice(&id.incarnation.to_le_bytes());
    out.extend_from_slice(&id.version.to_le_bytes());
}

fn read_event_id(c: &mut Cursor<'_>) -> Result<EventId, String> {
    Ok(EventId {
        incarnation: c.u64()?,
        version: c.u64()?,
    })
}

fn read_kind(c: &mut Cursor<'_>) -> Result<EventKind, String> {
    let kind = c.byte()?;
    EventKind::ALL
        .get(usize::from(kind))
        .copied()
        .ok_or_else(|| format!("event kind {kind}"))
}

fn optional_i64(out: &mut Vec<u8>, value: Option<i64>) {
    match value {
        Some(value) => {
            out.push(1);
            out.extend_from_slice(&value.to_le_bytes());
        }
        None => out.push(0),
    }
}

fn read_optional_i64(c: &mut Cursor<'_>) -> Result<Option<i64>, String> {
    match c.byte()? {
        0 => Ok(None),
        1 => Ok(Some(c.i64()?)),
        _ => Err(String::from("a flag is not 0 or 1")),
    }
}

/// Optional text: a flag, then its length (u16) and bytes.
fn text(out: &mut Vec<u8>, value: Option<&str>) {
    match value {
        Some(value) => {
            out.push(1);
            out.extend_from_slice(&(value.len() as u16).to_le_bytes());
            out.extend_from_slice(value.as_bytes());
        }
        None => out.push(0),
    }
}

fn read_text(c: &mut Cursor<'_>, limit: usize, what: &str) -> Result<Option<String>, String> {
    match c.byte()? {
        0 => Ok(None),
        1 => {
            let len = c.u16()? as usize;
            if len > limit {
                return Err(format!("a {what} of {len} bytes"));
            }
            Ok(Some(c.text(len, what)?))
        }
        _ => Err(format!("the {what}'s flag is not 0 or 1")),
    }
}
