//! Pages for people: the week of a calendar or a group as HTML, and the start page.
//!
//! A page is one more rendering of a view: it is made by the same plan application as the
//! JSON week, cached under the same kind of key ([`crate::cache::Format::Page`]) and
//! compressed like every other body. The page is complete without scripts (the grid, the
//! dates, the previous and next weeks, the zone form); `/static/app.js` adds the browser's
//! zone, keyboard movement, who is free in a group, live refresh from the event stream and
//! the owner's edit mode. Nothing is loaded from another origin, and the answer carries a
//! `Content-Security-Policy` that forbids it (see [`crate::wire::response::CSP`]).
//!
//! Every slot cell carries `data-slot` (0-335 in viewer order) and `data-status`, and on
//! group pages `data-available`, so tools and tests read the grid a person sees.

use std::fmt::Write as _;

use availability_core::tz::{IsoWeek, Zone};
use availability_core::{Slot, Status, Week, HALF_HOURS_PER_DAY, SLOTS};
use http::header::ACCEPT;
use http::request::Parts;

use crate::render::time_text;

mod book;
mod now;
mod plain;

pub use self::book::{book, Book};
pub use self::now::{clock_changes, ClockChange, Now};
pub use self::plain::{problem, start};

/// The script of every page, served at `/static/app.js`.
pub const SCRIPT: &str = include_str!("page/app.js");

/// The style sheet of every page, served at `/static/app.css`.
pub const STYLE: &str = include_str!("page/app.css");

/// A page is at most this many bytes before compression.
pub const MAX_PAGE_BYTES: usize = 50 * 1024;

/// Groups of at most this many members name who is free in each slot.
pub const NAMED: usize = 50;

/// Whether the request prefers HTML to JSON: it names `text/html` with a higher quality than
/// `application/json` (a browser's navigation does; `fetch` and API clients do not).
pub fn wants_html(parts: &Parts) -> bool {
    let (mut html, mut json) = (0.0_f32, 0.0_f32);
    for value in parts.headers.get_all(ACCEPT) {
        let Ok(value) = value.to_str() else { continue };
        for range in value.split(',') {
            let mut fields = range.split(';');
            let media = fields.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = fields
                .filter_map(|f| f.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            match media.as_str() {
                "text/html" => html = html.max(q),
                "application/json" => json = json.max(q),
                _ => {}
            }
        }
    }
    html > 0.0 && html > json
}

/// `UTC+05:45`.
fn offset_text(seconds: i32) -> String {
    let sign = if seconds < 0 { '-' } else { '+' };
    let s = seconds.unsigned_abs();
    format!("UTC{sign}{:02}:{:02}", s / 3600, s % 3600 / 60)
}

/// Appends `s` with `&`, `<`, `>`, `"` and `'` escaped.
fn escape(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

/// A query value with everything but unreserved characters and `/` percent-encoded.
fn query_value(out: &mut String, s: &str) {
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~/".contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
}

/// What a week page shows besides its grid.
#[derive(Debug, Clone)]
pub struct Page<'a> {
    /// `calendar` or `group`.
    pub kind: &'static str,
    /// The calendar's or group's id.
    pub id: &'a str,
    /// The viewer's zone.
    pub viewer: Zone,
    /// Whether the viewer's zone was asked for (`?tz=`), so the script does not replace it
    /// with the browser's.
    pub zone_given: bool,
    /// The viewed week.
    pub week: IsoWeek,
    /// The owner's zone (a calendar), or the members' zones (a group).
    pub owner_zones: Vec<Zone>,
    /// The calendar's version, or the sum of the members' (it grows with every change).
    pub version: u64,
    /// The entity tag a write compares (`If-Match`): the calendar's state, or the group's
    /// answer.
    pub etag: String,
    /// Where now is.
    pub now: Now,
    /// A calendar's booking types, as (name, what bookers read): each links to its page.
    pub book: Vec<(String, String)>,
}

const SHORT_DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/// The glyph and the word of a status: the page says each status in text, not only in
/// colour.
fn status_text(status: Status) -> (&'static str, &'static str) {
    match status {
        Status::Available => ("\u{2713}", "available"),
        Status::Maybe => ("?", "maybe"),
        Status::Unavailable => ("\u{2013}", "unavailable"),
    }
}

/// The head of a page, through the opening of `<body>`.
fn head(out: &mut String, title: &str) {
    out.push_str(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>",
    );
    escape(out, title);
    out.push_str(
        "</title><link rel=\"stylesheet\" href=\"/static/app.css\">\
         <script src=\"/static/app.js\" defer></script></head>",
    );
}

/// `?tz=...&week=...`.
fn link(out: &mut String, zone: &str, week: Option<IsoWeek>) {
    out.push_str("?tz=");
    query_value(out, zone);
    if let Some(week) = week {
        let _ = write!(out, "&amp;week={week}");
    }
}

/// The header of a week page: title, week, zones, navigation, clock changes, legend.
fn page_header(out: &mut String, page: &Page<'_>, legend: &str) {
    let what = if page.kind == "group" {
        "Group"
    } else {
        "Calendar"
    };
    out.push_str("<body data-kind=\"");
    out.push_str(page.kind);
    out.push_str("\" data-id=\"");
    escape(out, page.id);
    out.push_str("\" data-tz=\"");
    escape(out, page.viewer.name());
    let _ = write!(
        out,
        "\" data-tz-given=\"{}\" data-week=\"{}\" data-version=\"{}\" data-etag=\"",
        u8::from(page.zone_given),
        page.week,
        page.version
    );
    escape(out, &page.etag);
    out.push_str("\" data-owner-tz=\"");
    if let Some(zone) = page.owner_zones.first() {
        escape(out, zone.name());
    }
    out.push_str("\"><header><h1>");
    let _ = write!(out, "{what} ");
    escape(out, page.id);
    let dates = page.week.dates();
    let _ = write!(
        out,
        "</h1><p>Week {} ({} to {}), shown in <strong id=\"zone\">",
        page.week,
        dates[0].format("%-d %b %Y"),
        dates[6].format("%-d %b %Y")
    );
    escape(out, page.viewer.name());
    out.push_str("</strong>. ");
    if page.kind == "group" {
        let _ = write!(
            out,
            "Each member's week is read in their own zone ({} zone{}).",
            page.owner_zones.len(),
            if page.owner_zones.len() == 1 { "" } else { "s" }
        );
    } else {
        out.push_str("The owner's zone is <strong id=\"owner-zone\">");
        if let Some(zone) = page.owner_zones.first() {
            escape(out, zone.name());
        }
        out.push_str("</strong>.");
    }
    out.push_str("</p><nav aria-label=\"Weeks\"><a rel=\"prev\" id=\"prev\" href=\"");
    link(out, page.viewer.name(), page.week.previous());
    out.push_str("\">&larr; Previous week</a> <a rel=\"next\" id=\"next\" href=\"");
    link(out, page.viewer.name(), page.week.next());
    out.push_str(
        "\">Next week &rarr;</a><form method=\"get\" class=\"zone\"><label>Time zone \
         <input name=\"tz\" size=\"18\" value=\"",
    );
    escape(out, page.viewer.name());
    let _ = write!(
        out,
        "\"></label><input type=\"hidden\" name=\"week\" value=\"{}\"><button>Show</button>\
         </form>{}</nav>",
        page.week,
        if page.kind == "calendar" {
            "<button id=\"edit-open\" type=\"button\" hidden>Edit (owner)</button>"
        } else {
            ""
        }
    );
    if !page.book.is_empty() {
        out.push_str("<p id=\"book\">Book:");
        for (name, title) in &page.book {
            out.push_str(" <a href=\"/calendars/");
            query_value(out, page.id);
            out.push_str("/slots?type=");
            query_value(out, name);
            out.push_str("&amp;tz=");
            query_value(out, page.viewer.name());
            out.push_str("\">");
            escape(out, title);
            out.push_str("</a>");
        }
        out.push_str("</p>");
    }
    if page.kind == "calendar" {
        // The owner's way in, where the page starts: the script shows the button, and the
        // section when editing, above the grid they edit.
        out.push_str(EDIT);
    }
    let mut zones = vec![page.viewer];
    zones.extend(page.owner_zones.iter().copied());
    for change in clock_changes(page.viewer, page.week, &zones) {
        out.push_str("<p class=\"dst\" role=\"note\">Clocks change this week in ");
        escape(out, change.zone);
        let _ = write!(
            out,
            " at {} ({} to {}): times around it are converted instant by instant.</p>",
            change.when,
            offset_text(change.from),
            offset_text(change.to)
        );
    }
    out.push_str("<ul class=\"legend\">");
    out.push_str(legend);
    if let Some(today) = page.now.day() {
        // Only a week that holds now marks it: today's column and the current half hour,
        // each drawn as the grid draws it.
        let _ = write!(
            out,
            "<li><span class=\"today\">{}</span> today</li>\
             <li><span class=\"now\">{}</span> the current half hour</li>",
            SHORT_DAYS[today],
            time_text(usize::from(page.now.slot) % HALF_HOURS_PER_DAY)
        );
    }
    out.push_str("</ul>");
    out.push_str(
        "<p id=\"live\" role=\"status\" aria-live=\"polite\"></p></header><main>\
         <table class=\"grid\" id=\"grid\"><thead><tr><th scope=\"col\">Time</th>",
    );
    let today = page.now.day();
    for (d, date) in dates.iter().enumerate() {
        let class = if today == Some(d) {
            " class=\"today\" aria-current=\"date\""
        } else {
            ""
        };
        let _ = write!(
            out,
            "<th scope=\"col\"{class} data-date=\"{date}\">{} <span>{}</span></th>",
            SHORT_DAYS[d],
            date.format("%-d %b")
        );
    }
    out.push_str("</tr></thead><tbody>");
}

/// The classes of a cell: today's column and the current half hour.
fn cell_class(page: &Page<'_>, slot: usize, extra: &str) -> String {
    let mut class = String::from(extra);
    if page.now.day() == Some(slot / HALF_HOURS_PER_DAY) {
        class.push_str(" t");
    }
    if usize::from(page.now.slot) == slot {
        class.push_str(" now");
    }
    class.trim().to_owned()
}

const CALENDAR_LEGEND: &str = "<li><span data-status=\"available\">\u{2713}</span> \
    available</li><li><span data-status=\"maybe\">?</span> maybe</li>\
    <li><span data-status=\"unavailable\">\u{2013}</span> unavailable</li>\
    <li><span data-status=\"unavailable\" data-booked>\u{d7}</span> booked</li>";

/// The glyph of a booked slot: unavailable, and taken rather than never offered.
const BOOKED_GLYPH: &str = "\u{d7}";

/// The owner's edit section: hidden until the owner asks for it (the script).
const EDIT: &str = "<section id=\"edit\" hidden><h2>Edit the week</h2>\
    <p>Edits are written in the owner's zone, to the recurring week.</p>\
    <form id=\"key-form\"><label>Calendar key <input id=\"key\" type=\"password\" \
    autocomplete=\"off\" size=\"30\"></label> <button>Start editing</button></form>\
    <div id=\"brush\" hidden><fieldset><legend>Paint with</legend>\
    <label><input type=\"radio\" name=\"brush\" value=\"available\" checked> available\
    </label> <label><input type=\"radio\" name=\"brush\" value=\"maybe\"> maybe</label> \
    <label><input type=\"radio\" name=\"brush\" value=\"unavailable\"> unavailable\
    </label></fieldset><button id=\"save\" type=\"button\">Save</button> \
    <button id=\"cancel\" type=\"button\">Stop editing</button></div></section>";

/// The page of one calendar's viewed week; `booked` holds (as its available slots) the
/// viewed slots a booking claims ([`availability_core::dated::Dated::booked`]), marked
/// `data-booked` beside their status, and never who booked them.
pub fn calendar(page: &Page<'_>, viewed: &Week, booked: &Week) -> Vec<u8> {
    let mut out = String::with_capacity(24 * 1024);
    head(&mut out, &format!("{} \u{b7} {}", page.id, page.week));
    page_header(&mut out, page, CALENDAR_LEGEND);
    for h in 0..HALF_HOURS_PER_DAY {
        let _ = write!(out, "<tr><th scope=\"row\">{}</th>", time_text(h));
        for d in 0..7 {
            let index = d * HALF_HOURS_PER_DAY + h;
            let slot = Slot::from_index(index);
            let status = slot.map_or(Status::Unavailable, |s| viewed.status(s));
            let (mut glyph, word) = status_text(status);
            let class = cell_class(page, index, "");
            let _ = write!(out, "<td data-slot=\"{index}\" data-status=\"{word}\"");
            if slot.is_some_and(|s| booked.status(s) == Status::Available) {
                out.push_str(" data-booked");
                glyph = BOOKED_GLYPH;
            }
            if !class.is_empty() {
                let _ = write!(out, " class=\"{class}\"");
            }
            let _ = write!(out, ">{glyph}</td>");
        }
        out.push_str("</tr>");
    }
    out.push_str(
        "</tbody></table></main><footer><a href=\"/\">Open another calendar or group</a>\
         </footer></body></html>\n",
    );
    out.into_bytes()
}

const GROUP_LEGEND: &str = "<li>Each cell: how many members are available; darker is \
    more.</li><li><span class=\"best\">\u{2605}</span> the best slots of the week</li>\
    <li><span class=\"h5\">n</span> the darkest: everyone is available</li>\
    <li><span class=\"h2\" data-available data-booked>n</span> hatched: a member is booked</li>";

/// What a group page shows of its members.
#[derive(Debug, Clone, Copy)]
pub struct Members<'a> {
    /// The members' ids, in the group's order.
    pub ids: &'a [&'a str],
    /// Each member's viewed week, in the same order.
    pub viewed: &'a [Week],
    /// Per slot, how many are available.
    pub available: &'a [u32; SLOTS],
    /// Everyone's status.
    pub everyone: &'a Week,
    /// As its available slots, the slots in which some member's booking holds an owner slot
    /// (the union of the members' [`availability_core::dated::Dated::booked`]).
    pub booked: &'a Week,
}

/// The page of a group's viewed week: a heat map of how many are available, the best slots
/// marked, and (for groups of at most [`NAMED`]) who is free in each slot, read by the script.
pub fn group(page: &Page<'_>, members: &Members<'_>) -> Vec<u8> {
    let total = u32::try_from(members.ids.len()).unwrap_or(u32::MAX).max(1);
    let best = members.available.iter().copied().max().unwrap_or(0);
    let mut out = String::with_capacity(32 * 1024);
    head(&mut out, &format!("{} \u{b7} {}", page.id, page.week));
    page_header(&mut out, page, GROUP_LEGEND);
    for h in 0..HALF_HOURS_PER_DAY {
        let _ = write!(out, "<tr><th scope=\"row\">{}</th>", time_text(h));
        for d in 0..7 {
            let index = d * HALF_HOURS_PER_DAY + h;
            let slot = Slot::from_index(index);
            let status = slot.map_or(Status::Unavailable, |s| members.everyone.status(s));
            let count = members.available.get(index).copied().unwrap_or(0);
            // Six levels of the heat map: nobody, four quarters of the members, everyone.
            let level = match count {
                0 => 0,
                c if c >= total => 5,
                c => 1 + (c * 4 / total).min(3),
            };
            let is_best = best > 0 && count == best;
            let class = cell_class(
                page,
                index,
                &format!("h{level}{}", if is_best { " best" } else { "" }),
            );
            let _ = write!(
                out,
                "<td data-slot=\"{index}\" data-status=\"{}\" data-available=\"{count}\"{} \
                 class=\"{class}\">{}{count}</td>",
                status.as_str(),
                if slot.is_some_and(|s| members.booked.status(s) == Status::Available) {
                    " data-booked"
                } else {
                    ""
                },
                if is_best { "\u{2605}" } else { "" },
            );
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table></main>");
    if members.ids.len() <= NAMED {
        // Who is free: per member, its available slots as 84 hex digits (4 slots a digit,
        // slot 0 in the high bit of the first). A data block, never run as a script.
        out.push_str("<script type=\"application/json\" id=\"members\">{\"ids\":[");
        for (i, id) in members.ids.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push('"');
            escape(&mut out, id);
            out.push('"');
        }
        out.push_str("],\"free\":[");
        for (i, week) in members.viewed.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push('"');
            for chunk in 0..SLOTS / 4 {
                let mut digit = 0u8;
                for bit in 0..4 {
                    let free = Slot::from_index(chunk * 4 + bit)
                        .is_some_and(|s| week.status(s) == Status::Available);
                    digit |= u8::from(free) << (3 - bit);
                }
                let _ = write!(out, "{digit:x}");
            }
            out.push('"');
        }
        let _ = write!(
            out,
            "]}}</script><p id=\"who\" role=\"status\" aria-live=\"polite\">Move to a slot \
             to see who is free ({} members).</p>",
            members.ids.len()
        );
    }
    out.push_str(
        "<footer><a href=\"/\">Open another calendar or group</a></footer></body></html>\n",
    );
    out.into_bytes()
}

#[cfg(test)]
mod tests;
