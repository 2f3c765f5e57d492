//! Live updates: `GET /calendars/{id}/events` and `/groups/{id}/events` as Server-Sent
//! Events (`text/event-stream`).
//!
//! Every committed change bumps one counter in a `tokio::sync::watch` ([`Events::committed`],
//! called by `App::commit`): a write pays one atomic store and a wake-up of the subscribers,
//! and reads pay nothing. Each subscriber then compares the state it watches (a calendar's, or
//! every member's of a group) with the last one it sent, and sends an event only when it
//! moved. Subscribers are few (bounded per client and in total), so waking all of them per
//! commit costs less than keeping a channel per calendar.
//!
//! A stream sends the current state at once (also when a browser reconnects with
//! `Last-Event-ID`), then an event after every change, a comment line as a heartbeat when
//! nothing happened for a while, and ends when the calendar or group goes away or the server
//! shuts down, so that graceful shutdown is not held up by open streams.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::watch;

use crate::store::Store;
use crate::wire::client::client_of;
use crate::wire::Body;

/// The bounds and the heartbeat of the event streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventLimits {
    /// Streams open at once from one client (an IPv4 address, or an IPv6 /64).
    pub per_client: usize,
    /// Streams open at once in total.
    pub total: usize,
    /// The longest silence on a stream: a comment line is sent after it.
    pub heartbeat: Duration,
}

impl Default for EventLimits {
    fn default() -> EventLimits {
        EventLimits {
            per_client: 8,
            total: 1024,
            heartbeat: Duration::from_secs(15),
        }
    }
}

/// The commit signal and the subscriber counts; a clone is another handle to the same.
#[derive(Clone, Debug)]
pub struct Events {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    limits: EventLimits,
    /// How many commits there have been: subscribers wake when it moves.
    commits: watch::Sender<u64>,
    /// Set when shutdown begins: every stream ends.
    shutdown: watch::Sender<bool>,
    open: AtomicUsize,
    by_client: Mutex<HashMap<IpAddr, usize>>,
}

/// Why a new stream was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Its client holds `per_client` streams already.
    Client,
    /// The server holds `total` streams already.
    Full,
}

/// One open stream's share of the counts, given back when dropped.
#[derive(Debug)]
pub struct Subscription {
    shared: Arc<Shared>,
    client: IpAddr,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.shared.open.fetch_sub(1, Ordering::SeqCst);
        let mut by_client = self
            .shared
            .by_client
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(n) = by_client.get_mut(&self.client) {
            *n -= 1;
            if *n == 0 {
                by_client.remove(&self.client);
            }
        }
    }
}

impl Events {
    /// The signal, with these bounds.
    pub fn new(limits: EventLimits) -> Events {
        Events {
            shared: Arc::new(Shared {
                limits,
                commits: watch::Sender::new(0),
                shutdown: watch::Sender::new(false),
                open: AtomicUsize::new(0),
                by_client: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// A change was committed: wakes every stream to compare what it watches.
    pub fn committed(&self) {
        self.shared.commits.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// A receiver that sees every commit (the webhook sender's wake-up).
    pub fn commits(&self) -> watch::Receiver<u64> {
        self.shared.commits.subscribe()
    }

    /// A receiver that sees shutdown begin.
    pub fn shutdown(&self) -> watch::Receiver<bool> {
        self.shared.shutdown.subscribe()
    }

    /// Shutdown begins: every stream ends.
    pub fn shut_down(&self) {
        self.shared.shutdown.send_replace(true);
    }

    /// How many streams are open.
    pub fn open(&self) -> usize {
        self.shared.open.load(Ordering::SeqCst)
    }

    /// A share of the counts for a new stream of `peer`, or why not.
    pub fn subscribe(&self, peer: IpAddr) -> Result<Subscription, Refused> {
        let client = client_of(peer);
        let limits = self.shared.limits;
        let mut by_client = self
            .shared
            .by_client
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let mine = by_client.get(&client).copied().unwrap_or(0);
        if mine >= limits.per_client {
            return Err(Refused::Client);
        }
        // Under the lock, so two new streams cannot both take the last place.
        if self.shared.open.load(Ordering::SeqCst) >= limits.total {
            return Err(Refused::Full);
        }
        self.shared.open.fetch_add(1, Ordering::SeqCst);
        by_client.insert(client, mine + 1);
        Ok(Subscription {
            shared: Arc::clone(&self.shared),
            client,
        })
    }

    /// The stream of `watched`'s states: the current one at once, then one per change.
    /// `state` reads the current state from the store: `None` when the thing is gone, which
    /// ends the stream after a `gone` event.
    pub fn stream(
        &self,
        subscription: Subscription,
        store: Arc<Store>,
        state: fn(&Store, &str) -> Option<State>,
        watched: String,
    ) -> Body {
        let stream = Stream {
            subscription,
            store,
            state,
            watched,
            commits: self.shared.commits.subscribe(),
            shutdown: self.shared.shutdown.subscribe(),
            heartbeat: self.shared.limits.heartbeat,
            last: None,
            ended: false,
        };
        Body::stream(futures_util::stream::unfold(stream, Stream::next))
    }
}

/// What a stream reports: the thing's version and the entity tag a write compares with
/// `If-Match`, as the event's `data` (JSON) and `id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct State {
    /// The event's `id`: the version, which `Last-Event-ID` sends back.
    pub id: u64,
    /// The event's data, one line of JSON.
    pub data: String,
}

/// What woke a waiting stream.
enum Woke {
    /// A commit (`false`: the signal is gone, so the server is).
    Commit(bool),
    Heartbeat,
    Shutdown,
}

struct Stream {
    /// Held for as long as the stream lives.
    #[allow(dead_code)]
    subscription: Subscription,
    store: Arc<Store>,
    state: fn(&Store, &str) -> Option<State>,
    watched: String,
    commits: watch::Receiver<u64>,
    shutdown: watch::Receiver<bool>,
    heartbeat: Duration,
    /// The last state sent.
    last: Option<State>,
    ended: bool,
}

impl Stream {
    /// The next chunk: an event, a heartbeat, or the end.
    async fn next(mut self) -> Option<(Bytes, Stream)> {
        if self.ended || *self.shutdown.borrow() {
            return None;
        }
        if self.last.is_none() {
            // The first chunk: how long a browser waits before reconnecting, and the state now.
            self.commits.mark_unchanged();
            let chunk = match self.poll_state() {
                Some(event) => format!("retry: 2000\n{event}"),
                None => self.gone(),
            };
            return Some((Bytes::from(chunk), self));
        }
        loop {
            let woke = tokio::select! {
                changed = self.commits.changed() => Woke::Commit(changed.is_ok()),
                () = tokio::time::sleep(self.heartbeat) => Woke::Heartbeat,
                _ = self.shutdown.wait_for(|down| *down) => Woke::Shutdown,
            };
            match woke {
                Woke::Commit(false) | Woke::Shutdown => return None,
                Woke::Heartbeat => return Some((Bytes::from_static(b": heartbeat\n\n"), self)),
                Woke::Commit(true) => match (self.state)(&self.store, &self.watched) {
                    None => {
                        let gone = self.gone();
                        return Some((Bytes::from(gone), self));
                    }
                    Some(state) if Some(&state) != self.last.as_ref() => {
                        let event = event(&state);
                        self.last = Some(state);
                        return Some((Bytes::from(event), self));
                    }
                    Some(_) => {}
                },
            }
        }
    }

    /// The current state as an event, remembered as sent; `None` when the thing is gone.
    fn poll_state(&mut self) -> Option<String> {
        let state = (self.state)(&self.store, &self.watched)?;
        let event = event(&state);
        self.last = Some(state);
        Some(event)
    }

    /// The last event of a stream whose calendar or group was deleted.
    fn gone(&mut self) -> String {
        self.ended = true;
        "event: gone\ndata: {}\n\n".to_owned()
    }
}

fn event(state: &State) -> String {
    format!("id: {}\nevent: version\ndata: {}\n\n", state.id, state.data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscribers_are_bounded_per_client_and_in_total() {
        let events = Events::new(EventLimits {
            per_client: 2,
            total: 3,
            heartbeat: Duration::from_secs(1),
        });
        let a: IpAddr = "10.0.0.1".parse().expect("an address");
        let b: IpAddr = "10.0.0.2".parse().expect("an address");
        let first = events.subscribe(a).expect("one");
        let _second = events.subscribe(a).expect("two");
        assert_eq!(events.subscribe(a).err(), Some(Refused::Client));
        let _third = events.subscribe(b).expect("another client");
        assert_eq!(events.subscribe(b).err(), Some(Refused::Full));
        assert_eq!(events.open(), 3);
        drop(first);
        assert_eq!(events.open(), 2);
        let _again = events.subscribe(a).expect("a place given back");
    }
}
