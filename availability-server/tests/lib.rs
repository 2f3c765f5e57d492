//! Integration tests: the real server on 127.0.0.1:0 over real TLS, HTTP/1.1 and HTTP/2.
//!
//! One test binary (the modules below), so the dependencies link once.

// Test code may panic on failure: that is how a test fails.
#![allow(clippy::unwrap_used)]

mod support;

mod admin;
mod api;
mod backup;
mod binary;
mod bookings;
mod browser;
mod dated;
mod deploy;
mod disk;
mod early_refusals;
mod errors;
mod freebusy;
mod fuzz_corpus;
mod group_bookings;
mod group_kill;
mod groups;
mod history;
mod hostile;
mod hygiene;
mod ics;
mod idempotent_keys;
mod in_flight;
mod keys;
mod lifecycle;
mod listing;
mod live;
mod migrate;
mod onboarding;
mod openapi;
mod pages;
mod postgres;
mod probes;
mod readme;
mod schemathesis;
mod slots;
mod webhooks;
