//! Nothing lost: the real binary books 1,000 times across 10 calendars with an endpoint
//! listening, its receiver away for part of it, and is `kill -9`ed twice. Every booking the
//! store holds arrives at least once, each calendar's in the order of its changes, every one
//! signed as the Standard Webhooks library verifies, and no event arrives for a booking that
//! is not there.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::time::Duration;

use http::{Method, StatusCode, Version};
use serde_json::json;

use super::receiver::Receiver;
use crate::support::postgres::cluster_for;
use crate::support::{on_postgres, Binary, Client};

const CALENDARS: usize = 10;
const PER_CALENDAR: usize = 100;

/// The binary over `data` (or, with a `database` URL, on that database), its write limits
/// out of the way, webhooks allowed to reach the receiver.
fn start(data: &std::path::Path, database: Option<&str>, receiver: &Receiver) -> Binary {
    let mut flags = Vec::new();
    if let Some(url) = database {
        flags.extend([String::from("--database-url"), url.to_owned()]);
    }
    for limit in ["write", "admin-write", "key-write"] {
        flags.extend([format!("--{limit}-per-minute"), String::from("1000000")]);
        flags.extend([format!("--{limit}-burst"), String::from("100000")]);
    }
    flags.extend([String::from("--webhook-allow"), String::from("127.0.0.0/8")]);
    flags.push(String::from("--webhook-ca-file"));
    flags.push(receiver.ca_file.display().to_string());
    Binary::start(data, "info", flags)
}

fn kill(binary: &Binary) {
    let killed = Command::new("kill")
        .args(["-KILL", &binary.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
}

/// Books `range` of every calendar, the calendars at once, each in order; returns the
/// (calendar, booking id) acknowledged. Stops a calendar at its first failure (the kill).
async fn book_all(c: &Client, admin: &str, range: std::ops::Range<usize>) -> Vec<(String, String)> {
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..CALENDARS {
        let (c, admin, range) = (c.clone(), admin.to_owned(), range.clone());
        tasks.spawn(async move {
            let calendar = format!("room-{n}");
            let mut made = Vec::new();
            for i in range {
                let hours = i64::try_from(i).unwrap();
                let body = json!({ "start": super::ahead(hours), "end": super::ahead(hours + 1) });
                let path = format!("/calendars/{calendar}/bookings");
                // A request the kill cuts off panics in its own task (the client's
                // connection error): the calendar stops there.
                let (c, admin) = (c.clone(), admin.clone());
                let sent = tokio::spawn(async move {
                    c.call(
                        Method::POST,
                        &path,
                        Some(&admin),
                        &[crate::support::JSON],
                        body.to_string(),
                    )
                    .await
                })
                .await;
                let Ok(r) = sent else { break };
                if r.status != StatusCode::CREATED {
                    break;
                }
                made.push((
                    calendar.clone(),
                    r.json()["id"].as_str().unwrap().to_owned(),
                ));
            }
            made
        });
    }
    let mut all = Vec::new();
    while let Some(made) = tasks.join_next().await {
        all.extend(made.unwrap());
    }
    all
}

#[tokio::test]
async fn every_booking_arrives_in_order_across_two_kills_and_a_receiver_away() {
    let test = "every_booking_arrives_in_order_across_two_kills_and_a_receiver_away";
    let database = match on_postgres() {
        true => match cluster_for(test) {
            Some(cluster) => Some(cluster.database().await),
            None => return,
        },
        false => None,
    };
    let database = database.as_deref();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let mut receiver = Receiver::start(dir.path()).await;
    let binary = start(&data, database, &receiver);
    let admin = binary.printed_key().expect("the first run prints a key");
    let c = Client::new(binary.addr, binary.root(), Version::HTTP_11);
    for n in 0..CALENDARS {
        let id = format!("room-{n}");
        let body = json!({ "id": id, "timezone": "UTC", "key": false }).to_string();
        let r = c.json(Method::POST, "/calendars", &admin, &body).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        let r = c
            .json(
                Method::PUT,
                &format!("/calendars/{id}/availability"),
                &admin,
                super::ALWAYS,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    }
    let hook = json!({ "url": receiver.url(), "events": ["booking.created"] }).to_string();
    let r = c.json(Method::POST, "/webhooks", &admin, &hook).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let secret = r.json()["secret"].as_str().unwrap().to_owned();

    let third = PER_CALENDAR / 3;
    let mut acknowledged = book_all(&c, &admin, 0..third).await;
    // The receiver goes away; bookings go on; the server is killed mid-stream.
    receiver.stop();
    let booking = tokio::spawn({
        let (c, admin) = (c.clone(), admin.clone());
        async move { book_all(&c, &admin, third..2 * third).await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    kill(&binary);
    acknowledged.extend(booking.await.unwrap());
    drop(binary);
    let binary = start(&data, database, &receiver);
    let c = Client::new(binary.addr, binary.root(), Version::HTTP_11);
    // Killed again while it delivers what waited, the receiver back.
    receiver.restart().await;
    let booking = tokio::spawn({
        let (c, admin) = (c.clone(), admin.clone());
        async move { book_all(&c, &admin, 2 * third..PER_CALENDAR - 10).await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    kill(&binary);
    acknowledged.extend(booking.await.unwrap());
    drop(binary);
    let binary = start(&data, database, &receiver);
    let c = Client::new(binary.addr, binary.root(), Version::HTTP_11);
    acknowledged.extend(book_all(&c, &admin, PER_CALENDAR - 10..PER_CALENDAR).await);

    // What the store holds: every acknowledged booking, and perhaps some cut off by a kill
    // after their commit.
    let mut held: BTreeSet<(String, String)> = BTreeSet::new();
    for n in 0..CALENDARS {
        let path = format!("/calendars/room-{n}/bookings?from={}", &super::ahead(-1));
        let r = c.authed(Method::GET, &path, &admin).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        for b in r.json()["bookings"].as_array().unwrap() {
            held.insert((format!("room-{n}"), b["id"].as_str().unwrap().to_owned()));
        }
    }
    for ack in &acknowledged {
        assert!(held.contains(ack), "acknowledged {ack:?} is held");
    }
    assert!(
        acknowledged.len() >= CALENDARS * PER_CALENDAR / 2,
        "{}",
        acknowledged.len()
    );

    // Every held booking arrives (the last retries come within about 20 s of the restart;
    // on a database, what the killed server held waits out its hold of 30 s first).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    let messages = loop {
        let messages = receiver.messages();
        let seen: BTreeSet<(String, String)> = messages
            .iter()
            .map(|m| {
                let data = &m.json()["data"];
                (
                    data["calendar"].as_str().unwrap().to_owned(),
                    data["booking"]["id"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        if held.is_subset(&seen) {
            // None invented: every event is of a booking the store holds.
            assert!(seen.is_subset(&held), "an event of no booking");
            break messages;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} of {} bookings arrived",
            held.intersection(&seen).count(),
            held.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };

    // In commit order per calendar: versions never go back (a repeat of the one event a
    // kill cut off may come again, and only right after it).
    let mut last: BTreeMap<String, u64> = BTreeMap::new();
    for m in &messages {
        let data = &m.json()["data"];
        let calendar = data["calendar"].as_str().unwrap().to_owned();
        let version = data["version"].as_u64().unwrap();
        let before = last.insert(calendar.clone(), version).unwrap_or(0);
        assert!(version >= before, "{calendar}: {version} after {before}");
    }
    let repeats = messages.len() - held.len();
    assert!(repeats <= 2 * CALENDARS + 5, "{repeats} repeats");

    if let Some(verdicts) = super::verified("webhooks after kill -9", &secret, &messages) {
        assert!(verdicts.iter().all(|v| v["ok"] == true), "{verdicts:?}");
    }
}
