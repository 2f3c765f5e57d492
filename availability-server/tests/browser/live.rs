//! A page over time: an open page changes after an API write without a reload, and edit mode
//! paints, saves, and reloads when its save was stale.

use std::time::Duration;

use http::{Method, StatusCode, Version};

use super::{api_statuses, chromium, desk, page_statuses, Cdp};
use crate::support::TestServer;

/// An API write makes an open page change without a reload, within 2 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_page_changes_live_after_an_api_write() {
    let Some(browser) = chromium("an_open_page_changes_live_after_an_api_write") else {
        return;
    };
    let server = TestServer::start().await;
    let key = desk(&server).await;
    let mut page = Cdp::open_live(
        &browser,
        "UTC",
        &server,
        "/calendars/desk?tz=UTC&week=2026-W48",
        Duration::from_secs(20),
    )
    .await;
    page.eval("window.keptAcrossUpdates = 42").await;
    // Thursday 13:00 in Berlin is Thursday 12:00 UTC in this week: slot 3 * 48 + 24.
    let cell = "document.querySelector('td[data-slot=\"168\"]').dataset.status";
    assert_eq!(page.eval(cell).await, "unavailable");
    let r = server
        .client(Version::HTTP_11)
        .json(
            Method::PATCH,
            "/calendars/desk/availability",
            &key,
            r#"{"updates":[{"day":"thursday","time":"13:00","status":"available"}]}"#,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let took = page
        .wait_for(&format!("{cell} === 'available'"), Duration::from_secs(2))
        .await;
    assert!(took < Duration::from_secs(2), "{took:?}");
    assert_eq!(page.eval("window.keptAcrossUpdates").await, 42, "no reload");
    assert_eq!(page.eval("document.body.dataset.version").await, "3");
    // The whole grid is the API's again.
    let dom = page.eval("document.documentElement.outerHTML").await;
    assert_eq!(
        page_statuses(dom.as_str().unwrap()),
        api_statuses(&server, "tz=UTC&week=2026-W48").await
    );
}

/// Edit mode: the owner pastes a key, paints with the mouse and the keyboard, saves with one
/// `PATCH` carrying `If-Match`; when someone else changed the week meanwhile, the save is
/// refused (412) and the page shows the week as it is now.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edit_mode_paints_and_saves_and_a_stale_save_reloads() {
    let Some(browser) = chromium("edit_mode_paints_and_saves_and_a_stale_save_reloads") else {
        return;
    };
    let server = TestServer::start().await;
    let key = desk(&server).await;
    // The page opens in another zone: edit mode moves to the owner's.
    let url = format!(
        "https://127.0.0.1:{}/calendars/desk?tz=Asia/Kathmandu&week=2026-W48",
        server.addr.port()
    );
    let mut page = Cdp::open(&browser, "UTC", &url).await;
    let long = Duration::from_secs(20);
    page.wait_for(
        "document.body && document.body.dataset.live === 'open'",
        long,
    )
    .await;
    page.eval("document.getElementById('edit-open').click()")
        .await;
    page.eval(&format!(
        "document.getElementById('key').value = '{key}'; \
         document.getElementById('key-form').requestSubmit()"
    ))
    .await;
    page.wait_for(
        "document.body && document.body.dataset.tz === 'Europe/Berlin' \
         && document.body.classList.contains('editing') \
         && document.body.dataset.live === 'open'",
        long,
    )
    .await;
    // The key is kept for this tab only.
    assert_eq!(page.eval("localStorage.length").await, 0);
    assert_eq!(
        page.eval("sessionStorage.getItem('availability-key:desk')")
            .await,
        key.as_str()
    );

    // Thursday 10:00-12:00 painted "maybe" with the mouse.
    page.eval("document.querySelector('input[name=brush][value=maybe]').click()")
        .await;
    page.drag(&[164, 165, 166, 167]).await;
    // Friday 04:30 painted "available" with the keyboard: focus 04:00, down, Space.
    page.eval("document.querySelector('input[name=brush][value=available]').click()")
        .await;
    page.eval("document.querySelector('td[data-slot=\"200\"]').focus()")
        .await;
    page.key("ArrowDown", "ArrowDown", 40).await;
    page.key(" ", "Space", 32).await;
    assert_eq!(
        page.eval("document.querySelectorAll('td.edited').length")
            .await,
        5
    );
    page.eval("document.getElementById('save').click()").await;
    page.wait_for(
        "document.getElementById('live').textContent.startsWith('Saved')",
        long,
    )
    .await;
    let api = api_statuses(&server, "tz=Europe/Berlin&week=2026-W48").await;
    assert_eq!(api[164..=167], ["maybe", "maybe", "maybe", "maybe"]);
    assert_eq!(api[200], "unavailable");
    assert_eq!(api[201], "available");
    assert_eq!(
        api[168], "unavailable",
        "the drag stopped where the mouse did"
    );

    // Someone else writes while this page has unsaved edits: its save is refused, and the
    // page shows the week as it is now.
    page.eval("document.querySelector('td[data-slot=\"300\"]').focus()")
        .await;
    page.key(" ", "Space", 32).await;
    let r = server
        .client(Version::HTTP_11)
        .json(
            Method::PATCH,
            "/calendars/desk/availability",
            &key,
            r#"{"updates":[{"day":"sunday","time":"01:00","status":"maybe"}]}"#,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    page.wait_for(
        "document.getElementById('live').textContent.startsWith('Someone else changed')",
        long,
    )
    .await;
    page.eval("document.getElementById('save').click()").await;
    page.wait_for(
        "document.getElementById('live').textContent.includes('was reloaded')",
        long,
    )
    .await;
    let api = api_statuses(&server, "tz=Europe/Berlin&week=2026-W48").await;
    assert_eq!(api[300], "unavailable", "the stale save wrote nothing");
    assert_eq!(api[290], "maybe", "the other write stands");
    let dom = page.eval("document.documentElement.outerHTML").await;
    assert_eq!(page_statuses(dom.as_str().unwrap()), api);
}
