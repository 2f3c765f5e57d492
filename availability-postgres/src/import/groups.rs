//! What a copy carries of group bookings: the group booking id sequence set past every id
//! the store gave, and the groups' booking types and the parts read back.

use std::sync::Arc;

use availability_core::store::{Calendar, Store};
use tokio_postgres::{Client, Transaction};

use super::said;
use crate::rows::signed;

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
