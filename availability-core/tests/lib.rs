//! Integration tests of `availability-core`, built as one test binary.
#![allow(clippy::unwrap_used)]

mod tz;
mod week;
