//! The pages without a week: the start page, and the page that tells a browser what was
//! wrong with the address of a week page.

use std::fmt::Write as _;

use super::{escape, head};

/// The start page: open a calendar or a group by its id. Works without scripts: the forms
/// ask `/` again, which sends the browser on.
pub fn start() -> Vec<u8> {
    let mut out = String::with_capacity(2048);
    head(&mut out, "Availability");
    out.push_str(
        "<body data-kind=\"start\"><header><h1>Availability</h1><p>See when a calendar or a \
         group is free, in your own time zone.</p></header><main>\
         <form method=\"get\" action=\"/\"><label>Calendar id <input name=\"calendar\" \
         required pattern=\"[a-z0-9][a-z0-9\\-]{0,62}\" autocapitalize=\"none\"></label> \
         <button>Open calendar</button></form>\
         <form method=\"get\" action=\"/\"><label>Group id <input name=\"group\" required \
         pattern=\"[a-z0-9][a-z0-9\\-]{0,62}\" autocapitalize=\"none\"></label> \
         <button>Open group</button></form></main></body></html>\n",
    );
    out.into_bytes()
}

/// The page of a problem, for a browser that asked for a page: its status, title and detail
/// (escaped), and a link `back` to a page that answers (the week page without its
/// parameters, or the start page). The wire layer answers it with the problem's status and
/// the pages' security fields.
pub fn problem(status: u16, title: &str, detail: &str, back: &str) -> Vec<u8> {
    let mut out = String::with_capacity(1024);
    head(&mut out, &format!("{status} {title}"));
    let _ = write!(
        out,
        "<body data-kind=\"problem\" data-problem=\"{status}\"><header><h1>{status} "
    );
    escape(&mut out, title);
    out.push_str("</h1></header><main><p id=\"detail\">");
    escape(&mut out, detail);
    out.push_str("</p><p><a id=\"back\" href=\"");
    escape(&mut out, back);
    out.push_str("\">");
    out.push_str(if back == "/" {
        "Open a calendar or group"
    } else {
        "Back to the week"
    });
    out.push_str(
        "</a></p></main><footer><a href=\"/\">Open another calendar or group</a></footer>\
         </body></html>\n",
    );
    out.into_bytes()
}
