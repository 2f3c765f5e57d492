//! The sender: one task that delivers what the outbox holds, beside the request path and
//! never on it.
//!
//! It wakes on every commit (the event streams' signal) and at least once a second, and
//! starts every delivery that is due (on a database, those the database hands this server
//! and holds for it, so that of several servers one delivers each event): per endpoint and
//! calendar only the oldest waiting event
//! (so a calendar's events arrive in the order of its changes), at most [`PER_HOOK`] at once
//! per endpoint and [`CONCURRENCY`] in all, each bounded by the client's timeouts. A 2xx
//! ends a delivery; a 410 gives it up and disables the endpoint; anything else is tried
//! again after an exponential backoff with jitter (5 s doubling to an hour) until
//! [`MAX_ATTEMPTS`] (about three days). An endpoint whose every delivery failed for three
//! days, or with more than [`MAX_BACKLOG`] events waiting, is disabled and says why. What
//! each attempt did is written to the store (a record per endpoint and batch), and only then
//! does the outbox forget a delivered event: a crash before that delivers it again, which
//! at-least-once allows and `webhook-id` lets a receiver see.

use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use availability_core::store::{Attempt, Event, EventId, Outcome, Webhook};
use bytes::Bytes;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::client::Failure;
use super::net::Target;
use super::{now_ms, payload, sign, Webhooks};
use crate::app::App;

/// Deliveries in flight at once, in all.
pub const CONCURRENCY: usize = 32;
/// Deliveries in flight at once to one endpoint.
pub const PER_HOOK: usize = 8;
/// Attempts of one delivery before it is given up: with the backoff, about three days.
pub const MAX_ATTEMPTS: u32 = 81;
/// Events waiting for one endpoint past which it is disabled.
pub const MAX_BACKLOG: usize = 100_000;
/// How long an endpoint may fail every delivery before it is disabled.
pub const FAILING_FOR: Duration = Duration::from_secs(3 * 24 * 3600);
/// The least time between two scans of the outbox.
const MIN_SCAN: Duration = Duration::from_millis(10);
/// The least time between two scans of a database's outbox (every server scans it).
const MIN_SCAN_DATABASE: Duration = Duration::from_millis(50);
/// How often the endpoints are checked for ones to disable.
const CHECK_EVERY: Duration = Duration::from_secs(10);
/// The first retry's delay; each later one doubles it, up to [`MAX_DELAY`].
const FIRST_DELAY_MS: i64 = 5_000;
const MAX_DELAY: Duration = Duration::from_secs(3600);

/// The delay before attempt `number + 1` of a delivery, `number` attempts having failed:
/// 5 s doubling to an hour, give or take a fifth (the same for the same delivery and
/// attempt, so that a restart does not move it).
pub fn backoff_ms(number: u32, event: EventId, hook: &str) -> i64 {
    let base = FIRST_DELAY_MS
        .saturating_mul(1 << number.saturating_sub(1).min(20))
        .min(MAX_DELAY.as_millis() as i64);
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    (event, hook, number).hash(&mut hasher);
    let spread = (hasher.finish() % 4001) as i64 - 2000;
    base + base * spread / 10_000
}

/// What a finished delivery reports.
struct Done {
    hook: String,
    calendar: String,
    attempt: Attempt,
    /// Why to disable the endpoint, if it must be.
    disable: Option<String>,
}

/// Runs the sender until the app shuts down (or is gone).
pub async fn run(app: Weak<App>, webhooks: Arc<Webhooks>) {
    let Some(strong) = app.upgrade() else { return };
    let mut commits = strong.events.commits();
    let mut shutdown = strong.events.shutdown();
    // A scan of a database is a query: fewer of them, as every server scans.
    let min_scan = match strong.storage {
        crate::store::Storage::File(_) => MIN_SCAN,
        crate::store::Storage::Postgres(..) => MIN_SCAN_DATABASE,
    };
    drop(strong);
    let mut sender = Sender {
        webhooks,
        in_flight: HashSet::new(),
        tasks: JoinSet::new(),
        checked: None,
    };
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<Done>();
    let mut scanned = Instant::now() - min_scan;
    loop {
        if *shutdown.borrow() {
            break;
        }
        // Commits come by the thousand a second: one scan serves all of those within
        // `min_scan`, so the sender's share of the CPU does not grow with the booking rate.
        let since = scanned.elapsed();
        if since < min_scan {
            tokio::select! {
                _ = shutdown.changed() => break,
                () = tokio::time::sleep(min_scan - since) => {}
            }
        }
        scanned = Instant::now();
        let next = match app.upgrade() {
            Some(app) => sender.start_due(&app, &done_tx).await,
            None => break,
        };
        let wait = next
            .unwrap_or(Duration::from_secs(1))
            .min(Duration::from_secs(1));
        tokio::select! {
            _ = commits.changed() => {}
            _ = shutdown.changed() => break,
            Some(done) = done_rx.recv() => {
                let mut batch = vec![done];
                while let Ok(more) = done_rx.try_recv() {
                    batch.push(more);
                }
                let Some(app) = app.upgrade() else { break };
                sender.record(&app, batch).await;
            }
            Some(_) = sender.tasks.join_next(), if !sender.tasks.is_empty() => {}
            () = tokio::time::sleep(wait) => {}
        }
    }
}

struct Sender {
    webhooks: Arc<Webhooks>,
    /// (endpoint, calendar) with a delivery under way, or finished but its attempt not yet
    /// written: the calendar's next event for that endpoint waits for both, so that a crash
    /// repeats at most the one event it cut off, and never sends a later one before it.
    in_flight: HashSet<(String, String)>,
    tasks: JoinSet<()>,
    /// When the endpoints were last checked for being hopeless.
    checked: Option<Instant>,
}

impl Sender {
    /// Starts every delivery that is due, the oldest first; returns how long until the next
    /// one is, if any waits and the store says when.
    async fn start_due(
        &mut self,
        app: &App,
        done: &mpsc::UnboundedSender<Done>,
    ) -> Option<Duration> {
        let now = now_ms();
        if self.checked.is_none_or(|at| at.elapsed() >= CHECK_EVERY) {
            self.checked = Some(Instant::now());
            disable_the_hopeless(app, now).await;
        }
        let room = CONCURRENCY.saturating_sub(self.in_flight.len());
        if room == 0 {
            return None;
        }
        // Per endpoint and calendar only the oldest event may go: the store hands out just
        // those, so a scan costs what the calendars waiting cost, not the whole backlog.
        let heads = match app.storage.next_events(now, room).await {
            Ok(heads) => heads,
            Err(e) => {
                tracing::warn!("reading the webhook outbox failed: {e}");
                return None;
            }
        };
        if heads.is_empty() {
            return None;
        }
        let hooks: HashMap<String, Arc<Webhook>> = match app.storage.endpoints().await {
            Ok(hooks) => hooks.into_iter().map(|h| (h.id().to_string(), h)).collect(),
            Err(e) => {
                tracing::warn!("reading the webhooks failed: {e}");
                HashMap::new()
            }
        };
        let mut per_hook: HashMap<String, usize> = HashMap::new();
        for (hook, _) in &self.in_flight {
            *per_hook.entry(hook.clone()).or_default() += 1;
        }
        let mut next: Option<i64> = None;
        // Taken from a database and not started: let go at once, for any server to take.
        let mut untried = Vec::new();
        for head in &heads {
            let event = &head.pending.event;
            let key = (head.hook.clone(), event.calendar.clone());
            let (Some(hook), Some(delivery), false) = (
                hooks.get(&head.hook),
                head.pending.deliveries.iter().find(|d| d.hook == head.hook),
                self.in_flight.contains(&key),
            ) else {
                untried.push((head.hook.clone(), event.id));
                continue;
            };
            let due = match delivery.attempts {
                0 => 0,
                n => delivery.last_ms + backoff_ms(n, event.id, &delivery.hook),
            };
            if due > now {
                next = Some(next.map_or(due, |n| n.min(due)));
                untried.push((head.hook.clone(), event.id));
                continue;
            }
            let busy = per_hook.entry(head.hook.clone()).or_default();
            if *busy >= PER_HOOK || self.in_flight.len() >= CONCURRENCY {
                untried.push((head.hook.clone(), event.id));
                continue;
            }
            *busy += 1;
            self.in_flight.insert(key);
            let task = deliver(
                Arc::clone(&self.webhooks),
                Arc::clone(hook),
                event.clone(),
                delivery.attempts + 1,
                done.clone(),
            );
            self.tasks.spawn(task);
        }
        if let Err(e) = app.storage.release(&untried).await {
            tracing::warn!("letting webhook events go failed: {e}");
        }
        next.map(|at| Duration::from_millis(u64::try_from(at - now).unwrap_or(0)))
    }

    /// Writes what `batch` did, then lets the next events of those calendars go.
    async fn record(&mut self, app: &App, batch: Vec<Done>) {
        let mut by_hook: HashMap<String, Vec<(Attempt, i64)>> = HashMap::new();
        let mut disable = Vec::new();
        for done in &batch {
            let a = &done.attempt;
            let due = a.at_ms + backoff_ms(a.number, a.event, &done.hook);
            by_hook
                .entry(done.hook.clone())
                .or_default()
                .push((a.clone(), due));
            if let Some(reason) = &done.disable {
                disable.push((done.hook.clone(), reason.clone(), done.attempt.at_ms));
            }
        }
        let storage = app.storage.clone();
        let written = tokio::task::spawn_blocking(move || {
            for (hook, attempts) in by_hook {
                storage.record_attempts(&hook, attempts)?;
            }
            for (hook, reason, at) in disable {
                storage.disable_webhook(&hook, &reason, at)?;
            }
            Ok::<(), availability_core::Error>(())
        })
        .await;
        match written {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!("writing webhook attempts failed: {e}"),
            Err(e) => tracing::error!("writing webhook attempts panicked: {e}"),
        }
        for done in batch {
            self.in_flight.remove(&(done.hook, done.calendar));
        }
    }
}

/// Disables endpoints that failed every delivery for [`FAILING_FOR`], or have more than
/// [`MAX_BACKLOG`] events waiting.
async fn disable_the_hopeless(app: &App, now: i64) {
    let (hooks, backlogs) = match (app.storage.endpoints().await, app.storage.backlogs().await) {
        (Ok(hooks), Ok(backlogs)) => (hooks, backlogs),
        (Err(e), _) | (_, Err(e)) => {
            tracing::warn!("reading the webhooks failed: {e}");
            return;
        }
    };
    let backlog: HashMap<String, usize> = backlogs.into_iter().collect();
    let mut hopeless = Vec::new();
    for hook in hooks.iter().filter(|h| h.disabled().is_none()) {
        let reason = if hook
            .failing_since_unix_ms()
            .is_some_and(|since| now - since >= FAILING_FOR.as_millis() as i64)
        {
            "every delivery failed for 3 days"
        } else if backlog.get(hook.id()).copied().unwrap_or(0) > MAX_BACKLOG {
            "more than 100000 events were waiting for it"
        } else {
            continue;
        };
        hopeless.push((hook.id().to_string(), reason));
    }
    if hopeless.is_empty() {
        return;
    }
    let storage = app.storage.clone();
    let disabled = tokio::task::spawn_blocking(move || {
        for (hook, reason) in hopeless {
            if let Err(e) = storage.disable_webhook(&hook, reason, now) {
                tracing::warn!(webhook = hook, "disabling a webhook failed: {e}");
            }
        }
    })
    .await;
    if let Err(e) = disabled {
        tracing::error!("disabling webhooks panicked: {e}");
    }
}

/// Delivers `event` to `hook` once, and reports the attempt.
async fn deliver(
    webhooks: Arc<Webhooks>,
    hook: Arc<Webhook>,
    event: Event,
    number: u32,
    done: mpsc::UnboundedSender<Done>,
) {
    let started = Instant::now();
    let at_ms = now_ms();
    let result = match (
        Target::parse(hook.url()),
        webhooks.sealer.open(hook.id(), hook.secret()),
    ) {
        (Err(why), _) => Err(Failure::Refused(why)),
        (_, None) => Err(Failure::Refused(String::from(
            "its secret does not open with this server's webhook_key_file",
        ))),
        (Ok(target), Some(key)) => {
            let body = payload::body(&event);
            let id = payload::event_id(event.id);
            let headers = sign::headers(&key, &id, at_ms.div_euclid(1000), &body);
            webhooks
                .client
                .post(&target, &headers, Bytes::from(body))
                .await
        }
    };
    let duration_ms = u32::try_from(started.elapsed().as_millis()).unwrap_or(u32::MAX);
    let (status, error) = match &result {
        Ok(answer) => (answer.status, None),
        Err(failure) => (0, Some(failure.to_string())),
    };
    let stats = &webhooks.stats;
    let (outcome, disable) = match status {
        200..=299 => {
            stats.delivered.fetch_add(1, Relaxed);
            (Outcome::Delivered, None)
        }
        410 => {
            stats.failed.fetch_add(1, Relaxed);
            (
                Outcome::GaveUp,
                Some(String::from("the receiver answered 410 Gone")),
            )
        }
        _ if number >= MAX_ATTEMPTS => {
            stats.failed.fetch_add(1, Relaxed);
            (Outcome::GaveUp, None)
        }
        _ => {
            stats.failed.fetch_add(1, Relaxed);
            (Outcome::Retry, None)
        }
    };
    let _ = done.send(Done {
        hook: hook.id().to_string(),
        calendar: event.calendar.clone(),
        attempt: Attempt {
            event: event.id,
            kind: event.kind,
            number,
            at_ms,
            status,
            duration_ms,
            error,
            outcome,
        },
        disable,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backoff_doubles_to_an_hour_with_a_fifth_of_jitter() {
        let id = EventId {
            incarnation: 3,
            version: 9,
        };
        let mut total = 0;
        for n in 1..MAX_ATTEMPTS {
            let base = (5_000i64 << (n - 1).min(20)).min(3_600_000);
            let delay = backoff_ms(n, id, "wh-1");
            assert!(
                (base * 8 / 10..=base * 12 / 10).contains(&delay),
                "{n}: {delay}"
            );
            assert_eq!(delay, backoff_ms(n, id, "wh-1"), "the same on every call");
            total += delay;
        }
        // Retried for more than a day, given up after about three.
        let days = total as f64 / 86_400_000.0;
        assert!((2.5..3.5).contains(&days), "{days}");
        let others: HashSet<i64> = (0..20)
            .map(|v| {
                backoff_ms(
                    4,
                    EventId {
                        incarnation: 3,
                        version: v,
                    },
                    "wh-1",
                )
            })
            .collect();
        assert!(others.len() > 10, "jitter spreads retries: {others:?}");
    }
}
