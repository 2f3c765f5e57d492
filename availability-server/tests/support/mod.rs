//! The harness: a test certificate, a server on port 0 over a store in a temporary directory,
//! a TLS client that speaks HTTP/1.1 or HTTP/2, the real binary, and what a test does when a
//! tool it needs is missing.
//!
//! - `server`: the test certificate and a server in this process, over a fresh store;
//! - `client`: the TLS client, its requests and the answers it reads;
//! - `binary`: the real `availability-server` binary, its output captured.

#![allow(dead_code, unreachable_pub)]

mod binary;
mod client;
pub mod postgres;
mod server;

#[path = "../../../availability-core/tests/oracles.rs"]
mod oracles;

pub use binary::{binary, Binary};
pub use client::{client_config, full, Chunks, Client, ReqBody, Resp, JSON, VERSIONS};
pub(crate) use oracles::cannot_run;
pub use server::{database, on_postgres, open, test_certificate, test_config, TestServer};

/// Every file under `dir`, recursively.
pub fn files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files(&path));
        } else {
            out.push(path);
        }
    }
    out
}
