//! Named groups of calendars: read lock-free, written one at a time, kept in the log.

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use super::decide;
use super::expect::Authority;
use super::journal_format::Record;
use super::Store;
use crate::error::{Error, Kind};
use crate::slots::BookingType;

/// A named group of calendars: an id, its members' ids in the order given, and the booking
/// types its members are booked by together.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Group {
    id: String,
    members: Vec<String>,
    /// By name, in name order.
    types: Vec<(String, GroupType)>,
}

/// A group's booking type: the rules, and the zone whose wall clock places its starts and
/// whose dates its `per_day` counts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupType {
    /// The rules, as a calendar's type has them.
    pub rules: BookingType,
    /// The zone's IANA name.
    pub zone: String,
}

impl Group {
    /// A group with `types`, which must be in name order.
    pub(crate) fn with_types(
        id: String,
        members: Vec<String>,
        types: Vec<(String, GroupType)>,
    ) -> Group {
        Group { id, members, types }
    }

    /// Its booking types, in name order.
    pub fn booking_types(&self) -> impl ExactSizeIterator<Item = (&str, &GroupType)> + '_ {
        self.types.iter().map(|(name, t)| (name.as_str(), t))
    }

    /// Its booking type `name`, if it has one.
    pub fn booking_type(&self, name: &str) -> Option<&GroupType> {
        self.types
            .binary_search_by(|(n, _)| n.as_str().cmp(name))
            .ok()
            .map(|i| &self.types[i].1)
    }

    /// The group with booking type `name` set to `ty`, or removed (`None`).
    pub(crate) fn with_type(&self, name: &str, ty: Option<GroupType>) -> Group {
        let mut types = self.types.clone();
        match (types.binary_search_by(|(n, _)| n.as_str().cmp(name)), ty) {
            (Ok(i), Some(ty)) => types[i].1 = ty,
            (Ok(i), None) => {
                types.remove(i);
            }
            (Err(i), Some(ty)) => types.insert(i, (String::from(name), ty)),
            (Err(_), None) => {}
        }
        Group {
            id: self.id.clone(),
            members: self.members.clone(),
            types,
        }
    }

    /// The group's id, `[a-z0-9][a-z0-9-]{0,62}`.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The members' calendar ids, in the order they were given.
    pub fn members(&self) -> &[String] {
        &self.members
    }
}

impl Store {
    /// The named group `id`. Lock-free.
    pub fn group(&self, id: &str) -> Option<Arc<Group>> {
        self.groups.load().get(id).cloned()
    }

    /// Every named group, in id order. Lock-free.
    pub fn groups(&self) -> Vec<Arc<Group>> {
        self.groups_after(None, usize::MAX)
    }

    /// At most `limit` named groups, in id order, from the first id after `after` (which need
    /// not name a group), or from the first. Lock-free, and O(log N + limit).
    pub fn groups_after(&self, after: Option<&str>, limit: usize) -> Vec<Arc<Group>> {
        self.groups
            .load()
            .range::<_, str>(super::after_id(after))
            .take(limit)
            .map(|(_, group)| Arc::clone(group))
            .collect()
    }

    /// Creates or replaces the named group `id` with `members` (1 to 1,000 distinct calendar
    /// ids; they are not looked up: a group may name a calendar that is created later).
    /// `by` authorized it, and is checked again once the write is under way
    /// ([`Authority::Unchecked`] checks nothing). Returns the group and whether it is new,
    /// once it is on disk.
    ///
    /// # Errors
    ///
    /// [`Error::is_parse`] for an id that is not a calendar-style id, a member list that is
    /// empty, longer than 1,000, or names a calendar twice; [`Error::is_unauthorized`] when
    /// `by` was revoked, [`Error::is_forbidden`] when it is not an admin key;
    /// [`Error::is_io`] when the journal write failed.
    pub fn put_group(
        &self,
        id: &str,
        members: Vec<String>,
        by: &Authority,
    ) -> Result<(Arc<Group>, bool), Error> {
        let _writing = self
            .group_writes
            .lock()
            .map_err(|_| Error::new(Kind::Io, "a group write panicked; reopen the store"))?;
        // Held to the publication: an admin key cannot be revoked between its check and the
        // write it allows.
        let writer = self.writer.lock()?;
        let current = self.group(id);
        let group = Arc::new(decide::group(
            id,
            members,
            by,
            &writer.meta.admin_keys,
            current.as_deref(),
        )?);
        self.journal.append(&Record::Group(Arc::clone(&group)))?;
        let mut groups = (**self.groups.load()).clone();
        let new = groups
            .insert(String::from(id), Arc::clone(&group))
            .is_none();
        self.groups.store(Arc::new(groups));
        drop(writer);
        let _ = self.compact_journal_if_due(false);
        Ok((group, new))
    }

    /// Removes the named group `id`, once that is on disk; `by` as for
    /// [`Store::put_group`].
    ///
    /// # Errors
    ///
    /// [`Error::is_not_found`] when there is no such group; [`Error::is_unauthorized`] /
    /// [`Error::is_forbidden`] as for [`Store::put_group`]; [`Error::is_io`] when the journal
    /// write failed.
    pub fn delete_group(&self, id: &str, by: &Authority) -> Result<(), Error> {
        let _writing = self
            .group_writes
            .lock()
            .map_err(|_| Error::new(Kind::Io, "a group write panicked; reopen the store"))?;
        let writer = self.writer.lock()?;
        by.check(None, &writer.meta.admin_keys)?;
        if self.group(id).is_none() {
            return Err(Error::new(
                Kind::NotFound,
                std::format!("no group {:?}", crate::error::Truncated(id)),
            ));
        }
        self.journal.append(&Record::DeleteGroup {
            id: String::from(id),
        })?;
        let mut groups = (**self.groups.load()).clone();
        groups.remove(id);
        self.groups.store(Arc::new(groups));
        drop(writer);
        let _ = self.compact_journal_if_due(false);
        Ok(())
    }
}
