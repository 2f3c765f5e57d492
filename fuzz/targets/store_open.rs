//! Opens arbitrary bytes as a store file: the result is an error or a working store, never a
//! panic. A working store must then take writes and reopen to the same state.
//!
//! The first input byte picks how the rest becomes a file:
//! - 0: the bytes are the file.
//! - 1: the bytes are patches (3-byte offset, 1-byte xor) to a valid store, after which every
//!   record gets a correct CRC, so the payload decoders see hostile bytes.
//! - anything else: the same patches, CRCs left as they fall.

use std::path::PathBuf;
use std::sync::OnceLock;

use availability_core::store::{Authority, Change, KeyHash, Store};
use availability_core::{Batch, Day, Entry, Status};

const HEADER: usize = 4096;
const FRAME: usize = 32;

fn scratch() -> PathBuf {
    std::env::temp_dir().join(format!("availability-fuzz-store-{}", std::process::id()))
}

/// A small valid store: a few calendars with weeks and keys, an admin key.
fn baseline() -> &'static [u8] {
    static BASELINE: OnceLock<Vec<u8>> = OnceLock::new();
    BASELINE.get_or_init(|| {
        let path = scratch().with_extension("baseline");
        let _ = std::fs::remove_file(&path);
        let store = Store::open(&path).expect("baseline");
        let hash = "$2b$04$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234";
        store
            .add_admin_key(
                KeyHash::new("admin", hash).expect("key"),
                &Authority::Unchecked,
            )
            .expect("admin");
        for id in ["room-1", "desk"] {
            store
                .create(id, "Europe/Paris", Vec::new(), &Authority::Unchecked)
                .expect("create");
            let batch = Batch::from(vec![Entry::range(
                Day::Tuesday,
                "09:00".parse().expect("time"),
                "12:30".parse().expect("time"),
                Status::Available,
            )]);
            store
                .commit(id, None, &Change::Apply(batch))
                .expect("commit");
            let key = KeyHash::new("k1", hash).expect("key");
            store.commit(id, None, &Change::AddKey(key)).expect("key");
        }
        drop(store);
        let bytes = std::fs::read(&path).expect("read");
        let _ = std::fs::remove_file(&path);
        bytes
    })
}

fn file_from(data: &[u8]) -> Vec<u8> {
    let Some((&mode, rest)) = data.split_first() else {
        return Vec::new();
    };
    if mode == 0 {
        return rest.to_vec();
    }
    let mut file = baseline().to_vec();
    let len = file.len();
    for patch in rest.chunks_exact(4) {
        let offset = u32::from_le_bytes([patch[0], patch[1], patch[2], 0]) as usize;
        if let Some(byte) = file.get_mut(offset % len) {
            *byte ^= patch[3];
        }
    }
    if mode == 1 {
        // Each record's CRC again, walking the frames by their (patched) lengths.
        let mut at = HEADER;
        while let Some(head) = file.get(at..at + FRAME) {
            if head.iter().all(|&b| b == 0) {
                break;
            }
            let len = u32::from_le_bytes([head[4], head[5], head[6], head[7]]) as usize;
            let Some(covered) = file.get(at + 4..at + FRAME + len) else {
                break;
            };
            let crc = crc32fast::hash(covered);
            file[at..at + 4].copy_from_slice(&crc.to_le_bytes());
            at += (FRAME + len).next_multiple_of(8);
        }
    }
    file
}

/// Checks one input; panics on a finding.
pub(crate) fn run(data: &[u8]) {
    let path = scratch();
    std::fs::write(&path, file_from(data)).expect("write the input");
    // The scratch file goes with the input, whatever the outcome: a run leaves nothing behind.
    struct Remove<'a>(&'a std::path::Path);
    impl Drop for Remove<'_> {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(self.0);
            let _ = std::fs::remove_file(self.0.with_extension("journal"));
        }
    }
    let _remove = Remove(&path);
    let Ok(store) = Store::open(&path) else {
        return;
    };
    // A store that opened must work: read everything, change everything, reopen.
    let before = store.list();
    for calendar in &before {
        assert_eq!(store.get(calendar.id()).as_deref(), Some(&**calendar));
        let written = store
            .commit(calendar.id(), None, &Change::Replace(Batch::new()))
            .unwrap_or_else(|e| panic!("a store that opened refused a write: {e}"));
        assert_eq!(written.version(), calendar.version() + 1);
    }
    match store.create("fuzz-new", "UTC", Vec::new(), &Authority::Unchecked) {
        Ok(created) => assert_eq!(store.get("fuzz-new").as_deref(), Some(&*created)),
        Err(e) => assert!(
            e.is_already_exists(),
            "a store that opened refused a create: {e}"
        ),
    }
    let _ = store.admin_keys();
    let after = store.list();
    drop(store);
    let store = Store::open(&path).expect("a store that opened and was written must reopen");
    assert_eq!(store.list(), after);
}
