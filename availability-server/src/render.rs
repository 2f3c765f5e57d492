//! Rendering a viewed week as JSON, exact intervals or CSV.
//!
//! A body is rendered once per (calendar, version, viewer zone, week, format) and then served
//! from the cache, but that once is on the request path, so the writers append bytes straight
//! into one buffer with precomputed pieces instead of building a `serde_json::Value` of 336
//! objects.

use std::io::Write as _;

use availability_core::tz::{Interval, IsoWeek};
use availability_core::{Day, Slot, Status, Week, HALF_HOURS_PER_DAY, SLOTS};

/// What a rendered body is about: the header fields every format shares.
#[derive(Debug, Clone, Copy)]
pub struct Header<'a> {
    /// The calendar id.
    pub calendar: &'a str,
    /// The viewer's zone.
    pub timezone: &'a str,
    /// The owner's zone.
    pub owner_timezone: &'a str,
    /// The viewer's ISO week.
    pub week: IsoWeek,
    /// The calendar's version.
    pub version: u64,
}

/// `HH:MM` for each half hour of a day.
const TIMES: [&str; HALF_HOURS_PER_DAY] = [
    "00:00", "00:30", "01:00", "01:30", "02:00", "02:30", "03:00", "03:30", "04:00", "04:30",
    "05:00", "05:30", "06:00", "06:30", "07:00", "07:30", "08:00", "08:30", "09:00", "09:30",
    "10:00", "10:30", "11:00", "11:30", "12:00", "12:30", "13:00", "13:30", "14:00", "14:30",
    "15:00", "15:30", "16:00", "16:30", "17:00", "17:30", "18:00", "18:30", "19:00", "19:30",
    "20:00", "20:30", "21:00", "21:30", "22:00", "22:30", "23:00", "23:30",
];

/// The `HH:MM` at which half hour `h` (0..48) of a day starts.
pub fn time_text(h: usize) -> &'static str {
    TIMES.get(h).copied().unwrap_or("24:00")
}

/// Appends `s` as a JSON string, quotes included.
fn push_json_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    for c in s.chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            c if (c as u32) < 0x20 => {
                out.extend_from_slice(format!("\\u{:04x}", c as u32).as_bytes());
            }
            c => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    out.push(b'"');
}

fn push_u64(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

/// `{"calendar":...,"version":N,` shared by both JSON forms.
fn push_header(out: &mut Vec<u8>, h: &Header<'_>) {
    out.extend_from_slice(b"{\"calendar\":");
    push_json_str(out, h.calendar);
    out.extend_from_slice(b",\"timezone\":");
    push_json_str(out, h.timezone);
    out.extend_from_slice(b",\"owner_timezone\":");
    push_json_str(out, h.owner_timezone);
    out.extend_from_slice(b",\"week\":\"");
    // `2026-W48`: digits, a dash and a W, nothing to escape.
    let _ = write!(out, "{}", h.week);
    out.push(b'"');
    out.extend_from_slice(b",\"version\":");
    push_u64(out, h.version);
    out.push(b',');
}

/// The JSON week: 336 slots in viewer order.
pub fn json(h: &Header<'_>, viewed: &Week) -> Vec<u8> {
    let mut out = Vec::with_capacity(32 * 1024);
    push_header(&mut out, h);
    let dates = dates(h.week);
    out.extend_from_slice(b"\"slots\":[");
    for (i, (slot, status)) in viewed.slots().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        push_slot(&mut out, &dates, slot, status);
    }
    out.extend_from_slice(b"]}\n");
    out
}

/// `YYYY-MM-DD` of each day of `week`, Monday first.
fn dates(week: IsoWeek) -> [String; 7] {
    week.dates().map(|date| date.to_string())
}

/// `{"day":0,"day_name":"Monday","date":"2026-11-23","time":"09:00","status":"available"}`.
fn push_slot(out: &mut Vec<u8>, dates: &[String; 7], slot: Slot, status: Status) {
    let day = slot.day();
    out.extend_from_slice(b"{\"day\":");
    out.push(b'0' + day.index() as u8);
    out.extend_from_slice(b",\"day_name\":\"");
    out.extend_from_slice(day.title().as_bytes());
    out.extend_from_slice(b"\",\"date\":\"");
    // Digits and dashes, nothing to escape.
    out.extend_from_slice(dates.get(day.index()).map_or("", String::as_str).as_bytes());
    out.push(b'"');
    out.extend_from_slice(b",\"time\":\"");
    out.extend_from_slice(time_text(slot.half_hour()).as_bytes());
    out.extend_from_slice(b"\",\"status\":\"");
    out.extend_from_slice(status.as_str().as_bytes());
    out.extend_from_slice(b"\"}");
}

/// `"days":[{"date":"2026-11-23","view":"000...222"},...]`: per viewer day, 48 digits, `2`
/// available, `1` maybe, `0` unavailable (the shape of Microsoft Graph's availabilityView).
fn push_days(out: &mut Vec<u8>, week: IsoWeek, viewed: &Week) {
    let dates = dates(week);
    out.extend_from_slice(b"\"days\":[");
    for day in Day::ALL {
        if day.index() > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"date\":\"");
        out.extend_from_slice(dates[day.index()].as_bytes());
        out.extend_from_slice(b"\",\"view\":\"");
        push_day_view(out, viewed, day);
        out.extend_from_slice(b"\"}");
    }
    out.push(b']');
}

/// Appends `day` of `week` as 48 digits: `2` available, `1` maybe, `0` unavailable.
pub fn push_day_view(out: &mut Vec<u8>, week: &Week, day: Day) {
    for slot in (0..HALF_HOURS_PER_DAY)
        .filter_map(|h| Slot::from_index(day.index() * HALF_HOURS_PER_DAY + h))
    {
        out.push(match week.status(slot) {
            Status::Available => b'2',
            Status::Maybe => b'1',
            Status::Unavailable => b'0',
        });
    }
}

/// The compact view (`format=view`): the header, then per day 48 digits.
pub fn view(h: &Header<'_>, viewed: &Week) -> Vec<u8> {
    let mut out = Vec::with_capacity(1024);
    push_header(&mut out, h);
    push_days(&mut out, h.week, viewed);
    out.extend_from_slice(b"}\n");
    out
}

/// One slot of a view, for `/availability/slot`.
pub fn slot_json(h: &Header<'_>, slot: Slot, status: Status) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    push_header(&mut out, h);
    out.extend_from_slice(b"\"slot\":");
    push_slot(&mut out, &dates(h.week), slot, status);
    out.extend_from_slice(b"}\n");
    out
}

/// The exact intervals.
pub fn intervals(h: &Header<'_>, intervals: &[Interval]) -> Vec<u8> {
    let mut out = Vec::with_capacity(128 + intervals.len() * 96);
    push_header(&mut out, h);
    out.extend_from_slice(b"\"intervals\":[");
    for (i, interval) in intervals.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        // RFC 3339 instants: digits, dashes, colons, T and Z, nothing to escape.
        let _ = write!(
            out,
            "{{\"start\":\"{}\",\"end\":\"{}\"",
            interval.start, interval.end
        );
        out.extend_from_slice(b",\"status\":\"");
        out.extend_from_slice(interval.status.as_str().as_bytes());
        out.extend_from_slice(b"\"}");
    }
    out.extend_from_slice(b"]}\n");
    out
}

/// RFC 4180 CSV: the header `Time,Monday,...,Sunday`, then one row per half hour, CRLF line
/// ends, nothing after the 48th row. No field needs quoting.
pub fn csv(viewed: &Week) -> Vec<u8> {
    grid_csv(HALF_HOURS_PER_DAY * 80, |out, slot| {
        out.extend_from_slice(viewed.status(slot).as_str().as_bytes());
    })
}

/// The CSV grid every CSV body shares: a header of days, then per half hour its time and one
/// cell per day, each written by `cell` for that day's slot.
fn grid_csv(capacity: usize, mut cell: impl FnMut(&mut Vec<u8>, Slot)) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + capacity);
    out.extend_from_slice(b"Time");
    for day in Day::ALL {
        out.push(b',');
        out.extend_from_slice(day.title().as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    for h in 0..HALF_HOURS_PER_DAY {
        out.extend_from_slice(time_text(h).as_bytes());
        for day in Day::ALL {
            out.push(b',');
            if let Some(slot) = Slot::from_index(day.index() * HALF_HOURS_PER_DAY + h) {
                cell(&mut out, slot);
            }
        }
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// What a group's answer is about.
#[derive(Debug, Clone, Copy)]
pub struct GroupHeader<'a> {
    /// The members' ids, in the order asked.
    pub calendars: &'a [&'a str],
    /// The viewer's zone.
    pub timezone: &'a str,
    /// The viewer's ISO week.
    pub week: IsoWeek,
}

/// `{"calendars":[...],"timezone":...,"week":...,`.
fn push_group_header(out: &mut Vec<u8>, h: &GroupHeader<'_>) {
    out.extend_from_slice(b"{\"calendars\":[");
    push_ids(out, h.calendars.iter().copied());
    out.extend_from_slice(b"],\"timezone\":");
    push_json_str(out, h.timezone);
    out.extend_from_slice(b",\"week\":\"");
    let _ = write!(out, "{}", h.week);
    out.extend_from_slice(b"\",");
}

fn push_ids<'a>(out: &mut Vec<u8>, ids: impl Iterator<Item = &'a str>) {
    for (i, id) in ids.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        push_json_str(out, id);
    }
}

/// A group's week: per slot, how many members are available and maybe, and everyone's status.
pub fn group_json(
    h: &GroupHeader<'_>,
    available: &[u32; SLOTS],
    maybe: &[u32; SLOTS],
    everyone: &Week,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(48 * 1024);
    push_group_header(&mut out, h);
    let dates = dates(h.week);
    out.extend_from_slice(b"\"slots\":[");
    for (i, (slot, status)) in everyone.slots().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        push_slot(&mut out, &dates, slot, status);
        // Reopen the slot object for the counts: `..."status":"maybe"}` -> `...,"available":N}`.
        out.pop();
        out.extend_from_slice(b",\"available\":");
        push_u64(&mut out, u64::from(available[slot.index()]));
        out.extend_from_slice(b",\"maybe\":");
        push_u64(&mut out, u64::from(maybe[slot.index()]));
        out.push(b'}');
    }
    out.extend_from_slice(b"]}\n");
    out
}

/// A span of a group's week where at least `min` members are available.
#[derive(Debug, Clone)]
pub struct GroupSpan<'a> {
    /// The first instant, RFC 3339 with the viewer's offset.
    pub start: String,
    /// The first instant after the span.
    pub end: String,
    /// How many members are available throughout.
    pub available: u32,
    /// Which, for groups of at most 50.
    pub calendars: Option<Vec<&'a str>>,
}

/// A group's spans (`format=intervals`).
pub fn group_intervals(h: &GroupHeader<'_>, min: u32, spans: &[GroupSpan<'_>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(256 + spans.len() * 128);
    push_group_header(&mut out, h);
    out.extend_from_slice(b"\"min\":");
    push_u64(&mut out, u64::from(min));
    out.extend_from_slice(b",\"intervals\":[");
    for (i, span) in spans.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        // RFC 3339 instants: nothing to escape.
        let _ = write!(
            out,
            "{{\"start\":\"{}\",\"end\":\"{}\",\"available\":{}",
            span.start, span.end, span.available
        );
        if let Some(ids) = &span.calendars {
            out.extend_from_slice(b",\"calendars\":[");
            push_ids(&mut out, ids.iter().copied());
            out.push(b']');
        }
        out.push(b'}');
    }
    out.extend_from_slice(b"]}\n");
    out
}

/// A group's week as CSV: `available/total` in every cell.
pub fn group_csv(available: &[u32; SLOTS], total: usize) -> Vec<u8> {
    grid_csv(HALF_HOURS_PER_DAY * 100, |out, slot| {
        let _ = write!(out, "{}/{total}", available[slot.index()]);
    })
}

/// A group's compact view: everyone's status, per day 48 digits.
pub fn group_view(h: &GroupHeader<'_>, everyone: &Week) -> Vec<u8> {
    let mut out = Vec::with_capacity(1024 + h.calendars.len() * 16);
    push_group_header(&mut out, h);
    push_days(&mut out, h.week, everyone);
    out.extend_from_slice(b"}\n");
    out
}

const _: () = assert!(SLOTS == 7 * HALF_HOURS_PER_DAY);

/// `YYYY-MM-DDTHH:MM:SSZ` for an instant in milliseconds since the Unix epoch, in whole
/// seconds; `None` past the years a date can show (only a damaged record holds such a time).
pub fn utc_instant(unix_ms: i64) -> Option<String> {
    chrono::DateTime::from_timestamp_millis(unix_ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

/// When a key was made, as [`utc_instant`]; `None` for keys from records that did not keep it
/// (0).
pub fn key_created(unix_ms: i64) -> Option<String> {
    Some(unix_ms).filter(|&ms| ms > 0).and_then(utc_instant)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn week() -> IsoWeek {
        IsoWeek::new(2026, 48).expect("a week")
    }

    fn sample() -> Week {
        Week::from_fn(|s| Status::ALL[s.index() % 3])
    }

    #[test]
    fn utc_instants() {
        assert_eq!(utc_instant(0).as_deref(), Some("1970-01-01T00:00:00Z"));
        assert_eq!(key_created(0), None);
        assert_eq!(key_created(1_000).as_deref(), Some("1970-01-01T00:00:01Z"));
        assert_eq!(
            utc_instant(951_782_400_000).as_deref(),
            Some("2000-02-29T00:00:00Z")
        );
        assert_eq!(
            utc_instant(1_795_426_799_999).as_deref(),
            Some("2026-11-23T09:39:59Z")
        );
        assert_eq!(utc_instant(i64::MAX), None);
    }

    #[test]
    fn json_matches_serde_reading() {
        let w = week();
        let h = Header {
            calendar: "room-1",
            timezone: "Europe/Paris",
            owner_timezone: "UTC",
            week: w,
            version: 7,
        };
        let body = json(&h, &sample());
        let v: serde_json::Value = serde_json::from_slice(&body).expect("valid JSON");
        assert_eq!(v["calendar"], "room-1");
        assert_eq!(v["version"], 7);
        assert_eq!(v["week"], "2026-W48");
        let slots = v["slots"].as_array().expect("array");
        assert_eq!(slots.len(), SLOTS);
        assert_eq!(
            slots[49],
            serde_json::json!({"day":1,"day_name":"Tuesday","date":"2026-11-24","time":"00:30","status":"maybe"})
        );
    }

    #[test]
    fn json_escapes_strings() {
        let mut out = Vec::new();
        push_json_str(&mut out, "a\"b\\c\n");
        assert_eq!(out, b"\"a\\\"b\\\\c\\u000a\"");
    }

    #[test]
    fn csv_has_header_and_48_rows() {
        let text = String::from_utf8(csv(&sample())).expect("utf8");
        let lines: Vec<&str> = text.split("\r\n").collect();
        assert_eq!(lines.len(), 50, "48 rows, a header and the empty rest");
        assert_eq!(
            lines[0],
            "Time,Monday,Tuesday,Wednesday,Thursday,Friday,Saturday,Sunday"
        );
        assert_eq!(lines[1], "00:00,unavailable,unavailable,unavailable,unavailable,unavailable,unavailable,unavailable");
        assert!(lines[2].starts_with("00:30,maybe,maybe,"), "{}", lines[2]);
        assert_eq!(lines[49], "");
    }
}
