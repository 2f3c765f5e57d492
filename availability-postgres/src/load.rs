//! Reading calendars back: all of them, streamed, into the mirror (at start and after a
//! reconnect), or some of them by id (a write's, locked; the follower's, to apply changes).

use std::collections::{BTreeMap, HashMap};

use availability_core::dated::MAX_SPAN_SECONDS;
use availability_core::store::decide::DatedWrite;
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
    let calendars = calendars(&tx, None, false, Dated::All(Some(cutoff))).await?;
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

/// The follower's transaction, with the statements its connection has prepared (at most
/// [`KEPT_STATEMENTS`]; the shapes of its reads are a handful). A statement prepared once is
/// parsed and planned once, not at every round.
pub(crate) struct Kept<'a, 't> {
    pub(crate) tx: &'a Transaction<'t>,
    pub(crate) statements: &'a std::sync::Mutex<HashMap<String, Statement>>,
}

/// The most statements [`Kept`] holds: past it, it forgets them all and starts again.
const KEPT_STATEMENTS: usize = 64;

impl<'t> Reads for Kept<'_, 't> {
    type On = Transaction<'t>;
    fn on(&self) -> &Transaction<'t> {
        self.tx
    }
    fn statement(
        &self,
        sql: &str,
    ) -> impl std::future::Future<Output = Result<Statement, tokio_postgres::Error>> + Send {
        let kept = self
            .statements
            .lock()
            .ok()
            .and_then(|statements| statements.get(sql).cloned());
        async move {
            if let Some(statement) = kept {
                return Ok(statement);
            }
            let statement = self.tx.prepare(sql).await?;
            if let Ok(mut statements) = self.statements.lock() {
                if statements.len() >= KEPT_STATEMENTS {
                    statements.clear();
                }
                statements.insert(sql.to_owned(), statement.clone());
            }
            Ok(statement)
        }
    }
}

/// A write's transaction, whose connection keeps what it prepares.
pub(crate) struct Cached<'a, 'b>(pub(crate) &'a crate::persist::Tx<'b>);

impl Reads for Cached<'_, '_> {
    type On = Client;
    fn on(&self) -> &Client {
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

/// Which of a calendar's dated rows (overrides and bookings) a read takes.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Dated<'a> {
    /// Every one (`None`), or those retention keeps as of a cutoff (seconds): overrides of
    /// dates from two days before it, bookings that end after it.
    All(Option<i64>),
    /// Those a write near some times can touch, and those retention drops; of one calendar
    /// (the first id).
    Near(&'a Near),
}

/// The dated rows a write reads ([`Dated::Near`]): those its decision can depend on, and
/// those it drops for retention, so that it deletes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Near {
    /// Bookings whose span meets `[from, to)` (seconds; none when empty), and overrides of
    /// the UTC dates from the day before `from` to the day after `to`.
    pub(crate) from: i64,
    /// See `from`.
    pub(crate) to: i64,
    /// And these bookings, wherever they are.
    pub(crate) bookings: Vec<i64>,
    /// And what retention drops: bookings that ended by then (seconds), overrides of dates
    /// more than two days before it.
    pub(crate) cutoff: i64,
}

impl Near {
    /// What a dated write can depend on, and what it prunes as of `cutoff` (seconds).
    ///
    /// A claim depends on the bookings that share an owner slot with it (their times are at
    /// most a fold of the owner's clock apart: an hour or two), those within its type's
    /// buffers (at most 12 hours each side), those of its type that start on its owner date
    /// (a per-day limit's count: within 26 hours of its start), and the overrides of its
    /// owner dates. `MARGIN` covers each with room to spare. A move depends on the booking
    /// moved and on what its new span's claim depends on; a cancellation on the booking
    /// alone; an override write on its own date's override. `near_tests` checks every kind
    /// against the whole calendar.
    /// `None` for a write it does not know: that one reads every row.
    pub(crate) fn of(write: &DatedWrite<'_>, cutoff: i64) -> Option<Near> {
        const MARGIN: i64 = 2 * 86_400;
        let around = |from: i64, to: i64| (from.saturating_sub(MARGIN), to.saturating_add(MARGIN));
        let ((from, to), bookings) = match write {
            DatedWrite::Book { claim, .. } => (around(claim.start, claim.end), Vec::new()),
            DatedWrite::Move { booking, start, .. } => (
                // Its new end is at most a week after its new start (the longest span).
                around(*start, start.saturating_add(MAX_SPAN_SECONDS)),
                vec![booking.0 as i64],
            ),
            DatedWrite::Cancel(booking) => ((0, 0), vec![booking.0 as i64]),
            DatedWrite::SetOverride(date, _) | DatedWrite::ClearOverride(date) => {
                let at = date
                    .and_hms_opt(0, 0, 0)
                    .map_or(0, |t| t.and_utc().timestamp());
                // No booking: the span is empty; the date's override is within a day.
                ((at, at), Vec::new())
            }
            _ => return None,
        };
        Some(Near {
            from,
            to,
            bookings,
            cutoff,
        })
    }
}

/// A UTC date `seconds` falls on, as the database's `date`.
fn utc_date(seconds: i64) -> Option<chrono::NaiveDate> {
    chrono::DateTime::from_timestamp(seconds, 0).map(|t| t.date_naive())
}

/// Parameters, as statements take them.
macro_rules! args {
    ($($value:expr),* $(,)?) => {
        vec![$($value as &(dyn ToSql + Sync)),*]
    };
}

/// A statement and its parameters.
pub(crate) type Query<'a> = (String, Vec<&'a (dyn ToSql + Sync)>);

/// The rows of `queries`, run in the order given: every statement prepared first, then all
/// sent together (one round trip once they are prepared). The order matters when the first
/// locks what the others read.
pub(crate) async fn in_order(
    client: &impl Reads,
    queries: &[Query<'_>],
) -> Result<Vec<Vec<Row>>, Error> {
    let statements =
        futures_util::future::try_join_all(queries.iter().map(|(sql, _)| client.statement(sql)))
            .await
            .map_err(|e| from_db("preparing a read", e))?;
    futures_util::future::try_join_all(statements.iter().zip(queries).map(
        |(statement, (_, args))| async move {
            client
                .on()
                .query_raw(statement, params(args))
                .await?
                .try_collect::<Vec<Row>>()
                .await
        },
    ))
    .await
    .map_err(|e| from_db("reading", e))
}

/// The statements that read the calendars `ids` (all with `None`) in the order
/// [`assemble`] takes their rows: the calendars' own rows (with `lock`, locked for update in
/// id order, before the rest is read), keys, booking types, overrides and bookings (as
/// `dated` says). A calendar without types costs an empty index scan.
pub(crate) fn calendar_queries<'a>(
    ids: &'a Option<Vec<&'a str>>,
    lock: bool,
    dated: Dated<'_>,
    values: &'a Values,
) -> Vec<Query<'a>> {
    // One calendar (every write but a group's) is named as the array's only element, not
    // with `ANY`: the planner must assume an array parameter of unknown length holds several
    // ids, so a plan kept for the statement looked dearer than one made for a single id, and
    // the statement was planned again at every call (a third of the database's time for
    // these reads). An equality with one value plans once.
    let (which, of) = match ids {
        Some(ids) if ids.len() == 1 => (
            "WHERE id = ($1::text[])[1]",
            "WHERE calendar = ($1::text[])[1]",
        ),
        Some(_) => ("WHERE id = ANY($1)", "WHERE calendar = ANY($1)"),
        None => ("WHERE $1::text[] IS NULL", "WHERE $1::text[] IS NULL"),
    };
    let lock = if lock { " ORDER BY id FOR UPDATE" } else { "" };
    let (overrides, bookings): (Query<'a>, Query<'a>) = match dated {
        Dated::All(_) => (
            (
                format!(
                    "SELECT calendar, {OVERRIDE} FROM overrides {of} \
                     AND ($2::date IS NULL OR day >= $2)"
                ),
                args![ids, &values.cutoff_day],
            ),
            (
                format!(
                    "SELECT calendar, {BOOKING} FROM bookings {of} \
                     AND ($2::float8 IS NULL OR upper(span) > to_timestamp($2))"
                ),
                args![ids, &values.cutoff],
            ),
        ),
        Dated::Near(_) => (
            (
                format!(
                    "SELECT calendar, {OVERRIDE} FROM overrides \
                     WHERE calendar = ($1::text[])[1] AND day BETWEEN $2 AND $3 \
                     UNION ALL SELECT calendar, {OVERRIDE} FROM overrides \
                     WHERE calendar = ($1::text[])[1] AND day < $4"
                ),
                args![ids, &values.first_day, &values.last_day, &values.cutoff_day],
            ),
            near_bookings(ids, values),
        ),
    };
    vec![
        (
            format!("SELECT {CALENDAR} FROM calendars {which}{lock}"),
            args![ids],
        ),
        (
            format!("SELECT calendar, {KEY} FROM calendar_keys {of} ORDER BY calendar, position"),
            args![ids],
        ),
        (
            format!("SELECT calendar, {TYPE} FROM booking_types {of}"),
            args![ids],
        ),
        overrides,
        bookings,
    ]
}

/// The statement that reads the bookings a write near some times needs, of one calendar
/// (named alone, so that each scan uses an index on both its columns): an index scan each
/// for the span, the ids and what retention drops (a span strictly before the cutoff ended
/// by then), each only when the write needs it (a scan that matches nothing still costs a
/// scan).
fn near_bookings<'a>(ids: &'a Option<Vec<&'a str>>, values: &'a Values) -> Query<'a> {
    let mut args = args![ids];
    let mut scans = Vec::with_capacity(3);
    if values.from < values.to {
        scans.push(format!(
            "span && tstzrange(to_timestamp(${}), to_timestamp(${}))",
            args.len() + 1,
            args.len() + 2
        ));
        args.extend(args![&values.from, &values.to]);
    }
    if !values.bookings.is_empty() {
        scans.push(format!("id = ANY(${})", args.len() + 1));
        args.push(&values.bookings);
    }
    scans.push(format!(
        "span << tstzrange(to_timestamp(${}), NULL)",
        args.len() + 1
    ));
    args.push(&values.cutoff);
    let sql = scans
        .iter()
        .map(|scan| {
            format!(
                "SELECT calendar, {BOOKING} FROM bookings \
                 WHERE calendar = ($1::text[])[1] AND {scan}"
            )
        })
        .collect::<Vec<_>>()
        // A booking two scans find comes twice; the second replaces the first, as a
        // repeated id does when a calendar is built.
        .join(" UNION ALL ");
    (sql, args)
}

/// The values [`calendar_queries`] binds, owned here so that the statements can borrow them.
#[derive(Debug, Default)]
pub(crate) struct Values {
    cutoff: Option<f64>,
    cutoff_day: Option<chrono::NaiveDate>,
    from: f64,
    to: f64,
    first_day: Option<chrono::NaiveDate>,
    last_day: Option<chrono::NaiveDate>,
    bookings: Vec<i64>,
}

impl Values {
    pub(crate) fn of(dated: Dated<'_>) -> Values {
        match dated {
            Dated::All(cutoff) => Values {
                cutoff: cutoff.map(|c| c as f64),
                cutoff_day: cutoff.and_then(|c| utc_date(c - 2 * 86_400)),
                ..Values::default()
            },
            Dated::Near(near) => Values {
                cutoff: Some(near.cutoff as f64),
                cutoff_day: utc_date(near.cutoff - 2 * 86_400),
                from: near.from as f64,
                to: near.to as f64,
                first_day: utc_date(near.from - 86_400),
                last_day: utc_date(near.to + 86_400),
                bookings: near.bookings.clone(),
            },
        }
    }
}

/// The calendars `ids` (all with `None`), with their keys, booking types, overrides and
/// bookings (as `dated` says). With `lock`, their rows are locked for update, in id order,
/// before the rest is read. One statement per table, sent together: one round trip once they
/// are prepared.
pub(crate) async fn calendars(
    client: &impl Reads,
    ids: Option<&[&str]>,
    lock: bool,
    dated: Dated<'_>,
) -> Result<Vec<Calendar>, Error> {
    let ids: Option<Vec<&str>> = ids.map(<[&str]>::to_vec);
    let values = Values::of(dated);
    let read = in_order(client, &calendar_queries(&ids, lock, dated, &values)).await?;
    assemble(read)
}

/// The calendars whose rows [`calendar_queries`]' statements read.
pub(crate) fn assemble(read: Vec<Vec<Row>>) -> Result<Vec<Calendar>, Error> {
    let [own, keys, types, overrides, bookings]: [Vec<Row>; 5] = read
        .try_into()
        .map_err(|_| rows::bad("a calendar", "a read of another shape"))?;
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

#[cfg(test)]
#[path = "load/near_tests.rs"]
mod near_tests;
