//! Group booking types and group bookings in the store: types kept with the group, a
//! booking of every member (or of the fairest one) made whole or not at all, also across a
//! crash at every write and under racers sharing members, and cancelled and moved as one.

use std::sync::{Arc, Barrier};

use availability_core::dated::Claim;
use availability_core::slots::{BookingType, Mode, Rule};
use availability_core::store::double::{Crash, FileDouble, Tear};
use availability_core::store::group_book::GroupRequest;
use availability_core::store::{Authority, GroupType, Store};

use super::{all_available, Dated};
use crate::store::{temp_store, tomorrow};

const MEMBERS: [&str; 3] = ["ana", "ben", "kai"];

fn sync() -> GroupType {
    let mut rules = BookingType::new(30);
    rules.buffer_after = 15;
    GroupType {
        rules,
        zone: String::from("UTC"),
    }
}

/// Creates the members (all available, in three zones) and group `team` with type `sync`.
fn team(store: &Store) {
    for (id, zone) in MEMBERS
        .iter()
        .zip(["Europe/Paris", "America/New_York", "Asia/Kathmandu"])
    {
        store
            .create(id, zone, Vec::new(), &Authority::Unchecked)
            .expect("create");
        store.commit(id, None, &all_available()).expect("pattern");
    }
    let members = MEMBERS.iter().map(|m| String::from(*m)).collect();
    store
        .put_group("team", members, &Authority::Unchecked)
        .expect("group");
    store
        .put_group_type("team", "sync", Some(sync()), &Authority::Unchecked)
        .expect("type");
}

fn request(start: i64, mode: Mode) -> GroupRequest<'static> {
    GroupRequest {
        name: "sync",
        start,
        mode,
        label: Some(String::from("Planning")),
        key_id: None,
        now: now(),
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

/// The members' bookings, as (member, start) pairs.
fn parts(store: &Store) -> Vec<(String, i64)> {
    let mut out = Vec::new();
    for id in MEMBERS {
        for b in store.get(id).expect("member").dated().all_bookings() {
            out.push((String::from(id), b.start()));
        }
    }
    out.sort();
    out
}

#[test]
fn group_types_are_kept_with_the_group_and_checked_by_field() {
    let (_dir, path) = temp_store();
    let store = Store::open(&path).expect("open");
    team(&store);
    let mut bad = sync();
    bad.zone = String::from("Mars/Olympus");
    let err = store
        .put_group_type("team", "x", Some(bad), &Authority::Unchecked)
        .expect_err("zone");
    assert_eq!(err.field(), Some("timezone"), "{err}");
    let mut bad = sync();
    bad.rules.duration = 3;
    let err = store
        .put_group_type("team", "x", Some(bad), &Authority::Unchecked)
        .expect_err("duration");
    assert_eq!(err.field(), Some("duration"), "{err}");
    let err = store
        .put_group_type("team", "gone", None, &Authority::Unchecked)
        .expect_err("no such type");
    assert!(err.is_not_found(), "{err}");
    let err = store
        .put_group_type("nobody", "sync", Some(sync()), &Authority::Unchecked)
        .expect_err("no such group");
    assert!(err.is_not_found(), "{err}");
    let mut kathmandu = sync();
    kathmandu.zone = String::from("Asia/Kathmandu");
    store
        .put_group_type(
            "team",
            "a-call",
            Some(kathmandu.clone()),
            &Authority::Unchecked,
        )
        .expect("second type");
    // Replacing the members keeps the types.
    store
        .put_group(
            "team",
            vec![String::from("ana"), String::from("ben")],
            &Authority::Unchecked,
        )
        .expect("members");
    drop(store);
    let store = Store::open(&path).expect("reopen");
    let group = store.group("team").expect("team");
    let names: Vec<&str> = group.booking_types().map(|(n, _)| n).collect();
    assert_eq!(names, ["a-call", "sync"]);
    assert_eq!(group.booking_type("a-call"), Some(&kathmandu));
    assert_eq!(group.members(), ["ana", "ben"]);
    store.compact_journal().expect("compact");
    drop(store);
    let store = Store::open(&path).expect("reopen after compaction");
    assert_eq!(store.group("team").expect("team").booking_types().len(), 2);
}

#[test]
fn a_meeting_claims_every_member_or_none_and_cancels_and_moves_as_one() {
    let (_dir, path) = temp_store();
    let store = Store::open(&path).expect("open");
    team(&store);
    let t = tomorrow() + 86_400;
    let made = store
        .group_book("team", &request(t, Mode::All), &Authority::Unchecked)
        .expect("book");
    assert_eq!(made.parts.len(), 3);
    assert_eq!((made.start, made.end), (t, t + 1800));
    for (member, part) in &made.parts {
        let group = part.group().expect("a part names its group booking");
        assert_eq!((group.group.as_str(), group.id), ("team", made.id));
        assert_eq!(part.booking_type(), Some("sync"), "{member}");
    }
    // Ben is busy 30 minutes later, within the buffer of a second meeting at t + 45 min...
    store
        .book("ben", None, &Claim::new(t + 5400, t + 7200), None)
        .expect("ben's own");
    let before = parts(&store);
    let err = store
        .group_book("team", &request(t + 3600, Mode::All), &Authority::Unchecked)
        .expect_err("ben's buffer");
    assert_eq!(err.rule().map(Rule::as_str), Some("buffer"), "{err}");
    assert!(err.to_string().contains("\"ben\""), "{err}");
    assert_eq!(
        parts(&store),
        before,
        "nothing of a refused meeting is kept"
    );
    // ...and the first meeting's own slot is taken on everyone.
    let err = store
        .group_book("team", &request(t, Mode::All), &Authority::Unchecked)
        .expect_err("taken");
    assert_eq!(err.rule().map(Rule::as_str), Some("taken"), "{err}");
    // A member may not move its part alone.
    let (_, ana_part) = &made.parts[0];
    let err = store
        .reschedule("ana", None, ana_part.id(), t + 7200, None)
        .expect_err("a part moves with its group");
    assert!(err.is_invalid_span(), "{err}");
    // A move the rules refuse for one member leaves every part where it was.
    let err = store
        .group_reschedule("team", made.id, t + 4500, &Authority::Unchecked)
        .expect_err("into ben's booking");
    assert!(err.rule().is_some(), "{err}");
    assert_eq!(parts(&store), before);
    let moved = store
        .group_reschedule("team", made.id, t + 10_800, &Authority::Unchecked)
        .expect("move");
    assert_eq!(
        (moved.id, moved.start, moved.parts.len()),
        (made.id, t + 10_800, 3)
    );
    drop(store);
    let store = Store::open(&path).expect("reopen");
    let found = store.group_booking("team", made.id).expect("kept");
    assert_eq!((found.start, found.parts.len()), (t + 10_800, 3));
    let listed = store.group_bookings("team", t, t + 86_400).expect("team");
    assert_eq!(listed.len(), 1);
    store
        .group_cancel("team", made.id, &Authority::Unchecked)
        .expect("cancel");
    assert_eq!(parts(&store), vec![(String::from("ben"), t + 5400)]);
    assert!(store.group_booking("team", made.id).is_none());
    let err = store
        .group_cancel("team", made.id, &Authority::Unchecked)
        .expect_err("cancelled");
    assert!(err.is_not_found(), "{err}");
}

#[test]
fn a_round_robin_takes_the_member_with_the_fewest_bookings_that_week() {
    let (_dir, path) = temp_store();
    let store = Store::open(&path).expect("open");
    team(&store);
    // 02:00 UTC on a Wednesday at least a day ahead: the six starts fall in one owner week
    // of each member (New York's evening, Paris's night, Kathmandu's morning).
    let mut day = tomorrow().div_euclid(86_400) + 1;
    while (day + 3).rem_euclid(7) != 2 {
        day += 1;
    }
    let t = day * 86_400 + 7_200;
    let mut chosen = Vec::new();
    for k in 0..6 {
        let made = store
            .group_book(
                "team",
                &request(t + k * 3600, Mode::Any),
                &Authority::Unchecked,
            )
            .expect("book");
        assert_eq!(made.parts.len(), 1);
        chosen.push(made.parts[0].0.clone());
    }
    // Ties go by id, and each takes its turn.
    assert_eq!(chosen, ["ana", "ben", "kai", "ana", "ben", "kai"]);
    // Ben's own bookings are not the group's: they do not count against his turn.
    store
        .book("ben", None, &Claim::new(t - 86_400, t - 84_600), None)
        .expect("ben's own");
    let made = store
        .group_book(
            "team",
            &request(t + 6 * 3600, Mode::Any),
            &Authority::Unchecked,
        )
        .expect("seventh");
    assert_eq!(made.parts[0].0, "ana");
    // A per_day limit counts the group's bookings on the type's dates, whoever took them.
    let mut limited = sync();
    limited.rules.per_day = Some(7);
    store
        .put_group_type("team", "sync", Some(limited), &Authority::Unchecked)
        .expect("limit");
    let err = store
        .group_book(
            "team",
            &request(t + 7 * 3600, Mode::Any),
            &Authority::Unchecked,
        )
        .expect_err("per_day");
    assert_eq!(err.rule(), Some(Rule::PerDay), "{err}");
    // The next date has its own six.
    store
        .group_book(
            "team",
            &request(t + 86_400, Mode::Any),
            &Authority::Unchecked,
        )
        .expect("next date");
}

#[test]
fn racers_sharing_members_never_make_a_partial_or_double_booking() {
    let (_dir, path) = temp_store();
    let store = Arc::new(Store::open(&path).expect("open"));
    team(&store);
    // Two more groups that share members with `team`: {ana, ben} and {ben, kai}.
    for (id, members) in [("front", ["ana", "ben"]), ("back", ["ben", "kai"])] {
        let members = members.iter().map(|m| String::from(*m)).collect();
        store
            .put_group(id, members, &Authority::Unchecked)
            .expect("group");
        store
            .put_group_type(id, "sync", Some(sync()), &Authority::Unchecked)
            .expect("type");
    }
    let t = tomorrow() + 86_400;
    let racers = 24;
    let barrier = Arc::new(Barrier::new(racers));
    let handles: Vec<_> = (0..racers)
        .map(|i| {
            let store = Arc::clone(&store);
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                let group = ["team", "front", "back"][i % 3];
                barrier.wait();
                store
                    .group_book(group, &request(t, Mode::All), &Authority::Unchecked)
                    .is_ok()
            })
        })
        .collect();
    let winners = handles
        .into_iter()
        .map(|h| h.join().expect("racer"))
        .filter(|won| *won)
        .count();
    // Every group holds ben, so exactly one meeting wins, whole.
    assert_eq!(winners, 1);
    let parts = parts(&store);
    let holders: Vec<&str> = parts.iter().map(|(m, _)| m.as_str()).collect();
    assert!(
        holders == ["ana", "ben", "kai"] || holders == ["ana", "ben"] || holders == ["ben", "kai"],
        "{parts:?}"
    );
    drop(store);
    let store = Store::open(&path).expect("reopen");
    assert_eq!(self::parts(&store), parts);
}

/// The members' states, each as [`Dated`] shows it.
fn states(store: &Store) -> Vec<Dated> {
    MEMBERS.iter().map(|id| Dated::of(store, id)).collect()
}

/// The group sequence the crash sweep runs.
fn group_step(store: &Store, step: usize, t: i64) -> Result<(), availability_core::Error> {
    let by = &Authority::Unchecked;
    match step {
        0 => store
            .group_book("team", &request(t, Mode::All), by)
            .map(drop),
        1 => store
            .group_book("team", &request(t + 3600, Mode::Any), by)
            .map(drop),
        2 => {
            let id = store.group_bookings("team", t, t + 1).expect("team")[0].id;
            store.group_reschedule("team", id, t + 7200, by).map(drop)
        }
        3 => store.compact_journal(),
        4 => {
            let id = store.group_bookings("team", t, t + 86_400).expect("team")[0].id;
            store.group_cancel("team", id, by).map(drop)
        }
        _ => store
            .group_book("team", &request(t, Mode::All), by)
            .map(drop),
    }
}

const STEPS: usize = 6;

fn prepared() -> FileDouble {
    let file = FileDouble::new_store();
    let store = Store::open_double(file.clone()).expect("open");
    team(&store);
    drop(store);
    file.reboot()
}

#[test]
fn a_crash_at_every_write_of_a_group_booking_keeps_it_whole_or_not_at_all() {
    let t = tomorrow() + 86_400;
    let journal = prepared();
    let store = Store::open_double(journal.clone()).expect("open");
    let mut expected = vec![states(&store)];
    for step in 0..STEPS {
        group_step(&store, step, t).expect("step");
        expected.push(states(&store));
    }
    let total = journal.writes();
    drop(store);
    let mut outcomes = [0usize; 2];
    for at in 0..total {
        for crash in [
            Crash::Kill { at },
            Crash::PowerLoss {
                at,
                tear: Tear::Lost,
            },
            Crash::PowerLoss {
                at,
                tear: Tear::Prefix(40),
            },
            Crash::PowerLoss {
                at,
                tear: Tear::Sectors(at.wrapping_mul(0x9e37_79b9)),
            },
        ] {
            let journal = prepared();
            let store = Store::open_double(journal.clone()).expect("open");
            journal.crash_at(crash);
            let mut acked = 0;
            for step in 0..STEPS {
                match group_step(&store, step, t) {
                    Ok(()) => acked = step + 1,
                    Err(_) => break,
                }
            }
            drop(store);
            assert!(acked < STEPS, "{crash:?}: the crash came");
            let reopened = Store::open_double(journal.reboot())
                .unwrap_or_else(|e| panic!("{crash:?}: reopen: {e}"));
            let state = states(&reopened);
            let which = if state == expected[acked] {
                0
            } else if state == expected[acked + 1] {
                1
            } else {
                panic!("{crash:?} after {acked} steps: a state between two group writes");
            };
            outcomes[which] += 1;
        }
    }
    assert!(outcomes[0] > 0 && outcomes[1] > 0, "{outcomes:?}");
}
