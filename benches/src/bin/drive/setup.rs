//! Setup: the calendars and groups the scenarios run against (`rooms`, `members`), created
//! with the admin key over a few connections.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use http::{Method, StatusCode};

use crate::conn::{Conn, Server};
use crate::Fail;

pub(crate) use availability_benches::ZONES;

pub(crate) const DAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// Creates calendar `id` in `zone` (public bookings when `public`) and writes `week` (a list
/// of updates). Both with the admin key, which the server verified once and remembers: each
/// calendar's own key would cost a bcrypt check of its own.
async fn calendar(
    server: &Server,
    conn: &mut Conn,
    id: &str,
    zone: &str,
    public: bool,
    week: &str,
) -> Result<(), Fail> {
    let policy = if public { "public" } else { "key" };
    conn.write(
        Method::POST,
        "/calendars",
        &server.admin,
        format!(r#"{{"id":"{id}","timezone":"{zone}","booking":"{policy}"}}"#),
        StatusCode::CREATED,
    )
    .await?;
    conn.write(
        Method::PUT,
        &format!("/calendars/{id}/availability"),
        &server.admin,
        format!(r#"{{"updates":[{week}]}}"#),
        StatusCode::OK,
    )
    .await?;
    Ok(())
}

/// Creates calendar `id` as [`calendar`] does, on a connection of its own.
pub(crate) async fn calendar_of(
    server: &Server,
    id: &str,
    zone: &str,
    public: bool,
    week: &str,
) -> Result<(), Fail> {
    calendar(server, &mut server.connect().await?, id, zone, public, week).await
}

/// One update of a week: `day` `from`-`to` has `status`.
pub(crate) fn update(day: &str, from: &str, to: &str, status: &str) -> String {
    format!(r#"{{"day":"{day}","from":"{from}","to":"{to}","status":"{status}"}}"#)
}

/// Creates `n` calendars with `make(i) -> (id, zone, public, week)` over a few connections.
pub(crate) async fn create_many(
    server: &Arc<Server>,
    n: usize,
    make: fn(usize) -> (String, &'static str, bool, String),
) -> Result<(), Fail> {
    // One request verifies the admin key (bcrypt, slow on purpose); the rest find it remembered.
    server
        .connect()
        .await?
        .send(
            Method::GET,
            "/calendars",
            &[("authorization", &format!("Bearer {}", server.admin))],
            None,
        )
        .await?
        .expect(StatusCode::OK, "GET /calendars")?;
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (server, next) = (Arc::clone(server), Arc::clone(&next));
        tasks.push(tokio::spawn(async move {
            let mut conn = server.connect().await?;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    return Ok::<(), Fail>(());
                }
                let (id, zone, public, week) = make(i);
                calendar(&server, &mut conn, &id, zone, public, &week).await?;
            }
        }));
    }
    for task in tasks {
        task.await.map_err(|e| e.to_string())??;
    }
    Ok(())
}

/// `rooms N`: rooms anyone may book, available around the clock.
pub(crate) async fn rooms(server: &Arc<Server>, n: usize) -> Result<(), Fail> {
    let start = Instant::now();
    create_many(server, n, |i| {
        let week: Vec<String> = DAYS
            .iter()
            .map(|day| update(day, "00:00", "24:00", "available"))
            .collect();
        (format!("room-{i:03}"), "UTC", true, week.join(","))
    })
    .await?;
    println!(
        "ROOMS created={n} seconds={:.1}",
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

/// `members N`: calendars in 20 zones with working weeks that differ by member, and groups.
pub(crate) async fn members(server: &Arc<Server>, n: usize) -> Result<(), Fail> {
    let start = Instant::now();
    create_many(server, n, |i| {
        let from = 7 + i % 5;
        let mut week: Vec<String> = DAYS[..5]
            .iter()
            .map(|day| {
                update(
                    day,
                    &format!("{from:02}:00"),
                    &format!("{:02}:30", from + 8),
                    "available",
                )
            })
            .collect();
        week.push(update(DAYS[i % 5], "12:00", "13:00", "maybe"));
        (
            format!("member-{i:04}"),
            ZONES[i % ZONES.len()],
            false,
            week.join(","),
        )
    })
    .await?;
    let mut conn = server.connect().await?;
    let mut sizes = vec![10, 100, n];
    sizes.retain(|&s| s <= n);
    sizes.dedup();
    for size in &sizes {
        let names: Vec<String> = (0..*size).map(|i| format!("\"member-{i:04}\"")).collect();
        conn.write(
            Method::PUT,
            &format!("/groups/g{size}"),
            &server.admin,
            format!(r#"{{"members":[{}]}}"#, names.join(",")),
            StatusCode::CREATED,
        )
        .await?;
    }
    println!(
        "MEMBERS created={n} groups={} seconds={:.1}",
        sizes
            .iter()
            .map(|s| format!("g{s}"))
            .collect::<Vec<_>>()
            .join(","),
        start.elapsed().as_secs_f64()
    );
    Ok(())
}
