//! `availability-server migrate`: moving the calendars from the store file to a PostgreSQL
//! database (`--from <data-dir> --to <database-url>`) and back (`--from <database-url> --to
//! <data-dir>`), with the servers stopped, each copy checked once it is made.
//!
//! Up: the store file is opened as the server opens it, so a server running on it makes the
//! command refuse; the database must be empty (its schema is made when it has none); the copy
//! is one transaction (`availability_postgres::import`). Back: the database is read whole
//! without writing to it, and written as a new store file, which must not exist yet
//! ([`Store::write_copy`]); the new file is then opened and compared with what was read.
//! Either way every calendar keeps its incarnation and version, so entity tags stay valid,
//! and its keys, so calendar and admin keys keep working.

use std::path::{Path, PathBuf};
use std::time::Instant;

use availability_core::store::{Counts, Store};
use availability_postgres::Settings;

use crate::store::STORE_FILE;

/// Where calendars are: a data directory, or a database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    /// A data directory, holding (or to hold) the store file.
    DataDir(PathBuf),
    /// A PostgreSQL URL or key=value connection string.
    Database(String),
}

impl Place {
    /// `postgres://...` and `postgresql://...` URLs and libpq key=value strings
    /// (`host=/run/postgresql dbname=availability`) name a database; anything else a data
    /// directory.
    pub fn of(text: &str) -> Place {
        let url = text.starts_with("postgres://") || text.starts_with("postgresql://");
        let pairs = text.contains('=') && !Path::new(text).exists();
        if url || pairs {
            Place::Database(text.to_owned())
        } else {
            Place::DataDir(PathBuf::from(text))
        }
    }
}

/// Copies the calendars `from` one place `to` the other and checks the copy, writing what it
/// did to `out`; `ca_file` is trusted for the database's TLS besides the usual roots.
///
/// # Errors
///
/// A message for the operator: both places of one kind, no store, a store in use, a store
/// file that exists already, a database that is not empty or is unreachable, or a copy that
/// does not read back as the original.
pub fn run(
    from: &str,
    to: &str,
    ca_file: Option<PathBuf>,
    out: &mut dyn std::io::Write,
) -> Result<(), String> {
    let settings = |url: &str| {
        let mut settings = Settings::new(url);
        settings.ca_file = ca_file.clone();
        settings
    };
    let started = Instant::now();
    let lines = match (Place::of(from), Place::of(to)) {
        (Place::DataDir(dir), Place::Database(url)) => up(&dir, &settings(&url))?,
        (Place::Database(url), Place::DataDir(dir)) => back(&settings(&url), &dir)?,
        (Place::DataDir(_), Place::DataDir(_)) => {
            return Err(String::from(
                "both --from and --to are data directories: one of them must be a database \
                 URL (postgres://... or host=... dbname=...)",
            ))
        }
        (Place::Database(_), Place::Database(_)) => {
            return Err(String::from(
                "both --from and --to are databases: copy between databases with the \
                 database's own tools (pg_dump), or go through a data directory",
            ))
        }
    };
    for line in lines {
        writeln!(out, "{line}").map_err(|e| format!("writing the summary: {e}"))?;
    }
    writeln!(out, "took {} ms", started.elapsed().as_millis())
        .map_err(|e| format!("writing the summary: {e}"))
}

/// A runtime for the database's client, for the length of the command.
fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("starting the runtime: {e}"))
}

/// The store file in `dir` into the database.
fn up(dir: &Path, settings: &Settings) -> Result<Vec<String>, String> {
    let store = crate::admin_keys::open(dir, "")?;
    let copied = runtime()?.block_on(availability_postgres::import(settings, &store))?;
    Ok(vec![
        format!("copied the store in {} to the database:", dir.display()),
        format!("  {copied}"),
        String::from(
            "checked: the database holds as much of each, and every calendar with the same \
             incarnation and version",
        ),
        format!(
            "not copied: the pattern histories (each begins again with its week in force) and \
             the {} webhook endpoints, with the events waiting for them: make the endpoints \
             again on the database",
            store.webhooks().len()
        ),
    ])
}

/// The database into a new store file in `dir`.
fn back(settings: &Settings, dir: &Path) -> Result<Vec<String>, String> {
    let path = dir.join(STORE_FILE);
    if std::fs::symlink_metadata(&path).is_ok() {
        return Err(format!(
            "{} exists: the calendars are only copied into a new store file; move it aside \
             or choose another data directory",
            path.display()
        ));
    }
    let exported = runtime()?.block_on(availability_postgres::export(settings))?;
    let read = exported.store.counts();
    std::fs::create_dir_all(dir)
        .map_err(|e| format!("creating the data directory {}: {e}", dir.display()))?;
    let written = exported
        .store
        .write_copy(&path, exported.next_incarnation)
        .map_err(|e| format!("writing the store file: {e}"))?;
    let copy = Store::open(&path).map_err(|e| format!("opening the copy: {e}"))?;
    check(&exported.store, &copy, &written)?;
    let mut lines = vec![
        format!("copied the database to the store in {}:", dir.display()),
        format!("  {written}"),
        String::from(
            "checked: the new store file opens with as much of each, and every calendar with \
             the same incarnation and version",
        ),
    ];
    lines.push(String::from(
        "not copied: the pattern histories (each begins again with its week in force) and the \
         webhook endpoints, with the events waiting for them: make the endpoints again on the \
         store",
    ));
    if written != read {
        lines.push(format!(
            "  ({} bookings and {} overrides past the retention period were left out)",
            read.bookings - written.bookings,
            read.overrides - written.overrides
        ));
    }
    Ok(lines)
}

/// Compares the reopened `copy` with the `original` it was written from (which held
/// `written` once retention had its say).
fn check(original: &Store, copy: &Store, written: &Counts) -> Result<(), String> {
    let found = copy.counts();
    if found != *written {
        return Err(format!(
            "the new store file reads back as {found}, not {written}"
        ));
    }
    let mut differ = Vec::new();
    original.for_each(|calendar| {
        let copied = copy.get(calendar.id()).map(|c| c.state());
        if copied != Some(calendar.state()) {
            differ.push(format!(
                "{} is (incarnation, version) {:?} in the database and {copied:?} in the copy",
                calendar.id(),
                calendar.state()
            ));
        }
    });
    if differ.is_empty() {
        Ok(())
    } else {
        differ.truncate(10);
        Err(format!(
            "the new store file differs from the database: {}",
            differ.join("; ")
        ))
    }
}
