//! Recurring weekly availability, stored as two 336-bit planes.
//!
//! A week has 7 days x 48 half hours = 336 slots, and every slot is [`Status::Unavailable`],
//! [`Status::Maybe`] or [`Status::Available`], written in the owner's wall-clock time. A
//! [`Week`] holds that as two bit planes: `open` (maybe or available) and `firm` (available),
//! with the invariant `firm ⊆ open`. With this encoding the minimum of two statuses is a
//! bitwise AND of both planes and the maximum an OR, so "everyone is free" across many weeks
//! is a handful of word operations ([`Week::min`], [`Week::min_of`]).
//!
//! ```
//! use availability_core::{Batch, Day, Entry, Status, Week};
//!
//! // Monday to Friday, 09:00-17:00 available, with a maybe lunch hour.
//! let mut batch = Batch::new();
//! for day in Day::WEEKDAYS {
//!     batch.push(Entry::range(day, "09:00".parse()?, "17:00".parse()?, Status::Available));
//!     batch.push(Entry::range(day, "12:00".parse()?, "13:00".parse()?, Status::Maybe));
//! }
//! let week = batch.apply(&Week::UNAVAILABLE)?;
//!
//! assert_eq!(week.status("tuesday 09:00".parse()?), Status::Available);
//! assert_eq!(week.status("tuesday 12:30".parse()?), Status::Maybe);
//! assert_eq!(week.status("saturday 10:00".parse()?), Status::Unavailable);
//! let counts = week.counts();
//! assert_eq!((counts.available, counts.maybe), (5 * 14, 5 * 2));
//! # Ok::<(), availability_core::Error>(())
//! ```
//!
//! Edits are copy-on-write: a [`Batch`] is validated as a whole and applied to a copy, so an
//! invalid batch changes nothing and names the first bad entry by its index.
//!
//! # Layout
//!
//! The architecture, the time-zone rule and why it is the minimum, and the life of a read and a
//! write are described in the repository's `docs/design.md`.
//!
//! - `error`: the crate's one opaque [`Error`], with predicates for what callers match on;
//!   `conflict` holds what a refused claim names (the slot, and the booking that holds it).
//! - `grid`: the slot grid: [`Day`], [`Time`] (a half-hour boundary), [`Slot`] and [`Status`],
//!   with their printing; `parse` reads them from text and numbers with errors that say what
//!   is allowed.
//! - `plane`: one 336-bit plane in six `u64` words; the word operations everything else uses.
//! - `week`: [`Week`], reads (slots, runs, counts), combination (min and max) and the text form.
//! - `batch`: [`Entry`] and [`Batch`], validated all-or-nothing edits.
//! - [`group`]: [`group::Tally`], per-slot counts over many weeks (how many are available,
//!   how many maybe, everyone's minimum), bit-sliced so that adding a week is word operations.
//! - `serde_impls` (feature `serde`): the JSON shapes of the HTTP API.
//! - [`tz`] (feature `tz`): time-zone views: plans, exact intervals and ISO weeks.
//! - [`dated`] (feature `tz`): overrides and bookings on real dates, the effective week of an
//!   owner ISO week, and views and claims across dates.
//! - [`store`] (feature `std`): the snapshot store and its checksummed memory-mapped file,
//!   with the journal of dated data beside it, split by concern (the API, the calendar rules,
//!   the writer and its group commit, opening, recovery and migration, the journal, the byte
//!   formats, the mapped file); its docs map the files.
//!
//! # Features
//!
//! - `std` (default): the store, the plan cache, and `std::error::Error` for [`Error`]; it
//!   turns on `tz` (the store derives bookings' slots from owner zones). Without it the crate
//!   is `#![no_std]` and needs only `alloc`.
//! - `tz` (default): time-zone views, with a bundled current IANA time-zone database (2026f
//!   or newer) that a program can replace with a newer zoneinfo directory.
//! - `chrono-tz`: converts `chrono_tz::Tz` to [`tz::Zone`] by name, for callers who hold one;
//!   offsets still come from the crate's own database.
//! - `serde`: (de)serialization of statuses, days, times, entries and batches.
//! - `test-backend`: `store::double`, an in-memory store file that keeps only what was
//!   flushed and crashes at a chosen write, for power-loss tests and fuzzing.
//!
// A module that a feature leaves out cannot be linked to: its name links to the features (the
// empty line above lets these definitions start a block of their own).
#![cfg_attr(
    not(feature = "tz"),
    doc = "[`tz`]: crate#features\n[`dated`]: crate#features\n[`tz::Zone`]: crate#features"
)]
#![cfg_attr(not(feature = "std"), doc = "[`store`]: crate#features")]
#![no_std]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs)]

extern crate alloc;
#[cfg(any(test, feature = "std"))]
extern crate std;

mod batch;
#[cfg(feature = "tz")]
mod conflict;
#[cfg(feature = "tz")]
pub mod dated;
mod error;
mod grid;
pub mod group;
mod parse;
mod plane;
#[cfg(feature = "serde")]
mod serde_impls;
#[cfg(feature = "tz")]
pub mod slots;
mod week;

#[cfg(feature = "std")]
pub mod store;
#[cfg(feature = "tz")]
pub mod tz;

pub use batch::{Batch, Entry};
#[cfg(feature = "std")]
pub use error::BackendError;
pub use error::Error;
pub use grid::{Day, Slot, Status, Time, DAYS, HALF_HOURS_PER_DAY, SLOTS};
pub use week::{Counts, Run, Runs, Slots, Week};

// The crate's README, the one a user of the crate reads first, compiled and run as a doctest
// so that it stays true. (The workspace's README is the server crate's doctest: it lies
// outside this crate's package.)
#[cfg(all(doctest, feature = "tz"))]
#[doc = include_str!("../README.md")]
struct CrateReadme;
