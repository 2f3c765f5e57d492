//! The `journal` fuzz target. Its checks live in `targets/journal.rs`, which the test suite also
//! runs over the committed corpus on stable Rust.
#![no_main]

#[path = "../targets/journal.rs"]
mod target;

libfuzzer_sys::fuzz_target!(|data: &[u8]| target::run(data));
