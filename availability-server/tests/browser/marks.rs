//! What a page marks besides statuses, as the browser shows it: booked slots and their legend
//! entry, today and the current half hour in the legend, the owner's edit control above the
//! grid, and a wrong address answered as a page with a way back.

use std::time::Duration;

use http::{StatusCode, Version};

use super::{chromium, desk, dump_dom, page_statuses, screenshot, Cdp};
use crate::pages::{booked_cells, booked_room, HTML};
use crate::support::TestServer;

/// A slot booked through the API is marked on the page in the browser, with its legend
/// entry; the grid's statuses stay the API's, and the booked cell says nothing of whose.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_booked_slot_is_marked_in_the_browser() {
    let Some(browser) = chromium("a_booked_slot_is_marked_in_the_browser") else {
        return;
    };
    let server = TestServer::start().await;
    let (week, expected) = booked_room(&server).await;
    let query = format!("tz=Asia/Kathmandu&week={week}");
    let path = format!("/calendars/room?{query}");
    let dom = dump_dom(&browser, &server, &path, "UTC").await;
    assert_eq!(booked_cells(&dom), expected);
    let api = server
        .client(Version::HTTP_11)
        .get(&format!("/calendars/room/availability?{query}"))
        .await
        .json();
    let api: Vec<String> = api["slots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["status"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(page_statuses(&dom), api);
    assert!(!dom.contains("dentist"), "no label");

    let mut page = Cdp::open_live(&browser, "UTC", &server, &path, Duration::from_secs(20)).await;
    // The legend names the mark, drawn as the grid draws it, and unlike an unavailable slot.
    let look = |selector: &str| {
        format!(
            "(() => {{ const s = getComputedStyle(document.querySelector('{selector}')); \
             return [s.backgroundImage, s.backgroundColor, s.color]; }})()"
        )
    };
    let legend = page.eval(&look(".legend [data-booked]")).await;
    let cell = page
        .eval(&look(&format!("td[data-slot=\"{}\"]", expected[0])))
        .await;
    let unavailable = page
        .eval(&look("td[data-status=\"unavailable\"]:not([data-booked])"))
        .await;
    assert_eq!(legend, cell);
    assert_ne!(cell, unavailable);
    assert_eq!(
        page.eval(
            "Array.from(document.querySelectorAll('.legend li')).map(li => li.textContent)\
             .filter(t => t.endsWith(' booked')).length"
        )
        .await,
        1
    );
    // A person reading the grid hears it too; and the cell holds nothing more.
    let booked = format!(
        "document.querySelector('td[data-slot=\"{}\"]')",
        expected[0]
    );
    let label = page
        .eval(&format!("{booked}.getAttribute('aria-label')"))
        .await;
    assert!(
        label.as_str().unwrap().ends_with("unavailable, booked"),
        "{label}"
    );
    let attributes = page
        .eval(&format!(
            "Array.from({booked}.attributes).map(a => a.name + '=' + a.value).sort()"
        ))
        .await;
    for attribute in attributes.as_array().unwrap() {
        let attribute = attribute.as_str().unwrap();
        let name = attribute.split('=').next().unwrap();
        assert!(
            [
                "aria-label",
                "class",
                "data-booked",
                "data-slot",
                "data-status",
                "tabindex",
                "title"
            ]
            .contains(&name),
            "{attribute}"
        );
    }
    assert_eq!(
        page.eval(&format!("{booked}.getAttribute('data-booked')"))
            .await,
        ""
    );
    drop(page);
    screenshot(&browser, &server, &path, "booked").await;

    // A group hatches the slots a member has booked over their heat colour.
    let client = server.client(Version::HTTP_11);
    server.create_calendar("open", "UTC").await;
    let r = client
        .json(
            http::Method::PUT,
            "/groups/team",
            &server.admin,
            r#"{"members":["room","open"]}"#,
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let group = format!("/groups/team?{query}");
    let dom = dump_dom(&browser, &server, &group, "UTC").await;
    assert_eq!(booked_cells(&dom), expected);
    assert!(!dom.contains("dentist"), "no label");
    let mut page = Cdp::open_live(&browser, "UTC", &server, &group, Duration::from_secs(20)).await;
    let booked = format!("td[data-slot=\"{}\"]", expected[0]);
    let cell = page.eval(&look(&booked)).await;
    assert!(
        cell[0]
            .as_str()
            .unwrap()
            .contains("repeating-linear-gradient"),
        "hatched: {cell}"
    );
    // The heat colour of its class stays.
    let class = page
        .eval(&format!("document.querySelector('{booked}').classList[0]"))
        .await;
    let plain = page
        .eval(&look(&format!(
            "td.{}:not([data-booked])",
            class.as_str().unwrap()
        )))
        .await;
    assert_eq!(cell[1], plain[1], "{cell} {plain}");
    let legend = page.eval(&look(".legend [data-booked]")).await;
    assert_eq!(legend[0], cell[0]);
}

/// The week of now names today's column and the current half hour in its legend, each drawn
/// as the grid draws it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn today_and_now_have_legend_entries() {
    let Some(browser) = chromium("today_and_now_have_legend_entries") else {
        return;
    };
    let server = TestServer::start().await;
    desk(&server).await;
    // No `week`: the week of now.
    let mut page = Cdp::open_live(
        &browser,
        "UTC",
        &server,
        "/calendars/desk?tz=UTC",
        Duration::from_secs(20),
    )
    .await;
    let entry = |class: &str| {
        format!(
            "(() => {{ const span = document.querySelector('.legend .{class}'); \
             return span ? span.parentElement.textContent : null; }})()"
        )
    };
    let today = page.eval(&entry("today")).await;
    let now = page.eval(&entry("now")).await;
    assert!(today.as_str().unwrap().ends_with(" today"), "{today}");
    assert!(
        now.as_str().unwrap().ends_with(" the current half hour"),
        "{now}"
    );
    // The entries name the column and the half hour the grid marks.
    let day = page
        .eval("document.querySelector('thead th.today').textContent.slice(0, 3)")
        .await;
    assert!(today.as_str().unwrap().starts_with(day.as_str().unwrap()));
    let slot = page
        .eval("Number(document.querySelector('td.now').dataset.slot) % 48")
        .await;
    let time = page
        .eval(&format!(
            "document.querySelectorAll('tbody tr')[{slot}].querySelector('th').textContent"
        ))
        .await;
    assert!(now.as_str().unwrap().starts_with(time.as_str().unwrap()));
    // And look as the grid does.
    let style = |selector: &str, properties: &str| {
        format!(
            "(() => {{ const s = getComputedStyle(document.querySelector('{selector}')); \
             return [{properties}].map(p => s.getPropertyValue(p)); }})()"
        )
    };
    assert_eq!(
        page.eval(&style(".legend .today", "'background-color'"))
            .await,
        page.eval(&style("thead th.today", "'background-color'"))
            .await
    );
    assert_eq!(
        page.eval(&style(".legend .today", "'box-shadow'")).await,
        page.eval(&style("td.t", "'box-shadow'")).await
    );
    let outline = "'outline-style', 'outline-color', 'outline-width'";
    let legend_now = page.eval(&style(".legend .now", outline)).await;
    assert_eq!(legend_now, page.eval(&style("td.now", outline)).await);
    assert_eq!(legend_now[0], "dashed");
}

/// The owner's edit control sits at the top of the page, above the grid, where the page
/// opens; opening it shows the key form there too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_edit_control_is_above_the_grid() {
    let Some(browser) = chromium("the_edit_control_is_above_the_grid") else {
        return;
    };
    let server = TestServer::start().await;
    desk(&server).await;
    let mut page = Cdp::open_live(
        &browser,
        "UTC",
        &server,
        "/calendars/desk?tz=Europe/Berlin&week=2026-W48",
        Duration::from_secs(20),
    )
    .await;
    let top = |selector: &str| {
        format!(
            "(() => {{ const r = document.querySelector('{selector}').getBoundingClientRect(); \
             return [r.top, r.bottom, r.height]; }})()"
        )
    };
    let button = page.eval(&top("#edit-open")).await;
    let grid = page.eval(&top("#grid")).await;
    let (button_top, button_bottom) = (button[0].as_f64().unwrap(), button[1].as_f64().unwrap());
    assert!(button[2].as_f64().unwrap() > 0.0, "shown: {button}");
    assert!(
        button_bottom <= grid[0].as_f64().unwrap(),
        "above the grid: {button} {grid}"
    );
    // In the first screenful (the browser's window is 900 pixels high).
    assert!(button_top >= 0.0 && button_bottom < 900.0, "{button}");
    page.eval("document.getElementById('edit-open').click()")
        .await;
    let form = page.eval(&top("#key-form")).await;
    let grid = page.eval(&top("#grid")).await;
    assert!(form[2].as_f64().unwrap() > 0.0, "shown: {form}");
    assert!(
        form[1].as_f64().unwrap() <= grid[0].as_f64().unwrap(),
        "above the grid: {form} {grid}"
    );
    assert_eq!(
        page.eval("document.activeElement.id").await,
        "key",
        "the key field has the focus"
    );
}

/// A wrong zone in a week page's address answers the browser with a page that says so, with
/// the status, and a link back that opens the week; `curl` and other programs still get
/// `application/problem+json`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_zone_is_a_problem_page_with_a_way_back() {
    let Some(browser) = chromium("a_wrong_zone_is_a_problem_page_with_a_way_back") else {
        return;
    };
    let server = TestServer::start().await;
    desk(&server).await;
    let path = "/calendars/desk?tz=Europe/Berln&week=2026-W48";
    let url = format!("https://127.0.0.1:{}{path}", server.addr.port());
    let mut page = Cdp::open(&browser, "UTC", &url).await;
    let long = Duration::from_secs(20);
    page.wait_for(
        "document.body && document.body.dataset.kind === 'problem'",
        long,
    )
    .await;
    assert_eq!(
        page.eval("performance.getEntriesByType('navigation')[0].responseStatus")
            .await,
        400
    );
    assert_eq!(
        page.eval("document.querySelector('h1').textContent").await,
        "400 Bad Request"
    );
    let detail = page
        .eval("document.getElementById('detail').textContent")
        .await;
    assert!(
        detail.as_str().unwrap().contains("Europe/Berln"),
        "{detail}"
    );
    // Back to the week, without the parameters that were wrong.
    assert_eq!(
        page.eval(
            "(() => { const back = new URL(document.getElementById('back').href); \
             return back.origin === location.origin ? back.pathname + back.search : ''; })()"
        )
        .await,
        "/calendars/desk"
    );
    page.eval("document.getElementById('back').click()").await;
    page.wait_for(
        "document.body && document.body.dataset.kind === 'calendar' \
         && document.body.dataset.live === 'open'",
        long,
    )
    .await;
    assert_eq!(page.eval("location.pathname").await, "/calendars/desk");
    assert_eq!(
        page.eval("document.querySelectorAll('td[data-slot]').length")
            .await,
        336
    );
    drop(page);

    // `curl`: no Accept, or any; and a script's `fetch`.
    let client = server.client(Version::HTTP_11);
    for accept in [None, Some("*/*"), Some("application/json")] {
        let headers: Vec<(&str, &str)> = accept.map(|a| ("accept", a)).into_iter().collect();
        client
            .get_with("/calendars/desk/availability?tz=Europe/Berln", &headers)
            .await
            .problem(StatusCode::BAD_REQUEST);
        client
            .get_with(path, &headers)
            .await
            .problem(StatusCode::BAD_REQUEST);
    }
    let r = client.get_with(path, &[("accept", HTML)]).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    screenshot(&browser, &server, path, "problem").await;
}
