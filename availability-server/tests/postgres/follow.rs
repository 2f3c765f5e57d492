//! Following the change log: a change from a transaction that commits after a later one is
//! still applied by every instance.

use http::{Method, StatusCode, Version};

use super::{always, eventually, instances, ALWAYS};
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
