//! Webhooks on a database that three instances share: each runs a sender, and every event
//! reaches the receiver exactly once (no instance delivers what another took), in the order
//! of its calendar's changes, whichever instance made the change.

use std::collections::BTreeMap;
use std::time::Duration;

use http::{Method, StatusCode, Version};
use serde_json::json;

use super::{instances_with, ALWAYS};
use availability_server::startup;

use crate::support::postgres::cluster_for;
use crate::support::{database, open, test_config};
use crate::webhooks::receiver::Receiver;

const CALENDARS: usize = 4;
const PER_CALENDAR: usize = 40;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_senders_deliver_each_event_once_and_in_order() {
    let Some(cluster) = cluster_for("three_senders_deliver_each_event_once_and_in_order") else {
        return;
    };
    let url = cluster.database().await;
    let dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::start(dir.path()).await;
    let ca = receiver.ca_file.clone();
    // Every server on the database opens every endpoint's secret: they share the key file.
    let key_file = dir.path().join("webhook.key");
    let servers = instances_with(3, &url, |config| {
        config.webhook_allow = vec!["127.0.0.0/8".parse().unwrap()];
        config.webhook_ca_file = Some(ca.clone());
        config.webhook_key_file = Some(key_file.clone());
    })
    .await;
    let admin = servers[0].admin.clone();
    let clients: Vec<_> = servers.iter().map(|s| s.client(Version::HTTP_2)).collect();
    for n in 0..CALENDARS {
        let id = format!("room-{n}");
        let body = json!({ "id": id, "timezone": "UTC", "key": false }).to_string();
        let r = clients[0]
            .json(Method::POST, "/calendars", &admin, &body)
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        let path = format!("/calendars/{id}/availability");
        let r = clients[0].json(Method::PUT, &path, &admin, ALWAYS).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    }
    // Made through the second instance: every instance's sender reads it from the database.
    let hook = json!({ "url": receiver.url(), "events": ["booking.created"] }).to_string();
    let r = clients[1]
        .json(Method::POST, "/webhooks", &admin, &hook)
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());

    // Each calendar booked in order, its bookings spread over the three instances.
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..CALENDARS {
        let (clients, admin) = (clients.clone(), admin.clone());
        tasks.spawn(async move {
            let calendar = format!("room-{n}");
            let mut made = Vec::new();
            for i in 0..PER_CALENDAR {
                let hours = i64::try_from(i).unwrap();
                let body = json!({
                    "start": crate::webhooks::ahead(hours),
                    "end": crate::webhooks::ahead(hours + 1),
                })
                .to_string();
                let path = format!("/calendars/{calendar}/bookings");
                let r = clients[(n + i) % clients.len()]
                    .json(Method::POST, &path, &admin, &body)
                    .await;
                assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
                made.push(r.json()["id"].as_str().unwrap().to_owned());
            }
            (calendar, made)
        });
    }
    let mut booked: BTreeMap<String, Vec<String>> = BTreeMap::new();
    while let Some(done) = tasks.join_next().await {
        let (calendar, made) = done.unwrap();
        booked.insert(calendar, made);
    }

    let all = CALENDARS * PER_CALENDAR;
    receiver.wait_for(all, Duration::from_secs(30)).await;
    // Time for any second delivery to arrive, were one made.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let messages = receiver.messages();
    let mut seen: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut ids = std::collections::BTreeSet::new();
    for m in &messages {
        let id = m.header("webhook-id").unwrap().to_owned();
        assert!(ids.insert(id.clone()), "event {id} arrived twice");
        let data = &m.json()["data"];
        seen.entry(data["calendar"].as_str().unwrap().to_owned())
            .or_default()
            .push(data["booking"]["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(messages.len(), all, "one delivery per booking");
    // Each calendar's bookings arrive in the order they were made.
    assert_eq!(seen, booked);
    // The instances shared the work: what each delivered adds up to every event.
    let mut delivered = Vec::new();
    for c in &clients {
        let r = c.authed(Method::GET, "/metrics", &admin).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        let line = r
            .text()
            .lines()
            .find(|l| l.starts_with("availability_webhook_attempts_total{outcome=\"delivered\"}"))
            .map(str::to_owned)
            .unwrap_or_default();
        delivered.push(line);
    }
    let total: u64 = delivered
        .iter()
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .map(|v| v as u64)
        .sum();
    assert_eq!(total, all as u64, "{delivered:?}");

    // A server with a key file of its own could open none of the secrets: it does not start,
    // and nor does one without a key yet.
    let data = tempfile::tempdir().unwrap();
    let mut config = test_config(data.path());
    config.database = Some(database(url.clone()));
    let own = data.path().join("webhook.key");
    std::fs::write(&own, format!("{}\n", "7e".repeat(32))).unwrap();
    for case in ["another key", "no key"] {
        let refused = startup::prepare(&config, open(&config).await).await;
        let Err(why) = refused else {
            panic!("a server with {case} is refused");
        };
        assert!(why.contains("webhook_key_file"), "{case}: {why}");
        std::fs::remove_file(&own).unwrap_or_default();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_removed_while_bookings_commit_leaves_no_row_behind() {
    let test = "an_endpoint_removed_while_bookings_commit_leaves_no_row_behind";
    let Some(cluster) = cluster_for(test) else {
        return;
    };
    let url = cluster.database().await;
    let servers = instances_with(2, &url, |config| {
        // Nothing listens on port 9: every delivery fails, and the events wait.
        config.webhook_allow = vec!["127.0.0.0/8".parse().unwrap()];
    })
    .await;
    let admin = servers[0].admin.clone();
    let clients: Vec<_> = servers.iter().map(|s| s.client(Version::HTTP_2)).collect();
    let body = json!({ "id": "desk", "timezone": "UTC", "key": false }).to_string();
    let r = clients[0]
        .json(Method::POST, "/calendars", &admin, &body)
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let r = clients[0]
        .json(Method::PUT, "/calendars/desk/availability", &admin, ALWAYS)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let hook = json!({ "url": "https://127.0.0.1:9/hook", "events": ["booking.created"] });
    let r = clients[0]
        .json(Method::POST, "/webhooks", &admin, &hook.to_string())
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let id = r.json()["id"].as_str().unwrap().to_owned();

    // Bookings commit through both instances while the endpoint is removed through one.
    let mut bookers = tokio::task::JoinSet::new();
    for (n, c) in clients.iter().enumerate() {
        let (c, admin) = (c.clone(), admin.clone());
        bookers.spawn(async move {
            for i in 0..60_i64 {
                let hours = i * 2 + i64::try_from(n).unwrap();
                let body = json!({
                    "start": crate::webhooks::ahead(hours),
                    "end": crate::webhooks::ahead(hours + 1),
                })
                .to_string();
                let r = c
                    .json(Method::POST, "/calendars/desk/bookings", &admin, &body)
                    .await;
                assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
            }
        });
    }
    tokio::time::sleep(Duration::from_millis(150)).await;
    let r = clients[1]
        .authed(Method::DELETE, &format!("/webhooks/{id}"), &admin)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text());
    while let Some(done) = bookers.join_next().await {
        done.unwrap();
    }
    // A booking that read the endpoint as it went may have queued an event after it: the
    // senders' next count of the outbox (every 10 s) removes what is left.
    let db = crate::support::postgres::Cluster::connect(&url).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(25);
    loop {
        let left: i64 = db
            .query_one(
                "SELECT (SELECT count(*) FROM webhook_outbox) \
                 + (SELECT count(*) FROM webhook_attempts)",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        if left == 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{left} rows of a removed endpoint"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
