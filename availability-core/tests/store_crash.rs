//! Crash tests with real processes. First, a child commits in a loop (four writers on four calendars,
//! so that flushes are shared) and reports every acknowledged version; the parent kills it
//! with SIGKILL at a random moment, reopens the store and checks that every calendar is at
//! its last acknowledged version or the one after it, with exactly that version's content.
//!
//! One writer also creates and deletes a `scratch` calendar every 16 commits, so that kills
//! land in slot allocation and release; after each reopen `scratch` must exist exactly when
//! its last acknowledged change (or the one in progress) says so.
//!
//! A child that exits by itself (a panic, a failed commit) fails the test with its stderr:
//! only a child that SIGKILL ended counts as killed. Every calendar must have moved on by
//! the end, so a child whose writers stalled cannot pass either.
//!
//! The child is this test binary again, started with `CHILD_ENV` set and `--exact` naming
//! this test. `AVAILABILITY_CRASH_KILLS` sets the number of kills (default 30) and
//! `AVAILABILITY_CRASH_SEED` the seed of the pauses before each kill (printed, for replay; the
//! timing of a real process is never exactly reproducible, but the pauses are).
//!
//! Second, a child books and cancels random overlapping spans of one calendar from four
//! threads; after each kill every acknowledged booking must be there with its span (unless
//! its cancel had begun), every acknowledged cancel must have happened, at most one booking
//! per thread may appear unannounced, and no slot or instant may be held by two bookings.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use availability_core::dated::{BookingId, Claim};
use availability_core::store::{Authority, Change, Store};
use availability_core::Week;

use crate::store::{batch_for, mix, week_for, FORK_GUARD};

const CHILD_ENV: &str = "AVAILABILITY_CRASH_CHILD_STORE";
const TEST_NAME: &str = "store_crash::sigkill_leaves_the_last_acknowledged_state_or_the_next";
const SCRATCH: &str = "scratch";
/// The signal number of SIGKILL (the same on every Unix this runs on).
const SIGKILL: i32 = 9;

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
                        let now = if store.get(SCRATCH).is_some() {
                            store.delete(SCRATCH, None).expect("child delete");
                            "deleted"
                        } else {
                            store
                                .create(SCRATCH, "UTC", Vec::new(), &Authority::Unchecked)
                                .expect("child create");
                            "created"
                        };
                        let mut out = std::io::stdout().lock();
                        writeln!(out, "ack {SCRATCH} {now}").expect("report");
                        out.flush().expect("report");
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
    let seed = std::env::var("AVAILABILITY_CRASH_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        });
    eprintln!(
        "crash test: {kills} kills, seed {seed} (replay with AVAILABILITY_CRASH_SEED={seed})"
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("store.avs");
    let store = Store::open(&path).expect("create");
    for id in &CALENDARS[1..] {
        store
            .create(id, "UTC", Vec::new(), &Authority::Unchecked)
            .expect("create");
    }
    drop(store);
    let exe = std::env::current_exe().expect("test binary");

    // The versions on disk when the child starts.
    let mut known: HashMap<String, u64> = CALENDARS.iter().map(|id| (id.to_string(), 1)).collect();
    let (mut exact, mut ahead) = (0, 0);
    // Whether `scratch` exists on disk, as far as the parent knows.
    let mut scratch = false;
    let (mut scratch_created, mut scratch_deleted) = (0, 0);
    for kill in 0..kills {
        let no_store_open_elsewhere = FORK_GUARD.write().unwrap_or_else(|e| e.into_inner());
        let mut child = Command::new(&exe)
            .args(["--exact", TEST_NAME, "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, &path)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn child");
        drop(no_store_open_elsewhere);
        let stdout = child.stdout.take().expect("stdout");
        let mut stderr = child.stderr.take().expect("stderr");
        let stderr = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });
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
                if let (Some("ack"), Some(id), Some(what)) =
                    (words.next(), words.next(), words.next())
                {
                    if tx.send((id.to_owned(), what.to_owned())).is_err() {
                        break;
                    }
                }
            }
        });
        // Wait for the first acknowledgement so that the kill lands among commits rather
        // than in process start-up, then let it run for a random while.
        let first = rx.recv_timeout(Duration::from_secs(60));
        let pause = mix(seed ^ kill as u64) % 4000;
        std::thread::sleep(Duration::from_micros(pause));
        child.kill().expect("SIGKILL");
        let status = child.wait().expect("reap");
        reader.join().expect("reader");
        let stderr = stderr.join().expect("stderr");
        assert_eq!(
            status.signal(),
            Some(SIGKILL),
            "kill {kill} (seed {seed}): the child was not killed but ended by itself \
             ({status}); its stderr:\n{stderr}"
        );
        // A child that panicked may still be unwinding when the kill comes; its stderr tells.
        assert!(
            !stderr.contains("panicked"),
            "kill {kill} (seed {seed}): the child panicked before it was killed; its \
             stderr:\n{stderr}"
        );
        let first = first.unwrap_or_else(|_| {
            panic!("kill {kill} (seed {seed}): the child acknowledged nothing; stderr:\n{stderr}")
        });
        let mut acked = known.clone();
        // A scratch change may be in progress after an acknowledged commit of `default` to a
        // multiple of 16, until its own acknowledgement.
        let mut scratch_pending = false;
        for (id, what) in std::iter::once(first).chain(rx.try_iter()) {
            if id == SCRATCH {
                scratch = what == "created";
                if scratch {
                    scratch_created += 1;
                } else {
                    scratch_deleted += 1;
                }
                scratch_pending = false;
                continue;
            }
            let v: u64 = what.parse().expect("version");
            let last = acked.entry(id.clone()).or_default();
            assert!(v > *last, "acknowledged versions grow");
            *last = v;
            if id == "default" && v % 16 == 0 {
                scratch_pending = true;
            }
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
        let found = store.get(SCRATCH);
        assert!(
            found.is_some() == scratch || scratch_pending,
            "kill {kill} (seed {seed}): scratch should {}exist",
            if scratch { "" } else { "not " }
        );
        if let Some(calendar) = &found {
            assert_eq!(
                (calendar.version(), calendar.zone(), calendar.week()),
                (1, "UTC", Week::UNAVAILABLE),
                "kill {kill} (seed {seed}): scratch as created"
            );
        }
        scratch = found.is_some();
    }
    // Every writer moved on: a child whose commits stalled would leave a calendar behind.
    for id in CALENDARS {
        assert!(
            known[id] > 1,
            "seed {seed}: {id} was never committed in {kills} runs"
        );
    }
    let total: u64 = known.values().map(|v| v - 1).sum();
    eprintln!(
        "crash test: {kills} kills survived; after them, a calendar was at its last \
         acknowledged version {exact} times and at the one being written {ahead} times; \
         {total} commits in all; scratch created {scratch_created} and deleted \
         {scratch_deleted} times"
    );
}

const DATED_CHILD_ENV: &str = "AVAILABILITY_CRASH_CHILD_DATED";
const DATED_TEST_NAME: &str =
    "store_crash::sigkill_keeps_every_acknowledged_booking_and_never_a_double_claim";
/// The calendar the dated child books.
const ROOMS: &str = "rooms";

/// The first instant the dated child books: midnight UTC, two days from now.
fn dated_base() -> i64 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    now - now % 86_400 + 2 * 86_400
}

/// The dated child: four threads book random overlapping spans of `rooms` and cancel some of
/// their bookings, printing each booking and cancel once it returned, and each cancel before
/// it starts.
fn dated_child(path: &str, base: i64, seed: u64) -> ! {
    let store = Store::open(path).expect("child open");
    std::thread::scope(|scope| {
        for t in 0..4u64 {
            let store = &store;
            scope.spawn(move || {
                let mut mine: Vec<BookingId> = Vec::new();
                let mut n = 0u64;
                loop {
                    n += 1;
                    let r = mix(seed ^ (t << 32) ^ n);
                    let start = base + (r % 96) as i64 * 1800;
                    let end = start + (1 + (r >> 8) % 4) as i64 * 1800;
                    match store.book(ROOMS, None, &Claim::new(start, end), None) {
                        Ok((_, booking)) => {
                            report(&format!("ack book {} {start} {end}", booking.id()));
                            mine.push(booking.id());
                        }
                        Err(err) => assert!(err.is_conflict(), "child booking: {err}"),
                    }
                    if n % 3 == 0 && !mine.is_empty() {
                        let id = mine.swap_remove((r >> 16) as usize % mine.len());
                        report(&format!("begin cancel {id}"));
                        store.cancel(ROOMS, None, id).expect("child cancel");
                        report(&format!("ack cancel {id}"));
                    }
                }
            });
        }
    });
    unreachable!("the child's bookers never stop")
}

fn report(line: &str) {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}").expect("report");
    out.flush().expect("report");
}

#[test]
fn sigkill_keeps_every_acknowledged_booking_and_never_a_double_claim() {
    if let Ok(path) = std::env::var(DATED_CHILD_ENV) {
        let base = std::env::var("AVAILABILITY_CRASH_BASE")
            .ok()
            .and_then(|v| v.parse().ok())
            .expect("base");
        let seed = std::env::var("AVAILABILITY_CRASH_RUN")
            .ok()
            .and_then(|v| v.parse().ok())
            .expect("run seed");
        dated_child(&path, base, seed);
    }
    let kills: usize = std::env::var("AVAILABILITY_CRASH_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map_or(15, |n: usize| n.div_ceil(2));
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64);
    eprintln!("dated crash test: {kills} kills, seed {seed}");
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("store.avs");
    let store = Store::open(&path).expect("create");
    store
        .create(ROOMS, "Europe/Paris", Vec::new(), &Authority::Unchecked)
        .expect("create");
    let every_slot = crate::store::every_slot_available();
    store
        .commit(ROOMS, None, &Change::Replace(every_slot))
        .expect("pattern");
    drop(store);
    let exe = std::env::current_exe().expect("test binary");
    let base = dated_base();

    // The bookings the parent knows to be on disk, by id.
    let mut known: BTreeMap<u64, (i64, i64)> = BTreeMap::new();
    let (mut booked, mut cancelled, mut in_flight_found) = (0, 0, 0);
    for kill in 0..kills {
        let no_store_open_elsewhere = FORK_GUARD.write().unwrap_or_else(|e| e.into_inner());
        let mut child = Command::new(&exe)
            .args([
                "--exact",
                DATED_TEST_NAME,
                "--nocapture",
                "--test-threads=1",
            ])
            .env(DATED_CHILD_ENV, &path)
            .env("AVAILABILITY_CRASH_BASE", base.to_string())
            .env("AVAILABILITY_CRASH_RUN", (seed ^ kill as u64).to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn child");
        drop(no_store_open_elsewhere);
        let stdout = child.stdout.take().expect("stdout");
        let mut stderr = child.stderr.take().expect("stderr");
        let stderr = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });
        let (tx, rx) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let Some(at) = line.find("ack ").or_else(|| line.find("begin ")) else {
                    continue;
                };
                if tx.send(line[at..].to_owned()).is_err() {
                    break;
                }
            }
        });
        let first = rx.recv_timeout(Duration::from_secs(60));
        std::thread::sleep(Duration::from_micros(mix(seed ^ kill as u64) % 20_000));
        child.kill().expect("SIGKILL");
        let status = child.wait().expect("reap");
        reader.join().expect("reader");
        let stderr = stderr.join().expect("stderr");
        assert_eq!(
            status.signal(),
            Some(SIGKILL),
            "kill {kill}: the child ended by itself ({status}); its stderr:\n{stderr}"
        );
        assert!(!stderr.contains("panicked"), "kill {kill}: {stderr}");
        let first = first.unwrap_or_else(|_| panic!("kill {kill}: no report; {stderr}"));
        // Cancels begun and not acknowledged may or may not have happened.
        let mut maybe_gone = BTreeSet::new();
        for line in std::iter::once(first).chain(rx.try_iter()) {
            let words: Vec<&str> = line.split(' ').collect();
            match words.as_slice() {
                ["ack", "book", id, start, end] => {
                    let id: u64 = id.parse().expect("id");
                    let span = (start.parse().expect("start"), end.parse().expect("end"));
                    assert!(known.insert(id, span).is_none(), "ids are never reused");
                    booked += 1;
                }
                ["begin", "cancel", id] => {
                    maybe_gone.insert(id.parse::<u64>().expect("id"));
                }
                ["ack", "cancel", id] => {
                    let id: u64 = id.parse().expect("id");
                    maybe_gone.remove(&id);
                    assert!(known.remove(&id).is_some(), "a known booking was cancelled");
                    cancelled += 1;
                }
                _ => {}
            }
        }

        let store = Store::open(&path).unwrap_or_else(|e| panic!("kill {kill}: reopen: {e}"));
        let calendar = store.get(ROOMS).expect("rooms");
        let dated = calendar.dated();
        // No slot is held twice, and no two bookings share an instant.
        let mut held = BTreeSet::new();
        let mut spans: Vec<(i64, i64)> = Vec::new();
        for booking in dated.all_bookings() {
            for slot in booking.slots() {
                assert!(held.insert(slot), "kill {kill}: slot {slot:?} held twice");
            }
            spans.push((booking.start(), booking.end()));
        }
        spans.sort_unstable();
        for pair in spans.windows(2) {
            assert!(pair[0].1 <= pair[1].0, "kill {kill}: {pair:?} overlap");
        }
        // Every acknowledged booking is there, with its span, unless its cancel had begun.
        for (id, span) in &known {
            match dated.booking(BookingId(*id)) {
                Some(b) => assert_eq!((b.start(), b.end()), *span, "kill {kill}: {id}"),
                None => assert!(
                    maybe_gone.contains(id),
                    "kill {kill}: acknowledged booking {id} was lost"
                ),
            }
        }
        known.retain(|id, _| dated.booking(BookingId(*id)).is_some());
        // What is there and was not acknowledged: at most one booking per booker in flight.
        let unknown: Vec<_> = dated
            .all_bookings()
            .filter(|b| !known.contains_key(&b.id().0))
            .map(|b| (b.id().0, (b.start(), b.end())))
            .collect();
        assert!(unknown.len() <= 4, "kill {kill}: {unknown:?} appeared");
        in_flight_found += unknown.len();
        known.extend(unknown);
        // A killed child's bookings stay, and the children book within two days: once the
        // half hours are mostly held, every booking of the next child is refused and it has
        // nothing to report. Cancel every other booking, so that each child finds room and
        // some bookings still live through several kills.
        if held.len() > 48 {
            let ids: Vec<u64> = known.keys().copied().step_by(2).collect();
            for id in ids {
                store
                    .cancel(ROOMS, None, BookingId(id))
                    .unwrap_or_else(|e| panic!("kill {kill}: making room: {e}"));
                known.remove(&id);
            }
        }
    }
    assert!(
        booked > 0 && cancelled > 0,
        "{booked} booked, {cancelled} cancelled"
    );
    eprintln!(
        "dated crash test: {kills} kills; {booked} bookings and {cancelled} cancels \
         acknowledged, {in_flight_found} bookings in flight at a kill found on disk"
    );
}
