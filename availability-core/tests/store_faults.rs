//! Faults below the store: appends torn after every byte (of a commit, a create, a delete
//! and an admin key change), flipped bytes, truncated files, random files and files from a
//! newer format. Each must be detected: an append no one was told is durable is dropped,
//! damage to one that was fails the open with a corruption error that names the file, and
//! nothing panics.
//!
//! The layout comes from `docs/format.md`: a 4096-byte header, then records, each a 32-byte
//! frame (CRC, length, sequence number, durable mark, kind) and its payload padded to 8
//! bytes; zeros after the last one.

use std::fs;
use std::path::Path;

use availability_core::store::{Authority, Calendar, Change, KeyHash, Store};

use crate::store::{batch_for, mix, temp_store, week_for};

const HEADER: usize = 4096;
const FRAME: usize = 32;

/// Commits `default` up to version `version` (content `week_for(v)`).
fn store_at(path: &Path, version: u64) {
    let store = Store::open(path).expect("open");
    for v in 2..=version {
        store
            .commit("default", Some(v - 1), &Change::Replace(batch_for(v)))
            .expect("commit");
    }
}

/// What a store holds, as readers see it.
type Snapshot = (Vec<std::sync::Arc<Calendar>>, Vec<KeyHash>);

fn snapshot_of(path: &Path, what: &str) -> Snapshot {
    let store = Store::open(path).unwrap_or_else(|e| panic!("{what}: must open: {e}"));
    (store.list(), store.admin_keys().to_vec())
}

/// The records of a log image: each one's offset and size, in order.
fn records(image: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut at = HEADER;
    while at + FRAME <= image.len() && image[at..at + FRAME].iter().any(|&b| b != 0) {
        let len = u32::from_le_bytes(image[at + 4..at + 8].try_into().unwrap()) as usize;
        let size = (FRAME + len).next_multiple_of(8);
        out.push((at, size));
        at += size;
    }
    out
}

/// The file before and after `change`, which runs on a copy of the store at `path`.
fn before_and_after(dir: &Path, path: &Path, change: impl FnOnce(&Store)) -> (Vec<u8>, Vec<u8>) {
    let next = dir.join("next.avs");
    fs::copy(path, &next).expect("copy");
    let store = Store::open(&next).expect("open");
    change(&store);
    drop(store);
    let after = fs::read(&next).expect("read");
    fs::remove_file(&next).expect("remove");
    (fs::read(path).expect("read"), after)
}

/// Writes `before` with the bytes `after` appended torn after every byte: the store must
/// open to `old`, or to `new` exactly when the whole append arrived.
fn tear_append_after_every_byte(
    dir: &Path,
    path: &Path,
    what: &str,
    change: impl FnOnce(&Store),
    check_new: impl FnOnce(&Snapshot, &Snapshot),
) {
    let (before, after) = before_and_after(dir, path, change);
    assert_eq!(before.len(), after.len(), "{what}: the file did not grow");
    let old_records = records(&before);
    let new_records = records(&after);
    assert_eq!(
        new_records.len(),
        old_records.len() + 1,
        "{what}: one record is appended"
    );
    let (start, size) = *new_records.last().expect("a record");
    assert_eq!(
        before[..start],
        after[..start],
        "{what}: nothing else changes"
    );
    let old = snapshot_of(path, "before");
    fs::write(path, &after).expect("write");
    let new = snapshot_of(path, "after");
    assert_ne!(old, new, "{what}: the change shows");
    check_new(&old, &new);
    for n in 0..=size {
        let mut image = before.clone();
        image[start..start + n].copy_from_slice(&after[start..start + n]);
        fs::write(path, &image).expect("write");
        // The last bytes are padding, zeros like the room they are written over.
        let arrived = image[start..start + size] == after[start..start + size];
        let expected = if arrived { &new } else { &old };
        let what = format!("{what}, torn after {n} of {size} bytes");
        assert_eq!(&snapshot_of(path, &what), expected, "{what}");
        // The torn tail is cleared on open: the next append is not read as its sequel.
        assert_eq!(
            records(&fs::read(path).expect("read")).len(),
            old_records.len() + usize::from(arrived),
            "{what}"
        );
    }
}

#[test]
fn a_commit_torn_after_every_byte_leaves_the_old_or_the_new_state() {
    let (dir, path) = temp_store();
    store_at(&path, 3);
    tear_append_after_every_byte(
        dir.path(),
        &path,
        "commit",
        |store| {
            store
                .commit("default", Some(3), &Change::Replace(batch_for(4)))
                .expect("commit");
        },
        |_, new| assert_eq!(new.0[0].week(), week_for(4)),
    );
}

#[test]
fn a_create_torn_after_every_byte_leaves_no_calendar_or_the_new_one() {
    let (dir, path) = temp_store();
    store_at(&path, 2);
    tear_append_after_every_byte(
        dir.path(),
        &path,
        "create",
        |store| {
            store
                .create("room-2", "Europe/Paris", Vec::new(), &Authority::Unchecked)
                .expect("create");
        },
        |old, new| assert_eq!((old.0.len(), new.0.len()), (1, 2)),
    );
}

#[test]
fn a_delete_torn_after_every_byte_leaves_the_calendar_or_none() {
    let (dir, path) = temp_store();
    let store = Store::open(&path).expect("open");
    store
        .create("room-2", "UTC", Vec::new(), &Authority::Unchecked)
        .expect("create");
    drop(store);
    tear_append_after_every_byte(
        dir.path(),
        &path,
        "delete",
        |store| store.delete("room-2", None).expect("delete"),
        |old, new| assert_eq!((old.0.len(), new.0.len()), (2, 1)),
    );
}

#[test]
fn an_admin_key_change_torn_after_every_byte_leaves_the_old_or_the_new_keys() {
    let (dir, path) = temp_store();
    store_at(&path, 2);
    let hash = "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW";
    tear_append_after_every_byte(
        dir.path(),
        &path,
        "admin key",
        |store| {
            store
                .add_admin_key(
                    KeyHash::new("admin", hash).expect("key"),
                    &Authority::Unchecked,
                )
                .expect("add");
        },
        |old, new| assert_eq!((old.1.len(), new.1.len()), (0, 1)),
    );
}

/// A store whose every record but the last is covered by a later record's durable mark.
fn three_commits(path: &Path) -> Vec<u8> {
    store_at(path, 4);
    fs::read(path).expect("read")
}

#[test]
fn every_byte_flip_of_an_acknowledged_record_is_caught() {
    let (_dir, path) = temp_store();
    let image = three_commits(&path);
    let all = records(&image);
    assert_eq!(all.len(), 4, "default's creation and three commits");
    // Records before the last: a later record says they were durable.
    for &(start, size) in &all[..all.len() - 1] {
        for i in (start..start + size).step_by(3) {
            let mut damaged = image.clone();
            damaged[i] ^= 1 << (i % 8);
            fs::write(&path, &damaged).expect("write");
            let err = Store::open(&path).expect_err("damage must be caught");
            assert!(err.is_corrupt(), "byte {i}: {err}");
            assert!(err.to_string().contains(&path.display().to_string()));
        }
    }
    // The last record: no later one vouches for it, so damage to it is a torn append that
    // was never acknowledged, and the store opens at the state before it.
    // (A length that now runs past the end of the file is refused as a cut file.)
    let &(start, size) = all.last().expect("last");
    for i in (start..start + size).step_by(5) {
        let mut damaged = image.clone();
        damaged[i] ^= 0x40;
        fs::write(&path, &damaged).expect("write");
        match Store::open(&path) {
            Ok(store) => assert_eq!(store.get("default").expect("default").version(), 3),
            Err(err) => assert!(
                (start + 4..start + 8).contains(&i) && err.to_string().contains("truncated"),
                "byte {i}: {err}"
            ),
        }
    }
}

#[test]
fn a_truncated_file_is_refused_or_holds_the_records_before_the_cut() {
    let (_dir, path) = temp_store();
    let image = three_commits(&path);
    let all = records(&image);
    let end = all.last().map(|&(s, n)| s + n).expect("records");
    let mut refused = 0;
    for len in (0..image.len()).step_by(97) {
        fs::write(&path, &image[..len]).expect("write");
        // The records wholly before the cut: the most a store cut there may hold.
        let whole = all.iter().filter(|&&(s, n)| s + n <= len).count() as u64;
        match Store::open(&path) {
            Err(err) => {
                assert!(err.is_corrupt(), "length {len}: {err}");
                assert!(
                    len < end,
                    "length {len}: a cut after the records is refused"
                );
                refused += 1;
            }
            Ok(store) => {
                // default's creation is record 1, its commits versions 2 to 4.
                let version = store.get("default").map_or(0, |d| d.version());
                assert_eq!(version, whole, "length {len}");
                assert!(
                    len >= end || all.iter().any(|&(s, _)| s == len),
                    "length {len}: a cut inside a record opened"
                );
            }
        }
    }
    assert!(refused > 0, "cuts inside records are refused");
}

#[test]
fn random_files_are_refused() {
    let (_dir, path) = temp_store();
    for len in [0, 1, 100, 4095, 4096, 8192, 20_000] {
        let bytes: Vec<u8> = (0..len).map(|i| mix(i as u64 + len as u64) as u8).collect();
        fs::write(&path, &bytes).expect("write");
        let err = Store::open(&path).expect_err("random bytes are not a store");
        assert!(err.is_corrupt(), "{len} bytes: {err}");
    }
}

#[test]
fn a_file_from_a_newer_format_is_refused_by_name() {
    let (_dir, path) = temp_store();
    store_at(&path, 2);
    let mut image = fs::read(&path).expect("read");
    image[8] = 10;
    fs::write(&path, &image).expect("write");
    let err = Store::open(&path).expect_err("newer");
    assert!(err.is_corrupt(), "{err}");
    assert!(err.to_string().contains("format version 10"), "{err}");
    assert!(err.to_string().contains("newer"), "{err}");
    assert_eq!(fs::read(&path).expect("read"), image, "left as it was");
}

#[test]
fn a_valid_crc_over_a_bad_payload_does_not_make_a_record_valid() {
    let (_dir, path) = temp_store();
    let image = three_commits(&path);
    let all = records(&image);
    // In default's first record (its creation, kind 9), the zone's first byte becomes a
    // space, which no zone name has; the CRC is made to match.
    let (start, size) = all[0];
    assert_eq!(image[start + 24], 9, "a calendar record");
    let payload = start + FRAME;
    let id_len = image[payload + 108] as usize;
    let mut damaged = image.clone();
    damaged[payload + 112 + id_len] = b' ';
    let len = u32::from_le_bytes(damaged[start + 4..start + 8].try_into().unwrap()) as usize;
    let crc = crc32(&damaged[start + 4..start + FRAME + len]);
    damaged[start..start + 4].copy_from_slice(&crc.to_le_bytes());
    assert!(size >= FRAME + len);
    fs::write(&path, &damaged).expect("write");
    let err = Store::open(&path).expect_err("refused");
    assert!(err.is_corrupt(), "{err}");
    assert!(err.to_string().contains("record 1"), "{err}");
}

/// CRC-32/ISO-HDLC, bit by bit (an oracle independent of the store's `crc32fast`).
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[test]
fn a_store_of_many_calendars_reopens_as_it_was() {
    let (_dir, path) = temp_store();
    let store = Store::open(&path).expect("open");
    for i in 0..2_000 {
        store
            .create(
                &format!("c{i:05}"),
                "UTC",
                Vec::new(),
                &Authority::Unchecked,
            )
            .expect("create");
    }
    for i in (0..2_000).step_by(7) {
        store.delete(&format!("c{i:05}"), None).expect("delete");
    }
    let before = store.list();
    drop(store);
    let store = Store::open(&path).expect("reopen");
    assert_eq!(store.list(), before);
    store.compact_journal().expect("compact");
    drop(store);
    assert_eq!(Store::open(&path).expect("reopen").list(), before);
}
