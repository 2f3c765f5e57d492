//! Integration tests of `availability-core`, built as one test binary.
#![allow(clippy::unwrap_used)]

mod dated;
mod oracles;
mod slots_oracle;
mod store;
mod store_backup;
mod store_copy;
mod store_crash;
#[cfg(feature = "test-backend")]
mod store_dated;
mod store_expect;
mod store_faults;
mod store_model;
#[cfg(feature = "test-backend")]
mod store_power;
mod tz;
mod tz_zoneinfo;
mod week;
