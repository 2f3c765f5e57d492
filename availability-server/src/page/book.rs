//! The page that books a type's slots: the starts the slots answer offers on the viewer's
//! dates, by date, each a button that books it (with the script), for a calendar that takes
//! bookings from anyone or with a key pasted into the page.

use std::fmt::Write as _;

use availability_core::tz::Zone;
use chrono::{DateTime, Datelike, Days, FixedOffset, NaiveDate, Offset, Utc};

use super::{escape, head, offset_text, query_value, SHORT_DAYS};

/// What the page shows.
#[derive(Debug, Clone, Copy)]
pub struct Book<'a> {
    /// The calendar's id.
    pub id: &'a str,
    /// The type's name.
    pub name: &'a str,
    /// What bookers read: the type's label, or its name.
    pub title: &'a str,
    /// Minutes.
    pub duration: u32,
    /// The viewer's zone.
    pub viewer: Zone,
    /// Whether `?tz=` was given (the script otherwise moves to the browser's zone).
    pub zone_given: bool,
    /// The first and last viewer dates.
    pub from: NaiveDate,
    /// The last viewer date, included.
    pub to: NaiveDate,
    /// The bookable starts, Unix seconds, in order.
    pub starts: &'a [i64],
    /// Whether anyone may book (otherwise the page asks for a key).
    pub public: bool,
}

/// `unix` on the viewer's clock: its date and `HH:MM`, and RFC 3339 with the offset.
fn clock(viewer: Zone, unix: i64) -> (NaiveDate, String, String) {
    let offset = viewer.offset_at(unix).unwrap_or(0);
    let fixed = FixedOffset::east_opt(offset).unwrap_or_else(|| Utc.fix());
    let at = DateTime::from_timestamp(unix, 0)
        .unwrap_or_default()
        .with_timezone(&fixed);
    (
        at.date_naive(),
        at.format("%H:%M").to_string(),
        at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    )
}

/// A link to the same page for other dates.
fn dates_link(out: &mut String, page: &Book<'_>, from: NaiveDate, to: NaiveDate) {
    out.push_str("?type=");
    query_value(out, page.name);
    out.push_str("&amp;tz=");
    query_value(out, page.viewer.name());
    let _ = write!(out, "&amp;from={from}&amp;to={to}");
}

/// The page.
pub fn book(page: &Book<'_>) -> Vec<u8> {
    let mut out = String::with_capacity(8 * 1024 + page.starts.len() * 96);
    head(&mut out, &format!("Book {} \u{b7} {}", page.title, page.id));
    out.push_str("<body data-kind=\"book\" data-id=\"");
    escape(&mut out, page.id);
    out.push_str("\" data-type=\"");
    escape(&mut out, page.name);
    out.push_str("\" data-tz=\"");
    escape(&mut out, page.viewer.name());
    let _ = write!(
        out,
        "\" data-tz-given=\"{}\" data-public=\"{}\"><header><h1>",
        u8::from(page.zone_given),
        u8::from(page.public)
    );
    escape(&mut out, page.title);
    out.push_str(" with ");
    escape(&mut out, page.id);
    let _ = write!(
        out,
        "</h1><p>{} minutes. Times in <strong id=\"zone\">",
        page.duration
    );
    escape(&mut out, page.viewer.name());
    let offset = page
        .viewer
        .offset_at(page.starts.first().copied().unwrap_or(0));
    let _ = write!(
        out,
        "</strong> ({}), {} to {}.</p><nav aria-label=\"Dates\"><a rel=\"prev\" href=\"",
        offset_text(offset.unwrap_or(0)),
        page.from,
        page.to
    );
    let span = Days::new((page.to - page.from).num_days().unsigned_abs() + 1);
    let earlier = (
        page.from.checked_sub_days(span),
        page.to.checked_sub_days(span),
    );
    let later = (
        page.from.checked_add_days(span),
        page.to.checked_add_days(span),
    );
    if let (Some(from), Some(to)) = earlier {
        dates_link(&mut out, page, from, to);
    }
    out.push_str("\">Earlier</a> <a rel=\"next\" href=\"");
    if let (Some(from), Some(to)) = later {
        dates_link(&mut out, page, from, to);
    }
    out.push_str("\">Later</a></nav></header><main>");
    if !page.public {
        out.push_str(
            "<form id=\"book-key-form\"><label>This calendar takes bookings with a key: \
             <input id=\"book-key\" type=\"password\" autocomplete=\"off\" \
             placeholder=\"avk_...\"></label> <button type=\"submit\">Use the key</button>\
             </form>",
        );
    }
    out.push_str(
        "<p><label>Your name or a note (optional): <input id=\"book-label\" \
         maxlength=\"200\"></label></p><noscript><p>Booking from this page needs \
         JavaScript; <code>POST /calendars/{id}/bookings</code> with the type and a start \
         books the same times.</p></noscript><p id=\"live\" role=\"status\" \
         aria-live=\"polite\"></p>",
    );
    let mut date = page.from;
    let mut starts = page.starts.iter().peekable();
    while date <= page.to {
        let _ = write!(
            out,
            "<section><h2>{} {date}</h2><ul class=\"starts\">",
            SHORT_DAYS[date.weekday().num_days_from_monday() as usize]
        );
        let mut any = false;
        while let Some(&&start) = starts.peek() {
            let (day, time, instant) = clock(page.viewer, start);
            if day > date {
                break;
            }
            starts.next();
            any = true;
            let _ = write!(
                out,
                "<li><button type=\"button\" data-start=\"{instant}\">{time}</button></li>"
            );
        }
        if !any {
            out.push_str("<li class=\"none\">No times</li>");
        }
        out.push_str("</ul></section>");
        let Some(next) = date.succ_opt() else { break };
        date = next;
    }
    out.push_str("</main><footer><a href=\"/calendars/");
    query_value(&mut out, page.id);
    out.push_str("?tz=");
    query_value(&mut out, page.viewer.name());
    out.push_str("\">The week</a></footer></body></html>\n");
    out.into_bytes()
}
