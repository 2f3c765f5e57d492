//! Integration tests of `availability-core`, built as one test binary.

mod tz;
mod week;
