//! Query strings and the view parameters they carry, on arbitrary bytes: every input is
//! accepted or refused with a message, never a panic; an accepted query reads as the full
//! form decoder reads it; an accepted parameter parses the same again from its printed form.

use availability_core::tz::{IsoWeek, Zone};
use availability_core::{Day, Time};
use availability_server::wire::query::Query;

const ALLOWED: &[&str] = &["tz", "week", "format", "day", "time"];

/// Checks one input; panics on a finding.
pub(crate) fn run(data: &[u8]) {
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
    let _ = availability_core::store::check_id(raw);
    let Ok(query) = Query::parse(Some(raw), ALLOWED) else {
        return;
    };
    // Whichever way the parser split the query (in place, or through the full decoder when
    // there are escapes), it reads what the full decoder reads.
    for name in ALLOWED {
        let decoded = form_urlencoded::parse(raw.as_bytes())
            .find(|(n, v)| n == name && !v.is_empty())
            .map(|(_, v)| v.into_owned());
        assert_eq!(query.get(name), decoded.as_deref(), "{name} in {raw:?}");
    }
    if let Some(tz) = query.get("tz") {
        if let Ok(zone) = tz.parse::<Zone>() {
            assert_eq!(zone.name().parse::<Zone>().expect("canonical name"), zone);
        }
    }
    if let Some(week) = query.get("week") {
        if let Ok(week) = week.parse::<IsoWeek>() {
            assert_eq!(
                week.to_string().parse::<IsoWeek>().expect("printed week"),
                week
            );
            let _ = week.dates();
        }
    }
    if let Some(day) = query.get("day") {
        if let Ok(day) = day.parse::<Day>() {
            assert_eq!(day.name().parse::<Day>().expect("day name"), day);
        }
    }
    if let Some(time) = query.get("time") {
        if let Ok(time) = time.parse::<Time>() {
            assert_eq!(
                time.to_string().parse::<Time>().expect("printed time"),
                time
            );
        }
    }
}
