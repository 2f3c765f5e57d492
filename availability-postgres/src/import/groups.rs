//! What a copy carries of group bookings: the groups' booking types (one binary `COPY`), the
//! group booking id sequence set past every id the store gave, and both read back.

use std::sync::Arc;

use availability_core::store::{Calendar, Group, Store};
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, Transaction};

use super::said;
use crate::rows::signed;

/// The groups' booking types, with one binary `COPY`.
pub(super) async fn copy_types(tx: &Transaction<'_>, groups: &[Arc<Group>]) -> Result<(), String> {
    struct Cols<'a> {
        group: &'a str,
        name: &'a str,
        numbers: [i32; 6],
        per_day: Option<i32>,
        label: Option<&'a str>,
        zone: &'a str,
    }
    let n = |v: u32| i32::try_from(v).map_err(|_| format!("a group type's rule {v}"));
    let mut rows = Vec::new();
    for group in groups {
        for (name, t) in group.booking_types() {
            let r = &t.rules;
            rows.push(Cols {
                group: group.id(),
                name,
                numbers: [
                    n(r.duration)?,
                    n(r.interval)?,
                    n(r.buffer_before)?,
                    n(r.buffer_after)?,
                    n(r.notice)?,
                    n(r.horizon)?,
                ],
                per_day: r.per_day.map(n).transpose()?,
                label: r.label.as_deref(),
                zone: &t.zone,
            });
        }
    }
    let int4 = Type::INT4;
    super::copy_in(
        tx,
        "group_types (group_id, name, duration, \"interval\", buffer_before, buffer_after, \
         notice, horizon, per_day, label, zone)",
        &[
            Type::TEXT,
            Type::TEXT,
            int4.clone(),
            int4.clone(),
            int4.clone(),
            int4.clone(),
            int4.clone(),
            int4.clone(),
            int4,
            Type::TEXT,
            Type::TEXT,
        ],
        rows.iter().map(|r| {
            [
                &r.group as &(dyn ToSql + Sync),
                &r.name,
                &r.numbers[0],
                &r.numbers[1],
                &r.numbers[2],
                &r.numbers[3],
                &r.numbers[4],
                &r.numbers[5],
                &r.per_day,
                &r.label,
                &r.zone,
            ]
        }),
    )
    .await?;
    Ok(())
}

/// The group booking ids the calendars' bookings hold, one per part.
fn group_parts(calendars: &[Arc<Calendar>]) -> impl Iterator<Item = u64> + '_ {
    calendars.iter().flat_map(|calendar| {
        calendar
            .dated()
            .all_bookings()
            .filter_map(|b| b.group().map(|g| g.id))
    })
}

/// Sets the group booking id sequence past every group booking id the copied calendars
/// hold and every sequence number the store gave (a store file numbers its group bookings
/// from its log's sequence, so a cancelled group booking's id is below it too): an id is
/// never given twice across the move.
pub(super) async fn set_booking_ids(
    tx: &Transaction<'_>,
    store: &Store,
    calendars: &[Arc<Calendar>],
) -> Result<(), String> {
    let last = group_parts(calendars)
        .fold(store.next_incarnation().saturating_sub(1), u64::max)
        .max(1);
    let last = signed(last, "a group booking id").map_err(|e| e.to_string())?;
    tx.execute("SELECT setval('availability_group_bookings', $1)", &[&last])
        .await
        .map_err(|e| said("setting the group booking id sequence", e))?;
    Ok(())
}

/// Reads back the count of group booking types and of bookings that are parts of a group
/// booking, compared with `store`'s.
pub(super) async fn verify(client: &Client, store: &Store) -> Result<(), String> {
    let row = client
        .query_one(
            "SELECT (SELECT count(*) FROM group_types), \
             (SELECT count(*) FROM bookings WHERE group_id IS NOT NULL)",
            &[],
        )
        .await
        .map_err(|e| said("counting the copy", e))?;
    let found: (i64, i64) = (row.get(0), row.get(1));
    let types: usize = store.groups().iter().map(|g| g.booking_types().len()).sum();
    let parts = group_parts(&store.list()).count();
    let expected = (types as i64, parts as i64);
    if found == expected {
        Ok(())
    } else {
        Err(format!(
            "the copy was committed but reads back with {} group booking types and {} parts \
             of group bookings, not {} and {}",
            found.0, found.1, expected.0, expected.1
        ))
    }
}
