//! Real instances (the binary) on one database: three of them serve one calendar alike,
//! random overlapping claims through all of them never put two bookings in one owner half
//! hour (checked in SQL), and an instance killed with SIGKILL while it books loses nothing it
//! acknowledged.

use std::time::Duration;

use http::{Method, StatusCode, Version};

use super::{book, eventually, span, ALWAYS};
use crate::support::postgres::{cluster_for, Cluster};
use crate::support::{Binary, Client};

/// Loose limits: the tests send many writes from one address on purpose.
const FLAGS: [&str; 12] = [
    "--write-per-minute",
    "600000",
    "--write-burst",
    "10000",
    "--key-write-per-minute",
    "600000",
    "--key-write-burst",
    "10000",
    "--auth-per-minute",
    "600000",
    "--auth-burst",
    "10000",
];

/// An instance of the binary on `url`, with a data directory of its own (its certificate).
fn instance(url: &str, dir: &tempfile::TempDir) -> Binary {
    let mut flags: Vec<&str> = FLAGS.to_vec();
    flags.extend(["--database-url", url]);
    Binary::start(dir.path(), "info", flags)
}

fn client(binary: &Binary) -> Client {
    Client::new(binary.addr, binary.root(), Version::HTTP_2)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_instances_serve_alike_and_never_double_book() {
    let Some(cluster) = cluster_for("three_instances_serve_alike_and_never_double_book") else {
        return;
    };
    let url = cluster.database().await;
    let dirs: Vec<tempfile::TempDir> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let first = instance(&url, &dirs[0]);
    let admin = first
        .printed_key()
        .expect("the first instance prints an admin key");
    let others: Vec<Binary> = dirs[1..].iter().map(|d| instance(&url, d)).collect();
    for other in &others {
        assert!(
            !other.output().contains("avk_"),
            "only one instance prints a key"
        );
    }
    let all: Vec<&Binary> = std::iter::once(&first).chain(others.iter()).collect();
    let clients: Vec<Client> = all.iter().map(|b| client(b)).collect();

    // Made through the first, written through the second, read alike through all three.
    let mut keys = Vec::new();
    for n in 0..4 {
        let id = format!("room-{n}");
        let key = clients[0]
            .create_calendar(&admin, &id, "Europe/Berlin")
            .await;
        let path = format!("/calendars/{id}/availability");
        eventually("the calendar reaching the second instance", || async {
            clients[1].get(&path).await.status == StatusCode::OK
        })
        .await;
        let r = clients[1].json(Method::PUT, &path, &key, ALWAYS).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        keys.push((id, key));
    }
    let path = "/calendars/room-0/availability?tz=Asia/Tokyo";
    let seen = clients[1].get(path).await;
    let tag = seen.header("etag").unwrap().to_owned();
    for c in &clients {
        eventually("every instance showing the write", || async {
            c.get(path).await.header("etag") == Some(tag.as_str())
        })
        .await;
        assert_eq!(c.get(path).await.text(), seen.text());
    }

    // 48 racers for three ten-minute spans of one owner half hour, which do not overlap in
    // time (the exclusion constraint lets them all through): exactly one wins.
    let mut racers = Vec::new();
    for i in 0..48_i64 {
        let (id, key) = keys[3].clone();
        let c = clients[(i % 3) as usize]
            .clone()
            .from(&format!("127.0.3.{}", i % 50));
        let at = 30 + (i % 3) * 10;
        racers.push(tokio::spawn(async move {
            book(&c, &id, &key, &minutes(at, at + 10), None)
                .await
                .status
        }));
    }
    let mut won = 0;
    for racer in racers {
        match racer.await.unwrap() {
            StatusCode::CREATED => won += 1,
            StatusCode::CONFLICT => {}
            other => panic!("a racer got {other}"),
        }
    }
    assert_eq!(won, 1, "one booking holds the half hour");
    let mut created = won;

    // Random overlapping claims, on whole minutes, through all three at once.
    let mut tasks = Vec::new();
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    for i in 0..240 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let (id, key) = keys[(seed % 3) as usize].clone();
        let start_min = (seed >> 8) % (8 * 60) / 10 * 10;
        let length = 10 + (seed >> 20) % 9 * 10;
        let c = clients[i % 3].clone().from(&format!("127.0.1.{}", i % 50));
        tasks.push(tokio::spawn(async move {
            let body = minutes(start_min as i64, (start_min + length) as i64);
            book(&c, &id, &key, &body, None).await.status
        }));
    }
    for task in tasks {
        match task.await.unwrap() {
            StatusCode::CREATED => created += 1,
            StatusCode::CONFLICT => {}
            other => panic!("a claim got {other}"),
        }
    }
    assert!(created > 0);
    // No two live bookings of a calendar share an owner half hour (Berlin's half hours are
    // UTC's), nor an instant.
    let sql = Cluster::connect(&url).await;
    let shared: i64 = sql
        .query_one(
            "WITH slots AS (
                 SELECT calendar, id, tstzrange(
                     date_bin('30 minutes', lower(span), 'epoch'),
                     date_bin('30 minutes', upper(span) - interval '1 microsecond', 'epoch')
                         + interval '30 minutes') AS held
                 FROM bookings)
             SELECT count(*) FROM slots a JOIN slots b
                 ON a.calendar = b.calendar AND a.id < b.id AND a.held && b.held",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(shared, 0, "two bookings share an owner half hour");
    let stored: i64 = sql
        .query_one("SELECT count(*) FROM bookings", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        stored, created,
        "the database holds exactly the bookings answered 201"
    );
}

/// A span `from` to `to` minutes after the whole hour three days ahead.
fn minutes(from: i64, to: i64) -> String {
    let base = span(0, 0);
    let start: serde_json::Value = serde_json::from_str(&base).unwrap();
    let at = chrono::DateTime::parse_from_rfc3339(start["start"].as_str().unwrap()).unwrap();
    let text = |m: i64| {
        (at + chrono::Duration::minutes(m)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    };
    format!(r#"{{"start":"{}","end":"{}"}}"#, text(from), text(to))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_instance_killed_while_it_books_loses_nothing_it_acknowledged() {
    let Some(cluster) = cluster_for("an_instance_killed_while_it_books_loses_nothing") else {
        return;
    };
    let url = cluster.database().await;
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = instance(&url, &dir_a);
    let admin = a.printed_key().unwrap();
    let b = instance(&url, &dir_b);
    let ca = client(&a);
    let key = ca.create_calendar(&admin, "busy", "Europe/Berlin").await;
    let r = ca
        .json(Method::PUT, "/calendars/busy/availability", &key, ALWAYS)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());

    // Sixteen writers book ten-minute spans one after another through A.
    let acknowledged = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let mut writers = Vec::new();
    for w in 0..16_i64 {
        let c = ca.clone().from(&format!("127.0.2.{w}"));
        let key = key.clone();
        let acknowledged = std::sync::Arc::clone(&acknowledged);
        writers.push(tokio::spawn(async move {
            for n in 0..200_i64 {
                let at = (w * 200 + n) * 10;
                let r = book(&c, "busy", &key, &minutes(at, at + 10), None).await;
                if r.status == StatusCode::CREATED {
                    let id = r.json()["id"].as_str().unwrap().to_owned();
                    acknowledged.lock().unwrap().push(id);
                }
            }
        }));
    }
    // Until some bookings are acknowledged (a loaded machine may take seconds for the first:
    // each writer's key is checked by bcrypt once), then a little longer, mid-stream.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while acknowledged.lock().unwrap().is_empty() && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut a = a;
    // SIGKILL, mid-write.
    unsafe_free_kill(a.id());
    for writer in writers {
        let _ = writer.await;
    }
    // The writers end as soon as their connections close, which can be before the kernel has
    // finished taking the process down.
    let killed = std::time::Instant::now() + Duration::from_secs(10);
    while a.running() && std::time::Instant::now() < killed {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let status = a
        .exited()
        .expect("the instance ended within 10 s of SIGKILL");
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(9),
        "{status:?}"
    );
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(
        !acknowledged.is_empty(),
        "some bookings were acknowledged before the kill"
    );
    let sql = Cluster::connect(&url).await;
    let held: std::collections::HashSet<String> = sql
        .query("SELECT id FROM bookings WHERE calendar = 'busy'", &[])
        .await
        .unwrap()
        .iter()
        .map(|row| row.get::<_, i64>(0).to_string())
        .collect();
    for id in &acknowledged {
        assert!(
            held.contains(id),
            "booking {id} was acknowledged and is gone"
        );
    }
    // The instance that lives on shows every one of them.
    let calendar = "/calendars/busy/availability?tz=UTC";
    let cb = client(&b);
    eventually("B showing what the database holds", || async {
        let r = cb.get(calendar).await;
        let version: u64 = sql
            .query_one("SELECT version FROM calendars WHERE id = 'busy'", &[])
            .await
            .unwrap()
            .get::<_, i64>(0) as u64;
        r.header("etag")
            .is_some_and(|tag| tag.starts_with(&format!("\"v{version}.")))
    })
    .await;
}

/// `kill -9 pid`.
fn unsafe_free_kill(pid: u32) {
    let status = std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}
