//! Pages for people, over HTTP: which requests get HTML, the fields every page carries, the
//! start page, the static files, and the grid's data attributes against the API's answer.
//! The same pages in a real browser are `tests/browser/`.

use http::{Method, StatusCode, Version};

use crate::support::{Resp, TestServer};

pub(crate) const HTML: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

/// `(data-slot, data-status, data-available)` of every slot cell, in page order.
pub(crate) fn grid(html: &str) -> Vec<(usize, String, Option<u32>)> {
    let mut out = Vec::new();
    for cell in html.split("<td ").skip(1) {
        let attr = |name: &str| {
            let start = cell.find(&format!("{name}=\""))? + name.len() + 2;
            let end = cell[start..].find('"')? + start;
            Some(cell[start..end].to_owned())
        };
        if let (Some(slot), Some(status)) = (attr("data-slot"), attr("data-status")) {
            let available = attr("data-available").map(|a| a.parse().unwrap());
            out.push((slot.parse().unwrap(), status, available));
        }
    }
    out
}

/// A page and the fields it must carry.
fn assert_page(r: &Resp) {
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    let csp = r.header("content-security-policy").expect("a policy");
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert!(!csp.contains("unsafe"), "{csp}");
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(r.header("referrer-policy"), Some("no-referrer"));
    assert!(
        r.header("vary").unwrap().contains("Accept"),
        "{:?}",
        r.header("vary")
    );
    let text = r.text();
    assert!(r.body.len() < 50 * 1024, "{} bytes", r.body.len());
    // Self-contained: nothing from another origin, no inline script or style.
    assert!(!text.contains("http://") && !text.contains("https://"));
    assert!(!text.contains("style="));
    assert!(!text.contains("<script>"));
}

async fn calendar_with_a_week(server: &TestServer, id: &str, zone: &str) -> String {
    let key = server.create_calendar(id, zone).await;
    let r = server
        .client(Version::HTTP_11)
        .json(
            Method::PUT,
            &format!("/calendars/{id}/availability"),
            &key,
            r#"{"updates":[{"day":"monday","from":"09:00","to":"17:00","status":"available"},
                {"day":"tuesday","from":"08:30","to":"12:00","status":"maybe"},
                {"day":"sunday","from":"22:00","to":"24:00","status":"available"},
                {"day":"friday","from":"00:00","to":"03:00","status":"maybe"}]}"#,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    key
}

#[tokio::test]
async fn a_browser_gets_the_week_as_a_page_and_json_clients_are_unchanged() {
    let server = TestServer::start().await;
    calendar_with_a_week(&server, "desk", "Europe/Berlin").await;
    for version in [Version::HTTP_11, Version::HTTP_2] {
        let client = server.client(version);
        let path = "/calendars/desk?tz=America/Los_Angeles&week=2026-W44";
        let page = client.get_with(path, &[("accept", HTML)]).await;
        assert_page(&page);
        let api = client
            .get("/calendars/desk/availability?tz=America/Los_Angeles&week=2026-W44")
            .await
            .json();
        let cells = grid(&page.text());
        assert_eq!(cells.len(), 336);
        for (i, (slot, status, _)) in cells.iter().enumerate() {
            // Rows are half hours, columns days: slot = day * 48 + half hour.
            assert_eq!(*slot, (i % 7) * 48 + i / 7);
            assert_eq!(
                api["slots"][*slot]["status"],
                status.as_str(),
                "slot {slot}"
            );
        }
        // The week holds the end of daylight time in Los Angeles (2026-11-01).
        assert!(page.text().contains("class=\"dst\""), "a DST note");
        assert!(page.text().contains("Europe/Berlin"), "the owner's zone");
        assert!(page.text().contains("week=2026-W43") && page.text().contains("week=2026-W45"));

        // JSON clients get JSON, and learn that the answer depends on Accept.
        for accept in [None, Some("application/json"), Some("*/*")] {
            let headers: Vec<(&str, &str)> = accept.map(|a| ("accept", a)).into_iter().collect();
            let r = client.get_with("/calendars/desk", &headers).await;
            assert_eq!(r.status, StatusCode::OK);
            assert_eq!(r.json()["id"], "desk");
            assert!(r.header("vary").unwrap().contains("Accept"));
        }
        // A JSON read still takes no parameters.
        let r = client.get("/calendars/desk?tz=UTC").await;
        r.problem(StatusCode::BAD_REQUEST);
    }
}

#[tokio::test]
async fn pages_are_cached_compressed_and_revalidated() {
    let server = TestServer::start().await;
    calendar_with_a_week(&server, "desk", "UTC").await;
    let client = server.client(Version::HTTP_2);
    let path = "/calendars/desk?tz=Asia/Kathmandu&week=2026-W48";
    let first = client.get_with(path, &[("accept", HTML)]).await;
    assert_page(&first);
    let br = client
        .get_with(path, &[("accept", HTML), ("accept-encoding", "br")])
        .await;
    assert_eq!(br.header("content-encoding"), Some("br"));
    let mut plain = Vec::new();
    brotli::BrotliDecompress(&mut &br.body[..], &mut plain).unwrap();
    assert_eq!(plain, first.body);
    let etag = first.header("etag").unwrap().to_owned();
    let again = client
        .get_with(path, &[("accept", HTML), ("if-none-match", &etag)])
        .await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    // A page in the default zone differs from one that asked for it: only the first lets the
    // browser's zone replace it.
    let asked = client
        .get_with("/calendars/desk?tz=UTC&week=2026-W48", &[("accept", HTML)])
        .await;
    let default = client
        .get_with("/calendars/desk?week=2026-W48", &[("accept", HTML)])
        .await;
    assert!(asked.text().contains("data-tz-given=\"1\""));
    assert!(default.text().contains("data-tz-given=\"0\""));
    assert_eq!(grid(&asked.text()), grid(&default.text()));
    // An unknown zone is a problem, as in the API: to a browser, as a page.
    let r = client
        .get_with("/calendars/desk?tz=Mars/Base", &[("accept", HTML)])
        .await;
    assert_problem_page(&r, StatusCode::BAD_REQUEST, "/calendars/desk");
}

/// A problem answered to a browser as a page: the status, the pages' fields, the title and
/// the detail, and a link back to `back`.
pub(crate) fn assert_problem_page(r: &Resp, status: StatusCode, back: &str) -> String {
    assert_eq!(r.status, status, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    let csp = r.header("content-security-policy").expect("a policy");
    assert_eq!(csp, availability_server::wire::response::CSP);
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(r.header("referrer-policy"), Some("no-referrer"));
    assert!(r.header("vary").unwrap().contains("Accept"));
    let text = r.text();
    let title = format!(
        "<h1>{} {}</h1>",
        status.as_u16(),
        status.canonical_reason().unwrap()
    );
    assert!(text.contains(&title), "{text}");
    assert!(text.contains("<p id=\"detail\">"), "{text}");
    assert!(
        text.contains(&format!("<a id=\"back\" href=\"{back}\">")),
        "{text}"
    );
    assert!(!text.contains("style=") && !text.contains("<script>"));
    text
}

/// A browser that asks for a week page at a wrong address gets what was wrong as a page with
/// a way back; programs asking the same address get `application/problem+json`, as before.
#[tokio::test]
async fn a_page_with_a_wrong_address_is_a_problem_page_for_browsers_only() {
    let server = TestServer::start().await;
    calendar_with_a_week(&server, "desk", "UTC").await;
    server.create_calendar("b", "UTC").await;
    let client = server.client(Version::HTTP_11);
    let r = client
        .json(
            Method::PUT,
            "/groups/team",
            &server.admin,
            r#"{"members":["desk","b"]}"#,
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    // The address, what answers it, where the page links back to, and what its detail names.
    let cases = [
        (
            "/calendars/desk?tz=Mars/Base&week=2026-W48",
            400,
            "/calendars/desk",
            "Mars/Base",
        ),
        (
            "/calendars/desk?week=2026-W99",
            400,
            "/calendars/desk",
            "2026-W99",
        ),
        (
            "/calendars/desk?tz=UTC&colour=red",
            400,
            "/calendars/desk",
            "colour",
        ),
        ("/calendars/nobody?tz=UTC", 404, "/", "nobody"),
        (
            "/groups/team?tz=Mars/Base",
            400,
            "/groups/team",
            "Mars/Base",
        ),
        ("/groups/nobody", 404, "/", "nobody"),
    ];
    for (path, status, back, named) in cases {
        let status = StatusCode::from_u16(status).unwrap();
        let page = client.get_with(path, &[("accept", HTML)]).await;
        let text = assert_problem_page(&page, status, back);
        let detail = &text[text.find("<p id=\"detail\">").unwrap()..];
        assert!(
            detail[..detail.find("</p>").unwrap()].contains(named),
            "{path}: {text}"
        );
        let head = client
            .call(Method::HEAD, path, None, &[("accept", HTML)], String::new())
            .await;
        assert_eq!(head.status, status);
        assert_eq!(
            head.header("content-type"),
            Some("text/html; charset=utf-8")
        );
        // Programs, `curl` among them, get the problem as JSON.
        for accept in [None, Some("application/json"), Some("*/*")] {
            let headers: Vec<(&str, &str)> = accept.map(|a| ("accept", a)).into_iter().collect();
            let r = client.get_with(path, &headers).await;
            // A JSON read of a calendar or a group takes no parameters: that comes first.
            r.problem(if path.contains('?') {
                StatusCode::BAD_REQUEST
            } else {
                status
            });
        }
    }
    // Nothing the address says is put in the page unescaped.
    let page = client
        .get_with("/calendars/desk?tz=%3Cb%3Ex", &[("accept", HTML)])
        .await;
    let text = assert_problem_page(&page, StatusCode::BAD_REQUEST, "/calendars/desk");
    assert!(!text.contains("<b>"), "{text}");
}

/// A calendar `room` in Tokyo (UTC+09, no summer time), available on weekdays 09:00-17:00,
/// with Monday 10:00-11:00 of the week two weeks from now booked under a label. Returns the
/// week (`YYYY-Www`) and the slots that show the booking from Kathmandu (UTC+05:45, where the
/// hour is 06:45-07:45): Monday 06:30, 07:00 and 07:30.
pub(crate) async fn booked_room(server: &TestServer) -> (String, Vec<usize>) {
    use chrono::Datelike;
    let key = server.create_calendar("room", "Asia/Tokyo").await;
    let client = server.client(Version::HTTP_11);
    let r = client
        .json(
            Method::PUT,
            "/calendars/room/availability",
            &key,
            r#"{"updates":[{"day":"monday","from":"09:00","to":"17:00","status":"available"},
                {"day":"tuesday","from":"09:00","to":"17:00","status":"available"}]}"#,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    let today = chrono::DateTime::from_timestamp(i64::try_from(now.as_secs()).unwrap(), 0)
        .unwrap()
        .date_naive();
    let monday = today + chrono::Days::new(14 - u64::from(today.weekday().num_days_from_monday()));
    let r = client
        .call(
            Method::POST,
            "/calendars/room/bookings",
            Some(&key),
            &[("content-type", "application/json")],
            format!(
                r#"{{"start":"{monday}T10:00:00+09:00","end":"{monday}T11:00:00+09:00","label":"dentist visit"}}"#
            ),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let week = monday.iso_week();
    (
        format!("{}-W{:02}", week.year(), week.week()),
        vec![13, 14, 15],
    )
}

/// The slots a page marks booked.
pub(crate) fn booked_cells(html: &str) -> Vec<usize> {
    html.split("<td ")
        .skip(1)
        .filter(|cell| cell.split('>').next().unwrap().contains(" data-booked"))
        .map(|cell| {
            cell["data-slot=\"".len()..]
                .split('"')
                .next()
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect()
}

/// A booked slot is marked on the page beside its status, which stays the API's; the page
/// says nothing of who booked it.
#[tokio::test]
async fn booked_slots_are_marked_and_keep_the_apis_status() {
    let server = TestServer::start().await;
    let (week, expected) = booked_room(&server).await;
    let client = server.client(Version::HTTP_2);
    let query = format!("tz=Asia/Kathmandu&week={week}");
    let page = client
        .get_with(&format!("/calendars/room?{query}"), &[("accept", HTML)])
        .await;
    assert_page(&page);
    let text = page.text();
    assert_eq!(booked_cells(&text), expected);
    let api = client
        .get(&format!("/calendars/room/availability?{query}"))
        .await
        .json();
    for (slot, status, _) in grid(&text) {
        assert_eq!(api["slots"][slot]["status"], status.as_str(), "slot {slot}");
    }
    for slot in &expected {
        assert_eq!(api["slots"][*slot]["status"], "unavailable");
    }
    assert!(
        text.contains("data-booked>\u{d7}</span> booked</li>"),
        "in the legend"
    );
    assert!(!text.contains("dentist"), "no label");
    assert!(!text.contains("key_id") && !text.contains("avk_"), "no key");
    // The owner's own zone: Monday 10:00 and 10:30.
    let page = client
        .get_with(
            &format!("/calendars/room?tz=Asia/Tokyo&week={week}"),
            &[("accept", HTML)],
        )
        .await;
    assert_eq!(booked_cells(&page.text()), [20, 21]);
    // Another week has nothing booked, but the legend still says what the mark means.
    let page = client
        .get_with(
            "/calendars/room?tz=Asia/Tokyo&week=2026-W01",
            &[("accept", HTML)],
        )
        .await;
    assert!(booked_cells(&page.text()).is_empty());

    // A group hatches the slots a member has booked, and says nothing more either.
    server.create_calendar("open", "UTC").await;
    let r = client
        .json(
            Method::PUT,
            "/groups/team",
            &server.admin,
            r#"{"members":["room","open"]}"#,
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let page = client
        .get_with(&format!("/groups/team?{query}"), &[("accept", HTML)])
        .await;
    assert_page(&page);
    let text = page.text();
    assert_eq!(booked_cells(&text), expected);
    let api = client
        .get(&format!("/groups/team/availability?{query}"))
        .await
        .json();
    for (slot, status, available) in grid(&text) {
        assert_eq!(api["slots"][slot]["status"], status.as_str(), "slot {slot}");
        assert_eq!(
            api["slots"][slot]["available"],
            available.unwrap(),
            "slot {slot}"
        );
    }
    assert!(text.contains("a member is booked</li>"), "in the legend");
    assert!(!text.contains("dentist"), "no label");
}

#[tokio::test]
async fn a_group_page_is_a_heat_map_with_the_best_slots_and_who_is_free() {
    let server = TestServer::start().await;
    calendar_with_a_week(&server, "a", "Europe/Berlin").await;
    calendar_with_a_week(&server, "b", "Asia/Kathmandu").await;
    server.create_calendar("c", "UTC").await;
    let client = server.client(Version::HTTP_11);
    let r = client
        .json(
            Method::PUT,
            "/groups/team",
            &server.admin,
            r#"{"members":["a","b","c"]}"#,
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let page = client
        .get_with("/groups/team?tz=UTC&week=2026-W48", &[("accept", HTML)])
        .await;
    assert_page(&page);
    let api = client
        .get("/groups/team/availability?tz=UTC&week=2026-W48")
        .await
        .json();
    let cells = grid(&page.text());
    assert_eq!(cells.len(), 336);
    let best = cells.iter().filter_map(|c| c.2).max().unwrap();
    assert_eq!(best, 2, "a and b overlap on Monday");
    for (slot, status, available) in &cells {
        assert_eq!(api["slots"][*slot]["status"], status.as_str());
        assert_eq!(api["slots"][*slot]["available"], available.unwrap());
    }
    let text = page.text();
    let marked: Vec<usize> = text
        .split("<td ")
        .skip(1)
        .filter(|cell| cell.split('>').next().unwrap().contains(" best"))
        .map(|cell| {
            cell["data-slot=\"".len()..]
                .split('"')
                .next()
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    let expected: Vec<usize> = cells
        .iter()
        .filter(|c| c.2 == Some(best))
        .map(|c| c.0)
        .collect();
    assert_eq!(marked, expected);
    assert!(text.contains("<script type=\"application/json\" id=\"members\">"));
    assert!(text.contains("\"ids\":[\"a\",\"b\",\"c\"]"));
    // The JSON reading of the group is unchanged.
    let r = client.get("/groups/team").await;
    assert_eq!(r.json()["members"][2], "c");
    assert!(r.header("vary").unwrap().contains("Accept"));
}

#[tokio::test]
async fn the_start_page_opens_a_calendar_or_a_group() {
    let server = TestServer::start().await;
    let client = server.client(Version::HTTP_11);
    let start = client.get_with("/", &[("accept", HTML)]).await;
    assert_page(&start);
    assert!(start.text().contains("name=\"calendar\""));
    assert!(start.text().contains("name=\"group\""));
    let r = client.get("/?calendar=default").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.header("location"), Some("/calendars/default"));
    let r = client.get("/?group=team-1").await;
    assert_eq!(r.header("location"), Some("/groups/team-1"));
    client
        .get("/?calendar=..%2Fmetrics")
        .await
        .problem(StatusCode::BAD_REQUEST);
    client
        .get("/?calendar=a&group=b")
        .await
        .problem(StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_script_and_the_style_are_served_from_this_origin() {
    let server = TestServer::start().await;
    let client = server.client(Version::HTTP_11);
    let js = client.get("/static/app.js").await;
    assert_eq!(js.status, StatusCode::OK);
    assert_eq!(
        js.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    assert_eq!(js.header("x-content-type-options"), Some("nosniff"));
    assert!(js.text().contains("EventSource"));
    let css = client.get("/static/app.css").await;
    assert_eq!(css.header("content-type"), Some("text/css; charset=utf-8"));
    // Nothing from elsewhere: no web fonts, no imports.
    assert!(!css.text().contains("url(") && !css.text().contains("@import"));
    let etag = css.header("etag").unwrap().to_owned();
    let r = client
        .get_with("/static/app.css", &[("if-none-match", &etag)])
        .await;
    assert_eq!(r.status, StatusCode::NOT_MODIFIED);
    client
        .get("/static/other.js")
        .await
        .problem(StatusCode::NOT_FOUND);
    let r = client.authed(Method::POST, "/static/app.js", "x").await;
    r.problem(StatusCode::METHOD_NOT_ALLOWED);
}
