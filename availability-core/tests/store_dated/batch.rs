//! Calendars created in a batch: all of them or none, also across a crash at every write,
//! and the refusals that leave the store as it was.

use availability_core::store::double::{Crash, FileDouble, Tear};
use availability_core::store::{Authority, NewCalendar, Store, MAX_BATCH};

fn batch(prefix: &str, n: usize) -> Vec<NewCalendar> {
    (0..n)
        .map(|i| NewCalendar {
            id: format!("{prefix}-{i}"),
            zone: ["Europe/Paris", "Asia/Kathmandu", "America/New_York"][i % 3].to_owned(),
            booking_public: i % 2 == 0,
        })
        .collect()
}

/// Every calendar: id, zone, version, incarnation, whether anyone may book it.
fn calendars(store: &Store) -> Vec<(String, String, u64, bool)> {
    let mut out = Vec::new();
    store.for_each(|c| {
        out.push((
            c.id().to_owned(),
            c.zone().to_owned(),
            c.version(),
            c.booking_public(),
        ));
    });
    out.sort();
    out
}

#[test]
fn a_batch_creates_every_calendar_or_none() {
    let file = FileDouble::new_store();
    let store = Store::open_double(file.clone()).expect("open");
    let by = &Authority::Unchecked;
    let made = store
        .create_batch(&batch("room", MAX_BATCH), by)
        .expect("batch");
    assert_eq!(made.len(), MAX_BATCH);
    assert_eq!(made[7].id(), "room-7");
    assert_eq!(made[7].zone(), "Asia/Kathmandu");
    assert!(made.iter().all(|c| c.version() == 1 && c.keys().is_empty()));
    assert!(made[0].booking_public() && !made[1].booking_public());
    let before = calendars(&store);
    assert_eq!(before.len(), MAX_BATCH + 1, "and the default calendar");

    // Refused whole: an id taken, an id given twice, a bad id or zone, too many, none.
    let mut taken = batch("hall", 5);
    taken[3].id = "room-12".to_owned();
    let err = store.create_batch(&taken, by).expect_err("taken");
    assert!(err.is_already_exists(), "{err}");
    let mut twice = batch("hall", 5);
    twice[4].id = "hall-1".to_owned();
    assert!(store
        .create_batch(&twice, by)
        .expect_err("twice")
        .is_already_exists());
    let mut bad = batch("hall", 5);
    bad[2].id = "Hall".to_owned();
    assert!(store.create_batch(&bad, by).expect_err("bad id").is_parse());
    let mut zone = batch("hall", 5);
    zone[1].zone = "Europe Paris".to_owned();
    assert!(store
        .create_batch(&zone, by)
        .expect_err("bad zone")
        .is_parse());
    assert!(store
        .create_batch(&batch("hall", MAX_BATCH + 1), by)
        .expect_err("many")
        .is_capacity());
    assert!(store.create_batch(&[], by).expect_err("none").is_capacity());
    assert_eq!(calendars(&store), before, "a refused batch creates nothing");

    // A member of a batch lives on its own: deleted and made again, the others stay.
    store.delete("room-3", None).expect("delete");
    store
        .create("room-3", "UTC", Vec::new(), by)
        .expect("made again");
    drop(store);
    let reopened = Store::open_double(file.reboot()).expect("reopen");
    let after = calendars(&reopened);
    assert_eq!(after.len(), before.len());
    assert_eq!(
        after.iter().find(|c| c.0 == "room-3").map(|c| c.1.as_str()),
        Some("UTC")
    );
    assert_eq!(
        after.iter().filter(|c| c.0 != "room-3").collect::<Vec<_>>(),
        before
            .iter()
            .filter(|c| c.0 != "room-3")
            .collect::<Vec<_>>()
    );
    // And after a compaction, which writes each calendar on its own.
    reopened.compact_journal().expect("compact");
    drop(reopened);
    let compacted = Store::open_double(file.reboot()).expect("reopen");
    assert_eq!(calendars(&compacted), after);
}

/// The sequence the crash sweep runs: batches of several sizes around a single create and a
/// compaction.
fn step(store: &Store, step: usize) -> Result<(), availability_core::Error> {
    let by = &Authority::Unchecked;
    match step {
        0 => store.create_batch(&batch("a", 40), by).map(drop),
        1 => store.create("single", "UTC", Vec::new(), by).map(drop),
        2 => store.create_batch(&batch("b", MAX_BATCH), by).map(drop),
        3 => store.compact_journal(),
        _ => store.create_batch(&batch("c", 3), by).map(drop),
    }
}

const STEPS: usize = 5;

#[test]
fn a_crash_at_every_write_of_a_batch_leaves_all_of_it_or_none() {
    let journal = FileDouble::new_store();
    let store = Store::open_double(journal.clone()).expect("open");
    let mut expected = vec![calendars(&store)];
    for n in 0..STEPS {
        step(&store, n).expect("step");
        expected.push(calendars(&store));
    }
    let total = journal.writes();
    drop(store);
    let mut outcomes = [0usize; 2];
    for at in 0..total {
        for crash in [
            Crash::Kill { at },
            Crash::PowerLoss {
                at,
                tear: Tear::Lost,
            },
            Crash::PowerLoss {
                at,
                tear: Tear::Prefix(4096 + 40),
            },
            Crash::PowerLoss {
                at,
                tear: Tear::Sectors(at.wrapping_mul(0x9e37_79b9)),
            },
        ] {
            let journal = FileDouble::new_store();
            let store = Store::open_double(journal.clone()).expect("open");
            journal.crash_at(crash);
            let mut acked = 0;
            for n in 0..STEPS {
                match step(&store, n) {
                    Ok(()) => acked = n + 1,
                    Err(_) => break,
                }
            }
            drop(store);
            assert!(acked < STEPS, "{crash:?}: the crash came");
            let reopened = Store::open_double(journal.reboot())
                .unwrap_or_else(|e| panic!("{crash:?}: reopen: {e}"));
            let state = calendars(&reopened);
            let which = if state == expected[acked] {
                0
            } else if state == expected[acked + 1] {
                1
            } else {
                panic!(
                    "{crash:?} after {acked} steps: {} calendars, a state between two writes",
                    state.len()
                );
            };
            outcomes[which] += 1;
        }
    }
    assert!(outcomes[0] > 0 && outcomes[1] > 0, "{outcomes:?}");
}

/// `v6.avs`: the version 5 fixture opened by the last version 6 build, then a day off on
/// room-1, and a group `v6-team` (`v6-a` in Paris, `v6-b` in Kathmandu) with a 30-minute type
/// `sync` and two meetings of both members, the second moved: version 6's group types and
/// group bookings, which version 7 must read as they are.
#[test]
fn a_version_6_log_is_read_and_rewritten_as_version_9() {
    use std::fs;
    let (dir, _) = crate::store::temp_store();
    let path = dir.path().join("v6.avs");
    let data = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    fs::copy(data.join("v6.avs"), &path).expect("copy the fixture");
    assert_eq!(
        fs::read(&path).expect("read")[8],
        6,
        "the fixture is version 6"
    );
    let keep = availability_core::store::Options {
        retention_seconds: 100 * 365 * 86_400,
    };
    // Monday 2028-03-20 10:00 UTC, and the second meeting moved from 11:00 to 12:00.
    let start = 1_837_418_400;
    let holds = |store: &Store| {
        let room = store.get("room-1").expect("room-1");
        assert_eq!(room.version(), 15);
        let day = chrono::NaiveDate::from_ymd_opt(2028, 3, 24).expect("date");
        assert_eq!(
            room.dated().override_on(day).map(|d| d.bits()),
            Some(availability_core::dated::DayOverride::UNAVAILABLE.bits())
        );
        let team = store.group("v6-team").expect("v6-team");
        assert_eq!(team.members(), ["v6-a", "v6-b"]);
        let sync = team.booking_type("sync").expect("sync");
        assert_eq!((sync.rules.duration, sync.zone.as_str()), (30, "UTC"));
        let meetings = store
            .group_bookings("v6-team", start, start + 86_400)
            .expect("v6-team");
        let seen: Vec<_> = meetings
            .iter()
            .map(|m| (m.id, m.start, m.end, m.label.as_deref(), m.parts.len()))
            .collect();
        assert_eq!(
            seen,
            [
                (
                    2_199_023_255_636,
                    start,
                    start + 1800,
                    Some("v6 meeting"),
                    2
                ),
                (
                    2_199_023_255_637,
                    start + 7200,
                    start + 9000,
                    Some("v6 meeting"),
                    2
                ),
            ]
        );
        for member in ["v6-a", "v6-b"] {
            let calendar = store.get(member).expect("member");
            assert_eq!(
                calendar.dated().booking_count(),
                2,
                "{member}: the move freed 11:00"
            );
        }
        assert!(store.group("v5-team").is_some() && store.get("tokyo").is_some());
    };
    let store = Store::open_with(&path, keep).expect("open");
    holds(&store);
    drop(store);
    assert_eq!(
        fs::read(&path).expect("read")[8],
        9,
        "rewritten as version 9"
    );
    let store = Store::open_with(&path, keep).expect("reopen");
    holds(&store);
    // The rewritten file takes a batch, which only version 7 writes.
    store
        .create_batch(&batch("v7", 3), &Authority::Unchecked)
        .expect("batch");
    drop(store);
    let store = Store::open_with(&path, keep).expect("reopen after the batch");
    holds(&store);
    assert!(store.get("v7-2").is_some());
}
