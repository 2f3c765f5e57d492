//! Reading calendars back: all of them, streamed, into the mirror (at start and after a
//! reconnect), or some of them by id (a write's, locked; the follower's, to apply changes).

use std::collections::BTreeMap;

use availability_core::store::{Calendar, Group, KeyHash, Store};
use availability_core::Error;
use futures_util::TryStreamExt;
use tokio_postgres::types::ToSql;
use tokio_postgres::{
    Client, GenericClient, IsolationLevel, Row, SimpleQueryMessage, Statement, Transaction,
};

use crate::fail::from_db;
use crate::rows::{self, Building, BOOKING, CALENDAR, GROUP_TYPE, KEY, OVERRIDE, REMEMBERED, TYPE};

/// Where a follower starts: every change of a transaction older than `xmin` is in what was
/// loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Position {
    pub(crate) xmin: u64,
}

pub(crate) fn params<'a>(
    s: &'a [&'a (dyn ToSql + Sync)],
) -> impl ExactSizeIterator<Item = &'a dyn ToSql> {
    s.iter().map(|s| *s as _)
}

/// Now, in seconds since the Unix epoch.
pub(crate) fn now_s() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Now, in milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The oldest transaction still running as of the transaction's snapshot.
pub(crate) async fn snapshot_xmin(client: &impl GenericClient) -> Result<u64, Error> {
    let row = client
        .query_one("SELECT pg_snapshot_xmin(pg_current_snapshot())::text", &[])
        .await
        .map_err(|e| from_db("reading the snapshot", e))?;
    let text: &str = row
        .try_get(0)
        .map_err(|e| from_db("reading the snapshot", e))?;
    parse_xmin(text)
}

/// [`snapshot_xmin`], after running `setting` (a statement without parameters or rows) in
/// the same round trip.
pub(crate) async fn snapshot_xmin_after(tx: &Transaction<'_>, setting: &str) -> Result<u64, Error> {
    let messages = tx
        .simple_query(&format!(
            "{setting}; SELECT pg_snapshot_xmin(pg_current_snapshot())::text"
        ))
        .await
        .map_err(|e| from_db("reading the snapshot", e))?;
    let text = messages
        .iter()
        .find_map(|m| match m {
            SimpleQueryMessage::Row(row) => row.get(0),
            _ => None,
        })
        .ok_or_else(|| rows::bad("a snapshot", "no row"))?;
    parse_xmin(text)
}

fn parse_xmin(text: &str) -> Result<u64, Error> {
    text.parse()
        .map_err(|_| rows::bad("a snapshot", format!("{text:?}")))
}

/// Everything, as of one snapshot, into `store`: every calendar (those the store has and the
/// database has not are removed), the admin keys, the groups and the unexpired remembered
/// answers. Streamed: one query per table, never one per calendar.
pub(crate) async fn everything(
    client: &mut Client,
    store: &Store,
    retention_seconds: i64,
) -> Result<Position, Error> {
    let tx = client
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await
        .map_err(|e| from_db("starting the load", e))?;
    let xmin = snapshot_xmin(&tx).await?;
    let cutoff = now_s() - retention_seconds;
    let calendars = calendars(&tx, None, false, Some(cutoff)).await?;
    let admin = admin_keys(&tx, false).await?;
    let groups = groups(&tx, None, false).await?;
    let remembered = stream(
        &tx,
        &format!("SELECT {REMEMBERED} FROM remembered WHERE expires_ms > $1"),
        &[&(now_s() * 1000)],
    )
    .await?;
    tx.commit()
        .await
        .map_err(|e| from_db("finishing the load", e))?;

    let mut present = std::collections::HashSet::with_capacity(calendars.len());
    for calendar in calendars {
        present.insert(calendar.shared_id());
        store.install(calendar);
    }
    let mut gone = Vec::new();
    store.for_each(|calendar| {
        if !present.contains(calendar.id()) {
            gone.push((calendar.shared_id(), calendar.incarnation()));
        }
    });
    for (id, incarnation) in gone {
        store.uninstall(&id, incarnation);
    }
    store.install_admin_keys(admin);
    store.install_groups(groups.into_values().flatten());
    for row in &remembered {
        store.install_remembered(rows::remembered(row)?);
    }
    Ok(Position { xmin })
}

/// What reads run on: a connection or a transaction, which prepares its statements (a
/// pooled connection keeps them, so a write's reads cost no round trip to prepare).
pub(crate) trait Reads: Sync {
    /// What runs the statements.
    type On: GenericClient + Sync;
    /// What runs the statements.
    fn on(&self) -> &Self::On;
    /// `sql`, prepared.
    fn statement(
        &self,
        sql: &str,
    ) -> impl std::future::Future<Output = Result<Statement, tokio_postgres::Error>> + Send;
}

impl Reads for Client {
    type On = Client;
    fn on(&self) -> &Client {
        self
    }
    fn statement(
        &self,
        sql: &str,
    ) -> impl std::future::Future<Output = Result<Statement, tokio_postgres::Error>> + Send {
        self.prepare(sql)
    }
}

impl<'t> Reads for Transaction<'t> {
    type On = Transaction<'t>;
    fn on(&self) -> &Transaction<'t> {
        self
    }
    fn statement(
        &self,
        sql: &str,
    ) -> impl std::future::Future<Output = Result<Statement, tokio_postgres::Error>> + Send {
        self.prepare(sql)
    }
}

/// A pooled connection's transaction, which keeps what it prepares.
pub(crate) struct Cached<'a, 'b>(pub(crate) &'a deadpool_postgres::Transaction<'b>);

impl<'b> Reads for Cached<'_, 'b> {
    type On = Transaction<'b>;
    fn on(&self) -> &Transaction<'b> {
        self.0
    }
    fn statement(
        &self,
        sql: &str,
    ) -> impl std::future::Future<Output = Result<Statement, tokio_postgres::Error>> + Send {
        self.0.prepare_cached(sql)
    }
}

/// Every row of `sql`, streamed.
async fn stream(
    client: &impl Reads,
    sql: &str,
    args: &[&(dyn ToSql + Sync)],
) -> Result<Vec<Row>, Error> {
    let statement = client
        .statement(sql)
        .await
        .map_err(|e| from_db("preparing a read", e))?;
    client
        .on()
        .query_raw(&statement, params(args))
        .await
        .map_err(|e| from_db("reading", e))?
        .try_collect()
        .await
        .map_err(|e| from_db("reading", e))
}

/// The calendars `ids` (all with `None`), with their keys, booking types, overrides (of dates
/// from two days before `cutoff`, with one) and bookings (that end after `cutoff`, with one).
/// With `lock`, their rows are locked for update, in id order. One statement per table, sent
/// together: one round trip once they are prepared (a calendar without types costs an empty
/// index scan).
pub(crate) async fn calendars(
    client: &impl Reads,
    ids: Option<&[&str]>,
    lock: bool,
    cutoff: Option<i64>,
) -> Result<Vec<Calendar>, Error> {
    let (which, of) = match ids {
        Some(_) => ("WHERE id = ANY($1)", "WHERE calendar = ANY($1)"),
        None => ("WHERE $1::text[] IS NULL", "WHERE $1::text[] IS NULL"),
    };
    let ids: Option<Vec<&str>> = ids.map(<[&str]>::to_vec);
    let lock = if lock { " ORDER BY id FOR UPDATE" } else { "" };
    let cutoff_day = cutoff.and_then(|cutoff| {
        chrono::DateTime::from_timestamp(cutoff - 2 * 86_400, 0).map(|t| t.date_naive())
    });
    let cutoff_f = cutoff.map(|cutoff| cutoff as f64);
    let (own, keys, types, overrides, bookings) = futures_util::future::try_join5(
        stream(
            client,
            &format!("SELECT {CALENDAR} FROM calendars {which}{lock}"),
            &[&ids],
        ),
        stream(
            client,
            &format!("SELECT calendar, {KEY} FROM calendar_keys {of} ORDER BY calendar, position"),
            &[&ids],
        ),
        stream(
            client,
            &format!("SELECT calendar, {TYPE} FROM booking_types {of}"),
            &[&ids],
        ),
        stream(
            client,
            &format!(
                "SELECT calendar, {OVERRIDE} FROM overrides {of} \
                 AND ($2::date IS NULL OR day >= $2)"
            ),
            &[&ids, &cutoff_day],
        ),
        stream(
            client,
            &format!(
                "SELECT calendar, {BOOKING} FROM bookings {of} \
                 AND ($2::float8 IS NULL OR upper(span) > to_timestamp($2))"
            ),
            &[&ids, &cutoff_f],
        ),
    )
    .await?;
    let mut building = BTreeMap::new();
    for row in &own {
        let parts = rows::parts(row)?;
        building.insert(parts.0.id.clone(), Building::new(parts));
    }
    let owner = |row: &Row| -> Result<String, Error> {
        row.try_get(0).map_err(|e| rows::bad("a calendar id", e))
    };
    for row in &keys {
        if let Some(b) = building.get_mut(&owner(row)?) {
            b.parts.keys.push(rows::key(row, 1)?);
        }
    }
    for row in &types {
        if let Some(b) = building.get_mut(&owner(row)?) {
            b.add_booking_type(rows::booking_type(row, 1)?);
        }
    }
    for row in &overrides {
        if let Some(b) = building.get_mut(&owner(row)?) {
            b.add_override(rows::day_override(row, 1)?);
        }
    }
    for row in &bookings {
        if let Some(b) = building.get_mut(&owner(row)?) {
            b.add_booking(rows::booking(row, 1)?);
        }
    }
    rows::finish_all(building).collect()
}

/// The admin keys, in the order they were added; with `share`, locked against revocation
/// until the transaction ends.
pub(crate) async fn admin_keys(client: &impl Reads, share: bool) -> Result<Vec<KeyHash>, Error> {
    let lock = if share { " FOR SHARE" } else { "" };
    let rows = stream(
        client,
        &format!(
            "SELECT key_id, hash, 'write', label, created_ms FROM admin_keys \
             ORDER BY position{lock}"
        ),
        &[],
    )
    .await?;
    rows.iter().map(|row| rows::key(row, 0)).collect()
}

/// The groups `ids` (all with `None`) with their booking types: `Some` for those that exist,
/// `None` for those that do not. With `lock`, their rows are locked for update (in id order)
/// before their types are read: a write that holds a group reads the types it holds.
pub(crate) async fn groups(
    client: &impl Reads,
    ids: Option<&[&str]>,
    lock: bool,
) -> Result<BTreeMap<String, Option<Group>>, Error> {
    let ids: Option<Vec<&str>> = ids.map(<[&str]>::to_vec);
    let lock = if lock { " ORDER BY id FOR UPDATE" } else { "" };
    // One after the other, not pipelined: the types are read once the rows are locked.
    let rows = stream(
        client,
        &format!(
            "SELECT id, members FROM calendar_groups \
             WHERE $1::text[] IS NULL OR id = ANY($1){lock}"
        ),
        &[&ids],
    )
    .await?;
    let types = stream(
        client,
        &format!(
            "SELECT group_id, {GROUP_TYPE} FROM group_types \
             WHERE $1::text[] IS NULL OR group_id = ANY($1) ORDER BY group_id, name"
        ),
        &[&ids],
    )
    .await?;
    let mut found: BTreeMap<String, Option<Group>> = ids
        .iter()
        .flatten()
        .map(|id| ((*id).to_owned(), None))
        .collect();
    for row in &rows {
        let id: String = row.try_get(0).map_err(|e| rows::bad("a group id", e))?;
        let members: Vec<String> = row.try_get(1).map_err(|e| rows::bad("a group", e))?;
        let group = availability_core::store::decide::group(
            &id,
            members,
            &availability_core::store::Authority::Unchecked,
            &[],
            None,
        )
        .map_err(|e| rows::bad(&format!("group {id:?}"), e))?;
        found.insert(id, Some(group));
    }
    for row in &types {
        let id: String = row.try_get(0).map_err(|e| rows::bad("a group id", e))?;
        let Some(Some(group)) = found.get_mut(&id) else {
            // Its group's row was not read (made since): the next read has both.
            continue;
        };
        let (name, ty) = rows::group_type(row, 1)?;
        // Checked as a write checks it: a row the store could not hold is refused by name.
        *group = availability_core::store::decide::group_type(
            group,
            &name,
            Some(ty),
            &availability_core::store::Authority::Unchecked,
            &[],
        )
        .map_err(|e| rows::bad(&format!("group {id:?}"), e))?;
    }
    Ok(found)
}
