//! Booking-type slots against an independent model: `tests/oracle/slots_model.py`, which walks
//! minutes with Python's `zoneinfo` reading the PyPI `tzdata` package (pinned in
//! `tests/oracle/requirements.txt`), and shares no idea with the crate's code.
//!
//! Random cases (zones with and without DST in both hemispheres, half-hour and quarter-hour
//! offsets, ranges across offset changes, random patterns, overrides, bookings made through
//! `Dated::claim`, random rules and present instants) are sent to one Python process; for each,
//! [`slots::slots`] and the plain reference must list exactly the model's bookable starts, and
//! [`slots::refusal`] must name the model's rule (and booking) for every probe: every start of
//! the type's grid in the range, random minutes and instants off the minute.
//!
//! `AVAILABILITY_SLOTS_SEED` repeats a run (each failure names its seed);
//! `AVAILABILITY_SLOTS_CASES` sets how many cases. Needs `python3` with `tzdata`; without them
//! the test skips loudly, unless `CI` or `AVAILABILITY_REQUIRE_ORACLES` is set.

use std::io::Write;

use availability_core::dated::{Claim, Dated, DayOverride};
use availability_core::slots::{self, BookingType, Offer, Owner, Rule};
use availability_core::tz::Zone;
use availability_core::{Slot, Status, Time, Week};
use serde_json::{json, Value};

use crate::oracles::{python, Python};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/oracle/slots_model.py");
const TEST: &str = "slots_match_the_minute_walking_model";

const MINUTE: i64 = 60;
const DAY: i64 = 86_400;
/// 2026-01-01 and 2029-01-01, 00:00 UTC: where cases are drawn.
const YEARS_FROM: i64 = 1_767_225_600;
const YEARS_TO: i64 = 1_861_920_000;

const ZONES: [&str; 9] = [
    "America/New_York",
    "Europe/London",
    "Australia/Lord_Howe",
    "Asia/Kathmandu",
    "Asia/Kolkata",
    "UTC",
    "America/St_Johns",
    "Europe/Paris",
    "Australia/Sydney",
];

/// SplitMix64: small, seeded, and enough for drawing cases.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `low..=high`.
    fn range(&mut self, low: i64, high: i64) -> i64 {
        let span = u64::try_from(high - low + 1).expect("a range");
        low + i64::try_from(self.next() % span).expect("small")
    }

    /// True with probability `percent` in 100.
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[usize::try_from(self.next() % items.len() as u64).expect("small")]
    }
}

/// One random case: what the crate is asked, and the same as the model's JSON.
struct Case {
    zone: Zone,
    pattern: Week,
    dated: Dated,
    rules: BookingType,
    name: &'static str,
    now: i64,
    from: i64,
    to: i64,
    probes: Vec<i64>,
    json: Value,
}

fn status_char(status: Status) -> char {
    match status {
        Status::Available => '#',
        Status::Maybe => '?',
        Status::Unavailable => '.',
    }
}

/// Statuses in runs, mostly available, so that spans and bookings fit.
fn random_statuses(rng: &mut Rng, n: usize) -> Vec<Status> {
    let mut out = Vec::with_capacity(n);
    let mut current = Status::Available;
    for _ in 0..n {
        if rng.chance(12) {
            current = match rng.range(0, 9) {
                0..=5 => Status::Available,
                6..=7 => Status::Unavailable,
                _ => Status::Maybe,
            };
        }
        out.push(current);
    }
    out
}

fn date_of(day: i64) -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch") + chrono::Days::new(day as u64)
}

fn random_case(rng: &mut Rng, long: bool) -> Case {
    let zone_name = rng.pick(&ZONES);
    let zone: Zone = zone_name.parse().expect("zone");
    // Mostly around an offset change of the zone, else anywhere.
    let changes: Vec<i64> = zone
        .transitions(YEARS_FROM, YEARS_TO)
        .into_iter()
        .skip(1)
        .map(|(t, _)| t)
        .collect();
    let anchor = if !changes.is_empty() && rng.chance(70) {
        rng.pick(&changes) - rng.range(0, 3 * DAY)
    } else {
        rng.range(YEARS_FROM, YEARS_TO)
    };
    let from = match rng.range(0, 3) {
        // An owner midnight.
        0 => {
            let offset = i64::from(zone.offset_at(anchor).unwrap_or(0));
            (anchor + offset).div_euclid(DAY) * DAY - offset
        }
        1 => anchor - anchor.rem_euclid(MINUTE),
        _ => anchor,
    };
    let length = match rng.range(0, 19) {
        _ if long => rng.range(20 * DAY, 62 * DAY),
        0 => -rng.range(0, DAY),
        1..=3 => rng.range(5 * DAY, 9 * DAY),
        _ => rng.range(1, 4 * DAY),
    };
    let to = from + length;
    let now = from - rng.range(-DAY, 2 * DAY);

    let pattern_statuses = random_statuses(rng, 336);
    let pattern = Week::from_fn(|slot: Slot| pattern_statuses[slot.index()]);
    let mut dated = Dated::new();
    let mut overrides = serde_json::Map::new();
    for _ in 0..rng.range(0, 3) {
        let day = slots::owner_day(zone, rng.range(from - DAY, from.max(to) + DAY));
        let statuses = random_statuses(rng, 48);
        let mut day_override = DayOverride::UNAVAILABLE;
        for (i, s) in statuses.iter().enumerate() {
            day_override.set(Time::from_half_hours(i).expect("a time"), *s);
        }
        dated
            .set_override(date_of(day), day_override)
            .expect("override");
        overrides.insert(
            date_of(day).to_string(),
            Value::from(
                statuses
                    .iter()
                    .copied()
                    .map(status_char)
                    .collect::<String>(),
            ),
        );
    }

    let name = "call";
    let mut bookings = Vec::new();
    let step = rng.pick(&[1, 5, 15, 30]) * MINUTE;
    for _ in 0..rng.range(0, if long { 120 } else { 30 }) {
        let start = rng.range(from - DAY, from.max(to) + DAY);
        let start = start - start.rem_euclid(step);
        let end = start + rng.range(1, 300 / (step / MINUTE).max(1)) * step;
        let booking_type = match rng.range(0, 4) {
            0 | 1 => Some(name),
            2 => Some("other"),
            _ => None,
        };
        let mut claim = Claim::new(start, end);
        claim.booking_type = booking_type.map(String::from);
        if let Ok(booking) = dated.claim(zone, &pattern, &claim, YEARS_FROM - 30 * DAY) {
            bookings.push(json!({
                "id": booking.id().0,
                "start": start,
                "end": end,
                "type": booking_type,
            }));
        }
    }

    let duration = if rng.chance(50) {
        rng.pick(&[15, 30, 45, 60, 90, 120])
    } else {
        rng.range(5, 240)
    };
    let interval = if rng.chance(50) {
        rng.pick(&[5, 10, 15, 20, 30, 60, duration.min(90)])
    } else {
        rng.range(5, 90)
    };
    let rules = BookingType {
        duration: duration as u32,
        interval: interval as u32,
        buffer_before: if rng.chance(50) {
            0
        } else {
            rng.range(0, 60) as u32
        },
        buffer_after: if rng.chance(50) {
            0
        } else {
            rng.range(0, 60) as u32
        },
        notice: if rng.chance(40) {
            0
        } else {
            rng.range(0, 3000) as u32
        },
        horizon: if rng.chance(50) {
            rng.range(1, 5) as u32
        } else {
            rng.range(1, 730) as u32
        },
        per_day: if rng.chance(50) {
            None
        } else {
            Some(rng.range(1, 3) as u32)
        },
        label: None,
    };
    rules.check().expect("valid rules");

    // Probes: every start of the grid around the range, random minutes, instants off the
    // minute.
    let mut probes = Vec::new();
    if from < to {
        for day in slots::owner_day(zone, from) - 1..=slots::owner_day(zone, to) + 1 {
            let mut minute = 0;
            while minute < 1_440 {
                probes.extend(slots::instants_at(zone, day * DAY + minute * MINUTE));
                minute += interval;
            }
        }
    }
    for _ in 0..40 {
        let t = rng.range(from - 3600, from.max(to) + 3600);
        probes.push(t - t.rem_euclid(MINUTE));
    }
    for _ in 0..10 {
        probes.push(rng.range(from - 3600, from.max(to) + 3600));
    }

    let json = json!({
        "zone": zone_name,
        "pattern": pattern.slots().map(|(_, s)| status_char(s)).collect::<String>(),
        "overrides": overrides,
        "bookings": bookings,
        "rules": {
            "duration": rules.duration,
            "interval": rules.interval,
            "buffer_before": rules.buffer_before,
            "buffer_after": rules.buffer_after,
            "notice": rules.notice,
            "horizon": rules.horizon,
            "per_day": rules.per_day,
        },
        "name": name,
        "now": now,
        "from": from,
        "to": to,
        "probes": probes,
    });
    Case {
        zone,
        pattern,
        dated,
        rules,
        name,
        now,
        from,
        to,
        probes,
        json,
    }
}

/// A rule as the model names it.
fn model_rule(rule: Option<Rule>) -> Value {
    match rule {
        None => Value::Null,
        Some(rule) => json!([rule.as_str(), rule.booking().map(|id| id.0)]),
    }
}

/// Checks one case against the model's answer.
fn check(case: &Case, answer: &Value, seed: u64) {
    let owner = Owner {
        pattern: &case.pattern,
        dated: &case.dated,
        zone: case.zone,
    };
    let offer = Offer {
        name: case.name,
        rules: &case.rules,
        now: case.now,
    };
    let context = || format!("seed {seed}, case {}", case.json);
    let expected: Vec<i64> = answer["starts"]
        .as_array()
        .expect("starts")
        .iter()
        .map(|v| v.as_i64().expect("an instant"))
        .collect();
    let found = slots::slots(&owner, &offer, case.from, case.to);
    assert_eq!(found, expected, "slots::slots, {}", context());
    let reference = slots::reference(&owner, &offer, case.from, case.to);
    assert_eq!(reference, expected, "slots::reference, {}", context());
    let refusals = answer["refusals"].as_array().expect("refusals");
    assert_eq!(refusals.len(), case.probes.len());
    for (probe, theirs) in case.probes.iter().zip(refusals) {
        let ours = model_rule(slots::refusal(&owner, &offer, *probe));
        assert_eq!(&ours, theirs, "refusal of {probe}, {}", context());
    }
}

#[test]
fn slots_match_the_minute_walking_model() {
    let seed = std::env::var("AVAILABILITY_SLOTS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_secs())
        });
    let cases: usize = std::env::var("AVAILABILITY_SLOTS_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(300);
    let Some(Python {
        mut child,
        mut stdin,
        mut lines,
        ..
    }) = python(TEST, SCRIPT, "the Python slots model")
    else {
        return;
    };

    let mut rng = Rng(seed);
    let batch: Vec<Case> = (0..cases).map(|_| random_case(&mut rng, false)).collect();
    let lines_out: Vec<String> = batch.iter().map(|c| format!("{}\n", c.json)).collect();
    let writer = std::thread::spawn(move || {
        for line in lines_out {
            if stdin.write_all(line.as_bytes()).is_err() {
                break;
            }
        }
    });
    let mut bookable = 0usize;
    let mut refused = std::collections::BTreeMap::<String, usize>::new();
    for case in &batch {
        let Some(Ok(line)) = lines.next() else {
            let out = child.wait_with_output().expect("python3 ran");
            panic!(
                "the model stopped (seed {seed}): {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        let answer: Value = serde_json::from_str(&line).expect("the model's JSON");
        check(case, &answer, seed);
        bookable += answer["starts"].as_array().map_or(0, Vec::len);
        for rule in answer["refusals"].as_array().expect("refusals") {
            let name = rule[0].as_str().unwrap_or("none").to_string();
            *refused.entry(name).or_default() += 1;
        }
    }
    writer.join().expect("written");
    drop(lines);
    let _ = child.wait();
    eprintln!(
        "{cases} cases (seed {seed}): {bookable} bookable starts; probes by rule {refused:?}"
    );
    // Each rule must have been seen, or the cases test less than they seem to.
    for rule in [
        "none",
        "off_grid",
        "notice",
        "horizon",
        "unavailable",
        "taken",
        "buffer",
        "per_day",
    ] {
        assert!(
            refused.get(rule).copied().unwrap_or(0) > 0,
            "no probe was refused by {rule} (seed {seed})"
        );
    }
}

/// The fast answer equals the plain one over ranges as long as a slots request may be (the
/// model's cases are shorter, to keep Python's minute walk quick).
#[test]
fn fast_slots_equal_the_reference_over_long_ranges() {
    let seed = std::env::var("AVAILABILITY_SLOTS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_secs())
        });
    let mut rng = Rng(seed ^ 0x5EED);
    for _ in 0..24 {
        let case = random_case(&mut rng, true);
        let owner = Owner {
            pattern: &case.pattern,
            dated: &case.dated,
            zone: case.zone,
        };
        let mut rules = case.rules.clone();
        // Long ranges are what a far horizon allows.
        rules.horizon = rules.horizon.max(90);
        let offer = Offer {
            name: case.name,
            rules: &rules,
            now: case.now,
        };
        assert_eq!(
            slots::slots(&owner, &offer, case.from, case.to),
            slots::reference(&owner, &offer, case.from, case.to),
            "seed {seed}, case {}",
            case.json
        );
    }
}
