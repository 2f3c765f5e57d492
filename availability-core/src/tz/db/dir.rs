//! Reading a compiled zoneinfo directory: its TZif files, named by their paths, and the
//! release's version from its `tzdata.zi` or `+VERSION`.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use std::io::Read as _;

use super::names::check_name;
use super::Tzdb;
use crate::error::{Error, Kind};

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

/// Gathers the TZif files under `dir`, named by their path below the root.
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
