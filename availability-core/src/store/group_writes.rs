//! Group booking types and group bookings in the store file: each write is one record of the
//! log, appended while the group and every member calendar it reads have no other write in
//! flight, so that it applies whole or not at all, also across a crash.

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use super::calendar::Calendar;
use super::checked::now_ms;
use super::expect::Authority;
use super::group_book::{self, Decided, GroupBooking, GroupRequest};
use super::groups::{Group, GroupType};
use super::journal_format::Record;
use super::{decide, Published, Store};
use crate::error::{Error, Kind};

/// The name a group holds in the writers' in-flight set (calendar ids have no colon).
fn group_name(id: &str) -> String {
    std::format!("group:{id}")
}

impl Store {
    /// The current states of the group's members, in its order (`None` for a member that
    /// names no calendar). Lock-free.
    pub fn group_members(&self, group: &Group) -> Vec<Option<Arc<Calendar>>> {
        group.members().iter().map(|id| self.get(id)).collect()
    }

    /// Sets the group's booking type `name` (`Some`) or removes it (`None`), once that is on
    /// disk; returns the group after it. `by` as for [`Store::put_group`].
    ///
    /// # Errors
    ///
    /// [`Error::is_not_found`] for no such group, or removing a type it does not have;
    /// [`Error::is_invalid_booking_type`] naming the field for a name, rule or zone out of
    /// range, or a 33rd type; the authority's errors as for [`Store::put_group`];
    /// [`Error::is_io`] when the write failed.
    pub fn put_group_type(
        &self,
        id: &str,
        name: &str,
        ty: Option<GroupType>,
        by: &Authority,
    ) -> Result<Arc<Group>, Error> {
        let _writing = self
            .group_writes
            .lock()
            .map_err(|_| Error::new(Kind::Io, "a group write panicked; reopen the store"))?;
        let writer = self.writer.lock()?;
        let current = self.group(id).ok_or_else(|| no_group(id))?;
        let next = Arc::new(decide::group_type(
            &current,
            name,
            ty,
            by,
            &writer.meta.admin_keys,
        )?);
        self.journal.append(&Record::Group(Arc::clone(&next)))?;
        let mut groups = (**self.groups.load()).clone();
        groups.insert(String::from(id), Arc::clone(&next));
        self.groups.store(Arc::new(groups));
        drop(writer);
        let _ = self.compact_journal_if_due(false);
        Ok(next)
    }

    /// Group booking `booking` of group `id`, as its parts tell it. Lock-free.
    pub fn group_booking(&self, id: &str, booking: u64) -> Option<GroupBooking> {
        let group = self.group(id)?;
        group_book::find(&group, &self.group_members(&group), booking)
    }

    /// The group's bookings that start in `[from, to)`, by start. Lock-free.
    pub fn group_bookings(&self, id: &str, from: i64, to: i64) -> Option<Vec<GroupBooking>> {
        let group = self.group(id)?;
        Some(group_book::list(
            &group,
            &self.group_members(&group),
            (from, to),
        ))
    }

    /// Books `request` on group `id` ([`group_book::book`] decides it) in one record: every
    /// part or none is on disk. The group booking's id is the record's sequence number.
    ///
    /// # Errors
    ///
    /// [`Error::is_not_found`] for no such group; otherwise as [`group_book::book`], and
    /// [`Error::is_io`] when the write failed. Nothing changes on any error.
    pub fn group_book(
        &self,
        id: &str,
        request: &GroupRequest<'_>,
        by: &Authority,
    ) -> Result<GroupBooking, Error> {
        self.group_write(id, &mut |group, members, admin_keys, seq, cutoff| {
            group_book::book(group, members, request, (by, admin_keys), seq, cutoff)
        })
    }

    /// Cancels every remaining part of group booking `booking` of group `id` in one record.
    /// Returns the group booking as it was.
    ///
    /// # Errors
    ///
    /// As [`group_book::cancel`]; [`Error::is_io`] when the write failed.
    pub fn group_cancel(
        &self,
        id: &str,
        booking: u64,
        by: &Authority,
    ) -> Result<GroupBooking, Error> {
        self.group_write(id, &mut |group, members, admin_keys, _, cutoff| {
            group_book::cancel(group, members, booking, (by, admin_keys), cutoff)
        })
    }

    /// Moves every remaining part of group booking `booking` of group `id` to start at
    /// `start`, in one record; on any error every part stays where it was.
    ///
    /// # Errors
    ///
    /// As [`group_book::reschedule`]; [`Error::is_io`] when the write failed.
    pub fn group_reschedule(
        &self,
        id: &str,
        booking: u64,
        start: i64,
        by: &Authority,
    ) -> Result<GroupBooking, Error> {
        let now = now_ms().div_euclid(1000);
        self.group_write(id, &mut |group, members, admin_keys, _, cutoff| {
            group_book::reschedule(
                group,
                members,
                booking,
                start,
                now,
                (by, admin_keys),
                cutoff,
            )
        })
    }

    /// A write to a group booking of group `id`: once neither the group nor any member has
    /// a write in flight, `decide` is given the group, its members as they are, the admin
    /// keys, the sequence number the record will have and the retention cutoff; its decision
    /// is appended as one record and, once durable, every changed calendar is published.
    #[allow(clippy::type_complexity)]
    fn group_write(
        &self,
        id: &str,
        decide: &mut dyn FnMut(
            &Group,
            &[Option<Arc<Calendar>>],
            &[super::KeyHash],
            u64,
            i64,
        ) -> Result<Decided, Error>,
    ) -> Result<GroupBooking, Error> {
        let (writer, names, (group, published)) = self.writer.settled_all(|| {
            // Looked up again after every wait: the group or a member may have changed.
            let group = self.group(id).ok_or_else(|| no_group(id))?;
            let mut names = Vec::with_capacity(group.members().len() + 1);
            names.push(group_name(id));
            names.extend(group.members().iter().cloned());
            let published: Vec<Option<Arc<Published>>> = group
                .members()
                .iter()
                .map(|member| self.directory.with(member, Arc::clone))
                .collect();
            Ok((names, (group, published)))
        })?;
        let admin_keys = writer.meta.admin_keys.clone();
        let members: Vec<Option<Arc<Calendar>>> = published
            .iter()
            .map(|p| p.as_ref().map(|p| p.current.load_full()))
            .collect();
        let cutoff = now_ms().div_euclid(1000) - self.retention_seconds;
        let decided = self.writer.exclusive_all(
            writer,
            &names,
            || {
                let mut decided: Option<Decided> = None;
                self.journal.append_numbered(&mut |seq| {
                    let made = decide(&group, &members, &admin_keys, seq, cutoff)?;
                    let record = Record::GroupWrite(group_book::record_of(id, &made));
                    decided = Some(made);
                    Ok(record)
                })?;
                decided.ok_or_else(|| Error::new(Kind::Io, "a group write decided nothing"))
            },
            |_, made: &Decided| {
                // The changed calendars come in the group's member order: one walk finds
                // each one's slot.
                let mut slots = group.members().iter().zip(&published);
                for calendar in &made.calendars {
                    let slot = slots.find(|(m, _)| *m == calendar.id());
                    if let Some((_, Some(slot))) = slot {
                        slot.current.store(Arc::clone(calendar));
                    }
                }
            },
        )?;
        let _ = self.compact_journal_if_due(false);
        Ok(decided.booking)
    }
}

#[cold]
fn no_group(id: &str) -> Error {
    Error::new(
        Kind::NotFound,
        std::format!("no group {:?}", crate::error::Truncated(id)),
    )
}
