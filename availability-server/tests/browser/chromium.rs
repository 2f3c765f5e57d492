//! Chromium itself: found on this machine (or the test skipped), run headless one at a time,
//! for the DOM of a page once its script ran, or for a screenshot.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use super::Cdp;
use crate::support::{cannot_run, TestServer};

/// The browser, or `None` after saying loudly that `test` is skipped.
pub(super) fn chromium(test: &str) -> Option<PathBuf> {
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
pub(super) fn base_args(profile: &Path) -> Vec<String> {
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
pub(super) static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

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
pub(super) async fn dump_dom(browser: &Path, server: &TestServer, path: &str, tz: &str) -> String {
    let mut page = Cdp::open_live(browser, tz, server, path, Duration::from_secs(30)).await;
    let dom = page.eval("document.documentElement.outerHTML").await;
    let dom = dom.as_str().unwrap().to_owned();
    assert!(
        dom.contains("data-slot"),
        "no grid at {path}: {}",
        start_of(&dom)
    );
    dom
}

/// A screenshot of the page at `path`, written to `target/screenshots/<name>.png` of the
/// workspace (docs/api.md links them).
pub(super) async fn screenshot(browser: &Path, server: &TestServer, path: &str, name: &str) {
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
pub(super) fn start_of(dom: &str) -> String {
    dom.chars().take(1500).collect()
}
