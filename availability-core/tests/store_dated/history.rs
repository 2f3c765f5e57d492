//! The pattern history: every change of a calendar's weekly pattern is a version with its
//! time, its key and the slots it changed; the versions outlive a reopen and a compaction, a
//! restore is a new version, retention drops old versions but never the one in force, and a
//! version 8 file (before the history) is read and gains one.

use std::fs;
use std::path::Path;

use availability_core::store::{Authority, Change, Expected, Options, PastPattern, Store};
use availability_core::{Slot, Status, Week};

use crate::store::temp_store;

/// A week from the characters of its 336 slots (`#` available, `?` maybe, `.` not), the
/// rest unavailable.
fn week(slots: &str) -> Week {
    format!("{slots}{}", ".".repeat(336 - slots.len()))
        .parse()
        .expect("a week")
}

/// The runs of slots whose status differs between `a` and `b`, found slot by slot: the
/// oracle for what a version says it changed.
fn differ(a: &Week, b: &Week) -> Vec<(usize, usize)> {
    let mut runs: Vec<(usize, usize)> = Vec::new();
    for i in 0..336 {
        let slot = Slot::from_index(i).expect("a slot");
        if a.status(slot) != b.status(slot) {
            match runs.last_mut() {
                Some((_, end)) if *end == i => *end += 1,
                _ => runs.push((i, i + 1)),
            }
        }
    }
    runs
}

fn by_key(key_id: &str) -> Expected {
    Expected {
        by: Authority::Configured(key_id.to_owned()),
        ..Expected::default()
    }
}

/// (version, key id, week) of each version, newest first.
fn summary(history: &[PastPattern]) -> Vec<(u64, Option<String>, Week)> {
    history
        .iter()
        .map(|p| (p.version(), p.key_id().map(str::to_owned), *p.week()))
        .collect()
}

#[test]
fn each_pattern_change_is_a_version_that_outlives_reopen_and_compaction() {
    let (_dir, path) = temp_store();
    let store = Store::open(&path).expect("open");
    let by = Authority::Unchecked;
    store
        .create("room", "Europe/Paris", Vec::new(), &by)
        .expect("create");
    let history = store.history("room").expect("history");
    assert_eq!(summary(&history), [(1, None, Week::default())]);

    let (a, b) = (week("##??...##"), week("#?#?"));
    store
        .commit("room", by_key("ops"), &Change::SetWeek(a))
        .expect("a");
    // Not pattern changes: the zone, the booking policy, a repeat of the same week.
    store
        .commit("room", None, &Change::SetZone("Asia/Tokyo".into()))
        .expect("zone");
    store
        .commit("room", None, &Change::SetBookingPublic(true))
        .expect("policy");
    store
        .commit("room", by_key("ops"), &Change::SetWeek(a))
        .expect("same week");
    store
        .commit("room", by_key("owner"), &Change::SetWeek(b))
        .expect("b");
    let expected = vec![
        (6, Some("owner".to_owned()), b),
        (2, Some("ops".to_owned()), a),
        (1, None, Week::default()),
    ];
    let history = store.history("room").expect("history");
    assert_eq!(summary(&history), expected);
    assert_eq!(history[0].changed_runs(), differ(&a, &b));
    assert_eq!(history[1].changed_runs(), differ(&Week::default(), &a));
    assert_eq!(
        history[0].changed_count(),
        differ(&a, &b).iter().map(|(s, e)| e - s).sum::<usize>()
    );
    assert!(history[0].at_ms() >= history[1].at_ms());

    drop(store);
    let store = Store::open(&path).expect("reopen");
    assert_eq!(summary(&store.history("room").expect("history")), expected);
    let changed: Vec<_> = store
        .history("room")
        .expect("history")
        .iter()
        .map(PastPattern::changed_runs)
        .collect();
    store.compact_journal().expect("compact");
    drop(store);
    let store = Store::open(&path).expect("reopen after compaction");
    let history = store.history("room").expect("history");
    assert_eq!(summary(&history), expected);
    assert_eq!(
        history
            .iter()
            .map(PastPattern::changed_runs)
            .collect::<Vec<_>>(),
        changed,
        "compaction keeps what each version changed"
    );

    // A restore is a new version with the old week; the calendar shows it.
    let restored = store
        .commit("room", Some(6), &Change::SetWeek(a))
        .expect("restore");
    assert_eq!((restored.version(), restored.week()), (7, a));
    let history = store.history("room").expect("history");
    assert_eq!((history[0].version(), *history[0].week()), (7, a));
    assert_eq!(history[0].changed_runs(), differ(&b, &a));
    assert_eq!(history.len(), 4);

    // A calendar made again starts a history of its own.
    store.delete("room", None).expect("delete");
    store.create("room", "UTC", Vec::new(), &by).expect("again");
    assert_eq!(summary(&store.history("room").expect("history")).len(), 1);
    assert!(store.history("nobody").expect_err("none").is_not_found());
}

#[test]
fn retention_drops_old_versions_but_never_the_one_in_force() {
    let (_dir, path) = temp_store();
    let keep_none = Options {
        retention_seconds: 0,
    };
    let store = Store::open_with(&path, keep_none).expect("open");
    let by = Authority::Unchecked;
    store
        .create("room", "UTC", Vec::new(), &by)
        .expect("create");
    for slots in ["#", "##", "###"] {
        store
            .commit("room", None, &Change::SetWeek(week(slots)))
            .expect("a week");
    }
    std::thread::sleep(std::time::Duration::from_millis(1_100));
    let history = store.history("room").expect("history");
    assert_eq!(summary(&history), [(4, None, week("###"))]);
    store.compact_journal().expect("compact");
    drop(store);
    let store = Store::open_with(&path, keep_none).expect("reopen");
    assert_eq!(
        summary(&store.history("room").expect("history")),
        [(4, None, week("###"))]
    );
    drop(store);
    let store = Store::open(&path).expect("reopen keeping 90 days");
    assert_eq!(
        store.history("room").expect("history").len(),
        1,
        "what compaction left out is gone"
    );
}

/// `v8.avs`: the version 7 fixture opened by the last version 8 build (which rewrote it as
/// version 8), then a webhook endpoint for `v7-a` and a change of `v7-a`'s pattern, whose
/// event waits. Version 9 reads it as it is and rewrites it; its calendars have no history
/// but the week in force, and gain one with the next change.
#[test]
fn a_version_8_log_is_read_and_rewritten_as_version_9() {
    let (dir, _) = temp_store();
    let path = dir.path().join("v8.avs");
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    fs::copy(data.join("v8.avs"), &path).expect("copy the fixture");
    assert_eq!(
        fs::read(&path).expect("read")[8],
        8,
        "the fixture is version 8"
    );
    let keep = Options {
        retention_seconds: 100 * 365 * 86_400,
    };
    let store = Store::open_with(&path, keep).expect("open");
    let a = store.get("v7-a").expect("v7-a");
    let in_force = a.week();
    assert_eq!(in_force.counts().available, 336, "the fixture's week");
    assert_eq!(store.pending_events().len(), 1, "the event still waits");
    assert_eq!(store.webhooks().len(), 1);
    assert_eq!(
        summary(&store.history("v7-a").expect("history")),
        [(a.version(), None, in_force)]
    );
    drop(store);
    assert_eq!(
        fs::read(&path).expect("read")[8],
        9,
        "rewritten as version 9"
    );
    let store = Store::open_with(&path, keep).expect("reopen");
    let next = week("#?");
    let after = store
        .commit("v7-a", by_key("admin"), &Change::SetWeek(next))
        .expect("a change");
    drop(store);
    let store = Store::open_with(&path, keep).expect("reopen");
    let history = store.history("v7-a").expect("history");
    assert_eq!(
        summary(&history),
        [
            (after.version(), Some("admin".to_owned()), next),
            (a.version(), None, in_force)
        ]
    );
    assert_eq!(history[0].changed_runs(), differ(&in_force, &next));
    assert_eq!(
        store
            .get("v7-a")
            .expect("v7-a")
            .week()
            .status(Slot::from_index(1).expect("slot")),
        Status::Maybe
    );
}
