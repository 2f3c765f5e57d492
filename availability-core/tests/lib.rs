//! Integration tests of `availability-core`, built as one test binary.

mod store;
mod store_faults;
mod week;
