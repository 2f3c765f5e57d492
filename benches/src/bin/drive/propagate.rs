//! Propagation between instances on one database (`propagate`): bookings made through one
//! instance, one at a time, and for each the time from its answer to the calendar's event on
//! another instance's event stream.

use std::sync::Arc;
use std::time::{Duration, Instant};

use http::{Method, StatusCode};
use http_body_util::BodyExt;
use tokio::sync::mpsc;

use crate::conn::Server;
use crate::setup::{calendar_of, update, DAYS};
use crate::{now, percentile, rfc3339, Fail};

/// How long an event may take before the run fails.
const WAIT: Duration = Duration::from_secs(5);

/// `propagate OTHER_URL OTHER_CERT CALENDAR COUNT GAP_MS`: COUNT bookings of a new calendar
/// through this server, GAP_MS apart, each followed on the other's stream.
pub(crate) async fn propagate(
    a: &Arc<Server>,
    b: &Server,
    calendar: &str,
    count: usize,
    gap: Duration,
) -> Result<(), Fail> {
    let week: Vec<String> = DAYS
        .iter()
        .map(|day| update(day, "00:00", "24:00", "available"))
        .collect();
    calendar_of(a, calendar, "UTC", true, &week.join(",")).await?;
    let mut other = b.connect().await?;
    let began = Instant::now();
    while other
        .send(Method::GET, &format!("/calendars/{calendar}"), &[], None)
        .await?
        .status
        != StatusCode::OK
    {
        if began.elapsed() > WAIT {
            return Err("the calendar never reached the other instance".to_owned());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let events = other.open(&format!("/calendars/{calendar}/events")).await?;
    // Each event's version, and when it arrived.
    let (heard, mut versions) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut body = events;
        let mut text = String::new();
        while let Some(Ok(frame)) = body.frame().await {
            let at = Instant::now();
            let Ok(data) = frame.into_data() else {
                continue;
            };
            text.push_str(&String::from_utf8_lossy(&data));
            while let Some(end) = text.find('\n') {
                let line: String = text.drain(..=end).collect();
                if let Some(version) = line.trim_end().strip_prefix("id: ") {
                    if let Ok(version) = version.parse::<u64>() {
                        if heard.send((version, at)).is_err() {
                            return;
                        }
                    }
                }
            }
        }
    });
    let mut conn = a.connect().await?;
    let first = now() / 3600 + 24;
    let mut delays = Vec::with_capacity(count);
    for i in 0..count as u64 {
        let (start, end) = (rfc3339((first + i) * 3600), rfc3339((first + i + 1) * 3600));
        let made = conn
            .write(
                Method::POST,
                &format!("/calendars/{calendar}/bookings"),
                &a.admin,
                format!(r#"{{"start":"{start}","end":"{end}"}}"#),
                StatusCode::CREATED,
            )
            .await?;
        let answered = Instant::now();
        let version = made.json()?["version"]
            .as_u64()
            .ok_or("a booking's answer without its version")?;
        let arrived = loop {
            match tokio::time::timeout(WAIT, versions.recv()).await {
                Ok(Some((v, at))) if v >= version => break at,
                Ok(Some(_)) => {}
                Ok(None) => return Err("the other instance's stream ended".to_owned()),
                Err(_) => {
                    return Err(format!(
                        "version {version} never reached the other instance"
                    ))
                }
            }
        };
        delays.push(arrived.saturating_duration_since(answered));
        tokio::time::sleep(gap).await;
    }
    delays.sort();
    println!(
        "PROPAGATE count={count} p50_ms={:.2} p99_ms={:.2} max_ms={:.2}",
        percentile(&delays, 0.5),
        percentile(&delays, 0.99),
        percentile(&delays, 1.0),
    );
    Ok(())
}
