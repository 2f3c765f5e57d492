//! The store against a plain in-memory model: random operations, reopening at random points,
//! and after every step the store, the model and the reopened file all agree, the pattern
//! history included.

use std::collections::BTreeMap;

use availability_core::store::{Authority, Change, KeyHash, Store};
use availability_core::{Batch, Day, Entry, Status, Time, Week};
use proptest::prelude::*;

use crate::store::temp_store;

/// A handful of ids, more than the 8 slots of a new file, so that runs grow it.
const IDS: [&str; 12] = [
    "default", "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k",
];
const ZONES: [&str; 4] = ["UTC", "Europe/Paris", "Asia/Kathmandu", "bad zone"];
const KEY_IDS: [&str; 3] = ["k1", "k2", "k3"];

#[derive(Clone, Debug)]
enum Op {
    Create(usize, usize),
    Delete(usize),
    Commit {
        id: usize,
        expect: Option<u64>,
        change: ModelChange,
    },
    AddAdmin(usize),
    RemoveAdmin(usize),
    Reopen,
}

#[derive(Clone, Debug)]
enum ModelChange {
    Apply(Batch),
    Replace(Batch),
    SetZone(usize),
    AddKey(usize),
    RemoveKey(usize),
}

#[derive(Clone, Debug, PartialEq)]
struct ModelCalendar {
    zone: String,
    week: Week,
    version: u64,
    keys: Vec<String>,
    /// The pattern's versions, oldest first: none until the week first changes, then the
    /// week before it and each one since.
    history: Vec<(u64, Week)>,
}

#[derive(Debug, Default)]
struct Model {
    calendars: BTreeMap<String, ModelCalendar>,
    admin: Vec<String>,
}

fn hash_for(key_id: &str) -> String {
    format!("$2b$04$hash-of-{key_id}")
}

fn entry() -> impl Strategy<Value = Entry> {
    (0..7usize, 0..49u8, 0..49u8, 0..3usize, any::<bool>()).prop_map(|(d, a, b, s, single)| {
        let day = Day::ALL[d];
        let status = Status::ALL[s];
        let at = |h: u8| -> Time {
            format!("{:02}:{:02}", h / 2, (h % 2) * 30)
                .parse()
                .expect("time")
        };
        if single {
            // 48 half hours makes "24:00", an invalid slot: that is part of the test.
            Entry::slot(day, at(a), status)
        } else {
            Entry::range(day, at(a), at(b), status)
        }
    })
}

fn change() -> impl Strategy<Value = ModelChange> {
    prop_oneof![
        4 => prop::collection::vec(entry(), 0..6).prop_map(|e| ModelChange::Apply(e.into())),
        2 => prop::collection::vec(entry(), 0..6).prop_map(|e| ModelChange::Replace(e.into())),
        1 => (0..ZONES.len()).prop_map(ModelChange::SetZone),
        1 => (0..KEY_IDS.len()).prop_map(ModelChange::AddKey),
        1 => (0..KEY_IDS.len()).prop_map(ModelChange::RemoveKey),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..IDS.len(), 0..ZONES.len()).prop_map(|(i, z)| Op::Create(i, z)),
        1 => (0..IDS.len()).prop_map(Op::Delete),
        8 => (0..IDS.len(), prop::option::of(0..6u64), change())
            .prop_map(|(id, expect, change)| Op::Commit { id, expect, change }),
        1 => (0..KEY_IDS.len()).prop_map(Op::AddAdmin),
        1 => (0..KEY_IDS.len()).prop_map(Op::RemoveAdmin),
        1 => Just(Op::Reopen),
    ]
}

/// What an operation did: which error predicate held, if any.
#[derive(Debug, PartialEq)]
enum Outcome {
    Ok,
    NotFound,
    Exists,
    Stale,
    Invalid,
    Capacity,
}

fn classify<T>(result: Result<T, availability_core::Error>) -> Outcome {
    match result {
        Ok(_) => Outcome::Ok,
        Err(e) if e.is_not_found() => Outcome::NotFound,
        Err(e) if e.is_already_exists() => Outcome::Exists,
        Err(e) if e.is_version_mismatch() => Outcome::Stale,
        Err(e) if e.is_capacity() => Outcome::Capacity,
        Err(e) if e.is_parse() || e.is_invalid_entry() || e.is_too_many_entries() => {
            Outcome::Invalid
        }
        Err(e) => panic!("unexpected error: {e}"),
    }
}

impl Model {
    fn run(&mut self, op: &Op) -> Outcome {
        match op {
            Op::Create(i, z) => {
                let zone = ZONES[*z];
                if zone.contains(' ') {
                    return Outcome::Invalid;
                }
                if self.calendars.contains_key(IDS[*i]) {
                    return Outcome::Exists;
                }
                let calendar = ModelCalendar {
                    zone: zone.into(),
                    week: Week::UNAVAILABLE,
                    version: 1,
                    keys: vec![],
                    history: vec![],
                };
                self.calendars.insert(IDS[*i].into(), calendar);
                Outcome::Ok
            }
            Op::Delete(i) => match self.calendars.remove(IDS[*i]) {
                Some(_) => Outcome::Ok,
                None => Outcome::NotFound,
            },
            Op::Commit { id, expect, change } => {
                let Some(calendar) = self.calendars.get_mut(IDS[*id]) else {
                    return Outcome::NotFound;
                };
                if expect.is_some_and(|v| v != calendar.version) {
                    return Outcome::Stale;
                }
                let mut next = calendar.clone();
                match change {
                    ModelChange::Apply(batch) => match batch.apply(&next.week) {
                        Ok(week) => next.week = week,
                        Err(_) => return Outcome::Invalid,
                    },
                    ModelChange::Replace(batch) => match batch.apply_replacing() {
                        Ok(week) => next.week = week,
                        Err(_) => return Outcome::Invalid,
                    },
                    ModelChange::SetZone(z) => {
                        if ZONES[*z].contains(' ') {
                            return Outcome::Invalid;
                        }
                        next.zone = ZONES[*z].into();
                    }
                    ModelChange::AddKey(k) => {
                        if next.keys.iter().any(|key| key == KEY_IDS[*k]) {
                            return Outcome::Exists;
                        }
                        next.keys.push(KEY_IDS[*k].into());
                    }
                    ModelChange::RemoveKey(k) => {
                        let before = next.keys.len();
                        next.keys.retain(|key| key != KEY_IDS[*k]);
                        if next.keys.len() == before {
                            return Outcome::NotFound;
                        }
                    }
                }
                next.version += 1;
                if next.week != calendar.week {
                    if next.history.is_empty() {
                        next.history.push((calendar.version, calendar.week));
                    }
                    next.history.push((next.version, next.week));
                }
                *calendar = next;
                Outcome::Ok
            }
            Op::AddAdmin(k) => {
                if self.admin.iter().any(|key| key == KEY_IDS[*k]) {
                    return Outcome::Exists;
                }
                self.admin.push(KEY_IDS[*k].into());
                Outcome::Ok
            }
            Op::RemoveAdmin(k) => {
                let before = self.admin.len();
                self.admin.retain(|key| key != KEY_IDS[*k]);
                if self.admin.len() == before {
                    Outcome::NotFound
                } else {
                    Outcome::Ok
                }
            }
            Op::Reopen => Outcome::Ok,
        }
    }
}

fn run_on_store(store: &Store, op: &Op) -> Outcome {
    let key = |k: usize| KeyHash::new(KEY_IDS[k], hash_for(KEY_IDS[k])).expect("key");
    match op {
        Op::Create(i, z) => {
            classify(store.create(IDS[*i], ZONES[*z], Vec::new(), &Authority::Unchecked))
        }
        Op::Delete(i) => classify(store.delete(IDS[*i], None)),
        Op::Commit { id, expect, change } => {
            let change = match change {
                ModelChange::Apply(batch) => Change::Apply(batch.clone()),
                ModelChange::Replace(batch) => Change::Replace(batch.clone()),
                ModelChange::SetZone(z) => Change::SetZone(ZONES[*z].into()),
                ModelChange::AddKey(k) => Change::AddKey(key(*k)),
                ModelChange::RemoveKey(k) => Change::RemoveKey(KEY_IDS[*k].into()),
            };
            classify(store.commit(IDS[*id], *expect, &change))
        }
        Op::AddAdmin(k) => classify(store.add_admin_key(key(*k), &Authority::Unchecked)),
        Op::RemoveAdmin(k) => {
            classify(store.revoke_admin_key(KEY_IDS[*k], &Authority::Unchecked, false))
        }
        Op::Reopen => unreachable!("the test loop reopens"),
    }
}

fn check(store: &Store, model: &Model) -> Result<(), TestCaseError> {
    let listed = store.list();
    let ids: Vec<&str> = listed.iter().map(|c| c.id()).collect();
    let expected: Vec<&str> = model.calendars.keys().map(String::as_str).collect();
    prop_assert_eq!(&ids, &expected);
    prop_assert_eq!(store.len(), expected.len());
    // Pages of every size, followed from one to the next, list the same calendars; and a
    // page may start after any id, a calendar's or not.
    for limit in [1, 2, 3] {
        let mut paged = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = store.list_after(after.as_deref(), limit);
            prop_assert!(page.len() <= limit);
            paged.extend(page.iter().map(|c| c.id().to_owned()));
            // A page that does not move past its cursor would loop for ever.
            prop_assert!(paged.len() <= expected.len(), "pages repeat: {paged:?}");
            match page.last() {
                Some(last) if page.len() == limit => after = Some(last.id().to_owned()),
                _ => break,
            }
        }
        prop_assert_eq!(&paged, &expected);
    }
    for probe in ["", "c", "default", "room-1", "zzz"] {
        let page: Vec<String> = store
            .list_after(Some(probe), 2)
            .iter()
            .map(|c| c.id().to_owned())
            .collect();
        let want: Vec<&str> = expected
            .iter()
            .copied()
            .filter(|id| *id > probe)
            .take(2)
            .collect();
        prop_assert_eq!(page, want);
    }
    for calendar in &listed {
        let want = &model.calendars[calendar.id()];
        let got = ModelCalendar {
            zone: calendar.zone().into(),
            week: calendar.week(),
            version: calendar.version(),
            keys: calendar.keys().iter().map(|k| k.id().to_owned()).collect(),
            history: want.history.clone(),
        };
        prop_assert_eq!(&got, want);
        // The history, newest first from the store; a calendar whose week never changed has
        // its week in force alone.
        let mut history: Vec<(u64, Week)> = store
            .history(calendar.id())
            .expect("a history")
            .iter()
            .map(|p| (p.version(), *p.week()))
            .collect();
        history.reverse();
        let want_history = if want.history.is_empty() {
            vec![(want.version, want.week)]
        } else {
            want.history.clone()
        };
        prop_assert_eq!(history, want_history);
        prop_assert!(calendar.keys().iter().all(|k| k.hash() == hash_for(k.id())));
        let fetched = store.get(calendar.id());
        prop_assert_eq!(fetched.as_deref(), Some(&**calendar));
    }
    let admin: Vec<String> = store
        .admin_keys()
        .iter()
        .map(|k| k.id().to_owned())
        .collect();
    prop_assert_eq!(&admin, &model.admin);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn the_store_behaves_like_the_model(ops in prop::collection::vec(op(), 1..40)) {
        let (_dir, path) = temp_store();
        let mut model = Model::default();
        model.calendars.insert("default".into(), ModelCalendar {
            zone: "UTC".into(),
            week: Week::UNAVAILABLE,
            version: 1,
            keys: vec![],
            history: vec![],
        });
        let mut store = Store::open(&path).expect("open");
        for op in &ops {
            let want = model.run(op);
            let got = if let Op::Reopen = op {
                // Close first: the open store holds the file's lock.
                drop(store);
                store = Store::open(&path).expect("reopen");
                Outcome::Ok
            } else {
                run_on_store(&store, op)
            };
            prop_assert_eq!(got, want, "{:?}", op);
            check(&store, &model)?;
        }
        drop(store);
        let store = Store::open(&path).expect("final reopen");
        check(&store, &model)?;
    }
}
