//! A database made by a server of schema version 1 (before booking types and group bookings)
//! is brought to this build's version when an instance of this build opens it, keeping its
//! calendars, bookings and remembered answers; and a row of the new tables that the store
//! could not hold is refused by name, never a panic.

use availability_core::dated::BookingId;
use availability_core::slots::BookingType;
use availability_core::store::{Answer, Change, Expected};
use availability_core::{Status, Week};

use super::types::{book, now_s, open, open_until, shown, typed};
use crate::support::postgres::{cluster_for, Cluster};

/// The first schema, as servers of that version made it.
const SCHEMA_1: &str = include_str!("../../../availability-postgres/src/schema/1.sql");

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_database_at_schema_1_is_migrated_on_open_with_its_data() {
    let Some(cluster) = cluster_for("a_database_at_schema_1_is_migrated_on_open") else {
        return;
    };
    let url = cluster.database().await;
    let sql = Cluster::connect(&url).await;
    sql.batch_execute(SCHEMA_1).await.unwrap();
    let week = Week::filled(Status::Available).to_bytes().to_vec();
    let start = (now_s() / 3600 + 72) * 3600;
    sql.batch_execute(
        "CREATE TABLE availability_schema (
             only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
             version integer NOT NULL
         );
         INSERT INTO availability_schema (version) VALUES (1);
         SELECT setval('availability_incarnations', 7);",
    )
    .await
    .unwrap();
    sql.execute(
        "INSERT INTO calendars (id, incarnation, version, zone, week, booking_public, \
         changed_at_ms, next_booking) VALUES ('old', 7, 5, 'Europe/Paris', $1, false, 0, 3)",
        &[&week],
    )
    .await
    .unwrap();
    sql.execute(
        "INSERT INTO bookings (calendar, id, span, label, created_ms) VALUES \
         ('old', 2, tstzrange(to_timestamp($1), to_timestamp($1 + 3600), '[)'), 'kept', 1)",
        &[&(start as f64)],
    )
    .await
    .unwrap();
    sql.execute(
        "INSERT INTO remembered (principal, key, fingerprint, expires_ms, calendar, zone, \
         incarnation, version, booking, span, label, created_ms) VALUES ('p', 'k', $1, $2, \
         'old', 'Europe/Paris', 7, 5, 2, \
         tstzrange(to_timestamp($3), to_timestamp($3 + 3600), '[)'), 'kept', 1)",
        &[&vec![1_u8; 32], &((now_s() + 3600) * 1000), &(start as f64)],
    )
    .await
    .unwrap();

    let a = open(&url).await.unwrap();
    let version: i32 = sql
        .query_one("SELECT version FROM availability_schema", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(version, availability_postgres::SCHEMA_VERSION);
    let (v, types, bookings) = shown(&a, "old").expect("the calendar is kept");
    assert_eq!(v, 5);
    assert!(types.is_empty());
    assert_eq!(
        bookings,
        [(2, start, start + 3600, None, Some(String::from("kept")), 1)]
    );
    match a
        .store()
        .remembered("p", "k")
        .expect("the answer is kept")
        .answer
    {
        Answer::Booked { booking, .. } => {
            assert_eq!(booking.id(), BookingId(2));
            assert_eq!(booking.booking_type(), None);
        }
        other => panic!("{other:?}"),
    }
    // The old calendar takes types and typed bookings; a second open migrates nothing.
    a.commit("old", &Expected::default(), &open_until("24:00"))
        .await
        .unwrap();
    a.commit(
        "old",
        &Expected::default(),
        &Change::SetBookingType("visit".into(), BookingType::new(60)),
    )
    .await
    .unwrap();
    let made = book(&a, "old", &typed("visit", start + 7200, 60))
        .await
        .unwrap();
    assert_eq!(made.id(), BookingId(3));
    let b = open(&url).await.unwrap();
    assert_eq!(shown(&b, "old"), shown(&a, "old"));

    // A part of a group booking that names no type: refused by name too.
    sql.batch_execute(
        "UPDATE bookings SET group_id = 'team', group_booking = 1 \
         WHERE calendar = 'old' AND booking_type IS NULL",
    )
    .await
    .unwrap();
    let err = open(&url).await.expect_err("a part without a type");
    assert!(
        err.contains("group booking") && err.contains("cannot"),
        "{err}"
    );
    sql.batch_execute("UPDATE bookings SET group_id = NULL, group_booking = NULL")
        .await
        .unwrap();

    // A type's row the store cannot hold (an empty label passes the table's checks): the
    // open says which calendar, and does not panic.
    sql.batch_execute("UPDATE booking_types SET label = '' WHERE calendar = 'old'")
        .await
        .unwrap();
    let err = open(&url).await.expect_err("a bad row");
    assert!(err.contains("\"old\"") && err.contains("cannot"), "{err}");
}
