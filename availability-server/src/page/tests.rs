//! The pages' HTML: what each page says, and what it keeps to itself.

use super::*;

fn parts(accept: &str) -> Parts {
    http::Request::builder()
        .header(ACCEPT, accept)
        .body(())
        .expect("a request")
        .into_parts()
        .0
}

#[test]
fn html_only_when_preferred() {
    assert!(wants_html(&parts(
        "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    )));
    assert!(!wants_html(&parts("*/*")));
    assert!(!wants_html(&parts("application/json")));
    assert!(!wants_html(&parts("application/json, text/html;q=0.5")));
    assert!(!wants_html(&parts("text/html;q=0")));
}

fn calendar_page(now: u16) -> Page<'static> {
    Page {
        kind: "calendar",
        id: "room-1",
        viewer: Zone::UTC,
        zone_given: false,
        week: IsoWeek::new(2026, 48).expect("a week"),
        owner_zones: vec![Zone::UTC],
        version: 3,
        etag: "\"v3.1\"".into(),
        now: Now { slot: now },
        book: Vec::new(),
    }
}

/// The opening tag of slot cell `slot`.
fn cell(html: &str, slot: usize) -> &str {
    let at = html
        .find(&format!("<td data-slot=\"{slot}\" "))
        .expect("the cell");
    &html[at..at + html[at..].find('>').expect("a tag")]
}

#[test]
fn booked_slots_are_marked_beside_their_status_and_say_nothing_of_whose() {
    let viewed = Week::from_fn(|s| {
        if s.index() < 100 {
            Status::Available
        } else {
            Status::Unavailable
        }
    });
    // Slots 120 and 121 are booked: unavailable in the view, as the API says.
    let booked = Week::from_fn(|s| {
        if (120..122).contains(&s.index()) {
            Status::Available
        } else {
            Status::Unavailable
        }
    });
    let html =
        String::from_utf8(calendar(&calendar_page(SLOTS as u16), &viewed, &booked)).expect("utf-8");
    assert_eq!(
        cell(&html, 120),
        "<td data-slot=\"120\" data-status=\"unavailable\" data-booked"
    );
    assert!(html.contains("data-booked>\u{d7}</td>"), "its own glyph");
    assert_eq!(
        cell(&html, 122),
        "<td data-slot=\"122\" data-status=\"unavailable\""
    );
    assert_eq!(
        cell(&html, 99),
        "<td data-slot=\"99\" data-status=\"available\""
    );
    // Two cells and the legend's entry.
    assert_eq!(html.matches("data-booked").count(), 3);
    assert!(html
        .contains("<li><span data-status=\"unavailable\" data-booked>\u{d7}</span> booked</li>"));
    // Nothing but the mark: no booking's id, label or key.
    assert!(!html.contains("booking"));
    assert!(!html.contains("avk_"));
}

#[test]
fn a_group_page_hatches_the_slots_a_member_has_booked() {
    let ids = ["a", "b"];
    let weeks = [Week::AVAILABLE, Week::UNAVAILABLE];
    let booked = Week::from_fn(|s| {
        if s.index() == 7 {
            Status::Available
        } else {
            Status::Unavailable
        }
    });
    let html = String::from_utf8(group(
        &Page {
            kind: "group",
            ..calendar_page(SLOTS as u16)
        },
        &Members {
            ids: &ids,
            viewed: &weeks,
            available: &[1; SLOTS],
            everyone: &Week::UNAVAILABLE,
            booked: &booked,
        },
    ))
    .expect("utf-8");
    assert_eq!(
        cell(&html, 7),
        "<td data-slot=\"7\" data-status=\"unavailable\" data-available=\"1\" data-booked \
         class=\"h3 best\""
    );
    assert_eq!(
        html.matches("data-booked").count(),
        2,
        "the cell and the legend"
    );
    assert!(html.contains("data-booked>n</span> hatched: a member is booked</li>"));
}

#[test]
fn the_legend_names_today_and_now_when_the_week_holds_them() {
    // Thursday 09:30: slot 3 * 48 + 19.
    let html = String::from_utf8(calendar(
        &calendar_page(163),
        &Week::UNAVAILABLE,
        &Week::UNAVAILABLE,
    ))
    .expect("utf-8");
    let legend = &html[html.find("<ul class=\"legend\">").expect("a legend")..];
    let legend = &legend[..legend.find("</ul>").expect("its end")];
    assert!(
        legend.contains("<li><span class=\"today\">Thu</span> today</li>"),
        "{legend}"
    );
    assert!(
        legend.contains("<li><span class=\"now\">09:30</span> the current half hour</li>"),
        "{legend}"
    );
    assert!(html.contains("<th scope=\"col\" class=\"today\""));
    assert!(cell(&html, 163).ends_with("class=\"t now\""));
    // Another week has neither.
    let html = String::from_utf8(calendar(
        &calendar_page(SLOTS as u16),
        &Week::UNAVAILABLE,
        &Week::UNAVAILABLE,
    ))
    .expect("utf-8");
    assert!(!html.contains("class=\"today\"") && !html.contains("class=\"now\""));
    assert!(!html.contains(" today</li>"));
}

#[test]
fn the_edit_control_comes_before_the_grid() {
    let html = String::from_utf8(calendar(
        &calendar_page(SLOTS as u16),
        &Week::UNAVAILABLE,
        &Week::UNAVAILABLE,
    ))
    .expect("utf-8");
    let grid = html.find("<table").expect("a grid");
    let nav_end = html.find("</nav>").expect("navigation");
    for control in [
        "id=\"edit-open\"",
        "id=\"edit\"",
        "id=\"key-form\"",
        "id=\"save\"",
    ] {
        let at = html.find(control).expect(control);
        assert!(at < grid, "{control} before the grid");
    }
    assert!(
        html.find("id=\"edit-open\"").expect("the button") < nav_end,
        "in the navigation"
    );
    assert_eq!(html.matches("id=\"edit-open\"").count(), 1);
    // A group has nothing to edit.
    let ids = ["a"];
    let weeks = [Week::UNAVAILABLE];
    let html = String::from_utf8(group(
        &Page {
            kind: "group",
            ..calendar_page(SLOTS as u16)
        },
        &Members {
            ids: &ids,
            viewed: &weeks,
            available: &[0; SLOTS],
            everyone: &Week::UNAVAILABLE,
            booked: &Week::UNAVAILABLE,
        },
    ))
    .expect("utf-8");
    assert!(!html.contains("edit"));
}

#[test]
fn a_problem_page_says_what_was_wrong_escaped_and_links_back() {
    let html = String::from_utf8(problem(
        400,
        "Bad Request",
        "unknown time zone \"<b>Mars/Base</b>\" & more",
        "/calendars/desk",
    ))
    .expect("utf-8");
    assert!(html.starts_with("<!doctype html>"));
    assert!(html.contains("<title>400 Bad Request</title>"));
    assert!(html.contains("<h1>400 Bad Request</h1>"));
    assert!(html.contains(
        "<p id=\"detail\">unknown time zone &quot;&lt;b&gt;Mars/Base&lt;/b&gt;&quot; &amp; more</p>"
    ));
    assert!(!html.contains("<b>"));
    assert!(html.contains("<a id=\"back\" href=\"/calendars/desk\">Back to the week</a>"));
    assert!(!html.contains("style=") && !html.contains("<script>"));
    let html = String::from_utf8(problem(404, "Not Found", "no calendar", "/")).expect("utf-8");
    assert!(html.contains("<a id=\"back\" href=\"/\">Open a calendar or group</a>"));
}

#[test]
fn pages_have_every_slot_and_stay_small() {
    let week = IsoWeek::new(2026, 48).expect("a week");
    let page = Page {
        kind: "calendar",
        id: "room-1",
        viewer: Zone::UTC,
        zone_given: false,
        week,
        owner_zones: vec![Zone::UTC],
        version: 3,
        etag: "\"v3.1\"".into(),
        now: Now { slot: 100 },
        // The most booking types a calendar has, each with the longest label.
        book: (0..32)
            .map(|i| (format!("type-{i}"), "\u{e9}".repeat(100)))
            .collect(),
    };
    let viewed = Week::from_fn(|s| Status::ALL[s.index() % 3]);
    let html = String::from_utf8(calendar(&page, &viewed, &Week::UNAVAILABLE)).expect("utf-8");
    assert!(html.len() < MAX_PAGE_BYTES, "{} bytes", html.len());
    assert_eq!(html.matches("data-slot=").count(), SLOTS);
    assert!(html.contains("<td data-slot=\"49\" data-status=\"maybe\""));
    assert!(html.contains("data-slot=\"100\" data-status=\"maybe\" class=\"t now\""));
    assert!(html.contains("data-etag=\"&quot;v3.1&quot;\""));
    assert!(
        !html.contains("style="),
        "no inline styles under the policy"
    );

    let ids: Vec<String> = (0..50).map(|i| format!("member-number-{i:02}")).collect();
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    let weeks = vec![viewed; 50];
    let available = [7u32; SLOTS];
    let group_page = Page {
        kind: "group",
        ..page
    };
    let html = String::from_utf8(group(
        &group_page,
        &Members {
            ids: &ids,
            viewed: &weeks,
            available: &available,
            everyone: &viewed,
            booked: &Week::UNAVAILABLE,
        },
    ))
    .expect("utf-8");
    assert!(html.len() < MAX_PAGE_BYTES, "{} bytes", html.len());
    assert_eq!(html.matches("data-available=\"7\"").count(), SLOTS);
    assert!(html.contains("\"member-number-49\""));
    assert_eq!(
        html.matches("class=\"h1").count(),
        SLOTS,
        "7 of 50: the first quarter"
    );
    let everyone = [50u32; SLOTS];
    let html = String::from_utf8(group(
        &group_page,
        &Members {
            ids: &ids,
            viewed: &weeks,
            available: &everyone,
            everyone: &viewed,
            booked: &Week::UNAVAILABLE,
        },
    ))
    .expect("utf-8");
    assert_eq!(html.matches("class=\"h5 best").count(), SLOTS, "everyone");
}

#[test]
fn the_booking_page_lists_starts_by_viewer_date_and_escapes_what_it_shows() {
    let viewer = Zone::new("America/New_York").expect("zone");
    let from = chrono::NaiveDate::from_ymd_opt(2027, 3, 13).expect("date");
    let to = chrono::NaiveDate::from_ymd_opt(2027, 3, 15).expect("date");
    // Saturday 23:30 EST, Sunday 03:00 EDT (just after the change), Monday 09:00 EDT.
    let starts = [1_804_998_600, 1_805_007_600, 1_805_115_600];
    let html = String::from_utf8(book(&Book {
        id: "ravi",
        name: "call",
        title: "<script>alert(1)</script>",
        duration: 30,
        viewer,
        zone_given: true,
        from,
        to,
        starts: &starts,
        public: false,
    }))
    .expect("utf-8");
    assert!(!html.contains("<script>alert"), "{html}");
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt; with ravi"));
    let sections: Vec<&str> = html.split("<section>").skip(1).collect();
    assert_eq!(sections.len(), 3, "one section per date");
    assert!(sections[0].starts_with("<h2>Sat 2027-03-13</h2>"));
    assert!(sections[0].contains("data-start=\"2027-03-13T23:30:00-05:00\">23:30<"));
    assert!(sections[1].contains("data-start=\"2027-03-14T03:00:00-04:00\">03:00<"));
    assert!(sections[2].contains("data-start=\"2027-03-15T09:00:00-04:00\">09:00<"));
    assert!(html.contains("id=\"book-key-form\""), "a key is asked for");
    assert!(
        html.contains("from=2027-03-10&amp;to=2027-03-12"),
        "earlier dates"
    );
    assert!(
        html.contains("from=2027-03-16&amp;to=2027-03-18"),
        "later dates"
    );
}
