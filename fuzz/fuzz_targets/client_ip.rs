//! The `client_ip` fuzz target. Its checks live in `targets/client_ip.rs`, which the test
//! suite also runs over the committed corpus on stable Rust.
#![no_main]

#[path = "../targets/client_ip.rs"]
mod target;

libfuzzer_sys::fuzz_target!(|data: &[u8]| target::run(data));
