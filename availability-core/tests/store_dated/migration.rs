//! The migration of a format version 1 file: everything is kept, and a crash during it leaves
//! the old file or the new one.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use availability_core::dated::Claim;
use availability_core::store::double::{Crash, FileDouble, Tear};
use availability_core::store::{journal_path, KeyScope, Store};
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
        2,
        "rewritten as version 2"
    );
    assert!(journal_path(&path).exists());
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
fn a_crash_during_migration_leaves_the_version_1_file_or_the_new_one() {
    let fixture =
        fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/v1.avs")).expect("fixture");
    for tear in [Tear::Lost, Tear::Whole] {
        let file = FileDouble::new(fixture.clone());
        file.crash_at(Crash::PowerLoss { at: 0, tear });
        let err = Store::open_doubles(file.clone(), FileDouble::new_journal())
            .expect_err("the power failed");
        assert!(err.is_io(), "{err}");
        let after = file.reboot();
        let version = after.durable()[8];
        assert_eq!(version, if tear == Tear::Lost { 1 } else { 2 });
        let store = Store::open_doubles(after, FileDouble::new_journal()).expect("open");
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
