//! The store-size benchmark's own measurements (`benches/scale.sh` runs it): filling a store
//! with calendars, waiting for a starting server's first answer, and timing the store in
//! process. Only the core's public API touches the store.
//!
//! ```text
//! scale populate DIR FROM TO     create calendars c<FROM>..c<TO> (7 digits) in DIR's store,
//!                                each with an owner zone, a weekly pattern and one key;
//!                                add an admin key when the store has none
//! scale ready PORT CERT PID      poll https://127.0.0.1:PORT/readyz until it answers 200,
//!                                while process PID lives; print when, and when it first
//!                                answered at all, in Unix microseconds
//! scale measure DIR N CREATES COMMITS THREADS
//!                                open DIR's store of N calendars in this process and time
//!                                it, then lookups, commits (one at a time and from THREADS
//!                                threads), CREATES durable creates, and five durable
//!                                batches of 1,000 creates (one commit each)
//! scale side-by-side SMALL N LARGE N CREATES
//!                                open both stores (of the N calendars each) in this process
//!                                and time CREATES durable creates in each, one here and one
//!                                there by turns, so that both meet the same disk; then as
//!                                many durable commits to random calendars, by turns too
//! ```
//!
//! Each command prints one line starting with its name in capitals and `KEY=VALUE` pairs
//! after; `populate` also prints `REFUSED <calendar> <error>` when the store refused a
//! calendar (it stops there, and that is not a failure). It fails (exit 1) on anything else
//! going wrong.
//!
//! Keys: a bcrypt hash per calendar would take hours at a million calendars, so one key is
//! hashed once (at the server's default cost, 12) and its hash stored under every calendar's
//! own random key id. The hash matches only that one key's token; the records have the size
//! and shape of real ones.

// The lines it prints are its results.
#![allow(clippy::print_stdout)]

use std::hint::black_box;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use availability_benches::{time, tls_client, ZONES};
use availability_core::store::{Authority, Change, KeyHash, NewCalendar, Store};
use availability_core::{Batch, Day, Entry, Status};
use availability_server::auth;
use availability_server::store::STORE_FILE;
use rustls::pki_types::ServerName;

type Fail = String;

/// The bcrypt cost of the one hashed key: the server's default.
const BCRYPT_COST: u32 = 12;
/// Calendars per timed batch create, and how many batches `measure` times.
const BATCH: u64 = 1_000;
const BATCHES: u64 = 5;

fn main() {
    if let Err(message) = run() {
        eprintln!("scale: {message}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), Fail> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    match words.as_slice() {
        ["populate", dir, from, to] => populate(Path::new(dir), number(from)?, number(to)?),
        ["ready", port, cert, pid] => ready(number(port)?, cert, number(pid)?),
        ["measure", dir, n, creates, commits, threads] => measure(
            Path::new(dir),
            number(n)?,
            number(creates)?,
            number(commits)?,
            number(threads)?,
        ),
        ["side-by-side", small, n_small, large, n_large, creates] => side_by_side(
            (Path::new(small), number(n_small)?),
            (Path::new(large), number(n_large)?),
            number(creates)?,
        ),
        _ => Err("usage: scale populate DIR FROM TO | ready PORT CERT PID | \
                  measure DIR N CREATES COMMITS THREADS | \
                  side-by-side SMALL N LARGE N CREATES (see the source's header)"
            .to_owned()),
    }
}

fn number<T: std::str::FromStr>(word: &str) -> Result<T, Fail> {
    word.parse()
        .map_err(|_| format!("expected a whole number, not {word:?}"))
}

/// The id of calendar `i`: `c0001234`.
fn calendar_id(i: u64) -> String {
    format!("c{i:07}")
}

fn zone(i: u64) -> &'static str {
    ZONES[(i % ZONES.len() as u64) as usize]
}

/// `HH:MM` on the half hour.
fn at(hour: usize, minute: usize) -> availability_core::Time {
    time(hour * 2 + minute / 30)
}

/// The weekly pattern of calendar `i`: one of four weeks of a few ranges each.
fn pattern(i: u64) -> Batch {
    use Status::{Available, Maybe};
    let mut entries = Vec::new();
    match i % 4 {
        // Office hours with a maybe lunch hour.
        0 => {
            for day in Day::WEEKDAYS {
                entries.push(Entry::range(day, at(9, 0), at(17, 0), Available));
                entries.push(Entry::range(day, at(12, 0), at(13, 0), Maybe));
            }
        }
        // An early shift, four days.
        1 => {
            for day in [Day::Monday, Day::Tuesday, Day::Wednesday, Day::Thursday] {
                entries.push(Entry::range(day, at(7, 0), at(15, 0), Available));
            }
        }
        // Part time, and maybe on Saturday morning.
        2 => {
            for day in [Day::Tuesday, Day::Thursday] {
                entries.push(Entry::range(day, at(13, 0), at(18, 30), Available));
            }
            entries.push(Entry::range(Day::Saturday, at(10, 0), at(12, 0), Maybe));
        }
        // Evenings, and a maybe Sunday.
        _ => {
            for day in Day::WEEKDAYS {
                entries.push(Entry::range(day, at(17, 30), at(21, 0), Available));
            }
            entries.push(Entry::range(Day::Sunday, at(10, 0), at(14, 0), Maybe));
        }
    }
    Batch::from(entries)
}

/// A calendar key: a new random key id with `hash`.
fn key(hash: &str) -> Result<KeyHash, Fail> {
    let id = auth::generate()
        .map_err(|e| format!("the random number generator: {e}"))?
        .id;
    KeyHash::new(id, hash).map_err(|e| format!("the key: {e}"))
}

fn open(dir: &Path) -> Result<Store, Fail> {
    let path = dir.join(STORE_FILE);
    Store::open(&path).map_err(|e| format!("opening {}: {e}", path.display()))
}

// --- populate ------------------------------------------------------------------------------

fn populate(dir: &Path, from: u64, to: u64) -> Result<(), Fail> {
    std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let store = open(dir)?;
    let token = auth::generate()
        .map_err(|e| format!("the random number generator: {e}"))?
        .token;
    let hash = auth::hash_blocking(&token, BCRYPT_COST).map_err(|e| e.to_string())?;
    if store.admin_keys().is_empty() {
        // So that the server does not make (and bcrypt) one on its start.
        store
            .add_admin_key(key(&hash)?, &Authority::Unchecked)
            .map_err(|e| format!("adding the admin key: {e}"))?;
    }
    let started = Instant::now();
    let (mut creating, mut committing) = (Duration::ZERO, Duration::ZERO);
    let mut built = 0;
    let step = ((to + 1).saturating_sub(from) / 10).max(1);
    let mut lap = Instant::now();
    for i in from..=to {
        let id = calendar_id(i);
        let keys = vec![key(&hash)?];
        let t = Instant::now();
        match store.create(&id, zone(i), keys, &Authority::Unchecked) {
            Ok(_) => {}
            Err(e) if e.is_capacity() => {
                println!("REFUSED {i} {e}");
                break;
            }
            Err(e) => return Err(format!("creating {id}: {e}")),
        }
        let t2 = Instant::now();
        creating += t2 - t;
        store
            .commit(&id, None, &Change::Replace(pattern(i)))
            .map_err(|e| format!("writing the week of {id}: {e}"))?;
        committing += t2.elapsed();
        built += 1;
        if built % step == 0 {
            let rate = step as f64 / lap.elapsed().as_secs_f64();
            eprintln!("scale: populated up to {id}, {rate:.0} calendars/s");
            lap = Instant::now();
        }
    }
    println!(
        "POPULATE built={built} seconds={:.2} create_seconds={:.2} commit_seconds={:.2}",
        started.elapsed().as_secs_f64(),
        creating.as_secs_f64(),
        committing.as_secs_f64(),
    );
    Ok(())
}

// --- ready ---------------------------------------------------------------------------------

/// Polls `GET /readyz` every 2 ms until it answers 200, for at most ten minutes, and prints
/// the time it did and the time of the first answer of any status (the port answers 503
/// while the store loads). A refused connection costs next to nothing; once the port answers,
/// the polls go over one kept-alive connection (a new TLS handshake every 2 ms would take a
/// good part of the CPU the server is loading on), opened again when the server closes it
/// (as it does when the API takes over the port).
fn ready(port: u16, cert: &str, pid: u32) -> Result<(), Fail> {
    let tls = tls_client(cert)?;
    let tls = Arc::new(tls);
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut last = String::from("no connection yet");
    let epoch_us = || -> Result<u128, Fail> {
        Ok(SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_err(|e| e.to_string())?
            .as_micros())
    };
    let mut first = None;
    let mut connection = None;
    while Instant::now() < deadline {
        if !Path::new(&format!("/proc/{pid}")).exists() {
            return Err(format!("the server (process {pid}) exited; last: {last}"));
        }
        if connection.is_none() {
            match connect(addr, &tls) {
                Ok(stream) => connection = Some(stream),
                Err(e) => last = e,
            }
        }
        if let Some(stream) = connection.as_mut() {
            match readyz(stream) {
                Ok(status) => {
                    let now = epoch_us()?;
                    let first = *first.get_or_insert(now);
                    if status == 200 {
                        println!("READY epoch_us={now} first_answer_epoch_us={first}");
                        return Ok(());
                    }
                    last = format!("answered {status}");
                }
                Err(e) => {
                    // Closed (the API took over the port), or not yet answering: anew.
                    last = e;
                    connection = None;
                    continue;
                }
            }
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    Err(format!(
        "127.0.0.1:{port} was not ready within ten minutes; last: {last}"
    ))
}

type Tls = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

/// A TLS connection to the server.
fn connect(addr: SocketAddr, tls: &Arc<rustls::ClientConfig>) -> Result<Tls, Fail> {
    let tcp =
        TcpStream::connect_timeout(&addr, Duration::from_secs(1)).map_err(|e| e.to_string())?;
    tcp.set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    let name = ServerName::try_from("localhost").map_err(|e| e.to_string())?;
    let conn = rustls::ClientConnection::new(Arc::clone(tls), name).map_err(|e| e.to_string())?;
    Ok(rustls::StreamOwned::new(conn, tcp))
}

/// The status of one `GET /readyz` on `stream`, its answer read whole so that the next can
/// follow on the same connection.
fn readyz(stream: &mut Tls) -> Result<u16, Fail> {
    stream
        .write_all(b"GET /readyz HTTP/1.1\r\nhost: localhost\r\n\r\n")
        .map_err(|e| e.to_string())?;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        stream.read_exact(&mut byte).map_err(|e| e.to_string())?;
        head.push(byte[0]);
        if head.len() > 16 * 1024 {
            return Err("an answer head over 16 KiB".to_owned());
        }
    }
    let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
    let status = head
        .strip_prefix("http/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("answered {head:?}"))?;
    let length: usize = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| format!("an answer without a length: {head:?}"))?;
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).map_err(|e| e.to_string())?;
    // After `connection: close` the next poll finds the connection closed, and opens one.
    Ok(status)
}

// --- measure -------------------------------------------------------------------------------

/// A small, fast, seeded generator (splitmix64): the same calendars every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A calendar number from 1 to `n`.
    fn calendar(&mut self, n: u64) -> u64 {
        self.next() % n + 1
    }
}

/// A line of `/proc/self/status` in kB (VmRSS, RssAnon, RssFile), 0 where there is none.
fn status_kb(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// A duration in microseconds.
fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// "p50 p99 per_second" of latencies taken over `wall`.
fn summary(mut latencies: Vec<Duration>, wall: Duration) -> (f64, f64, f64) {
    latencies.sort_unstable();
    let rate = latencies.len() as f64 / wall.as_secs_f64().max(1e-9);
    (
        micros(availability_benches::percentile(&latencies, 0.50)),
        micros(availability_benches::percentile(&latencies, 0.99)),
        rate,
    )
}

/// Durable creates, then commits, in a small store and a large one by turns (the first of
/// each pair alternating), so that the disk's moods fall on both alike: what a write costs as
/// the store grows, apart from what the disk costs that minute.
fn side_by_side(small: (&Path, u64), large: (&Path, u64), creates: u64) -> Result<(), Fail> {
    let stores = [(open(small.0)?, small.1), (open(large.0)?, large.1)];
    let hash = stores[0]
        .0
        .get(&calendar_id(1))
        .and_then(|c| c.keys().first().map(|k| k.hash().to_owned()))
        .ok_or("calendar 1 has no key")?;
    let mut latencies = [Vec::new(), Vec::new()];
    for round in 0..creates {
        let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        for which in order {
            let (store, n) = &stores[which];
            let i = n + 1 + round;
            let keys = vec![key(&hash)?];
            let t = Instant::now();
            store
                .create(&calendar_id(i), zone(i), keys, &Authority::Unchecked)
                .map_err(|e| format!("creating {}: {e}", calendar_id(i)))?;
            latencies[which].push(t.elapsed());
        }
    }
    // Then as many commits of a small change to random calendars, by turns likewise.
    let mut rngs = [Rng(7), Rng(8)];
    let mut commit_latencies = [Vec::new(), Vec::new()];
    for round in 0..creates {
        let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        for which in order {
            let (store, n) = &stores[which];
            let id = calendar_id(rngs[which].calendar(*n));
            let change = small_change(round);
            let t = Instant::now();
            store
                .commit(&id, None, &change)
                .map_err(|e| format!("committing to {id}: {e}"))?;
            commit_latencies[which].push(t.elapsed());
        }
    }
    let mut out = String::new();
    for (what, [small_times, large_times]) in [("create", latencies), ("commit", commit_latencies)]
    {
        let (small_p50, small_p99, _) = summary(small_times, Duration::ZERO);
        let (large_p50, large_p99, _) = summary(large_times, Duration::ZERO);
        out.push_str(&format!(
            " {what}_small_p50_us={small_p50:.0} {what}_small_p99_us={small_p99:.0} \
             {what}_large_p50_us={large_p50:.0} {what}_large_p99_us={large_p99:.0} \
             {what}_ratio_p50={:.2} {what}_ratio_p99={:.2}",
            large_p50 / small_p50.max(1e-9),
            large_p99 / small_p99.max(1e-9)
        ));
    }
    println!("SIDE{out}");
    Ok(())
}

/// The small change a commit makes: Saturday 10:00-12:00, available or not by turns.
fn small_change(round: u64) -> Change {
    let status = [Status::Available, Status::Unavailable][(round % 2) as usize];
    Change::Apply(Batch::from(vec![Entry::range(
        Day::Saturday,
        at(10, 0),
        at(12, 0),
        status,
    )]))
}

/// `count` commits of the small change to random calendars, one after another, each timed.
fn commits(store: &Store, n: u64, count: u64, seed: u64) -> Result<Vec<Duration>, Fail> {
    let mut rng = Rng(seed);
    let mut latencies = Vec::with_capacity(count as usize);
    for round in 0..count {
        let id = calendar_id(rng.calendar(n));
        let change = small_change(round);
        let t = Instant::now();
        store
            .commit(&id, None, &change)
            .map_err(|e| format!("committing to {id}: {e}"))?;
        latencies.push(t.elapsed());
    }
    Ok(latencies)
}

fn measure(dir: &Path, n: u64, creates: u64, count: u64, threads: u64) -> Result<(), Fail> {
    let mut out = String::new();
    let mut put = |key: &str, value: String| out.push_str(&format!(" {key}={value}"));

    // Opening: the time, and what it adds to the process's memory.
    let fields = ["VmRSS", "RssAnon", "RssFile"];
    let before = fields.map(status_kb);
    let t = Instant::now();
    let store = open(dir)?;
    let open_time = t.elapsed();
    let after = fields.map(status_kb);
    put("open_ms", format!("{:.1}", open_time.as_secs_f64() * 1e3));
    for (i, name) in ["rss", "anon", "file"].iter().enumerate() {
        put(
            &format!("{name}_growth_kb"),
            after[i].saturating_sub(before[i]).to_string(),
        );
    }
    let held = store.list().len() as u64;
    if held != n + 1 {
        return Err(format!(
            "the store holds {held} calendars, not {n} and `default`"
        ));
    }

    // Lookups of random ids: 200 rounds of 4,096, the median round's time per lookup.
    let mut rng = Rng(1);
    let ids: Vec<String> = (0..4096).map(|_| calendar_id(rng.calendar(n))).collect();
    for id in &ids {
        black_box(store.get(id)).ok_or_else(|| format!("no calendar {id}"))?;
    }
    let mut rounds: Vec<f64> = (0..200)
        .map(|_| {
            let t = Instant::now();
            for id in &ids {
                black_box(store.get(black_box(id)));
            }
            t.elapsed().as_secs_f64() * 1e9 / ids.len() as f64
        })
        .collect();
    rounds.sort_by(f64::total_cmp);
    put("get_ns", format!("{:.1}", rounds[rounds.len() / 2]));

    // Durable commits of a small change to random calendars: one at a time, then from
    // `threads` threads at once (they share flushes).
    let t = Instant::now();
    let one = commits(&store, n, count, 2)?;
    let (p50, p99, rate) = summary(one, t.elapsed());
    put("commit_p50_us", format!("{p50:.0}"));
    put("commit_p99_us", format!("{p99:.0}"));
    put("commits_per_s", format!("{rate:.0}"));
    let per_thread = count.div_ceil(threads.max(1));
    let t = Instant::now();
    let many = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads.max(1))
            .map(|w| {
                let store = &store;
                s.spawn(move || commits(store, n, per_thread, 100 + w))
            })
            .collect();
        let mut all = Vec::new();
        for worker in workers {
            all.extend(worker.join().map_err(|_| "a commit thread panicked")??);
        }
        Ok::<_, Fail>(all)
    })?;
    let (p50, p99, rate) = summary(many, t.elapsed());
    put("commit_threads_p50_us", format!("{p50:.0}"));
    put("commit_threads_p99_us", format!("{p99:.0}"));
    put("commits_threads_per_s", format!("{rate:.0}"));

    // Durable creates one at a time, each with a key (the hash of calendar 1's).
    let hash = store
        .get(&calendar_id(1))
        .and_then(|c| c.keys().first().map(|k| k.hash().to_owned()))
        .ok_or("calendar 1 has no key")?;
    let mut latencies = Vec::with_capacity(creates as usize);
    let mut refused = None;
    let t = Instant::now();
    for i in n + 1..=n + creates {
        let keys = vec![key(&hash)?];
        let id = calendar_id(i);
        let one = Instant::now();
        match store.create(&id, zone(i), keys, &Authority::Unchecked) {
            Ok(_) => latencies.push(one.elapsed()),
            Err(e) if e.is_capacity() => {
                refused = Some(format!("{i}"));
                eprintln!("scale: creating {id}: {e}");
                break;
            }
            Err(e) => return Err(format!("creating {id}: {e}")),
        }
    }
    let created = latencies.len();
    let (p50, p99, rate) = summary(latencies, t.elapsed());
    put("created", created.to_string());
    put("create_p50_us", format!("{p50:.0}"));
    put("create_p99_us", format!("{p99:.0}"));
    put("creates_per_s", format!("{rate:.0}"));
    if let Some(at) = refused {
        put("create_refused_at", at);
    }

    // Durable batches of 1,000 creates, each one commit (the ids after the single creates).
    let mut batches = Vec::with_capacity(BATCHES as usize);
    for b in 0..BATCHES {
        let first = n + creates + 1 + b * BATCH;
        let batch: Vec<NewCalendar> = (first..first + BATCH)
            .map(|i| NewCalendar {
                id: calendar_id(i),
                zone: zone(i).to_owned(),
                booking_public: false,
            })
            .collect();
        let one = Instant::now();
        match store.create_batch(&batch, &Authority::Unchecked) {
            Ok(made) if made.len() == batch.len() => batches.push(one.elapsed()),
            Ok(made) => return Err(format!("a batch of {BATCH} made {}", made.len())),
            // A full store (the 65,536th calendar of format version 2) is the single
            // creates' finding, reported above.
            Err(e) if e.is_capacity() => break,
            Err(e) => return Err(format!("creating a batch from {}: {e}", calendar_id(first))),
        }
    }
    batches.sort();
    if let (Some(median), Some(most)) = (batches.get(batches.len() / 2), batches.last()) {
        put(
            "batch_median_ms",
            format!("{:.1}", median.as_secs_f64() * 1e3),
        );
        put("batch_max_ms", format!("{:.1}", most.as_secs_f64() * 1e3));
    }
    println!("MEASURE{out}");
    Ok(())
}
