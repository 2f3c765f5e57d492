//! Booking types on a database, through `availability_postgres::Database` directly: types
//! set and removed as calendar changes, typed bookings refused by each rule of their type
//! inside the write's transaction, a daily limit that holds against racers through two
//! instances, a reschedule that keeps the booking's id (or leaves it where it was), and a
//! second instance whose mirror shows all of it as the first one's does.

use std::sync::Arc;
use std::time::Duration;

use availability_core::dated::{Booking, BookingId, Claim};
use availability_core::slots::{BookingType, Rule};
use availability_core::store::decide::DatedWrite;
use availability_core::store::{
    Answer, Authority, Calendar, Change, Expected, IdempotencyKey, KeyHash,
};
use availability_core::{Batch, Day, Entry, Error, Status};
use availability_postgres::{Booked, Database, OnChange, Settings};

use super::eventually;
use crate::support::postgres::{cluster_for, Cluster};

/// An instance of its own on the database at `url` (no admin key made).
pub(crate) async fn open(url: &str) -> Result<Arc<Database>, String> {
    let mut settings = Settings::new(url);
    // Racers queue on the calendar's row: room for a loaded machine.
    settings.write_timeout = Duration::from_secs(20);
    let on_change: OnChange = Arc::new(|_: &str| {});
    Database::open(
        settings,
        on_change,
        || -> Result<Option<KeyHash>, String> { Ok(None) },
    )
    .await
}

pub(crate) fn now_s() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Midnight UTC `days` days ahead (two or more, so that a whole day is bookable).
fn midnight(days: i64) -> i64 {
    let now = now_s();
    now - now % 86_400 + days * 86_400
}

/// The week available from 00:00 to `until` every day.
pub(crate) fn open_until(until: &str) -> Change {
    let batch: Batch = Day::ALL
        .iter()
        .map(|&day| {
            Entry::range(
                day,
                "00:00".parse().unwrap(),
                until.parse().unwrap(),
                Status::Available,
            )
        })
        .collect();
    Change::Replace(batch)
}

/// A booking of type `name` from `start` for `minutes`.
pub(crate) fn typed(name: &str, start: i64, minutes: i64) -> Claim {
    let mut claim = Claim::new(start, start + minutes * 60);
    claim.booking_type = Some(name.to_owned());
    claim
}

fn nobody() -> Expected {
    Expected::default()
}

/// `claim` booked on calendar `id` through `db`.
pub(crate) async fn book(db: &Database, id: &str, claim: &Claim) -> Result<Arc<Booking>, Error> {
    let write = DatedWrite::Book {
        claim,
        now: now_s(),
    };
    match db.dated(id, &nobody(), &write, None).await? {
        Booked::Made(_, Some(booking)) => Ok(booking),
        other => panic!("a booking answered {other:?}"),
    }
}

/// Booking `booking` of calendar `id` moved to `start` (and `end`) through `db`.
async fn reschedule(
    db: &Database,
    id: &str,
    expected: &Expected,
    booking: BookingId,
    (start, end): (i64, Option<i64>),
) -> Result<(Arc<Calendar>, Arc<Booking>), Error> {
    let write = DatedWrite::Move {
        booking,
        start,
        end,
        now: now_s(),
    };
    match db.dated(id, expected, &write, None).await? {
        Booked::Made(calendar, Some(moved)) => Ok((calendar, moved)),
        other => panic!("a move answered {other:?}"),
    }
}

async fn set_type(db: &Database, id: &str, name: &str, rules: BookingType) -> Arc<Calendar> {
    db.commit(
        id,
        &nobody(),
        &Change::SetBookingType(name.to_owned(), rules),
    )
    .await
    .unwrap()
}

/// A calendar made through `db` in UTC, available all day.
async fn calendar(db: &Database, id: &str) {
    db.create(id, "UTC", Vec::new(), &Authority::Unchecked)
        .await
        .unwrap();
    db.commit(id, &nobody(), &open_until("24:00"))
        .await
        .unwrap();
}

/// What a mirror shows of a calendar: version, types and every booking's id, span, type,
/// label and creation time.
type Shown = (
    u64,
    Vec<(String, BookingType)>,
    Vec<(u64, i64, i64, Option<String>, Option<String>, i64)>,
);

pub(crate) fn shown(db: &Database, id: &str) -> Option<Shown> {
    let calendar = db.store().get(id)?;
    let types = calendar
        .booking_types()
        .map(|(name, t)| (name.to_owned(), t.clone()))
        .collect();
    let bookings = calendar
        .dated()
        .all_bookings()
        .map(|b| {
            (
                b.id().0,
                b.start(),
                b.end(),
                b.booking_type().map(str::to_owned),
                b.label().map(str::to_owned),
                b.created_unix_ms(),
            )
        })
        .collect();
    Some((calendar.version(), types, bookings))
}

fn call() -> BookingType {
    let mut call = BookingType::new(30);
    call.buffer_after = 15;
    call.per_day = Some(1);
    call.label = Some(String::from("Intro call"));
    call
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_rule_of_a_type_refuses_in_the_transaction_and_a_second_instance_follows() {
    let Some(cluster) = cluster_for("each_rule_of_a_type_refuses_in_the_transaction") else {
        return;
    };
    let url = cluster.database().await;
    let a = open(&url).await.unwrap();
    let b = open(&url).await.unwrap();
    calendar(&a, "bo").await;
    // Available until 20:00 only: a start at 21:00 is unavailable.
    a.commit("bo", &nobody(), &open_until("20:00"))
        .await
        .unwrap();
    let before = a.store().get("bo").unwrap().version();
    let after = set_type(&a, "bo", "call", call()).await;
    assert_eq!(after.version(), before + 1, "a type is a calendar change");
    let mut later = BookingType::new(30);
    later.notice = 7 * 24 * 60;
    set_type(&a, "bo", "later", later).await;
    let mut soon = BookingType::new(30);
    soon.horizon = 1;
    set_type(&a, "bo", "soon", soon).await;
    let mut bad = call();
    bad.interval = 4;
    let err = a
        .commit("bo", &nobody(), &Change::SetBookingType("x".into(), bad))
        .await
        .expect_err("interval 4");
    assert_eq!(err.field(), Some("interval"), "{err}");

    let ten = midnight(2) + 10 * 3600;
    let plain = book(&a, "bo", &Claim::new(ten + 3600, ten + 5400))
        .await
        .unwrap();
    let refusals = [
        (typed("call", ten + 600, 30), Rule::OffGrid),
        (typed("later", ten, 30), Rule::Notice),
        (typed("soon", ten, 30), Rule::Horizon),
        (typed("call", ten + 11 * 3600, 30), Rule::Unavailable),
        (typed("call", ten + 3600, 30), Rule::Taken(plain.id())),
        (typed("call", ten + 1800, 30), Rule::Buffer(plain.id())),
    ];
    for (claim, rule) in &refusals {
        let err = book(&a, "bo", claim).await.expect_err("refused");
        assert_eq!(err.rule(), Some(*rule), "{err}");
    }
    let err = book(&a, "bo", &typed("call", ten, 45))
        .await
        .expect_err("not the type's length");
    assert!(err.is_invalid_span(), "{err}");
    let err = book(&a, "bo", &typed("nope", ten, 30))
        .await
        .expect_err("no such type");
    assert!(err.is_not_found(), "{err}");
    let first = book(&a, "bo", &typed("call", ten, 30)).await.unwrap();
    assert_eq!(first.booking_type(), Some("call"));
    // Through the other instance, which decides from the rows: one a day.
    let err = book(&b, "bo", &typed("call", ten + 4 * 3600, 30))
        .await
        .expect_err("one a day");
    assert_eq!(err.rule(), Some(Rule::PerDay), "{err}");
    book(&b, "bo", &typed("call", ten + 86_400, 30))
        .await
        .expect("the next day");

    // Remembered with its type, and read back so by the other instance.
    let key = IdempotencyKey {
        key: String::from("typed-1"),
        principal: String::from("bo-owner"),
        fingerprint: [7; 32],
        expires_ms: (now_s() + 3600) * 1000,
    };
    let claim = typed("call", ten + 2 * 86_400, 30);
    let write = DatedWrite::Book {
        claim: &claim,
        now: now_s(),
    };
    let made = a.dated("bo", &nobody(), &write, Some(&key)).await.unwrap();
    let Booked::Made(_, Some(kept)) = made else {
        panic!("{made:?}")
    };
    match b.dated("bo", &nobody(), &write, Some(&key)).await.unwrap() {
        Booked::Repeat(answer) => match answer.answer {
            Answer::Booked { booking, .. } => {
                assert_eq!(booking.id(), kept.id());
                assert_eq!(booking.booking_type(), Some("call"));
            }
            other => panic!("{other:?}"),
        },
        other => panic!("a repeat answered {other:?}"),
    }

    // A type removed: the bookings made by it keep its name.
    a.commit("bo", &nobody(), &Change::RemoveBookingType("soon".into()))
        .await
        .unwrap();
    let sql = Cluster::connect(&url).await;
    let rows = sql
        .query(
            "SELECT name FROM booking_types WHERE calendar = 'bo' ORDER BY name",
            &[],
        )
        .await
        .unwrap();
    let names: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
    assert_eq!(names, ["call", "later"]);
    let typed_rows: i64 = sql
        .query_one(
            "SELECT count(*) FROM bookings WHERE calendar = 'bo' AND booking_type = 'call'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(typed_rows, 3);

    let on_a = shown(&a, "bo").unwrap();
    assert_eq!(on_a.1.len(), 2);
    assert_eq!(on_a.2.len(), 4);
    eventually("the types and bookings on B", || async {
        shown(&b, "bo").as_ref() == Some(&on_a)
    })
    .await;
    // And an instance that loads everything at its start.
    let c = open(&url).await.unwrap();
    assert_eq!(shown(&c, "bo"), Some(on_a));
    assert_eq!(
        c.store().get("bo").unwrap().booking_type("call"),
        Some(&call())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_reschedule_keeps_the_id_or_leaves_the_booking_and_others_follow() {
    let Some(cluster) = cluster_for("a_reschedule_keeps_the_id_or_leaves_the_booking") else {
        return;
    };
    let url = cluster.database().await;
    let a = open(&url).await.unwrap();
    let b = open(&url).await.unwrap();
    calendar(&a, "cy").await;
    // An hour long, a start every half hour: a move by half an hour overlaps itself.
    let mut hour = BookingType::new(60);
    hour.interval = 30;
    set_type(&a, "cy", "hour", hour).await;
    let at = midnight(3) + 9 * 3600;
    let first = book(&a, "cy", &typed("hour", at, 60)).await.unwrap();
    let second = book(&a, "cy", &typed("hour", at + 4 * 3600, 60))
        .await
        .unwrap();
    let before = shown(&a, "cy").unwrap();

    // Onto the other booking, with a stale version, of no booking: refused, nothing moves.
    let err = reschedule(&a, "cy", &nobody(), first.id(), (at + 4 * 3600, None))
        .await
        .expect_err("taken");
    assert_eq!(err.rule(), Some(Rule::Taken(second.id())), "{err}");
    let stale = Expected::from(Some(before.0 - 1));
    let err = reschedule(&a, "cy", &stale, first.id(), (at + 1800, None))
        .await
        .expect_err("stale");
    assert!(err.is_version_mismatch(), "{err}");
    let err = reschedule(&a, "cy", &nobody(), BookingId(999), (at + 1800, None))
        .await
        .expect_err("no such booking");
    assert!(err.is_not_found(), "{err}");
    let err = reschedule(
        &a,
        "cy",
        &nobody(),
        first.id(),
        (at + 1800, Some(at + 9000)),
    )
    .await
    .expect_err("a typed booking keeps its length");
    assert!(err.is_invalid_span(), "{err}");
    assert_eq!(shown(&a, "cy").unwrap(), before);

    // Half an hour later: it overlaps its own old span, which is no conflict.
    let (moved_state, moved) = reschedule(
        &a,
        "cy",
        &Expected::from(Some(before.0)),
        first.id(),
        (at + 1800, None),
    )
    .await
    .unwrap();
    assert_eq!(moved.id(), first.id());
    assert_eq!((moved.start(), moved.end()), (at + 1800, at + 5400));
    assert_eq!(moved.booking_type(), Some("hour"));
    assert_eq!(moved.created_unix_ms(), first.created_unix_ms());
    assert_eq!(moved_state.version(), before.0 + 1);
    // The freed half hour takes another booking; an untyped one moves with its own end.
    let plain = book(&b, "cy", &Claim::new(at, at + 1800)).await.unwrap();
    let (_, plain_moved) = reschedule(
        &b,
        "cy",
        &nobody(),
        plain.id(),
        (at + 6 * 3600, Some(at + 8 * 3600)),
    )
    .await
    .unwrap();
    assert_eq!(plain_moved.id(), plain.id());
    assert_eq!(plain_moved.booking_type(), None);

    let sql = Cluster::connect(&url).await;
    let rows = sql
        .query(
            "SELECT id, extract(epoch from lower(span))::bigint, \
             extract(epoch from upper(span))::bigint, booking_type FROM bookings \
             WHERE calendar = 'cy' ORDER BY id",
            &[],
        )
        .await
        .unwrap();
    let rows: Vec<(i64, i64, i64, Option<String>)> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect();
    let id = |b: &Booking| b.id().0 as i64;
    let hour_type = Some(String::from("hour"));
    assert_eq!(
        rows,
        [
            (id(&first), at + 1800, at + 5400, hour_type.clone()),
            (id(&second), at + 4 * 3600, at + 5 * 3600, hour_type),
            (id(&plain), at + 6 * 3600, at + 8 * 3600, None),
        ]
    );
    let on_b = shown(&b, "cy").unwrap();
    eventually("the moves on A", || async {
        shown(&a, "cy").as_ref() == Some(&on_b)
    })
    .await;
    let c = open(&url).await.unwrap();
    assert_eq!(shown(&c, "cy"), Some(on_b));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racers_through_two_instances_for_the_last_place_of_a_day_give_one_winner() {
    let Some(cluster) = cluster_for("racers_through_two_instances_for_the_last_place") else {
        return;
    };
    let url = cluster.database().await;
    let a = open(&url).await.unwrap();
    let b = open(&url).await.unwrap();
    calendar(&a, "dee").await;
    let mut quick = BookingType::new(15);
    quick.per_day = Some(3);
    set_type(&a, "dee", "quick", quick).await;
    let day = midnight(2) + 3600;
    for k in 0..2 {
        book(&a, "dee", &typed("quick", day + k * 1800, 15))
            .await
            .unwrap();
    }
    eventually("the calendar on B", || async {
        shown(&b, "dee") == shown(&a, "dee")
    })
    .await;
    // Starts 15 minutes apart on one date: two in one half hour also refuse each other,
    // but a second winner would mean the daily limit leaked. All at once, each on a
    // connection of its instance's pool.
    let racers: Vec<(Arc<Database>, Claim)> = (0..24)
        .map(|k: i64| {
            let db = Arc::clone(if k % 2 == 0 { &a } else { &b });
            (db, typed("quick", day + 3600 + k * 900, 15))
        })
        .collect();
    let answers = futures_util::future::join_all(
        racers
            .iter()
            .map(|(db, claim)| async move { book(db, "dee", claim).await }),
    )
    .await;
    let mut won = 0;
    for answer in answers {
        match answer {
            Ok(_) => won += 1,
            Err(err) => assert!(
                matches!(err.rule(), Some(Rule::PerDay | Rule::Taken(_))),
                "{err}"
            ),
        }
    }
    assert_eq!(won, 1, "one winner for the last place");
    let sql = Cluster::connect(&url).await;
    let count: i64 = sql
        .query_one(
            "SELECT count(*) FROM bookings WHERE calendar = 'dee' AND booking_type = 'quick'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(count, 3);
}
