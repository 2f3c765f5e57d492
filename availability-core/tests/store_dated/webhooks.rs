//! Webhooks in the store: each change makes its event for the endpoints that want it (and no
//! other), the same events after a reopen and after compaction, attempts that end a delivery
//! or count it, and across a crash at every write exactly the events of the changes that
//! are there.

use availability_core::dated::{BookingId, Claim, DayOverride};
use availability_core::store::double::{Crash, FileDouble, Tear};
use availability_core::store::{
    Attempt, Authority, Change, EventKind, EventSet, Outcome, Pending, Store, Webhook,
};
use availability_core::{Batch, Day, Entry, Status};

fn hook(id: &str, kinds: &[EventKind], calendars: &[&str], owner: Option<(&str, u64)>) -> Webhook {
    Webhook::new(
        id,
        "https://hooks.example.com/in",
        EventSet::of(kinds.iter().copied()),
        calendars.iter().map(|c| (*c).to_owned()).collect(),
        owner.map(|(c, i)| (c.to_owned(), i)),
        vec![7; 40],
        1_800_000_000_000,
    )
    .expect("a webhook")
}

/// Monday to Sunday 00:00-24:00 available.
fn always() -> Change {
    Change::Apply(Batch::from(
        Day::ALL
            .iter()
            .map(|&day| {
                Entry::range(
                    day,
                    "00:00".parse().unwrap(),
                    "24:00".parse().unwrap(),
                    Status::Available,
                )
            })
            .collect::<Vec<_>>(),
    ))
}

/// An hour `n` hours from a whole hour two days ahead.
fn hour(n: i64) -> Claim {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let start = (now / 3600 + 48 + n) * 3600;
    Claim::new(start, start + 3600)
}

/// An event waiting: its kind, calendar, version, booking id, and the endpoints it waits for.
type Waiting = (EventKind, String, u64, Option<u64>, Vec<String>);

/// Each event waiting, in commit order.
fn waiting(store: &Store) -> Vec<Waiting> {
    store
        .pending_events()
        .iter()
        .map(|p: &std::sync::Arc<Pending>| {
            (
                p.event.kind,
                p.event.calendar.clone(),
                p.event.id.version,
                p.event.booking.as_ref().map(|b| b.id),
                p.deliveries.iter().map(|d| d.hook.clone()).collect(),
            )
        })
        .collect()
}

#[test]
fn each_change_makes_its_event_for_the_endpoints_that_want_it() {
    let (dir, path) = crate::store::temp_store();
    let store = Store::open(&path).expect("open");
    let by = &Authority::Unchecked;
    let room = store.create("room", "UTC", Vec::new(), by).expect("room");
    store.create("hall", "UTC", Vec::new(), by).expect("hall");
    store.commit("room", None, &always()).expect("pattern");
    store.commit("hall", None, &always()).expect("pattern");
    assert!(store.pending_events().is_empty(), "no endpoint, no event");

    let all = &EventKind::ALL;
    store
        .create_webhook(hook("every", all, &[], None), by)
        .expect("every");
    store
        .create_webhook(
            hook("rooms", &[EventKind::BookingCreated], &["room"], None),
            by,
        )
        .expect("rooms");
    store
        .create_webhook(
            hook("own", all, &["room"], Some(("room", room.incarnation()))),
            by,
        )
        .expect("own");
    // An owner's endpoint names its calendar alone, and that calendar must be the one.
    assert!(Webhook::new(
        "x",
        "https://a",
        EventSet::ALL,
        vec![],
        Some(("room".into(), 1)),
        vec![1],
        0
    )
    .is_err());
    let stale = hook(
        "stale",
        all,
        &["room"],
        Some(("room", room.incarnation() + 1)),
    );
    assert!(store.create_webhook(stale, by).unwrap_err().is_not_found());
    assert!(store
        .create_webhook(hook("every", all, &[], None), by)
        .unwrap_err()
        .is_already_exists());

    let (_, made) = store.book("room", None, &hour(0), None).expect("book");
    store.book("hall", None, &hour(0), None).expect("book hall");
    let after = store.get("room").unwrap().version();
    let start = hour(3).start;
    store
        .reschedule("room", None, made.id(), start, None)
        .expect("move");
    store.cancel("room", None, made.id()).expect("cancel");
    let day = chrono::NaiveDate::from_ymd_opt(2031, 5, 6).unwrap();
    store
        .set_override("room", None, day, DayOverride::UNAVAILABLE)
        .expect("override");
    store
        .commit("room", None, &Change::SetZone("Europe/Paris".into()))
        .expect("zone");
    // Neither a key nor the booking flag is a change of availability.
    store
        .commit("room", None, &Change::SetBookingPublic(true))
        .expect("flag");
    let seen = waiting(&store);
    let room_v = |k| after + k;
    let ids = |hooks: &[&str]| hooks.iter().map(|h| (*h).to_owned()).collect::<Vec<_>>();
    assert_eq!(
        seen,
        vec![
            (
                EventKind::BookingCreated,
                "room".into(),
                after,
                Some(made.id().0),
                ids(&["every", "own", "rooms"])
            ),
            (
                EventKind::BookingCreated,
                "hall".into(),
                3,
                Some(1),
                ids(&["every"])
            ),
            (
                EventKind::BookingRescheduled,
                "room".into(),
                room_v(1),
                Some(made.id().0),
                ids(&["every", "own"])
            ),
            (
                EventKind::BookingCancelled,
                "room".into(),
                room_v(2),
                Some(made.id().0),
                ids(&["every", "own"])
            ),
            (
                EventKind::OverrideChanged,
                "room".into(),
                room_v(3),
                None,
                ids(&["every", "own"])
            ),
            (
                EventKind::AvailabilityChanged,
                "room".into(),
                room_v(4),
                None,
                ids(&["every", "own"])
            ),
        ]
    );
    let events = store.pending_events();
    let moved = events[2].event.booking.as_ref().unwrap();
    assert_eq!(
        (moved.start, moved.previous),
        (start, Some((hour(0).start, hour(0).end)))
    );
    let cancelled = events[3].event.booking.as_ref().unwrap();
    assert_eq!((cancelled.start, cancelled.end), (start, start + 3600));
    let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap();
    assert_eq!(events[4].event.day, Some((day - epoch).num_days()));

    // The same after a reopen, and after a compaction.
    drop(store);
    let store = Store::open(&path).expect("reopen");
    assert_eq!(waiting(&store), seen);
    store.compact_journal().expect("compact");
    drop(store);
    let store = Store::open(&path).expect("reopen after compaction");
    assert_eq!(waiting(&store), seen);

    // Deleting the calendar: the event to the admin's endpoint; the owner's endpoint goes.
    store.delete("room", None).expect("delete");
    let last = store.pending_events().last().unwrap().clone();
    assert_eq!(last.event.kind, EventKind::CalendarDeleted);
    assert_eq!(
        last.deliveries
            .iter()
            .map(|d| d.hook.as_str())
            .collect::<Vec<_>>(),
        ["every"]
    );
    assert!(store.webhook("own").is_none());
    assert!(waiting(&store)
        .iter()
        .all(|(.., hooks)| !hooks.contains(&"own".to_owned())));
    drop(dir);
}

fn attempt(event: &Pending, number: u32, outcome: Outcome, at_ms: i64) -> Attempt {
    Attempt {
        event: event.event.id,
        kind: event.event.kind,
        number,
        at_ms,
        status: if outcome == Outcome::Delivered {
            200
        } else {
            503
        },
        duration_ms: 12,
        error: None,
        outcome,
    }
}

#[test]
fn attempts_end_or_count_deliveries_and_disabling_gives_up() {
    let (_dir, path) = crate::store::temp_store();
    let store = Store::open(&path).expect("open");
    let by = &Authority::Unchecked;
    store.create("room", "UTC", Vec::new(), by).expect("room");
    store.commit("room", None, &always()).expect("pattern");
    let kinds = &[EventKind::BookingCreated];
    store
        .create_webhook(hook("a", kinds, &[], None), by)
        .expect("a");
    store
        .create_webhook(hook("b", kinds, &[], None), by)
        .expect("b");
    for n in 0..3 {
        store.book("room", None, &hour(2 * n), None).expect("book");
    }
    let events = store.pending_events();
    assert_eq!(events.len(), 3);
    // Recent times: compaction keeps the attempts of the retention period.
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    store
        .record_attempts("a", vec![attempt(&events[0], 1, Outcome::Retry, t + 1_000)])
        .expect("attempt");
    assert_eq!(
        store.webhook("a").unwrap().failing_since_unix_ms(),
        Some(t + 1_000)
    );
    store
        .record_attempts(
            "a",
            vec![
                attempt(&events[0], 2, Outcome::Delivered, t + 2_000),
                attempt(&events[1], 1, Outcome::Retry, t + 3_000),
            ],
        )
        .expect("attempts");
    let check = |store: &Store| {
        let events = store.pending_events();
        let first = &events[0];
        assert_eq!(
            first
                .deliveries
                .iter()
                .map(|d| d.hook.as_str())
                .collect::<Vec<_>>(),
            ["b"]
        );
        let second = events[1].deliveries.iter().find(|d| d.hook == "a").unwrap();
        assert_eq!((second.attempts, second.last_ms), (1, t + 3_000));
        assert_eq!(
            store.webhook("a").unwrap().failing_since_unix_ms(),
            Some(t + 3_000)
        );
        let log = store.attempts("a");
        assert_eq!(
            log.iter().map(|a| a.at_ms).collect::<Vec<_>>(),
            [t + 1_000, t + 2_000, t + 3_000]
        );
    };
    check(&store);
    drop(store);
    let store = Store::open(&path).expect("reopen");
    check(&store);
    store.compact_journal().expect("compact");
    drop(store);
    let store = Store::open(&path).expect("reopen after compaction");
    check(&store);

    // Disabling `b` gives up what waits for it: the first event is done with.
    store
        .disable_webhook("b", "the receiver answered 410 Gone", 4_000)
        .expect("disable");
    let disabled = store.webhook("b").unwrap();
    assert_eq!(
        disabled.disabled().unwrap().reason,
        "the receiver answered 410 Gone"
    );
    assert_eq!(store.pending_events().len(), 2);
    store.book("room", None, &hour(9), None).expect("book");
    assert!(store
        .pending_events()
        .iter()
        .all(|p| p.deliveries.iter().all(|d| d.hook == "a")));
    // Removing `a` leaves nothing waiting.
    store.delete_webhook("a", by).expect("delete");
    assert!(store.pending_events().is_empty());
    assert!(store.attempts("a").is_empty());
    assert!(store.delete_webhook("a", by).unwrap_err().is_not_found());
    drop(store);
    let store = Store::open(&path).expect("reopen");
    assert!(store.pending_events().is_empty());
    assert_eq!(store.webhooks().len(), 1);
}

/// The sweep's writes: an endpoint, bookings, a cancel, attempts, a compaction, more.
fn step(store: &Store, n: usize) -> Result<(), availability_core::Error> {
    let by = &Authority::Unchecked;
    match n {
        0 => store
            .create_webhook(hook("w", &EventKind::ALL, &[], None), by)
            .map(drop),
        1 | 2 | 5 => store
            .book("room", None, &hour(2 * n as i64), None)
            .map(drop),
        3 => store.cancel("room", None, BookingId(1)).map(drop),
        4 => {
            let first = store.pending_events()[0].clone();
            store.record_attempts("w", vec![attempt(&first, 1, Outcome::Delivered, 5)])
        }
        6 => store.compact_journal(),
        _ => store.book("room", None, &hour(20), None).map(drop),
    }
}

const STEPS: usize = 8;

#[test]
fn a_crash_at_every_write_keeps_exactly_the_events_of_the_changes_kept() {
    let setup = |journal: &FileDouble| {
        let store = Store::open_double(journal.clone()).expect("open");
        store
            .create("room", "UTC", Vec::new(), &Authority::Unchecked)
            .expect("room");
        store.commit("room", None, &always()).expect("pattern");
        store
    };
    let journal = FileDouble::new_store();
    let store = setup(&journal);
    let before = journal.writes();
    let mut expected = vec![waiting(&store)];
    for n in 0..STEPS {
        step(&store, n).expect("step");
        expected.push(waiting(&store));
    }
    let total = journal.writes();
    drop(store);
    for at in before..total {
        for crash in [
            Crash::Kill { at },
            Crash::PowerLoss {
                at,
                tear: Tear::Lost,
            },
            Crash::PowerLoss {
                at,
                tear: Tear::Sectors(at.wrapping_mul(0x9e37_79b9)),
            },
        ] {
            let journal = FileDouble::new_store();
            let store = setup(&journal);
            journal.crash_at(crash);
            let mut acked = 0;
            for n in 0..STEPS {
                match step(&store, n) {
                    Ok(()) => acked = n + 1,
                    Err(_) => break,
                }
            }
            drop(store);
            let reopened = Store::open_double(journal.reboot())
                .unwrap_or_else(|e| panic!("{crash:?}: reopen: {e}"));
            let state = waiting(&reopened);
            assert!(
                state == expected[acked] || expected.get(acked + 1) == Some(&state),
                "{crash:?} after {acked} steps: {state:?}"
            );
        }
    }
}

/// `v7.avs`: the version 6 fixture opened by the last version 7 build (which rewrote it as
/// version 7 and kept a new admin key), then three calendars created in one batch (`v7-a`
/// in Paris, `v7-b` in Kathmandu and open to bookings, `v7-c` in New York). Version 8 reads it
/// as it is, rewrites it, and takes webhooks.
#[test]
fn a_version_7_log_is_read_and_rewritten_as_version_9() {
    use std::fs;
    let (dir, _) = crate::store::temp_store();
    let path = dir.path().join("v7.avs");
    let data = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    fs::copy(data.join("v7.avs"), &path).expect("copy the fixture");
    assert_eq!(
        fs::read(&path).expect("read")[8],
        7,
        "the fixture is version 7"
    );
    let keep = availability_core::store::Options {
        retention_seconds: 100 * 365 * 86_400,
    };
    let holds = |store: &Store| {
        let made: Vec<(String, String, bool)> = ["v7-a", "v7-b", "v7-c"]
            .iter()
            .map(|id| {
                let c = store.get(id).expect("a calendar of the batch");
                (c.id().to_owned(), c.zone().to_owned(), c.booking_public())
            })
            .collect();
        assert_eq!(
            made,
            [
                ("v7-a".to_owned(), "Europe/Paris".to_owned(), false),
                ("v7-b".to_owned(), "Asia/Kathmandu".to_owned(), true),
                ("v7-c".to_owned(), "America/New_York".to_owned(), false),
            ]
        );
        assert_eq!(store.get("room-1").expect("room-1").version(), 15);
        assert!(store.group("v6-team").is_some());
        assert_eq!(
            store.admin_keys().len(),
            2,
            "the v6 fixture's and the v7 build's"
        );
    };
    let store = Store::open_with(&path, keep).expect("open");
    holds(&store);
    drop(store);
    assert_eq!(
        fs::read(&path).expect("read")[8],
        9,
        "rewritten as version 9"
    );
    let store = Store::open_with(&path, keep).expect("reopen");
    holds(&store);
    let by = &Authority::Unchecked;
    store
        .create_webhook(hook("after-v7", &EventKind::ALL, &["v7-b"], None), by)
        .expect("a webhook");
    store.commit("v7-b", None, &always()).expect("pattern");
    drop(store);
    let store = Store::open_with(&path, keep).expect("reopen after the webhook");
    holds(&store);
    assert_eq!(waiting(&store).len(), 1);
    assert_eq!(waiting(&store)[0].0, EventKind::AvailabilityChanged);
}
