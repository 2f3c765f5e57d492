//! Integration tests of `availability-core`, built as one test binary.

mod store;
mod store_crash;
mod store_faults;
mod store_model;
mod week;
