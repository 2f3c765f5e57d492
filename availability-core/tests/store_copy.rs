//! A store copied to a new file ([`Store::write_copy`]): the copy opens as it was written
//! (nothing to repair) and holds the same calendars, values equal, dated data, versions and
//! incarnations included, the same admin keys, groups and remembered answers; calendars made
//! in it never reuse an incarnation; a mirror (a database's state in memory) copies the same
//! way.

use std::path::Path;

use availability_core::dated::{BookingId, Claim, DayOverride};
use availability_core::store::{
    Answer, Authority, Change, IdempotencyKey, KeyHash, KeyScope, Options, Store,
};
use availability_core::Status;

use crate::store::{every_slot_available, temp_store, tomorrow};

const HASH: &str = "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW";

fn date_of(unix: i64) -> chrono::NaiveDate {
    chrono::DateTime::from_timestamp(unix, 0)
        .expect("date")
        .date_naive()
}

fn key(id: &str) -> KeyHash {
    KeyHash::new(id, HASH).expect("key")
}

/// A store with a bit of everything: calendars in several zones with keys of both scopes,
/// labels and times, patterns, a public booking flag, overrides, bookings (one cancelled,
/// so ids run ahead of the live ones), a calendar deleted and made again, groups, admin keys,
/// and answers remembered for idempotency keys (a booking's and a response).
fn populated(path: &Path) -> Store {
    let store = Store::open(path).expect("open");
    let t = tomorrow();
    let admin = Authority::Unchecked;
    store
        .add_admin_key(key("admin1").with_label("ops").expect("label"), &admin)
        .expect("admin key");
    store
        .add_admin_key(key("admin2").created_at(1_700_000_000_000), &admin)
        .expect("admin key");
    let room_keys = vec![
        key("w1").with_label("owner").expect("label").created_at(5),
        key("b1").with_scope(KeyScope::Book),
    ];
    store
        .create("room", "Europe/Paris", room_keys, &admin)
        .expect("room");
    store
        .commit("room", None, &Change::Replace(every_slot_available()))
        .expect("pattern");
    store
        .commit("room", None, &Change::SetBookingPublic(true))
        .expect("public");
    let mut day = DayOverride::default();
    day.set("09:00".parse().expect("time"), Status::Available);
    day.set("10:00".parse().expect("time"), Status::Maybe);
    store
        .set_override("room", None, date_of(t + 5 * 86_400), day)
        .expect("override");
    store
        .set_override(
            "room",
            None,
            date_of(t + 6 * 86_400),
            DayOverride::default(),
        )
        .expect("override");
    let mut claim = Claim::new(t, t + 3600);
    claim.label = Some(String::from("Team sync"));
    claim.key_id = Some(String::from("w1"));
    let idempotency = IdempotencyKey {
        key: String::from("retry-1"),
        principal: String::from("key:w1"),
        fingerprint: [7; 32],
        expires_ms: (t + 86_400) * 1000,
    };
    store
        .book("room", None, &claim, Some(&idempotency))
        .expect("book");
    store
        .book("room", None, &Claim::new(t + 86_400, t + 90_000), None)
        .expect("book");
    // The last booking made is cancelled: the next id is known from the state record alone.
    let (_, last) = store
        .book("room", None, &Claim::new(t + 7200, t + 9000), None)
        .expect("book");
    store.cancel("room", None, last.id()).expect("cancel");
    store
        .remember(
            &IdempotencyKey {
                key: String::from("patch-1"),
                principal: String::from("admin:admin1"),
                fingerprint: [9; 32],
                expires_ms: (t + 86_400) * 1000,
            },
            Answer::Response {
                status: 200,
                body: b"{\"ok\":true}".to_vec(),
                state: Some((3, 4)),
            },
        )
        .expect("remember");
    store
        .create("ana", "America/New_York", vec![key("a1")], &admin)
        .expect("ana");
    store
        .commit("ana", Some(1), &Change::Replace(every_slot_available()))
        .expect("pattern");
    // Dated writes that leave no dated data: the version is known from the state record alone.
    store
        .set_override("ana", Some(2), date_of(t), DayOverride::default())
        .expect("override");
    store
        .clear_override("ana", Some(3), date_of(t))
        .expect("cleared");
    store
        .create("gone", "UTC", Vec::new(), &admin)
        .expect("gone");
    store.delete("gone", None).expect("delete");
    store
        .create("gone", "Asia/Kathmandu", Vec::new(), &admin)
        .expect("gone again");
    store
        .put_group(
            "team",
            vec![String::from("room"), String::from("ana")],
            &admin,
        )
        .expect("group");
    store
        .put_group("solo", vec![String::from("gone")], &admin)
        .expect("group");
    // The last calendar made is deleted, and writes follow: the store has given incarnations
    // past every one it holds.
    store
        .create("brief", "UTC", Vec::new(), &admin)
        .expect("brief");
    store.delete("brief", None).expect("delete");
    for n in 0..20 {
        store
            .commit("gone", None, &Change::SetBookingPublic(n % 2 == 0))
            .expect("commit");
    }
    store
}

/// Everything `copy` shows equals what `original` shows.
fn assert_same(original: &Store, copy: &Store) {
    let before = original.list();
    let after = copy.list();
    assert_eq!(
        before.iter().map(|c| c.id()).collect::<Vec<_>>(),
        after.iter().map(|c| c.id()).collect::<Vec<_>>()
    );
    for (a, b) in before.iter().zip(&after) {
        assert_eq!(a, b, "calendar {}", a.id());
        assert_eq!(a.state(), b.state(), "calendar {}", a.id());
        assert_eq!(a.keys(), b.keys(), "calendar {}", a.id());
        assert_eq!(
            a.dated().next_booking_id(),
            b.dated().next_booking_id(),
            "calendar {}",
            a.id()
        );
    }
    assert_eq!(original.admin_keys(), copy.admin_keys());
    assert_eq!(original.groups(), copy.groups());
    assert_eq!(original.remembered_answers(), copy.remembered_answers());
    assert_eq!(original.counts(), copy.counts());
}

#[test]
fn a_copy_opens_to_the_same_store() {
    let (dir, path) = temp_store();
    let original = populated(&path);
    let counts = original.counts();
    assert_eq!(counts.calendars, 4, "{counts}");
    assert_eq!(counts.keys, 3, "{counts}");
    assert_eq!(counts.overrides, 2, "{counts}");
    assert_eq!(counts.bookings, 2, "{counts}");
    assert_eq!(counts.groups, 2, "{counts}");
    assert_eq!(counts.admin_keys, 2, "{counts}");
    assert_eq!(counts.remembered, 2, "{counts}");

    let copied = dir.path().join("copy.avs");
    let written = original
        .write_copy(&copied, original.next_incarnation())
        .expect("copy");
    assert_eq!(written, counts);
    let bytes = std::fs::read(&copied).expect("read");
    let copy = Store::open(&copied).expect("open the copy");
    assert_same(&original, &copy);
    let room = copy.get("room").expect("room");
    assert_eq!(room.dated().next_booking_id(), BookingId(4));
    assert!(room.booking_public());
    assert_eq!(copy.get("ana").expect("ana").version(), 4);
    drop(copy);
    assert_eq!(
        std::fs::read(&copied).expect("read"),
        bytes,
        "opening the copy changed nothing in it: no repair, no migration"
    );

    // A calendar made in the copy has an incarnation no calendar of the original ever had
    // (the first `gone` was deleted).
    let copy = Store::open(&copied).expect("open the copy");
    let made = copy
        .create("new", "UTC", Vec::new(), &Authority::Unchecked)
        .expect("create");
    assert!(
        made.incarnation() >= original.next_incarnation(),
        "{} < {}",
        made.incarnation(),
        original.next_incarnation()
    );
    // And it takes writes as the original does: the booking ids go on.
    let t = tomorrow();
    let (_, booking) = copy
        .book("room", None, &Claim::new(t + 4 * 3600, t + 5 * 3600), None)
        .expect("book in the copy");
    assert_eq!(booking.id(), BookingId(4));

    // A copy never replaces a file.
    let err = original
        .write_copy(&copied, 1)
        .expect_err("the copy exists");
    assert!(err.is_already_exists(), "{err}");
}

#[test]
fn a_mirror_copies_as_the_store_it_mirrors() {
    let (dir, path) = temp_store();
    let original = populated(&path);
    // What a database backend does: the state installed in a mirror.
    let mirror = Store::mirror(Options::default()).expect("mirror");
    for calendar in original.list() {
        assert!(mirror.install((*calendar).clone()));
    }
    mirror.install_admin_keys(original.admin_keys().to_vec());
    mirror.install_groups(original.groups().iter().map(|g| (**g).clone()));
    for answer in original.remembered_answers() {
        mirror.install_remembered(answer);
    }
    let copied = dir.path().join("copy.avs");
    let floor = original.next_incarnation() + 1000;
    let written = mirror.write_copy(&copied, floor).expect("copy");
    assert_eq!(written, original.counts());
    let copy = Store::open(&copied).expect("open the copy");
    assert_same(&original, &copy);
    let made = copy
        .create("new", "UTC", Vec::new(), &Authority::Unchecked)
        .expect("create");
    assert!(made.incarnation() >= floor, "{}", made.incarnation());
}
