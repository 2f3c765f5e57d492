//! Several instances on one PostgreSQL database: a write through one is read through the
//! others with the same body and tag, claims through all of them never double-book, a key
//! revoked through one is refused by the others, and an idempotent retry through another
//! instance gets the first one's answer.

use std::time::{Duration, Instant};

use http::{Method, StatusCode, Version};

use crate::support::postgres::{cluster_for, Cluster};
use crate::support::{database, test_certificate, test_config, Client, TestServer, JSON};

mod away;
mod binaries;
mod follow;
mod groups;
mod near;
mod schema;
mod types;
mod webhooks;

/// A week available at every hour.
const ALWAYS: &str = r#"{"updates":[{"day":0,"from":"00:00","to":"24:00","status":"available"},
    {"day":1,"from":"00:00","to":"24:00","status":"available"},
    {"day":2,"from":"00:00","to":"24:00","status":"available"},
    {"day":3,"from":"00:00","to":"24:00","status":"available"},
    {"day":4,"from":"00:00","to":"24:00","status":"available"},
    {"day":5,"from":"00:00","to":"24:00","status":"available"},
    {"day":6,"from":"00:00","to":"24:00","status":"available"}]}"#;

/// `n` instances on one new database of the test cluster, the first one started first (it
/// makes the admin key, which every instance is given).
pub(crate) async fn instances(n: usize, url: &str) -> Vec<TestServer> {
    instances_with(n, url, |_| {}).await
}

/// [`instances`], each one's configuration changed by `tweak` besides.
pub(crate) async fn instances_with(
    n: usize,
    url: &str,
    tweak: impl Fn(&mut availability_server::config::Config),
) -> Vec<TestServer> {
    let mut servers: Vec<TestServer> = Vec::new();
    for _ in 0..n {
        let data = tempfile::tempdir().unwrap();
        let (cert, key, root) = test_certificate(data.path());
        let mut config = test_config(data.path());
        config.tls = Some((cert, key));
        config.database = Some(database(url.to_owned()));
        let loose = availability_server::limit::Rate {
            per_minute: 600_000,
            burst: 10_000,
        };
        config.rates.key_write = loose;
        config.rates.write = loose;
        config.rates.admin_write = loose;
        tweak(&mut config);
        let mut server = TestServer::start_with(config, root, data).await;
        if let Some(first) = servers.first() {
            assert_eq!(server.admin, "", "only the first start makes an admin key");
            server.admin = first.admin.clone();
        }
        servers.push(server);
    }
    servers
}

/// Waits until `check` holds, for at most five seconds.
pub(crate) async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while !check().await {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{what} did not happen within 5 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A whole hour three days ahead, plus `hours`, as RFC 3339 in UTC.
fn ahead(hours: i64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let at = (now / 3600 + 72 + hours) * 3600;
    chrono::DateTime::from_timestamp(at, 0)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn span(from: i64, to: i64) -> String {
    format!(r#"{{"start":"{}","end":"{}"}}"#, ahead(from), ahead(to))
}

async fn book(
    c: &Client,
    id: &str,
    key: &str,
    body: &str,
    idem: Option<&str>,
) -> crate::support::Resp {
    let mut headers = vec![JSON];
    headers.extend(idem.map(|idem| ("idempotency-key", idem)));
    c.call(
        Method::POST,
        &format!("/calendars/{id}/bookings"),
        Some(key),
        &headers,
        body.to_owned(),
    )
    .await
}

/// A calendar made through `server`, available all week; its key.
async fn always(server: &TestServer, id: &str) -> String {
    let key = server.create_calendar(id, "Europe/Berlin").await;
    let r = server
        .client(Version::HTTP_11)
        .json(
            Method::PUT,
            &format!("/calendars/{id}/availability"),
            &key,
            ALWAYS,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    key
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_write_through_one_instance_is_read_through_another_with_the_same_tag() {
    let Some(cluster) = cluster_for("a_write_through_one_instance_is_read_through_another") else {
        return;
    };
    let url = cluster.database().await;
    let servers = instances(2, &url).await;
    let (a, b) = (&servers[0], &servers[1]);
    let key = always(a, "room").await;
    let r = book(&a.client(Version::HTTP_2), "room", &key, &span(0, 1), None).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    // The instance that wrote shows it before answering.
    let on_a = a
        .client(Version::HTTP_2)
        .get("/calendars/room/availability?tz=UTC")
        .await;
    let tag = on_a.header("etag").unwrap().to_owned();
    let path = "/calendars/room/availability?tz=UTC";
    eventually("the write reaching the other instance", || async {
        b.client(Version::HTTP_2).get(path).await.header("etag") == Some(tag.as_str())
    })
    .await;
    let on_b = b.client(Version::HTTP_2).get(path).await;
    assert_eq!(on_b.text(), on_a.text());
    let bookings_a = a
        .client(Version::HTTP_2)
        .authed(Method::GET, "/calendars/room/bookings", &key)
        .await;
    let bookings_b = b
        .client(Version::HTTP_2)
        .authed(Method::GET, "/calendars/room/bookings", &key)
        .await;
    assert_eq!(bookings_a.text(), bookings_b.text());
    assert_eq!(bookings_b.json()["bookings"].as_array().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_four_racers_through_two_instances_make_one_booking() {
    let Some(cluster) = cluster_for("sixty_four_racers_through_two_instances_make_one_booking")
    else {
        return;
    };
    let url = cluster.database().await;
    let servers = instances(2, &url).await;
    let key = always(&servers[0], "rush").await;
    eventually("the calendar on the second instance", || async {
        servers[1]
            .store
            .get("rush")
            .is_some_and(|c| c.version() >= 2)
    })
    .await;
    let mut tasks = Vec::new();
    for i in 0..64 {
        let c = servers[i % 2]
            .client(Version::HTTP_2)
            .from(&format!("127.0.0.{}", 2 + i % 16));
        let key = key.clone();
        tasks.push(tokio::spawn(async move {
            book(&c, "rush", &key, &span(0, 1), None).await.status
        }));
    }
    let mut created = 0;
    for task in tasks {
        match task.await.unwrap() {
            StatusCode::CREATED => created += 1,
            StatusCode::CONFLICT => {}
            other => panic!("a racer got {other}"),
        }
    }
    assert_eq!(created, 1, "exactly one racer books the span");
    let sql = Cluster::connect(&url).await;
    let rows = sql
        .query_one("SELECT count(*) FROM bookings WHERE calendar = 'rush'", &[])
        .await
        .unwrap();
    assert_eq!(rows.get::<_, i64>(0), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_key_revoked_through_one_instance_is_refused_by_another() {
    let Some(cluster) = cluster_for("a_key_revoked_through_one_instance_is_refused_by_another")
    else {
        return;
    };
    let url = cluster.database().await;
    let servers = instances(2, &url).await;
    let (a, b) = (&servers[0], &servers[1]);
    always(a, "locked").await;
    // A second key, revoked through A; B has not necessarily heard of the revocation when
    // the write arrives, and must refuse it all the same.
    let c = a.client(Version::HTTP_11);
    let admin = &a.admin;
    let r = c
        .json(
            Method::POST,
            "/calendars/locked/keys",
            admin,
            r#"{"label":"temp"}"#,
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let temp = r.json()["key"].as_str().unwrap().to_owned();
    let temp_id = r.json()["key_id"].as_str().unwrap().to_owned();
    // B knows the key and has checked it once (its memo of verified keys holds it).
    eventually("the new key reaching B", || async {
        b.store
            .get("locked")
            .is_some_and(|c| c.key(&temp_id).is_some())
    })
    .await;
    let r = book(
        &b.client(Version::HTTP_2),
        "locked",
        &temp,
        &span(1, 2),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let r = c
        .authed(
            Method::DELETE,
            &format!("/calendars/locked/keys/{temp_id}"),
            admin,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text());
    let r = book(
        &b.client(Version::HTTP_2),
        "locked",
        &temp,
        &span(3, 4),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_idempotent_retry_through_another_instance_gets_the_first_answer() {
    let Some(cluster) = cluster_for("an_idempotent_retry_through_another_instance") else {
        return;
    };
    let url = cluster.database().await;
    let servers = instances(2, &url).await;
    let (a, b) = (&servers[0], &servers[1]);
    let key = always(a, "retry").await;
    eventually("the calendar on B", || async {
        b.store.get("retry").is_some_and(|c| c.version() >= 2)
    })
    .await;
    let body = span(5, 6);
    let first = book(
        &a.client(Version::HTTP_2),
        "retry",
        &key,
        &body,
        Some("once-1"),
    )
    .await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text());
    // At once, before B has necessarily heard of it, and again once it has.
    let again = book(
        &b.client(Version::HTTP_2),
        "retry",
        &key,
        &body,
        Some("once-1"),
    )
    .await;
    assert_eq!(again.status, StatusCode::CREATED, "{}", again.text());
    assert_eq!(again.json()["id"], first.json()["id"]);
    assert_eq!(again.header("etag"), first.header("etag"));
    tokio::time::sleep(Duration::from_millis(600)).await;
    let later = book(
        &b.client(Version::HTTP_2),
        "retry",
        &key,
        &body,
        Some("once-1"),
    )
    .await;
    assert_eq!(later.json()["id"], first.json()["id"]);
    let sql = Cluster::connect(&url).await;
    let count: i64 = sql
        .query_one(
            "SELECT count(*) FROM bookings WHERE calendar = 'retry'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(count, 1, "one booking for one idempotency key");
}
