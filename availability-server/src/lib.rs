//! `availability-server`: a thin HTTPS shell over `availability-core`.
//!
//! hyper 1 and hyper-util serve HTTP/1.1 and HTTP/2 (chosen by ALPN) on tokio-rustls; the
//! routing is one table, written by hand. Reads render a body once per calendar version,
//! viewer zone, week and format and serve it from a cache afterwards; writes check a bcrypt
//! key and commit to the store. The repository's `docs/design.md` follows a read and a write
//! through these modules and says how to add a route.
//!
//! # Layout
//!
//! - `config`: settings from defaults, a TOML file, `AVAILABILITY_*` variables and flags;
//!   the flags and commands themselves in `config/cli.rs`.
//! - `admin_keys`: the `admin-keys` command: the stored admin keys, managed offline (the store
//!   file) or beside the running servers (a database).
//! - `migrate`: the `migrate` command: the calendars moved from the store file to a database
//!   and back, each copy checked.
//! - `startup`: from a configuration to a ready server (certificate, `default`, admin key).
//! - `server`: the accept loop, generic over a `Handler`: TLS, HTTP/1.1 and HTTP/2,
//!   connection limits and timeouts, graceful shutdown, and the panic guard.
//! - `tls`: the rustls configuration and the self-signed first-run certificate.
//! - `app`: the state shared by all requests, and the steps handlers share (find the
//!   calendar, check the key, commit).
//! - `events`: live updates: the commit signal and the event streams, bounded.
//! - `ctx`: what a handler is given (`Ctx`) and the shapes of handler the table holds.
//! - `routes`: the route table and `handle`; the request pipeline around every handler; one
//!   file per resource below it, each importing only `ctx`, `app`, `wire` and the core. The crate's
//!   `openapi.json`, served at `/openapi.json`, documents the table, and tests keep the two
//!   equal.
//! - `wire`: bodies under a cap, entity tags and preconditions, content codings, the shapes
//!   of answers, and problems (`application/problem+json`), with the HTTP answer to each
//!   refusal of the core; strict query strings; who the client is, through trusted proxies.
//! - `store`: the core's store, opened in the data directory.
//! - `auth`: keys: bcrypt checking off the async workers, the memo (`auth/mod.rs`); the key
//!   format: generation, checksums, key ids (`auth/key.rs`); principals and needs
//!   (`auth/principal.rs`).
//! - `limit`: per-client rate limits (reads, writes, key checks).
//! - `render`: the JSON, intervals and CSV writers.
//! - `ics`: iCalendar: the week as a `VFREEBUSY`, the pattern as a `VAVAILABILITY`, and
//!   that pattern read back (`ics/pattern/export.rs` and `ics/pattern/import.rs`, apart).
//! - `page`: the week as a page for people (HTML, its script and style), the start page;
//!   where now and the week's clock changes fall in it (`page/now.rs`).
//! - `cache`: rendered bodies and their compressed forms, bounded: the keys and their hashes
//!   (`cache/key.rs`), a body and its compressed forms (`cache/rendered.rs`), the bounded map
//!   with its eviction and its index by calendar (`cache/map.rs`).
//! - `metrics`: counters in the Prometheus text format.
//! - `tzdata`: which release of the time-zone database is used (bundled, or a zoneinfo
//!   directory), chosen once at startup.
// The server is a program, not a library for others: its documentation is read with its
// private items (`cargo doc --document-private-items`), where links to them resolve.
#![allow(rustdoc::private_intra_doc_links)]

pub mod admin_keys;
pub mod app;
pub mod auth;
pub mod backup;
pub mod cache;
pub mod config;
mod ctx;
pub mod events;
pub mod ics;
pub mod idempotency;
pub mod limit;
pub mod memory;
pub mod metrics;
pub mod migrate;
pub mod page;
pub mod render;
pub mod routes;
pub mod server;
pub mod starting;
pub mod startup;
pub mod store;
pub mod tls;
pub mod tzdata;
pub mod webhooks;
pub mod wire;

// The workspace README's examples, compiled and run as doctests so that they stay true. They
// live here rather than in the core, whose package holds only its own files.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeExamples;
