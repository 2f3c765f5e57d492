//! The accept loop: TLS, HTTP/1.1 or HTTP/2 by ALPN, and graceful shutdown.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::convert::Infallible;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::panic::AssertUnwindSafe;
use std::sync::atomic::Ordering::{Relaxed, SeqCst};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::FutureExt;
use http::{Request, Response};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use rustls::ServerConfig;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;

use crate::metrics::Metrics;
use crate::wire::client::client_of;
use crate::wire::{Body, Problem};

/// Connection timeouts and limits: what a client may hold of the server before it is
/// dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Connections {
    /// Time for the TLS handshake.
    pub handshake_timeout: Duration,
    /// Time for a request head (HTTP/1.1, enforced by hyper), and for the first request of
    /// a connection on either protocol (so an HTTP/2 client that never sends its preface, or
    /// only pings, is dropped too).
    pub header_read_timeout: Duration,
    /// Time a connection may stay open with no request in flight since its last one ended.
    pub idle_timeout: Duration,
    /// Connections open at once. When all are taken, a new connection takes the place of
    /// the oldest one still in its handshake or waiting for its first request, or is closed
    /// as soon as it is accepted if there is none.
    pub max_connections: usize,
    /// Connections open at once from one client (an IPv4 address, or an IPv6 /64); one
    /// more from it is closed as soon as it is accepted.
    pub max_connections_per_client: usize,
    /// Header fields of an HTTP/1.1 request.
    pub max_headers: usize,
    /// Bytes of a request head: hyper's HTTP/1.1 read buffer, and the HTTP/2 header list.
    pub max_header_bytes: usize,
    /// Concurrent streams of an HTTP/2 connection.
    pub h2_max_streams: u32,
}

impl Default for Connections {
    fn default() -> Connections {
        Connections {
            handshake_timeout: Duration::from_secs(10),
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: 1024,
            max_connections_per_client: 64,
            max_headers: 64,
            max_header_bytes: 16 * 1024,
            h2_max_streams: 64,
        }
    }
}

/// What the idle watchdog of one connection knows: when it started, whether a request came,
/// how many are in flight and when the last one ended. Requests only touch these atomics; the
/// watchdog reads them when its timer fires, so a busy connection costs it one wake-up per
/// idle period, not one per request.
#[derive(Debug)]
struct Activity {
    start: Instant,
    /// Requests being answered on this connection.
    in_flight: AtomicUsize,
    /// Whether any request arrived.
    seen: AtomicBool,
    /// When the last request ended, in milliseconds after `start`.
    last_end_ms: AtomicU64,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            start: Instant::now(),
            in_flight: AtomicUsize::new(0),
            seen: AtomicBool::new(false),
            last_end_ms: AtomicU64::new(0),
        }
    }

    /// When the connection becomes closable, or `None` while a request is in flight.
    fn deadline(&self, c: &Connections) -> Option<Instant> {
        if self.in_flight.load(SeqCst) > 0 {
            return None;
        }
        if !self.seen.load(SeqCst) {
            return Some(self.start + c.header_read_timeout);
        }
        let last = Duration::from_millis(self.last_end_ms.load(SeqCst));
        Some(self.start + last + c.idle_timeout)
    }

    /// Waits until the connection has been idle past its deadline.
    ///
    /// The timer is always set for the earliest moment the connection could be closable: its
    /// deadline as things stand, or an idle timeout from now, since a request that starts
    /// meanwhile ends no earlier than now. When it fires, the deadline is read again. While a
    /// request is in flight the next look is an idle timeout later, so a connection whose
    /// last request took long is closed at most that request's duration after its deadline.
    async fn idle(&self, c: &Connections) {
        let timer =
            tokio::time::sleep_until(self.start + c.header_read_timeout.min(c.idle_timeout));
        tokio::pin!(timer);
        loop {
            (&mut timer).await;
            let now = Instant::now();
            match self.deadline(c) {
                Some(deadline) if deadline <= now => return,
                Some(deadline) => timer.as_mut().reset(deadline.min(now + c.idle_timeout)),
                None => timer.as_mut().reset(now + c.idle_timeout),
            }
        }
    }
}

/// Marks a request in flight on its connection until dropped (even when hyper drops the
/// handler's future early).
struct InFlight(Arc<Activity>);

impl InFlight {
    /// Marks a request in flight; also says whether it is the connection's first.
    fn new(activity: &Arc<Activity>) -> (InFlight, bool) {
        let first = !activity.seen.swap(true, SeqCst);
        activity.in_flight.fetch_add(1, SeqCst);
        (InFlight(Arc::clone(activity)), first)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let since = u64::try_from(self.0.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.0.last_end_ms.fetch_max(since, SeqCst);
        self.0.in_flight.fetch_sub(1, SeqCst);
    }
}

/// The connection slots: how many are taken, by which clients, and which connections may be
/// shed to make room.
///
/// A connection is *unsettled* from its accept until its first request: in its TLS handshake,
/// or waiting for its first request. Settled connections are never shed; an unsettled one
/// gives up its slot, oldest first, when a new connection finds every slot taken. Connections
/// that never speak (they only cost an attacker a TCP handshake) thus cannot lock anyone
/// out, and a client that has been served keeps its connection.
#[derive(Debug)]
struct Slots {
    max: usize,
    per_client: usize,
    state: Mutex<SlotState>,
}

#[derive(Debug, Default)]
struct SlotState {
    /// Slots taken (shed connections no longer count, though their tasks may still be ending).
    taken: usize,
    /// Connections open, by client.
    by_client: HashMap<IpAddr, usize>,
    /// Unsettled connections, oldest first, with the sender that sheds each one.
    unsettled: BTreeMap<u64, oneshot::Sender<()>>,
    /// Connections shed whose task has not ended yet.
    shed: HashSet<u64>,
    next: u64,
    /// The slots taken over time: when many have been given back, so is their memory.
    ebb: crate::memory::Ebb,
}

/// Why a new connection is closed at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refused {
    /// Its client already holds `max_connections_per_client`.
    Client,
    /// Every slot is taken by a settled connection.
    Full,
}

/// One connection's slot, given back when dropped.
#[derive(Debug)]
struct Slot {
    slots: Arc<Slots>,
    id: u64,
    client: IpAddr,
}

impl Slots {
    fn new(limits: &Connections) -> Slots {
        Slots {
            max: limits.max_connections.max(1),
            per_client: limits.max_connections_per_client.max(1),
            state: Mutex::new(SlotState::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SlotState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A slot for a new connection from `peer`, shedding the oldest unsettled connection if
    /// every slot is taken; with it, the receiver that says when this one is shed in turn.
    /// Returns as well whether another connection was shed for it.
    fn admit(
        self: &Arc<Slots>,
        peer: IpAddr,
    ) -> Result<(Slot, oneshot::Receiver<()>, bool), Refused> {
        let client = client_of(peer);
        let mut state = self.lock();
        if state.by_client.get(&client).copied().unwrap_or(0) >= self.per_client {
            return Err(Refused::Client);
        }
        let mut shed = false;
        if state.taken >= self.max {
            let Some((victim, sender)) = state.unsettled.pop_first() else {
                return Err(Refused::Full);
            };
            state.shed.insert(victim);
            state.taken -= 1;
            // The victim's task may have ended meanwhile; then nothing is listening.
            let _ = sender.send(());
            shed = true;
        }
        let (sender, receiver) = oneshot::channel();
        let id = state.next;
        state.next += 1;
        state.taken += 1;
        let taken = state.taken;
        state.ebb.rose(taken);
        *state.by_client.entry(client).or_insert(0) += 1;
        state.unsettled.insert(id, sender);
        let slot = Slot {
            slots: Arc::clone(self),
            id,
            client,
        };
        Ok((slot, receiver, shed))
    }
}

impl Slot {
    /// The connection's first request arrived: it is no longer shed for a new one.
    fn settle(&self) {
        let sender = self.slots.lock().unsettled.remove(&self.id);
        // Dropping the sender tells the connection it will not be shed.
        drop(sender);
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut state = self.slots.lock();
        state.unsettled.remove(&self.id);
        if !state.shed.remove(&self.id) {
            state.taken -= 1;
        }
        if let Some(n) = state.by_client.get_mut(&self.client) {
            *n -= 1;
            if *n == 0 {
                state.by_client.remove(&self.client);
            }
        }
        let taken = state.taken;
        let give_back = state.ebb.fell(taken);
        drop(state);
        if give_back {
            crate::memory::give_back_soon();
        }
    }
}

/// Waits until the connection is shed; never returns once it has settled.
async fn shed(receiver: oneshot::Receiver<()>) {
    if receiver.await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// What the accept loop serves: an answer to every request, and counters for what happens
/// to connections. The API implements it (`routes`); so does the load benchmark's floor,
/// which thereby runs on exactly this connection stack.
pub trait Handler: Send + Sync + 'static {
    /// Answers one request from `peer`. A panic here is caught, counted and answered 500.
    fn handle(
        &self,
        peer: IpAddr,
        request: Request<Incoming>,
    ) -> impl Future<Output = Response<Body>> + Send;

    /// Where connection events and panics are counted.
    fn metrics(&self) -> &Metrics;

    /// Called once, when shutdown begins: requests that still arrive should be refused.
    fn begin_shutdown(&self) {}
}

/// The HTTP/1.1 and HTTP/2 connection builders, with every limit of `limits`.
fn builders(
    limits: &Connections,
) -> (
    Arc<auto::Builder<TokioExecutor>>,
    Arc<auto::Builder<TokioExecutor>>,
) {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // Without a timer, hyper silently ignores `header_read_timeout`.
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_headers(limits.max_headers)
        .max_buf_size(limits.max_header_bytes.max(8192));
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(limits.h2_max_streams)
        .max_header_list_size(u32::try_from(limits.max_header_bytes).unwrap_or(u32::MAX))
        // Bounds on streams a client opens and resets at once (the "rapid reset" attack),
        // and on streams this server resets for a misbehaving client, before the connection
        // is closed.
        .max_pending_accept_reset_streams(20)
        .max_local_error_reset_streams(1024);
    // The protocol is the one ALPN chose, not sniffed from the first bytes: sniffing reads
    // before hyper's header-read timer starts, so a silent client would never time out.
    let http1 = Arc::new(builder.clone().http1_only());
    let http2 = Arc::new(builder.http2_only());
    (http1, http2)
}

/// Serves `handler` on `listener` until `shutdown` completes, then stops accepting, lets
/// requests in flight finish for at most `grace`, and returns.
///
/// The caller binds the listener, so tests can bind port 0. Each accepted connection takes
/// a slot (see `Slots`: a client's share, and the shedding of connections that have sent
/// no request) or is closed at once. A connection that fails (TLS, protocol, a reset) is
/// logged and dropped; nothing a client does ends the loop. A panic in a connection's task
/// is caught and counted (`Metrics::panics`), never silent.
pub async fn run<H: Handler>(
    listener: TcpListener,
    tls: Arc<ServerConfig>,
    handler: Arc<H>,
    limits: Connections,
    shutdown: impl Future<Output = ()>,
    grace: Duration,
) {
    let graceful = accept(&listener, tls, &handler, limits, shutdown).await;
    drop(listener);
    handler.begin_shutdown();
    tracing::info!("shutting down: finishing requests in flight");
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            ?grace,
            "requests still in flight after the grace period; closing"
        );
    }
    // Nothing to flush: a write is acknowledged only once its page is on disk.
    tracing::info!("stopped; every acknowledged write is on disk");
}

/// Serves `handler` on `listener` as [`run`] does until `until` completes, then stops
/// accepting and returns, keeping the listener open for the caller to serve with something
/// else. The connections it accepted stay open, served by `handler` (which hands their later
/// requests on: [`crate::starting`]): closing them at the switch would drop a request whose
/// connection was accepted just before it and had not yet been read. Returns what drains them,
/// for the caller's own shutdown.
pub async fn serve_until<H: Handler>(
    listener: &TcpListener,
    tls: Arc<ServerConfig>,
    handler: Arc<H>,
    limits: Connections,
    until: impl Future<Output = ()>,
) -> GracefulShutdown {
    accept(listener, tls, &handler, limits, until).await
}

/// Drains connections `serve_until` accepted, for at most `grace`.
pub async fn drain(connections: GracefulShutdown, grace: Duration) {
    let _ = tokio::time::timeout(grace, connections.shutdown()).await;
}

/// The accept loop of [`run`] and [`serve_until`]: until `until` completes. Returns what
/// drains the connections it accepted.
async fn accept<H: Handler>(
    listener: &TcpListener,
    tls: Arc<ServerConfig>,
    handler: &Arc<H>,
    limits: Connections,
    until: impl Future<Output = ()>,
) -> GracefulShutdown {
    let acceptor = TlsAcceptor::from(tls);
    let (http1, http2) = builders(&limits);
    let slots = Arc::new(Slots::new(&limits));
    let graceful = GracefulShutdown::new();
    tokio::pin!(until);

    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(err) => {
                    // Usually out of file descriptors: wait a little instead of spinning.
                    tracing::warn!(%err, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut until => break,
        };
        // Over a connection limit: close at once. The client sees the connection end before
        // any TLS work is spent on it, and can retry.
        let (slot, shed_signal) = match slots.admit(peer.ip()) {
            Ok((slot, signal, shed)) => {
                if shed {
                    handler.metrics().connections_shed.fetch_add(1, Relaxed);
                }
                (slot, signal)
            }
            Err(refused) => {
                handler.metrics().connections_refused.fetch_add(1, Relaxed);
                tracing::debug!(%peer, ?refused, "connection limit reached; closing a new connection");
                drop(tcp);
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let connection = serve_connection(
            tcp,
            peer,
            acceptor.clone(),
            Arc::clone(handler),
            limits,
            (Arc::clone(&http1), Arc::clone(&http2)),
            (graceful.watcher(), Arc::new(slot)),
        );
        let counted = Arc::clone(handler);
        tokio::spawn(async move {
            // Ending the connection's future (also when it is shed) drops it, and with it the
            // last share of its slot.
            let connection = async move {
                tokio::select! {
                    () = connection => {}
                    () = shed(shed_signal) => {
                        tracing::debug!(%peer, "shedding a connection that sent no request for a new one");
                    }
                }
            };
            if AssertUnwindSafe(connection).catch_unwind().await.is_err() {
                counted.metrics().panics.fetch_add(1, Relaxed);
                tracing::error!(%peer, "a connection's task panicked; the connection is closed");
            }
        });
    }

    graceful
}

/// One connection: the TLS handshake, then HTTP on the protocol ALPN chose, until the client
/// leaves, the connection idles past its limits, or shutdown drains it. Its first request
/// settles its `slot`; `watcher` drains it at shutdown.
async fn serve_connection<H: Handler>(
    tcp: TcpStream,
    peer: SocketAddr,
    acceptor: TlsAcceptor,
    handler: Arc<H>,
    limits: Connections,
    (http1, http2): (
        Arc<auto::Builder<TokioExecutor>>,
        Arc<auto::Builder<TokioExecutor>>,
    ),
    (watcher, slot): (Watcher, Arc<Slot>),
) {
    let handshake = acceptor.accept(tcp);
    let tls = match tokio::time::timeout(limits.handshake_timeout, handshake).await {
        Ok(Ok(tls)) => tls,
        Ok(Err(err)) => {
            handler.metrics().connection_errors.fetch_add(1, Relaxed);
            tracing::debug!(%peer, %err, "TLS handshake failed");
            return;
        }
        Err(_) => {
            handler.metrics().connection_errors.fetch_add(1, Relaxed);
            tracing::debug!(%peer, "TLS handshake timed out");
            return;
        }
    };
    let activity = Arc::new(Activity::new());
    let watch = Arc::clone(&activity);
    let for_service = Arc::clone(&handler);
    let service = service_fn(move |request| {
        let handler = Arc::clone(&for_service);
        let (in_flight, first) = InFlight::new(&activity);
        if first {
            slot.settle();
        }
        async move {
            let mut answer = AssertUnwindSafe(handler.handle(peer.ip(), request))
                .catch_unwind()
                .await;
            match &mut answer {
                // A stream is in flight until it ends: the connection is not idle meanwhile.
                Ok(response) if response.body().is_stream() => {
                    response.body_mut().hold(Box::new(in_flight));
                }
                _ => drop(in_flight),
            }
            Ok::<_, Infallible>(answer.unwrap_or_else(|_| {
                handler.metrics().panics.fetch_add(1, Relaxed);
                Problem::internal("answering the request", "a handler panicked").into_response()
            }))
        }
    });
    let builder = if tls.get_ref().1.alpn_protocol() == Some(b"h2") {
        http2
    } else {
        http1
    };
    let connection = builder
        .serve_connection(TokioIo::new(tls), service)
        .into_owned();
    tokio::select! {
        ended = watcher.watch(connection) => {
            if let Err(err) = ended {
                tracing::debug!(%peer, %err, "connection ended with an error");
            }
        }
        // Dropping the connection closes it: nothing is in flight to lose.
        () = watch.idle(&limits) => {
            handler.metrics().idle_closed.fetch_add(1, Relaxed);
            tracing::debug!(%peer, "closing an idle connection");
        }
    }
}
