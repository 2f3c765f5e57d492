//! Contention: threads racing for one slot make one booking, and overlapping claims from many
//! threads never share a slot.

use std::sync::{Arc, Barrier};

use availability_core::dated::Claim;
use availability_core::store::{Authority, Store};

use super::{all_available, tomorrow, Dated};
use crate::store::temp_store;

#[test]
fn many_threads_racing_for_one_slot_make_one_booking() {
    let (_dir, path) = temp_store();
    let t = tomorrow();
    let store = Arc::new(Store::open(&path).expect("open"));
    store
        .commit("default", Some(1), &all_available())
        .expect("pattern");
    let threads = 64;
    let barrier = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|i| {
            let (store, barrier) = (Arc::clone(&store), Arc::clone(&barrier));
            std::thread::spawn(move || {
                barrier.wait();
                // Everyone wants 10:00-10:30; half of them ask for a longer span around it.
                let (start, end) = if i % 2 == 0 {
                    (t, t + 1800)
                } else {
                    (t - 1800 * (i as i64 % 3), t + 1800 * (1 + i as i64 % 4))
                };
                store.book("default", None, &Claim::new(start, end), None)
            })
        })
        .collect();
    let results: Vec<_> = handles
        .into_iter()
        .map(|h| h.join().expect("thread"))
        .collect();
    let winners = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(winners, 1, "exactly one claim of the contested slot wins");
    for result in &results {
        if let Err(err) = result {
            assert!(err.is_conflict(), "{err}");
        }
    }
    let dated = Dated::of(&store, "default");
    assert_eq!(dated.bookings.len(), 1);
    assert_eq!(dated.version, 3);
}

#[test]
fn overlapping_claims_from_many_threads_never_share_a_slot() {
    let (_dir, path) = temp_store();
    let t = tomorrow();
    let store = Arc::new(Store::open(&path).expect("open"));
    for c in 0..4 {
        store
            .create(
                &format!("room-{c}"),
                "Asia/Kolkata",
                Vec::new(),
                &Authority::Unchecked,
            )
            .expect("create");
        store
            .commit(&format!("room-{c}"), Some(1), &all_available())
            .expect("pattern");
    }
    let threads = 64;
    let barrier = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|i| {
            let (store, barrier) = (Arc::clone(&store), Arc::clone(&barrier));
            std::thread::spawn(move || {
                barrier.wait();
                let room = format!("room-{}", i % 4);
                let start = t + 900 * (i as i64 % 7);
                let end = start + 900 * (1 + i as i64 % 5);
                (
                    room.clone(),
                    start,
                    end,
                    store.book(&room, None, &Claim::new(start, end), None),
                )
            })
        })
        .collect();
    let results: Vec<_> = handles
        .into_iter()
        .map(|h| h.join().expect("thread"))
        .collect();
    for c in 0..4 {
        let room = format!("room-{c}");
        // Dated::of checks that no slot is held twice.
        let dated = Dated::of(&store, &room);
        let mine: Vec<_> = results.iter().filter(|r| r.0 == room).collect();
        let won = mine.iter().filter(|r| r.3.is_ok()).count();
        assert!(won >= 1);
        assert_eq!(dated.bookings.len(), won);
        for (_, start, end, result) in &mine {
            if let Err(err) = result {
                // A claim lost only to a booking: some winner holds one of its slots.
                let conflict = err.conflict_details().expect("a conflict");
                let holder = conflict.booking().expect("a booking refused it");
                assert!(dated.bookings.iter().any(|b| b.0 == holder.0));
                assert!(conflict.instant >= *start && conflict.instant < *end);
            }
        }
    }
}
