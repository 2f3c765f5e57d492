//! [`Zone`]: an IANA time zone, by name.

use core::fmt;
use core::str::FromStr;

use alloc::format;
use chrono::{DateTime, Offset, TimeZone};
use chrono_tz::Tz;

use crate::error::{Error, Kind};
use crate::grid::Truncated;

/// A time zone of the IANA database, such as `America/New_York`, `Asia/Kathmandu` or `UTC`.
///
/// Names are matched as the database spells them, including its aliases (`US/Pacific`,
/// `Asia/Calcutta`); a name that differs only in ASCII case is accepted too and takes the
/// database's spelling. The default zone is UTC, the owner zone of a calendar that never
/// chose one.
///
/// ```
/// use availability_core::tz::Zone;
///
/// let zone: Zone = "america/new_york".parse()?;
/// assert_eq!(zone.name(), "America/New_York");
/// assert_eq!(Zone::new("US/Pacific")?.name(), "US/Pacific");
/// assert_eq!(Zone::default(), Zone::UTC);
///
/// let err = Zone::new("Mars/Olympus_Mons").unwrap_err();
/// assert!(err.is_unknown_zone());
/// assert!(err.to_string().contains("Mars/Olympus_Mons"));
/// # Ok::<(), availability_core::Error>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Zone(pub(crate) Tz);

impl Zone {
    /// Coordinated Universal Time.
    pub const UTC: Zone = Zone(Tz::UTC);

    /// The zone with this IANA name.
    ///
    /// # Errors
    ///
    /// [`Error::is_unknown_zone`] when the database has no zone of that name; the message
    /// names it.
    pub fn new(name: &str) -> Result<Zone, Error> {
        if let Ok(tz) = Tz::from_str(name) {
            return Ok(Zone(tz));
        }
        // Every name in the database is short ASCII; anything longer is not worth a scan.
        if name.len() <= 64 {
            if let Some(tz) = chrono_tz::TZ_VARIANTS
                .iter()
                .find(|tz| tz.name().eq_ignore_ascii_case(name))
            {
                return Ok(Zone(*tz));
            }
        }
        Err(Error::new(
            Kind::UnknownZone,
            format!(
                "unknown time zone {:?}: expected an IANA time-zone name such as \
                 \"America/New_York\", \"Europe/Berlin\" or \"UTC\"",
                Truncated(name)
            ),
        ))
    }

    /// The zone's name as the IANA database spells it.
    pub fn name(self) -> &'static str {
        self.0.name()
    }

    /// Every zone of the database, aliases included.
    pub fn all() -> impl ExactSizeIterator<Item = Zone> {
        chrono_tz::TZ_VARIANTS.iter().map(|tz| Zone(*tz))
    }

    /// The version of the IANA time-zone database this build uses, such as `2025b`.
    pub fn database_version() -> &'static str {
        chrono_tz::IANA_TZDB_VERSION
    }

    /// The zone's offset from UTC, in seconds east, at the instant `unix_seconds`; `None`
    /// when the instant is beyond what dates can represent.
    pub fn offset_at(self, unix_seconds: i64) -> Option<i32> {
        let utc = DateTime::from_timestamp(unix_seconds, 0)?;
        Some(
            self.0
                .offset_from_utc_datetime(&utc.naive_utc())
                .fix()
                .local_minus_utc(),
        )
    }
}

impl Default for Zone {
    fn default() -> Zone {
        Zone::UTC
    }
}

impl From<Tz> for Zone {
    fn from(tz: Tz) -> Zone {
        Zone(tz)
    }
}

impl From<Zone> for Tz {
    fn from(zone: Zone) -> Tz {
        zone.0
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
