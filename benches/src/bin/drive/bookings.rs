//! The booking scenarios: the flash sale (`flash`), where every client races for few items at
//! once, and a paced stream of bookings (`stream`).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::{Method, StatusCode};
use tokio::sync::Barrier;

use crate::conn::Server;
use crate::setup::{create_many, update, DAYS};
use crate::{now, percentile, rfc3339, Fail};

const DAY: u64 = 86_400;

/// `flash ITEMS CLIENTS`.
pub(crate) async fn flash(server: &Arc<Server>, items: usize, clients: usize) -> Result<(), Fail> {
    // Each item is one half hour, a week ahead at 12:00 UTC, that only it offers.
    let day = now() / DAY + 7;
    let weekday = DAYS[((day + 3) % 7) as usize]; // 1970-01-01 was a Thursday
    create_many(server, items, |i| {
        (format!("item-{i:03}"), "UTC", true, String::new())
    })
    .await?;
    let mut setup = server.connect().await?;
    for i in 0..items {
        setup
            .write(
                Method::PUT,
                &format!("/calendars/item-{i:03}/availability"),
                &server.admin,
                format!(
                    r#"{{"updates":[{}]}}"#,
                    update(weekday, "12:00", "12:30", "available")
                ),
                StatusCode::OK,
            )
            .await?;
    }
    let (start, end) = (
        rfc3339(day * DAY + 12 * 3600),
        rfc3339(day * DAY + 12 * 3600 + 1800),
    );

    // Every client connects first; then all send at once.
    let barrier = Arc::new(Barrier::new(clients + 1));
    let mut tasks = Vec::with_capacity(clients);
    let connecting = Arc::new(tokio::sync::Semaphore::new(64));
    for c in 0..clients {
        let (server, barrier, connecting) = (
            Arc::clone(server),
            Arc::clone(&barrier),
            Arc::clone(&connecting),
        );
        let body = format!(r#"{{"start":"{start}","end":"{end}","label":"client {c}"}}"#);
        tasks.push(tokio::spawn(async move {
            let connected = {
                let _slot = connecting.acquire().await.map_err(|e| e.to_string())?;
                server.connect().await
            };
            barrier.wait().await;
            let mut conn = connected?;
            let path = format!("/calendars/item-{:03}/bookings", c % items);
            let key = format!("flash-{c}");
            let mut answers = Vec::new();
            for _ in 0..3 {
                let answer = conn
                    .send(
                        Method::POST,
                        &path,
                        &[("idempotency-key", &key)],
                        Some(body.clone()),
                    )
                    .await?;
                answers.push((answer, Instant::now()));
            }
            Ok::<_, Fail>(answers)
        }));
    }
    barrier.wait().await;
    let race = Instant::now();
    let mut firsts = Vec::new();
    let mut won_by_item = vec![Vec::new(); items];
    let (mut losers, mut others, mut flipped) = (0, 0, 0);
    let mut sold_out = Duration::ZERO;
    for (c, task) in tasks.into_iter().enumerate() {
        let answers = task.await.map_err(|e| e.to_string())??;
        let (first, at) = &answers[0];
        firsts.push(first.took);
        match first.status {
            StatusCode::CREATED => {
                let id = first.json()?["id"].as_str().unwrap_or("").to_owned();
                won_by_item[c % items].push(id);
                sold_out = sold_out.max(at.duration_since(race));
            }
            StatusCode::CONFLICT => losers += 1,
            _ => others += 1,
        }
        // A repeat answers what the first answer said: the same booking, or a refusal.
        for (again, _) in &answers[1..] {
            let same = again.status == first.status
                && (first.status != StatusCode::CREATED || again.body == first.body);
            if !same {
                flipped += 1;
            }
        }
    }
    firsts.sort();
    let winners: usize = won_by_item.iter().map(Vec::len).sum();
    let items_sold = won_by_item.iter().filter(|w| w.len() == 1).count();
    println!(
        "FLASH clients={clients} items={items} winners={winners} items_sold_once={items_sold} \
         losers_409={losers} other={others} repeats_changed={flipped} sold_out_ms={:.1} \
         p50_ms={:.1} p99_ms={:.1}",
        sold_out.as_secs_f64() * 1000.0,
        percentile(&firsts, 0.50),
        percentile(&firsts, 0.99),
    );
    // What the calendars hold: one booking each.
    for i in 0..items {
        let listed = setup
            .send(
                Method::GET,
                &format!("/calendars/item-{i:03}/bookings"),
                &[("authorization", &format!("Bearer {}", server.admin))],
                None,
            )
            .await?
            .expect(StatusCode::OK, "listing bookings")?
            .json()?;
        let held = listed["bookings"].as_array().map_or(0, Vec::len);
        if held != 1 {
            return Err(format!("item-{i:03} holds {held} bookings, not 1"));
        }
    }
    if winners != items || items_sold != items || others != 0 || flipped != 0 {
        return Err("the flash sale did not end with one winner per item".to_owned());
    }
    Ok(())
}

/// `stream RATE SECONDS CALENDAR [STATUS]`: paced bookings of one-hour spans, each a new hour;
/// each answer must have status `expect`.
pub(crate) async fn stream(
    server: &Arc<Server>,
    rate: usize,
    seconds: usize,
    cal: &str,
    expect: StatusCode,
) -> Result<(), Fail> {
    let first = (now() / DAY + 30) * DAY;
    let next = Arc::new(AtomicUsize::new(0));
    let total = rate * seconds;
    let began = Instant::now();
    let connections = 8;
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (server, next, cal) = (Arc::clone(server), Arc::clone(&next), cal.to_owned());
        tasks.push(tokio::spawn(async move {
            let mut conn = server.connect().await?;
            let mut took = Vec::new();
            let mut failed = 0usize;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    return Ok::<_, Fail>((took, failed));
                }
                // Paced: request i leaves at i / rate seconds.
                let due = began + Duration::from_secs_f64(i as f64 / rate as f64);
                tokio::time::sleep_until(due.into()).await;
                let start = first + i as u64 * 3600;
                let body = format!(
                    r#"{{"start":"{}","end":"{}","label":"stream"}}"#,
                    rfc3339(start),
                    rfc3339(start + 3600)
                );
                let answer = conn
                    .send(
                        Method::POST,
                        &format!("/calendars/{cal}/bookings"),
                        &[],
                        Some(body),
                    )
                    .await?;
                if answer.status != expect {
                    failed += 1;
                }
                took.push(answer.took);
            }
        }));
    }
    let mut all = Vec::new();
    let mut failed = 0;
    for task in tasks {
        let (took, f) = task.await.map_err(|e| e.to_string())??;
        all.extend(took);
        failed += f;
    }
    all.sort();
    let secs = began.elapsed().as_secs_f64();
    println!(
        "STREAM as_expected={} failed={failed} per_second={:.0} p50_ms={:.2} p99_ms={:.2}",
        all.len() - failed,
        (all.len() as f64) / secs,
        percentile(&all, 0.50),
        percentile(&all, 0.99),
    );
    if failed > 0 {
        return Err(format!(
            "{failed} answers of the stream were not the expected {expect}"
        ));
    }
    Ok(())
}
