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

    /// The text exposition: the server's own counters, and `outside`, the figures other parts
    /// of the server keep beside what they count.
    pub fn render(&self, outside: &Outside<'_>) -> String {
        let mut out = Exposition::default();
        out.family(
            "availability_requests_total",
            "counter",
            "Requests answered, by route and status.",
        );
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
                out.sample(
                    "availability_requests_total",
                    &[("route", route), ("status", &status.to_string())],
                    n,
                );
            }
        }
        let name = "availability_request_duration_seconds";
        out.family(name, "histogram", "Time from request head to response.");
        let mut within = 0;
        for (bound, bucket) in BUCKETS.iter().zip(&self.latency_buckets) {
            within += bucket.load(Relaxed);
            out.sample(
                "availability_request_duration_seconds_bucket",
                &[("le", &bound.to_string())],
                within,
            );
        }
        let count = self.latency_count.load(Relaxed);
        out.sample(
            "availability_request_duration_seconds_bucket",
            &[("le", "+Inf")],
            count,
        );
        out.sample(
            "availability_request_duration_seconds_sum",
            &[],
            self.latency_sum_micros.load(Relaxed) as f64 / 1e6,
        );
        out.sample("availability_request_duration_seconds_count", &[], count);
        let counters = [
            (
                "availability_cache_hits_total",
                "Reads served from the render cache.",
                self.cache_hits.load(Relaxed),
            ),
            (
                "availability_cache_misses_total",
                "Reads that rendered their body.",
                self.cache_misses.load(Relaxed),
            ),
            (
                "availability_commits_total",
                "Changes committed to the store.",
                self.commits.load(Relaxed),
            ),
            (
                "availability_storage_full_total",
                "Changes refused with 507 because the disk holding the store is full.",
                self.storage_full.load(Relaxed),
            ),
            (
                "availability_auth_rejections_total",
                "Requests refused with 401 or 403.",
                self.auth_rejections.load(Relaxed),
            ),
            (
                "availability_rate_limited_total",
                "Requests refused with 429.",
                self.rate_limited.load(Relaxed),
            ),
            (
                "availability_connection_errors_total",
                "Connections that failed (TLS or protocol).",
                self.connection_errors.load(Relaxed),
            ),
            (
                "availability_connections_refused_total",
                "Connections closed on accept at the connection limit or the client's share.",
                self.connections_refused.load(Relaxed),
            ),
            (
                "availability_connections_shed_total",
                "Connections that had sent no request, closed to make room for a new one.",
                self.connections_shed.load(Relaxed),
            ),
            (
                "availability_idle_connections_closed_total",
                "Connections closed for idling.",
                self.idle_closed.load(Relaxed),
            ),
            (
                "availability_panics_total",
                "Panics caught (in handlers, connection tasks or blocking work); each is a bug.",
                self.panics.load(Relaxed),
            ),
            (
                "availability_bcrypt_verifications_total",
                "Key checks that ran bcrypt.",
                outside.bcrypt_runs,
            ),
        ];
        for (name, help, value) in counters {
            out.family(name, "counter", help);
            out.sample(name, &[], value);
        }
        let gauges = [
            (
                "availability_requests_in_flight",
                "Requests being answered.",
                self.in_flight(),
            ),
            (
                "availability_cached_bodies",
                "Rendered bodies in the cache.",
                outside.cached_bodies as u64,
            ),
            (
                "availability_cached_bytes",
                "Bytes of rendered bodies in the cache, compressed forms included.",
                outside.cached_bytes as u64,
            ),
            (
                "availability_event_streams_open",
                "Event streams (/events) open now.",
                outside.event_streams as u64,
            ),
        ];
        for (name, help, value) in gauges {
            out.family(name, "gauge", help);
            out.sample(name, &[], value);
        }
        let name = "availability_rate_limit_clients";
        out.family(name, "gauge", "Clients (or keys) each limiter remembers.");
        for (limit, clients, _) in outside.limiters {
            out.sample(name, &[("limit", limit)], clients);
        }
        let name = "availability_rate_limit_evictions_total";
        out.family(
            name,
            "counter",
            "Clients a full limiter forgot before their budget was full again.",
        );
        for (limit, _, evicted) in outside.limiters {
            out.sample(name, &[("limit", limit)], evicted);
        }
        let name = "availability_webhook_attempts_total";
        out.family(
            name,
            "counter",
            "Attempts to deliver webhook events, by outcome (delivered: a 2xx).",
        );
        out.sample(
            name,
            &[("outcome", "delivered")],
            outside.webhooks.delivered,
        );
        out.sample(name, &[("outcome", "failed")], outside.webhooks.failed);
        for (name, help, value) in [
            (
                "availability_webhook_deliveries_waiting",
                "Webhook deliveries waiting (one per event and endpoint).",
                outside.webhooks.waiting,
            ),
            (
                "availability_webhook_retries_waiting",
                "Waiting webhook deliveries that failed before.",
                outside.webhooks.retrying,
            ),
        ] {
            out.family(name, "gauge", help);
            out.sample(name, &[], value);
        }
        let name = "availability_webhook_oldest_waiting_seconds";
        out.family(
            name,
            "gauge",
            "Age of the oldest webhook event not yet delivered everywhere.",
        );
        out.sample(name, &[], outside.webhooks.oldest_seconds);
        let name = "availability_tzdata_info";
        out.family(
            name,
            "gauge",
            "The release of the IANA time-zone database in use.",
        );
        out.sample(name, &[("version", outside.tzdata)], 1);
        out.text
    }
}

/// The figures `/metrics` shows that other parts of the server keep, beside what they count.
#[derive(Debug, Default)]
pub struct Outside<'a> {
    /// Rendered bodies in the cache.
    pub cached_bodies: usize,
    /// Their bytes, compressed forms included.
    pub cached_bytes: usize,
    /// Event streams open now.
    pub event_streams: usize,
    /// Key checks that ran bcrypt.
    pub bcrypt_runs: u64,
    /// Per rate limiter: its name, the payers it remembers, and how many it forgot early.
    pub limiters: &'a [(&'a str, usize, u64)],
    /// The release of the time-zone database in use.
    pub tzdata: &'a str,
    /// The webhook sender's counts.
    pub webhooks: WebhookCounts,
}

/// What the webhook sender did and what waits for it.
#[derive(Debug, Clone, Copy, Default)]
pub struct WebhookCounts {
    /// Attempts a receiver took.
    pub delivered: u64,
    /// Attempts that failed.
    pub failed: u64,
    /// Deliveries waiting (an event for an endpoint).
    pub waiting: u64,
    /// Of those, deliveries that failed before and wait to be tried again.
    pub retrying: u64,
    /// Seconds since the oldest waiting event was recorded (0 when none waits).
    pub oldest_seconds: f64,
}

/// The Prometheus text format (version 0.0.4), the one writer of it: families with their help
/// and type, samples with label values escaped.
#[derive(Debug, Default)]
struct Exposition {
    text: String,
}

impl Exposition {
    /// `# HELP` and `# TYPE` of a family.
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.text, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }

    /// One sample: `name{label="value",...} value`.
    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl std::fmt::Display) {
        self.text.push_str(name);
        for (i, (label, text)) in labels.iter().enumerate() {
            self.text.push(if i == 0 { '{' } else { ',' });
            self.text.push_str(label);
            self.text.push_str("=\"");
            for c in text.chars() {
                match c {
                    '\\' => self.text.push_str("\\\\"),
                    '"' => self.text.push_str("\\\""),
                    '\n' => self.text.push_str("\\n"),
                    c => self.text.push(c),
                }
            }
            self.text.push('"');
        }
        if !labels.is_empty() {
            self.text.push('}');
        }
        let _ = writeln!(self.text, " {value}");
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
        let limiters = [("read", 3, 1)];
        let text = m.render(&Outside {
            cached_bodies: 5,
            cached_bytes: 1234,
            event_streams: 3,
            bcrypt_runs: 7,
            limiters: &limiters,
            tzdata: "2026f",
            webhooks: WebhookCounts {
                delivered: 4,
                failed: 2,
                waiting: 3,
                retrying: 1,
                oldest_seconds: 12.5,
            },
        });
        assert!(text.contains("availability_webhook_attempts_total{outcome=\"failed\"} 2"));
        assert!(text.contains("availability_webhook_oldest_waiting_seconds 12.5"));
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
        assert!(text.contains("availability_event_streams_open 3"));
        assert!(text.contains("availability_bcrypt_verifications_total 7"));
        assert!(text.contains("availability_rate_limit_clients{limit=\"read\"} 3"));
        assert!(text.contains("availability_rate_limit_evictions_total{limit=\"read\"} 1"));
        assert!(text.contains("availability_tzdata_info{version=\"2026f\"} 1"));
        // Every family is announced once, before its samples.
        let families: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("# TYPE "))
            .collect();
        let mut unique = families.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(families.len(), unique.len());
    }

    #[test]
    fn label_values_are_escaped() {
        let mut out = Exposition::default();
        out.sample("x", &[("version", "a\"b\\c\nd")], 1);
        assert_eq!(out.text, "x{version=\"a\\\"b\\\\c\\nd\"} 1\n");
    }
}
