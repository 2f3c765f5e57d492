//! The booking types a move carries: set on the store before it goes up, looked for in the
//! store that comes back; and a group's type with a meeting booked by it, whose parts come
//! back naming it.

use std::path::Path;

use availability_core::dated::Claim;
use availability_core::slots::{BookingType, Mode};
use availability_core::store::group_book::GroupRequest;
use availability_core::store::{Answer, Authority, Change, GroupType, IdempotencyKey, Store};
use availability_server::store::STORE_FILE;

use super::ahead;

/// The types a move carries: two on `room` (every rule set on one), one on `ana`.
fn types() -> Vec<(&'static str, &'static str, BookingType)> {
    let mut call = BookingType::new(30);
    call.buffer_before = 10;
    call.buffer_after = 5;
    call.notice = 60;
    call.horizon = 90;
    call.per_day = Some(4);
    call.label = Some(String::from("Intro call"));
    let mut visit = BookingType::new(90);
    visit.interval = 30;
    vec![
        ("room", "call", call),
        ("room", "visit", visit),
        ("ana", "call", BookingType::new(45)),
    ]
}

pub(super) const TYPED_KEY: &str = "typed-retry-1";

/// Adds [`types`] to the store in `dir` (no server running on it), a booking of `room`'s
/// `call` made with an idempotency key, and a meeting of group `team` by its type `sync`.
pub(super) fn add_types(dir: &Path) {
    let store = Store::open(dir.join(STORE_FILE)).unwrap();
    for (id, name, rules) in types() {
        store
            .commit(id, None, &Change::SetBookingType(name.to_owned(), rules))
            .unwrap();
    }
    let start = chrono::DateTime::parse_from_rfc3339(&ahead(7, 0))
        .unwrap()
        .timestamp();
    let mut claim = Claim::new(start, start + 1800);
    claim.booking_type = Some(String::from("call"));
    let key = IdempotencyKey {
        key: TYPED_KEY.to_owned(),
        principal: String::from("migrate-test"),
        fingerprint: [3; 32],
        expires_ms: (start + 86_400) * 1000,
    };
    store.book("room", None, &claim, Some(&key)).unwrap();
    store
        .put_group_type("team", "sync", Some(group_type()), &Authority::Unchecked)
        .unwrap();
    let request = GroupRequest {
        name: "sync",
        start: start + 86_400,
        mode: Mode::All,
        label: Some(String::from("Team sync")),
        key_id: None,
        now: now_s(),
    };
    let made = store
        .group_book("team", &request, &Authority::Unchecked)
        .unwrap();
    assert_eq!(made.parts.len(), 2);
}

fn now_s() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// The type of group `team` (`room` and `ana`).
fn group_type() -> GroupType {
    GroupType {
        rules: BookingType::new(30),
        zone: String::from("Europe/Paris"),
    }
}

/// A meeting's parts: one on each of `team`'s members, made by its type.
pub(super) const GROUP_PARTS: i64 = 2;

/// The store in `dir` holds [`types`], the typed booking and its remembered answer.
pub(super) fn assert_types(dir: &Path) {
    let store = Store::open(dir.join(STORE_FILE)).unwrap();
    for (id, name, rules) in types() {
        let calendar = store.get(id).unwrap();
        assert_eq!(calendar.booking_type(name), Some(&rules), "{id} {name}");
    }
    assert_eq!(store.get("room").unwrap().booking_types().len(), 2);
    let typed: Vec<_> = store
        .get("room")
        .unwrap()
        .dated()
        .all_bookings()
        .filter(|b| b.group().is_none())
        .filter_map(|b| {
            b.booking_type()
                .map(|t| (t.to_owned(), b.end() - b.start()))
        })
        .collect();
    assert_eq!(typed, [(String::from("call"), 1800)]);
    match store.remembered("migrate-test", TYPED_KEY).unwrap().answer {
        Answer::Booked { booking, .. } => assert_eq!(booking.booking_type(), Some("call")),
        other => panic!("{other:?}"),
    }
    let group = store.group("team").unwrap();
    assert_eq!(group.booking_type("sync"), Some(&group_type()));
    let from = now_s();
    let meetings = store
        .group_bookings("team", from, from + 30 * 86_400)
        .unwrap();
    assert_eq!(meetings.len(), 1, "{meetings:?}");
    let holders: Vec<&str> = meetings[0].parts.iter().map(|(m, _)| m.as_str()).collect();
    assert_eq!(holders, ["room", "ana"]);
    assert_eq!(meetings[0].booking_type, "sync");
}
