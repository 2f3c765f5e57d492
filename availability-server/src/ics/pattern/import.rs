//! The pattern read back: weekly `AVAILABLE` rules in any `TZID` the server knows (or UTC, or
//! floating time, read in the owner's zone). Rules in the owner's zone are taken as written; others
//! are converted by the one rule of the views (each owner half hour gets the minimum over the real
//! instants it covers), in the first week from now in which neither zone changes its offset.
//! Anything a weekly pattern of half hours cannot say is refused, naming the property.

use availability_core::tz::{IsoWeek, Plan, Zone};
use availability_core::{Status, Week, HALF_HOURS_PER_DAY, SLOTS};
use chrono::{Datelike, NaiveDateTime, Timelike};

use super::common::{local_midnight, DAY_CODES, MAYBE_COMPONENT};
use crate::ics::{read_lines, shown, IcsError, Line, MAX_DEPTH};

/// The most `AVAILABLE` (and maybe) components read back.
pub const MAX_RULES: usize = 1000;

/// The most zones the rules read back may be written in: each costs a conversion.
pub const MAX_ZONES: usize = 16;

/// A `VCALENDAR` with one `VAVAILABILITY`, read back as a week in `owner`'s zone; `now`
/// (Unix seconds) picks the week in which rules of other zones are converted.
///
/// # Errors
///
/// What the document holds that a weekly pattern of half hours cannot, or what is not valid
/// iCalendar, naming the property.
pub fn import(text: &str, owner: Zone, now: i64) -> Result<Week, IcsError> {
    let lines = read_lines(text)?;
    match lines.first() {
        Some(l) if l.name == "BEGIN" && l.value.eq_ignore_ascii_case("VCALENDAR") => {}
        _ => {
            return Err(IcsError::new(
                "VCALENDAR",
                "the document must start with BEGIN:VCALENDAR",
            ))
        }
    }
    let mut stack: Vec<String> = Vec::new();
    let mut availabilities = 0;
    let mut rules: Vec<(Status, Vec<&Line>)> = Vec::new();
    let mut grids: Vec<(Zone, [Status; SLOTS])> = Vec::new();
    let last = lines.len() - 1;
    for (n, line) in lines.iter().enumerate() {
        match line.name.as_str() {
            "BEGIN" | "END" if line.value.trim().is_empty() => {
                return Err(IcsError::new(
                    line.name.as_str(),
                    "names no component: write BEGIN:AVAILABLE, END:AVAILABLE and the like",
                ))
            }
            "BEGIN" => {
                let name = line.value.to_ascii_uppercase();
                if stack.len() >= MAX_DEPTH {
                    return Err(IcsError::new(name, "components are nested too deeply"));
                }
                let parent = stack.last().map(String::as_str);
                if name == "VAVAILABILITY" && parent == Some("VCALENDAR") {
                    availabilities += 1;
                    if availabilities > 1 {
                        return Err(IcsError::new(
                            "VAVAILABILITY",
                            "the document holds more than one; send one pattern",
                        ));
                    }
                }
                if parent == Some("VAVAILABILITY") {
                    let status = match name.as_str() {
                        "AVAILABLE" => Some(Status::Available),
                        MAYBE_COMPONENT => Some(Status::Maybe),
                        _ => None,
                    };
                    if let Some(status) = status {
                        if rules.len() == MAX_RULES {
                            return Err(IcsError::new(
                                name,
                                format!("more than {MAX_RULES} components"),
                            ));
                        }
                        rules.push((status, Vec::new()));
                    }
                }
                stack.push(name);
            }
            "END" => {
                let name = line.value.to_ascii_uppercase();
                if stack.last() != Some(&name) {
                    return Err(IcsError::new(
                        name,
                        match stack.last() {
                            Some(open) => format!("END does not match BEGIN:{open}"),
                            None => "END without BEGIN".to_owned(),
                        },
                    ));
                }
                stack.pop();
                if stack.last().map(String::as_str) == Some("VAVAILABILITY")
                    && matches!(name.as_str(), "AVAILABLE" | MAYBE_COMPONENT)
                {
                    if let Some((status, props)) = rules.pop() {
                        add_rule(&mut grids, owner, status, &props, &name)?;
                    }
                }
                if stack.is_empty() && n != last {
                    return Err(IcsError::new(
                        "VCALENDAR",
                        "nothing may follow END:VCALENDAR",
                    ));
                }
            }
            name => match stack.last().map(String::as_str) {
                Some("VAVAILABILITY") if matches!(name, "DTSTART" | "DTEND" | "DURATION") => {
                    return Err(IcsError::new(
                        name,
                        "a VAVAILABILITY bounded in time cannot be represented: the pattern \
                         holds every week; leave out its DTSTART, DTEND and DURATION",
                    ))
                }
                Some("AVAILABLE" | MAYBE_COMPONENT) => {
                    if let Some((_, props)) = rules.last_mut() {
                        props.push(line);
                    }
                }
                _ => {}
            },
        }
    }
    if let Some(open) = stack.last() {
        return Err(IcsError::new(open.clone(), "the component is never ended"));
    }
    if availabilities == 0 {
        return Err(IcsError::new(
            "VAVAILABILITY",
            "the document holds none: send the pattern as a VAVAILABILITY",
        ));
    }
    let mut week = Week::UNAVAILABLE;
    for (zone, grid) in grids {
        let theirs = Week::from_fn(|s| grid[s.index()]);
        let ours = if zone == owner {
            theirs
        } else {
            let plan = Plan::new(zone, owner, quiet_week(zone, owner, now)?)
                .map_err(|e| IcsError::new("TZID", e.to_string()))?;
            plan.apply(&theirs)
        };
        week.max_with(&ours);
    }
    Ok(week)
}

/// The first of the ten weeks from `now` in which neither zone changes its offset (the week
/// of `now` when every one of them has a change).
fn quiet_week(theirs: Zone, owner: Zone, now: i64) -> Result<IsoWeek, IcsError> {
    let first = IsoWeek::at(owner, now).map_err(|e| IcsError::new("TZID", e.to_string()))?;
    let mut week = first;
    for _ in 0..10 {
        // A day either side covers every offset.
        let from = local_midnight(week.monday()) - 86_400;
        let to = from + 9 * 86_400;
        if theirs.transitions(from, to).len() == 1 && owner.transitions(from, to).len() == 1 {
            return Ok(week);
        }
        match week.next() {
            Some(next) => week = next,
            None => break,
        }
    }
    Ok(first)
}

/// Reads one `AVAILABLE` (or maybe) component's properties and marks its half hours.
fn add_rule(
    grids: &mut Vec<(Zone, [Status; SLOTS])>,
    owner: Zone,
    status: Status,
    props: &[&Line],
    component: &str,
) -> Result<(), IcsError> {
    let one = |name: &str| -> Result<Option<&Line>, IcsError> {
        let mut found = props.iter().filter(|l| l.name == name);
        let first = found.next().copied();
        if found.next().is_some() {
            return Err(IcsError::new(name, "given more than once"));
        }
        Ok(first)
    };
    for refused in ["RDATE", "EXDATE", "EXRULE", "RECURRENCE-ID"] {
        if one(refused)?.is_some() {
            return Err(IcsError::new(
                refused,
                "dates added to or taken from a rule cannot be represented: the pattern is \
                 the same every week",
            ));
        }
    }
    let dtstart = one("DTSTART")?
        .ok_or_else(|| IcsError::new("DTSTART", format!("every {component} needs one")))?;
    let (start, zone) = date_time(dtstart, owner)?;
    if start.second() != 0 || start.minute() % 30 != 0 {
        return Err(IcsError::new(
            "DTSTART",
            "the time must be on a half hour (:00 or :30)",
        ));
    }
    let seconds = match (one("DTEND")?, one("DURATION")?) {
        (Some(_), Some(_)) => {
            return Err(IcsError::new(
                "DURATION",
                "give DTEND or DURATION, not both",
            ))
        }
        (Some(dtend), None) => {
            let (end, end_zone) = date_time(dtend, owner)?;
            if end_zone != zone {
                return Err(IcsError::new("DTEND", "it must be in the TZID of DTSTART"));
            }
            (end - start).num_seconds()
        }
        (None, Some(duration)) => parse_duration(&duration.value)?,
        (None, None) => {
            return Err(IcsError::new(
                "DTEND",
                format!("every {component} needs DTEND or DURATION"),
            ))
        }
    };
    if seconds <= 0 || seconds % 1800 != 0 || seconds > 7 * 86_400 {
        return Err(IcsError::new(
            "DTEND",
            "the span must be whole half hours, longer than nothing and at most a week",
        ));
    }
    let rrule = one("RRULE")?.ok_or_else(|| {
        IcsError::new(
            "RRULE",
            format!(
                "a {component} without a weekly RRULE happens once, which a weekly pattern \
                 cannot represent"
            ),
        )
    })?;
    let mut days: u8 = 0;
    let mut weekly = false;
    for part in rrule.value.split(';').filter(|p| !p.is_empty()) {
        let (key, value) = part.split_once('=').unwrap_or((part, ""));
        match key.to_ascii_uppercase().as_str() {
            "FREQ" if value.eq_ignore_ascii_case("WEEKLY") => weekly = true,
            "FREQ" => {
                return Err(IcsError::new(
                    "RRULE",
                    format!("FREQ={value} cannot be represented: use FREQ=WEEKLY"),
                ))
            }
            "INTERVAL" if value == "1" => {}
            "WKST" => {}
            "BYDAY" => {
                for code in value.split(',') {
                    let d = DAY_CODES
                        .iter()
                        .position(|c| c.eq_ignore_ascii_case(code))
                        .ok_or_else(|| {
                            IcsError::new(
                                "RRULE",
                                format!("BYDAY {code:?} cannot be represented: use MO to SU"),
                            )
                        })?;
                    days |= 1 << d;
                }
            }
            other => {
                return Err(IcsError::new(
                    "RRULE",
                    format!(
                        "{} cannot be represented: a weekly pattern takes FREQ=WEEKLY and \
                         BYDAY only",
                        shown(other)
                    ),
                ))
            }
        }
    }
    if !weekly {
        return Err(IcsError::new("RRULE", "FREQ=WEEKLY is missing"));
    }
    if days == 0 {
        days = 1 << start.weekday().num_days_from_monday();
    }
    let index = match grids.iter().position(|(z, _)| *z == zone) {
        Some(i) => i,
        None if grids.len() == MAX_ZONES => {
            return Err(IcsError::new(
                "TZID",
                format!("the rules are written in more than {MAX_ZONES} time zones"),
            ))
        }
        None => {
            grids.push((zone, [Status::Unavailable; SLOTS]));
            grids.len() - 1
        }
    };
    let grid = &mut grids[index].1;
    let first = start.hour() as usize * 2 + start.minute() as usize / 30;
    let n = usize::try_from(seconds / 1800).unwrap_or(0);
    for d in (0..7).filter(|d| days & (1 << d) != 0) {
        for i in 0..n {
            let slot = &mut grid[(d * HALF_HOURS_PER_DAY + first + i) % SLOTS];
            *slot = (*slot).max(status);
        }
    }
    Ok(())
}

/// A DATE-TIME property: its wall time and zone (`TZID`, `Z` for UTC, or floating: the
/// owner's).
fn date_time(line: &Line, owner: Zone) -> Result<(NaiveDateTime, Zone), IcsError> {
    let name = line.name.as_str();
    if line
        .param("VALUE")
        .is_some_and(|v| !v.eq_ignore_ascii_case("DATE-TIME"))
    {
        return Err(IcsError::new(
            name,
            "a whole date cannot be represented: give a date and time",
        ));
    }
    let (text, utc) = match line.value.strip_suffix(['Z', 'z']) {
        Some(text) => (text, true),
        None => (line.value.as_str(), false),
    };
    let local = NaiveDateTime::parse_from_str(text, "%Y%m%dT%H%M%S")
        .ok()
        .filter(|_| text.len() == 15)
        .ok_or_else(|| {
            IcsError::new(
                name,
                format!(
                    "{:?} is not a DATE-TIME like 20260105T090000",
                    shown(&line.value)
                ),
            )
        })?;
    let zone = match (line.param("TZID"), utc) {
        (Some(_), true) => {
            return Err(IcsError::new(name, "a UTC time (Z) takes no TZID"));
        }
        (None, true) => Zone::UTC,
        (None, false) => owner,
        (Some(tzid), false) => {
            let tzid = tzid.strip_prefix('/').unwrap_or(tzid);
            Zone::new(tzid).map_err(|_| {
                IcsError::new(
                    name,
                    format!(
                        "TZID {:?} is not an IANA time zone this server knows",
                        shown(tzid)
                    ),
                )
            })?
        }
    };
    Ok((local, zone))
}

/// An RFC 5545 DURATION (`PT8H`, `P1D`, `P1W`, `P1DT2H30M`) in seconds.
fn parse_duration(text: &str) -> Result<i64, IcsError> {
    let bad = || {
        IcsError::new(
            "DURATION",
            format!("{:?} is not a positive duration like PT8H", shown(text)),
        )
    };
    let rest = text.strip_prefix('+').unwrap_or(text);
    let rest = rest.strip_prefix('P').ok_or_else(bad)?;
    let mut total: i64 = 0;
    let mut number: Option<i64> = None;
    let mut in_time = false;
    let mut any = false;
    for c in rest.chars() {
        match c {
            '0'..='9' => {
                let digit = i64::from(c as u8 - b'0');
                let n = number.unwrap_or(0).checked_mul(10).ok_or_else(bad)? + digit;
                if n > 10_000_000 {
                    return Err(bad());
                }
                number = Some(n);
            }
            'T' if !in_time && number.is_none() => in_time = true,
            unit => {
                let n = number.take().ok_or_else(bad)?;
                let scale = match (unit, in_time) {
                    ('W', false) => 604_800,
                    ('D', false) => 86_400,
                    ('H', true) => 3600,
                    ('M', true) => 60,
                    ('S', true) => 1,
                    _ => return Err(bad()),
                };
                total = total.checked_add(n * scale).ok_or_else(bad)?;
                any = true;
            }
        }
    }
    if number.is_some() || !any {
        return Err(bad());
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use availability_core::Slot;

    use crate::ics::pattern::export::tests::{sample, text, zone};
    use crate::ics::MAX_DEPTH;

    #[test]
    fn export_then_import_gives_the_week_back() {
        for z in [
            "UTC",
            "America/New_York",
            "Europe/Paris",
            "Australia/Lord_Howe",
            "Asia/Kathmandu",
        ] {
            let week = sample();
            let back = import(&text(&week, z), zone(z), 1_767_225_600).expect("reads back");
            assert_eq!(back, week, "{z}");
        }
        let everything = Week::filled(Status::Available);
        let back = import(&text(&everything, "Europe/Paris"), zone("Europe/Paris"), 0)
            .expect("reads back");
        assert_eq!(back, everything);
    }

    fn doc(body: &str) -> String {
        format!(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VAVAILABILITY\r\n{body}END:VAVAILABILITY\r\nEND:VCALENDAR\r\n"
        )
    }

    fn available(props: &str) -> String {
        doc(&format!("BEGIN:AVAILABLE\r\n{props}END:AVAILABLE\r\n"))
    }

    #[test]
    fn rules_in_another_zone_are_converted() {
        // Monday 09:00-10:00 in New York is 15:00-16:00 in Paris outside the weeks where
        // only one of them has changed its clocks (2026-01-01 is such a time).
        let d = available(
            "DTSTART;TZID=America/New_York:20260105T090000\r\nDURATION:PT1H\r\nRRULE:FREQ=WEEKLY\r\n",
        );
        let week = import(&d, zone("Europe/Paris"), 1_767_225_600).expect("valid");
        let open: Vec<String> = week
            .slots()
            .filter(|(_, s)| *s == Status::Available)
            .map(|(slot, _)| format!("{}-{}", slot.day().index(), slot.half_hour()))
            .collect();
        assert_eq!(open, ["0-30", "0-31"]);
        // UTC, and a span over midnight into the next day.
        let d = available(
            "DTSTART:20260104T230000Z\r\nDTEND:20260105T010000Z\r\nRRULE:FREQ=WEEKLY;BYDAY=SU\r\n",
        );
        let week = import(&d, zone("UTC"), 0).expect("valid");
        assert_eq!(week.counts().available, 4);
        assert_eq!(
            week.status(Slot::from_index(0).expect("slot")),
            Status::Available
        );
        assert_eq!(
            week.status(Slot::from_index(335).expect("slot")),
            Status::Available
        );
    }

    fn refused(d: &str) -> IcsError {
        import(d, zone("UTC"), 0).expect_err("refused")
    }

    /// A `BEGIN:` or `END:` naming nothing is refused by its own name (found by fuzzing: the
    /// refusal named an empty property).
    #[test]
    fn a_component_without_a_name_is_refused_by_name() {
        for (doc, property) in [
            ("BEGIN:VCALENDAR\r\nVERSIOBN:2.0\r\nBEGIN:", "BEGIN"),
            ("BEGIN:VCALENDAR\r\nBEGIN: \r\nEND:VCALENDAR\r\n", "BEGIN"),
            ("BEGIN:VCALENDAR\r\nEND:\r\n", "END"),
        ] {
            let e = refused(doc);
            assert_eq!(e.property(), property, "{doc:?}: {e}");
        }
        // Names from the document are clipped in the refusal (fuzzing found a 2 KB message).
        let long = format!("BEGIN:VCALENDAR\r\nBEGIN:{}\r\nEND:X\r\n", "Y".repeat(5000));
        let e = refused(&long);
        assert!(e.to_string().len() < 1000, "{} bytes", e.to_string().len());
    }

    #[test]
    fn what_cannot_be_represented_names_its_property() {
        let ok = "DTSTART:20260105T090000Z\r\nDTEND:20260105T170000Z\r\n";
        for (props, property) in [
            (format!("{ok}RRULE:FREQ=DAILY\r\n"), "RRULE"),
            (format!("{ok}RRULE:FREQ=WEEKLY;COUNT=3\r\n"), "RRULE"),
            (format!("{ok}RRULE:FREQ=WEEKLY;UNTIL=20270101T000000Z\r\n"), "RRULE"),
            (format!("{ok}RRULE:FREQ=WEEKLY;BYDAY=1MO\r\n"), "RRULE"),
            (format!("{ok}RRULE:FREQ=WEEKLY;INTERVAL=2\r\n"), "RRULE"),
            (ok.to_owned(), "RRULE"),
            (format!("{ok}RRULE:FREQ=WEEKLY\r\nEXDATE:20260112T090000Z\r\n"), "EXDATE"),
            ("DTSTART:20260105T091500Z\r\nDURATION:PT1H\r\nRRULE:FREQ=WEEKLY\r\n".to_owned(), "DTSTART"),
            ("DTSTART;VALUE=DATE:20260105\r\nRRULE:FREQ=WEEKLY\r\n".to_owned(), "DTSTART"),
            ("DTSTART;TZID=Mars/Olympus:20260105T090000\r\nDURATION:PT1H\r\nRRULE:FREQ=WEEKLY\r\n".to_owned(), "DTSTART"),
            ("DTSTART:20260105T090000Z\r\nDURATION:PT45M\r\nRRULE:FREQ=WEEKLY\r\n".to_owned(), "DTEND"),
            ("DTSTART:20260105T090000Z\r\nDURATION:P8D\r\nRRULE:FREQ=WEEKLY\r\n".to_owned(), "DTEND"),
            ("DTSTART:20260105T090000Z\r\nDURATION:-PT1H\r\nRRULE:FREQ=WEEKLY\r\n".to_owned(), "DURATION"),
            ("DTSTART:20260105T090000Z\r\nDURATION:PT\r\nRRULE:FREQ=WEEKLY\r\n".to_owned(), "DURATION"),
            ("DTSTART:20260105T090000Z\r\nRRULE:FREQ=WEEKLY\r\n".to_owned(), "DTEND"),
            ("DTSTART:20260105T090000Z\r\nDTEND;TZID=Europe/Paris:20260105T170000\r\nRRULE:FREQ=WEEKLY\r\n".to_owned(), "DTEND"),
            ("DTEND:20260105T090000Z\r\nRRULE:FREQ=WEEKLY\r\n".to_owned(), "DTSTART"),
            ("DTSTART:2026-01-05\r\nDURATION:PT1H\r\nRRULE:FREQ=WEEKLY\r\n".to_owned(), "DTSTART"),
        ] {
            let err = refused(&available(&props));
            assert_eq!(err.property(), property, "{props:?}: {err}");
        }
    }

    #[test]
    fn malformed_documents_are_refused() {
        assert_eq!(refused("").property(), "VCALENDAR");
        assert_eq!(
            refused("BEGIN:VEVENT\r\nEND:VEVENT\r\n").property(),
            "VCALENDAR"
        );
        assert_eq!(
            refused("BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n").property(),
            "VAVAILABILITY"
        );
        assert_eq!(
            refused("BEGIN:VCALENDAR\r\nBEGIN:VAVAILABILITY\r\nEND:VCALENDAR\r\n").property(),
            "VCALENDAR"
        );
        assert_eq!(
            refused("BEGIN:VCALENDAR\r\nBEGIN:VAVAILABILITY\r\n").property(),
            "VAVAILABILITY"
        );
        let twice = format!(
            "BEGIN:VCALENDAR\r\n{0}{0}END:VCALENDAR\r\n",
            "BEGIN:VAVAILABILITY\r\nEND:VAVAILABILITY\r\n"
        );
        assert_eq!(refused(&twice).property(), "VAVAILABILITY");
        assert_eq!(
            refused(&doc("DTSTART:20260105T090000Z\r\n")).property(),
            "DTSTART"
        );
        let deep = format!(
            "BEGIN:VCALENDAR\r\n{}",
            "BEGIN:X-A\r\n".repeat(MAX_DEPTH + 1)
        );
        assert_eq!(refused(&deep).property(), "X-A");
        let after = format!("{}BEGIN:VCALENDAR\r\n", doc(""));
        assert_eq!(refused(&after).property(), "VCALENDAR");
        let zones: String = Zone::all()
            .filter(|z| z.name().contains('/'))
            .take(MAX_ZONES + 1)
            .map(|z| {
                format!(
                    "BEGIN:AVAILABLE\r\nDTSTART;TZID={}:20260105T090000\r\nDURATION:PT1H\r\n\
                     RRULE:FREQ=WEEKLY\r\nEND:AVAILABLE\r\n",
                    z.name()
                )
            })
            .collect();
        assert_eq!(refused(&doc(&zones)).property(), "TZID");
        // An empty VAVAILABILITY is a week with nothing offered.
        assert_eq!(import(&doc(""), zone("UTC"), 0), Ok(Week::UNAVAILABLE));
    }
}
