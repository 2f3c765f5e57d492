//! Online backup ([`Store::backup`]): a copy taken while writers go on holds every write
//! acknowledged before it began, opens as a store with nothing to repair, and is untouched by
//! writes and a compaction during the copy; a copy cut short is refused.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use availability_core::dated::Claim;
use availability_core::store::{Authority, Change, NewCalendar, Store};
use availability_core::{Day, Entry, Status};

use crate::store::{every_slot_available, temp_store, tomorrow};

const ROOMS: usize = 8;

fn room(i: usize) -> String {
    format!("room-{i}")
}

fn versions(store: &Store) -> BTreeMap<String, u64> {
    (0..ROOMS)
        .map(|i| (room(i), store.get(&room(i)).expect("room").version()))
        .collect()
}

fn rooms(path: &std::path::Path) -> Store {
    let store = Store::open(path).expect("open");
    for i in 0..ROOMS {
        store
            .create(&room(i), "Europe/Berlin", Vec::new(), &Authority::Unchecked)
            .expect("create");
        store
            .commit(&room(i), None, &Change::Replace(every_slot_available()))
            .expect("pattern");
    }
    store
}

/// A small write to `room`: a pattern change that alternates, or a booking.
fn write(store: &Store, i: usize, n: u64) -> u64 {
    let id = room(i);
    let result = if n % 3 == 0 {
        let start = tomorrow() + (n as i64 % 500) * 1800;
        store
            .book(&id, None, &Claim::new(start, start + 1800), None)
            .map(|(calendar, _)| calendar.version())
    } else {
        let status = if n % 2 == 0 {
            Status::Maybe
        } else {
            Status::Available
        };
        let entry = Entry::range(
            Day::Saturday,
            "10:00".parse().expect("time"),
            "12:00".parse().expect("time"),
            status,
        );
        store
            .commit(&id, None, &Change::Apply(std::iter::once(entry).collect()))
            .map(|calendar| calendar.version())
    };
    match result {
        Ok(version) => version,
        // A slot already booked by an earlier round: still a write that was decided.
        Err(err) if err.is_conflict() => store.get(&id).expect("room").version(),
        Err(err) => panic!("write to {id}: {err}"),
    }
}

#[test]
fn a_backup_under_writes_holds_every_write_acknowledged_before_it() {
    let (dir, path) = temp_store();
    let store = Arc::new(rooms(&path));
    let acknowledged: Arc<Mutex<Vec<(usize, u64)>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let (store, acknowledged, stop) = (
                Arc::clone(&store),
                Arc::clone(&acknowledged),
                Arc::clone(&stop),
            );
            std::thread::spawn(move || {
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let i = (w * 2 + (n as usize % 2)) % ROOMS;
                    let version = write(&store, i, n);
                    acknowledged.lock().expect("log").push((i, version));
                    n += 1;
                }
            })
        })
        .collect();
    std::thread::sleep(std::time::Duration::from_millis(200));
    // Every write acknowledged before the backup begins must be in it.
    let before: Vec<(usize, u64)> = acknowledged.lock().expect("log").clone();
    let mut copy = Vec::new();
    let backup = store.backup(&mut copy).expect("backup");
    std::thread::sleep(std::time::Duration::from_millis(100));
    stop.store(true, Ordering::Relaxed);
    for writer in writers {
        writer.join().expect("writer");
    }
    assert!(
        before.len() > 10,
        "only {} writes before the backup",
        before.len()
    );
    assert_eq!(backup.len(), copy.len() as u64);

    let copied = dir.path().join("copy.avs");
    std::fs::write(&copied, &copy).expect("write the copy");
    let restored = Store::open(&copied).expect("the copy opens");
    let in_copy = versions(&restored);
    for (i, version) in &before {
        assert!(
            in_copy[&room(*i)] >= *version,
            "{} acknowledged at version {version} before the backup, {} in the copy",
            room(*i),
            in_copy[&room(*i)]
        );
    }
    // Nothing in the copy that the store did not have.
    let live = versions(&store);
    for (id, version) in &in_copy {
        assert!(
            *version <= live[id],
            "{id}: {version} in the copy, {} live",
            live[id]
        );
    }
    // The copy opened with nothing to repair: its bytes are as written.
    drop(restored);
    assert_eq!(std::fs::read(&copied).expect("read"), copy);
}

#[test]
fn writes_and_a_compaction_during_the_copy_leave_it_as_of_its_start() {
    let (dir, path) = temp_store();
    let store = rooms(&path);
    // Past the megabyte the copy reads at a time, so that the meddling below happens between
    // two reads of the file.
    for batch in 0..8 {
        let calendars: Vec<NewCalendar> = (0..1000)
            .map(|i| NewCalendar {
                id: format!("desk-{batch}-{i:04}"),
                zone: "America/Argentina/ComodRivadavia".to_owned(),
                booking_public: false,
            })
            .collect();
        store
            .create_batch(&calendars, &Authority::Unchecked)
            .expect("batch");
    }
    let at_start = versions(&store);
    let at_start_len = store.len();
    // The writer the copy goes to writes to the store, creates a calendar and compacts the
    // file the copy is read from, on its first chunk.
    struct Meddling<'a> {
        store: &'a Store,
        copy: Vec<u8>,
        meddled: bool,
    }
    impl std::io::Write for Meddling<'_> {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            if !self.meddled {
                self.meddled = true;
                for n in 0..20 {
                    write(self.store, n as usize % ROOMS, n);
                }
                self.store
                    .create("late", "UTC", Vec::new(), &Authority::Unchecked)
                    .expect("create");
                self.store.compact_journal().expect("compact");
                write(self.store, 0, 1);
            }
            self.copy.extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut out = Meddling {
        store: &store,
        copy: Vec::new(),
        meddled: false,
    };
    let backup = store.backup(&mut out).expect("backup");
    assert!(out.meddled);
    assert!(backup.len() > 1 << 20, "{} bytes", backup.len());
    let copied = dir.path().join("copy.avs");
    std::fs::write(&copied, &out.copy).expect("write");
    let restored = Store::open(&copied).expect("the copy opens");
    assert_eq!(versions(&restored), at_start);
    assert_eq!(restored.len(), at_start_len);
    assert!(restored.get("late").is_none());
    // The live store has moved on, and still opens.
    assert!(store.get("late").is_some());
    assert_ne!(versions(&store), at_start);
    drop(store);
    let reopened = Store::open(&path).expect("reopen");
    assert!(reopened.get("late").is_some());
}

#[test]
fn a_copy_cut_short_is_refused() {
    let (dir, path) = temp_store();
    let store = rooms(&path);
    let mut copy = Vec::new();
    store.backup(&mut copy).expect("backup");
    let cut = dir.path().join("cut.avs");
    // Cut inside the last records (the middle of a frame or a payload).
    for cut_at in [copy.len() - 9, copy.len() - 100] {
        std::fs::write(&cut, &copy[..cut_at]).expect("write");
        let err = Store::open(&cut).expect_err("a copy cut short must not open");
        assert!(err.is_corrupt(), "{err}");
        std::fs::remove_file(&cut).expect("remove");
    }
    // Cut inside the header.
    std::fs::write(&cut, &copy[..100]).expect("write");
    assert!(Store::open(&cut).is_err());
}
