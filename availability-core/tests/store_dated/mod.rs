//! Dated data in the store: overrides and bookings kept in the journal, with the store's
//! guarantees. Reopening, versions, a re-created calendar, idempotency, contention, crashes
//! at every journal write, damage to the journal, compaction and retention, and the
//! migration of a format version 1 file.
//!
//! - `contention`: many threads claiming the same slots;
//! - `journal`: crashes at every journal write, damage to it, compaction and retention;
//! - `migration`: a version 1 file migrated, and a crash during the migration;
//! - here: what a reopen keeps (versions, idempotency, groups) and what a re-created calendar
//!   does not.

mod batch;
mod contention;
mod groups;
mod history;
mod journal;
mod migration;
mod types;
mod webhooks;

use std::collections::BTreeSet;

use availability_core::dated::{Claim, DayOverride};
use availability_core::store::{Answer, Authority, Change, IdempotencyKey, Store};
use availability_core::tz::IsoWeek;
use availability_core::Status;

use crate::store::{every_slot_available, temp_store, tomorrow};

fn all_available() -> Change {
    Change::Replace(every_slot_available())
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
    store
        .create("room", "Europe/Paris", Vec::new(), &Authority::Unchecked)
        .expect("create");
    store
        .commit("room", Some(1), &all_available())
        .expect("pattern");
    let mut claim = Claim::new(t, t + 3600);
    claim.label = Some(String::from("Team sync"));
    claim.key_id = Some(String::from("k1"));
    let (after, booking) = store.book("room", None, &claim, None).expect("book");
    assert_eq!(after.version(), 3);
    assert_eq!(booking.slot_count(), 2);
    let again = store.book("room", None, &Claim::new(t + 1800, t + 5400), None);
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
        .book("room", None, &Claim::new(t, t + 3600), None)
        .expect("rebook");
    assert!(next.id() > booking.id());
}

#[test]
fn a_calendar_created_again_has_none_of_the_old_dated_data() {
    let (_dir, path) = temp_store();
    let t = tomorrow();
    let store = Store::open(&path).expect("open");
    let first = store
        .create("room", "UTC", Vec::new(), &Authority::Unchecked)
        .expect("create");
    store
        .commit("room", Some(1), &all_available())
        .expect("pattern");
    store
        .book("room", None, &Claim::new(t, t + 1800), None)
        .expect("book");
    store.delete("room", None).expect("delete");
    let second = store
        .create("room", "UTC", Vec::new(), &Authority::Unchecked)
        .expect("create again");
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
    let (_, booking) = store
        .book("default", None, &Claim::new(t, t + 1800), Some(&key))
        .expect("book");
    let booked = |store: &Store| {
        let remembered = store
            .remembered("key:k1", "4b1f6d2e-retry")
            .expect("remembered");
        assert_eq!(remembered.fingerprint, [7; 32]);
        match remembered.answer {
            Answer::Booked {
                calendar,
                incarnation,
                version,
                booking,
            } => (calendar, incarnation, version, booking),
            other => panic!("a booking's answer, not {other:?}"),
        }
    };
    let incarnation = store.get("default").expect("default").incarnation();
    let expected = (String::from("default"), incarnation, 3, booking.clone());
    assert_eq!(booked(&store), expected);
    drop(store);
    // Kept with the booking, read back after a restart, and kept after the booking is
    // cancelled and the log compacted: a repeat gets the booking it made.
    let store = Store::open(&path).expect("reopen");
    assert_eq!(booked(&store), expected);
    assert_eq!(booked(&store).3.slots(), booking.slots());
    store.cancel("default", None, booking.id()).expect("cancel");
    store.compact_journal().expect("compact");
    drop(store);
    let store = Store::open(&path).expect("reopen after compaction");
    assert_eq!(booked(&store), expected);
    assert!(store.remembered("key:k2", "4b1f6d2e-retry").is_none());
    // A key too long to keep is refused before anything happens.
    let long = IdempotencyKey {
        key: "x".repeat(256),
        ..key
    };
    let err = store
        .book(
            "default",
            None,
            &Claim::new(t + 3600, t + 5400),
            Some(&long),
        )
        .expect_err("long key");
    assert!(err.is_parse(), "{err}");
    assert_eq!(
        store.get("default").expect("default").version(),
        4,
        "the cancel, and nothing after it"
    );
}

#[test]
fn named_groups_are_kept_in_the_journal() {
    let (_dir, path) = temp_store();
    let store = Store::open(&path).expect("open");
    let members: Vec<String> = ["ana", "ben", "room-1"].map(String::from).to_vec();
    let (group, new) = store
        .put_group("team", members.clone(), &Authority::Unchecked)
        .expect("put");
    assert!(new);
    assert_eq!(group.members(), members.as_slice());
    let (_, new) = store
        .put_group("team", vec![String::from("ana")], &Authority::Unchecked)
        .expect("replace");
    assert!(!new);
    store
        .put_group("other", members.clone(), &Authority::Unchecked)
        .expect("another group");
    store
        .delete_group("other", &Authority::Unchecked)
        .expect("delete");
    assert!(store
        .delete_group("other", &Authority::Unchecked)
        .unwrap_err()
        .is_not_found());
    for bad in [
        vec![],
        vec![String::from("ana"), String::from("ana")],
        vec![String::from("Not An Id")],
        (0..1001).map(|i| format!("c{i}")).collect(),
    ] {
        let err = store
            .put_group("bad", bad, &Authority::Unchecked)
            .expect_err("refused");
        assert!(err.is_parse(), "{err}");
    }
    assert!(store
        .put_group("Bad Id", members, &Authority::Unchecked)
        .unwrap_err()
        .is_parse());
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
