//! The admin keys: kept in the log, published for lock-free checks.

use alloc::sync::Arc;
use alloc::vec::Vec;

use super::checked::KeyHash;
use super::decide;
use super::expect::Authority;
use super::journal_format::Record;
use super::writer::Guard;
use super::Store;
use crate::error::Error;

impl Store {
    /// The server-wide admin key hashes. Lock-free.
    pub fn admin_keys(&self) -> Arc<Vec<KeyHash>> {
        self.admin_keys.load_full()
    }

    /// The admin key hash with id `key_id`.
    pub fn admin_key(&self, key_id: &str) -> Option<KeyHash> {
        self.admin_keys
            .load()
            .iter()
            .find(|k| k.id() == key_id)
            .cloned()
    }

    /// Adds an admin key hash, authorized by `by` (checked again under the writer lock;
    /// [`Authority::Unchecked`] checks nothing). Returns once it is on disk.
    ///
    /// # Errors
    ///
    /// [`Error::is_already_exists`] when the key id is taken, [`Error::is_capacity`] when
    /// there are 16 admin keys, [`Error::is_unauthorized`] when `by` was revoked,
    /// [`Error::is_forbidden`] when it is not an admin key, [`Error::is_io`] when the write
    /// failed.
    pub fn add_admin_key(&self, key: KeyHash, by: &Authority) -> Result<(), Error> {
        let mut writer = self.writer.lock()?;
        let keys = decide::admin_key_added(&writer.meta.admin_keys, key, by)?;
        self.write_admin_keys(&mut writer, keys)
    }

    /// Removes the admin key with id `key_id`, authorized by `by` (checked again under the
    /// writer lock; [`Authority::Unchecked`] checks nothing). Returns once that is on disk. With `keep_one` (no admin key exists outside the store), the last
    /// stored admin key is not removed: nobody could administer the store after it.
    ///
    /// # Errors
    ///
    /// [`Error::is_not_found`] when there is no such admin key; [`Error::is_last_admin_key`]
    /// when it is the last one and `keep_one` is set; [`Error::is_unauthorized`] when `by`
    /// was revoked, [`Error::is_forbidden`] when it is not an admin key; [`Error::is_io`]
    /// when the write failed.
    pub fn revoke_admin_key(
        &self,
        key_id: &str,
        by: &Authority,
        keep_one: bool,
    ) -> Result<(), Error> {
        let mut writer = self.writer.lock()?;
        let keys = decide::admin_key_revoked(&writer.meta.admin_keys, key_id, by, keep_one)?;
        self.write_admin_keys(&mut writer, keys)
    }

    /// Writes `keys` as the admin keys and publishes them, holding the writer lock
    /// throughout: no write can check its authority against keys about to change.
    fn write_admin_keys(&self, writer: &mut Guard<'_>, keys: Vec<KeyHash>) -> Result<(), Error> {
        self.journal.append(&Record::AdminKeys(keys.clone()))?;
        self.admin_keys.store(Arc::new(keys.clone()));
        writer.meta.admin_keys = keys;
        Ok(())
    }
}
