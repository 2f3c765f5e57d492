//! The records of groups: a group with its members and booking types (kind 7), and a write
//! to the bookings of a group booking, every part in one record (kind 14).

use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use super::super::checked::check_zone_name;
use super::super::format::{types, Cursor};
use super::super::groups::{Group, GroupType};
use super::{owner, Owner, Record, MAX_GROUP};
use crate::dated::GroupRef;

/// A write to every part of one group booking, applied together: each part is a booking
/// of a member calendar (`Owner` at the version the write gives it, and the booking's id
/// there).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct GroupWrite {
    /// The group booking.
    pub(crate) group: GroupRef,
    /// Where every part is booked (made or moved), or `None` when every part is cancelled.
    pub(crate) span: Option<GroupSpan>,
    pub(crate) parts: Vec<(Owner, u64)>,
}

/// What every part of a group booking holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct GroupSpan {
    pub(crate) start: i64,
    pub(crate) end: i64,
    pub(crate) created_ms: i64,
    pub(crate) key_id: Option<String>,
    pub(crate) label: Option<String>,
    pub(crate) booking_type: String,
}

impl GroupWrite {
    /// The records of single calendars that the write is made of: a booking record per part
    /// (a booking id already held is a move, as a reschedule's record), or a cancellation.
    pub(crate) fn records(&self) -> impl Iterator<Item = Record> + '_ {
        self.parts.iter().map(|(owner, id)| match &self.span {
            Some(span) => Record::Book {
                owner: owner.clone(),
                id: *id,
                start: span.start,
                end: span.end,
                created_ms: span.created_ms,
                key_id: span.key_id.clone(),
                label: span.label.clone(),
                booking_type: Some(span.booking_type.clone()),
                group: Some(self.group.clone()),
                remembered: None,
            },
            None => Record::Cancel {
                owner: owner.clone(),
                id: *id,
            },
        })
    }

    /// The length of its payload.
    pub(crate) fn encoded_len(&self) -> usize {
        1 + self.group.group.len()
            + 8
            + 1
            + self.span.as_ref().map_or(0, |s| {
                24 + 1
                    + s.key_id.as_deref().map_or(0, str::len)
                    + 2
                    + s.label.as_deref().map_or(0, str::len)
                    + 1
                    + s.booking_type.len()
            })
            + 2
            + self
                .parts
                .iter()
                .map(|(o, _)| super::len::owner(&o.id) + 8)
                .sum::<usize>()
    }

    /// The group's id, the group booking's id, a flag (1: a span follows), the span (start,
    /// end, made; key id, label behind a u16 length, type), the number of parts (u16) and
    /// each part (its calendar as records begin, and its booking id).
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        out.push(self.group.group.len() as u8);
        out.extend_from_slice(self.group.group.as_bytes());
        out.extend_from_slice(&self.group.id.to_le_bytes());
        out.push(u8::from(self.span.is_some()));
        if let Some(s) = &self.span {
            for value in [s.start, s.end, s.created_ms] {
                out.extend_from_slice(&value.to_le_bytes());
            }
            let key_id = s.key_id.as_deref().unwrap_or_default();
            out.push(key_id.len() as u8);
            out.extend_from_slice(key_id.as_bytes());
            let label = s.label.as_deref().unwrap_or_default();
            out.extend_from_slice(&(label.len() as u16).to_le_bytes());
            out.extend_from_slice(label.as_bytes());
            out.push(s.booking_type.len() as u8);
            out.extend_from_slice(s.booking_type.as_bytes());
        }
        out.extend_from_slice(&(self.parts.len() as u16).to_le_bytes());
        for (owner, id) in &self.parts {
            out.push(owner.id.len() as u8);
            out.extend_from_slice(owner.id.as_bytes());
            out.extend_from_slice(&owner.incarnation.to_le_bytes());
            out.extend_from_slice(&owner.version.to_le_bytes());
            out.extend_from_slice(&id.to_le_bytes());
        }
    }

    pub(crate) fn decode(c: &mut Cursor<'_>) -> Result<GroupWrite, String> {
        let group = c.id("group id")?;
        let id = c.u64()?;
        if id == 0 {
            return Err(String::from("group booking id 0"));
        }
        let span = match c.byte()? {
            0 => None,
            1 => {
                let (start, end, created_ms) = (c.i64()?, c.i64()?, c.i64()?);
                if end <= start || end.saturating_sub(start) > crate::dated::MAX_SPAN_SECONDS {
                    return Err(format!("group booking {id}: not a valid span"));
                }
                let len = usize::from(c.byte()?);
                let key_id = (len > 0).then(|| c.text(len, "key id")).transpose()?;
                let len = usize::from(c.u16()?);
                if len > super::MAX_LABEL {
                    return Err(format!("a label of {len} bytes"));
                }
                let label = (len > 0).then(|| c.text(len, "label")).transpose()?;
                let len = usize::from(c.byte()?);
                let booking_type = c.text(len, "booking type")?;
                crate::slots::check_name(&booking_type).map_err(|e| e.to_string())?;
                Some(GroupSpan {
                    start,
                    end,
                    created_ms,
                    key_id,
                    label,
                    booking_type,
                })
            }
            other => return Err(format!("group booking span flag {other}")),
        };
        let count = usize::from(c.u16()?);
        if count == 0 || count > MAX_GROUP {
            return Err(format!(
                "a group booking of {count} parts (1 to {MAX_GROUP})"
            ));
        }
        let mut parts = Vec::with_capacity(count);
        for _ in 0..count {
            let owner = owner(c)?;
            let booking = c.u64()?;
            if booking == 0 {
                return Err(String::from("booking id 0"));
            }
            parts.push((owner, booking));
        }
        Ok(GroupWrite {
            group: GroupRef { group, id },
            span,
            parts,
        })
    }
}

use alloc::string::ToString;

/// The length of a group's record.
pub(crate) fn group_len(group: &Group) -> usize {
    super::len::group(group.id(), group.members()) + types_len(group)
}

fn types_len(group: &Group) -> usize {
    let rules: Vec<(Box<str>, crate::slots::BookingType)> = rules_of(group);
    types::len(&rules)
        + group
            .booking_types()
            .map(|(_, t)| 1 + t.zone.len())
            .sum::<usize>()
}

fn rules_of(group: &Group) -> Vec<(Box<str>, crate::slots::BookingType)> {
    group
        .booking_types()
        .map(|(name, t)| (Box::from(name), t.rules.clone()))
        .collect()
}

/// A group's record: its id and its members (count u16, then each id), kind 7; with booking
/// types (kind 15), then the types as a calendar's record lays them out and each type's zone
/// (length byte, name) in the same order.
pub(crate) fn encode_group(out: &mut Vec<u8>, group: &Group) {
    out.push(group.id().len() as u8);
    out.extend_from_slice(group.id().as_bytes());
    out.extend_from_slice(&(group.members().len() as u16).to_le_bytes());
    for member in group.members() {
        out.push(member.len() as u8);
        out.extend_from_slice(member.as_bytes());
    }
    types::encode(out, &rules_of(group));
    for (_, t) in group.booking_types() {
        out.push(t.zone.len() as u8);
        out.extend_from_slice(t.zone.as_bytes());
    }
}

/// A group's record: kind 7 without booking types, kind 15 (`typed`) with them.
pub(crate) fn decode_group(c: &mut Cursor<'_>, typed: bool) -> Result<Record, String> {
    let id = c.id("group id")?;
    let count = usize::from(c.u16()?);
    if count == 0 || count > MAX_GROUP {
        return Err(format!("a group of {count} members (1 to {MAX_GROUP})"));
    }
    let mut members: Vec<String> = Vec::with_capacity(count);
    for _ in 0..count {
        members.push(c.id("member id")?);
    }
    let mut sorted: Vec<&String> = members.iter().collect();
    sorted.sort_unstable();
    if sorted.windows(2).any(|w| w[0] == w[1]) {
        return Err(String::from("a group names a member twice"));
    }
    if typed && c.is_empty() {
        return Err(String::from(
            "a group record of kind 15 without booking types",
        ));
    }
    let rules = if typed {
        types::decode(c)?
    } else {
        Box::default()
    };
    let mut typed = Vec::with_capacity(rules.len());
    for (name, rules) in rules.into_vec() {
        let len = usize::from(c.byte()?);
        let zone = c.text(len, "zone")?;
        check_zone_name(&zone).map_err(|e| e.to_string())?;
        typed.push((String::from(name), GroupType { rules, zone }));
    }
    Ok(Record::Group(Arc::new(Group::with_types(
        id, members, typed,
    ))))
}
