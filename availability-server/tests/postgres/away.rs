//! The database away: stopped at once, or its packets silently dropped. Reads go on from
//! memory, writes are answered 503 with `Retry-After` within about two seconds, `/readyz`
//! says so, and once it is back writes resume and every instance catches up by itself.

use std::time::{Duration, Instant};

use http::{Method, StatusCode, Version};

use super::{always, book, eventually, instances, span, ALWAYS};
use crate::support::postgres::{cluster_for, Blackhole, Cluster};
use crate::support::TestServer;

/// A write through `server` is refused 503, with `Retry-After`, within 2.5 s.
async fn refused_quickly(server: &TestServer, key: &str) {
    let started = Instant::now();
    let r = server
        .client(Version::HTTP_11)
        .json(Method::PUT, "/calendars/room/availability", key, ALWAYS)
        .await;
    let took = started.elapsed();
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.text());
    assert!(
        r.header("retry-after").is_some(),
        "a 503 says when to retry"
    );
    assert!(
        took < Duration::from_millis(2500),
        "answered after {took:?}"
    );
}

/// Reads go on, and `/readyz` comes to say the database is away.
async fn reads_go_on_and_readiness_says_why(server: &TestServer) {
    let c = server.client(Version::HTTP_2);
    let r = c.get("/calendars/room/availability?tz=UTC").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    eventually("/readyz saying the database is away", || async {
        let r = server.client(Version::HTTP_2).get("/readyz").await;
        r.status == StatusCode::SERVICE_UNAVAILABLE && r.text().contains("database")
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stopped_database_refuses_writes_quickly_and_instances_catch_up_when_it_is_back() {
    const TEST: &str = "a_stopped_database_refuses_writes_quickly";
    if cluster_for(TEST).is_none() {
        return;
    }
    let cluster = Cluster::private().unwrap();
    let url = cluster.database().await;
    let servers = instances(2, &url).await;
    let (a, b) = (&servers[0], &servers[1]);
    let key = always(a, "room").await;

    cluster.stop_immediate();
    refused_quickly(a, &key).await;
    refused_quickly(b, &key).await;
    reads_go_on_and_readiness_says_why(a).await;
    reads_go_on_and_readiness_says_why(b).await;

    cluster.restart();
    eventually("writes through A resuming", || async {
        book(&a.client(Version::HTTP_2), "room", &key, &span(0, 1), None)
            .await
            .status
            == StatusCode::CREATED
    })
    .await;
    let tag = a
        .client(Version::HTTP_2)
        .get("/calendars/room/availability?tz=UTC")
        .await
        .header("etag")
        .unwrap()
        .to_owned();
    eventually("B catching up with A's write", || async {
        let r = b
            .client(Version::HTTP_2)
            .get("/calendars/room/availability?tz=UTC")
            .await;
        r.header("etag") == Some(tag.as_str())
    })
    .await;
    eventually("/readyz ready again", || async {
        b.client(Version::HTTP_2).get("/readyz").await.status == StatusCode::OK
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_database_whose_packets_are_dropped_refuses_writes_quickly() {
    let Some(cluster) = cluster_for("a_database_whose_packets_are_dropped_refuses_writes_quickly")
    else {
        return;
    };
    let url = cluster.database().await;
    let proxy = Blackhole::start(cluster.port).await;
    // A through the proxy, B straight to the database.
    let through = url.replace(&format!(":{}/", cluster.port), &format!(":{}/", proxy.port));
    let mut a = instances(1, &through).await;
    let b = instances(1, &url).await.remove(0);
    let a = a.remove(0);
    let key = always(&a, "room").await;

    proxy.drop_packets(true);
    refused_quickly(&a, &key).await;
    reads_go_on_and_readiness_says_why(&a).await;
    // Meanwhile B writes; A hears of it once the packets flow again.
    let r = book(&b.client(Version::HTTP_2), "room", &key, &span(2, 3), None).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());

    proxy.drop_packets(false);
    eventually("writes through A resuming", || async {
        book(&a.client(Version::HTTP_2), "room", &key, &span(4, 5), None)
            .await
            .status
            == StatusCode::CREATED
    })
    .await;
    eventually("A holding both bookings", || async {
        a.store
            .get("room")
            .is_some_and(|c| c.dated().booking_count() == 2)
    })
    .await;
}
