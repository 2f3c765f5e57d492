//! Counters for `/metrics`, in the Prometheus text format.
//!
//! Hand-written rather than a metrics crate: the set is small and fixed, counters are plain
//! atomics on the hot path, and the one labelled family (requests by route and status) sits
//! behind a mutex held for a single map update.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::Duration;

use rustc_hash::FxHashMap;

/// Upper bounds of the latency histogram, in seconds.
const BUCKETS: [f64; 12] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2.5,
];

/// The server's counters.
#[derive(Debug, Default)]
pub struct Metrics {
    /// By route and status; hashed (FxHash: a few multiplies for a short name) rather than
    /// ordered, since every request updates it and only the exposition reads it in order.
    requests: Mutex<FxHashMap<(&'static str, u16), u64>>,
    /// Requests by the first bucket whose bound their latency is within (not cumulative:
    /// one increment per request; the exposition sums them).
    latency_buckets: [AtomicU64; BUCKETS.len()],
    latency_count: AtomicU64,
    latency_sum_micros: AtomicU64,
    /// Reads served from the render cache.
    pub cache_hits: AtomicU64,
    /// Reads that rendered a body.
    pub cache_misses: AtomicU64,
    /// Changes committed to the store.
    pub commits: AtomicU64,
    /// Changes refused because the disk holding the store is full (507).
    pub storage_full: AtomicU64,
    /// Requests refused for a missing or wrong key (401) or a key of another calendar (403).
    pub auth_rejections: AtomicU64,
    /// Requests refused by a rate limit (429).
    pub rate_limited: AtomicU64,
    /// TLS handshakes or connections that failed.
    pub connection_errors: AtomicU64,
    /// Connections closed on accept because a connection limit was reached (all slots taken
    /// by connections that have been served, or the client's share).
    pub connections_refused: AtomicU64,
    /// Connections that had sent no request yet, closed to make room for a new one.
    pub connections_shed: AtomicU64,
    /// Connections closed for idling (no first request in time, or idle keep-alive).
    pub idle_closed: AtomicU64,
    /// Panics caught in handlers, connection tasks and blocking work: each one a bug.
    pub panics: AtomicU64,
    /// Requests being answered right now.
    in_flight: AtomicU64,
}

/// A request in flight, counted until dropped: also when the request is cancelled while it
/// waits (an HTTP/2 reset, a client that leaves), which drops it without an answer.
#[derive(Debug)]
#[must_use = "the request counts as in flight only while this lives"]
pub struct InFlight<'a>(&'a AtomicU64);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Relaxed);
    }
}

impl Metrics {
    /// Counts a request as in flight until the guard is dropped; [`Metrics::observe`] records
    /// its answer.
    pub fn start(&self) -> InFlight<'_> {
        self.in_flight.fetch_add(1, Relaxed);
        InFlight(&self.in_flight)
    }

    /// Requests being answered right now.
    pub fn in_flight(&self) -> u64 {
        self.in_flight.load(Relaxed)
    }

    /// Records one answered request.
    pub fn observe(&self, route: &'static str, status: u16, elapsed: Duration) {
        {
            let mut requests = self.requests.lock().unwrap_or_else(|e| e.into_inner());
            *requests.entry((route, status)).or_insert(0) += 1;
        }
        let seconds = elapsed.as_secs_f64();
        if let Some(bucket) = BUCKETS
            .iter()
            .zip(&self.latency_buckets)
            .find_map(|(bound, bucket)| (seconds <= *bound).then_some(bucket))
        {
            bucket.fetch_add(1, Relaxed);
        }
        self.latency_count.fetch_add(1, Relaxed);
        self.latency_sum_micros.fetch_add(
            u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
            Relaxed,
        );
    }

    /// The text exposition, with the number and bytes of cached bodies as gauges.
    pub fn render(&self, cached_bodies: usize, cached_bytes: usize) -> String {
        let mut out = String::with_capacity(4096);
        out.push_str(
            "# HELP availability_requests_total Requests answered, by route and status.\n",
        );
        out.push_str("# TYPE availability_requests_total counter\n");
        {
            let mut requests: Vec<_> = self
                .requests
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .map(|(key, n)| (*key, *n))
                .collect();
            requests.sort_unstable();
            for ((route, status), n) in requests {
                let _ = writeln!(
                    out,
                    "availability_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}"
                );
            }
        }
        out.push_str(
            "# HELP availability_request_duration_seconds Time from request head to response.\n",
        );
        out.push_str("# TYPE availability_request_duration_seconds histogram\n");
        let mut within = 0;
        for (bound, bucket) in BUCKETS.iter().zip(&self.latency_buckets) {
            within += bucket.load(Relaxed);
            let _ = writeln!(
                out,
                "availability_request_duration_seconds_bucket{{le=\"{bound}\"}} {within}"
            );
        }
        let count = self.latency_count.load(Relaxed);
        let _ = writeln!(
            out,
            "availability_request_duration_seconds_bucket{{le=\"+Inf\"}} {count}"
        );
        let _ = writeln!(
            out,
            "availability_request_duration_seconds_sum {}",
            self.latency_sum_micros.load(Relaxed) as f64 / 1e6
        );
        let _ = writeln!(out, "availability_request_duration_seconds_count {count}");
        let counters = [
            (
                "availability_cache_hits_total",
                "Reads served from the render cache.",
                &self.cache_hits,
            ),
            (
                "availability_cache_misses_total",
                "Reads that rendered their body.",
                &self.cache_misses,
            ),
            (
                "availability_commits_total",
                "Changes committed to the store.",
                &self.commits,
            ),
            (
                "availability_storage_full_total",
                "Changes refused with 507 because the disk holding the store is full.",
                &self.storage_full,
            ),
            (
                "availability_auth_rejections_total",
                "Requests refused with 401 or 403.",
                &self.auth_rejections,
            ),
            (
                "availability_rate_limited_total",
                "Requests refused with 429.",
                &self.rate_limited,
            ),
            (
                "availability_connection_errors_total",
                "Connections that failed (TLS or protocol).",
                &self.connection_errors,
            ),
            (
                "availability_connections_refused_total",
                "Connections closed on accept at the connection limit or the client's share.",
                &self.connections_refused,
            ),
            (
                "availability_connections_shed_total",
                "Connections that had sent no request, closed to make room for a new one.",
                &self.connections_shed,
            ),
            (
                "availability_idle_connections_closed_total",
                "Connections closed for idling.",
                &self.idle_closed,
            ),
            (
                "availability_panics_total",
                "Panics caught (in handlers, connection tasks or blocking work); each is a bug.",
                &self.panics,
            ),
        ];
        for (name, help, value) in counters {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                value.load(Relaxed)
            );
        }
        let _ = writeln!(
            out,
            "# HELP availability_requests_in_flight Requests being answered.\n\
             # TYPE availability_requests_in_flight gauge\navailability_requests_in_flight {}",
            self.in_flight()
        );
        let _ = writeln!(
            out,
            "# HELP availability_cached_bodies Rendered bodies in the cache.\n\
             # TYPE availability_cached_bodies gauge\navailability_cached_bodies {cached_bodies}"
        );
        let _ = writeln!(
            out,
            "# HELP availability_cached_bytes Bytes of rendered bodies in the cache, compressed \
             forms included.\n\
             # TYPE availability_cached_bytes gauge\navailability_cached_bytes {cached_bytes}"
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_histogram() {
        let m = Metrics::default();
        let first = m.start();
        let second = m.start();
        assert_eq!(m.in_flight(), 2);
        m.observe("availability", 200, Duration::from_micros(300));
        m.observe("availability", 200, Duration::from_secs(3));
        drop((first, second));
        assert_eq!(m.in_flight(), 0);
        m.cache_hits.fetch_add(2, Relaxed);
        let text = m.render(5, 1234);
        assert!(text.contains("availability_requests_in_flight 0"));
        assert!(text.contains("availability_panics_total 0"));
        assert!(
            text.contains("availability_requests_total{route=\"availability\",status=\"200\"} 2")
        );
        // Cumulative: 0 below 300 µs, then 1 up to the last finite bound, 2 at +Inf.
        assert!(text.contains("availability_request_duration_seconds_bucket{le=\"0.00025\"} 0"));
        assert!(text.contains("availability_request_duration_seconds_bucket{le=\"0.0005\"} 1"));
        assert!(text.contains("availability_request_duration_seconds_bucket{le=\"2.5\"} 1"));
        assert!(text.contains("availability_request_duration_seconds_bucket{le=\"+Inf\"} 2"));
        assert!(text.contains("availability_cache_hits_total 2"));
        assert!(text.contains("availability_cached_bodies 5"));
        assert!(text.contains("availability_cached_bytes 1234"));
    }
}
