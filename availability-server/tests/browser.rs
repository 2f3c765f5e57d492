//! The pages in a real browser: headless Chromium reads the grid a person sees and compares it
//! with the API's answer for the same zone and week, watches a page change live after an API
//! write, paints and saves in edit mode, and fetches across origins.
//!
//! Chromium is a test oracle like Python's zoneinfo (`availability-core/tests/tz_zoneinfo.rs`):
//! when it is missing, these tests say loudly that they skipped, unless `CI` or
//! `AVAILABILITY_REQUIRE_ORACLES` is set, when a missing browser is a failure. `CHROMIUM`
//! names the browser's binary when it is not `chromium` on the `PATH`.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use http::{Method, StatusCode, Version};

use crate::pages::grid;
use crate::support::{cannot_run, TestServer};

/// The browser, or `None` after saying loudly that `test` is skipped.
pub(crate) fn chromium(test: &str) -> Option<PathBuf> {
    let named = std::env::var_os("CHROMIUM").map(PathBuf::from);
    let found = named.into_iter().chain(
        ["chromium", "chromium-browser", "google-chrome"]
            .iter()
            .filter_map(|name| {
                std::env::var_os("PATH").and_then(|path| {
                    std::env::split_paths(&path)
                        .map(|dir| dir.join(name))
                        .find(|p| p.is_file())
                })
            }),
    );
    let found = found.into_iter().find(|p| p.is_file());
    if found.is_none() {
        cannot_run(
            test,
            "no Chromium on this machine (apt-get install -y chromium, or set CHROMIUM)",
        );
    }
    found
}

/// The flags of every run: headless, the test certificate taken as it is, no first-run
/// chores, a profile of its own.
fn base_args(profile: &Path) -> Vec<String> {
    vec![
        "--headless".into(),
        "--no-sandbox".into(),
        "--disable-gpu".into(),
        "--ignore-certificate-errors".into(),
        "--no-first-run".into(),
        "--no-default-browser-check".into(),
        "--disable-extensions".into(),
        "--disable-dev-shm-usage".into(),
        format!("--user-data-dir={}", profile.display()),
    ]
}

/// One browser at a time: several at once on a small machine slow each other past their
/// time limits, and the tests measure how fast a page reacts.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Runs the browser with `args` in time zone `tz`; returns what it printed.
async fn run(browser: &Path, tz: &str, args: &[String]) -> String {
    let _turn = ONE_AT_A_TIME.lock().await;
    let profile = tempfile::tempdir().unwrap();
    let mut all = base_args(profile.path());
    all.extend_from_slice(args);
    let child = tokio::process::Command::new(browser)
        .args(&all)
        .env("TZ", tz)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let out = tokio::time::timeout(Duration::from_secs(120), child.wait_with_output())
        .await
        .expect("the browser finished within two minutes")
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The page at `path` as the browser shows it once its script ran and its event stream is
/// open. (Not `--dump-dom` with a virtual time budget: the page's open event stream keeps
/// virtual time from advancing.)
pub(crate) async fn dump_dom(browser: &Path, server: &TestServer, path: &str, tz: &str) -> String {
    let url = format!("https://127.0.0.1:{}{path}", server.addr.port());
    let mut page = Cdp::open(browser, tz, &url).await;
    page.wait_for(
        "document.body && document.body.dataset.live === 'open'",
        Duration::from_secs(30),
    )
    .await;
    let dom = page.eval("document.documentElement.outerHTML").await;
    let dom = dom.as_str().unwrap().to_owned();
    assert!(
        dom.contains("data-slot"),
        "no grid at {url}: {}",
        start_of(&dom)
    );
    dom
}

/// A screenshot of the page at `path`, written to `target/screenshots/<name>.png` of the
/// workspace (docs/api.md links them).
pub(crate) async fn screenshot(browser: &Path, server: &TestServer, path: &str, name: &str) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(format!("{name}.png"));
    let _ = std::fs::remove_file(&file);
    let url = format!("https://127.0.0.1:{}{path}", server.addr.port());
    run(
        browser,
        "UTC",
        &[
            "--hide-scrollbars".into(),
            "--window-size=1100,1400".into(),
            format!("--screenshot={}", file.display()),
            url,
        ],
    )
    .await;
    let png = std::fs::read(&file).unwrap_or_default();
    assert!(
        png.starts_with(b"\x89PNG"),
        "a screenshot at {}",
        file.display()
    );
}

/// The start of a page, for a failure's message.
fn start_of(dom: &str) -> String {
    dom.chars().take(1500).collect()
}

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
    let url = format!("https://127.0.0.1:{}{path}", server.addr.port());
    let mut page = Cdp::open(&browser, "UTC", &url).await;
    page.wait_for(
        "document.body && document.body.dataset.live === 'open'",
        Duration::from_secs(20),
    )
    .await;
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

// ---------------------------------------------------------------------------------------
// The DevTools protocol, for what a page does over time: a browser with a debugging port,
// one page attached to it, and a minimal WebSocket client (text frames, as the protocol uses).

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

/// A headless browser with one page, driven over the DevTools protocol.
pub(crate) struct Cdp {
    _turn: tokio::sync::MutexGuard<'static, ()>,
    _child: tokio::process::Child,
    _profile: tempfile::TempDir,
    socket: tokio::net::TcpStream,
    next_id: u64,
    session: String,
}

impl Cdp {
    /// Starts the browser in `tz` and opens `url` in a page.
    pub(crate) async fn open(browser: &Path, tz: &str, url: &str) -> Cdp {
        let turn = ONE_AT_A_TIME.lock().await;
        let profile = tempfile::tempdir().unwrap();
        let mut args = base_args(profile.path());
        args.extend([
            "--remote-debugging-port=0".to_owned(),
            "--window-size=1100,900".to_owned(),
            "about:blank".to_owned(),
        ]);
        let mut child = tokio::process::Command::new(browser)
            .args(&args)
            .env("TZ", tz)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let endpoint = tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(line) = lines.next_line().await.unwrap() {
                if let Some(at) = line.find("ws://") {
                    return line[at..].trim().to_owned();
                }
            }
            panic!("the browser ended without a debugging endpoint")
        })
        .await
        .expect("the browser's debugging endpoint");
        // Keep reading the browser's messages so that it never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let rest = endpoint.trim_start_matches("ws://");
        let (host, path) = rest.split_at(rest.find('/').unwrap());
        let mut socket = tokio::net::TcpStream::connect(host).await.unwrap();
        let handshake = format!(
            "GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
        socket.write_all(handshake.as_bytes()).await.unwrap();
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            head.push(socket.read_u8().await.unwrap());
        }
        assert!(
            head.starts_with(b"HTTP/1.1 101"),
            "{}",
            String::from_utf8_lossy(&head)
        );
        let mut cdp = Cdp {
            _turn: turn,
            _child: child,
            _profile: profile,
            socket,
            next_id: 0,
            session: String::new(),
        };
        let target = cdp
            .call("Target.createTarget", serde_json::json!({ "url": url }))
            .await;
        let target_id = target["targetId"].as_str().unwrap().to_owned();
        let attached = cdp
            .call(
                "Target.attachToTarget",
                serde_json::json!({ "targetId": target_id, "flatten": true }),
            )
            .await;
        cdp.session = attached["sessionId"].as_str().unwrap().to_owned();
        cdp
    }

    async fn send_text(&mut self, text: &str) {
        let payload = text.as_bytes();
        let mut frame = vec![0x81u8];
        // Client frames are masked; a zero mask leaves the payload as it is.
        match payload.len() {
            n if n < 126 => frame.push(0x80 | n as u8),
            n if n <= 0xffff => {
                frame.push(0x80 | 126);
                frame.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                frame.push(0x80 | 127);
                frame.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        frame.extend_from_slice(&[0, 0, 0, 0]);
        frame.extend_from_slice(payload);
        self.socket.write_all(&frame).await.unwrap();
    }

    async fn read_text(&mut self) -> String {
        let mut message = Vec::new();
        loop {
            let first = self.socket.read_u8().await.unwrap();
            let second = self.socket.read_u8().await.unwrap();
            let len = match second & 0x7f {
                126 => u64::from(self.socket.read_u16().await.unwrap()),
                127 => self.socket.read_u64().await.unwrap(),
                n => u64::from(n),
            };
            let mut payload = vec![0u8; usize::try_from(len).unwrap()];
            self.socket.read_exact(&mut payload).await.unwrap();
            match first & 0x0f {
                0x8 => panic!("the browser closed the DevTools connection"),
                0x9 | 0xa => continue,
                _ => message.extend_from_slice(&payload),
            }
            if first & 0x80 != 0 {
                return String::from_utf8(message).unwrap();
            }
        }
    }

    /// Calls `method`; returns its result (events that arrive meanwhile are dropped).
    pub(crate) async fn call(
        &mut self,
        method: &str,
        params: serde_json::Value,
    ) -> serde_json::Value {
        let answer = self.answer(method, params).await;
        assert!(answer.get("error").is_none(), "{method}: {answer}");
        answer["result"].clone()
    }

    /// Calls `method`; returns the whole answer, an error included.
    async fn answer(&mut self, method: &str, params: serde_json::Value) -> serde_json::Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut message = serde_json::json!({ "id": id, "method": method, "params": params });
        if !self.session.is_empty() {
            message["sessionId"] = self.session.clone().into();
        }
        self.send_text(&message.to_string()).await;
        let answer = tokio::time::timeout(Duration::from_secs(30), async {
            loop {
                let text = self.read_text().await;
                let value: serde_json::Value = serde_json::from_str(&text).unwrap();
                if value["id"] == id {
                    return value;
                }
            }
        })
        .await
        .expect("an answer from the browser");
        answer
    }

    /// The value of a JavaScript expression in the page (promises awaited).
    pub(crate) async fn eval(&mut self, expression: &str) -> serde_json::Value {
        let result = self
            .call(
                "Runtime.evaluate",
                serde_json::json!({
                    "expression": expression,
                    "returnByValue": true,
                    "awaitPromise": true,
                }),
            )
            .await;
        assert!(
            result.get("exceptionDetails").is_none(),
            "{expression}: {result}"
        );
        result["result"]["value"].clone()
    }

    /// Waits until `expression` is true in the page; how long that took.
    pub(crate) async fn wait_for(&mut self, expression: &str, within: Duration) -> Duration {
        let started = std::time::Instant::now();
        loop {
            // While the page navigates, there is nothing to evaluate in: not yet.
            let answer = self
                .answer(
                    "Runtime.evaluate",
                    serde_json::json!({
                        "expression": format!("Boolean({expression})"),
                        "returnByValue": true,
                    }),
                )
                .await;
            if answer["result"]["result"]["value"] == true {
                return started.elapsed();
            }
            assert!(
                started.elapsed() < within,
                "not within {within:?}: {expression}"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// The centre of slot cell `slot`, scrolled into view.
    async fn centre(&mut self, slot: usize, scroll: bool) -> (f64, f64) {
        let point = self
            .eval(&format!(
                "(() => {{ const td = document.querySelector('td[data-slot=\"{slot}\"]'); \
                 if ({scroll}) td.scrollIntoView({{block: 'center'}}); \
                 const r = td.getBoundingClientRect(); \
                 return [r.left + r.width / 2, r.top + r.height / 2]; }})()"
            ))
            .await;
        (point[0].as_f64().unwrap(), point[1].as_f64().unwrap())
    }

    async fn mouse(&mut self, kind: &str, (x, y): (f64, f64), buttons: u8) {
        self.call(
            "Input.dispatchMouseEvent",
            serde_json::json!({
                "type": kind, "x": x, "y": y, "button": "left",
                "buttons": buttons, "clickCount": 1,
            }),
        )
        .await;
    }

    /// Drags the mouse from the first slot cell of `slots` over the others.
    pub(crate) async fn drag(&mut self, slots: &[usize]) {
        let start = self.centre(slots[0], true).await;
        self.mouse("mouseMoved", start, 0).await;
        self.mouse("mousePressed", start, 1).await;
        for &slot in &slots[1..] {
            let point = self.centre(slot, false).await;
            self.mouse("mouseMoved", point, 1).await;
        }
        let end = self.centre(slots[slots.len() - 1], false).await;
        self.mouse("mouseReleased", end, 0).await;
    }

    /// Presses a key (`key` as the DOM names it, with its key code).
    pub(crate) async fn key(&mut self, key: &str, code: &str, key_code: u32) {
        for kind in ["keyDown", "keyUp"] {
            self.call(
                "Input.dispatchKeyEvent",
                serde_json::json!({
                    "type": kind, "key": key, "code": code,
                    "windowsVirtualKeyCode": key_code, "nativeVirtualKeyCode": key_code,
                }),
            )
            .await;
        }
    }
}

/// An API write makes an open page change without a reload, within 2 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_page_changes_live_after_an_api_write() {
    let Some(browser) = chromium("an_open_page_changes_live_after_an_api_write") else {
        return;
    };
    let server = TestServer::start().await;
    let key = desk(&server).await;
    let url = format!(
        "https://127.0.0.1:{}/calendars/desk?tz=UTC&week=2026-W48",
        server.addr.port()
    );
    let mut page = Cdp::open(&browser, "UTC", &url).await;
    page.wait_for(
        "document.body && document.body.dataset.live === 'open'",
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
