//! The journal: a crash at every one of its writes keeps the acknowledged or the attempted
//! state, damage to acknowledged records is refused and a torn tail is not, and compaction
//! and retention keep it small.

use std::fs;
use std::path::Path;

use availability_core::dated::{BookingId, Claim, DayOverride};
use availability_core::store::double::{Crash, FileDouble, Tear};
use availability_core::store::{Authority, Options, Store};

use super::{all_available, date_of, tomorrow, Dated};
use crate::store::temp_store;

/// The dated sequence the crash sweep runs, on a calendar whose pattern is all available.
fn dated_step(store: &Store, step: usize, t: i64) -> Result<(), availability_core::Error> {
    let day = date_of(t + 86_400);
    match step {
        0 => store
            .book("room", None, &Claim::new(t, t + 3600), None)
            .map(drop),
        1 => store
            .book("room", None, &Claim::new(t + 3600, t + 5400), None)
            .map(drop),
        2 => store
            .set_override("room", None, day, DayOverride::UNAVAILABLE)
            .map(drop),
        3 => store.cancel("room", None, BookingId(1)).map(drop),
        4 => store.compact_journal(),
        5 => store
            .book("room", None, &Claim::new(t + 1800, t + 3600), None)
            .map(drop),
        6 => store.clear_override("room", None, day).map(drop),
        _ => store
            .book("room", None, &Claim::new(t + 7200, t + 9000), None)
            .map(drop),
    }
}

const STEPS: usize = 8;

/// The double of a store with calendar `room` (all available), flushed.
fn prepared() -> FileDouble {
    let file = FileDouble::new_store();
    let store = Store::open_double(file.clone()).expect("open");
    store
        .create(
            "room",
            "America/Vancouver",
            Vec::new(),
            &Authority::Unchecked,
        )
        .expect("create");
    store
        .commit("room", Some(1), &all_available())
        .expect("pattern");
    drop(store);
    file.reboot()
}

#[test]
fn a_crash_at_every_journal_write_keeps_the_acknowledged_or_the_attempted_state() {
    let t = tomorrow();
    // Run once to count the journal's writes and to know each step's state.
    let journal = prepared();
    let store = Store::open_double(journal.clone()).expect("open");
    let mut states = vec![Dated::of(&store, "room")];
    let mut writes_after = Vec::new();
    for step in 0..STEPS {
        dated_step(&store, step, t).expect("step");
        states.push(Dated::of(&store, "room"));
        writes_after.push(journal.writes());
    }
    let total = journal.writes();
    drop(store);
    assert!(total >= STEPS as u64);

    let mut outcomes = [0usize; 2];
    for at in 0..total {
        let crashes = [
            Crash::Kill { at },
            Crash::PowerLoss {
                at,
                tear: Tear::Lost,
            },
            Crash::PowerLoss {
                at,
                tear: Tear::Whole,
            },
            Crash::PowerLoss {
                at,
                tear: Tear::Prefix(40),
            },
            Crash::PowerLoss {
                at,
                tear: Tear::Sectors(at.wrapping_mul(0x9e37_79b9)),
            },
        ];
        for crash in crashes {
            let journal = prepared();
            let store = Store::open_double(journal.clone()).expect("open");
            journal.crash_at(crash);
            let mut acked = 0;
            for step in 0..STEPS {
                match dated_step(&store, step, t) {
                    Ok(()) => acked = step + 1,
                    Err(_) => break,
                }
            }
            drop(store);
            assert!(acked < STEPS, "{crash:?}: the crash came");
            let reopened = Store::open_double(journal.reboot())
                .unwrap_or_else(|e| panic!("{crash:?}: reopen: {e}"));
            let state = Dated::of(&reopened, "room");
            let which = if state == states[acked] {
                0
            } else if state == states[acked + 1] {
                1
            } else {
                panic!(
                    "{crash:?} after {acked} steps: {state:?} is neither {:?} nor {:?}",
                    states[acked],
                    states[acked + 1]
                );
            };
            outcomes[which] += 1;
            // The reopened store takes more writes.
            reopened
                .book(
                    "room",
                    None,
                    &Claim::new(t + 86_400 * 3, t + 86_400 * 3 + 1800),
                    None,
                )
                .unwrap_or_else(|e| panic!("{crash:?}: write after reopen: {e}"));
        }
    }
    // Both outcomes occur: the sweep reaches writes before and after acknowledgements.
    assert!(outcomes[0] > 0 && outcomes[1] > 0, "{outcomes:?}");
}

/// A store file with dated records, and its bytes.
fn journal_with_records(dir: &Path) -> (std::path::PathBuf, Vec<u8>) {
    let path = dir.join("store.avs");
    let t = tomorrow();
    let store = Store::open(&path).expect("open");
    store
        .commit("default", Some(1), &all_available())
        .expect("pattern");
    for i in 0..6 {
        store
            .book(
                "default",
                None,
                &Claim::new(t + i * 3600, t + i * 3600 + 1800),
                None,
            )
            .expect("book");
    }
    drop(store);
    let bytes = fs::read(&path).expect("read");
    (path, bytes)
}

#[test]
fn damage_to_acknowledged_dated_records_is_refused_and_a_torn_tail_is_not() {
    let (dir, _) = temp_store();
    let (path, bytes) = journal_with_records(dir.path());
    let journal = path.clone();
    let end = bytes.iter().rposition(|&b| b != 0).expect("records") + 1;
    // A flipped byte in any acknowledged record but the last is damage: a later record says
    // it was durable. Opening fails, naming the journal, and changes nothing.
    for at in (4096..end).step_by(37) {
        let mut damaged = bytes.clone();
        damaged[at] ^= 0x10;
        fs::write(&journal, &damaged).expect("write");
        match Store::open(&path) {
            Err(err) => {
                assert!(err.is_corrupt(), "byte {at}: {err}");
                assert!(err.to_string().contains("store.avs"), "{err}");
                assert_eq!(fs::read(&journal).expect("read"), damaged, "left as it was");
            }
            Ok(store) => {
                // Only the last record may read as a torn tail.
                let bookings = store
                    .get("default")
                    .expect("default")
                    .dated()
                    .booking_count();
                assert_eq!(bookings, 5, "byte {at}: only the last record may be lost");
            }
        }
    }
    // Truncations: the journal is refused or keeps a prefix of the records, never panics.
    for len in [0, 100, 4095, 4096, 4200, end - 1] {
        fs::write(&journal, &bytes[..len]).expect("write");
        match Store::open(&path) {
            Err(err) => assert!(err.is_corrupt() || err.is_io(), "{len}: {err}"),
            Ok(store) => {
                // A cut at a page boundary before every record leaves a store without
                // calendars: nothing says records followed.
                let n = store
                    .get("default")
                    .map_or(0, |default| default.dated().booking_count());
                assert!(n <= 6, "{len}");
            }
        }
    }
    fs::write(&journal, &bytes).expect("restore");
    let store = Store::open(&path).expect("restored");
    assert_eq!(
        store
            .get("default")
            .expect("default")
            .dated()
            .booking_count(),
        6
    );
}

#[test]
fn a_hundred_thousand_book_and_cancel_cycles_keep_the_journal_small() {
    let journal = FileDouble::new_store();
    let store = Store::open_double(journal.clone()).expect("open");
    store
        .commit("default", Some(1), &all_available())
        .expect("pattern");
    let t = tomorrow();
    let mut largest = 0;
    for i in 0..100_000i64 {
        let start = t + (i % 500) * 1800;
        let (_, booking) = store
            .book("default", None, &Claim::new(start, start + 1800), None)
            .expect("book");
        store.cancel("default", None, booking.id()).expect("cancel");
        largest = largest.max(journal.cache().len());
    }
    // Stated in docs/format.md: compaction keeps a journal under 4 MiB while live data is
    // small.
    assert!(largest < 4 << 20, "the journal grew to {largest} bytes");
    let version = store.get("default").expect("default").version();
    assert_eq!(version, 2 + 200_000);
    drop(store);
    let store = Store::open_double(journal.reboot()).expect("open");
    assert_eq!(store.get("default").expect("default").version(), version);
    assert!(store.get("default").expect("default").dated().is_empty());
}

#[test]
fn retention_drops_what_ended_long_ago_and_keeps_versions() {
    let (_dir, path) = temp_store();
    let t = tomorrow();
    // No retention at all: what ended is dropped at once, what has not ended stays.
    let options = Options {
        retention_seconds: 0,
    };
    let store = Store::open_with(&path, options).expect("open");
    store
        .commit("default", Some(1), &all_available())
        .expect("pattern");
    let (_, booking) = store
        .book("default", None, &Claim::new(t, t + 1800), None)
        .expect("book");
    store.compact_journal().expect("compact");
    drop(store);
    let store = Store::open_with(&path, options).expect("reopen");
    let calendar = store.get("default").expect("default");
    assert_eq!(calendar.version(), 3);
    assert!(calendar.dated().booking(booking.id()).is_some());
    // Ids are never reused, also after compaction dropped what held them.
    store.cancel("default", None, booking.id()).expect("cancel");
    store.compact_journal().expect("compact");
    drop(store);
    let store = Store::open_with(&path, options).expect("reopen");
    let (_, next) = store
        .book("default", None, &Claim::new(t, t + 1800), None)
        .expect("book");
    assert!(next.id() > booking.id());
    assert_eq!(store.get("default").expect("default").version(), 5);
}
