//! Group booking types and group bookings in the database. A group booking is one
//! transaction: the group's row and every member calendar's row locked (the calendars in id
//! order, so writes of groups that share members queue rather than deadlock), read back as a
//! calendar's own write reads it, decided by the core's rules ([`group_book`]), then every
//! changed member written with a row of the change log each, and committed: every part or
//! none. The other servers reload the members that changed, as after any calendar write.

use std::collections::HashMap;
use std::sync::Arc;

use availability_core::store::decide;
use availability_core::store::group_book::{self, Decided, GroupBooking, GroupRequest};
use availability_core::store::{Authority, Calendar, Group, GroupType, KeyHash};
use availability_core::{BackendError, Error};

use crate::fail::{db, Fail};
use crate::load::{self, now_s};
use crate::persist::{
    admin_for, args, change_row, exec, notify, persist, run_steps, Step, Tx, TypeRow,
};
use crate::Database;

/// How a group booking's write is decided: given the group, its members as they are (in its
/// order), the admin keys, the new group booking's id (0 when it makes none) and the
/// retention cutoff.
type Decide<'a> = dyn Fn(&Group, &[Option<Arc<Calendar>>], &[KeyHash], u64, i64) -> Result<Decided, Error>
    + Sync
    + 'a;

#[cold]
fn no_group(id: &str) -> Fail {
    Fail::Stop(Error::of_backend(
        BackendError::NotFound,
        format!("no group {id:?}"),
    ))
}

/// Group `id` with its booking types, read back with its row locked until the transaction
/// ends; `None` when there is no such group.
pub(crate) async fn lock_group(tx: &Tx<'_>, id: &str) -> Result<Option<Group>, Fail> {
    let mut found = load::groups(&load::Cached(tx), Some(&[id]), true).await?;
    Ok(found.remove(id).flatten())
}

/// The group's members as calendars, in the group's order (`None` for a member that names
/// no calendar), read back with their rows locked in id order until the transaction ends.
async fn lock_members(tx: &Tx<'_>, group: &Group) -> Result<Vec<Option<Arc<Calendar>>>, Fail> {
    let ids: Vec<&str> = group.members().iter().map(String::as_str).collect();
    let mut read: HashMap<String, Arc<Calendar>> =
        load::calendars(&load::Cached(tx), Some(&ids), true, load::Dated::All(None))
            .await?
            .into_iter()
            .map(|calendar| (calendar.id().to_owned(), Arc::new(calendar)))
            .collect();
    Ok(group.members().iter().map(|id| read.remove(id)).collect())
}

impl Database {
    /// Sets or removes a group's booking type ([`availability_core::store::Store::put_group_type`]).
    ///
    /// # Errors
    ///
    /// As the store's, and [`Error::is_unavailable`] when the database is away.
    pub async fn put_group_type(
        &self,
        id: &str,
        name: &str,
        ty: Option<GroupType>,
        by: &Authority,
    ) -> Result<Arc<Group>, Error> {
        let what = "saving the group's booking type";
        let group = self
            .run(what, async |tx| {
                let current = lock_group(tx, id).await?.ok_or_else(|| no_group(id))?;
                let admin = admin_for(tx, by).await?;
                let next = decide::group_type(&current, name, ty.clone(), by, &admin)?;
                let set = next.booking_type(name);
                let row = set.map(|t| TypeRow::of((name, &t.rules)));
                let mut steps: Vec<Step<'_>> = Vec::new();
                match (&row, set) {
                    (Some(t), Some(ty)) => steps.push(exec(
                        "INSERT INTO group_types (group_id, name, duration, \"interval\", \
                         buffer_before, buffer_after, notice, horizon, per_day, label, zone) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
                         ON CONFLICT (group_id, name) DO UPDATE SET \
                         duration = EXCLUDED.duration, \"interval\" = EXCLUDED.\"interval\", \
                         buffer_before = EXCLUDED.buffer_before, \
                         buffer_after = EXCLUDED.buffer_after, notice = EXCLUDED.notice, \
                         horizon = EXCLUDED.horizon, per_day = EXCLUDED.per_day, \
                         label = EXCLUDED.label, zone = EXCLUDED.zone",
                        args(&[
                            &id,
                            &t.name,
                            &t.duration,
                            &t.interval,
                            &t.buffer_before,
                            &t.buffer_after,
                            &t.notice,
                            &t.horizon,
                            &t.per_day,
                            &t.label,
                            &ty.zone,
                        ]),
                    )),
                    _ => steps.push(exec(
                        "DELETE FROM group_types WHERE group_id = $1 AND name = $2",
                        args(&[&id, &name]),
                    )),
                }
                steps.push(change_row("group", id, None, None));
                steps.push(notify());
                run_steps(tx, steps, what).await?;
                Ok(next)
            })
            .await?;
        // As a group's members: the mirror takes it from the log, in the log's order.
        self.follower.sync(self.settings.write_timeout).await?;
        Ok(Arc::new(group))
    }

    /// Books a group ([`availability_core::store::Store::group_book`]).
    ///
    /// # Errors
    ///
    /// As the store's, and [`Error::is_unavailable`] when the database is away.
    pub async fn group_book(
        &self,
        id: &str,
        request: &GroupRequest<'_>,
        by: &Authority,
    ) -> Result<GroupBooking, Error> {
        self.group_write(
            id,
            "booking the group",
            (by, true),
            &|group, members, admin_keys, made, cutoff| {
                group_book::book(group, members, request, (by, admin_keys), made, cutoff)
            },
        )
        .await
    }

    /// Cancels a group booking ([`availability_core::store::Store::group_cancel`]).
    ///
    /// # Errors
    ///
    /// As the store's, and [`Error::is_unavailable`] when the database is away.
    pub async fn group_cancel(
        &self,
        id: &str,
        booking: u64,
        by: &Authority,
    ) -> Result<GroupBooking, Error> {
        self.group_write(
            id,
            "cancelling the group booking",
            (by, false),
            &|group, members, admin_keys, _, cutoff| {
                group_book::cancel(group, members, booking, (by, admin_keys), cutoff)
            },
        )
        .await
    }

    /// Moves a group booking ([`availability_core::store::Store::group_reschedule`]).
    ///
    /// # Errors
    ///
    /// As the store's, and [`Error::is_unavailable`] when the database is away.
    pub async fn group_reschedule(
        &self,
        id: &str,
        booking: u64,
        start: i64,
        by: &Authority,
    ) -> Result<GroupBooking, Error> {
        let now = now_s();
        self.group_write(
            id,
            "moving the group booking",
            (by, false),
            &|group, members, admin_keys, _, cutoff| {
                group_book::reschedule(
                    group,
                    members,
                    booking,
                    start,
                    now,
                    (by, admin_keys),
                    cutoff,
                )
            },
        )
        .await
    }

    /// A write to a group booking of group `id`, in one transaction: the group and its
    /// members locked and read back, a new group booking id taken when `makes` one, `decide`
    /// given what was read, every member calendar it changed written (pipelined, with its row
    /// of the change log), committed, and installed in the mirror.
    async fn group_write(
        &self,
        id: &str,
        what: &'static str,
        (by, makes): (&Authority, bool),
        decide: &Decide<'_>,
    ) -> Result<GroupBooking, Error> {
        let decided = self
            .run(what, async |tx| {
                let group = lock_group(tx, id).await?.ok_or_else(|| no_group(id))?;
                let members = lock_members(tx, &group).await?;
                let admin = admin_for(tx, by).await?;
                let made = if makes {
                    let next: i64 = tx
                        .query_one("SELECT nextval('availability_group_bookings')", &[])
                        .await
                        .map_err(db(what))?
                        .get(0);
                    u64::try_from(next).unwrap_or(0)
                } else {
                    0
                };
                let cutoff = now_s() - self.settings.retention_seconds;
                let decided = decide(&group, &members, &admin, made, cutoff)?;
                let mut writes = Vec::with_capacity(decided.calendars.len());
                for after in &decided.calendars {
                    let before = members
                        .iter()
                        .flatten()
                        .find(|c| c.id() == after.id())
                        .ok_or_else(|| {
                            Fail::Stop(Error::of_backend(
                                BackendError::Io,
                                format!("a group write changed {:?}, no member", after.id()),
                            ))
                        })?;
                    writes.push(persist(tx, Some(before), after, cutoff));
                }
                // Pipelined: each member's statements depend on its own only.
                futures_util::future::try_join_all(writes).await?;
                Ok(decided)
            })
            .await?;
        for calendar in &decided.calendars {
            self.store.install(Calendar::clone(calendar));
        }
        Ok(decided.booking)
    }
}
