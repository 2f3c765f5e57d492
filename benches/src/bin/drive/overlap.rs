//! The overlap scenarios: uncached questions about many members flat out (`overlap`), and one
//! at a time by group size (`largest`).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::{Method, StatusCode};

use crate::conn::Server;
use crate::setup::ZONES;
use crate::{percentile, Fail};

/// The `i`-th question about `size` members: every (week, zone) pair of 2026-2035 in turn,
/// so that none repeats within 10,400 questions and no render cache can answer it.
fn question(size: usize, i: usize) -> String {
    let weeks = 52 * 10;
    let week = i % weeks;
    let zone = ZONES[(i / weeks) % ZONES.len()];
    let names: Vec<String> = (0..size).map(|m| format!("\"member-{m:04}\"")).collect();
    format!(
        r#"{{"calendars":[{}],"tz":"{zone}","week":"{}-W{:02}","format":"json"}}"#,
        names.join(","),
        2026 + week / 52,
        week % 52 + 1
    )
}

/// `overlap SIZE CONNECTIONS SECONDS`: uncached questions flat out.
pub(crate) async fn overlap(
    server: &Arc<Server>,
    size: usize,
    connections: usize,
    seconds: usize,
) -> Result<(), Fail> {
    let next = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds as u64);
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (server, next) = (Arc::clone(server), Arc::clone(&next));
        tasks.push(tokio::spawn(async move {
            let mut conn = server.connect().await?;
            let mut took = Vec::new();
            while Instant::now() < deadline {
                let body = question(size, next.fetch_add(1, Ordering::Relaxed));
                let answer = conn
                    .send(Method::POST, "/overlap", &[], Some(body))
                    .await?
                    .expect(StatusCode::OK, "POST /overlap")?;
                took.push(answer.took);
            }
            Ok::<_, Fail>(took)
        }));
    }
    let began = Instant::now();
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.map_err(|e| e.to_string())??);
    }
    let secs = began.elapsed().as_secs_f64();
    all.sort();
    println!(
        "OVERLAP size={size} connections={connections} requests={} per_second={:.0} \
         p50_ms={:.2} p99_ms={:.2}",
        all.len(),
        all.len() as f64 / secs,
        percentile(&all, 0.50),
        percentile(&all, 0.99),
    );
    Ok(())
}

/// `largest SIZES`: one connection, 200 uncached questions per size, one at a time.
pub(crate) async fn largest(server: &Arc<Server>, sizes: &[usize]) -> Result<(), Fail> {
    let mut conn = server.connect().await?;
    let mut asked = 0;
    for &size in sizes {
        let mut took = Vec::new();
        for _ in 0..200 {
            let answer = conn
                .send(Method::POST, "/overlap", &[], Some(question(size, asked)))
                .await?
                .expect(StatusCode::OK, "POST /overlap")?;
            asked += 1;
            took.push(answer.took);
        }
        took.sort();
        println!(
            "LARGEST size={size} p50_ms={:.3} p99_ms={:.3}",
            percentile(&took, 0.50),
            percentile(&took, 0.99)
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn questions_do_not_repeat_within_a_cycle() {
        let asked: std::collections::HashSet<String> =
            (0..10_400).map(|i| question(2, i)).collect();
        assert_eq!(asked.len(), 10_400);
    }
}
