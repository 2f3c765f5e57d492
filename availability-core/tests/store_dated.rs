//! Dated data in the store: overrides and bookings kept in the journal, with the store's
//! guarantees. Reopening, versions, a re-created calendar, idempotency, contention, crashes
//! at every journal write, damage to the journal, compaction and retention, and the
//! migration of a format version 1 file.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;
use std::sync::{Arc, Barrier};

use availability_core::dated::{BookingId, Claim, DayOverride};
use availability_core::store::double::{Crash, FileDouble, Tear};
use availability_core::store::{journal_path, Change, IdempotencyKey, KeyScope, Options, Store};
use availability_core::tz::IsoWeek;
use availability_core::{Batch, Day, Entry, Status, Week};

use crate::store::temp_store;

/// A whole hour about a day from now, as seconds since the epoch.
fn tomorrow() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    now - now % 3600 + 86_400
}

fn all_available() -> Change {
    Change::Replace(Batch::from(
        Day::ALL
            .iter()
            .map(|&day| {
                Entry::range(
                    day,
                    "00:00".parse().expect("time"),
                    "24:00".parse().expect("time"),
                    Status::Available,
                )
            })
            .collect::<Vec<_>>(),
    ))
}

fn date_of(unix: i64) -> chrono::NaiveDate {
    chrono::DateTime::from_timestamp(unix, 0)
        .expect("date")
        .date_naive()
}

/// What a store shows of a calendar's dated data: version, bookings, overrides.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Dated {
    version: u64,
    bookings: Vec<(u64, i64, i64, Option<String>)>,
    overrides: Vec<(chrono::NaiveDate, (u64, u64))>,
}

impl Dated {
    fn of(store: &Store, id: &str) -> Dated {
        let calendar = store.get(id).expect("calendar");
        let dated = calendar.dated();
        let mut bookings: Vec<_> = dated
            .all_bookings()
            .map(|b| (b.id().0, b.start(), b.end(), b.label().map(String::from)))
            .collect();
        bookings.sort();
        // No slot is held by two bookings.
        let mut held = BTreeSet::new();
        for booking in dated.all_bookings() {
            for slot in booking.slots() {
                assert!(held.insert(slot), "slot {slot:?} held twice");
            }
        }
        Dated {
            version: calendar.version(),
            bookings,
            overrides: dated.all_overrides().map(|(d, o)| (d, o.bits())).collect(),
        }
    }
}

#[test]
fn bookings_and_overrides_survive_a_reopen_and_bump_the_version() {
    let (_dir, path) = temp_store();
    let t = tomorrow();
    let store = Store::open(&path).expect("open");
    store.create("room", "Europe/Paris").expect("create");
    store
        .commit("room", Some(1), &all_available())
        .expect("pattern");
    let mut claim = Claim::new(t, t + 3600);
    claim.label = Some(String::from("Team sync"));
    claim.key_id = Some(String::from("k1"));
    let (after, booking) = store.book("room", &claim, None).expect("book");
    assert_eq!(after.version(), 3);
    assert_eq!(booking.slot_count(), 2);
    let again = store.book("room", &Claim::new(t + 1800, t + 5400), None);
    let err = again.expect_err("taken");
    assert!(err.is_conflict(), "{err}");
    assert_eq!(
        err.conflict_details().and_then(|c| c.booking()),
        Some(booking.id())
    );
    let day = date_of(t + 2 * 86_400);
    let after = store
        .set_override("room", Some(3), day, DayOverride::UNAVAILABLE)
        .expect("override");
    assert_eq!(after.version(), 4);
    let stale = store.set_override("room", Some(3), day, DayOverride::UNAVAILABLE);
    assert!(stale.expect_err("stale").is_version_mismatch());
    // A pattern write after dated writes continues the same count.
    let after = store
        .commit("room", Some(4), &all_available())
        .expect("pattern");
    assert_eq!(after.version(), 5);
    let before = Dated::of(&store, "room");
    drop(store);

    let store = Store::open(&path).expect("reopen");
    assert_eq!(Dated::of(&store, "room"), before);
    store.refresh_time_zones().expect("refresh");
    assert_eq!(Dated::of(&store, "room"), before);
    let room = store.get("room").expect("room");
    let booked = room.dated().booking(booking.id()).expect("kept");
    assert_eq!(booked.key_id(), Some("k1"));
    // The effective week shows the booking and the day off.
    let week = IsoWeek::at("Europe/Paris".parse().expect("zone"), t).expect("week");
    let effective = room.dated().effective(&room.week(), week);
    let held = booked.slots();
    assert_eq!(held.len(), 2);
    for (w, slot) in held {
        assert_eq!(w, week);
        assert_eq!(room.week().status(slot), Status::Available);
        assert_eq!(effective.status(slot), Status::Unavailable, "{slot}");
    }
    let day_off =
        room.dated().override_on(day).is_some() && IsoWeek::containing(day).expect("week") == week;
    let expected = 336 - 2 - if day_off { 48 } else { 0 };
    assert_eq!(effective.counts().available, expected);
    let (_, cancelled) = store.cancel("room", None, booking.id()).expect("cancel");
    assert_eq!(cancelled.id(), booking.id());
    assert!(store
        .cancel("room", None, booking.id())
        .expect_err("gone")
        .is_not_found());
    // The freed slots can be booked again, with a new id.
    let (_, next) = store
        .book("room", &Claim::new(t, t + 3600), None)
        .expect("rebook");
    assert!(next.id() > booking.id());
}

#[test]
fn a_calendar_created_again_has_none_of_the_old_dated_data() {
    let (_dir, path) = temp_store();
    let t = tomorrow();
    let store = Store::open(&path).expect("open");
    let first = store.create("room", "UTC").expect("create");
    store
        .commit("room", Some(1), &all_available())
        .expect("pattern");
    store
        .book("room", &Claim::new(t, t + 1800), None)
        .expect("book");
    store.delete("room", None).expect("delete");
    let second = store.create("room", "UTC").expect("create again");
    assert_ne!(first.incarnation(), second.incarnation());
    assert!(second.dated().is_empty());
    drop(store);
    let store = Store::open(&path).expect("reopen");
    let room = store.get("room").expect("room");
    assert!(room.dated().is_empty(), "{:?}", room.dated());
    assert_eq!(room.version(), 1);
    assert_eq!(room.incarnation(), second.incarnation());
}

#[test]
fn an_idempotent_booking_is_remembered_across_a_restart() {
    let (_dir, path) = temp_store();
    let t = tomorrow();
    let store = Store::open(&path).expect("open");
    store
        .commit("default", Some(1), &all_available())
        .expect("pattern");
    let key = IdempotencyKey {
        key: String::from("4b1f6d2e-retry"),
        principal: String::from("key:k1"),
        fingerprint: [7; 32],
        expires_ms: (t + 86_400) * 1000,
    };
    let answer = |calendar: &availability_core::store::Calendar,
                  booking: &availability_core::dated::Booking| {
        (
            201,
            format!(
                "{{\"id\":\"{}\",\"version\":{}}}",
                booking.id(),
                calendar.version()
            )
            .into_bytes(),
        )
    };
    let (_, booking) = store
        .book("default", &Claim::new(t, t + 1800), Some((&key, &answer)))
        .expect("book");
    drop(store);
    let store = Store::open(&path).expect("reopen");
    let remembered = store
        .remembered("key:k1", "4b1f6d2e-retry")
        .expect("remembered");
    assert_eq!(remembered.status, 201);
    assert_eq!(remembered.fingerprint, [7; 32]);
    assert_eq!(
        String::from_utf8(remembered.body).expect("utf-8"),
        format!("{{\"id\":\"{}\",\"version\":3}}", booking.id())
    );
    assert!(store.remembered("key:k2", "4b1f6d2e-retry").is_none());
    // A key too long to keep is refused before anything happens.
    let long = IdempotencyKey {
        key: "x".repeat(256),
        ..key
    };
    let err = store
        .book(
            "default",
            &Claim::new(t + 3600, t + 5400),
            Some((&long, &answer)),
        )
        .expect_err("long key");
    assert!(err.is_parse(), "{err}");
    assert_eq!(store.get("default").expect("default").version(), 3);
}

#[test]
fn many_threads_racing_for_one_slot_make_one_booking() {
    let (_dir, path) = temp_store();
    let t = tomorrow();
    let store = Arc::new(Store::open(&path).expect("open"));
    store
        .commit("default", Some(1), &all_available())
        .expect("pattern");
    let threads = 64;
    let barrier = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|i| {
            let (store, barrier) = (Arc::clone(&store), Arc::clone(&barrier));
            std::thread::spawn(move || {
                barrier.wait();
                // Everyone wants 10:00-10:30; half of them ask for a longer span around it.
                let (start, end) = if i % 2 == 0 {
                    (t, t + 1800)
                } else {
                    (t - 1800 * (i as i64 % 3), t + 1800 * (1 + i as i64 % 4))
                };
                store.book("default", &Claim::new(start, end), None)
            })
        })
        .collect();
    let results: Vec<_> = handles
        .into_iter()
        .map(|h| h.join().expect("thread"))
        .collect();
    let winners = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(winners, 1, "exactly one claim of the contested slot wins");
    for result in &results {
        if let Err(err) = result {
            assert!(err.is_conflict(), "{err}");
        }
    }
    let dated = Dated::of(&store, "default");
    assert_eq!(dated.bookings.len(), 1);
    assert_eq!(dated.version, 3);
}

#[test]
fn overlapping_claims_from_many_threads_never_share_a_slot() {
    let (_dir, path) = temp_store();
    let t = tomorrow();
    let store = Arc::new(Store::open(&path).expect("open"));
    for c in 0..4 {
        store
            .create(&format!("room-{c}"), "Asia/Kolkata")
            .expect("create");
        store
            .commit(&format!("room-{c}"), Some(1), &all_available())
            .expect("pattern");
    }
    let threads = 64;
    let barrier = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|i| {
            let (store, barrier) = (Arc::clone(&store), Arc::clone(&barrier));
            std::thread::spawn(move || {
                barrier.wait();
                let room = format!("room-{}", i % 4);
                let start = t + 900 * (i as i64 % 7);
                let end = start + 900 * (1 + i as i64 % 5);
                (
                    room.clone(),
                    start,
                    end,
                    store.book(&room, &Claim::new(start, end), None),
                )
            })
        })
        .collect();
    let results: Vec<_> = handles
        .into_iter()
        .map(|h| h.join().expect("thread"))
        .collect();
    for c in 0..4 {
        let room = format!("room-{c}");
        // Dated::of checks that no slot is held twice.
        let dated = Dated::of(&store, &room);
        let mine: Vec<_> = results.iter().filter(|r| r.0 == room).collect();
        let won = mine.iter().filter(|r| r.3.is_ok()).count();
        assert!(won >= 1);
        assert_eq!(dated.bookings.len(), won);
        for (_, start, end, result) in &mine {
            if let Err(err) = result {
                // A claim lost only to a booking: some winner holds one of its slots.
                let conflict = err.conflict_details().expect("a conflict");
                let holder = conflict.booking().expect("a booking refused it");
                assert!(dated.bookings.iter().any(|b| b.0 == holder.0));
                assert!(conflict.instant >= *start && conflict.instant < *end);
            }
        }
    }
}

/// The dated sequence the crash sweep runs, on a calendar whose pattern is all available.
fn dated_step(store: &Store, step: usize, t: i64) -> Result<(), availability_core::Error> {
    let day = date_of(t + 86_400);
    match step {
        0 => store.book("room", &Claim::new(t, t + 3600), None).map(drop),
        1 => store
            .book("room", &Claim::new(t + 3600, t + 5400), None)
            .map(drop),
        2 => store
            .set_override("room", None, day, DayOverride::UNAVAILABLE)
            .map(drop),
        3 => store.cancel("room", None, BookingId(1)).map(drop),
        4 => store.compact_journal(),
        5 => store
            .book("room", &Claim::new(t + 1800, t + 3600), None)
            .map(drop),
        6 => store.clear_override("room", None, day).map(drop),
        _ => store
            .book("room", &Claim::new(t + 7200, t + 9000), None)
            .map(drop),
    }
}

const STEPS: usize = 8;

/// The double of a store with calendar `room` (all available), flushed.
fn prepared() -> FileDouble {
    let file = FileDouble::new_store();
    let store = Store::open_double(file.clone()).expect("open");
    store.create("room", "America/Vancouver").expect("create");
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
            .book("default", &Claim::new(start, start + 1800), None)
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
        .book("default", &Claim::new(t, t + 1800), None)
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
        .book("default", &Claim::new(t, t + 1800), None)
        .expect("book");
    assert!(next.id() > booking.id());
    assert_eq!(store.get("default").expect("default").version(), 5);
}

#[test]
fn a_version_1_file_is_migrated_and_keeps_everything() {
    let (dir, _) = temp_store();
    let path = dir.path().join("v1.avs");
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/v1.avs");
    fs::copy(&fixture, &path).expect("copy the fixture");
    assert_eq!(
        fs::read(&path).expect("read")[8],
        1,
        "the fixture is version 1"
    );
    let store = Store::open(&path).expect("migrate");
    let ids: Vec<String> = store.list().iter().map(|c| c.id().to_string()).collect();
    assert_eq!(ids, ["default", "room-1", "tokyo"]);
    let room = store.get("room-1").expect("room-1");
    assert_eq!(room.zone(), "Europe/Paris");
    assert_eq!(room.version(), 2);
    assert_eq!(room.week().counts().available, 70);
    let key = room.key("k1").expect("key");
    assert_eq!(key.scope(), KeyScope::Write);
    assert_eq!(key.created_unix_ms(), 0);
    assert!(store.admin_key("admin").is_some());
    let incarnations: BTreeSet<u64> = store.list().iter().map(|c| c.incarnation()).collect();
    assert_eq!(
        incarnations.len(),
        3,
        "every calendar has its own incarnation"
    );
    drop(store);
    assert_eq!(
        fs::read(&path).expect("read")[8],
        3,
        "rewritten as version 3"
    );
    assert!(!journal_path(&path).exists(), "one file");
    // The migrated store takes dated writes and keeps them.
    let store = Store::open(&path).expect("reopen");
    let t = tomorrow();
    store
        .book("room-1", &Claim::new(t + 9 * 3600, t + 10 * 3600), None)
        .map(drop)
        .or_else(|e| if e.is_conflict() { Ok(()) } else { Err(e) })
        .expect("book or a conflict with the pattern");
    let created = store.create("new", "UTC").expect("create");
    assert!(!incarnations.contains(&created.incarnation()));
}

#[test]
fn a_version_2_store_and_its_journal_are_migrated_into_one_file() {
    let (dir, _) = temp_store();
    let path = dir.path().join("v2.avs");
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    fs::copy(data.join("v2.avs"), &path).expect("copy the fixture");
    fs::copy(data.join("v2.avs.journal"), journal_path(&path)).expect("copy its journal");
    assert_eq!(
        fs::read(&path).expect("read")[8],
        2,
        "the fixture is version 2"
    );
    // Its bookings are of March 2028: kept, whenever this runs.
    let keep = Options {
        retention_seconds: 100 * 365 * 86_400,
    };
    let check = |store: &Store| {
        let ids: Vec<String> = store.list().iter().map(|c| c.id().to_string()).collect();
        assert_eq!(ids, ["default", "room-1", "tokyo"]);
        let room = store.get("room-1").expect("room-1");
        assert_eq!((room.zone(), room.version()), ("Europe/Paris", 8));
        assert!(room.booking_public());
        assert_eq!(room.week().counts().available, 70);
        let k2 = room.key("k2").expect("k2");
        assert_eq!(
            (k2.scope(), k2.label()),
            (KeyScope::Book, Some("front desk"))
        );
        let dated = room.dated();
        assert_eq!(dated.booking_count(), 2, "the cancelled one is gone");
        let planning = dated.booking(BookingId(1)).expect("booking 1");
        assert_eq!(
            (planning.start(), planning.label(), planning.key_id()),
            (1_836_637_200, Some("planning"), Some("k2"))
        );
        let monday = chrono::NaiveDate::from_ymd_opt(2028, 3, 13).expect("date");
        assert_eq!(
            dated.override_on(monday).map(|d| d.bits()),
            Some((0xFF << 20, 0xF << 20))
        );
        assert_eq!(
            store.get("tokyo").expect("tokyo").incarnation(),
            (2 << 40) | 4,
            "the recreated tokyo keeps its incarnation"
        );
        assert!(store.get("gone").is_none());
        assert!(store.admin_key("admin").is_some());
        assert_eq!(
            store.group("team").expect("team").members(),
            ["room-1", "tokyo", "ghost"]
        );
        assert!(store.group("old").is_none());
        for (principal, key, status) in [("key:k1", "retry-1", 201), ("key:admin", "create-1", 201)]
        {
            let answer = store.remembered(principal, key).expect("remembered");
            assert_eq!(answer.status, status);
        }
    };
    let store = Store::open_with(&path, keep).expect("migrate");
    check(&store);
    drop(store);
    assert_eq!(
        fs::read(&path).expect("read")[8],
        3,
        "rewritten as version 3"
    );
    assert!(
        !journal_path(&path).exists(),
        "the journal is in the one file now"
    );
    let store = Store::open_with(&path, keep).expect("reopen");
    check(&store);
    // New calendars never reuse an incarnation the old file gave.
    let created = store.create("new", "UTC").expect("create");
    assert!(created.incarnation() > (2 << 40) | 4);
    store.delete("new", None).expect("delete");
    store.compact_journal().expect("compact");
    drop(store);
    check(&Store::open_with(&path, keep).expect("reopen after compaction"));
}

#[test]
fn a_version_2_store_without_its_journal_is_refused_and_left_as_it_was() {
    let (dir, _) = temp_store();
    let path = dir.path().join("v2.avs");
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/v2.avs");
    fs::copy(&fixture, &path).expect("copy the fixture");
    let err = Store::open(&path).expect_err("no journal");
    assert!(
        err.is_corrupt() && err.to_string().contains("missing"),
        "{err}"
    );
    assert_eq!(
        fs::read(&path).expect("read"),
        fs::read(&fixture).expect("read")
    );
}

#[test]
fn a_crash_during_migration_leaves_the_version_1_file_or_the_new_one() {
    let fixture =
        fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/v1.avs")).expect("fixture");
    for tear in [Tear::Lost, Tear::Whole] {
        let file = FileDouble::new(fixture.clone());
        file.crash_at(Crash::PowerLoss { at: 0, tear });
        let err = Store::open_double(file.clone()).expect_err("the power failed");
        assert!(err.is_io(), "{err}");
        let after = file.reboot();
        let version = after.durable()[8];
        assert_eq!(version, if tear == Tear::Lost { 1 } else { 3 });
        let store = Store::open_double(after).expect("open");
        assert_eq!(store.list().len(), 3);
        assert_eq!(
            store.get("room-1").expect("room-1").week(),
            Week::from_fn(|s| {
                let t = s.start().half_hours();
                if s.day().index() >= 5 || !(18..34).contains(&t) {
                    Status::Unavailable
                } else if (24..26).contains(&t) {
                    Status::Maybe
                } else {
                    Status::Available
                }
            })
        );
    }
}

#[test]
fn named_groups_are_kept_in_the_journal() {
    let (_dir, path) = temp_store();
    let store = Store::open(&path).expect("open");
    let members: Vec<String> = ["ana", "ben", "room-1"].map(String::from).to_vec();
    let (group, new) = store.put_group("team", members.clone()).expect("put");
    assert!(new);
    assert_eq!(group.members(), members.as_slice());
    let (_, new) = store
        .put_group("team", vec![String::from("ana")])
        .expect("replace");
    assert!(!new);
    store
        .put_group("other", members.clone())
        .expect("another group");
    store.delete_group("other").expect("delete");
    assert!(store.delete_group("other").unwrap_err().is_not_found());
    for bad in [
        vec![],
        vec![String::from("ana"), String::from("ana")],
        vec![String::from("Not An Id")],
        (0..1001).map(|i| format!("c{i}")).collect(),
    ] {
        let err = store.put_group("bad", bad).expect_err("refused");
        assert!(err.is_parse(), "{err}");
    }
    assert!(store.put_group("Bad Id", members).unwrap_err().is_parse());
    drop(store);
    let store = Store::open(&path).expect("reopen");
    let ids: Vec<String> = store.groups().iter().map(|g| g.id().to_owned()).collect();
    assert_eq!(ids, ["team"]);
    assert_eq!(store.group("team").expect("team").members(), ["ana"]);
    store.compact_journal().expect("compact");
    drop(store);
    let store = Store::open(&path).expect("reopen after compaction");
    assert_eq!(store.group("team").expect("team").members(), ["ana"]);
    assert!(store.group("other").is_none());
}
