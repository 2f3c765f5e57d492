//! Power loss, with the file double of feature `test-backend`: a store runs over an in-memory
//! file that keeps only what was flushed, the power fails (or the process is killed) at a
//! chosen write, and the store reopened from what the disk kept must hold the last
//! acknowledged state or a later attempted one, never a mixture, never an older one.
//!
//! The sweeps run a fixed sequence once to count its writes, then again with a crash at each
//! write in turn: a power loss (with the write lost, whole, cut after a prefix or torn into
//! random sectors), or a kill followed by a reopen and a power loss at each later write (the
//! reopen must make what it read durable). Everything runs in memory, in about a second.

use std::collections::BTreeMap;

use availability_core::store::double::{Crash, FileDouble, Tear};
use availability_core::store::{Authority, Change, KeyHash, Store};
use availability_core::Week;

use crate::store::{batch_for, temp_store, week_for};

fn replace(store: &Store, version: u64) -> Result<u64, availability_core::Error> {
    store
        .commit(
            "default",
            Some(version - 1),
            &Change::Replace(batch_for(version)),
        )
        .map(|c| c.version())
}

/// The version of `default` in a store opened from `file`, checked against its content.
fn default_version(file: FileDouble) -> u64 {
    let store = Store::open_double(file).expect("a valid copy must stand");
    let default = store.get("default").expect("default");
    assert_eq!(default.week(), week_for(default.version()));
    default.version()
}

#[test]
fn opening_makes_what_it_read_durable() {
    let disk = FileDouble::new_store();
    let store = Store::open_double(disk.clone()).expect("open");
    assert_eq!(replace(&store, 2).expect("commit"), 2); // copy B, acknowledged
                                                        // Version 3 reaches copy A in the page cache; the process is killed before its msync.
    disk.crash_at(Crash::Kill { at: disk.writes() });
    replace(&store, 3).expect_err("killed");
    drop(store);

    // The next process reads version 3 from the cache, and its first commit overwrites copy
    // B, which held version 2; the power fails halfway through that write.
    let next = disk.reboot();
    let store = Store::open_double(next.clone()).expect("reopen after the kill");
    assert_eq!(store.get("default").expect("default").version(), 3);
    next.crash_at(Crash::PowerLoss {
        at: next.writes(),
        // Within the payload: the copy is torn.
        tear: Tear::Prefix(64),
    });
    replace(&store, 4).expect_err("power loss");
    drop(store);

    // Had opening not flushed version 3, copy A would hold version 1 on disk and copy B be
    // torn: the acknowledged version 2 would be lost.
    assert_eq!(default_version(next.reboot()), 3);
}

#[test]
fn a_failed_flush_at_open_fails_the_open() {
    let disk = FileDouble::new_store();
    disk.fail_sync(0);
    let err = Store::open_double(disk).expect_err("the flush failed");
    assert!(err.is_io(), "{err}");
}

#[test]
fn a_failed_sync_while_growing_stops_all_writes() {
    // How many creates fill the new file's room, so that the next one grows it.
    let probe = FileDouble::new_store();
    let store = Store::open_double(probe.clone()).expect("open");
    let room = probe.cache().len();
    let mut fill = 0;
    while probe.cache().len() == room {
        fill += 1;
        store
            .create(
                &format!("c{fill}"),
                "UTC",
                Vec::new(),
                &Authority::Unchecked,
            )
            .expect("create");
    }
    let fill = fill - 1;
    drop(store);
    let disk = FileDouble::new_store();
    let store = Store::open_double(disk.clone()).expect("open");
    for i in 1..=fill {
        store
            .create(&format!("c{i}"), "UTC", Vec::new(), &Authority::Unchecked)
            .expect("create");
    }
    // The room is full: the next create grows the file, and the growth's fdatasync (the
    // next sync) fails.
    disk.fail_sync(0);
    let err = store
        .create(
            &format!("c{}", fill + 1),
            "UTC",
            Vec::new(),
            &Authority::Unchecked,
        )
        .expect_err("the growth's sync failed");
    assert!(err.is_io(), "{err}");
    let err = replace(&store, 2).expect_err("writes are refused after a failed sync");
    assert!(err.to_string().contains("refuses writes"), "{err}");
    let err = store
        .create("other", "UTC", Vec::new(), &Authority::Unchecked)
        .expect_err("refused");
    assert!(err.to_string().contains("refuses writes"), "{err}");
    drop(store);
    // Reopening reads back what is on disk, and takes writes again.
    // (The create that was refused may or may not have reached the disk: a write whose
    // flush fails is the attempted state or the one before, as after a crash.)
    let store = Store::open_double(disk.reboot()).expect("reopen");
    let there = store.list().len();
    assert!(there == fill + 1 || there == fill + 2, "{there} calendars");
    store
        .create("after", "UTC", Vec::new(), &Authority::Unchecked)
        .expect("grows now");
}

#[test]
fn a_failed_flush_of_a_commit_stops_all_writes() {
    let disk = FileDouble::new_store();
    let store = Store::open_double(disk.clone()).expect("open");
    disk.fail_sync(0);
    replace(&store, 2).expect_err("the flush failed");
    let err = store
        .create("other", "UTC", Vec::new(), &Authority::Unchecked)
        .expect_err("refused");
    assert!(err.to_string().contains("refuses writes"), "{err}");
    assert_eq!(store.get("default").expect("default").version(), 1);
}

/// One step of the deterministic sequence the sweeps crash at every write of.
#[derive(Clone, Copy, Debug)]
enum Op {
    Create(&'static str),
    Delete(&'static str),
    /// Replaces the calendar's week with `week_for(n)`.
    Commit(&'static str, u64),
    AddKey(&'static str, &'static str),
    AddAdmin(&'static str),
    RemoveAdmin(&'static str),
    /// An online backup: it writes nothing to the store, and its copy opens to the state
    /// the store has.
    Backup,
}

/// Creates, commits, admin key changes (the meta record), a growth from 8 to 16 slots, slot
/// reuse after deletes, a calendar created again after its delete, and backups between them
/// (so that every crash after a backup is swept too).
const SEQUENCE: &[Op] = &[
    Op::Commit("default", 2),
    Op::AddAdmin("a1"),
    Op::Commit("default", 3),
    Op::Create("c1"),
    Op::Commit("c1", 5),
    Op::Create("c2"),
    Op::Create("c3"),
    Op::Create("c4"),
    Op::Create("c5"),
    Op::Create("c6"),
    Op::Create("c7"),
    Op::Create("c8"), // around here the file's first page of room is full: it grows
    Op::Backup,
    Op::Commit("c8", 7),
    Op::Delete("c3"),
    Op::Create("c9"),
    Op::Commit("default", 4),
    Op::AddKey("c1", "k1"),
    Op::RemoveAdmin("a1"),
    Op::AddAdmin("a2"),
    Op::Delete("c9"),
    Op::Commit("c2", 9),
    Op::Create("c3"),
    Op::Commit("c3", 11),
    Op::AddKey("c2", "k2"),
    Op::AddKey("c3", "k3"),
    Op::AddKey("default", "k4"),
    Op::Commit("c1", 13),
    Op::Commit("c2", 15),
    Op::Commit("default", 17),
    Op::Commit("c3", 19),
    Op::Commit("c2", 21),
    Op::Backup,
    Op::Commit("default", 23),
];

/// What a store holds, as far as its users can tell.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct State {
    calendars: BTreeMap<String, Cal>,
    admin: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Cal {
    zone: String,
    week: Week,
    version: u64,
    keys: Vec<String>,
}

fn hash_for(key_id: &str) -> String {
    format!("$2b$04$hash-of-{key_id}")
}

fn key(key_id: &str) -> KeyHash {
    KeyHash::new(key_id, hash_for(key_id)).expect("key")
}

impl State {
    fn of(store: &Store) -> State {
        let calendars = store
            .list()
            .iter()
            .map(|c| {
                let keys = c.keys().iter().map(|k| format!("{}={}", k.id(), k.hash()));
                let cal = Cal {
                    zone: c.zone().to_owned(),
                    week: c.week(),
                    version: c.version(),
                    keys: keys.collect(),
                };
                (c.id().to_owned(), cal)
            })
            .collect();
        let admin = store
            .admin_keys()
            .iter()
            .map(|k| k.id().to_owned())
            .collect();
        State { calendars, admin }
    }

    /// The state after `op`, had it succeeded.
    fn after(&self, op: Op) -> State {
        let mut next = self.clone();
        let cal = |id: &str| -> Cal { self.calendars.get(id).cloned().expect("in the model") };
        match op {
            Op::Create(id) => {
                let new = Cal {
                    zone: "UTC".to_owned(),
                    week: Week::UNAVAILABLE,
                    version: 1,
                    keys: Vec::new(),
                };
                next.calendars.insert(id.to_owned(), new);
            }
            Op::Delete(id) => {
                next.calendars.remove(id);
            }
            Op::Commit(id, n) => {
                let mut c = cal(id);
                c.version += 1;
                c.week = week_for(n);
                next.calendars.insert(id.to_owned(), c);
            }
            Op::AddKey(id, k) => {
                let mut c = cal(id);
                c.version += 1;
                c.keys.push(format!("{k}={}", hash_for(k)));
                next.calendars.insert(id.to_owned(), c);
            }
            Op::AddAdmin(k) => next.admin.push(k.to_owned()),
            Op::RemoveAdmin(k) => next.admin.retain(|a| a != k),
            Op::Backup => {}
        }
        next
    }
}

fn run_op(store: &Store, op: Op) -> Result<(), availability_core::Error> {
    match op {
        Op::Create(id) => store
            .create(id, "UTC", Vec::new(), &Authority::Unchecked)
            .map(drop),
        Op::Delete(id) => store.delete(id, None),
        Op::Commit(id, n) => store
            .commit(id, None, &Change::Replace(batch_for(n)))
            .map(drop),
        Op::AddKey(id, k) => store.commit(id, None, &Change::AddKey(key(k))).map(drop),
        Op::AddAdmin(k) => store.add_admin_key(key(k), &Authority::Unchecked),
        Op::RemoveAdmin(k) => store.revoke_admin_key(k, &Authority::Unchecked, false),
        Op::Backup => {
            let mut copy = Vec::new();
            store.backup(&mut copy)?;
            let (_dir, path) = temp_store();
            std::fs::write(&path, &copy).expect("write the copy");
            let copied = Store::open(&path).expect("the copy opens");
            assert_eq!(State::of(&copied), State::of(store), "the copy");
            Ok(())
        }
    }
}

/// Where a run stopped.
struct Stopped {
    /// The state of the last acknowledged operation.
    acked: State,
    /// The state the operation in progress at the crash would have made.
    attempted: Option<State>,
    /// The index of the next operation to run after a reopen.
    next: usize,
}

/// Runs `ops` from `acked` on a store over `disk` until they end or the double crashes.
fn run(disk: &FileDouble, ops: &[Op], mut acked: State, what: &str) -> Stopped {
    let store = Store::open_double(disk.clone()).unwrap_or_else(|e| panic!("{what}: open: {e}"));
    assert_eq!(State::of(&store), acked, "{what}: opened");
    for (i, &op) in ops.iter().enumerate() {
        let after = acked.after(op);
        match run_op(&store, op) {
            Ok(()) => {
                acked = after;
                assert_eq!(State::of(&store), acked, "{what}: after {op:?}");
            }
            Err(err) => {
                assert!(disk.crashed().is_some(), "{what}: {op:?} failed: {err}");
                return Stopped {
                    acked,
                    attempted: Some(after),
                    next: i + 1,
                };
            }
        }
    }
    Stopped {
        acked,
        attempted: None,
        next: ops.len(),
    }
}

/// Opens the store the crash left and checks it holds the acknowledged state or the
/// attempted one, never anything else; returns it.
fn recovered(file: FileDouble, stopped: &Stopped, what: &str) -> State {
    let store = Store::open_double(file).unwrap_or_else(|e| panic!("{what}: reopen: {e}"));
    let state = State::of(&store);
    assert!(
        state == stopped.acked || stopped.attempted.as_ref() == Some(&state),
        "{what}: after the crash the store holds\n{state:?}\nwhich is neither the acknowledged \
         state\n{:?}\nnor the attempted one\n{:?}",
        stopped.acked,
        stopped.attempted
    );
    // The recovered store takes writes (repairing a torn copy if it must) and keeps them.
    let commit = Op::Commit("default", 1000);
    run_op(&store, commit).unwrap_or_else(|e| panic!("{what}: commit after recovery: {e}"));
    let after = state.after(commit);
    assert_eq!(State::of(&store), after, "{what}: commit after recovery");
    state
}

/// The writes the whole sequence makes with no crash.
fn write_points() -> u64 {
    let disk = FileDouble::new_store();
    let initial = initial_state();
    let stopped = run(&disk, SEQUENCE, initial, "no crash");
    assert!(stopped.attempted.is_none());
    let writes = disk.writes();
    assert!(
        disk.cache().len() > FileDouble::new_store().cache().len(),
        "the sequence grows the file, so the sweep crashes a growth too: {} {}",
        disk.cache().len(),
        FileDouble::new_store().cache().len()
    );
    writes
}

fn initial_state() -> State {
    let store = Store::open_double(FileDouble::new_store()).expect("open");
    State::of(&store)
}

/// The tears tried at each write point: nothing, everything, prefixes that cut a copy's
/// header, its payload or a growth's pages, and random sectors.
fn tears(point: u64) -> [Tear; 7] {
    [
        Tear::Lost,
        Tear::Whole,
        Tear::Prefix(10),
        Tear::Prefix(100),
        Tear::Prefix(4096 + 50),
        Tear::Sectors(point),
        Tear::Sectors(point ^ 0xdead_beef),
    ]
}

#[test]
fn a_backup_writes_nothing_to_the_store() {
    let disk = FileDouble::new_store();
    let store = Store::open_double(disk.clone()).expect("open");
    for version in 2..6 {
        replace(&store, version).expect("commit");
    }
    let writes = disk.writes();
    run_op(&store, Op::Backup).expect("backup");
    assert_eq!(disk.writes(), writes, "a backup wrote to the store");
}

#[test]
fn power_loss_at_every_write_leaves_the_acknowledged_or_the_attempted_state() {
    let writes = write_points();
    let initial = initial_state();
    let (mut older, mut newer) = (0, 0);
    for at in 0..writes {
        for tear in tears(at) {
            let what = format!("power loss at write {at}, {tear:?}");
            let disk = FileDouble::new_store();
            disk.crash_at(Crash::PowerLoss { at, tear });
            let stopped = run(&disk, SEQUENCE, initial.clone(), &what);
            assert!(stopped.attempted.is_some(), "{what}: the crash came");
            let image = disk.reboot().durable();
            let state = recovered(disk.reboot(), &stopped, &what);
            // The real file, holding the same bytes, opens to the same state.
            let (_dir, path) = temp_store();
            std::fs::write(&path, &image).expect("write the image");
            let real = Store::open(&path).unwrap_or_else(|e| panic!("{what}: open file: {e}"));
            assert_eq!(
                State::of(&real),
                state,
                "{what}: the file agrees with the double"
            );
            if state == stopped.acked {
                older += 1;
            } else {
                newer += 1;
            }
        }
    }
    // Both outcomes happen: the sweep is not vacuous.
    assert!(
        older > 0 && newer > 0,
        "{older} acknowledged, {newer} attempted"
    );
}

#[test]
fn a_kill_then_power_loss_at_every_later_write_keeps_what_the_reopen_read() {
    let writes = write_points();
    let initial = initial_state();
    for kill in 0..writes {
        let what = format!("kill at write {kill}");
        let disk = FileDouble::new_store();
        disk.crash_at(Crash::Kill { at: kill });
        let killed = run(&disk, SEQUENCE, initial.clone(), &what);
        // The next process reads what the killed one left in the cache, and opening makes
        // that durable: from now on it counts as acknowledged.
        let after_kill = disk.reboot();
        let read = recovered_without_writing(after_kill.clone(), &killed, &what);
        // Go on from there (again from the killed operation if it did not reach the cache);
        // count the writes the rest of the sequence makes, then lose power at each.
        let from = if read == killed.acked {
            killed.next - 1
        } else {
            killed.next
        };
        let rest = &SEQUENCE[from..];
        let probe = FileDouble::new(after_kill.cache());
        run(&probe, rest, read.clone(), &what);
        let later = probe.writes();
        for at in 0..later {
            for tear in [Tear::Prefix(64), Tear::Sectors(kill << 16 | at)] {
                let what = format!("{what}, then power loss at write {at}, {tear:?}");
                let boot = after_kill.reboot();
                boot.crash_at(Crash::PowerLoss { at, tear });
                let stopped = run(&boot, rest, read.clone(), &what);
                recovered(boot.reboot(), &stopped, &what);
            }
        }
    }
}

/// Like [`recovered`], but opening only: the caller goes on from the file as it was.
fn recovered_without_writing(file: FileDouble, stopped: &Stopped, what: &str) -> State {
    let store = Store::open_double(file).unwrap_or_else(|e| panic!("{what}: reopen: {e}"));
    let state = State::of(&store);
    assert!(
        state == stopped.acked || stopped.attempted.as_ref() == Some(&state),
        "{what}: reopened to {state:?}"
    );
    state
}
