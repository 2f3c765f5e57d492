//! The iCalendar reader (`PUT` of a `VAVAILABILITY`) on arbitrary bytes: every input is
//! accepted or refused with a message naming a property, never a panic; an accepted document
//! gives a week that, written out as the server writes it and read back, is the same week.

use availability_core::tz::{IsoWeek, Zone};
use availability_server::ics::pattern;

/// A fixed "now" (2026-06-01): rules in other zones convert the same way on every run.
const NOW: i64 = 1_780_272_000;

/// Checks one input; panics on a finding.
pub(crate) fn run(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for owner in ["UTC", "America/New_York"] {
        let owner = Zone::new(owner).expect("a bundled zone");
        match pattern::import(text, owner, NOW) {
            Ok(week) => {
                let anchor = IsoWeek::new(2026, 1).expect("a week");
                let out = pattern::export("fuzz", owner, &week, NOW, anchor);
                let out = String::from_utf8(out).expect("the writer writes UTF-8");
                let back = pattern::import(&out, owner, NOW).expect("our own output reads back");
                assert_eq!(back, week, "{out}");
                assert_eq!(
                    pattern::batch_of(&week)
                        .apply_replacing()
                        .expect("a valid batch"),
                    week
                );
            }
            Err(e) => {
                assert!(!e.property().is_empty(), "{e}");
                assert!(e.to_string().len() < 1000, "a bounded message");
            }
        }
    }
}
