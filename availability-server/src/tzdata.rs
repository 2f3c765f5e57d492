//! Which release of the IANA time-zone database the server uses.
//!
//! The core bundles a current release; an operator can point `tzdata_dir` at a compiled
//! zoneinfo directory (a distribution's `/usr/share/zoneinfo`, or `zic` output for a release
//! that came out after this build) to take new rules without a new release of the server. By
//! default the system's directory is used when its release is newer than the bundled one. The
//! choice is made once, before anything names a zone, and the version is logged at startup,
//! shown on `/healthz`, exported in `/metrics` and hashed into every view's ETag.

use std::path::{Path, PathBuf};

use availability_core::tz::Tzdb;

/// Where the rules come from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Source {
    /// The system's zoneinfo when its release is newer than the bundled one, else the bundled.
    #[default]
    Newest,
    /// The release built into the server.
    Bundled,
    /// A zoneinfo directory, whatever its release.
    Dir(PathBuf),
}

impl Source {
    /// The `tzdata_dir` setting: a directory, or `bundled`.
    pub fn from_setting(value: PathBuf) -> Source {
        if value.as_os_str() == "bundled" {
            Source::Bundled
        } else {
            Source::Dir(value)
        }
    }
}

/// The database chosen, and what to say about the choice.
#[derive(Debug)]
pub struct Chosen {
    /// The database.
    pub db: &'static Tzdb,
    /// Where it came from, for the log: `bundled` or a directory.
    pub origin: String,
    /// Why a directory was passed over, if one was.
    pub note: Option<String>,
}

/// Reads the database `source` names, without installing it. `in_use` gives the zone names
/// the stored calendars use: a release that lacks one of them would fail every read of that
/// calendar, so the default passes over such a system directory, and a configured directory
/// is refused. It is called only when a directory is read (finding the names is a pass over
/// every calendar: a fifth of a second at a million).
///
/// # Errors
///
/// A message naming the directory and what is wrong with it (or the zones it lacks), for
/// [`Source::Dir`] only: the default falls back to the bundled release when the system's
/// cannot be read or lacks a zone.
pub fn choose(source: &Source, in_use: impl FnOnce() -> Vec<String>) -> Result<Chosen, String> {
    let lacking = |db: &'static Tzdb| -> Vec<String> {
        let mut names: Vec<String> = in_use()
            .into_iter()
            .filter(|name| db.zone(name).is_err())
            .collect();
        names.sort_unstable();
        names.dedup();
        names
    };
    let bundled = Tzdb::bundled();
    let bundled_choice = |note| Chosen {
        db: bundled,
        origin: "bundled".to_owned(),
        note,
    };
    match source {
        Source::Bundled => Ok(bundled_choice(None)),
        Source::Dir(dir) => {
            let db = Tzdb::from_dir(dir)
                .map_err(|e| format!("tzdata_dir {}: {e}", dir.display()))?
                .leak();
            let missing = lacking(db);
            if !missing.is_empty() {
                return Err(format!(
                    "tzdata_dir {} ({}) has no zone {}, which stored calendars use",
                    dir.display(),
                    db.version(),
                    missing.join(", ")
                ));
            }
            let note = bundled.is_newer_than(db).then(|| {
                format!(
                    "tzdata_dir holds {}, older than the bundled {}",
                    db.version(),
                    bundled.version()
                )
            });
            Ok(Chosen {
                db,
                origin: dir.display().to_string(),
                note,
            })
        }
        Source::Newest => Ok(match Tzdb::from_dir(Path::new(Tzdb::SYSTEM_DIR)) {
            Ok(system) if system.is_newer_than(bundled) => {
                let system = system.leak();
                let missing = lacking(system);
                if missing.is_empty() {
                    Chosen {
                        db: system,
                        origin: Tzdb::SYSTEM_DIR.to_owned(),
                        note: None,
                    }
                } else {
                    bundled_choice(Some(format!(
                        "{} holds {} but has no zone {}, which stored calendars use",
                        Tzdb::SYSTEM_DIR,
                        system.version(),
                        missing.join(", ")
                    )))
                }
            }
            Ok(system) => bundled_choice(Some(format!(
                "{} holds {}, not newer than the bundled {}",
                Tzdb::SYSTEM_DIR,
                system.version(),
                bundled.version()
            ))),
            Err(e) => bundled_choice(Some(format!("{} unused: {e}", Tzdb::SYSTEM_DIR))),
        }),
    }
}

/// Chooses the database and makes it the one every zone name is looked up in.
///
/// # Errors
///
/// As [`choose`], or when a zone was named before (a bug: call this first).
pub fn install(source: &Source, in_use: impl FnOnce() -> Vec<String>) -> Result<Chosen, String> {
    let chosen = choose(source, in_use)?;
    chosen.db.install().map_err(|e| e.to_string())?;
    Ok(chosen)
}

/// The version of the release in use, such as `2026f`.
pub fn version() -> &'static str {
    availability_core::tz::Zone::database_version()
}
