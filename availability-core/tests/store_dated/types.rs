//! Booking types in the store: kept in the calendar's record across a reopen, every rule
//! checked again inside the commit (so racers for the last place of a day give one winner),
//! and a reschedule that moves a booking in one step or leaves it where it was.

use std::sync::{Arc, Barrier};

use availability_core::dated::Claim;
use availability_core::slots::{BookingType, Rule};
use availability_core::store::{Authority, Change, Store};

use super::all_available;
use crate::store::{temp_store, tomorrow};

/// A 30-minute call, one a day, with 15 minutes after each call kept free.
fn call() -> BookingType {
    let mut call = BookingType::new(30);
    call.buffer_after = 15;
    call.per_day = Some(1);
    call.label = Some(String::from("Intro call"));
    call
}

/// A booking of type `name` at `start` (its end is the type's).
fn typed(name: &str, start: i64, minutes: i64) -> Claim {
    let mut claim = Claim::new(start, start + minutes * 60);
    claim.booking_type = Some(String::from(name));
    claim
}

fn rule(err: &availability_core::Error) -> Option<Rule> {
    err.rule()
}

#[test]
fn types_are_kept_in_the_calendar_record_and_count_as_changes() {
    let (_dir, path) = temp_store();
    let store = Store::open(&path).expect("open");
    store
        .create("ana", "Asia/Kathmandu", Vec::new(), &Authority::Unchecked)
        .expect("create");
    let before = store.get("ana").expect("ana").version();
    let after = store
        .commit(
            "ana",
            None,
            &Change::SetBookingType(String::from("call"), call()),
        )
        .expect("set");
    assert_eq!(after.version(), before + 1);
    store
        .commit(
            "ana",
            None,
            &Change::SetBookingType(String::from("a-room"), BookingType::new(120)),
        )
        .expect("set");
    let mut bad = call();
    bad.interval = 4;
    let err = store
        .commit("ana", None, &Change::SetBookingType(String::from("x"), bad))
        .expect_err("interval 4");
    assert_eq!(err.field(), Some("interval"), "{err}");
    let err = store
        .commit(
            "ana",
            None,
            &Change::SetBookingType(String::from("Call"), call()),
        )
        .expect_err("upper case");
    assert_eq!(err.field(), Some("name"), "{err}");
    drop(store);
    let store = Store::open(&path).expect("reopen");
    let ana = store.get("ana").expect("ana");
    let names: Vec<&str> = ana.booking_types().map(|(n, _)| n).collect();
    assert_eq!(names, ["a-room", "call"]);
    assert_eq!(ana.booking_type("call"), Some(&call()));
    store
        .commit(
            "ana",
            None,
            &Change::RemoveBookingType(String::from("a-room")),
        )
        .expect("remove");
    let err = store
        .commit(
            "ana",
            None,
            &Change::RemoveBookingType(String::from("a-room")),
        )
        .expect_err("gone");
    assert!(err.is_not_found(), "{err}");
    drop(store);
    let store = Store::open(&path).expect("reopen");
    assert_eq!(store.get("ana").expect("ana").booking_types().len(), 1);
}

#[test]
fn each_rule_is_checked_in_the_commit_and_named() {
    let (_dir, path) = temp_store();
    let store = Store::open(&path).expect("open");
    store
        .create("bo", "UTC", Vec::new(), &Authority::Unchecked)
        .expect("create");
    store.commit("bo", None, &all_available()).expect("week");
    store
        .commit(
            "bo",
            None,
            &Change::SetBookingType(String::from("call"), call()),
        )
        .expect("type");
    // Two days ahead at 10:00 UTC, so that every start below is on one owner date.
    let ten = tomorrow() - tomorrow() % 86_400 + 2 * 86_400 + 10 * 3600;
    let (_, plain) = store
        .book("bo", None, &Claim::new(ten + 3600, ten + 5400), None)
        .expect("an untyped booking at 11:00");
    // 10:30 to 11:00 is free, but its 15 minutes after overlap the 11:00 booking.
    let err = store
        .book("bo", None, &typed("call", ten + 1800, 30), None)
        .expect_err("buffer");
    assert_eq!(rule(&err), Some(Rule::Buffer(plain.id())), "{err}");
    let err = store
        .book("bo", None, &typed("call", ten + 3600, 30), None)
        .expect_err("taken");
    assert_eq!(rule(&err), Some(Rule::Taken(plain.id())), "{err}");
    let err = store
        .book("bo", None, &typed("call", ten + 600, 30), None)
        .expect_err("off the grid");
    assert_eq!(rule(&err), Some(Rule::OffGrid), "{err}");
    let err = store
        .book("bo", None, &typed("call", ten, 45), None)
        .expect_err("not the type's length");
    assert!(err.is_invalid_span(), "{err}");
    let err = store
        .book("bo", None, &typed("nope", ten, 30), None)
        .expect_err("no such type");
    assert!(err.is_not_found(), "{err}");
    let (_, first) = store
        .book("bo", None, &typed("call", ten, 30), None)
        .expect("10:00 is bookable");
    assert_eq!(first.booking_type(), Some("call"));
    let err = store
        .book("bo", None, &typed("call", ten + 4 * 3600, 30), None)
        .expect_err("one a day");
    assert_eq!(rule(&err), Some(Rule::PerDay), "{err}");
    // The next day has its own place; and an untyped booking never counts.
    store
        .book("bo", None, &typed("call", ten + 86_400, 30), None)
        .expect("the next day");
    drop(store);
    let store = Store::open(&path).expect("reopen");
    let bo = store.get("bo").expect("bo");
    let kept = bo.dated().booking(first.id()).expect("kept");
    assert_eq!(kept.booking_type(), Some("call"), "the type is in the log");
}

#[test]
fn a_reschedule_moves_in_one_step_or_leaves_the_booking() {
    let (_dir, path) = temp_store();
    let store = Store::open(&path).expect("open");
    store
        .create("cy", "Europe/Paris", Vec::new(), &Authority::Unchecked)
        .expect("create");
    store.commit("cy", None, &all_available()).expect("week");
    let mut free = call();
    free.per_day = None;
    store
        .commit(
            "cy",
            None,
            &Change::SetBookingType(String::from("call"), free),
        )
        .expect("type");
    let at = tomorrow() + 2 * 86_400;
    let (_, a) = store
        .book("cy", None, &typed("call", at, 30), None)
        .expect("a");
    let (_, b) = store
        .book("cy", None, &typed("call", at + 7200, 30), None)
        .expect("b");
    let before = store.get("cy").expect("cy");
    // Onto b, and just before b (its buffer after reaches b): refused, a stays.
    for (start, want) in [
        (at + 7200, Rule::Taken(b.id())),
        (at + 5400, Rule::Buffer(b.id())),
    ] {
        let err = store
            .reschedule("cy", None, a.id(), start, None)
            .expect_err("refused");
        assert_eq!(err.rule(), Some(want), "{err}");
        assert_eq!(store.get("cy").expect("cy"), before, "nothing changed");
    }
    // Half an hour later overlaps its own old span: that is no conflict.
    let (moved_state, moved) = store
        .reschedule("cy", None, a.id(), at + 1800, None)
        .expect("moved");
    assert_eq!(moved.id(), a.id());
    assert_eq!((moved.start(), moved.end()), (at + 1800, at + 3600));
    assert_eq!(moved.booking_type(), Some("call"));
    assert_eq!(moved.created_unix_ms(), a.created_unix_ms());
    assert_eq!(moved_state.version(), before.version() + 1);
    // The old span is free: another booking takes it.
    let (_, c) = store
        .book("cy", None, &Claim::new(at - 1800, at), None)
        .expect("the half hour before is free");
    // An untyped booking moves with its own end.
    let (_, c2) = store
        .reschedule("cy", None, c.id(), at + 4 * 3600, Some(at + 6 * 3600))
        .expect("untyped");
    assert_eq!((c2.start(), c2.end()), (at + 4 * 3600, at + 6 * 3600));
    let err = store
        .reschedule("cy", None, a.id(), at + 3 * 3600, Some(at + 5 * 3600))
        .expect_err("a typed booking keeps its length");
    assert!(err.is_invalid_span(), "{err}");
    drop(store);
    let store = Store::open(&path).expect("reopen");
    let cy = store.get("cy").expect("cy");
    let spans: Vec<(i64, i64)> = cy
        .dated()
        .all_bookings()
        .map(|b| (b.start(), b.end()))
        .collect();
    assert_eq!(
        spans,
        [
            (at + 1800, at + 3600),
            (at + 7200, at + 9000),
            (at + 4 * 3600, at + 6 * 3600)
        ]
    );
}

#[test]
fn racers_for_the_last_place_of_a_day_give_one_winner() {
    let (_dir, path) = temp_store();
    let store = Arc::new(Store::open(&path).expect("open"));
    store
        .create("dee", "America/New_York", Vec::new(), &Authority::Unchecked)
        .expect("create");
    store.commit("dee", None, &all_available()).expect("week");
    let mut rules = BookingType::new(15);
    rules.per_day = Some(3);
    store
        .commit(
            "dee",
            None,
            &Change::SetBookingType(String::from("quick"), rules),
        )
        .expect("type");
    // Early on a New York date two days ahead (05:00 UTC is midnight there in winter, 01:00
    // in summer): two places of three taken, then 50 racers for the last, at starts 15
    // minutes apart over the next 12.5 hours of the same date. Two racers in one half hour
    // also refuse each other, but more than one winner means the daily limit leaked.
    let day = tomorrow() - tomorrow() % 86_400 + 2 * 86_400 + 5 * 3600;
    for k in 0..2 {
        store
            .book("dee", None, &typed("quick", day + k * 1800, 15), None)
            .expect("an early place");
    }
    let racers = 50;
    let barrier = Arc::new(Barrier::new(racers));
    let handles: Vec<_> = (0..racers as i64)
        .map(|k| {
            let (store, barrier) = (Arc::clone(&store), Arc::clone(&barrier));
            std::thread::spawn(move || {
                barrier.wait();
                store.book("dee", None, &typed("quick", day + 3600 + k * 900, 15), None)
            })
        })
        .collect();
    let mut won = 0;
    for handle in handles {
        match handle.join().expect("racer") {
            Ok(_) => won += 1,
            Err(err) => assert!(
                matches!(err.rule(), Some(Rule::PerDay | Rule::Taken(_))),
                "{err}"
            ),
        }
    }
    assert_eq!(won, 1, "one winner for the last place");
    drop(store);
    let store = Store::open(&path).expect("reopen");
    assert_eq!(store.get("dee").expect("dee").dated().booking_count(), 3);
}
