//! The migration of format version 1 and 2 files into the log: everything is kept, and a
//! crash during it leaves the old file or the new one; and the logs of versions 3 to 5, read
//! as they are and rewritten as the current version.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use availability_core::dated::{BookingId, Claim, DayOverride};
use availability_core::slots::BookingType;
use availability_core::store::double::{Crash, FileDouble, Tear};
use availability_core::store::{
    journal_path, Answer, Authority, GroupType, KeyScope, Options, Store,
};
use availability_core::{Status, Week};

use super::tomorrow;
use crate::store::temp_store;

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
        9,
        "rewritten as version 9"
    );
    assert!(!journal_path(&path).exists(), "one file");
    // The migrated store takes dated writes and keeps them.
    let store = Store::open(&path).expect("reopen");
    let t = tomorrow();
    store
        .book(
            "room-1",
            None,
            &Claim::new(t + 9 * 3600, t + 10 * 3600),
            None,
        )
        .map(drop)
        .or_else(|e| if e.is_conflict() { Ok(()) } else { Err(e) })
        .expect("book or a conflict with the pattern");
    let created = store
        .create("new", "UTC", Vec::new(), &Authority::Unchecked)
        .expect("create");
    assert!(!incarnations.contains(&created.incarnation()));
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
        assert_eq!(version, if tear == Tear::Lost { 1 } else { 9 });
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
    let store = Store::open_with(&path, keep).expect("migrate");
    holds_the_version_2_fixture(&store);
    drop(store);
    assert_eq!(
        fs::read(&path).expect("read")[8],
        9,
        "rewritten as version 9"
    );
    assert!(
        !journal_path(&path).exists(),
        "the journal is in the one file now"
    );
    let store = Store::open_with(&path, keep).expect("reopen");
    holds_the_version_2_fixture(&store);
    // New calendars never reuse an incarnation the old file gave.
    let created = store
        .create("new", "UTC", Vec::new(), &Authority::Unchecked)
        .expect("create");
    assert!(created.incarnation() > (2 << 40) | 4);
    store.delete("new", None).expect("delete");
    store.compact_journal().expect("compact");
    drop(store);
    holds_the_version_2_fixture(&Store::open_with(&path, keep).expect("reopen after compaction"));
}

/// What the version 2 fixture holds, as every later version reads it.
fn holds_the_version_2_fixture(store: &Store) {
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
    for (principal, key, status) in [("key:k1", "retry-1", 201), ("key:admin", "create-1", 201)] {
        let answer = store.remembered(principal, key).expect("remembered");
        assert!(
            matches!(answer.answer, Answer::Response { status: s, .. } if s == status),
            "{answer:?}"
        );
    }
}

#[test]
fn a_version_3_log_is_read_and_rewritten_as_version_9() {
    let (dir, _) = temp_store();
    let path = dir.path().join("v3.avs");
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    fs::copy(data.join("v3.avs"), &path).expect("copy the fixture");
    assert_eq!(
        fs::read(&path).expect("read")[8],
        3,
        "the fixture is version 3"
    );
    let keep = Options {
        retention_seconds: 100 * 365 * 86_400,
    };
    // The version 2 fixture as version 3 migrated it, then a booking with an idempotency
    // key (its answer kept as the body the server made) and an answer kept on its own.
    let holds = |store: &Store| {
        let room = store.get("room-1").expect("room-1");
        assert_eq!(room.version(), 9);
        let booked = room.dated().booking(BookingId(4)).expect("booking 4");
        assert_eq!(
            (booked.start(), booked.label()),
            (1_836_896_400, Some("v3 booking"))
        );
        for (principal, key, body) in [
            (
                "key:k1",
                "book-v3",
                "{\"id\":\"4\",\"calendar\":\"room-1\",\"version\":9}",
            ),
            ("key:admin", "key-v3", "{\"id\":\"sealed\"}"),
        ] {
            let answer = store.remembered(principal, key).expect("remembered").answer;
            assert_eq!(
                answer,
                Answer::Response {
                    status: 201,
                    body: body.as_bytes().to_vec(),
                    state: None,
                }
            );
        }
        assert_eq!(store.group("team").expect("team").members().len(), 3);
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
    holds_the_version_2_fixture_but_room_1(&store);
}

#[test]
fn a_version_4_log_is_read_and_rewritten_as_version_9() {
    let (dir, _) = temp_store();
    let path = dir.path().join("v4.avs");
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    fs::copy(data.join("v4.avs"), &path).expect("copy the fixture");
    assert_eq!(
        fs::read(&path).expect("read")[8],
        4,
        "the fixture is version 4"
    );
    let keep = Options {
        retention_seconds: 100 * 365 * 86_400,
    };
    // The version 3 fixture as version 4 rewrote it, then a booking with an idempotency key
    // (its answer holds the booking), an override and a response kept with its state.
    let holds = |store: &Store| {
        let room = store.get("room-1").expect("room-1");
        assert_eq!(room.version(), 11);
        assert_eq!(room.booking_types().len(), 0);
        let booked = room.dated().booking(BookingId(5)).expect("booking 5");
        assert_eq!(
            (
                booked.start(),
                booked.label(),
                booked.key_id(),
                booked.booking_type()
            ),
            (1_837_159_200, Some("v4 booking"), Some("k1"), None)
        );
        let answer = store
            .remembered("key:k1", "book-v4")
            .expect("booked")
            .answer;
        assert!(
            matches!(&answer, Answer::Booked { version: 10, booking, .. } if booking.id() == BookingId(5)),
            "{answer:?}"
        );
        let answer = store
            .remembered("key:admin", "key-v4")
            .expect("kept")
            .answer;
        assert!(
            matches!(
                &answer,
                Answer::Response {
                    status: 201,
                    state: Some((_, 3)),
                    ..
                }
            ),
            "{answer:?}"
        );
        let date = chrono::NaiveDate::from_ymd_opt(2028, 3, 21).expect("date");
        assert_eq!(
            room.dated().override_on(date).map(|d| d.bits()),
            Some((0xFF << 18, 0xF << 18))
        );
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
    holds_the_version_2_fixture_but_room_1(&store);
}

#[test]
fn a_version_5_log_is_read_and_rewritten_as_version_9() {
    let (dir, _) = temp_store();
    let path = dir.path().join("v5.avs");
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    fs::copy(data.join("v5.avs"), &path).expect("copy the fixture");
    assert_eq!(
        fs::read(&path).expect("read")[8],
        5,
        "the fixture is version 5"
    );
    let keep = Options {
        retention_seconds: 100 * 365 * 86_400,
    };
    let consult = BookingType {
        duration: 45,
        interval: 15,
        buffer_before: 10,
        buffer_after: 5,
        notice: 120,
        horizon: 730,
        per_day: Some(2),
        label: Some(String::from("Consultation")),
    };
    // The version 4 fixture as version 5 rewrote it, then a booking type on room-1, a
    // booking of that type (Wednesday 22 March 2028, 10:00 in Paris) moved to Thursday 14:00,
    // and a second group.
    let holds = |store: &Store, version: u64| {
        let room = store.get("room-1").expect("room-1");
        assert_eq!(room.version(), version);
        let types: Vec<_> = room.booking_types().collect();
        assert_eq!(types, [("consult", &consult)]);
        let dated = room.dated();
        assert_eq!(dated.booking_count(), 5, "the move freed its first span");
        let moved = dated.booking(BookingId(6)).expect("booking 6");
        assert_eq!(
            (moved.start(), moved.end(), moved.created_unix_ms()),
            (1_837_429_200, 1_837_431_900, 1_796_575_295_000)
        );
        assert_eq!(
            (
                moved.label(),
                moved.key_id(),
                moved.booking_type(),
                moved.group()
            ),
            (Some("v5 booking"), Some("k2"), Some("consult"), None)
        );
        assert!(dated.all_bookings().all(|b| b.start() != 1_837_328_400));
        let v4 = dated.booking(BookingId(5)).expect("booking 5");
        assert_eq!(
            (v4.start(), v4.label(), v4.booking_type()),
            (1_837_159_200, Some("v4 booking"), None)
        );
        let answer = store
            .remembered("key:k1", "book-v4")
            .expect("booked")
            .answer;
        assert!(
            matches!(&answer, Answer::Booked { version: 10, booking, .. } if booking.id() == BookingId(5)),
            "{answer:?}"
        );
        let date = chrono::NaiveDate::from_ymd_opt(2028, 3, 21).expect("date");
        assert_eq!(
            dated.override_on(date).map(|d| d.bits()),
            Some((0xFF << 18, 0xF << 18))
        );
        let groups: Vec<_> = store.groups().iter().map(|g| g.id().to_owned()).collect();
        assert_eq!(groups, ["team", "v5-team"]);
        let team = store.group("v5-team").expect("v5-team");
        assert_eq!(team.members(), ["room-1", "tokyo"]);
        assert_eq!(
            store.group("team").expect("team").members(),
            ["room-1", "tokyo", "ghost"]
        );
        holds_the_version_2_fixture_but_room_1(store);
    };
    let store = Store::open_with(&path, keep).expect("open");
    holds(&store, 14);
    drop(store);
    assert_eq!(
        fs::read(&path).expect("read")[8],
        9,
        "rewritten as version 9"
    );
    let store = Store::open_with(&path, keep).expect("reopen");
    holds(&store, 14);
    assert_eq!(
        store
            .group("v5-team")
            .expect("v5-team")
            .booking_types()
            .len(),
        0
    );
    // The rewritten file takes new writes: a day off, and a group type, which only version 6
    // keeps.
    let day = chrono::NaiveDate::from_ymd_opt(2028, 3, 24).expect("date");
    let after = store
        .set_override("room-1", Some(14), day, DayOverride::UNAVAILABLE)
        .expect("override");
    assert_eq!(after.version(), 15);
    let group_type = GroupType {
        rules: consult.clone(),
        zone: String::from("Europe/Paris"),
    };
    store
        .put_group_type(
            "v5-team",
            "consult",
            Some(group_type.clone()),
            &Authority::Unchecked,
        )
        .expect("group type");
    drop(store);
    let store = Store::open_with(&path, keep).expect("reopen after the writes");
    holds(&store, 15);
    let room = store.get("room-1").expect("room-1");
    assert_eq!(
        room.dated().override_on(day).map(|d| d.bits()),
        Some(DayOverride::UNAVAILABLE.bits())
    );
    let team = store.group("v5-team").expect("v5-team");
    assert_eq!(team.booking_type("consult"), Some(&group_type));
}

/// The version 2 fixture's calendars other than the one the version 3 fixture booked on.
fn holds_the_version_2_fixture_but_room_1(store: &Store) {
    let ids: Vec<String> = store.list().iter().map(|c| c.id().to_string()).collect();
    assert_eq!(ids, ["default", "room-1", "tokyo"]);
    assert_eq!(
        store.get("tokyo").expect("tokyo").incarnation(),
        (2 << 40) | 4
    );
    assert!(store.admin_key("admin").is_some());
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
