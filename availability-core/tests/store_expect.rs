//! A write checks again, inside its commit, what its caller checked long before: the key that
//! authorized it, the calendar's incarnation, the version. A key revoked or a calendar
//! re-created meanwhile changes nothing.

use availability_core::dated::{BookingId, Claim, DayOverride};
use availability_core::store::{Authority, Change, Expected, KeyHash, KeyScope, Store};
use availability_core::{Batch, Day, Entry, Status};

use crate::store::{every_slot_available, temp_store, tomorrow};

const HASH: &str = "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW";

fn open_all_week() -> Change {
    Change::Replace(every_slot_available())
}

fn monday_nine() -> Change {
    Change::Apply(Batch::from(vec![Entry::slot(
        Day::Monday,
        "09:00".parse().expect("time"),
        Status::Available,
    )]))
}

fn by(authority: Authority) -> Expected {
    Expected {
        by: authority,
        ..Expected::default()
    }
}

fn key(id: &str, scope: KeyScope) -> Authority {
    Authority::Key {
        key_id: id.to_owned(),
        scope,
    }
}

/// A calendar `room`, open all week, with a write key `w1`, a second write key `w2` and a book
/// key `b1`, and one booking; returns the store, the booking and the calendar's version.
fn room(store: &Store) -> (BookingId, u64) {
    let keys = vec![
        KeyHash::new("w1", HASH).expect("key"),
        KeyHash::new("w2", HASH).expect("key"),
        KeyHash::new("b1", HASH)
            .expect("key")
            .with_scope(KeyScope::Book),
    ];
    store
        .create("room", "Europe/Paris", keys, &Authority::Unchecked)
        .expect("create");
    store.commit("room", None, &open_all_week()).expect("week");
    let t = tomorrow();
    let (_, booking) = store
        .book("room", None, &Claim::new(t, t + 3600), None)
        .expect("book");
    let day = chrono::DateTime::from_timestamp(t + 3 * 86_400, 0)
        .expect("date")
        .date_naive();
    let after = store
        .set_override("room", None, day, DayOverride::UNAVAILABLE)
        .expect("override");
    (booking.id(), after.version())
}

#[test]
fn every_calendar_write_refuses_a_key_revoked_before_it_commits() {
    let (_dir, path) = temp_store();
    let store = Store::open(&path).expect("open");
    let (booking, _) = room(&store);
    let w1 = key("w1", KeyScope::Write);
    let b1 = key("b1", KeyScope::Book);
    // Both keys pass while they exist.
    store
        .commit("room", by(w1.clone()), &monday_nine())
        .expect("w1 writes");
    // Revoked by the other write key: from now on neither revoked key writes anything.
    store
        .commit(
            "room",
            by(key("w2", KeyScope::Write)),
            &Change::RemoveKey("w1".into()),
        )
        .expect("revoke w1");
    store
        .commit("room", None, &Change::RemoveKey("b1".into()))
        .expect("revoke b1");
    let version = store.get("room").expect("room").version();
    let t = tomorrow() + 7 * 86_400;
    let day = chrono::DateTime::from_timestamp(t, 0)
        .expect("date")
        .date_naive();
    let refusals = [
        (
            "patch",
            store.commit("room", by(w1.clone()), &monday_nine()).err(),
        ),
        (
            "add a key",
            store
                .commit(
                    "room",
                    by(w1.clone()),
                    &Change::AddKey(KeyHash::new("w3", HASH).expect("key")),
                )
                .err(),
        ),
        (
            "set the zone",
            store
                .commit("room", by(w1.clone()), &Change::SetZone("UTC".into()))
                .err(),
        ),
        (
            "set an override",
            store
                .set_override("room", by(w1.clone()), day, DayOverride::UNAVAILABLE)
                .err(),
        ),
        (
            "clear an override",
            store.clear_override("room", by(w1.clone()), day).err(),
        ),
        (
            "book with a write key",
            store
                .book("room", by(w1.clone()), &Claim::new(t, t + 1800), None)
                .err(),
        ),
        (
            "book with a book key",
            store
                .book("room", by(b1.clone()), &Claim::new(t, t + 1800), None)
                .err(),
        ),
        (
            "cancel",
            store.cancel("room", by(b1.clone()), booking).err(),
        ),
        ("delete", store.delete("room", by(w1.clone())).err()),
    ];
    for (what, err) in refusals {
        let err = err.unwrap_or_else(|| panic!("{what}: a revoked key wrote"));
        assert!(err.is_unauthorized(), "{what}: {err}");
        assert!(err.to_string().contains("revoked"), "{what}: {err}");
    }
    let after = store.get("room").expect("room");
    assert_eq!(after.version(), version, "nothing was written");
    assert_eq!(after.zone(), "Europe/Paris");
    assert_eq!(after.dated().booking_count(), 1);
    // The key that is left still writes.
    store
        .book(
            "room",
            by(key("w2", KeyScope::Write)),
            &Claim::new(t, t + 1800),
            None,
        )
        .expect("w2 books");
}

#[test]
fn a_revoked_admin_key_writes_nothing() {
    let (_dir, path) = temp_store();
    let store = Store::open(&path).expect("open");
    room(&store);
    store
        .add_admin_key(
            KeyHash::new("a1", HASH).expect("key"),
            &Authority::Unchecked,
        )
        .expect("a1");
    store
        .add_admin_key(
            KeyHash::new("a2", HASH).expect("key"),
            &Authority::Unchecked,
        )
        .expect("a2");
    let a1 = Authority::Admin("a1".into());
    store
        .put_group("team", vec!["room".into()], &a1)
        .expect("a1 writes while it exists");
    store
        .revoke_admin_key("a1", &Authority::Admin("a2".into()), true)
        .expect("a2 revokes a1");
    let version = store.get("room").expect("room").version();
    let refusals = [
        (
            "commit",
            store.commit("room", by(a1.clone()), &monday_nine()).err(),
        ),
        ("delete", store.delete("room", by(a1.clone())).err()),
        (
            "create",
            store.create("other", "UTC", Vec::new(), &a1).err(),
        ),
        (
            "put a group",
            store.put_group("team", vec!["other".into()], &a1).err(),
        ),
        ("delete a group", store.delete_group("team", &a1).err()),
        (
            "add an admin key",
            store
                .add_admin_key(KeyHash::new("a3", HASH).expect("key"), &a1)
                .err(),
        ),
        (
            "revoke an admin key",
            store.revoke_admin_key("a2", &a1, false).err(),
        ),
    ];
    for (what, err) in refusals {
        let err = err.unwrap_or_else(|| panic!("{what}: a revoked admin key wrote"));
        assert!(err.is_unauthorized(), "{what}: {err}");
    }
    assert_eq!(store.get("room").expect("room").version(), version);
    assert!(store.get("other").is_none());
    assert_eq!(
        store.group("team").expect("team").members(),
        ["room".to_owned()]
    );
    let ids: Vec<String> = store
        .admin_keys()
        .iter()
        .map(|k| k.id().to_owned())
        .collect();
    assert_eq!(ids, ["a2"]);
    // A calendar key is no admin key, even one that exists.
    let err = store
        .put_group("team", vec!["x".into()], &key("w2", KeyScope::Write))
        .expect_err("calendar key");
    assert!(err.is_forbidden(), "{err}");
}

#[test]
fn a_calendar_created_again_refuses_writes_checked_against_the_old_one() {
    let (_dir, path) = temp_store();
    let store = Store::open(&path).expect("open");
    room(&store);
    let old = store.get("room").expect("room").incarnation();
    store.delete("room", None).expect("delete");
    store
        .create("room", "UTC", Vec::new(), &Authority::Unchecked)
        .expect("again");
    store.commit("room", None, &open_all_week()).expect("week");
    let new = store.get("room").expect("room");
    assert_ne!(new.incarnation(), old);
    let seen = Expected {
        incarnation: Some(old),
        ..Expected::default()
    };
    let t = tomorrow();
    let errors = [
        store.commit("room", seen.clone(), &monday_nine()).err(),
        store
            .book("room", seen.clone(), &Claim::new(t, t + 1800), None)
            .err(),
        store.delete("room", seen.clone()).err(),
    ];
    for err in errors {
        let err = err.expect("refused");
        assert!(err.is_not_found(), "{err}");
        assert!(err.to_string().contains("created again"), "{err}");
    }
    assert_eq!(store.get("room").expect("room").version(), new.version());
    // The incarnation it has is accepted.
    let current = Expected {
        incarnation: Some(new.incarnation()),
        ..Expected::default()
    };
    store
        .commit("room", current, &monday_nine())
        .expect("the current incarnation");
}

#[test]
fn a_calendar_closed_to_public_bookings_refuses_one_checked_while_it_was_open() {
    let (_dir, path) = temp_store();
    let store = Store::open(&path).expect("open");
    room(&store);
    store
        .commit("room", None, &Change::SetBookingPublic(true))
        .expect("open");
    let t = tomorrow() + 86_400;
    let public = by(Authority::PublicBooking);
    store
        .book("room", public.clone(), &Claim::new(t, t + 1800), None)
        .expect("open to anyone");
    store
        .commit("room", None, &Change::SetBookingPublic(false))
        .expect("close");
    let err = store
        .book("room", public, &Claim::new(t + 3600, t + 5400), None)
        .expect_err("closed");
    assert!(err.is_forbidden(), "{err}");
}

#[test]
fn the_last_admin_key_is_kept_unless_another_exists_outside_the_store() {
    let (_dir, path) = temp_store();
    let store = Store::open(&path).expect("open");
    store
        .add_admin_key(
            KeyHash::new("a1", HASH).expect("key"),
            &Authority::Unchecked,
        )
        .expect("a1");
    let err = store
        .revoke_admin_key("a1", &Authority::Unchecked, true)
        .expect_err("last");
    assert!(err.is_last_admin_key(), "{err}");
    assert_eq!(store.admin_keys().len(), 1);
    drop(store);
    // Still there after a reopen: the refusal wrote nothing.
    let store = Store::open(&path).expect("reopen");
    assert_eq!(store.admin_keys().len(), 1);
    store
        .add_admin_key(
            KeyHash::new("a2", HASH).expect("key"),
            &Authority::Unchecked,
        )
        .expect("a2");
    store
        .revoke_admin_key("a1", &Authority::Admin("a1".into()), true)
        .expect("a key may revoke itself while another is left");
    let err = store
        .revoke_admin_key("a2", &Authority::Admin("a2".into()), true)
        .expect_err("last again");
    assert!(err.is_last_admin_key(), "{err}");
    // With an admin key outside the store (a server's configuration), the last stored one
    // may go.
    store
        .revoke_admin_key("a2", &Authority::Unchecked, false)
        .expect("keep_one off");
    assert!(store.admin_keys().is_empty());
}
