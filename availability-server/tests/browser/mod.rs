//! The pages in a real browser: headless Chromium reads the grid a person sees and compares it
//! with the API's answer for the same zone and week, watches a page change live after an API
//! write, paints and saves in edit mode, marks booked slots, today and now, answers a wrong
//! address with a page, and fetches across origins.
//!
//! Chromium is a test oracle like Python's zoneinfo (`availability-core/tests/tz_zoneinfo.rs`):
//! when it is missing, these tests say loudly that they skipped, unless `CI` or
//! `AVAILABILITY_REQUIRE_ORACLES` is set, when a missing browser is a failure. `CHROMIUM`
//! names the browser's binary when it is not `chromium` on the `PATH`.
//!
//! - `book`: the booking page lists the API's slots and books one with a click;
//! - `chromium`: finding the browser and running it once, for a page's DOM or a screenshot;
//! - `cdp`: a browser driven over the DevTools protocol, for what a page does over time;
//! - `live`: an open page following API writes, and edit mode;
//! - `marks`: what a page marks besides statuses (booked slots, today and now in the legend,
//!   the edit control at the top) and a wrong address answered as a page;
//! - `origins`: pages of other origins reading and writing the API;
//! - here: the grid a person sees against the API's answer.

mod book;
mod cdp;
mod chromium;
mod live;
mod marks;
mod origins;

use std::time::Duration;

use http::{Method, StatusCode, Version};

use crate::pages::grid;
use crate::support::TestServer;
use cdp::Cdp;
use chromium::{chromium, dump_dom, screenshot, start_of};

/// The statuses of the API's week, by slot.
async fn api_statuses(server: &TestServer, query: &str) -> Vec<String> {
    let r = server
        .client(Version::HTTP_11)
        .get(&format!("/calendars/desk/availability?{query}"))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    r.json()["slots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["status"].as_str().unwrap().to_owned())
        .collect()
}

/// The statuses of a page's grid, by slot; every slot exactly once.
fn page_statuses(dom: &str) -> Vec<String> {
    let cells = grid(dom);
    assert_eq!(cells.len(), 336);
    let mut out = vec![String::new(); 336];
    for (slot, status, _) in cells {
        assert!(out[slot].is_empty(), "slot {slot} twice");
        out[slot] = status;
    }
    out
}

/// A calendar `desk` in Berlin whose week has edges on half hours, across midnight and on
/// the week's ends.
async fn desk(server: &TestServer) -> String {
    let key = server.create_calendar("desk", "Europe/Berlin").await;
    let r = server
        .client(Version::HTTP_11)
        .json(
            Method::PUT,
            "/calendars/desk/availability",
            &key,
            r#"{"updates":[{"day":"monday","from":"00:00","to":"02:30","status":"available"},
                {"day":"monday","from":"09:00","to":"17:00","status":"available"},
                {"day":"tuesday","from":"08:30","to":"12:00","status":"maybe"},
                {"day":"wednesday","from":"13:00","to":"19:30","status":"available"},
                {"day":"wednesday","from":"19:30","to":"21:00","status":"maybe"},
                {"day":"friday","from":"22:00","to":"24:00","status":"available"},
                {"day":"sunday","from":"20:00","to":"24:00","status":"maybe"}]}"#,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    key
}

/// The grid a person sees equals the API's answer, cell by cell, in Los Angeles (a week with
/// its DST change) and in Kathmandu (+05:45); and the two differ as the API's answers do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_grid_equals_the_api_in_two_zones() {
    let Some(browser) = chromium("the_page_grid_equals_the_api_in_two_zones") else {
        return;
    };
    let server = TestServer::start().await;
    desk(&server).await;
    let mut seen = Vec::new();
    for zone in ["America/Los_Angeles", "Asia/Kathmandu"] {
        let query = format!("tz={zone}&week=2026-W44");
        let dom = dump_dom(
            &browser,
            &server,
            &format!("/calendars/desk?{query}"),
            "UTC",
        )
        .await;
        // The script ran: it made the grid keyboard reachable.
        assert!(dom.contains("tabindex=\"0\""), "the script ran");
        let page = page_statuses(&dom);
        let api = api_statuses(&server, &query).await;
        for slot in 0..336 {
            assert_eq!(page[slot], api[slot], "{zone}, slot {slot}");
        }
        seen.push((page, api));
    }
    assert_ne!(seen[0].1, seen[1].1, "the API's answers differ");
    assert_ne!(seen[0].0, seen[1].0, "and so do the pages");
    screenshot(
        &browser,
        &server,
        "/calendars/desk?tz=America/Los_Angeles&week=2026-W44",
        "calendar",
    )
    .await;
}

/// Without `?tz=`, the script shows the week in the browser's zone (without scripts the
/// server's default renders: `tests/pages.rs`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_follows_the_browsers_zone() {
    let Some(browser) = chromium("the_page_follows_the_browsers_zone") else {
        return;
    };
    let server = TestServer::start().await;
    desk(&server).await;
    let dom = dump_dom(
        &browser,
        &server,
        "/calendars/desk?week=2026-W45",
        "Asia/Kathmandu",
    )
    .await;
    // Chromium names the zone by its older spelling; either names the same rules.
    assert!(
        dom.contains("data-tz=\"Asia/Kathmandu\"") || dom.contains("data-tz=\"Asia/Katmandu\""),
        "{}",
        start_of(&dom)
    );
    let api = api_statuses(&server, "tz=Asia/Kathmandu&week=2026-W45").await;
    assert_eq!(page_statuses(&dom), api);
}

/// A group's page in the browser: the counts and statuses equal the API's; and a screenshot.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_group_page_equals_the_api() {
    let Some(browser) = chromium("the_group_page_equals_the_api") else {
        return;
    };
    let server = TestServer::start().await;
    desk(&server).await;
    let other = server.create_calendar("kathmandu", "Asia/Kathmandu").await;
    let client = server.client(Version::HTTP_11);
    let r = client
        .json(
            Method::PUT,
            "/calendars/kathmandu/availability",
            &other,
            r#"{"updates":[{"day":"monday","from":"10:00","to":"20:00","status":"available"},
                {"day":"wednesday","from":"18:00","to":"23:00","status":"available"}]}"#,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = client
        .json(
            Method::PUT,
            "/groups/team",
            &server.admin,
            r#"{"members":["desk","kathmandu"]}"#,
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let path = "/groups/team?tz=Europe/London&week=2026-W48";
    let dom = dump_dom(&browser, &server, path, "UTC").await;
    let api = client
        .get("/groups/team/availability?tz=Europe/London&week=2026-W48")
        .await
        .json();
    let cells = grid(&dom);
    assert_eq!(cells.len(), 336);
    for (slot, status, available) in cells {
        assert_eq!(api["slots"][slot]["status"], status.as_str(), "slot {slot}");
        assert_eq!(
            api["slots"][slot]["available"],
            available.unwrap(),
            "slot {slot}"
        );
    }
    assert!(dom.contains("Move to a slot to see who is free (2 members)"));
    // Who is free, on keyboard focus: Monday 10:00 London has both, 01:00 only the desk.
    assert_eq!(api["slots"][20]["available"], 2);
    assert_eq!(api["slots"][2]["available"], 1);
    let mut page = Cdp::open_live(&browser, "UTC", &server, path, Duration::from_secs(20)).await;
    let who = "document.getElementById('who').textContent";
    page.eval("document.querySelector('td[data-slot=\"20\"]').focus()")
        .await;
    assert_eq!(
        page.eval(who).await,
        "10:00, Mon 23 Nov: free: desk, kathmandu"
    );
    page.eval("document.querySelector('td[data-slot=\"2\"]').focus()")
        .await;
    assert_eq!(page.eval(who).await, "01:00, Mon 23 Nov: free: desk");
    drop(page);
    screenshot(&browser, &server, path, "group").await;
}
