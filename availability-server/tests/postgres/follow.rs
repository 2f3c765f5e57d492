//! Following the change log: a change from a transaction that commits after a later one is
//! still applied by every instance; a batch of calendars reaches every instance.

use http::{Method, StatusCode, Version};

use super::{always, book, eventually, instances, span, ALWAYS};
use crate::support::postgres::{cluster_for, Cluster};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_change_that_commits_after_a_later_one_is_not_skipped() {
    let Some(cluster) = cluster_for("a_change_that_commits_after_a_later_one_is_not_skipped")
    else {
        return;
    };
    let url = cluster.database().await;
    let servers = instances(2, &url).await;
    let (a, b) = (&servers[0], &servers[1]);
    let early = always(a, "early").await;
    always(a, "late").await;
    eventually("both calendars on B", || async {
        b.store.get("early").is_some() && b.store.get("late").is_some_and(|c| c.version() >= 2)
    })
    .await;

    // A slow write, as a server makes one: the calendar's row and the change log's, in a
    // transaction that stays open.
    let mut slow = Cluster::connect(&url).await;
    let tx = slow.transaction().await.unwrap();
    tx.batch_execute(
        "UPDATE calendars SET version = version + 1, zone = 'Asia/Tokyo' WHERE id = 'late';
         INSERT INTO changes (kind, id, incarnation)
             SELECT 'calendar', id, incarnation FROM calendars WHERE id = 'late';
         SELECT pg_notify('availability_changes', '');",
    )
    .await
    .unwrap();

    // A later write commits first, and B applies it.
    let r = a
        .client(Version::HTTP_11)
        .json(Method::PUT, "/calendars/early/availability", &early, ALWAYS)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    eventually("the later write on B", || async {
        b.store.get("early").is_some_and(|c| c.version() >= 3)
    })
    .await;
    assert_eq!(b.store.get("late").unwrap().zone(), "Europe/Berlin");

    // Then the slow one commits: B must not have moved past it.
    tx.commit().await.unwrap();
    eventually("the slow write on B", || async {
        b.store
            .get("late")
            .is_some_and(|c| c.zone() == "Asia/Tokyo")
    })
    .await;
    eventually("the slow write on A", || async {
        a.store
            .get("late")
            .is_some_and(|c| c.zone() == "Asia/Tokyo")
    })
    .await;
}

/// A claim decides from the rows as they are once it holds the calendar's row, never from
/// what an instance remembers: while another transaction holds the row and adds a booking
/// in the same owner half hour (not overlapping in time, so the exclusion constraint would
/// let both through), the claim waits, then sees it and is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_claim_waits_for_the_calendars_row_and_decides_from_what_committed() {
    let Some(cluster) = cluster_for("a_claim_waits_for_the_calendars_row") else {
        return;
    };
    let url = cluster.database().await;
    let servers = instances(1, &url).await;
    let a = &servers[0];
    let key = always(a, "held").await;
    let base = super::span(0, 1);
    let start: serde_json::Value = serde_json::from_str(&base).unwrap();
    let start = chrono::DateTime::parse_from_rfc3339(start["start"].as_str().unwrap())
        .unwrap()
        .timestamp();

    let mut other = Cluster::connect(&url).await;
    let tx = other.transaction().await.unwrap();
    tx.execute("SELECT 1 FROM calendars WHERE id = 'held' FOR UPDATE", &[])
        .await
        .unwrap();
    // The first ten minutes of the half hour, as another instance would book them.
    tx.execute(
        "INSERT INTO bookings (calendar, id, span, created_ms)
         SELECT 'held', next_booking, tstzrange(to_timestamp($1), to_timestamp($1 + 600)), 0
         FROM calendars WHERE id = 'held'",
        &[&(start as f64)],
    )
    .await
    .unwrap();
    tx.batch_execute(
        "UPDATE calendars SET version = version + 1, next_booking = next_booking + 1
             WHERE id = 'held';
         INSERT INTO changes (kind, id, incarnation)
             SELECT 'calendar', id, incarnation FROM calendars WHERE id = 'held';",
    )
    .await
    .unwrap();
    let at = |s: i64| {
        chrono::DateTime::from_timestamp(s, 0)
            .unwrap()
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    };
    // The last ten minutes of the same half hour, through the instance, meanwhile.
    let c = a.client(Version::HTTP_2);
    let body = format!(
        r#"{{"start":"{}","end":"{}"}}"#,
        at(start + 1200),
        at(start + 1800)
    );
    let claim = tokio::spawn(async move { super::book(&c, "held", &key, &body, None).await });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(
        !claim.is_finished(),
        "the claim waits for the calendar's row"
    );
    tx.commit().await.unwrap();
    let r = claim.await.unwrap();
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text());
    assert_eq!(r.json()["conflict"]["reason"], "booked", "{}", r.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_batch_made_through_one_instance_reaches_the_others() {
    let Some(cluster) = cluster_for("a_batch_made_through_one_instance_reaches_the_others") else {
        return;
    };
    let url = cluster.database().await;
    let servers = instances(2, &url).await;
    let (a, b) = (&servers[0], &servers[1]);
    let body = serde_json::json!({
        "calendars": (0..500)
            .map(|i| serde_json::json!({ "id": format!("desk-{i}"), "timezone": "Asia/Tokyo" }))
            .collect::<Vec<_>>()
    });
    let r = a
        .client(Version::HTTP_2)
        .json(
            Method::POST,
            "/calendars:batch",
            &a.admin,
            &body.to_string(),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    eventually("the batch on B", || async {
        b.app.store.len() == a.app.store.len()
    })
    .await;
    let r = b.client(Version::HTTP_11).get("/calendars/desk-499").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["timezone"], "Asia/Tokyo");
    // A second batch naming one of them creates none, through either instance.
    let again = serde_json::json!({ "calendars": [{ "id": "desk-new" }, { "id": "desk-7" }] });
    let r = b
        .client(Version::HTTP_2)
        .json(
            Method::POST,
            "/calendars:batch",
            &b.admin,
            &again.to_string(),
        )
        .await;
    assert!(
        r.problem(StatusCode::CONFLICT).contains("desk-7"),
        "{}",
        r.text()
    );
    assert_eq!(
        a.client(Version::HTTP_11)
            .get("/calendars/desk-new")
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_change_log_is_read_through_its_index() {
    let Some(cluster) = cluster_for("the_change_log_is_read_through_its_index") else {
        return;
    };
    let url = cluster.database().await;
    let servers = instances(2, &url).await;
    let (a, b) = (&servers[0], &servers[1]);
    let key = always(a, "desk").await;
    let db = Cluster::connect(&url).await;
    // Building the log's index reads it: only the scans after the start count.
    let before = log_scans(&db).await;
    // Writes one at a time, each waiting for B: every one is a round of B's follower.
    for hours in 0..40 {
        let r = book(
            &a.client(Version::HTTP_11),
            "desk",
            &key,
            &span(hours, hours + 1),
            None,
        )
        .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        let version = a.store.get("desk").unwrap().version();
        eventually("the booking on B", || async {
            b.store.get("desk").is_some_and(|c| c.version() == version)
        })
        .await;
    }
    let after = log_scans(&db).await;
    assert!(
        after.1 - before.1 >= 40,
        "{} index scans of the change log for 40 rounds",
        after.1 - before.1
    );
    assert_eq!(
        after.0 - before.0,
        0,
        "reads of the change log scan it whole ({} through the index)",
        after.1 - before.1
    );
}

/// The change log's whole-table and index scans so far. A backend reports its scans once it
/// has been idle for a second, so this waits for that first.
async fn log_scans(db: &tokio_postgres::Client) -> (i64, i64) {
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    let row = db
        .query_one(
            "SELECT seq_scan, coalesce(idx_scan, 0) FROM pg_stat_user_tables \
             WHERE relname = 'changes'",
            &[],
        )
        .await
        .unwrap();
    (row.get(0), row.get(1))
}
