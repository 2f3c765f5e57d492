//! iCalendar (RFC 5545): the week as a `VFREEBUSY`, the pattern as an RFC 7953
//! `VAVAILABILITY`, and that pattern read back.
//!
//! The writer and the reader are small and written here, one owner for the format: content
//! lines folded at 75 octets with CRLF ends, text escaped, and on the way in unfolded, split
//! into name, parameters and value, and checked within fixed bounds (a body is at most the
//! body cap; a document at most [`MAX_LINES`] lines and [`MAX_DEPTH`] nested components), so
//! hostile input costs bounded work and ends in an [`IcsError`] that names the property.
//!
//! - `freebusy`: one concrete week in UTC, `FBTYPE` per status.
//! - `pattern`: the recurring pattern, out (`VAVAILABILITY` with a `VTIMEZONE`, `export`) and
//!   in (`import`), apart.

pub mod freebusy;
pub mod pattern;

use std::fmt;

use chrono::{DateTime, NaiveDateTime};

/// The `Content-Type` of every iCalendar body.
pub const CONTENT_TYPE: &str = "text/calendar; charset=utf-8";

/// The product that wrote a document.
const PRODID: &str = "-//availability//availability-server//EN";

/// The longest content line, in octets, before it is folded (RFC 5545 section 3.1).
const FOLD_AT: usize = 75;

/// The most content lines a document read back may have.
pub const MAX_LINES: usize = 10_000;

/// The deepest nesting of components read back (`VCALENDAR` > `VAVAILABILITY` > `AVAILABLE`
/// is three).
pub const MAX_DEPTH: usize = 4;

/// Why a document was refused: the property (or component) and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IcsError {
    property: String,
    message: String,
}

impl IcsError {
    /// Names and values come from the document, which may make them long: the refusal keeps
    /// the first 60 characters of the property and 400 of the message.
    #[cold]
    pub(crate) fn new(property: impl Into<String>, message: impl Into<String>) -> IcsError {
        IcsError {
            property: clipped(property.into(), 60),
            message: clipped(message.into(), 400),
        }
    }

    /// The property or component the refusal names, such as `RRULE` or `VAVAILABILITY`.
    pub fn property(&self) -> &str {
        &self.property
    }
}

/// `text` cut to its first `chars` characters, marked with an ellipsis when cut.
fn clipped(text: String, chars: usize) -> String {
    match text.char_indices().nth(chars) {
        Some((at, _)) => format!("{}...", &text[..at]),
        None => text,
    }
}

impl fmt::Display for IcsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.property, self.message)
    }
}

impl std::error::Error for IcsError {}

/// Appends one content line, folded: no physical line longer than 75 octets (CRLF not
/// counted), each continuation starting with a space, and never inside a UTF-8 sequence.
pub(crate) fn push_line(out: &mut Vec<u8>, line: &str) {
    let bytes = line.as_bytes();
    let mut start = 0;
    // The first physical line holds 75 octets; each continuation a space and 74.
    let mut room = FOLD_AT;
    while bytes.len() - start > room {
        let mut end = start + room;
        while !line.is_char_boundary(end) {
            end -= 1;
        }
        out.extend_from_slice(&bytes[start..end]);
        out.extend_from_slice(b"\r\n ");
        start = end;
        room = FOLD_AT - 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.extend_from_slice(b"\r\n");
}

/// `s` as an iCalendar TEXT value (RFC 5545 section 3.3.11): backslash, semicolon, comma and
/// line breaks escaped.
pub(crate) fn escape_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

/// `20261123T090000Z`: a UTC DATE-TIME.
pub(crate) fn utc_stamp(unix_seconds: i64) -> String {
    DateTime::from_timestamp(unix_seconds, 0)
        .map(|t| t.format("%Y%m%dT%H%M%SZ").to_string())
        .unwrap_or_else(|| "19700101T000000Z".to_owned())
}

/// `20261123T090000`: a local DATE-TIME (to go with a `TZID`).
pub(crate) fn local_stamp(local: NaiveDateTime) -> String {
    local.format("%Y%m%dT%H%M%S").to_string()
}

/// `+0130`, `-0500`: a UTC-OFFSET.
pub(crate) fn offset_text(seconds_east: i32) -> String {
    let sign = if seconds_east < 0 { '-' } else { '+' };
    let abs = seconds_east.unsigned_abs();
    let (h, m, s) = (abs / 3600, abs / 60 % 60, abs % 60);
    if s == 0 {
        format!("{sign}{h:02}{m:02}")
    } else {
        format!("{sign}{h:02}{m:02}{s:02}")
    }
}

/// One content line read back, unfolded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Line {
    /// The name, upper case.
    pub(crate) name: String,
    /// The parameters: upper-case names, values unquoted.
    pub(crate) params: Vec<(String, String)>,
    /// The value, as written (escapes not undone: no value read back is TEXT).
    pub(crate) value: String,
}

impl Line {
    /// The value of parameter `name` (upper case).
    pub(crate) fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The content lines of `text`, unfolded (a line starting with a space or a tab continues the
/// one before), empty lines skipped.
///
/// # Errors
///
/// More than [`MAX_LINES`] lines, or a line that is not `NAME[;PARAM=VALUE...]:VALUE`.
pub(crate) fn read_lines(text: &str) -> Result<Vec<Line>, IcsError> {
    let mut logical: Vec<String> = Vec::new();
    for (n, raw) in text.split('\n').enumerate() {
        if n >= MAX_LINES * 4 {
            return Err(IcsError::new(
                "VCALENDAR",
                format!("the document has more than {MAX_LINES} lines"),
            ));
        }
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        if let Some(rest) = raw.strip_prefix([' ', '\t']) {
            match logical.last_mut() {
                Some(last) => last.push_str(rest),
                None => {
                    return Err(IcsError::new(
                        "VCALENDAR",
                        "the document starts with a continuation line",
                    ))
                }
            }
        } else if !raw.is_empty() {
            if logical.len() == MAX_LINES {
                return Err(IcsError::new(
                    "VCALENDAR",
                    format!("the document has more than {MAX_LINES} lines"),
                ));
            }
            logical.push(raw.to_owned());
        }
    }
    logical.iter().map(|l| parse_line(l)).collect()
}

/// `NAME;P=V;Q="a,b":value`.
fn parse_line(line: &str) -> Result<Line, IcsError> {
    let name_end = line.find([';', ':']).unwrap_or(line.len());
    let name = &line[..name_end];
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return Err(IcsError::new(
            "VCALENDAR",
            format!("{:?} is not a content line (NAME:value)", shown(line)),
        ));
    }
    let name = name.to_ascii_uppercase();
    let mut params = Vec::new();
    let mut rest = &line[name_end..];
    loop {
        if let Some(value) = rest.strip_prefix(':') {
            return Ok(Line {
                name,
                params,
                value: value.to_owned(),
            });
        }
        let Some(after) = rest.strip_prefix(';') else {
            return Err(IcsError::new(name, "the line has no value (no ':')"));
        };
        let eq = after
            .find('=')
            .ok_or_else(|| IcsError::new(name.clone(), "a parameter has no '='"))?;
        let pname = &after[..eq];
        if pname.is_empty()
            || !pname
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(IcsError::new(name, "a parameter has no valid name"));
        }
        let mut value = String::new();
        let mut at = &after[eq + 1..];
        // A parameter value is a list of values, each plain or quoted.
        loop {
            if let Some(quoted) = at.strip_prefix('"') {
                let close = quoted
                    .find('"')
                    .ok_or_else(|| IcsError::new(name.clone(), "a quoted parameter never ends"))?;
                value.push_str(&quoted[..close]);
                at = &quoted[close + 1..];
            } else {
                let end = at.find([',', ';', ':']).unwrap_or(at.len());
                if at[..end].contains('"') {
                    return Err(IcsError::new(name, "a parameter value has a stray quote"));
                }
                value.push_str(&at[..end]);
                at = &at[end..];
            }
            match at.strip_prefix(',') {
                Some(more) => {
                    value.push(',');
                    at = more;
                }
                None => break,
            }
        }
        params.push((pname.to_ascii_uppercase(), value));
        rest = at;
    }
}

/// At most 40 characters of `s`, for a message.
fn shown(s: &str) -> &str {
    match s.char_indices().nth(40) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn physical_lines(out: &[u8]) -> Vec<&[u8]> {
        let mut lines: Vec<&[u8]> = out.split(|&b| b == b'\n').collect();
        assert_eq!(lines.pop(), Some(&b""[..]), "ends with a line end");
        for line in &lines {
            assert_eq!(line.last(), Some(&b'\r'), "every line ends CRLF");
        }
        lines.iter().map(|l| &l[..l.len() - 1]).collect()
    }

    #[test]
    fn short_lines_are_not_folded() {
        let mut out = Vec::new();
        push_line(&mut out, "BEGIN:VCALENDAR");
        assert_eq!(out, b"BEGIN:VCALENDAR\r\n");
        let exactly = "X".repeat(FOLD_AT);
        let mut out = Vec::new();
        push_line(&mut out, &exactly);
        assert_eq!(physical_lines(&out).len(), 1);
    }

    #[test]
    fn long_lines_fold_at_75_octets_and_unfold_back() {
        let line = format!("SUMMARY:{}", "abcdefghij".repeat(30));
        let mut out = Vec::new();
        push_line(&mut out, &line);
        let lines = physical_lines(&out);
        assert_eq!(lines[0].len(), 75);
        for cont in &lines[1..] {
            assert_eq!(cont[0], b' ');
            assert!(cont.len() <= 75, "{}", cont.len());
        }
        let text = String::from_utf8(out).expect("utf8");
        let read = read_lines(&text).expect("reads back");
        assert_eq!(read.len(), 1);
        assert_eq!(format!("{}:{}", read[0].name, read[0].value), line);
    }

    #[test]
    fn folding_never_splits_a_character() {
        // Three-octet characters from octet 9 on: 75 is not a boundary.
        let line = format!("SUMMARY:{}", "\u{20ac}".repeat(60));
        let mut out = Vec::new();
        push_line(&mut out, &line);
        let lines = physical_lines(&out);
        assert!(lines.len() > 2);
        for (i, l) in lines.iter().enumerate() {
            assert!(l.len() <= 75);
            let body = if i == 0 { *l } else { &l[1..] };
            assert!(
                std::str::from_utf8(body).is_ok(),
                "line {i} splits a character"
            );
        }
        let text = String::from_utf8(out).expect("utf8");
        let read = read_lines(&text).expect("reads back");
        assert_eq!(format!("{}:{}", read[0].name, read[0].value), line);
    }

    #[test]
    fn text_is_escaped() {
        assert_eq!(escape_text("a;b,c\\d\ne\r"), "a\\;b\\,c\\\\d\\ne");
        assert_eq!(escape_text("room-4"), "room-4");
    }

    #[test]
    fn offsets_are_written_as_utc_offsets() {
        assert_eq!(offset_text(-5 * 3600), "-0500");
        assert_eq!(offset_text(5 * 3600 + 45 * 60), "+0545");
        assert_eq!(offset_text(0), "+0000");
        assert_eq!(offset_text(-17762), "-045602");
    }

    #[test]
    fn lines_parse_with_parameters() {
        let lines =
            read_lines("dtstart;tzid=\"America/New_York\";X-A=1,\"b:c\":20260105T090000\r\n")
                .expect("valid");
        assert_eq!(lines[0].name, "DTSTART");
        assert_eq!(lines[0].param("TZID"), Some("America/New_York"));
        assert_eq!(lines[0].param("X-A"), Some("1,b:c"));
        assert_eq!(lines[0].value, "20260105T090000");
    }

    #[test]
    fn bad_lines_are_refused_with_their_name() {
        let err = read_lines("DTSTART;TZID=\"x:20260105T090000").expect_err("open quote");
        assert_eq!(err.property(), "DTSTART");
        let err = read_lines("RRULE").expect_err("no value");
        assert_eq!(err.property(), "RRULE");
        let err = read_lines(" continued").expect_err("continuation first");
        assert_eq!(err.property(), "VCALENDAR");
        let err = read_lines("DT START:x").expect_err("space in name");
        assert!(err.to_string().contains("not a content line"), "{err}");
        let many = "X-A:1\r\n".repeat(MAX_LINES + 1);
        let err = read_lines(&many).expect_err("too many");
        assert!(err.to_string().contains("more than"), "{err}");
    }
}
