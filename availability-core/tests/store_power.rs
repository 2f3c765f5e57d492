//! Power loss, with the file double of feature `test-backend`: a store runs over an in-memory
//! file that keeps only what was flushed, the power fails (or the process is killed) at a
//! chosen write, and the store reopened from what the disk kept must hold the last
//! acknowledged state or a later attempted one, never a mixture, never an older one.

use availability_core::store::double::{Crash, FileDouble, Tear};
use availability_core::store::{Change, Store};

use crate::store::{batch_for, week_for};

fn replace(store: &Store, version: u64) -> Result<u64, availability_core::Error> {
    store
        .commit(
            "default",
            Some(version - 1),
            &Change::Replace(batch_for(version)),
        )
        .map(|c| c.version())
}

/// The version of `default` in a store opened from `file`, checked against its content.
fn default_version(file: FileDouble) -> u64 {
    let store = Store::open_double(file).expect("a valid copy must stand");
    let default = store.get("default").expect("default");
    assert_eq!(default.week(), week_for(default.version()));
    default.version()
}

#[test]
fn opening_makes_what_it_read_durable() {
    let disk = FileDouble::new_store();
    let store = Store::open_double(disk.clone()).expect("open");
    assert_eq!(replace(&store, 2).expect("commit"), 2); // copy B, acknowledged
                                                        // Version 3 reaches copy A in the page cache; the process is killed before its msync.
    disk.crash_at(Crash::Kill { at: disk.writes() });
    replace(&store, 3).expect_err("killed");
    drop(store);

    // The next process reads version 3 from the cache, and its first commit overwrites copy
    // B, which held version 2; the power fails halfway through that write.
    let next = disk.reboot();
    let store = Store::open_double(next.clone()).expect("reopen after the kill");
    assert_eq!(store.get("default").expect("default").version(), 3);
    next.crash_at(Crash::PowerLoss {
        at: next.writes(),
        // Within the payload: the copy is torn.
        tear: Tear::Prefix(64),
    });
    replace(&store, 4).expect_err("power loss");
    drop(store);

    // Had opening not flushed version 3, copy A would hold version 1 on disk and copy B be
    // torn: the acknowledged version 2 would be lost.
    assert_eq!(default_version(next.reboot()), 3);
}

#[test]
fn a_failed_flush_at_open_fails_the_open() {
    let disk = FileDouble::new_store();
    disk.fail_sync(0);
    let err = Store::open_double(disk).expect_err("the flush failed");
    assert!(err.is_io(), "{err}");
}

#[test]
fn a_failed_sync_while_growing_stops_all_writes() {
    let disk = FileDouble::new_store();
    let store = Store::open_double(disk.clone()).expect("open");
    for i in 1..8 {
        store.create(&format!("c{i}"), "UTC").expect("create");
    }
    // The eight slots are taken: the next create grows the file, and the growth's
    // fdatasync (the next sync) fails.
    disk.fail_sync(0);
    let err = store
        .create("c8", "UTC")
        .expect_err("the growth's sync failed");
    assert!(err.is_io(), "{err}");
    let err = replace(&store, 2).expect_err("writes are refused after a failed sync");
    assert!(err.to_string().contains("refuses writes"), "{err}");
    let err = store.create("c9", "UTC").expect_err("refused");
    assert!(err.to_string().contains("refuses writes"), "{err}");
    drop(store);
    // Reopening reads back what is on disk, and takes writes again.
    let store = Store::open_double(disk.reboot()).expect("reopen");
    assert_eq!(store.list().len(), 8);
    store.create("c8", "UTC").expect("grows now");
}

#[test]
fn a_failed_flush_of_a_commit_stops_all_writes() {
    let disk = FileDouble::new_store();
    let store = Store::open_double(disk.clone()).expect("open");
    disk.fail_sync(0);
    replace(&store, 2).expect_err("the flush failed");
    let err = store.create("other", "UTC").expect_err("refused");
    assert!(err.to_string().contains("refuses writes"), "{err}");
    assert_eq!(store.get("default").expect("default").version(), 1);
}
