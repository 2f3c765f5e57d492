//! The time-zone data against an independent oracle: Python's `zoneinfo` reading the PyPI
//! `tzdata` package (pinned in `tests/oracle/requirements.txt`), a separate compilation of the
//! IANA sources read by a separate implementation. The crate's offsets are jiff's, read from
//! the bundled TZif files; this is what checks them.
//!
//! For every zone, the offset at every change 1973-2100 the crate lists (and the second before
//! it), every two weeks 1973-2100 and every six hours of 2026-2027 must agree, so that a
//! change the crate misses shows as a sampled offset that differs; the bundled release must not
//! be older than the oracle's; and the package's zoneinfo directory, read with
//! `Tzdb::from_dir`, must give the same offsets as the bundled data.
//!
//! Needs `python3` with `tzdata` installed (`.ci/run` installs it). Without them the test says
//! loudly that it skipped, unless `CI` or `AVAILABILITY_REQUIRE_ORACLES` is set: then a missing
//! oracle is a failure.

use std::io::Write;

use availability_core::tz::{Tzdb, Zone};

use crate::oracles::{python, Python};

const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/oracle/zoneinfo_offsets.py"
);

/// 1973-01-01 and 2100-01-01, 00:00 UTC.
const FROM: i64 = 94_694_400;
const TO: i64 = 4_102_444_800;
/// 2026-01-01 and 2028-01-01, 00:00 UTC.
const DENSE_FROM: i64 = 1_767_225_600;
const DENSE_TO: i64 = 1_830_297_600;

/// The instants at which to compare `zone`: every offset change the crate lists (and the
/// second before), every two weeks, and every six hours of two current years.
fn instants(zone: Zone) -> Vec<i64> {
    let mut out: Vec<i64> = (FROM..TO).step_by(14 * 86_400).collect();
    out.extend((DENSE_FROM..DENSE_TO).step_by(6 * 3600));
    for (t, _) in zone.transitions(FROM, TO).into_iter().skip(1) {
        out.extend([t - 1, t]);
    }
    out
}

const TEST: &str = "offsets_match_python_zoneinfo_and_its_tzdata";

#[test]
fn offsets_match_python_zoneinfo_and_its_tzdata() {
    let Some(Python {
        mut child,
        mut stdin,
        mut lines,
        first: version,
    }) = python(TEST, SCRIPT, "the Python time-zone oracle")
    else {
        return;
    };
    let dir = lines.next().expect("a directory").expect("text");

    let reference = Tzdb::from_tzif(&version, std::iter::empty::<(&str, &[u8])>())
        .unwrap_or_else(|e| panic!("the oracle's version {version:?}: {e}"));
    assert!(
        !reference.is_newer_than(Tzdb::bundled()),
        "the bundled time-zone data {} is older than the oracle's {version}",
        Tzdb::bundled().version()
    );

    // The oracle's own directory, read by this crate: same release, same offsets.
    let theirs = Tzdb::from_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {dir}: {e}"))
        .leak();
    assert_eq!(theirs.version(), version);

    let zones: Vec<Zone> = Zone::all().collect();
    let requests: Vec<(Zone, Vec<i64>)> = zones.iter().map(|&z| (z, instants(z))).collect();
    let writer = {
        let requests: Vec<String> = requests
            .iter()
            .map(|(zone, ts)| {
                let ts: Vec<String> = ts.iter().map(i64::to_string).collect();
                format!("{} {}\n", zone.name(), ts.join(" "))
            })
            .collect();
        std::thread::spawn(move || {
            for line in requests {
                stdin.write_all(line.as_bytes()).expect("to the oracle");
            }
        })
    };
    let mut compared = 0usize;
    let mut missing = Vec::new();
    for (zone, ts) in &requests {
        let line = lines.next().expect("an answer").expect("text");
        let mut words = line.split_whitespace();
        assert_eq!(words.next(), Some(zone.name()));
        let answers: Vec<&str> = words.collect();
        if answers == ["missing"] {
            missing.push(zone.name());
            continue;
        }
        assert_eq!(answers.len(), ts.len(), "{zone}");
        let from_dir = theirs
            .zone(zone.name())
            .unwrap_or_else(|e| panic!("{dir} lacks {zone}: {e}"));
        for (t, answer) in ts.iter().zip(answers) {
            let expected: i32 = answer.parse().expect("an offset");
            assert_eq!(
                zone.offset_at(*t),
                Some(expected),
                "{zone} at {t} (unix seconds)"
            );
            assert_eq!(
                from_dir.offset_at(*t),
                Some(expected),
                "{zone} from {dir} at {t}"
            );
            compared += 1;
        }
    }
    writer.join().expect("written");
    drop(lines);
    let status = child.wait().expect("python3 ran");
    assert!(status.success());
    assert_eq!(
        missing,
        Vec::<&str>::new(),
        "zones the oracle does not know"
    );
    eprintln!(
        "zoneinfo oracle (tzdata {version}): {} zones, {compared} offsets agree",
        zones.len()
    );
}
