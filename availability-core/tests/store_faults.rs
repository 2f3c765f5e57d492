//! Faults below the store: torn copies (of a calendar, the meta record, a create and a
//! growth), flipped bytes and bits, misplaced copies, truncated files,
//! random files and files from a newer format. Each must be detected: the other copy stands,
//! or opening fails with a corruption error that names the file, and nothing panics.
//!
//! The offsets come from `docs/format.md`: 4096-byte pages; page 0 the header; record `r`
//! has copy A at page `1 + 2r` and copy B at page `2 + 2r`; record 0 is the meta record and
//! calendar slot `k` is record `k + 1` (`default` is in slot 0).

use std::fs;
use std::os::unix::fs::FileExt;
use std::path::Path;

use availability_core::store::{journal_path, Change, KeyHash, Store};

use crate::store::{batch_for, mix, temp_store, week_for};

const PAGE: usize = 4096;

fn copy_offset(record: usize, copy: usize) -> u64 {
    ((1 + 2 * record + copy) * PAGE) as u64
}

fn read_page(path: &Path, offset: u64) -> Vec<u8> {
    let file = fs::File::open(path).expect("open");
    let mut page = vec![0u8; PAGE];
    file.read_exact_at(&mut page, offset).expect("read");
    page
}

fn write_at(path: &Path, offset: u64, bytes: &[u8]) {
    let file = fs::OpenOptions::new().write(true).open(path).expect("open");
    file.write_all_at(bytes, offset).expect("write");
}

/// Commits `default` up to version `version` (content `week_for(v)`), so that copy B of
/// slot 0 holds the even versions and copy A the odd ones.
fn store_at(path: &Path, version: u64) {
    let store = Store::open(path).expect("open");
    for v in 2..=version {
        store
            .commit("default", Some(v - 1), &Change::Replace(batch_for(v)))
            .expect("commit");
    }
}

/// The version and week of `default`, checking that they belong together.
fn default_version(path: &Path) -> u64 {
    let store = Store::open(path).expect("a valid copy must stand");
    let default = store.get("default").expect("default");
    assert_eq!(
        default.week(),
        week_for(default.version()),
        "content of {}",
        default.version()
    );
    default.version()
}

#[test]
fn a_commit_torn_after_every_byte_leaves_the_old_or_the_new_state() {
    let (dir, path) = temp_store();
    store_at(&path, 4); // copy B holds version 4, copy A version 3
                        // The page the next commit writes, taken from a copy of the store that made it.
    let next = dir.path().join("next.avs");
    fs::copy(&path, &next).expect("copy");
    fs::copy(journal_path(&path), journal_path(&next)).expect("copy");
    store_at_from(&next, 4, 5);
    let new_a = read_page(&next, copy_offset(1, 0));
    let old_a = read_page(&path, copy_offset(1, 0));
    assert_ne!(new_a, old_a);

    for n in 0..=PAGE {
        let mut torn = old_a.clone();
        torn[..n].copy_from_slice(&new_a[..n]);
        write_at(&path, copy_offset(1, 0), &torn);
        let expected = if torn == new_a { 5 } else { 4 };
        assert_eq!(default_version(&path), expected, "torn after {n} bytes");
    }
}

fn store_at_from(path: &Path, from: u64, to: u64) {
    let store = Store::open(path).expect("open");
    for v in from + 1..=to {
        store
            .commit("default", Some(v - 1), &Change::Replace(batch_for(v)))
            .expect("commit");
    }
}

#[test]
fn a_torn_copy_is_repaired_by_the_next_commit() {
    let (_dir, path) = temp_store();
    store_at(&path, 4);
    // Tear copy A (version 3) in the middle: version 4 in copy B stands.
    write_at(&path, copy_offset(1, 0) + 1000, &[0xAB; 100]);
    assert_eq!(default_version(&path), 4);
    store_at_from(&path, 4, 5); // writes copy A
                                // Now lose copy B entirely: the repaired copy A holds version 5.
    write_at(&path, copy_offset(1, 1), &[0u8; PAGE]);
    assert_eq!(default_version(&path), 5);
}

#[test]
fn every_byte_flip_of_either_copy_is_caught() {
    let (_dir, path) = temp_store();
    store_at(&path, 4);
    for (copy, survivor) in [(1, 3), (0, 4)] {
        let offset = copy_offset(1, copy);
        let original = read_page(&path, offset);
        for i in 0..PAGE {
            let mut flipped = original.clone();
            flipped[i] ^= 0xFF;
            write_at(&path, offset, &flipped);
            assert_eq!(default_version(&path), survivor, "copy {copy}, byte {i}");
        }
        // Single-bit flips: every bit of the copy header and the start of the payload, and
        // one bit of every later byte (all eight positions in turn) to the end of the page.
        let bits = (0..256 * 8).chain((256..PAGE).map(|byte| byte * 8 + byte % 8));
        for bit in bits {
            let mut flipped = original.clone();
            flipped[bit / 8] ^= 1 << (bit % 8);
            write_at(&path, offset, &flipped);
            assert_eq!(default_version(&path), survivor, "copy {copy}, bit {bit}");
        }
        write_at(&path, offset, &original);
    }
    assert_eq!(default_version(&path), 4);
}

#[test]
fn a_record_with_no_valid_copy_fails_the_open_and_names_it() {
    let (_dir, path) = temp_store();
    store_at(&path, 4);
    let before_b = read_page(&path, copy_offset(1, 1));
    write_at(&path, copy_offset(1, 0) + 200, &[1]);
    write_at(&path, copy_offset(1, 1) + 300, &[1]);
    let damaged = fs::read(&path).expect("read");
    let err = Store::open(&path).expect_err("no valid copy");
    assert!(err.is_corrupt(), "{err}");
    let text = err.to_string();
    for needle in [
        "store.avs",
        "record 1 (calendar slot 0)",
        "copy A",
        "copy B",
        "CRC-32",
    ] {
        assert!(text.contains(needle), "{needle:?} missing from: {text}");
    }
    assert_eq!(
        fs::read(&path).expect("read"),
        damaged,
        "a failed open writes nothing"
    );
    // Restoring one copy makes the store open again.
    write_at(&path, copy_offset(1, 1), &before_b);
    assert_eq!(default_version(&path), 4);
}

#[test]
fn a_copy_written_to_the_wrong_record_is_rejected() {
    let (_dir, path) = temp_store();
    store_at(&path, 4);
    let store = Store::open(&path).expect("open");
    store.create("other", "UTC").expect("create"); // slot 1, copy B, sequence 2
    drop(store);
    // Copy B of slot 1 is valid and newer, but belongs to record 2, not record 1.
    let misplaced = read_page(&path, copy_offset(2, 1));
    write_at(&path, copy_offset(1, 1), &misplaced);
    assert_eq!(default_version(&path), 3);
}

#[test]
fn damage_to_the_meta_record_is_caught() {
    let (_dir, path) = temp_store();
    let store = Store::open(&path).expect("open");
    let hash = "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW";
    store
        .add_admin_key(KeyHash::new("admin", hash).expect("key"))
        .expect("add"); // meta copy B, sequence 2
    drop(store);
    // Flip copy B: copy A (no admin key) stands.
    write_at(&path, copy_offset(0, 1) + 30, &[0xEE]);
    let store = Store::open(&path).expect("copy A stands");
    assert!(store.admin_keys().is_empty());
    drop(store);
    // Flip copy A too: nothing stands.
    write_at(&path, copy_offset(0, 0) + 30, &[0xEE]);
    let err = Store::open(&path).expect_err("no meta");
    assert!(err.is_corrupt(), "{err}");
    assert!(err.to_string().contains("record 0 (meta)"), "{err}");
}

#[test]
fn a_truncated_file_is_refused_at_every_length() {
    let (_dir, path) = temp_store();
    store_at(&path, 3);
    let whole = fs::read(&path).expect("read");
    let mut lengths: Vec<usize> = (0..whole.len()).step_by(PAGE).collect();
    lengths.extend([1, 8, 100, PAGE - 1, PAGE + 1, whole.len() - 1]);
    for len in lengths {
        fs::write(&path, &whole[..len]).expect("truncate");
        let err = Store::open(&path).expect_err("truncated");
        assert!(err.is_corrupt(), "length {len}: {err}");
        assert!(err.to_string().contains("store.avs"), "{err}");
        assert_eq!(
            fs::read(&path).expect("read").len(),
            len,
            "nothing is written"
        );
    }
    fs::write(&path, &whole).expect("restore");
    assert_eq!(default_version(&path), 3);
}

#[test]
fn random_files_are_refused() {
    let (_dir, path) = temp_store();
    store_at(&path, 2);
    let header = read_page(&path, 0);
    for seed in 0..64u64 {
        let len = (mix(seed) % (20 * PAGE as u64)) as usize;
        let mut bytes: Vec<u8> = (0..len as u64).map(|i| mix(seed << 32 | i) as u8).collect();
        if seed % 2 == 1 && bytes.len() >= PAGE {
            // A good header over random records: the meta record must fail.
            bytes[..PAGE].copy_from_slice(&header);
        }
        fs::write(&path, &bytes).expect("write");
        let err = Store::open(&path).expect_err("random");
        assert!(err.is_corrupt(), "seed {seed}: {err}");
    }
}

#[test]
fn a_file_from_a_newer_format_is_refused_by_name() {
    let (_dir, path) = temp_store();
    store_at(&path, 2);
    let mut header = read_page(&path, 0);
    header[8..12].copy_from_slice(&3u32.to_le_bytes());
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&header[..12]);
    hasher.update(&header[16..]);
    header[12..16].copy_from_slice(&hasher.finalize().to_le_bytes());
    write_at(&path, 0, &header);
    let err = Store::open(&path).expect_err("newer");
    assert!(err.is_corrupt(), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("version 3") && text.contains("newer"),
        "{text}"
    );
}

#[test]
fn bytes_left_by_an_interrupted_growth_are_ignored_then_reused() {
    let (_dir, path) = temp_store();
    store_at(&path, 2);
    let len = fs::metadata(&path).expect("size").len();
    // Growth writes the new pages before the meta record counts them; a crash in between
    // leaves extra bytes (here: garbage, the worst case) after the records in use.
    let junk: Vec<u8> = (0..(5 * PAGE as u64 + 123)).map(|i| mix(i) as u8).collect();
    write_at(&path, len, &junk);
    let store = Store::open(&path).expect("the tail is ignored");
    for i in 0..12 {
        store
            .create(&format!("c{i}"), "UTC")
            .expect("create (grows)");
    }
    let before = store.list();
    drop(store);
    let store = Store::open(&path).expect("reopen");
    assert_eq!(store.list(), before);
}

/// Writes `page` at `offset` after giving it a valid CRC, as a buggy or hostile writer would.
fn write_with_crc(path: &Path, offset: u64, mut page: Vec<u8>) {
    let crc = crc32fast::hash(&page[4..]);
    page[..4].copy_from_slice(&crc.to_le_bytes());
    write_at(path, offset, &page);
}

#[test]
fn an_exhausted_sequence_number_refuses_the_commit_without_panicking() {
    let (_dir, path) = temp_store();
    store_at(&path, 4);
    let mut page = read_page(&path, copy_offset(1, 1));
    page[8..16].copy_from_slice(&u64::MAX.to_le_bytes());
    write_with_crc(&path, copy_offset(1, 1), page);
    let store = Store::open(&path).expect("open");
    let err = store
        .commit("default", None, &Change::Replace(batch_for(5)))
        .expect_err("exhausted");
    assert!(err.is_capacity(), "{err}");
    assert_eq!(store.get("default").expect("default").version(), 4);
}

#[test]
fn a_valid_crc_over_a_bad_payload_does_not_make_a_copy_valid() {
    let (_dir, path) = temp_store();
    store_at(&path, 4);
    let original = read_page(&path, copy_offset(1, 1));
    // Payload offsets: version at 24, the week at 48 (open plane) and 90 (firm plane),
    // the id length at 132, the flags byte at 135.
    let cases: [(&str, usize, u8); 4] = [
        ("version 0", 24, 0),
        ("firm but not open", 48, 0),
        ("id length", 132, 200),
        ("unknown flag", 135, 2),
    ];
    for (what, at, value) in cases {
        let mut page = original.clone();
        if what == "version 0" {
            page[24..32].fill(0);
        } else if what == "firm but not open" {
            page[at..at + 42].fill(value);
            page[90..132].fill(0xFF);
        } else {
            page[at] = value;
        }
        write_with_crc(&path, copy_offset(1, 1), page);
        assert_eq!(default_version(&path), 3, "{what}: copy A stands");
    }
}

/// What a store shows its users: every calendar (with its content, version and keys) and the
/// admin keys.
type Snapshot = (
    Vec<std::sync::Arc<availability_core::store::Calendar>>,
    Vec<KeyHash>,
);

fn snapshot_of(path: &Path, what: &str) -> Snapshot {
    let store =
        Store::open(path).unwrap_or_else(|e| panic!("{what}: a valid copy must stand: {e}"));
    (store.list(), store.admin_keys().to_vec())
}

/// The file before and after `change`, which runs on a copy of the store at `path`.
fn before_and_after(dir: &Path, path: &Path, change: impl FnOnce(&Store)) -> (Vec<u8>, Vec<u8>) {
    let next = dir.join("next.avs");
    fs::copy(path, &next).expect("copy");
    fs::copy(journal_path(path), journal_path(&next)).expect("copy");
    let store = Store::open(&next).expect("open");
    change(&store);
    drop(store);
    let after = fs::read(&next).expect("read");
    fs::remove_file(&next).expect("remove");
    fs::remove_file(journal_path(&next)).expect("remove");
    (fs::read(path).expect("read"), after)
}

/// The offsets of the pages where `a` and `b` differ, within their common length.
fn changed_pages(a: &[u8], b: &[u8]) -> Vec<usize> {
    (0..a.len().min(b.len()) / PAGE)
        .map(|p| p * PAGE)
        .filter(|&o| a[o..o + PAGE] != b[o..o + PAGE])
        .collect()
}

/// Writes `base` with the page at `offset` torn after every byte up to the last one that
/// changes (later tears equal the whole page): the store must open to `old`, or to `new`
/// exactly when the whole new page arrived.
fn tear_page_after_every_byte(
    path: &Path,
    base: &[u8],
    offset: usize,
    new_page: &[u8],
    (old, new): (&Snapshot, &Snapshot),
    what: &str,
) {
    let old_page = &base[offset..offset + PAGE];
    let last = (0..PAGE)
        .rev()
        .find(|&i| old_page[i] != new_page[i])
        .expect("the page changes");
    for n in 0..=last + 1 {
        let mut image = base.to_vec();
        image[offset..offset + n].copy_from_slice(&new_page[..n]);
        fs::write(path, &image).expect("write");
        let arrived = image[offset..offset + PAGE] == *new_page;
        let expected = if arrived { new } else { old };
        let what = format!("{what}, torn after {n} bytes");
        assert_eq!(&snapshot_of(path, &what), expected, "{what}");
    }
}

#[test]
fn an_admin_key_change_torn_after_every_byte_leaves_the_old_or_the_new_meta_record() {
    let (dir, path) = temp_store();
    store_at(&path, 2);
    let hash = "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW";
    let (before, after) = before_and_after(dir.path(), &path, |store| {
        store
            .add_admin_key(KeyHash::new("admin", hash).expect("key"))
            .expect("add");
    });
    let pages = changed_pages(&before, &after);
    assert_eq!(
        pages,
        [copy_offset(0, 1) as usize],
        "one meta copy is written"
    );
    let old = snapshot_of(&path, "before");
    fs::write(&path, &after).expect("write");
    let new = snapshot_of(&path, "after");
    assert_ne!(old.1, new.1);
    let offset = pages[0];
    let page = &after[offset..offset + PAGE];
    tear_page_after_every_byte(&path, &before, offset, page, (&old, &new), "meta");
}

#[test]
fn a_create_torn_after_every_byte_leaves_no_calendar_or_the_new_one() {
    let (dir, path) = temp_store();
    store_at(&path, 2);
    let (before, after) = before_and_after(dir.path(), &path, |store| {
        store.create("room-2", "Europe/Paris").expect("create");
    });
    let pages = changed_pages(&before, &after);
    assert_eq!(pages, [copy_offset(2, 1) as usize], "slot 1's free copy B");
    let old = snapshot_of(&path, "before");
    fs::write(&path, &after).expect("write");
    let new = snapshot_of(&path, "after");
    assert_eq!(new.0.len(), 2);
    let offset = pages[0];
    let page = &after[offset..offset + PAGE];
    tear_page_after_every_byte(&path, &before, offset, page, (&old, &new), "create");
}

#[test]
fn a_growth_torn_at_each_of_its_steps_leaves_the_old_store_or_the_new_calendar() {
    let (dir, path) = temp_store();
    let store = Store::open(&path).expect("open");
    for i in 1..8 {
        store.create(&format!("c{i}"), "UTC").expect("create");
    }
    drop(store);
    // The ninth calendar grows the file from 8 to 16 slots (docs/format.md, 5.2): the new
    // pages are written past the end and synced, then the meta record counts them, then the
    // calendar is written to the first new slot (record 9, copy B: copy A is its free record).
    let (before, after) = before_and_after(dir.path(), &path, |store| {
        store.create("c8", "UTC").expect("create (grows)");
    });
    assert_eq!(after.len(), before.len() * 2 - 3 * PAGE, "16 slots");
    assert_eq!(changed_pages(&before, &after), [copy_offset(0, 1) as usize]);
    let calendar_at = copy_offset(9, 1) as usize;
    let calendar_page = after[calendar_at..calendar_at + PAGE].to_vec();
    let mut grown = after.clone();
    grown[calendar_at..calendar_at + PAGE].fill(0);
    let tail = &grown[before.len()..];
    let meta_at = copy_offset(0, 1) as usize;
    let old = snapshot_of(&path, "before");
    fs::write(&path, &after).expect("write");
    let new = snapshot_of(&path, "after");
    assert_eq!(new.0.len(), 9);

    // 1. The new pages, cut anywhere (every 509 bytes, which lands on every offset within a
    //    sector in turn): the meta record does not count them yet.
    for n in (0..=tail.len()).step_by(509).chain([tail.len()]) {
        let mut image = before.clone();
        image.extend_from_slice(&tail[..n]);
        fs::write(&path, &image).expect("write");
        let what = format!("growth: new pages cut after {n} bytes");
        assert_eq!(snapshot_of(&path, &what), old, "{what}");
    }
    // 2. The meta record torn over the complete new pages: old or grown, no new calendar
    //    either way.
    let mut synced = before.clone();
    synced.extend_from_slice(tail);
    let meta_page = &after[meta_at..meta_at + PAGE];
    tear_page_after_every_byte(
        &path,
        &synced,
        meta_at,
        meta_page,
        (&old, &old),
        "growth meta",
    );
    // 3. The calendar torn in the grown file.
    let mut counted = synced.clone();
    counted[meta_at..meta_at + PAGE].copy_from_slice(meta_page);
    tear_page_after_every_byte(
        &path,
        &counted,
        calendar_at,
        &calendar_page,
        (&old, &new),
        "growth calendar",
    );
    // The grown store without the calendar takes it again.
    fs::write(&path, &counted).expect("write");
    let store = Store::open(&path).expect("open");
    store.create("c8", "UTC").expect("create in the grown file");
    assert_eq!(store.list().len(), 9);
}
