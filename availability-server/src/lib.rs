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
//! - `server`: the accept loop, TLS, HTTP/1.1 and HTTP/2, graceful shutdown.
//! - `tls`: the rustls configuration and the self-signed first-run certificate.
//! - `app`: the state shared by all requests.
//! - `routes`: the route table; one file per resource below it.
//! - `state`: the seam to the core: the store and the time-zone engine, as traits.
//! - `backend`: those traits over `availability_core::store` and `availability_core::tz`.
//! - `auth`: keys: generation, bcrypt hashing and checking.
//! - `render`: the JSON, intervals and CSV writers.
//! - `cache`: rendered bodies and their compressed forms, bounded.
//! - `problem`: errors as `application/problem+json`.
//! - `query`: strict query-string parsing.
//! - `metrics`: counters in the Prometheus text format.

pub mod app;
pub mod auth;
pub mod backend;
pub mod cache;
pub mod config;
pub mod metrics;
pub mod problem;
pub mod query;
pub mod render;
pub mod routes;
pub mod server;
pub mod startup;
pub mod state;
pub mod tls;
