//! [`Zone`]: an IANA time zone, by name.

use core::fmt;
use core::hash::{Hash, Hasher};
use core::str::FromStr;

use alloc::borrow::Cow;

use crate::error::Error;
use crate::tz::db::{name_hash, Tzdb, ZoneData};
use crate::tz::tzif::Rules;

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
    rules: Rules::fixed(0),
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
    /// `Some`: instants beyond the database's last rule keep that rule.
    pub fn offset_at(self, unix_seconds: i64) -> Option<i32> {
        Some(self.0.rules.offset_at(unix_seconds))
    }

    /// The zone's offsets over `[from, to]` (Unix seconds): the offset at `from`, then each
    /// change in `(from, to]` as (first instant of the new offset, new offset in seconds
    /// east). What a `VTIMEZONE` of the same rules lists as its observances.
    pub fn transitions(self, from: i64, to: i64) -> alloc::vec::Vec<(i64, i32)> {
        self.changes(from, to)
    }

    /// The zone's offsets over `[from, to]`: the offset at `from`, then each change as (first
    /// instant of the new offset, new offset).
    pub(crate) fn changes(self, from: i64, to: i64) -> alloc::vec::Vec<(i64, i32)> {
        self.0.rules.changes(from, to)
    }
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
