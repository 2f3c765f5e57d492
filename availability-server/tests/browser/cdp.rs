//! The DevTools protocol, for what a page does over time: a browser with a debugging port,
//! one page attached to it, and a minimal WebSocket client (text frames, as the protocol uses).

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

use super::chromium::{base_args, ONE_AT_A_TIME};

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
    /// Starts the browser in `tz` and opens page `path` of `server`, returning once its
    /// script ran and its event stream is open (within `within`).
    pub(crate) async fn open_live(
        browser: &Path,
        tz: &str,
        server: &crate::support::TestServer,
        path: &str,
        within: Duration,
    ) -> Cdp {
        let url = format!("https://127.0.0.1:{}{path}", server.addr.port());
        let mut page = Cdp::open(browser, tz, &url).await;
        page.wait_for(
            "document.body && document.body.dataset.live === 'open'",
            within,
        )
        .await;
        page
    }

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
