//! TZif files, as an operator's zoneinfo directory may hold them, are hostile input. jiff reads
//! them; `Tzdb::from_tzif` names them and refuses leap-second files. Reading one never panics,
//! a file that is refused says why (naming its zone), and a file that is accepted answers every
//! offset and plans views without panicking, with offsets inside the format's bounds.

use availability_core::tz::{IsoWeek, Plan, Tzdb, Zone};
use availability_core::Week;

/// Every database the target accepted.
static KEPT: std::sync::Mutex<Vec<&'static Tzdb>> = std::sync::Mutex::new(Vec::new());

/// Checks one input; panics on a finding.
pub(crate) fn run(data: &[u8]) {
    let db = match Tzdb::from_tzif("2026f", [("Fuzz/Zone", data)]) {
        Ok(db) => db,
        Err(e) => {
            assert!(e.is_tz_data(), "{e}");
            assert!(e.to_string().contains("Fuzz/Zone"), "{e}");
            return;
        }
    };
    // Zones are handles into a database that lives for the rest of the process. Few inputs
    // parse, so keeping each accepted one costs little; kept reachable, it is not a leak to
    // the leak sanitizer.
    let db = db.leak();
    KEPT.lock().unwrap_or_else(|e| e.into_inner()).push(db);
    let zone = db.zone("Fuzz/Zone").expect("the zone just read");
    for t in [i64::MIN, -1, 0, 1_796_083_200, 4_102_444_800, i64::MAX] {
        let offset = zone.offset_at(t).expect("an offset");
        assert!(offset.abs() <= 26 * 3600 + 3600 * 167, "{offset}");
    }
    for week in ["1973-W01", "2026-W45", "2099-W52"] {
        let week: IsoWeek = week.parse().expect("a week");
        for (owner, viewer) in [(zone, Zone::UTC), (Zone::UTC, zone), (zone, zone)] {
            let plan = Plan::new(owner, viewer, week).expect("a plan");
            let _ = plan.apply(&Week::AVAILABLE);
            let _ = plan.intervals(&Week::AVAILABLE);
        }
    }
}
