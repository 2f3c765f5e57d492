//! The README's first-run path, with the real binary: an empty data directory gives a
//! working server and a printed admin key that can create a calendar and write to it; no
//! plaintext key is left on disk; SIGTERM exits 0; a second start reuses everything.

use http::{Method, StatusCode, Version};

use crate::support::{binary, Binary, Client};

/// The log level of every start: the server's own debug lines log every request; dependencies
/// stay at info, so the volume of frame-level logging does not slow the test on a busy machine.
const LOG: &str = "info,availability_server=debug";

/// Starts the binary over `data` with no more flags.
fn start(data: &std::path::Path) -> Binary {
    Binary::start(data, LOG, [""; 0])
}

// Multi-threaded: the test blocks on the child process while the client's connection tasks
// must go on running, to close their connections when the server asks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_run_with_the_real_binary() {
    let data = tempfile::tempdir().unwrap();
    let mut child = start(data.path());
    let root = child.root();
    let c = Client::new(child.addr, root.clone(), Version::HTTP_2);
    assert_eq!(c.get("/healthz").await.status, StatusCode::OK);

    // The key the first start printed is used on the second, over the same certificate.
    let code = child.terminate();
    assert_eq!(code, 0);
    let admin = child
        .printed_key()
        .expect("the first start prints an admin key");
    let mut logged = child.log();

    let mut child = start(data.path());
    let c = Client::new(child.addr, root, Version::HTTP_11);
    let key = c.create_calendar(&admin, "first", "Europe/Paris").await;
    let w = c
        .json(
            Method::PATCH,
            "/calendars/first/availability",
            &key,
            r#"{"updates":[{"day":"monday","from":"09:00","to":"17:00","status":"available"}]}"#,
        )
        .await;
    assert_eq!(w.status, StatusCode::OK, "{}", w.text());
    // A wrong secret and a mistyped key are refused; neither is logged.
    let id = availability_server::auth::key_id(&key).unwrap();
    let wrong = availability_server::auth::assemble(id, &[3; 20]);
    let typo = format!("{}x", &key[..key.len() - 1]);
    for bad in [&wrong, &typo] {
        let r = c
            .json(Method::PATCH, "/calendars/first/availability", bad, "{}")
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text());
    }
    assert_eq!(child.terminate(), 0);
    assert_eq!(child.printed_key(), None, "a second start prints no key");
    logged += &child.log();

    for entry in std::fs::read_dir(data.path()).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains(&admin) && !text.contains(&key));
    }
    // No key in the logs either (the server at debug level logs every request): not the
    // admin key, the calendar key, nor the refused ones.
    assert!(logged.contains("serving https"), "{logged}");
    assert!(
        logged.contains("status=401"),
        "the refusals were logged: {logged}"
    );
    for token in [&admin, &key, &wrong, &typo] {
        assert!(!logged.contains(token.as_str()), "a key in the logs");
    }
    // Nor any secret part of them (the id alone is public).
    for token in [&admin, &key] {
        assert!(!logged.contains(&token[17..]), "a secret in the logs");
    }

    // The write survived the restart.
    let mut child = start(data.path());
    let c = Client::new(child.addr, child.root(), Version::HTTP_2);
    let v = c.get("/calendars/first").await.json();
    // Created with its key in one commit (version 1), then one write.
    assert_eq!(v["version"], 2, "{v}");
    assert_eq!(v["timezone"], "Europe/Paris");
    assert_eq!(child.terminate(), 0);
}

/// SIGTERM the moment the server says it is serving is still a graceful stop (exit 0), not
/// the default action of a signal that arrives before its handler is installed.
#[test]
fn sigterm_right_after_start_is_graceful() {
    let data = tempfile::tempdir().unwrap();
    for _ in 0..5 {
        assert_eq!(start(data.path()).terminate(), 0);
    }
}

/// A TZif file (version 2) of one fixed offset, as `zic` writes it for such a zone.
fn fixed_tzif(offset: i32, rule: &str) -> Vec<u8> {
    let mut block = Vec::new();
    block.extend_from_slice(b"TZif2");
    block.extend_from_slice(&[0; 15]);
    // isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt
    for count in [0u32, 0, 0, 0, 1, 4] {
        block.extend_from_slice(&count.to_be_bytes());
    }
    block.extend_from_slice(&offset.to_be_bytes());
    block.extend_from_slice(&[0, 0]);
    block.extend_from_slice(b"XYZ\0");
    let mut file = block.clone();
    file.extend_from_slice(&block);
    file.extend_from_slice(format!("\n{rule}\n").as_bytes());
    file
}

/// An operator's zoneinfo directory replaces the bundled rules: the server reports its
/// release at startup, on /healthz and in /metrics, converts with its offsets, and no ETag of
/// the old rules is served for the new ones. A directory that cannot be used stops the start
/// with a message that names it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zoneinfo_directory_replaces_the_bundled_rules() {
    let data = tempfile::tempdir().unwrap();
    let zoneinfo = tempfile::tempdir().unwrap();
    std::fs::create_dir(zoneinfo.path().join("America")).unwrap();
    // A made-up release in which Vancouver is at UTC-03 all year.
    std::fs::write(
        zoneinfo.path().join("America/Vancouver"),
        fixed_tzif(-3 * 3600, "<-03>3"),
    )
    .unwrap();
    std::fs::write(zoneinfo.path().join("UTC"), fixed_tzif(0, "UTC0")).unwrap();
    std::fs::write(zoneinfo.path().join("+VERSION"), "2099a\n").unwrap();
    let view = "/availability?tz=America/Vancouver&week=2026-W49&format=intervals";

    let bundled = ["--tzdata-dir", "bundled"];
    let mut child = Binary::start(data.path(), LOG, bundled);
    let root = child.root();
    let c = Client::new(child.addr, root.clone(), Version::HTTP_11);
    let health = c.get("/healthz").await.json();
    let bundled_version = availability_core::tz::Tzdb::bundled().version();
    assert_eq!(health["tzdata"], bundled_version, "{health}");
    let old_tag = c.get(view).await.header("etag").unwrap().to_owned();
    assert_eq!(child.terminate(), 0);
    let admin = child.printed_key().unwrap();
    let logged = child.log();
    assert!(
        logged.contains(&format!("version=\"{bundled_version}\""))
            && logged.contains("from=bundled"),
        "{logged}"
    );

    let flags: [&std::ffi::OsStr; 4] = [
        "--tzdata-dir".as_ref(),
        zoneinfo.path().as_os_str(),
        "--metrics-public".as_ref(),
        "true".as_ref(),
    ];
    let mut child = Binary::start(data.path(), LOG, flags);
    let c = Client::new(child.addr, root, Version::HTTP_2);
    assert_eq!(c.get("/healthz").await.json()["tzdata"], "2099a");
    let metrics = c.get("/metrics").await.text();
    assert!(
        metrics.contains("availability_tzdata_info{version=\"2099a\"} 1"),
        "{metrics}"
    );
    let r = c.get(view).await;
    let new_tag = r.header("etag").unwrap().to_owned();
    assert_ne!(old_tag, new_tag, "the same calendar version, other rules");
    let stale = c
        .get_with(view, &[("if-none-match", old_tag.as_str())])
        .await;
    assert_eq!(
        stale.status,
        StatusCode::OK,
        "no 304 for a tag of the old rules"
    );
    let w = c
        .json(
            Method::PUT,
            "/calendars/default/availability",
            &admin,
            r#"{"updates":[{"day":"monday","from":"09:00","to":"10:00","status":"available"}]}"#,
        )
        .await;
    assert_eq!(w.status, StatusCode::OK, "{}", w.text());
    let exact = c.get(view).await.json();
    assert_eq!(
        exact["intervals"][0]["start"], "2026-11-30T06:00:00-03:00",
        "{exact}"
    );
    // Zones the directory lacks are unknown, by name.
    let r = c.get("/availability?tz=Europe/Berlin").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.text().contains("Europe/Berlin"));
    assert_eq!(child.terminate(), 0);
    let logged = child.log();
    assert!(logged.contains("version=\"2099a\""), "{logged}");

    // A release that lacks a zone a stored calendar uses would fail every read of it: the
    // start is refused, naming the zone.
    let mut child = Binary::start(data.path(), LOG, bundled);
    let c = Client::new(child.addr, child.root(), Version::HTTP_11);
    c.create_calendar(&admin, "paris", "Europe/Paris").await;
    assert_eq!(child.terminate(), 0);
    let stderr = refused_start(data.path(), zoneinfo.path());
    assert!(stderr.contains("has no zone Europe/Paris"), "{stderr}");

    // A directory with no release named, and one that does not exist, stop the start.
    let empty = tempfile::tempdir().unwrap();
    for dir in [empty.path().to_owned(), empty.path().join("missing")] {
        let stderr = refused_start(data.path(), &dir);
        assert!(
            stderr.contains("tzdata_dir") && stderr.contains(&*dir.to_string_lossy()),
            "{stderr}"
        );
    }
}

/// Starts the binary with `tzdata_dir`, expecting it to refuse; returns what it said.
fn refused_start(data: &std::path::Path, tzdata_dir: &std::path::Path) -> String {
    let out = binary()
        .args(["--listen", "127.0.0.1:0", "--tzdata-dir"])
        .arg(tzdata_dir)
        .arg("--data-dir")
        .arg(data)
        .output()
        .unwrap();
    assert!(!out.status.success(), "the start was not refused");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs `availability-server --data-dir <data> admin-keys <args>`; returns whether it
/// succeeded, its standard output and its standard error.
fn admin_keys(data: &std::path::Path, args: &[&str]) -> (bool, String, String) {
    let out = binary()
        .args(["--bcrypt-cost", "4", "--data-dir"])
        .arg(data)
        .arg("admin-keys")
        .args(args)
        .current_dir(data)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The admin keys managed offline: refused while a server holds the store (nothing
/// changes), then listed, created with a label and revoked with it stopped, the last one
/// refused; a new server takes the new key and refuses the revoked one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_keys_are_managed_offline_and_never_while_a_server_runs() {
    let data = tempfile::tempdir().unwrap();
    let (ok, _, err) = admin_keys(data.path(), &["list"]);
    assert!(!ok && err.contains("no store"), "{err}");
    assert!(
        !data.path().join("availability.store").exists(),
        "a listing makes no store"
    );

    let mut child = start(data.path());
    let (ok, out, err) = admin_keys(data.path(), &["create", "--label", "while running"]);
    assert!(!ok, "{out}");
    assert!(
        err.contains("in use") && err.contains("running server"),
        "{err}"
    );
    assert!(!out.contains("avk_"), "{out}");
    assert_eq!(child.terminate(), 0);
    let first = child
        .printed_key()
        .expect("the first start prints an admin key");
    let first_id = availability_server::auth::key_id(&first)
        .unwrap()
        .to_owned();

    let (ok, out, err) = admin_keys(data.path(), &["list"]);
    assert!(ok, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines.len(),
        1,
        "the key made while running was not stored: {out}"
    );
    assert!(lines[0].starts_with(&format!("{first_id}\t")), "{out}");

    let (ok, out, err) = admin_keys(data.path(), &["create", "--label", "ops on call"]);
    assert!(ok, "{err}");
    let second = out
        .split_whitespace()
        .find(|w| w.starts_with("avk_"))
        .expect("the new key is printed")
        .to_owned();
    let second_id = availability_server::auth::key_id(&second)
        .unwrap()
        .to_owned();
    let (_, out, _) = admin_keys(data.path(), &["list"]);
    assert!(
        out.contains(&second_id) && out.contains("ops on call"),
        "{out}"
    );
    assert!(
        !out.contains(&second) && !out.contains("$2"),
        "no secret, no hash: {out}"
    );

    let (ok, out, err) = admin_keys(data.path(), &["revoke", &first_id]);
    assert!(ok, "{err}");
    assert!(out.contains(&first_id), "{out}");
    let (ok, _, err) = admin_keys(data.path(), &["revoke", &second_id]);
    assert!(!ok);
    assert!(err.contains("last admin key"), "{err}");
    let (ok, _, err) = admin_keys(data.path(), &["revoke", "000000000000"]);
    assert!(!ok && err.contains("no key"), "{err}");

    let mut child = start(data.path());
    let c = Client::new(child.addr, child.root(), Version::HTTP_11);
    let r = c.authed(Method::GET, "/admin/keys", &second).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["keys"][0]["label"], "ops on call");
    let r = c.authed(Method::GET, "/calendars", &first).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text());
    assert_eq!(child.terminate(), 0);
    assert_eq!(
        child.printed_key(),
        None,
        "an admin key exists: none is made"
    );
}
