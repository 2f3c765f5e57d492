//! The booking page in a real browser: it lists exactly the starts the API's slots answer
//! gives for the same zone and dates, and a click books one, which the API then shows.

use std::time::Duration;

use http::{Method, StatusCode, Version};
use serde_json::Value;

use super::{chromium, Cdp};
use crate::support::TestServer;

/// A public calendar in Kathmandu, weekdays 09:00-12:00, with a one-hour lesson; its page
/// from New York for next Monday's dates equals the API, and a click books the first start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_booking_page_lists_the_slots_and_books_one() {
    let Some(browser) = chromium("the_booking_page_lists_the_slots_and_books_one") else {
        return;
    };
    let server = TestServer::start().await;
    let client = server.client(Version::HTTP_11);
    let admin = server.admin.clone();
    let r = client
        .json(
            Method::POST,
            "/calendars",
            &admin,
            r#"{"id":"tutor","timezone":"Asia/Kathmandu","booking":"public"}"#,
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let key = r.json()["key"].as_str().unwrap().to_owned();
    let hours: Vec<String> = ["monday", "tuesday", "wednesday", "thursday", "friday"]
        .iter()
        .map(|d| format!(r#"{{"day":"{d}","from":"09:00","to":"12:00","status":"available"}}"#))
        .collect();
    let body = format!(r#"{{"updates":[{}]}}"#, hours.join(","));
    let r = client
        .json(Method::PUT, "/calendars/tutor/availability", &key, &body)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let r = client
        .json(
            Method::PUT,
            "/calendars/tutor/booking-types/lesson",
            &key,
            r#"{"duration":60,"interval":30,"label":"Lesson"}"#,
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    // Three days on, whatever today is: the lessons of two Kathmandu dates at most.
    let day = (chrono::Utc::now() + chrono::Days::new(3)).date_naive();
    let query = format!("type=lesson&tz=America/New_York&from={day}&to={day}");
    let api = client.get(&format!("/calendars/tutor/slots?{query}")).await;
    let api_starts: Vec<Value> = api.json()["slots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["start"].clone())
        .collect();

    let url = format!(
        "https://127.0.0.1:{}/calendars/tutor/slots?{query}",
        server.addr.port()
    );
    let mut page = Cdp::open(&browser, "America/New_York", &url).await;
    // Until the script has attached its handlers (it is deferred: the list shows first).
    page.wait_for(
        "document.body && document.body.dataset.ready === '1'",
        Duration::from_secs(20),
    )
    .await;
    let shown = page
        .eval("JSON.stringify([...document.querySelectorAll('button[data-start]')].map(b => b.dataset.start))")
        .await;
    let shown: Vec<Value> = serde_json::from_str(shown.as_str().unwrap()).unwrap();
    assert_eq!(shown, api_starts, "the page lists the API's starts");
    if shown.is_empty() {
        // A weekend in Kathmandu: nothing to book, and the page says so.
        let none = page
            .eval("document.querySelector('.none').textContent")
            .await;
        assert_eq!(none, "No times");
        return;
    }
    page.eval("document.getElementById('book-label').value = 'Ana'; document.querySelector('button[data-start]').click()")
        .await;
    page.wait_for(
        "document.getElementById('live').textContent.startsWith('Booked')",
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(
        page.eval("document.querySelector('button[data-start]').classList.contains('booked')")
            .await,
        true
    );
    let r = client
        .authed(Method::GET, "/calendars/tutor/bookings", &key)
        .await;
    let bookings = r.json()["bookings"].as_array().cloned().unwrap();
    assert_eq!(bookings.len(), 1, "{}", r.text());
    assert_eq!(bookings[0]["type"], "lesson");
    assert_eq!(bookings[0]["label"], "Ana");
    let first = shown[0].as_str().unwrap();
    let booked_at =
        chrono::DateTime::parse_from_rfc3339(bookings[0]["start"].as_str().unwrap()).unwrap();
    assert_eq!(
        booked_at,
        chrono::DateTime::parse_from_rfc3339(first).unwrap()
    );
    let after = client.get(&format!("/calendars/tutor/slots?{query}")).await;
    assert!(
        !after.text().contains(first),
        "the booked start left the list: {}",
        after.text()
    );
}
