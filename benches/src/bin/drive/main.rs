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
//!   propagate OTHER_URL OTHER_CERT CALENDAR COUNT GAP_MS
//!                           COUNT bookings of a new CALENDAR, GAP_MS apart, through this
//!                           server; for each, the time from its answer to its event on the
//!                           other instance's stream (several instances on one database)
//! ```
//!
//! Each command prints one line starting with its name in capitals, `KEY=VALUE` pairs after,
//! and fails (exit 1) when an answer is not what the scenario requires.
//!
//! `conn` is the HTTPS connection and its answers; `setup` makes the calendars (`rooms`,
//! `members`); `bookings`, `overlap` and `propagate` are the scenarios; `spin` is here.

// The lines it prints are its results.
#![allow(clippy::print_stdout)]

mod bookings;
mod conn;
mod overlap;
mod propagate;
mod setup;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use http::StatusCode;

use bookings::{flash, stream};
use conn::Server;
use overlap::{largest, overlap};
use propagate::propagate;
use setup::{members, rooms};

type Fail = String;

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
                 | overlap SIZE CONNECTIONS SECONDS | largest SIZES \
                 | propagate OTHER_URL OTHER_CERT CALENDAR COUNT GAP_MS";
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
        "propagate" => {
            let [other, other_cert, calendar, ..] = rest else {
                return Err(usage.to_owned());
            };
            let other = Server::new(other, other_cert, admin)?;
            let gap = Duration::from_millis(number(4)? as u64);
            propagate(&server, &other, calendar, number(3)?, gap).await
        }
        _ => Err(usage.to_owned()),
    }
}

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

/// The `p`-th percentile (0 to 1) of sorted durations, in milliseconds.
fn percentile(sorted: &[Duration], p: f64) -> f64 {
    availability_benches::percentile(sorted, p).as_secs_f64() * 1000.0
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_writes_civil_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400 + 3600 * 13), "2000-02-29T13:00:00Z");
        assert_eq!(rfc3339(1_798_761_600), "2027-01-01T00:00:00Z");
    }
}
