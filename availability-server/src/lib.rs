//! `availability-server`: a thin HTTPS shell over `availability-core`.
//!
//! hyper 1 and hyper-util serve HTTP/1.1 and HTTP/2 (chosen by ALPN) on tokio-rustls; the
//! routing is one `match`, written by hand. Reads render a body once per calendar version,
//! viewer zone, week and format and serve it from a cache afterwards; writes check a bcrypt
//! key and commit to the store.
//!
//! # Layout
//!
//! - `config`: settings from defaults, a TOML file, `AVAILABILITY_*` variables and flags.
//! - `startup`: from a configuration to a ready server (certificate, `default`, admin key).
//! - `server`: the accept loop, TLS, HTTP/1.1 and HTTP/2, connection limits and timeouts,
//!   graceful shutdown.
//! - `tls`: the rustls configuration and the self-signed first-run certificate.
//! - `app`: the state shared by all requests.
//! - `routes`: the route table; one file per resource below it.
//! - `store`: the core's store, opened in the data directory.
//! - `auth`: keys: generation, checksums, bcrypt checking off the async workers, the memo.
//! - `limit`: per-client rate limits (reads, writes, key checks) and the client address.
//! - `render`: the JSON, intervals and CSV writers.
//! - `cache`: rendered bodies and their compressed forms, bounded.
//! - `problem`: errors as `application/problem+json`.
//! - `query`: strict query-string parsing.
//! - `metrics`: counters in the Prometheus text format.
//! - `tzdata`: which release of the time-zone database is used (bundled, or a zoneinfo
//!   directory), chosen once at startup.

pub mod app;
pub mod auth;
pub mod cache;
pub mod config;
pub mod limit;
pub mod metrics;
pub mod query;
pub mod render;
pub mod routes;
pub mod server;
pub mod startup;
pub mod store;
pub mod tls;
pub mod tzdata;
pub mod wire;
