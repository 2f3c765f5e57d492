//! Power loss at a random write of a random operation sequence, through the store's file
//! double (feature `test-backend`): the store reopened from what the disk kept must hold the
//! last acknowledged state or the state the operation in progress would have made, never
//! anything else, and must take writes again.
//!
//! Input: four bytes pick the crash, then three bytes per operation (kind, calendar,
//! argument). Bytes 0 and 1 (low 7 bits) pick the write point of the crash, modulo the writes
//! the sequence makes (counted in a run without a crash), so that every input crashes; with
//! the high bit of byte 1 set the process is killed there first, reopened from its page
//! cache, and the power fails at the write byte 3 picks among those the rest of the sequence
//! makes. Byte 2 picks how the write in progress tears.

use std::collections::BTreeMap;

use availability_core::store::double::{Crash, FileDouble, Tear};
use availability_core::store::{Authority, Change, KeyHash, Store};
use availability_core::{Batch, Day, Entry, Status, Time, Week};

/// More ids than the 8 slots of a new file, so that sequences grow it.
const IDS: [&str; 12] = [
    "default", "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k",
];
const KEY_IDS: [&str; 3] = ["k1", "k2", "k3"];

#[derive(Clone, Copy, Debug)]
enum Op {
    Create(usize),
    Delete(usize),
    Commit(usize, u8),
    AddKey(usize, usize),
    RemoveKey(usize, usize),
    AddAdmin(usize),
    RemoveAdmin(usize),
}

/// What a store holds, as far as its users can tell.
#[derive(Clone, Debug, PartialEq, Eq)]
struct State {
    /// Per id: week, version, key ids.
    calendars: BTreeMap<String, (Week, u64, Vec<String>)>,
    admin: Vec<String>,
}

fn key(k: usize) -> KeyHash {
    KeyHash::new(KEY_IDS[k], format!("$2b$04$hash-of-{}", KEY_IDS[k])).expect("key")
}

/// A batch from one byte: one range of Monday, its start, length and status from the byte.
fn batch(arg: u8) -> Batch {
    let from = usize::from(arg % 40);
    let to = from + 1 + usize::from(arg / 40 % 8);
    let status = Status::ALL[usize::from(arg) % 3];
    let time = |half: usize| Time::from_half_hours(half).expect("time");
    Batch::from(vec![Entry::range(
        Day::Monday,
        time(from),
        time(to),
        status,
    )])
}

impl State {
    fn of(store: &Store) -> State {
        let calendars = store
            .list()
            .iter()
            .map(|c| {
                let keys = c.keys().iter().map(|k| k.id().to_owned()).collect();
                (c.id().to_owned(), (c.week(), c.version(), keys))
            })
            .collect();
        let admin = store
            .admin_keys()
            .iter()
            .map(|k| k.id().to_owned())
            .collect();
        State { calendars, admin }
    }

    /// The state after `op`, or `None` when the store must refuse it (nothing to delete,
    /// an id or key that exists, a key that does not).
    fn after(&self, op: Op) -> Option<State> {
        let mut next = self.clone();
        match op {
            Op::Create(i) => {
                if next.calendars.contains_key(IDS[i]) {
                    return None;
                }
                let new = (Week::UNAVAILABLE, 1, Vec::new());
                next.calendars.insert(IDS[i].to_owned(), new);
            }
            Op::Delete(i) => {
                next.calendars.remove(IDS[i])?;
            }
            Op::Commit(i, arg) => {
                let cal = next.calendars.get_mut(IDS[i])?;
                cal.0 = batch(arg).apply_replacing().expect("valid batch");
                cal.1 += 1;
            }
            Op::AddKey(i, k) => {
                let cal = next.calendars.get_mut(IDS[i])?;
                if cal.2.iter().any(|x| x == KEY_IDS[k]) {
                    return None;
                }
                cal.2.push(KEY_IDS[k].to_owned());
                cal.1 += 1;
            }
            Op::RemoveKey(i, k) => {
                let cal = next.calendars.get_mut(IDS[i])?;
                let before = cal.2.len();
                cal.2.retain(|x| x != KEY_IDS[k]);
                if cal.2.len() == before {
                    return None;
                }
                cal.1 += 1;
            }
            Op::AddAdmin(k) => {
                if next.admin.iter().any(|x| x == KEY_IDS[k]) {
                    return None;
                }
                next.admin.push(KEY_IDS[k].to_owned());
            }
            Op::RemoveAdmin(k) => {
                let before = next.admin.len();
                next.admin.retain(|x| x != KEY_IDS[k]);
                if next.admin.len() == before {
                    return None;
                }
            }
        }
        Some(next)
    }
}

fn run_op(store: &Store, op: Op) -> Result<(), availability_core::Error> {
    match op {
        Op::Create(i) => store
            .create(IDS[i], "UTC", Vec::new(), &Authority::Unchecked)
            .map(drop),
        Op::Delete(i) => store.delete(IDS[i], None),
        Op::Commit(i, arg) => store
            .commit(IDS[i], None, &Change::Replace(batch(arg)))
            .map(drop),
        Op::AddKey(i, k) => store
            .commit(IDS[i], None, &Change::AddKey(key(k)))
            .map(drop),
        Op::RemoveKey(i, k) => store
            .commit(IDS[i], None, &Change::RemoveKey(KEY_IDS[k].to_owned()))
            .map(drop),
        Op::AddAdmin(k) => store.add_admin_key(key(k), &Authority::Unchecked),
        Op::RemoveAdmin(k) => store.revoke_admin_key(KEY_IDS[k], &Authority::Unchecked, false),
    }
}

fn ops(bytes: &[u8]) -> Vec<Op> {
    bytes
        .chunks_exact(3)
        .map(|c| {
            let (i, arg) = (usize::from(c[1]) % IDS.len(), c[2]);
            let k = usize::from(arg) % KEY_IDS.len();
            match c[0] % 8 {
                0 => Op::Create(i),
                1 => Op::Delete(i),
                2 => Op::AddKey(i, k),
                3 => Op::RemoveKey(i, k),
                4 => Op::AddAdmin(k),
                5 => Op::RemoveAdmin(k),
                _ => Op::Commit(i, arg),
            }
        })
        .collect()
}

/// Where a run stopped: the acknowledged state, the attempted one if a crash interrupted an
/// operation, and the index of that operation.
struct Stopped {
    acked: State,
    attempted: Option<(State, usize)>,
}

/// Runs `ops` from `acked` on a store over `disk` until they end or the double crashes,
/// checking every outcome against the model.
fn play(disk: &FileDouble, ops: &[Op], mut acked: State) -> Stopped {
    let store = Store::open_double(disk.clone()).expect("open");
    assert_eq!(State::of(&store), acked, "opened");
    for (n, &op) in ops.iter().enumerate() {
        let predicted = acked.after(op);
        match (run_op(&store, op), predicted) {
            (Ok(()), Some(next)) => acked = next,
            (Ok(()), None) => panic!("{op:?} succeeded where the model refuses it"),
            (Err(_), Some(next)) if disk.crashed().is_some() => {
                return Stopped {
                    acked,
                    attempted: Some((next, n)),
                };
            }
            (Err(e), None) if e.is_not_found() || e.is_already_exists() => {}
            (Err(e), _) => panic!("{op:?} failed: {e}"),
        }
        assert_eq!(State::of(&store), acked, "after {op:?}");
    }
    Stopped {
        acked,
        attempted: None,
    }
}

/// Opens `file` and checks that it holds the acknowledged or the attempted state, then that
/// it takes a write; returns the state it held and the index of the next operation.
fn recover(file: FileDouble, stopped: &Stopped, ops_len: usize) -> (State, usize) {
    let store = Store::open_double(file).expect("a store must reopen after any crash");
    let state = State::of(&store);
    let next = match &stopped.attempted {
        _ if state == stopped.acked => stopped.attempted.as_ref().map_or(ops_len, |a| a.1),
        Some((attempted, n)) if state == *attempted => n + 1,
        _ => panic!(
            "after the crash the store holds {state:?}, neither the acknowledged {:?} nor \
             the attempted {:?}",
            stopped.acked, stopped.attempted
        ),
    };
    let probe = Op::Commit(0, 7);
    match state.after(probe) {
        Some(after) => {
            run_op(&store, probe).expect("a write after recovery");
            assert_eq!(State::of(&store), after, "a write after recovery");
        }
        None => {
            let err = run_op(&store, probe).expect_err("refused");
            assert!(err.is_not_found(), "{err}");
        }
    }
    (state, next)
}

/// Checks one input; panics on a finding.
pub(crate) fn run(data: &[u8]) {
    let Some((head, rest)) = data.split_first_chunk::<4>() else {
        return;
    };
    let ops = ops(rest);
    let at = u64::from(head[0]) | u64::from(head[1] & 0x7f) << 8;
    let tear = match head[2] % 4 {
        0 => Tear::Lost,
        1 => Tear::Whole,
        2 => Tear::Prefix(usize::from(head[2]) * 17),
        _ => Tear::Sectors(u64::from_le_bytes([
            head[0], head[1], head[2], head[3], 0, 0, 0, 0,
        ])),
    };
    let initial = State::of(&Store::open_double(FileDouble::new_store()).expect("new"));
    let writes = {
        let dry = FileDouble::new_store();
        play(&dry, &ops, initial.clone());
        dry.writes()
    };
    if writes == 0 {
        return;
    }
    let at = at % writes;

    if head[1] & 0x80 == 0 {
        let disk = FileDouble::new_store();
        disk.crash_at(Crash::PowerLoss { at, tear });
        let stopped = play(&disk, &ops, initial);
        recover(disk.reboot(), &stopped, ops.len());
    } else {
        let disk = FileDouble::new_store();
        disk.crash_at(Crash::Kill { at });
        let killed = play(&disk, &ops, initial);
        // The next process reads the page cache the killed one left; opening makes it
        // durable, so it is what a later power loss must keep.
        let after_kill = disk.reboot();
        let read = State::of(&Store::open_double(after_kill.clone()).expect("reopen"));
        let (_, next) = {
            let check = FileDouble::new(after_kill.cache());
            recover(check, &killed, ops.len())
        };
        let later = {
            let dry = after_kill.reboot();
            play(&dry, &ops[next..], read.clone());
            dry.writes()
        };
        let boot = after_kill.reboot();
        boot.crash_at(Crash::PowerLoss {
            at: u64::from(head[3]) % later.max(1),
            tear,
        });
        let stopped = play(&boot, &ops[next..], read);
        recover(boot.reboot(), &stopped, ops.len());
    }
}
