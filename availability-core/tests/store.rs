//! The store's API: calendars, changes, keys, versions, growth, the lock and reopening.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock, RwLockReadGuard};

use availability_core::store::{Authority, Change, KeyHash, Store, DEFAULT_CALENDAR};
use availability_core::{Batch, Day, Entry, Status, Week};

const HASH: &str = "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW";

/// Held (shared) by every test that opens stores, and taken (exclusively) by the crash test
/// around each spawn of a child. A child holds copies of all of its parent's descriptors
/// between fork and exec, and with them any store lock; without this a test that closes and
/// reopens a store could find its own lock held by someone else's child.
pub(crate) static FORK_GUARD: RwLock<()> = RwLock::new(());

/// A temporary directory, and the shared side of [`FORK_GUARD`] for as long as it lives.
pub(crate) struct Scratch {
    dir: tempfile::TempDir,
    _no_fork: RwLockReadGuard<'static, ()>,
}

impl Scratch {
    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }
}

pub(crate) fn temp_store() -> (Scratch, PathBuf) {
    let no_fork = FORK_GUARD.read().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("store.avs");
    (
        Scratch {
            dir,
            _no_fork: no_fork,
        },
        path,
    )
}

fn range(day: Day, from: &str, to: &str, status: Status) -> Entry {
    Entry::range(
        day,
        from.parse().expect("time"),
        to.parse().expect("time"),
        status,
    )
}

#[test]
fn a_new_store_has_default_in_utc_at_version_1() {
    let (_dir, path) = temp_store();
    let store = Store::open(&path).expect("open");
    let default = store.get(DEFAULT_CALENDAR).expect("default exists");
    assert_eq!(default.id(), "default");
    assert_eq!(default.zone(), "UTC");
    assert_eq!(default.version(), 1);
    assert_eq!(default.week(), Week::UNAVAILABLE);
    assert!(default.keys().is_empty());
    assert!(store.admin_keys().is_empty());
    let ids: Vec<String> = store.list().iter().map(|c| c.id().to_owned()).collect();
    assert_eq!(ids, ["default"]);
}

#[test]
fn commits_bump_the_version_by_one_and_survive_reopening() {
    let (_dir, path) = temp_store();
    let store = Store::open(&path).expect("open");
    let patch = Batch::from(vec![range(
        Day::Monday,
        "09:00",
        "17:00",
        Status::Available,
    )]);
    let v2 = store
        .commit("default", None, &Change::Apply(patch.clone()))
        .expect("apply");
    assert_eq!(v2.version(), 2);
    assert_eq!(v2.week(), patch.apply(&Week::UNAVAILABLE).expect("valid"));
    let put = Batch::from(vec![range(Day::Friday, "10:00", "11:00", Status::Maybe)]);
    let v3 = store
        .commit("default", Some(2), &Change::Replace(put.clone()))
        .expect("replace");
    assert_eq!(v3.week(), put.apply_replacing().expect("valid"));
    let v4 = store
        .commit(
            "default",
            Some(3),
            &Change::SetZone("Asia/Kathmandu".into()),
        )
        .expect("zone");
    assert_eq!((v4.version(), v4.zone()), (4, "Asia/Kathmandu"));
    assert_eq!(
        v4.week(),
        v3.week(),
        "changing the zone keeps the wall-clock week"
    );
    assert!(v4.changed_at_unix_ms() >= v2.changed_at_unix_ms());
    drop(store);

    let store = Store::open(&path).expect("reopen");
    let again = store.get("default").expect("default");
    assert_eq!(*again, *v4);
}

#[test]
fn stale_versions_invalid_batches_and_bad_zones_change_nothing() {
    let (_dir, path) = temp_store();
    let store = Store::open(&path).expect("open");
    let before = store.get("default").expect("default");

    let err = store
        .commit("default", Some(7), &Change::SetZone("UTC".into()))
        .expect_err("stale");
    assert!(err.is_version_mismatch(), "{err}");
    assert!(err.to_string().contains("version 1"), "{err}");

    let bad = Batch::from(vec![
        range(Day::Monday, "09:00", "10:00", Status::Available),
        range(Day::Monday, "12:00", "11:00", Status::Available),
    ]);
    let err = store
        .commit("default", Some(1), &Change::Apply(bad))
        .expect_err("invalid batch");
    assert_eq!(err.entry_index(), Some(1));

    let err = store
        .commit("default", None, &Change::SetZone("Not a zone!".into()))
        .expect_err("bad zone");
    assert!(err.is_parse(), "{err}");

    assert_eq!(store.get("default").expect("default"), before);
    drop(store);
    let store = Store::open(&path).expect("reopen");
    assert_eq!(store.get("default").expect("default"), before);
}

#[test]
fn calendars_are_created_listed_and_deleted() {
    let (_dir, path) = temp_store();
    let store = Store::open(&path).expect("open");
    let room = store
        .create("room-1", "Europe/Paris", Vec::new(), &Authority::Unchecked)
        .expect("create");
    assert_eq!(
        (room.id(), room.zone(), room.version()),
        ("room-1", "Europe/Paris", 1)
    );
    assert!(store
        .create("room-1", "UTC", Vec::new(), &Authority::Unchecked)
        .expect_err("taken")
        .is_already_exists());
    assert!(store
        .create("Room", "UTC", Vec::new(), &Authority::Unchecked)
        .expect_err("bad id")
        .is_parse());
    assert!(store
        .create("desk", "", Vec::new(), &Authority::Unchecked)
        .expect_err("bad zone")
        .is_parse());
    store
        .create(
            "desk",
            "America/New_York",
            Vec::new(),
            &Authority::Unchecked,
        )
        .expect("create");
    let ids: Vec<String> = store.list().iter().map(|c| c.id().to_owned()).collect();
    assert_eq!(ids, ["default", "desk", "room-1"]);

    store.delete("room-1", None).expect("delete");
    assert!(store.get("room-1").is_none());
    assert!(store
        .delete("room-1", None)
        .expect_err("gone")
        .is_not_found());
    assert!(store
        .commit("room-1", None, &Change::SetZone("UTC".into()))
        .expect_err("gone")
        .is_not_found());
    drop(store);

    let store = Store::open(&path).expect("reopen");
    let ids: Vec<String> = store.list().iter().map(|c| c.id().to_owned()).collect();
    assert_eq!(ids, ["default", "desk"]);
    // A recreated id starts afresh.
    let again = store
        .create("room-1", "UTC", Vec::new(), &Authority::Unchecked)
        .expect("recreate");
    assert_eq!((again.version(), again.week()), (1, Week::UNAVAILABLE));
}

#[test]
fn a_calendar_is_created_with_its_keys_in_one_commit() {
    let (_dir, path) = temp_store();
    let store = Store::open(&path).expect("open");
    let key = |id: &str| KeyHash::new(id, HASH).expect("key");
    let room = store
        .create(
            "room-2",
            "UTC",
            vec![key("k1"), key("k2")],
            &Authority::Unchecked,
        )
        .expect("create");
    assert_eq!(room.version(), 1);
    assert_eq!(room.keys().len(), 2);
    let err = store
        .create(
            "room-3",
            "UTC",
            vec![key("k1"), key("k1")],
            &Authority::Unchecked,
        )
        .expect_err("duplicate key ids");
    assert!(err.is_already_exists(), "{err}");
    assert!(
        store.get("room-3").is_none(),
        "a refused create leaves nothing"
    );
    drop(store);

    let store = Store::open(&path).expect("reopen");
    let room = store.get("room-2").expect("still there");
    assert_eq!(
        (room.version(), room.key("k2").map(KeyHash::hash)),
        (1, Some(HASH))
    );
    assert!(store.get("room-3").is_none());
}

#[test]
fn delete_honours_an_expected_version() {
    let (_dir, path) = temp_store();
    let store = Store::open(&path).expect("open");
    store
        .create("room-4", "UTC", Vec::new(), &Authority::Unchecked)
        .expect("create");
    let changed = store
        .commit("room-4", None, &Change::SetZone("Asia/Tokyo".into()))
        .expect("commit");
    assert_eq!(changed.version(), 2);
    let err = store.delete("room-4", Some(1)).expect_err("stale");
    assert!(err.is_version_mismatch(), "{err}");
    assert!(
        store.get("room-4").is_some(),
        "a refused delete changes nothing"
    );
    store.delete("room-4", Some(2)).expect("current version");
    assert!(store.get("room-4").is_none());
}

#[test]
fn keys_are_added_and_removed_per_calendar() {
    let (_dir, path) = temp_store();
    let store = Store::open(&path).expect("open");
    let key = KeyHash::new("k1", HASH).expect("key");
    let v2 = store
        .commit("default", Some(1), &Change::AddKey(key.clone()))
        .expect("add");
    assert_eq!(v2.version(), 2);
    assert_eq!(v2.key("k1"), Some(&key));
    assert!(store
        .commit("default", None, &Change::AddKey(key.clone()))
        .expect_err("duplicate")
        .is_already_exists());
    for i in 2..=16 {
        let key = KeyHash::new(format!("k{i}"), HASH).expect("key");
        store
            .commit("default", None, &Change::AddKey(key))
            .expect("add");
    }
    let full = KeyHash::new("k17", HASH).expect("key");
    assert!(store
        .commit("default", None, &Change::AddKey(full))
        .expect_err("full")
        .is_capacity());
    let removed = store
        .commit("default", None, &Change::RemoveKey("k1".into()))
        .expect("remove");
    assert!(removed.key("k1").is_none());
    assert_eq!(removed.keys().len(), 15);
    assert!(store
        .commit("default", None, &Change::RemoveKey("k1".into()))
        .expect_err("gone")
        .is_not_found());
    drop(store);
    let store = Store::open(&path).expect("reopen");
    assert_eq!(
        store.get("default").expect("default").keys(),
        removed.keys()
    );
}

#[test]
fn admin_keys_persist() {
    let (_dir, path) = temp_store();
    let store = Store::open(&path).expect("open");
    let admin = KeyHash::new("admin", HASH).expect("key");
    store
        .add_admin_key(admin.clone(), &Authority::Unchecked)
        .expect("add");
    assert!(store
        .add_admin_key(admin.clone(), &Authority::Unchecked)
        .expect_err("duplicate")
        .is_already_exists());
    store
        .add_admin_key(
            KeyHash::new("second", HASH).expect("key"),
            &Authority::Unchecked,
        )
        .expect("add");
    drop(store);
    let store = Store::open(&path).expect("reopen");
    assert_eq!(store.admin_key("admin"), Some(admin));
    store
        .revoke_admin_key("admin", &Authority::Unchecked, false)
        .expect("remove");
    assert!(store
        .revoke_admin_key("admin", &Authority::Unchecked, false)
        .expect_err("gone")
        .is_not_found());
    drop(store);
    let store = Store::open(&path).expect("reopen");
    let keys = store.admin_keys();
    let ids: Vec<&str> = keys.iter().map(|k| k.id()).collect();
    assert_eq!(ids, ["second"]);
}

#[test]
fn the_file_grows_for_more_calendars() {
    let (_dir, path) = temp_store();
    let store = Store::open(&path).expect("open");
    let initial = std::fs::metadata(&path).expect("size").len();
    for i in 0..40 {
        let cal = store
            .create(&format!("c{i}"), "UTC", Vec::new(), &Authority::Unchecked)
            .expect("create");
        let batch = Batch::from(vec![Entry::slot(
            Day::ALL[i % 7],
            "08:00".parse().expect("time"),
            Status::Available,
        )]);
        store
            .commit(cal.id(), Some(1), &Change::Apply(batch))
            .expect("commit");
    }
    assert!(std::fs::metadata(&path).expect("size").len() > initial);
    let before = store.list();
    drop(store);
    let store = Store::open(&path).expect("reopen");
    assert_eq!(store.list(), before);
    assert_eq!(before.len(), 41);
}

#[test]
fn a_second_open_is_refused_while_the_first_is_open() {
    let (_dir, path) = temp_store();
    let store = Store::open(&path).expect("open");
    let err = Store::open(&path).expect_err("locked");
    assert!(err.is_locked(), "{err}");
    assert!(err.to_string().contains("store.avs"), "{err}");
    drop(store);
    Store::open(&path).expect("open after close");
}

#[test]
fn readers_keep_the_snapshot_they_loaded() {
    let (_dir, path) = temp_store();
    let store = Arc::new(Store::open(&path).expect("open"));
    let old = store.get("default").expect("default");
    store
        .commit("default", None, &Change::Replace(Batch::new()))
        .expect("commit");
    assert_eq!(old.version(), 1, "a loaded Arc is a snapshot");
    assert_eq!(store.get("default").expect("default").version(), 2);

    // Writers from several threads: each commit bumps the version by exactly one.
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let store = Arc::clone(&store);
            std::thread::spawn(move || {
                let id = format!("t{t}");
                store
                    .create(&id, "UTC", Vec::new(), &Authority::Unchecked)
                    .expect("create");
                for _ in 0..10 {
                    store
                        .commit(&id, None, &Change::Replace(Batch::new()))
                        .expect("commit");
                    store
                        .commit("default", None, &Change::Replace(Batch::new()))
                        .expect("commit");
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().expect("writer");
    }
    assert_eq!(store.get("default").expect("default").version(), 2 + 40);
    for t in 0..4 {
        assert_eq!(store.get(&format!("t{t}")).expect("t").version(), 11);
    }
    // What was published is what is on disk.
    let published = store.list();
    drop(store);
    assert_eq!(Store::open(&path).expect("reopen").list(), published);
}

#[test]
fn a_missing_directory_is_an_io_error() {
    let (dir, _) = temp_store();
    let err = Store::open(dir.path().join("no/such/dir/store.avs")).expect_err("missing");
    assert!(err.is_io(), "{err}");
}

/// A well-mixed 64-bit hash (splitmix64), so that test content depends on every bit.
pub(crate) fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// The week that the test writers commit as version `version`, so that a version read back
/// says exactly which content must come with it.
pub(crate) fn week_for(version: u64) -> Week {
    if version == 1 {
        return Week::UNAVAILABLE;
    }
    Week::from_fn(|slot| Status::ALL[(mix(version * 1000 + slot.index() as u64) % 3) as usize])
}

/// The replace-all batch whose result is `week_for(version)`.
pub(crate) fn batch_for(version: u64) -> Batch {
    let week = week_for(version);
    week.slots()
        .filter(|(_, status)| *status != Status::Unavailable)
        .map(|(slot, status)| Entry::slot(slot.day(), slot.start(), status))
        .collect()
}

#[test]
fn the_test_batches_produce_the_test_weeks() {
    for version in 2..20 {
        assert_eq!(
            batch_for(version).apply_replacing().expect("valid"),
            week_for(version)
        );
    }
    assert_ne!(week_for(2), week_for(3));
}

#[test]
fn groups_are_listed_in_pages_in_id_order() {
    let (_dir, path) = temp_store();
    let store = Store::open(&path).expect("open");
    for id in ["team-c", "team-a", "team-e", "team-b", "team-d"] {
        store
            .put_group(id, vec![String::from("ana")], &Authority::Unchecked)
            .expect("put");
    }
    store
        .delete_group("team-d", &Authority::Unchecked)
        .expect("delete");
    let ids = |page: Vec<Arc<availability_core::store::Group>>| -> Vec<String> {
        page.iter().map(|g| g.id().to_owned()).collect()
    };
    assert_eq!(
        ids(store.groups()),
        ["team-a", "team-b", "team-c", "team-e"]
    );
    assert_eq!(ids(store.groups_after(None, 2)), ["team-a", "team-b"]);
    assert_eq!(
        ids(store.groups_after(Some("team-b"), 2)),
        ["team-c", "team-e"]
    );
    // After an id that is no group (any more): the next one that is.
    assert_eq!(ids(store.groups_after(Some("team-d"), 2)), ["team-e"]);
    assert_eq!(ids(store.groups_after(Some("team-bb"), 1)), ["team-c"]);
    assert!(store.groups_after(Some("team-e"), 5).is_empty());
    assert!(store.groups_after(None, 0).is_empty());
}

#[test]
fn compactions_while_writers_append_lose_nothing() {
    let (_dir, path) = temp_store();
    let store = Arc::new(Store::open(&path).expect("open"));
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let store = Arc::clone(&store);
            std::thread::spawn(move || {
                let id = format!("w{w}");
                store
                    .create(&id, "UTC", Vec::new(), &Authority::Unchecked)
                    .expect("create");
                for v in 2..=120 {
                    store
                        .commit(&id, Some(v - 1), &Change::Replace(batch_for(v)))
                        .expect("commit");
                    if v % 10 == 0 {
                        store
                            .create(
                                &format!("{id}-{v}"),
                                "UTC",
                                Vec::new(),
                                &Authority::Unchecked,
                            )
                            .expect("create");
                    }
                }
            })
        })
        .collect();
    // Compactions run while the writers append: what they append during one must reach
    // the new file.
    while !writers.iter().all(std::thread::JoinHandle::is_finished) {
        store.compact_journal().expect("compact");
    }
    for writer in writers {
        writer.join().expect("writer");
    }
    let before = store.list();
    assert_eq!(before.len(), 1 + 4 + 4 * 12);
    drop(store);
    let store = Store::open(&path).expect("reopen");
    assert_eq!(store.list(), before);
    for w in 0..4 {
        let calendar = store.get(&format!("w{w}")).expect("writer's calendar");
        assert_eq!((calendar.version(), calendar.week()), (120, week_for(120)));
    }
}

/// A whole hour about a day from now, as seconds since the epoch.
pub(crate) fn tomorrow() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    now - now % 3600 + 86_400
}

/// Every slot of the week available.
pub(crate) fn every_slot_available() -> Batch {
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
        .collect()
}
