//! The load driver of the scheduling scenarios: what wrk and h2load cannot do, because every
//! request differs (a span, an `Idempotency-Key`, a week) or because the clients must start
//! together. `benches/book.sh` and `benches/load.sh` run it against a release server.
//!
//! ```text
//! drive URL CERT ADMIN_KEY COMMAND [ARGS]
//!   rooms N                 create N public calendars room-000.. (UTC), available all week
//!   members N               create N calendars member-0000.. in 20 zones, each with its week,
//!                           and the named groups g10, g100 and g<N>
//!   flash ITEMS CLIENTS     the flash sale: ITEMS calendars item-000.. with one available
//!                           half hour; CLIENTS clients (each on its own connection, all
//!                           connected first) race for them at once, with an Idempotency-Key
//!                           each, then repeat their request twice
//!   stream RATE SECONDS CAL [STATUS]
//!                           book one-hour spans of CAL at RATE a second, paced; every answer
//!                           must be STATUS (201, or 409 for a calendar that refuses them all)
//!   spin SECONDS            no server: count turns of a CPU-bound loop for SECONDS, to learn
//!                           by how much whatever shares its CPU slows it
//!   overlap SIZE CONNS SECS ask POST /overlap about SIZE members flat out, each question a
//!                           week and zone not asked before in the last 10,000
//!   largest SIZES           for each size, 200 uncached questions one after another: p50, p99
//! ```
//!
//! Each command prints one line starting with its name in capitals, `KEY=VALUE` pairs after,
//! and fails (exit 1) when an answer is not what the scenario requires.

// The lines it prints are its results.
#![allow(clippy::print_stdout)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use availability_benches::ZONES;
use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio::sync::Barrier;

type Fail = String;

const DAY: u64 = 86_400;
const DAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    if let Err(message) = runtime.block_on(run(&args)) {
        eprintln!("drive: {message}");
        std::process::exit(1);
    }
}

async fn run(args: &[String]) -> Result<(), Fail> {
    let usage = "usage: drive URL CERT ADMIN_KEY rooms N | members N | flash ITEMS CLIENTS \
                 | stream RATE SECONDS CALENDAR [STATUS] | spin SECONDS \
                 | overlap SIZE CONNECTIONS SECONDS | largest SIZES";
    let [url, cert, admin, command, rest @ ..] = args else {
        return Err(usage.to_owned());
    };
    let server = Arc::new(Server::new(url, cert, admin)?);
    let number = |i: usize| -> Result<usize, Fail> {
        rest.get(i)
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| usage.to_owned())
    };
    match command.as_str() {
        "rooms" => rooms(&server, number(0)?).await,
        "members" => members(&server, number(0)?).await,
        "flash" => flash(&server, number(0)?, number(1)?).await,
        "stream" => {
            let calendar = rest.get(2).ok_or_else(|| usage.to_owned())?;
            let expect = match rest.get(3).map(String::as_str) {
                None | Some("201") => StatusCode::CREATED,
                Some("409") => StatusCode::CONFLICT,
                Some(_) => return Err(usage.to_owned()),
            };
            stream(&server, number(0)?, number(1)?, calendar, expect).await
        }
        "spin" => {
            spin(number(0)?);
            Ok(())
        }
        "overlap" => overlap(&server, number(0)?, number(1)?, number(2)?).await,
        "largest" => {
            let sizes: Vec<usize> = rest
                .first()
                .ok_or_else(|| usage.to_owned())?
                .split(',')
                .map(|n| n.parse().map_err(|_| usage.to_owned()))
                .collect::<Result<_, _>>()?;
            largest(&server, &sizes).await
        }
        _ => Err(usage.to_owned()),
    }
}

// ---------------------------------------------------------------------------------------
// The connection.

/// Where the server is, how to trust it, and the admin key.
struct Server {
    addr: SocketAddr,
    tls: Arc<rustls::ClientConfig>,
    admin: String,
}

/// One keep-alive HTTP/1.1 connection.
struct Conn {
    sender: SendRequest<Full<Bytes>>,
}

/// An answer: status, body, and how long it took.
struct Answer {
    status: StatusCode,
    body: Bytes,
    took: Duration,
}

impl Answer {
    fn json(&self) -> Result<serde_json::Value, Fail> {
        serde_json::from_slice(&self.body).map_err(|e| format!("an answer is not JSON: {e}"))
    }

    fn expect(self, status: StatusCode, what: &str) -> Result<Answer, Fail> {
        if self.status == status {
            Ok(self)
        } else {
            Err(format!(
                "{what}: expected {status}, got {}: {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            ))
        }
    }
}

impl Server {
    fn new(url: &str, cert: &str, admin: &str) -> Result<Server, Fail> {
        let addr = url
            .strip_prefix("https://")
            .ok_or("the URL is https://127.0.0.1:PORT")?
            .trim_end_matches('/')
            .parse()
            .map_err(|e| format!("the URL's address: {e}"))?;
        let tls = availability_benches::tls_client(cert)?;
        Ok(Server {
            addr,
            tls: Arc::new(tls),
            admin: admin.to_owned(),
        })
    }

    async fn connect(&self) -> Result<Conn, Fail> {
        let tcp = TcpStream::connect(self.addr)
            .await
            .map_err(|e| format!("connecting: {e}"))?;
        tcp.set_nodelay(true).map_err(|e| e.to_string())?;
        let tls = tokio_rustls::TlsConnector::from(Arc::clone(&self.tls))
            .connect(ServerName::try_from("localhost").expect("a name"), tcp)
            .await
            .map_err(|e| format!("the TLS handshake: {e}"))?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .map_err(|e| format!("the HTTP handshake: {e}"))?;
        tokio::spawn(conn);
        Ok(Conn { sender })
    }
}

impl Conn {
    async fn send(
        &mut self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<String>,
    ) -> Result<Answer, Fail> {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header("host", "localhost");
        if body.is_some() {
            request = request.header("content-type", "application/json");
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .map_err(|e| e.to_string())?;
        let start = Instant::now();
        self.sender
            .ready()
            .await
            .map_err(|e| format!("the connection: {e}"))?;
        let response = self
            .sender
            .send_request(request)
            .await
            .map_err(|e| format!("a request to {path}: {e}"))?;
        let (parts, body) = response.into_parts();
        let body = body
            .collect()
            .await
            .map_err(|e| format!("an answer from {path}: {e}"))?
            .to_bytes();
        Ok(Answer {
            status: parts.status,
            body,
            took: start.elapsed(),
        })
    }

    /// A write with `key`; the answer must have `status`.
    async fn write(
        &mut self,
        method: Method,
        path: &str,
        key: &str,
        body: String,
        status: StatusCode,
    ) -> Result<Answer, Fail> {
        let auth = format!("Bearer {key}");
        self.send(
            method.clone(),
            path,
            &[("authorization", &auth)],
            Some(body),
        )
        .await?
        .expect(status, &format!("{method} {path}"))
    }
}

// ---------------------------------------------------------------------------------------
// Setup.

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

/// One update of a week: `day` `from`-`to` has `status`.
fn update(day: &str, from: &str, to: &str, status: &str) -> String {
    format!(r#"{{"day":"{day}","from":"{from}","to":"{to}","status":"{status}"}}"#)
}

/// Creates `n` calendars with `make(i) -> (id, zone, public, week)` over a few connections.
async fn create_many(
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
async fn rooms(server: &Arc<Server>, n: usize) -> Result<(), Fail> {
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
async fn members(server: &Arc<Server>, n: usize) -> Result<(), Fail> {
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

// ---------------------------------------------------------------------------------------
// Scenarios.

/// Seconds since the epoch.
fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `unix` as RFC 3339 in UTC, as the server writes instants.
fn rfc3339(unix: u64) -> String {
    i64::try_from(unix)
        .ok()
        .and_then(|s| s.checked_mul(1000))
        .and_then(availability_server::render::utc_instant)
        .unwrap_or_default()
}

/// The `p`-th percentile of sorted durations, in milliseconds.
fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i].as_secs_f64() * 1000.0
}

/// `flash ITEMS CLIENTS`.
async fn flash(server: &Arc<Server>, items: usize, clients: usize) -> Result<(), Fail> {
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
async fn stream(
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

/// `spin SECONDS`: turns of a loop that only computes, per second, over SECONDS. Pinned to the
/// server's CPU it is a reader that never waits: by how much the server's work slows it is
/// that work's cost to the CPU, interrupts, context switches and all, which the server's own
/// CPU time leaves out.
fn spin(seconds: usize) {
    let began = Instant::now();
    let until = Duration::from_secs(seconds as u64);
    let (mut turns, mut x) = (0u64, 0u64);
    while began.elapsed() < until {
        for i in 0..10_000u64 {
            x = std::hint::black_box(x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(i));
        }
        turns += 1;
    }
    println!(
        "SPIN turns_per_second={:.1}",
        turns as f64 / began.elapsed().as_secs_f64()
    );
}

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
async fn overlap(
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
async fn largest(server: &Arc<Server>, sizes: &[usize]) -> Result<(), Fail> {
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
    fn rfc3339_writes_civil_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400 + 3600 * 13), "2000-02-29T13:00:00Z");
        assert_eq!(rfc3339(1_798_761_600), "2027-01-01T00:00:00Z");
    }

    #[test]
    fn questions_do_not_repeat_within_a_cycle() {
        let asked: std::collections::HashSet<String> =
            (0..10_400).map(|i| question(2, i)).collect();
        assert_eq!(asked.len(), 10_400);
    }
}
