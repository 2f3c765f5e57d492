//! A mirror: a store whose state is decided elsewhere (a database that several servers share)
//! and published here, so that reads stay in memory, lock-free, exactly as a store's.
//!
//! A mirror has no file and takes no write of its own: its write methods refuse. Its source
//! installs each state it decided ([`Store::install`]) and each state it hears another
//! process decided; installing keeps, per calendar, the newest (incarnation, version) seen,
//! and a calendar removed stays removed (a late install of the incarnation that was removed
//! is ignored), so the order in which the two paths arrive does not matter.

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use arc_swap::ArcSwap;

use super::backend::Backend;
use super::calendar::Calendar;
use super::checked::{now_ms, KeyHash};
use super::double::FileDouble;
use super::groups::Group;
use super::journal::empty_image;
use super::journal_format::Remembered;
use super::{open, Options, Published, Store};
use crate::error::Error;

impl Store {
    /// An empty mirror: no calendar, no admin key, no group; reads as a store does, and
    /// refuses every write method ([`Error::is_io`]) until its source installs states.
    ///
    /// # Errors
    ///
    /// Only if building the empty state fails, which it does not for want of a file.
    pub fn mirror(options: Options) -> Result<Store, Error> {
        let store = open::open_backend(
            Backend::Double(FileDouble::new(empty_image())),
            None,
            options,
        )?;
        store.journal.refuse_appends();
        Ok(store)
    }

    /// Publishes `calendar` as decided by the mirror's source, unless the state published
    /// already is as new or newer (a higher incarnation, or the same and a version at least
    /// as high) or that incarnation was removed. Returns whether it was published.
    pub fn install(&self, calendar: Calendar) -> bool {
        let Ok(_writer) = self.writer.lock() else {
            return false;
        };
        let state = (calendar.incarnation(), calendar.version());
        if self.removed(calendar.id(), calendar.incarnation()) {
            return false;
        }
        let calendar = Arc::new(calendar);
        let published = self.directory.with(calendar.id(), Arc::clone);
        match published {
            Some(published) => {
                let current = published.current.load();
                if (current.incarnation(), current.version()) >= state {
                    return false;
                }
                published.current.store(calendar);
            }
            None => self.directory.insert(
                calendar.shared_id(),
                Arc::new(Published {
                    current: ArcSwap::new(calendar),
                }),
            ),
        }
        true
    }

    /// Removes calendar `id` up to incarnation `incarnation` (a newer one installed already
    /// stays). Returns whether one was removed.
    pub fn uninstall(&self, id: &str, incarnation: u64) -> bool {
        let Ok(_writer) = self.writer.lock() else {
            return false;
        };
        if let Ok(mut removed) = self.removed.lock() {
            let entry = removed.entry(String::from(id)).or_insert(incarnation);
            *entry = (*entry).max(incarnation);
        }
        let current = self
            .directory
            .with(id, |published| published.current.load().incarnation());
        match current {
            Some(current) if current <= incarnation => {
                self.directory.remove(id);
                true
            }
            _ => false,
        }
    }

    /// Whether incarnation `incarnation` of calendar `id` (or a later one) was removed.
    fn removed(&self, id: &str, incarnation: u64) -> bool {
        self.removed
            .lock()
            .is_ok_and(|removed| removed.get(id).is_some_and(|&gone| gone >= incarnation))
    }

    /// Publishes the admin keys as the mirror's source holds them now.
    pub fn install_admin_keys(&self, keys: Vec<KeyHash>) {
        if let Ok(mut writer) = self.writer.lock() {
            self.admin_keys.store(Arc::new(keys.clone()));
            writer.meta.admin_keys = keys;
        }
    }

    /// Publishes every group as the mirror's source holds them now, by id.
    pub fn install_groups(&self, groups: impl IntoIterator<Item = Group>) {
        let groups = groups
            .into_iter()
            .map(|group| (String::from(group.id()), Arc::new(group)))
            .collect();
        self.groups.store(Arc::new(groups));
    }

    /// Publishes group `id` as the mirror's source holds it now: `Some` its members, `None`
    /// removed.
    pub fn install_group(&self, id: &str, group: Option<Group>) {
        let Ok(_writing) = self.group_writes.lock() else {
            return;
        };
        let mut groups = (**self.groups.load()).clone();
        match group {
            Some(group) => groups.insert(String::from(id), Arc::new(group)),
            None => groups.remove(id),
        };
        self.groups.store(Arc::new(groups));
    }

    /// Keeps `answer` for its idempotency key, as the mirror's source keeps it.
    pub fn install_remembered(&self, answer: Remembered) {
        self.journal.keep_remembered(answer, now_ms());
    }
}
