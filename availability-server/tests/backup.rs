//! `backup` and `restore` with the real binary: a backup through a running server under a
//! write load holds every write acknowledged before it began, and restores into a store that
//! serves them; a backup killed midway leaves a partial copy that `restore` refuses, and the
//! live store as it was; `restore` refuses over a running server.

use std::path::Path;
use std::process::Output;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http::{Method, StatusCode, Version};

use crate::support::{binary, on_postgres, Binary, Client};

const LOOSE: [&str; 8] = [
    "--write-per-minute",
    "1000000",
    "--write-burst",
    "100000",
    "--admin-write-per-minute",
    "1000000",
    "--admin-write-burst",
    "100000",
];

const ROOMS: usize = 8;

/// An acknowledged write: its room, the version it made, when it was acknowledged, how long
/// it took.
type Acknowledged = (usize, u64, Instant, Duration);

/// Runs the binary's `args` over `data` with the admin key in the environment.
fn command(data: &Path, admin: &str, args: &[&str]) -> Output {
    binary()
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .env("AVAILABILITY_ADMIN_KEY", admin)
        .output()
        .unwrap()
}

fn said(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// A write to `room` that changes its week (Saturday 10:00-12:00, alternating); its version.
async fn write(c: &Client, admin: &str, room: usize, n: u64) -> (u64, Duration) {
    let status = if n % 2 == 0 { "maybe" } else { "available" };
    let body = format!(
        r#"{{"updates":[{{"day":"saturday","from":"10:00","to":"12:00","status":"{status}"}}]}}"#
    );
    let started = Instant::now();
    let r = c
        .json(
            Method::PATCH,
            &format!("/calendars/room-{room}/availability"),
            admin,
            &body,
        )
        .await;
    let took = started.elapsed();
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    (r.json()["version"].as_u64().unwrap(), took)
}

fn p99(mut took: Vec<Duration>) -> Duration {
    took.sort();
    took.get(took.len() * 99 / 100).copied().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_under_writes_restores_every_write_acknowledged_before_it() {
    if on_postgres() {
        // The command refuses on PostgreSQL (its own test below); the store file is what
        // it copies.
        return;
    }
    let data = tempfile::tempdir().unwrap();
    let mut child = Binary::start(data.path(), "info", LOOSE);
    let admin = child.printed_key().unwrap();
    let c = Client::new(child.addr, child.root(), Version::HTTP_2);
    for room in 0..ROOMS {
        c.create_calendar(&admin, &format!("room-{room}"), "Europe/Berlin")
            .await;
    }
    // Sixteen clients writing as fast as the server takes them, each write's version and
    // time noted once it is acknowledged.
    let acknowledged: Arc<Mutex<Vec<Acknowledged>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..16)
        .map(|w| {
            let (c, admin) = (c.clone(), admin.clone());
            let (acknowledged, stop) = (Arc::clone(&acknowledged), Arc::clone(&stop));
            tokio::spawn(async move {
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let room = (w + n as usize) % ROOMS;
                    let (version, took) = write(&c, &admin, room, n).await;
                    acknowledged
                        .lock()
                        .unwrap()
                        .push((room, version, Instant::now(), took));
                    n += 1;
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(1000)).await;

    let backups = tempfile::tempdir().unwrap();
    let to = backups.path().join("one");
    let began = Instant::now();
    let listen = format!("127.0.0.1:{}", child.addr.port());
    let (data_dir, admin_key, to_dir) = (data.path().to_owned(), admin.clone(), to.clone());
    let output = tokio::task::spawn_blocking(move || {
        command(
            &data_dir,
            &admin_key,
            &[
                "--listen",
                &listen,
                "backup",
                "--to",
                to_dir.to_str().unwrap(),
            ],
        )
    })
    .await
    .unwrap();
    let ended = Instant::now();
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    for writer in writers {
        writer.await.unwrap();
    }
    assert!(output.status.success(), "{}", said(&output));
    assert!(
        said(&output).contains("the copy opens as a store"),
        "{}",
        said(&output)
    );
    assert!(to.join("availability.store").exists());
    assert!(!to.join("availability.store.partial").exists());

    let acknowledged = acknowledged.lock().unwrap().clone();
    let before: Vec<_> = acknowledged.iter().filter(|w| w.2 < began).collect();
    let during: Vec<Duration> = acknowledged
        .iter()
        .filter(|w| w.2 >= began && w.2 <= ended)
        .map(|w| w.3)
        .collect();
    let outside: Vec<Duration> = acknowledged
        .iter()
        .filter(|w| w.2 < began)
        .map(|w| w.3)
        .collect();
    assert!(
        before.len() > 50,
        "{} writes before the backup",
        before.len()
    );
    eprintln!(
        "backup: {:.0} ms; writes during it {} (p99 {:?}), before it {} (p99 {:?})",
        (ended - began).as_secs_f64() * 1000.0,
        during.len(),
        p99(during.clone()),
        outside.len(),
        p99(outside.clone()),
    );

    // Restoring over the running server is refused.
    let refused = command(
        data.path(),
        &admin,
        &["restore", "--from", to.to_str().unwrap()],
    );
    assert!(!refused.status.success());
    assert!(
        said(&refused).contains("a server is running"),
        "{}",
        said(&refused)
    );
    assert_eq!(child.terminate(), 0);

    // Restored into a new data directory and served: every write acknowledged before the
    // backup began is there.
    let restored = tempfile::tempdir().unwrap();
    let output = command(
        restored.path(),
        &admin,
        &["restore", "--from", to.to_str().unwrap()],
    );
    assert!(output.status.success(), "{}", said(&output));
    let mut child = Binary::start(restored.path(), "info", LOOSE);
    let c = Client::new(child.addr, child.root(), Version::HTTP_2);
    let mut in_copy = Vec::new();
    for room in 0..ROOMS {
        let v = c.get(&format!("/calendars/room-{room}")).await.json();
        in_copy.push(v["version"].as_u64().unwrap());
    }
    for (room, version, _, _) in before {
        assert!(
            in_copy[*room] >= *version,
            "room-{room}: version {version} acknowledged before the backup, {} restored",
            in_copy[*room]
        );
    }
    // The admin key works on the restored store, which takes writes.
    write(&c, &admin, 0, 1).await;
    assert_eq!(child.terminate(), 0);

    // A second backup into the same directory is refused; the first is left as it was.
    let again = command(
        restored.path(),
        &admin,
        &["backup", "--to", to.to_str().unwrap()],
    );
    assert!(!again.status.success());
    assert!(
        said(&again).contains("holds a backup already"),
        "{}",
        said(&again)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_killed_midway_leaves_a_partial_copy_that_restore_refuses() {
    if on_postgres() {
        return;
    }
    use availability_server::store::{Authority, NewCalendar};
    // Large enough that the copy takes a while: 100,000 calendars.
    let data = tempfile::tempdir().unwrap();
    {
        let store = availability_server::store::open(data.path()).unwrap();
        for chunk in 0..100 {
            let batch: Vec<NewCalendar> = (0..1000)
                .map(|i| NewCalendar {
                    id: format!("desk-{chunk:03}-{i:03}"),
                    zone: "Asia/Kathmandu".to_owned(),
                    booking_public: false,
                })
                .collect();
            store.create_batch(&batch, &Authority::Unchecked).unwrap();
        }
    }
    // The webhook signing key goes with the copy (its sealed secrets need it).
    let signing = "ab".repeat(32);
    std::fs::write(data.path().join("webhook.key"), &signing).unwrap();
    let before = std::fs::read(data.path().join("availability.store")).unwrap();
    let backups = tempfile::tempdir().unwrap();
    let to = backups.path().join("cut");
    // Offline (no server): the command opens the store itself.
    let mut backup = binary()
        .arg("--data-dir")
        .arg(data.path())
        .args(["backup", "--to", to.to_str().unwrap()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let partial = to.join("availability.store.partial");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !partial.exists() {
        assert!(Instant::now() < deadline, "no partial copy was started");
        std::thread::sleep(Duration::from_millis(1));
    }
    backup.kill().unwrap();
    backup.wait().unwrap();
    assert!(!to.join("availability.store").exists());

    // The live store is as it was, and opens.
    assert_eq!(
        std::fs::read(data.path().join("availability.store")).unwrap(),
        before
    );
    let elsewhere = tempfile::tempdir().unwrap();
    let refused = command(
        elsewhere.path(),
        "",
        &["restore", "--from", to.to_str().unwrap()],
    );
    assert!(!refused.status.success());
    assert!(
        said(&refused).contains("did not finish"),
        "{}",
        said(&refused)
    );
    assert!(!elsewhere.path().join("availability.store").exists());
    // A backup with nothing in the way completes, and restores.
    let whole = backups.path().join("whole");
    let output = command(
        data.path(),
        "",
        &["backup", "--to", whole.to_str().unwrap()],
    );
    assert!(output.status.success(), "{}", said(&output));
    assert!(
        said(&output).contains("100001 calendars"),
        "{}",
        said(&output)
    );
    assert_eq!(
        std::fs::read_to_string(whole.join("webhook.key")).unwrap(),
        signing
    );
    let output = command(
        elsewhere.path(),
        "",
        &["restore", "--from", whole.to_str().unwrap()],
    );
    assert!(output.status.success(), "{}", said(&output));
    assert_eq!(
        std::fs::read_to_string(elsewhere.path().join("webhook.key")).unwrap(),
        signing
    );
    // Restored again over that store, whose key has changed since: the store and the key
    // that were there are both kept beside the restored ones.
    std::fs::write(elsewhere.path().join("webhook.key"), "cd".repeat(32)).unwrap();
    let output = command(
        elsewhere.path(),
        "",
        &["restore", "--from", whole.to_str().unwrap()],
    );
    assert!(output.status.success(), "{}", said(&output));
    assert!(said(&output).contains("is kept as"), "{}", said(&output));
    let kept: Vec<String> = std::fs::read_dir(elsewhere.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.contains(".before-restore-"))
        .collect();
    assert_eq!(kept.len(), 2, "{kept:?}");
    let old_key = kept.iter().find(|n| n.starts_with("webhook.key")).unwrap();
    assert_eq!(
        std::fs::read_to_string(elsewhere.path().join(old_key)).unwrap(),
        "cd".repeat(32)
    );
    assert_eq!(
        std::fs::read_to_string(elsewhere.path().join("webhook.key")).unwrap(),
        signing
    );
    // A copy damaged after the fact is refused by restore, and nothing is put in place.
    let damaged = backups.path().join("damaged");
    std::fs::create_dir(&damaged).unwrap();
    let mut bytes = std::fs::read(whole.join("availability.store")).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x20;
    std::fs::write(damaged.join("availability.store"), &bytes).unwrap();
    let fresh = tempfile::tempdir().unwrap();
    let refused = command(
        fresh.path(),
        "",
        &["restore", "--from", damaged.to_str().unwrap()],
    );
    assert!(!refused.status.success());
    assert!(
        said(&refused).contains("does not open as a store"),
        "{}",
        said(&refused)
    );
    assert!(!fresh.path().join("availability.store").exists());
}

#[test]
fn on_postgresql_backup_says_to_use_the_database_tools_and_does_nothing() {
    let data = tempfile::tempdir().unwrap();
    let to = data.path().join("backup");
    let output = command(
        data.path(),
        "",
        &[
            "--database-url",
            "postgres://nobody@127.0.0.1:1/none",
            "backup",
            "--to",
            to.to_str().unwrap(),
        ],
    );
    assert!(!output.status.success());
    assert!(said(&output).contains("pg_dump"), "{}", said(&output));
    assert!(!to.exists());
}

/// A store of an earlier format is rewritten when it is opened: backing it up offline would
/// change what it backs up, so the command refuses, and the store is left as it was.
#[test]
fn a_store_of_an_earlier_format_is_refused_and_left_as_it_was() {
    let data = tempfile::tempdir().unwrap();
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../availability-core/tests/data/v7.avs");
    let store = data.path().join("availability.store");
    std::fs::copy(&fixture, &store).unwrap();
    let to = data.path().join("backup");
    let output = command(data.path(), "", &["backup", "--to", to.to_str().unwrap()]);
    assert!(!output.status.success());
    assert!(
        said(&output).contains("format version 7"),
        "{}",
        said(&output)
    );
    assert_eq!(
        std::fs::read(&store).unwrap(),
        std::fs::read(&fixture).unwrap()
    );
    assert!(!to.join("availability.store").exists());
    assert!(!to.join("availability.store.partial").exists());
}
