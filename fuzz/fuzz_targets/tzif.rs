//! The `tzif` fuzz target. Its checks live in `targets/tzif.rs`, which the test suite also
//! runs over the committed corpus on stable Rust.
#![no_main]

#[path = "../targets/tzif.rs"]
mod target;

libfuzzer_sys::fuzz_target!(|data: &[u8]| target::run(data));
