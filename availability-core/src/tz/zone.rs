//! [`Zone`]: an IANA time zone, by name.

use core::fmt;
use core::hash::{Hash, Hasher};
use core::str::FromStr;

use alloc::borrow::Cow;
use alloc::vec::Vec;

use jiff::tz::TimeZone;
use jiff::Timestamp;

use crate::error::Error;
use crate::tz::db::{name_hash, Rules, Tzdb, ZoneData};

/// A time zone of the IANA database, such as `America/New_York`, `Asia/Kathmandu` or `UTC`.
///
/// Names are matched as the database spells them, including its aliases (`US/Pacific`,
/// `Asia/Calcutta`); a name that differs only in ASCII case is accepted too and takes the
/// database's spelling. The default zone is UTC, the owner zone of a calendar that never
/// chose one.
///
/// A zone is a `Copy` handle into a [`Tzdb`]; [`Zone::new`] looks names up in
/// [`Tzdb::current`], the bundled release unless a program installed another. Two zones are
/// equal when they are the same zone of the same database.
///
/// ```
/// use availability_core::tz::Zone;
///
/// let zone: Zone = "america/new_york".parse()?;
/// assert_eq!(zone.name(), "America/New_York");
/// assert_eq!(Zone::new("US/Pacific")?.name(), "US/Pacific");
/// assert_eq!(Zone::default(), Zone::UTC);
/// assert_eq!(Zone::new("UTC")?, Zone::UTC);
///
/// let err = Zone::new("Mars/Olympus_Mons").unwrap_err();
/// assert!(err.is_unknown_zone());
/// assert!(err.to_string().contains("Mars/Olympus_Mons"));
/// # Ok::<(), availability_core::Error>(())
/// ```
#[derive(Clone, Copy)]
pub struct Zone(&'static ZoneData);

static UTC: ZoneData = ZoneData {
    name: Cow::Borrowed("UTC"),
    name_hash: name_hash("UTC"),
    rules: Rules::Fixed(TimeZone::UTC),
};

impl Zone {
    /// Coordinated Universal Time.
    pub const UTC: Zone = Zone(&UTC);

    /// The zone with this IANA name, from [`Tzdb::current`].
    ///
    /// # Errors
    ///
    /// [`Error::is_unknown_zone`] when the database has no zone of that name; the message
    /// names it.
    pub fn new(name: &str) -> Result<Zone, Error> {
        Tzdb::current().zone(name)
    }

    /// The handle of one zone of a database; every database's `UTC` is [`Zone::UTC`].
    pub(crate) fn from_data(data: &'static ZoneData) -> Zone {
        if data.name == "UTC" {
            Zone::UTC
        } else {
            Zone(data)
        }
    }

    /// The zone's name as the IANA database spells it.
    pub fn name(self) -> &'static str {
        let data: &'static ZoneData = self.0;
        &data.name
    }

    /// Every zone of [`Tzdb::current`], aliases included.
    pub fn all() -> impl ExactSizeIterator<Item = Zone> {
        Tzdb::current().zones()
    }

    /// The version of the IANA time-zone database in use ([`Tzdb::current`]), such as `2026f`.
    pub fn database_version() -> &'static str {
        Tzdb::current().version()
    }

    /// The zone's offset from UTC, in seconds east, at the instant `unix_seconds`. Always
    /// `Some`: instants beyond the database's last rule keep that rule, and instants beyond
    /// the years -9999 to 9999 take the offset at the nearer end.
    pub fn offset_at(self, unix_seconds: i64) -> Option<i32> {
        Some(self.0.tz().to_offset(instant(unix_seconds)).seconds())
    }

    /// The zone's offsets over `[from, to]` (Unix seconds): the offset at `from`, then each
    /// change in `(from, to]` as (first instant of the new offset, new offset in seconds
    /// east). What a `VTIMEZONE` of the same rules lists as its observances.
    pub fn transitions(self, from: i64, to: i64) -> Vec<(i64, i32)> {
        self.changes(from, to)
    }

    /// The zone's offsets over `[from, to]`: the offset at `from`, then each change as (first
    /// instant of the new offset, new offset). Transitions that change only the abbreviation
    /// or the daylight flag are not changes.
    pub(crate) fn changes(self, from: i64, to: i64) -> Vec<(i64, i32)> {
        let tz = self.0.tz();
        let start = instant(from);
        let mut current = tz.to_offset(start).seconds();
        let mut out = alloc::vec![(from, current)];
        let mut after = start.as_second();
        for transition in tz.following(start) {
            let t = transition.timestamp().as_second();
            // For a file without a footer rule, jiff's iterator does not end after the last
            // transition: it gives that one (or, with none, its placeholder at the start of
            // time) again and again. Transitions only move forward.
            if t > to || t <= after {
                break;
            }
            after = t;
            let offset = transition.offset().seconds();
            if offset != current {
                current = offset;
                out.push((t, offset));
            }
        }
        out
    }
}

/// The instant `unix_seconds`, or the nearer end of jiff's range (the years -9999 to 9999).
fn instant(unix_seconds: i64) -> Timestamp {
    Timestamp::from_second(unix_seconds).unwrap_or(if unix_seconds < 0 {
        Timestamp::MIN
    } else {
        Timestamp::MAX
    })
}

impl PartialEq for Zone {
    fn eq(&self, other: &Zone) -> bool {
        core::ptr::eq(self.0, other.0)
    }
}

impl Eq for Zone {}

impl Hash for Zone {
    /// By a fixed hash of the name, one word: the same in every process (ETags are made of
    /// such hashes), and cheap for the plan and render caches.
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.0.name_hash);
    }
}

impl Default for Zone {
    fn default() -> Zone {
        Zone::UTC
    }
}

/// A `chrono-tz` zone, looked up by name in [`Tzdb::current`]; its offsets come from there,
/// never from `chrono-tz`'s own (older) data.
#[cfg(feature = "chrono-tz")]
impl TryFrom<chrono_tz::Tz> for Zone {
    type Error = Error;

    fn try_from(tz: chrono_tz::Tz) -> Result<Zone, Error> {
        Zone::new(tz.name())
    }
}

impl FromStr for Zone {
    type Err = Error;

    fn from_str(s: &str) -> Result<Zone, Error> {
        Zone::new(s)
    }
}

impl fmt::Display for Zone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl fmt::Debug for Zone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Zone({})", self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A version 1 TZif file (no footer rule): offset 0, then `offsets` from each of `times`.
    fn version_1(times: &[i32], offsets: &[i32]) -> Vec<u8> {
        let mut file = b"TZif".to_vec();
        file.extend_from_slice(&[0; 16]);
        let count = |n: usize| u32::try_from(n).expect("small").to_be_bytes();
        // isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt
        for n in [0, 0, 0, times.len(), offsets.len() + 1, 4] {
            file.extend_from_slice(&count(n));
        }
        for t in times {
            file.extend_from_slice(&t.to_be_bytes());
        }
        file.extend((1..=times.len()).map(|i| u8::try_from(i).expect("small")));
        for offset in [0].iter().chain(offsets) {
            file.extend_from_slice(&offset.to_be_bytes());
            file.extend_from_slice(&[0, 0]);
        }
        file.extend_from_slice(b"LMT\0");
        file
    }

    /// Without a footer rule the last offset holds for ever, and the list of changes ends
    /// (a fuzzer's file made it run for ever).
    #[test]
    fn a_file_without_a_rule_keeps_its_last_offset() {
        let none = version_1(&[], &[]);
        let two = version_1(&[1_000_000, 2_000_000], &[3600, 7200]);
        let db = Tzdb::from_tzif("2026f", [("Etc/None", &none), ("Etc/Two", &two)])
            .expect("valid")
            .leak();
        let none = db.zone("Etc/None").expect("read");
        assert_eq!(none.transitions(0, 4_000_000_000), [(0, 0)]);
        assert_eq!(none.offset_at(i64::MAX), Some(0));
        let two = db.zone("Etc/Two").expect("read");
        assert_eq!(
            two.transitions(0, 4_000_000_000),
            [(0, 0), (1_000_000, 3600), (2_000_000, 7200)]
        );
        assert_eq!(
            two.transitions(3_000_000, 4_000_000_000),
            [(3_000_000, 7200)]
        );
        assert_eq!(two.offset_at(1_999_999), Some(3600));
        assert_eq!(two.offset_at(i64::MAX), Some(7200));
        assert_eq!(two.offset_at(i64::MIN), Some(0));
    }
}
