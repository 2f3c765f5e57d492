//! The recurring pattern as an RFC 7953 `VAVAILABILITY`, and such a document read back.
//!
//! - `export`: the pattern written out, with a `VTIMEZONE` of the owner's zone.
//! - `import`: a document read back into a week.
//! - `batch`: a week as the batch that replaces a stored week with it.
//! - `common`: what both directions share: the maybe component's name, the `BYDAY` codes.

mod batch;
mod common;
mod export;
mod import;

pub use batch::batch_of;
pub use common::MAYBE_COMPONENT;
pub use export::export;
pub use import::{import, MAX_RULES, MAX_ZONES};
