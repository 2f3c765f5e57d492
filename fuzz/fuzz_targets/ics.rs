//! The `ics` fuzz target. Its checks live in `targets/ics.rs`, which the test suite also runs
//! over the committed corpus on stable Rust.
#![no_main]

#[path = "../targets/ics.rs"]
mod target;

libfuzzer_sys::fuzz_target!(|data: &[u8]| target::run(data));
