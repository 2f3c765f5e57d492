//! The outbox: the webhook endpoints, the events still to deliver to them, and the last
//! attempts of each, as the log's index of what is live keeps them (`journal_live`).
//!
//! Events are derived, not written: each record of a change, applied to the index, makes the
//! events its change means for the endpoints the log holds at that point (`Live::apply`).
//! Reading the log again therefore makes the same events for the same endpoints, and
//! compaction writes the ones still waiting as records of their own ([`Record::Pending`]),
//! after every calendar's records and the endpoints, so that nothing it writes makes them
//! twice.

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use super::journal_format::Record;
use super::webhook::{
    Attempt, Delivery, Event, EventId, Head, Outcome, Pending, Webhook, KEPT_ATTEMPTS,
};

#[derive(Clone, Default)]
pub(super) struct Outbox {
    /// The endpoints, by id.
    hooks: imbl::OrdMap<String, Arc<Webhook>>,
    /// The events some endpoint still waits for, in commit order (a number given as each is
    /// made, never written).
    pending: imbl::OrdMap<u64, Arc<Pending>>,
    /// Where each of those is in `pending`.
    index: imbl::OrdMap<EventId, u64>,
    /// Per endpoint and calendar, where its waiting events are in `pending`, oldest first:
    /// the sender reads the first of each, not the whole outbox.
    queues: imbl::OrdMap<(String, String), imbl::Vector<u64>>,
    next: u64,
    /// Each endpoint's last attempts, oldest first.
    attempts: imbl::OrdMap<String, imbl::Vector<Attempt>>,
}

impl Outbox {
    /// Whether any endpoint could take an event: when none can, changes make none.
    pub(super) fn listening(&self) -> bool {
        self.hooks.values().any(|h| h.disabled.is_none())
    }

    pub(super) fn hooks(&self) -> &imbl::OrdMap<String, Arc<Webhook>> {
        &self.hooks
    }

    /// The endpoint, made or replaced (a disabled one gives up what waits for it).
    pub(super) fn put_hook(&mut self, hook: &Arc<Webhook>) {
        if hook.disabled.is_some() {
            self.drop_deliveries(&hook.id);
        }
        self.hooks.insert(hook.id.clone(), Arc::clone(hook));
    }

    /// The endpoint removed, with what waits for it and its attempts.
    pub(super) fn delete_hook(&mut self, id: &str) {
        self.hooks.remove(id);
        self.attempts.remove(id);
        self.drop_deliveries(id);
    }

    /// The endpoints made with a key of calendar `id` (that incarnation) removed.
    pub(super) fn calendar_deleted(&mut self, id: &str, incarnation: u64) {
        let owned: Vec<String> = self
            .hooks
            .values()
            .filter(|h| h.owner() == Some((id, incarnation)))
            .map(|h| h.id.clone())
            .collect();
        for hook in owned {
            self.delete_hook(&hook);
        }
    }

    /// Queues `event` for every endpoint that wants it, if any does.
    pub(super) fn emit(&mut self, event: Event) {
        let deliveries: Vec<Delivery> = self
            .hooks
            .values()
            .filter(|h| h.wants(event.kind, &event.calendar, event.id.incarnation))
            .map(|h| Delivery {
                hook: h.id.clone(),
                attempts: 0,
                last_ms: 0,
            })
            .collect();
        self.push(Pending { event, deliveries });
    }

    /// An event waiting since before a compaction, for the endpoints it names that exist.
    pub(super) fn restore(&mut self, pending: &Pending) {
        let mut pending = pending.clone();
        pending.deliveries.retain(|d| {
            self.hooks
                .get(&d.hook)
                .is_some_and(|h| h.disabled.is_none())
        });
        self.push(pending);
    }

    fn push(&mut self, pending: Pending) {
        if pending.deliveries.is_empty() || self.index.contains_key(&pending.event.id) {
            return;
        }
        let at = self.next;
        self.next += 1;
        self.index.insert(pending.event.id, at);
        for d in &pending.deliveries {
            self.queues
                .entry((d.hook.clone(), pending.event.calendar.clone()))
                .or_default()
                .push_back(at);
        }
        self.pending.insert(at, Arc::new(pending));
    }

    /// Event `at` (of `calendar`) no longer waits for endpoint `hook`.
    fn dequeue(&mut self, hook: &str, calendar: &str, at: u64) {
        let key = (String::from(hook), String::from(calendar));
        let Some(queue) = self.queues.get_mut(&key) else {
            return;
        };
        // Almost always the first: a calendar's events are delivered in order.
        if queue.front() == Some(&at) {
            queue.pop_front();
        } else if let Some(i) = queue.iter().position(|&q| q == at) {
            queue.remove(i);
        }
        if queue.is_empty() {
            self.queues.remove(&key);
        }
    }

    /// What `attempts` of endpoint `hook` did: a delivered or abandoned event no longer
    /// waits for it, a failed one counts the attempt, and the endpoint's failing streak
    /// starts or ends. Applying the same attempts again changes nothing more.
    pub(super) fn attempted(&mut self, hook: &str, attempts: &[Attempt]) {
        let Some(mut endpoint) = self.hooks.get(hook).map(|h| Webhook::clone(h)) else {
            return;
        };
        let log = self.attempts.entry(String::from(hook)).or_default();
        for attempt in attempts {
            log.push_back(attempt.clone());
            while log.len() > KEPT_ATTEMPTS {
                log.pop_front();
            }
            match attempt.outcome {
                Outcome::Delivered => endpoint.failing_since_ms = None,
                Outcome::Retry | Outcome::GaveUp => {
                    endpoint.failing_since_ms.get_or_insert(attempt.at_ms);
                }
            }
        }
        for attempt in attempts {
            let Some(&at) = self.index.get(&attempt.event) else {
                continue;
            };
            let Some(pending) = self.pending.get(&at) else {
                continue;
            };
            let mut next = Pending::clone(pending);
            let Some(i) = next.deliveries.iter().position(|d| d.hook == hook) else {
                continue;
            };
            match attempt.outcome {
                Outcome::Delivered | Outcome::GaveUp => {
                    next.deliveries.remove(i);
                    self.dequeue(hook, &next.event.calendar, at);
                }
                Outcome::Retry => {
                    let delivery = &mut next.deliveries[i];
                    delivery.attempts = delivery.attempts.max(attempt.number);
                    delivery.last_ms = delivery.last_ms.max(attempt.at_ms);
                }
            }
            self.replace(at, next);
        }
        self.hooks.insert(String::from(hook), Arc::new(endpoint));
    }

    fn replace(&mut self, at: u64, pending: Pending) {
        if pending.deliveries.is_empty() {
            self.index.remove(&pending.event.id);
            self.pending.remove(&at);
        } else {
            self.pending.insert(at, Arc::new(pending));
        }
    }

    fn drop_deliveries(&mut self, hook: &str) {
        let waiting: Vec<u64> = self
            .pending
            .iter()
            .filter(|(_, p)| p.deliveries.iter().any(|d| d.hook == hook))
            .map(|(at, _)| *at)
            .collect();
        for at in waiting {
            if let Some(pending) = self.pending.get(&at) {
                let mut next = Pending::clone(pending);
                next.deliveries.retain(|d| d.hook != hook);
                self.replace(at, next);
            }
        }
        let queues: Vec<(String, String)> = self
            .queues
            .keys()
            .filter(|(h, _)| h == hook)
            .cloned()
            .collect();
        for key in queues {
            self.queues.remove(&key);
        }
    }

    /// The events waiting, in commit order.
    pub(super) fn pending(&self) -> impl Iterator<Item = &Arc<Pending>> + '_ {
        self.pending.values()
    }

    /// Per endpoint and calendar with events waiting: the oldest of them, and how many wait.
    pub(super) fn heads(&self) -> Vec<Head> {
        self.queues
            .iter()
            .filter_map(|((hook, _), queue)| {
                let pending = self.pending.get(queue.front()?)?;
                Some(Head {
                    hook: hook.clone(),
                    pending: Arc::clone(pending),
                    waiting: queue.len(),
                })
            })
            .collect()
    }

    /// Endpoint `hook`'s last attempts, oldest first.
    pub(super) fn attempts(&self, hook: &str) -> Vec<Attempt> {
        self.attempts
            .get(hook)
            .map(|log| log.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// The records that make the outbox again, in the order a compacted log holds them:
    /// the endpoints, their attempts since `cutoff_ms`, then the events waiting.
    pub(super) fn each_record(&self, cutoff_ms: i64, out: &mut dyn FnMut(Record)) {
        for hook in self.hooks.values() {
            out(Record::Webhook(Arc::clone(hook)));
        }
        for (hook, log) in &self.attempts {
            let attempts: Vec<Attempt> = log
                .iter()
                .filter(|a| a.at_ms >= cutoff_ms)
                .cloned()
                .collect();
            if !attempts.is_empty() {
                out(Record::Attempts {
                    hook: hook.clone(),
                    attempts,
                });
            }
        }
        for pending in self.pending.values() {
            out(Record::Pending(Arc::clone(pending)));
        }
    }
}
