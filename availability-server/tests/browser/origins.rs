//! Other origins in a real browser: a page served from another origin reads a public week with
//! `fetch`, and only a listed origin may write.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{api_statuses, chromium, desk, Cdp};
use crate::support::TestServer;

/// A page of another origin: a plain HTTP server on `listener` that answers every request
/// with `html`. Returns its origin.
fn other_origin(listener: tokio::net::TcpListener, html: String) -> String {
    let origin = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let html = html.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                while !head.ends_with(b"\r\n\r\n") {
                    match socket.read_u8().await {
                        Ok(byte) => head.push(byte),
                        Err(_) => return,
                    }
                }
                let answer = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n\
                     Content-Length: {}\r\nConnection: close\r\n\r\n{html}",
                    html.len()
                );
                let _ = socket.write_all(answer.as_bytes()).await;
            });
        }
    });
    origin
}

/// The script of a page of another origin: it reads a public week from the API, then tries
/// to write it with the calendar's key, and leaves both outcomes on `document.body`.
fn cross_origin_page(api: &str, key: &str) -> String {
    format!(
        r#"<!doctype html><html><body><script>
(async () => {{
  try {{
    const r = await fetch("{api}/calendars/desk/availability?tz=UTC&week=2026-W48");
    const week = await r.json();
    document.body.dataset.read = "slots:" + week.slots.length;
  }} catch (e) {{ document.body.dataset.read = "failed: " + e; }}
  try {{
    const r = await fetch("{api}/calendars/desk/availability", {{
      method: "PATCH",
      headers: {{ "Content-Type": "application/json", "Authorization": "Bearer {key}" }},
      body: JSON.stringify({{ updates: [{{ day: 3, time: "13:00", status: "available" }}] }}),
    }});
    document.body.dataset.write = "status:" + r.status;
  }} catch (e) {{ document.body.dataset.write = "blocked"; }}
}})();
</script></body></html>"#
    )
}

/// A real cross-origin `fetch` in the browser: a page of another origin reads a public week
/// from the API; its write is blocked by CORS unless its origin is listed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_of_another_origin_reads_and_only_a_listed_one_writes() {
    let Some(browser) = chromium("a_page_of_another_origin_reads_and_only_a_listed_one_writes")
    else {
        return;
    };
    // The API must know the listed origin when it starts, so that origin's port is reserved
    // first and its page server started on it later, once the page can name the API.
    let listed_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let listed_port = listed_listener.local_addr().unwrap().port();
    drop(listed_listener);
    let server = TestServer::start_tweaked(|config| {
        config.cors_origins = vec![format!("http://127.0.0.1:{listed_port}")];
    })
    .await;
    let key = desk(&server).await;
    let api = format!("https://127.0.0.1:{}", server.addr.port());
    let any_port = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let stranger = other_origin(any_port, cross_origin_page(&api, &key));

    let mut page = Cdp::open(&browser, "UTC", &stranger).await;
    page.wait_for(
        "document.body && document.body.dataset.write",
        Duration::from_secs(20),
    )
    .await;
    assert_eq!(page.eval("document.body.dataset.read").await, "slots:336");
    assert_eq!(page.eval("document.body.dataset.write").await, "blocked");
    drop(page);
    let week = api_statuses(&server, "tz=Europe/Berlin&week=2026-W48").await;
    assert_eq!(
        week[3 * 48 + 26],
        "unavailable",
        "the blocked write changed nothing"
    );

    // The listed origin, on the port reserved for it.
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", listed_port))
        .await
        .unwrap();
    let listed = other_origin(listener, cross_origin_page(&api, &key));
    let mut page = Cdp::open(&browser, "UTC", &listed).await;
    page.wait_for(
        "document.body && document.body.dataset.write",
        Duration::from_secs(20),
    )
    .await;
    assert_eq!(page.eval("document.body.dataset.read").await, "slots:336");
    assert_eq!(page.eval("document.body.dataset.write").await, "status:200");
    let week = api_statuses(&server, "tz=Europe/Berlin&week=2026-W48").await;
    assert_eq!(
        week[3 * 48 + 26],
        "available",
        "the listed origin's write landed"
    );
}
