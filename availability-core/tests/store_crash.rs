//! Crash test with real processes: a child commits in a loop (four writers on four calendars,
//! so that flushes are shared) and reports every acknowledged version; the parent kills it
//! with SIGKILL at a random moment, reopens the store and checks that every calendar is at
//! its last acknowledged version or the one after it, with exactly that version's content.
//!
//! The child is this test binary again, started with `CHILD_ENV` set and `--exact` naming
//! this test. `AVAILABILITY_CRASH_KILLS` sets the number of kills (default 30).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use availability_core::store::{Change, Store};

use crate::store::{batch_for, mix, week_for, FORK_GUARD};

const CHILD_ENV: &str = "AVAILABILITY_CRASH_CHILD_STORE";
const TEST_NAME: &str = "store_crash::sigkill_leaves_the_last_acknowledged_state_or_the_next";

/// The calendars the child commits to, one writer thread each.
const CALENDARS: [&str; 4] = ["default", "w1", "w2", "w3"];

/// The child: commit every calendar forever, one thread each, printing each version once
/// its commit returned.
fn child(path: &str) -> ! {
    let store = Store::open(path).expect("child open");
    std::thread::scope(|scope| {
        for (t, id) in CALENDARS.into_iter().enumerate() {
            let store = &store;
            scope.spawn(move || {
                let mut version = store.get(id).expect("calendar").version();
                loop {
                    let next = version + 1;
                    store
                        .commit(id, Some(version), &Change::Replace(batch_for(next)))
                        .expect("child commit");
                    {
                        let mut out = std::io::stdout().lock();
                        writeln!(out, "ack {id} {next}").expect("report");
                        out.flush().expect("report");
                    }
                    version = next;
                    // A scratch calendar comes and goes, so that kills also land in slot
                    // allocation and release.
                    if t == 0 && version % 16 == 0 {
                        if store.get("scratch").is_some() {
                            store.delete("scratch").expect("child delete");
                        } else {
                            store.create("scratch", "UTC").expect("child create");
                        }
                    }
                }
            });
        }
    });
    unreachable!("the child's writers never stop")
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
    let store = Store::open(&path).expect("create");
    for id in &CALENDARS[1..] {
        store.create(id, "UTC").expect("create");
    }
    drop(store);
    let exe = std::env::current_exe().expect("test binary");

    // The versions on disk when the child starts.
    let mut known: HashMap<String, u64> = CALENDARS.iter().map(|id| (id.to_string(), 1)).collect();
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
                // The harness prints "test <name> ... " before running the test, with no
                // newline, so the first acknowledgement shares its line.
                let Some(at) = line.find("ack ") else {
                    continue;
                };
                let mut words = line[at..].split(' ');
                if let (Some("ack"), Some(id), Some(v)) = (words.next(), words.next(), words.next())
                {
                    let v: u64 = v.parse().expect("version");
                    if tx.send((id.to_owned(), v)).is_err() {
                        break;
                    }
                }
            }
        });
        // Wait for the first acknowledgement so that the kill lands among commits rather
        // than in process start-up, then let it run for a random while.
        let first = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("child started");
        let pause = mix(seed ^ kill as u64) % 4000;
        std::thread::sleep(Duration::from_micros(pause));
        child.kill().expect("SIGKILL");
        child.wait().expect("reap");
        reader.join().expect("reader");
        let mut acked = known.clone();
        for (id, v) in std::iter::once(first).chain(rx.try_iter()) {
            let last = acked.entry(id).or_default();
            assert!(v > *last, "acknowledged versions grow");
            *last = v;
        }

        let store = Store::open(&path).unwrap_or_else(|e| panic!("kill {kill}: reopen: {e}"));
        for id in CALENDARS {
            let calendar = store.get(id).expect("calendar");
            let version = calendar.version();
            let last = acked[id];
            assert!(
                version == last || version == last + 1,
                "kill {kill} (seed {seed}): {id}: acknowledged {last}, found {version}"
            );
            assert_eq!(
                calendar.week(),
                week_for(version),
                "kill {kill} (seed {seed}): {id}: content of version {version}"
            );
            if version == last {
                exact += 1;
            } else {
                ahead += 1;
            }
            known.insert(id.to_owned(), version);
        }
    }
    let total: u64 = known.values().map(|v| v - 1).sum();
    eprintln!(
        "crash test: {kills} kills survived; after them, a calendar was at its last \
         acknowledged version {exact} times and at the one being written {ahead} times; \
         {total} commits in all"
    );
}
