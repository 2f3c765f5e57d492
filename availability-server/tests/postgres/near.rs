//! A claim reads from the database only the rows near it: decided from those rows (never
//! from the instance's memory), pruning what retention drops, and falling back to the whole
//! calendar when the instance's copy is not the state it read. A write dropped part way
//! leaves no transaction open on a pooled connection.

use http::{StatusCode, Version};

use super::{always, book, instances, span};
use crate::support::postgres::{cluster_for, Cluster};
use crate::support::TestServer;

/// Seconds since the epoch, `hours` whole hours from now on (as the suite's `ahead`).
fn hour(hours: i64) -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    (now / 3600 + 72 + hours) * 3600
}

fn at(seconds: i64) -> String {
    chrono::DateTime::from_timestamp(seconds, 0)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Index entries of bookings read so far, once every backend has reported its reads: an idle
/// backend does within ten seconds, so this waits that long and then until the count stops
/// moving.
pub(super) async fn bookings_read(db: &tokio_postgres::Client) -> i64 {
    let read = async || -> i64 {
        db.query_one(
            "SELECT coalesce(sum(idx_tup_read), 0)::bigint FROM pg_stat_user_indexes \
             WHERE relname = 'bookings'",
            &[],
        )
        .await
        .unwrap()
        .get(0)
    };
    tokio::time::sleep(std::time::Duration::from_secs(11)).await;
    let mut last = read().await;
    loop {
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        let now = read().await;
        if now == last {
            return now;
        }
        last = now;
    }
}

/// The URL of a new database of the test cluster, one instance on it, and the key of its
/// calendar `desk`, open every hour; `None` when the cluster is missing.
async fn one_desk(test: &str) -> Option<(String, Vec<TestServer>, String)> {
    let cluster = cluster_for(test)?;
    let url = cluster.database().await;
    let servers = instances(1, &url).await;
    let key = always(&servers[0], "desk").await;
    Some((url, servers, key))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_booking_reads_the_rows_near_it_not_the_whole_calendar() {
    let Some((url, servers, key)) = one_desk("a_booking_reads_the_rows_near_it").await else {
        return;
    };
    let a = &servers[0];
    let c = a.client(Version::HTTP_11);
    // 300 bookings, one a day.
    for day in 0..300 {
        let r = book(&c, "desk", &key, &span(day * 24, day * 24 + 1), None).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    }
    let db = Cluster::connect(&url).await;
    let before = bookings_read(&db).await;
    // Ten more, each with a booking a day before and a day after it.
    for day in 1..11 {
        let r = book(&c, "desk", &key, &span(day * 24 + 5, day * 24 + 6), None).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    }
    let read = bookings_read(&db).await - before;
    // Each reads the few around it (and checks its span against them as it is inserted):
    // about 70 in all, not the 300 the calendar holds each time (3,000 and more). Under load
    // the follower may read the change log before the instance has installed a write of its
    // own, and reload the calendar once (300 more): a few of those are allowed for.
    assert!(
        read <= 1_200,
        "10 bookings read {read} index entries of bookings"
    );
    assert_eq!(a.store.get("desk").unwrap().dated().booking_count(), 310);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_claim_is_decided_from_the_database_and_prunes_what_retention_dropped() {
    let Some((url, servers, key)) = one_desk("a_claim_is_decided_from_the_database").await else {
        return;
    };
    let a = &servers[0];
    let c = a.client(Version::HTTP_11);
    // Two ids below the calendar's next one, made and cancelled: rows written with them
    // look like the calendar's own.
    let mut free = Vec::new();
    for hours in [400, 500] {
        let r = book(&c, "desk", &key, &span(hours, hours + 1), None).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        let id: i64 = r.json()["id"].as_str().unwrap().parse().unwrap();
        let path = format!("/calendars/desk/bookings/{id}");
        let r = c.authed(http::Method::DELETE, &path, &key).await;
        assert!(r.status.is_success(), "{}", r.text());
        free.push(id);
    }
    let db = Cluster::connect(&url).await;
    let start = hour(5);
    // Rows the instance never heard of: a booking holding 10:00-10:10 of a half hour, one
    // that ended ten years ago, and an override of a day ten years ago.
    db.batch_execute(&format!(
        "INSERT INTO bookings (calendar, id, span, created_ms) VALUES \
         ('desk', {}, tstzrange(to_timestamp({start}), to_timestamp({}), '[)'), 0), \
         ('desk', {}, tstzrange(now() - interval '3650 days', \
             now() - interval '3649 days', '[)'), 0); \
         INSERT INTO overrides (calendar, day, open, firm) \
             VALUES ('desk', current_date - 3650, 0, 0)",
        free[0],
        start + 600,
        free[1],
    ))
    .await
    .unwrap();
    // 10:15-10:25 shares that half hour: the database's row refuses it, although the
    // spans do not overlap and the instance's copy has no booking there.
    let body = format!(
        r#"{{"start":"{}","end":"{}"}}"#,
        at(start + 900),
        at(start + 1500)
    );
    let r = book(&c, "desk", &key, &body, None).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text());
    assert_eq!(r.json()["conflict"]["reason"], "booked", "{}", r.text());
    // A booking elsewhere is made, and the write drops what retention no longer keeps.
    let r = book(&c, "desk", &key, &span(30, 31), None).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let old: i64 = db
        .query_one(
            "SELECT (SELECT count(*) FROM bookings WHERE id = $1) \
             + (SELECT count(*) FROM overrides WHERE day < current_date - 3000)",
            &[&free[1]],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(old, 0, "the rows retention dropped are still there");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_claim_on_a_copy_behind_the_database_reads_the_whole_calendar() {
    let Some((url, servers, key)) = one_desk("a_claim_on_a_copy_behind_the_database").await else {
        return;
    };
    let a = &servers[0];
    let c = a.client(Version::HTTP_11);
    // A booking ten days away from the next one: not among the rows near it.
    let r = book(&c, "desk", &key, &span(240, 241), None).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let before = a.store.get("desk").unwrap();
    let (version, next) = (before.version(), before.dated().next_booking_id().0);
    // A change the instance is not told of: its copy is one version behind the database.
    let db = Cluster::connect(&url).await;
    db.batch_execute(
        "UPDATE calendars SET version = version + 1, next_booking = next_booking + 5 \
         WHERE id = 'desk'",
    )
    .await
    .unwrap();
    let r = book(&c, "desk", &key, &span(2, 3), None).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    // The answer and the copy are the database's state after the write, not the copy's.
    assert_eq!(r.json()["version"], version + 2, "{}", r.text());
    let shown = a.store.get("desk").unwrap();
    assert_eq!(shown.version(), version + 2);
    assert_eq!(shown.dated().next_booking_id().0, next + 6);
    // The whole calendar, not the rows near the write.
    assert_eq!(shown.dated().booking_count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_write_dropped_in_its_transaction_leaves_no_transaction_open() {
    let Some((url, servers, key)) = one_desk("a_write_dropped_in_its_transaction").await else {
        return;
    };
    let a = &servers[0];
    let availability_server::store::Storage::Postgres(db, _) = &a.app.storage else {
        panic!("the instance is not on the database");
    };
    // Another session holds the calendar's row: the write begins, then waits for it.
    let mut holder = Cluster::connect(&url).await;
    let holding = holder.transaction().await.unwrap();
    holding
        .execute("SELECT 1 FROM calendars WHERE id = 'desk' FOR UPDATE", &[])
        .await
        .unwrap();
    let claim = availability_core::dated::Claim::new(hour(1), hour(2));
    let write = availability_core::store::decide::DatedWrite::Book {
        claim: &claim,
        now: hour(-80),
    };
    let expected = availability_core::store::Expected::default();
    let waited = tokio::time::timeout(
        std::time::Duration::from_millis(500),
        db.dated("desk", &expected, &write, None),
    )
    .await;
    assert!(waited.is_err(), "the write did not wait for the row");
    holding.rollback().await.unwrap();
    // The dropped write's session is gone, not left in its transaction holding the row.
    let open = async || -> i64 {
        holder
            .query_one(
                "SELECT count(*) FROM pg_stat_activity \
                 WHERE datname = current_database() AND state LIKE 'idle in transaction%'",
                &[],
            )
            .await
            .unwrap()
            .get(0)
    };
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(open().await, 0, "a connection was left in its transaction");
    // And the calendar takes the next booking at once.
    let r = book(&a.client(Version::HTTP_11), "desk", &key, &span(1, 2), None).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
}
