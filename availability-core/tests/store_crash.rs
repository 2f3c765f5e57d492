//! Crash test with real processes: a child commits in a loop and reports every acknowledged
//! version; the parent kills it with SIGKILL at a random moment, reopens the store and checks
//! that `default` is at the last acknowledged version or the one after it, with exactly that
//! version's content.
//!
//! The child is this test binary again, started with `CHILD_ENV` set and `--exact` naming
//! this test. `AVAILABILITY_CRASH_KILLS` sets the number of kills (default 30).

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use availability_core::store::{Change, Store};

use crate::store::{batch_for, mix, week_for, FORK_GUARD};

const CHILD_ENV: &str = "AVAILABILITY_CRASH_CHILD_STORE";
const TEST_NAME: &str = "store_crash::sigkill_leaves_the_last_acknowledged_state_or_the_next";

/// The child: commit `default` forever, printing each version once its commit returned.
fn child(path: &str) -> ! {
    let store = Store::open(path).expect("child open");
    let mut version = store.get("default").expect("default").version();
    let mut out = std::io::stdout().lock();
    loop {
        let next = version + 1;
        store
            .commit("default", Some(version), &Change::Replace(batch_for(next)))
            .expect("child commit");
        writeln!(out, "ack {next}").expect("report");
        out.flush().expect("report");
        version = next;
        // A second calendar comes and goes, so that kills also land in slot allocation and
        // release.
        if version % 16 == 0 {
            if store.get("scratch").is_some() {
                store.delete("scratch").expect("child delete");
            } else {
                store.create("scratch", "UTC").expect("child create");
            }
        }
    }
}

#[test]
fn sigkill_leaves_the_last_acknowledged_state_or_the_next() {
    if let Ok(path) = std::env::var(CHILD_ENV) {
        child(&path);
    }
    let kills: usize = std::env::var("AVAILABILITY_CRASH_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30);
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64);
    eprintln!("crash test: {kills} kills, seed {seed}");
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("store.avs");
    drop(Store::open(&path).expect("create"));
    let exe = std::env::current_exe().expect("test binary");

    let mut known = 1; // the version on disk when the child starts
    let (mut exact, mut ahead) = (0, 0);
    for kill in 0..kills {
        let no_store_open_elsewhere = FORK_GUARD.write().unwrap_or_else(|e| e.into_inner());
        let mut child = Command::new(&exe)
            .args(["--exact", TEST_NAME, "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, &path)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn child");
        drop(no_store_open_elsewhere);
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(v) = line.strip_prefix("ack ") {
                    let v: u64 = v.parse().expect("version");
                    if tx.send(v).is_err() {
                        break;
                    }
                }
            }
        });
        // Wait for the first acknowledgement so that the kill lands among commits rather
        // than in process start-up, then let it run for a random while.
        let mut last = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("child started");
        let pause = mix(seed ^ kill as u64) % 4000;
        std::thread::sleep(Duration::from_micros(pause));
        child.kill().expect("SIGKILL");
        child.wait().expect("reap");
        reader.join().expect("reader");
        while let Ok(v) = rx.try_recv() {
            last = v;
        }
        assert!(last > known, "acknowledged versions grow");

        let store = Store::open(&path).unwrap_or_else(|e| panic!("kill {kill}: reopen: {e}"));
        let default = store.get("default").expect("default");
        let version = default.version();
        assert!(
            version == last || version == last + 1,
            "kill {kill} (seed {seed}): acknowledged {last}, found {version}"
        );
        assert_eq!(
            default.week(),
            week_for(version),
            "kill {kill} (seed {seed}): content of version {version}"
        );
        if version == last {
            exact += 1;
        } else {
            ahead += 1;
        }
        known = version;
    }
    eprintln!(
        "crash test: {kills} kills survived; {exact} at the last acknowledged version, \
         {ahead} at the one being written; final version {known}"
    );
}
