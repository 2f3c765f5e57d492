//! A store for the render cache's tests: two calendars, one of them at two versions, and a
//! group of both, defined twice.

use std::sync::Arc;

use availability_core::store::{Authority, Calendar, Change, Group, Store};
use availability_core::{Batch, Day, Entry, Status, Time};

/// A store with calendar `c` at version 1 and `d` at version 1, and `c` at version 2.
pub(super) struct Fixture {
    _dir: tempfile::TempDir,
    pub(super) c1: Arc<Calendar>,
    pub(super) c2: Arc<Calendar>,
    pub(super) d1: Arc<Calendar>,
    /// Of `c` and `d`.
    pub(super) group: Arc<Group>,
    /// The same members, stored again.
    pub(super) regrouped: Arc<Group>,
}

pub(super) fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = Store::open(dir.path().join("cache.store")).expect("a store");
    let c1 = store
        .create("c", "UTC", Vec::new(), &Authority::Unchecked)
        .expect("c");
    let d1 = store
        .create("d", "UTC", Vec::new(), &Authority::Unchecked)
        .expect("d");
    let mut batch = Batch::new();
    batch.push(Entry::slot(
        Day::Monday,
        Time::from_half_hours(18).expect("09:00"),
        Status::Available,
    ));
    let c2 = store
        .commit("c", None, &Change::Apply(batch))
        .expect("c, version 2");
    let members = || vec![String::from("c"), String::from("d")];
    let (group, _) = store
        .put_group("g", members(), &Authority::Unchecked)
        .expect("g");
    let (regrouped, _) = store
        .put_group("g", members(), &Authority::Unchecked)
        .expect("g again");
    Fixture {
        _dir: dir,
        c1,
        c2,
        d1,
        group,
        regrouped,
    }
}
