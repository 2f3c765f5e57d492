//! Webhook writes and reads: endpoints made, disabled and removed one at a time, the events
//! waiting for them, and the attempts a sender reports. Each is one record of the log; the
//! events come from the changes themselves (`outbox`).

use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use super::decide::webhook_write;
use super::expect::Authority;
use super::journal_format::Record;
use super::webhook::{clip, Attempt, Disabled, Head, Pending, Webhook, MAX_WEBHOOKS};
use super::Store;
use crate::error::{Error, Kind};

impl Store {
    /// Every webhook endpoint, in id order.
    pub fn webhooks(&self) -> Vec<Arc<Webhook>> {
        self.journal.outbox().hooks().values().cloned().collect()
    }

    /// The webhook endpoint `id`.
    pub fn webhook(&self, id: &str) -> Option<Arc<Webhook>> {
        self.journal.outbox().hooks().get(id).cloned()
    }

    /// The events some endpoint still waits for, in commit order (per calendar, the order of
    /// its changes).
    pub fn pending_events(&self) -> Vec<Arc<Pending>> {
        self.journal.outbox().pending().cloned().collect()
    }

    /// Per endpoint and calendar with events waiting, the oldest of them and how many wait:
    /// what a sender may deliver next, read without walking the whole outbox.
    pub fn waiting_heads(&self) -> Vec<Head> {
        self.journal.outbox().heads()
    }

    /// Endpoint `id`'s last attempts (at most 100), oldest first.
    pub fn attempts(&self, id: &str) -> Vec<Attempt> {
        self.journal.outbox().attempts(id)
    }

    /// Makes endpoint `hook`, once it is on disk; from then on every change it wants makes an
    /// event for it. `by` authorized it and is checked again now: an endpoint with an owner
    /// needs that calendar to still be the incarnation it names and `by` to still cover a
    /// write to it; any other needs an admin key.
    ///
    /// # Errors
    ///
    /// [`Error::is_already_exists`] for an id taken; [`Error::is_capacity`] when the store
    /// holds 1,000 endpoints; [`Error::is_not_found`] when the owner calendar is gone or
    /// another incarnation; [`Error::is_unauthorized`] / [`Error::is_forbidden`] when `by` no
    /// longer covers it; [`Error::is_io`] when the write failed.
    pub fn create_webhook(&self, hook: Webhook, by: &Authority) -> Result<Arc<Webhook>, Error> {
        hook.check().map_err(|what| Error::new(Kind::Parse, what))?;
        let _one = self.webhook_writes.lock().map_err(|_| poisoned())?;
        let writer = match hook.owner() {
            Some((calendar, incarnation)) => {
                let (writer, published) = self.settled(calendar)?;
                let current = published.current.load_full();
                let owner = Some((&*current, incarnation));
                webhook_write(by, owner, &writer.meta.admin_keys)?;
                writer
            }
            None => {
                let writer = self.writer.lock()?;
                webhook_write(by, None, &writer.meta.admin_keys)?;
                writer
            }
        };
        let outbox = self.journal.outbox();
        if outbox.hooks().contains_key(hook.id()) {
            return Err(Error::new(
                Kind::AlreadyExists,
                format!("webhook {:?} exists", hook.id()),
            ));
        }
        if outbox.hooks().len() >= MAX_WEBHOOKS {
            return Err(Error::new(
                Kind::Capacity,
                format!("a store holds at most {MAX_WEBHOOKS} webhooks; delete one first"),
            ));
        }
        let hook = Arc::new(hook);
        self.journal.append(&Record::Webhook(Arc::clone(&hook)))?;
        drop(writer);
        let _ = self.compact_journal_if_due(false);
        Ok(hook)
    }

    /// Removes endpoint `id`, with the events waiting for it and its attempts, once that is
    /// on disk. `by` must still be an admin key, or cover a write to the endpoint's owner.
    ///
    /// # Errors
    ///
    /// [`Error::is_not_found`] when there is no such endpoint; otherwise as
    /// [`Store::create_webhook`].
    pub fn delete_webhook(&self, id: &str, by: &Authority) -> Result<(), Error> {
        let _one = self.webhook_writes.lock().map_err(|_| poisoned())?;
        let writer = self.writer.lock()?;
        let hook = self.webhook(id).ok_or_else(|| no_webhook(id))?;
        let owner = hook.owner().and_then(|(calendar, _)| self.get(calendar));
        by.check(owner.as_deref(), &writer.meta.admin_keys)?;
        self.journal.append(&Record::DeleteWebhook {
            id: String::from(id),
        })?;
        drop(writer);
        let _ = self.compact_journal_if_due(false);
        Ok(())
    }

    /// Stops sending to endpoint `id` for `reason` (a receiver that answered 410, or one
    /// that failed for days): the events waiting for it are given up, and it says why.
    ///
    /// # Errors
    ///
    /// [`Error::is_not_found`] when there is no such endpoint; [`Error::is_io`] when the
    /// write failed.
    pub fn disable_webhook(&self, id: &str, reason: &str, at_ms: i64) -> Result<(), Error> {
        let _one = self.webhook_writes.lock().map_err(|_| poisoned())?;
        let hook = self.webhook(id).ok_or_else(|| no_webhook(id))?;
        if hook.disabled.is_some() {
            return Ok(());
        }
        let mut next = Webhook::clone(&hook);
        next.disabled = Some(Disabled {
            at_ms,
            reason: clip(reason),
        });
        self.journal.append(&Record::Webhook(Arc::new(next)))?;
        let _ = self.compact_journal_if_due(false);
        Ok(())
    }

    /// Records what `attempts` to deliver to endpoint `id` did (each at most as the
    /// endpoint's kept attempts, 100 at a time): a delivered or abandoned event no longer
    /// waits for it, a failed one is tried again later. An endpoint removed meanwhile
    /// ignores them.
    ///
    /// # Errors
    ///
    /// [`Error::is_io`] when the write failed.
    pub fn record_attempts(&self, id: &str, attempts: Vec<Attempt>) -> Result<(), Error> {
        for chunk in attempts.chunks(super::webhook::KEPT_ATTEMPTS) {
            let attempts = chunk
                .iter()
                .map(|a| Attempt {
                    error: a.error.as_deref().map(clip),
                    ..a.clone()
                })
                .collect();
            self.journal.append(&Record::Attempts {
                hook: String::from(id),
                attempts,
            })?;
        }
        let _ = self.compact_journal_if_due(false);
        Ok(())
    }
}

fn no_webhook(id: &str) -> Error {
    Error::new(
        Kind::NotFound,
        format!("no webhook {:?}", crate::error::Truncated(id)),
    )
}

fn poisoned() -> Error {
    Error::new(Kind::Io, "a webhook write panicked; reopen the store")
}
