//! Group bookings and `kill -9`: the real binary, killed while meetings of three members are
//! being booked, cancelled and moved, restarts with every meeting whole (a part on every
//! member or on none) and every acknowledged one kept.

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::{Method, StatusCode, Version};
use serde_json::json;

use crate::support::{Binary, Client};

const MEMBERS: [&str; 3] = ["ana", "ben", "kai"];
/// Meetings each booker tries per round: more than the time before the kill allows.
const PER_BOOKER: i64 = 200;
/// How far a moved meeting goes: past every start the bookers make (3 rounds of 6).
const MOVE: i64 = 3 * 6 * PER_BOOKER * 1800 + 86_400;

/// Every half hour of the week available.
const ALWAYS: &str = r#"{"updates":[
    {"day":"monday","from":"00:00","to":"24:00","status":"available"},
    {"day":"tuesday","from":"00:00","to":"24:00","status":"available"},
    {"day":"wednesday","from":"00:00","to":"24:00","status":"available"},
    {"day":"thursday","from":"00:00","to":"24:00","status":"available"},
    {"day":"friday","from":"00:00","to":"24:00","status":"available"},
    {"day":"saturday","from":"00:00","to":"24:00","status":"available"},
    {"day":"sunday","from":"00:00","to":"24:00","status":"available"}]}"#;

/// The binary over `data`, its write limits out of the bookers' way.
fn start(data: &std::path::Path) -> Binary {
    let mut flags = Vec::new();
    for limit in ["write", "admin-write", "key-write"] {
        flags.extend([format!("--{limit}-per-minute"), String::from("1000000")]);
        flags.extend([format!("--{limit}-burst"), String::from("100000")]);
    }
    Binary::start(data, "info", flags)
}

fn utc(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0)
        .unwrap()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// Each member's bookings as (group booking id, start), and the group's bookings by id with
/// their parts' calendars.
async fn state(
    c: &Client,
    admin: &str,
    from: i64,
) -> (Vec<(String, i64)>, BTreeMap<String, usize>) {
    let mut parts = Vec::new();
    for member in MEMBERS {
        let path = format!("/calendars/{member}/bookings?from={}", utc(from));
        let r = c.authed(Method::GET, &path, admin).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        for b in r.json()["bookings"].as_array().unwrap() {
            let start = chrono::DateTime::parse_from_rfc3339(b["start"].as_str().unwrap())
                .unwrap()
                .timestamp();
            parts.push((member.to_owned(), start));
        }
    }
    let path = format!("/groups/team/bookings?from={}", utc(from));
    let r = c.authed(Method::GET, &path, admin).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let groups = r.json()["bookings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["id"].as_str().unwrap().to_owned(),
                b["parts"].as_array().unwrap().len(),
            )
        })
        .collect();
    (parts, groups)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn meetings_are_whole_after_kill_9_at_any_moment() {
    let data = tempfile::tempdir().unwrap();
    let mut child = start(data.path());
    let admin = child
        .printed_key()
        .expect("the first start prints an admin key");
    let c = Client::new(child.addr, child.root(), Version::HTTP_2);
    for member in MEMBERS {
        let key = c.create_calendar(&admin, member, "UTC").await;
        let path = format!("/calendars/{member}/availability");
        let r = c.json(Method::PUT, &path, &key, ALWAYS).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    }
    let members = json!({ "members": MEMBERS }).to_string();
    let r = c.json(Method::PUT, "/groups/team", &admin, &members).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let ty = r#"{"duration":30,"interval":30,"horizon":200}"#;
    let r = c
        .json(Method::PUT, "/groups/team/booking-types/sync", &admin, ty)
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let now = chrono::Utc::now().timestamp();
    let base = now - now % 86_400 + 2 * 86_400;
    let mut acknowledged: Vec<String> = Vec::new();
    let made: Arc<Mutex<Vec<String>>> = Arc::default();
    let mut interrupted = 0;
    for round in 0..3_i64 {
        let root = child.root();
        // Bookers in flight, each making meetings and moving or cancelling some, until the
        // kill cuts them off.
        let bookers: Vec<_> = (0..6_i64)
            .map(|w| {
                let (admin, addr, root) = (admin.clone(), child.addr, root.clone());
                let made = Arc::clone(&made);
                tokio::spawn(async move {
                    let c = Client::new(addr, root, Version::HTTP_11);
                    for k in 0..PER_BOOKER {
                        let start = base + ((round * 6 + w) * PER_BOOKER + k) * 1800;
                        let body = json!({ "type": "sync", "start": utc(start) }).to_string();
                        let r = c
                            .json(Method::POST, "/groups/team/bookings", &admin, &body)
                            .await;
                        if r.status != StatusCode::CREATED {
                            return Err(format!("booking: {} {}", r.status, r.text()));
                        }
                        let id = r.json()["id"].as_str().unwrap().to_owned();
                        made.lock().unwrap().push(id.clone());
                        let path = format!("/groups/team/bookings/{id}");
                        let answered = match k % 4 {
                            1 => {
                                let to = json!({ "start": utc(start + MOVE) }).to_string();
                                c.json(Method::PATCH, &path, &admin, &to).await
                            }
                            2 => {
                                // A cancellation the kill cuts off may or may not have
                                // committed: the meeting is no longer owed, only whole.
                                made.lock().unwrap().retain(|m| *m != id);
                                let r = c.authed(Method::DELETE, &path, &admin).await;
                                if r.status != StatusCode::OK {
                                    made.lock().unwrap().push(id);
                                }
                                r
                            }
                            _ => continue,
                        };
                        if answered.status != StatusCode::OK {
                            let (status, text) = (answered.status, answered.text());
                            return Err(format!("move or cancel: {status} {text}"));
                        }
                    }
                    Ok(())
                })
            })
            .collect();
        // The kill comes once some meetings of this round are acknowledged, at a point that
        // moves from round to round, while the bookers go on.
        let wanted = 10 + 15 * round as usize;
        for _ in 0..2_000 {
            if made.lock().unwrap().len() >= wanted || bookers.iter().all(|b| b.is_finished()) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let killed = Command::new("kill")
            .args(["-KILL", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        for booker in bookers {
            // A request cut off by the kill fails in the client (a reset connection): the
            // booker ends there, with what was acknowledged before. Every answer before the
            // kill is a success.
            match booker.await {
                Err(_) => interrupted += 1,
                Ok(answered) => answered.unwrap(),
            }
        }
        acknowledged.append(&mut made.lock().unwrap());
        child = start(data.path());
        let c = Client::new(child.addr, child.root(), Version::HTTP_2);
        let (parts, groups) = state(&c, &admin, base - 3600).await;
        // Every meeting is whole, every part belongs to one, and each acknowledged meeting
        // (made, or moved) is there.
        assert!(groups.values().all(|n| *n == MEMBERS.len()), "{groups:?}");
        assert_eq!(parts.len(), groups.len() * MEMBERS.len(), "{parts:?}");
        for id in &acknowledged {
            assert!(
                groups.contains_key(id),
                "meeting {id} was acknowledged and lost"
            );
        }
    }
    // The kills came while meetings were being written.
    assert!(!acknowledged.is_empty() && interrupted > 0, "{interrupted}");
}
