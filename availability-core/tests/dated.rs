//! The dated layer against a plain model: overrides as a map of owner dates, claims as a map
//! of owner (date, half hour) to booking, and every instant's owner and viewer wall time
//! computed instant by instant with jiff's zones, not through plans (the crate's offsets are
//! jiff's too; `tests/tz_zoneinfo.rs` checks those). Random zones (every zone of the database,
//! DST and quarter-hour zones included), random weeks, random operations.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use availability_core::dated::{BookingId, Claim, Dated, DayOverride};
use availability_core::tz::{IsoWeek, Plan, Zone};
use availability_core::{Status, Time, Week, SLOTS};
use jiff::civil::Date;
use jiff::tz::{TimeZone, TimeZoneDatabase};
use jiff::Timestamp;
use proptest::prelude::*;
use proptest::test_runner::Config;

fn zones() -> &'static [(Zone, TimeZone)] {
    static ZONES: OnceLock<Vec<(Zone, TimeZone)>> = OnceLock::new();
    ZONES.get_or_init(|| {
        let db = TimeZoneDatabase::bundled();
        Zone::all()
            .map(|zone| (zone, db.get(zone.name()).expect("jiff knows the zone")))
            .collect()
    })
}

/// The owner's wall date and half hour at instant `t`, by jiff.
fn wall(zone: &TimeZone, t: i64) -> (Date, usize) {
    let dt = Timestamp::from_second(t)
        .expect("in range")
        .to_zoned_datetime(zone.clone())
        .datetime();
    let half_hour = dt.hour() as usize * 2 + usize::from(dt.minute() >= 30);
    (dt.date(), half_hour)
}

fn weekday_index(date: Date) -> usize {
    date.weekday().to_monday_zero_offset() as usize
}

fn chrono_date(date: Date) -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(
        i32::from(date.year()),
        date.month() as u32,
        date.day() as u32,
    )
    .expect("a date")
}

/// The plain model of one calendar's dated data.
#[derive(Default)]
struct Model {
    overrides: BTreeMap<Date, [Status; 48]>,
    claims: BTreeMap<(Date, usize), u64>,
    bookings: BTreeMap<u64, (i64, i64)>,
}

impl Model {
    fn status(&self, pattern: &Week, date: Date, half_hour: usize) -> Status {
        if self.claims.contains_key(&(date, half_hour)) {
            return Status::Unavailable;
        }
        self.unclaimed(pattern, date, half_hour)
    }

    fn unclaimed(&self, pattern: &Week, date: Date, half_hour: usize) -> Status {
        match self.overrides.get(&date) {
            Some(day) => day[half_hour],
            None => {
                let slot =
                    availability_core::Slot::from_index(weekday_index(date) * 48 + half_hour)
                        .expect("a slot");
                pattern.status(slot)
            }
        }
    }

    /// The owner slots `[start, end)` touches, in the order its instants first reach them.
    fn touched(zone: &TimeZone, start: i64, end: i64) -> Vec<(Date, usize)> {
        let mut out = Vec::new();
        let mut t = start;
        while t < end {
            let slot = wall(zone, t);
            if !out.contains(&slot) {
                out.push(slot);
            }
            t += 60;
        }
        out
    }
}

#[derive(Clone, Debug)]
enum Op {
    Override { day: i64, statuses: Vec<usize> },
    RemoveOverride { day: i64 },
    Claim { minute: i64, minutes: i64 },
    Cancel { pick: usize },
}

fn arb_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        1 => (0i64..21, proptest::collection::vec(prop_oneof![1 => Just(0usize), 1 => Just(1), 10 => Just(2)], 48))
            .prop_map(|(day, statuses)| Op::Override { day, statuses }),
        1 => (0i64..21).prop_map(|day| Op::RemoveOverride { day }),
        4 => (0i64..21 * 1440 / 15, 1i64..=12).prop_map(|(q, n)| Op::Claim {
            minute: q * 15,
            minutes: n * 15,
        }),
        1 => (0usize..100).prop_map(|pick| Op::Cancel { pick }),
    ]
}

/// Checks `dated.view` and `dated.intervals` for `viewer` and `week` against the model,
/// instant by instant.
fn check_view(
    dated: &Dated,
    model: &Model,
    pattern: &Week,
    owner: &(Zone, TimeZone),
    viewer: &(Zone, TimeZone),
    week: IsoWeek,
) {
    let plan = Plan::new(owner.0, viewer.0, week).expect("plan");
    let view = dated.view(pattern, &plan);
    // By chrono's ISO week dates: the crate's are jiff's.
    let monday = chrono::NaiveDate::from_isoywd_opt(week.year(), week.week(), chrono::Weekday::Mon)
        .expect("week");
    let monday = jiff::civil::date(
        i16::try_from(chrono::Datelike::year(&monday)).expect("year"),
        i8::try_from(chrono::Datelike::month(&monday)).expect("month"),
        i8::try_from(chrono::Datelike::day(&monday)).expect("day"),
    );
    let start = monday
        .to_datetime(jiff::civil::Time::midnight())
        .to_zoned_datetime(viewer.1.clone())
        .expect("start")
        .timestamp()
        .as_second();
    let end = monday
        .checked_add(jiff::Span::new().days(7))
        .expect("date")
        .to_datetime(jiff::civil::Time::midnight())
        .to_zoned_datetime(viewer.1.clone())
        .expect("end")
        .timestamp()
        .as_second();
    // The minimum over each viewer slot's instants; slots without instants are gaps.
    let mut expected: Vec<Option<Status>> = vec![None; SLOTS];
    // Per viewer slot, whether any of its instants falls in a claimed owner slot.
    let mut booked = vec![false; SLOTS];
    let mut runs: Vec<(i64, i64, Status)> = Vec::new();
    let mut t = start;
    while t < end {
        let (vdate, vhh) = wall(&viewer.1, t);
        let day = (vdate - monday).get_days();
        let (odate, ohh) = wall(&owner.1, t);
        let status = model.status(pattern, odate, ohh);
        if (0..7).contains(&day) {
            let slot = day as usize * 48 + vhh;
            expected[slot] = Some(expected[slot].map_or(status, |s| s.min(status)));
            booked[slot] |= model.claims.contains_key(&(odate, ohh));
        }
        match runs.last_mut() {
            Some(last) if last.1 == t && last.2 == status => last.1 = t + 60,
            _ => runs.push((t, t + 60, status)),
        }
        t += 60;
    }
    for (i, want) in expected.iter().enumerate() {
        let slot = availability_core::Slot::from_index(i).expect("slot");
        assert_eq!(
            view.status(slot),
            want.unwrap_or(Status::Unavailable),
            "slot {slot} of {week} seen from {} (owner {})",
            viewer.0.name(),
            owner.0.name()
        );
    }
    let marked = dated.booked(&plan);
    for (i, want) in booked.iter().enumerate() {
        let slot = availability_core::Slot::from_index(i).expect("slot");
        assert_eq!(
            marked.status(slot) == Status::Available,
            *want,
            "booked slot {slot} of {week} seen from {} (owner {})",
            viewer.0.name(),
            owner.0.name()
        );
        assert!(!want || view.status(slot) == Status::Unavailable);
    }
    let ours: Vec<(i64, i64, Status)> = dated
        .intervals(pattern, &plan)
        .iter()
        .map(|i| (i.start.unix_seconds(), i.end.unix_seconds(), i.status))
        .collect();
    let theirs: Vec<(i64, i64, Status)> = runs
        .into_iter()
        .filter(|r| r.2 != Status::Unavailable)
        .collect();
    assert_eq!(ours, theirs, "intervals of {week} from {}", viewer.0.name());
}

fn arb_pattern() -> impl Strategy<Value = Week> {
    proptest::collection::vec(
        prop_oneof![1 => Just(0usize), 1 => Just(1), 30 => Just(2)],
        SLOTS,
    )
    .prop_map(|s| Week::from_fn(|slot| Status::ALL[s[slot.index()]]))
}

proptest! {
    #![proptest_config(Config::with_cases(48))]

    #[test]
    fn claims_overrides_and_views_match_the_model(
        pattern in arb_pattern(),
        owner in 0usize..10_000,
        viewer in 0usize..10_000,
        base_week in 0i64..(52 * 8),
        ops in proptest::collection::vec(arb_op(), 1..60),
    ) {
        let zones = zones();
        let owner = &zones[owner % zones.len()];
        let viewer = &zones[viewer % zones.len()];
        // A Monday between 2025 and 2033, as an owner date and as an instant.
        let base = jiff::civil::date(2025, 1, 6)
            .checked_add(jiff::Span::new().weeks(base_week))
            .expect("date");
        let base_instant = base.to_datetime(jiff::civil::Time::midnight()).to_zoned_datetime(TimeZone::UTC).expect("base").timestamp().as_second();
        let now = base_instant - 3 * 86_400;

        let mut dated = Dated::new();
        let mut model = Model::default();
        for op in &ops {
            match op {
                Op::Override { day, statuses } => {
                    let date = base.checked_add(jiff::Span::new().days(*day)).expect("date");
                    let mut day_override = DayOverride::UNAVAILABLE;
                    let mut model_day = [Status::Unavailable; 48];
                    for (t, s) in statuses.iter().enumerate() {
                        day_override.set(Time::from_half_hours(t).expect("time"), Status::ALL[*s]);
                        model_day[t] = Status::ALL[*s];
                    }
                    dated.set_override(chrono_date(date), day_override).expect("in range");
                    model.overrides.insert(date, model_day);
                }
                Op::RemoveOverride { day } => {
                    let date = base.checked_add(jiff::Span::new().days(*day)).expect("date");
                    let had = dated.remove_override(chrono_date(date));
                    prop_assert_eq!(had, model.overrides.remove(&date).is_some());
                }
                Op::Claim { minute, minutes } => {
                    let start = base_instant + minute * 60;
                    let end = start + minutes * 60;
                    let touched = Model::touched(&owner.1, start, end);
                    let refused = touched.iter().find(|(d, h)| {
                        model.claims.contains_key(&(*d, *h))
                            || model.unclaimed(&pattern, *d, *h) != Status::Available
                    });
                    let result = dated.claim(owner.0, &pattern, &Claim::new(start, end), now);
                    match (refused, result) {
                        (None, Ok(booking)) => {
                            prop_assert_eq!(booking.slot_count(), touched.len());
                            for slot in &touched {
                                model.claims.insert(*slot, booking.id().0);
                            }
                            model.bookings.insert(booking.id().0, (start, end));
                        }
                        (Some((date, half_hour)), Err(err)) => {
                            let conflict = err.conflict_details().expect("a conflict");
                            prop_assert_eq!(conflict.date, chrono_date(*date));
                            prop_assert_eq!(conflict.time.half_hours(), *half_hour);
                            prop_assert_eq!(
                                conflict.booking().map(|b| b.0),
                                model.claims.get(&(*date, *half_hour)).copied()
                            );
                            prop_assert_eq!(wall(&owner.1, conflict.instant), (*date, *half_hour));
                            prop_assert!(conflict.instant >= start && conflict.instant < end);
                        }
                        (refused, result) => prop_assert!(
                            false,
                            "model refused {:?}, ours gave {:?}",
                            refused,
                            result
                        ),
                    }
                }
                Op::Cancel { pick } => {
                    let ids: Vec<u64> = model.bookings.keys().copied().collect();
                    if ids.is_empty() {
                        prop_assert!(dated.cancel(BookingId(1_000_000)).is_none());
                        continue;
                    }
                    let id = ids[pick % ids.len()];
                    prop_assert!(dated.cancel(BookingId(id)).is_some());
                    model.bookings.remove(&id);
                    model.claims.retain(|_, b| *b != id);
                }
            }
        }
        prop_assert_eq!(dated.booking_count(), model.bookings.len());

        // Effective weeks of the owner's own weeks, slot by slot.
        for w in 0..3 {
            let monday = base.checked_add(jiff::Span::new().weeks(w)).expect("date");
            let iso: IsoWeek = chrono_date(monday).into_iso_week();
            let effective = dated.effective(&pattern, iso);
            for (i, (_, status)) in effective.slots().enumerate() {
                let date = monday.checked_add(jiff::Span::new().days((i / 48) as i64)).expect("date");
                prop_assert_eq!(status, model.status(&pattern, date, i % 48), "slot {}", i);
            }
        }
        // Views from another zone and from the owner's, over the weeks the data touches.
        let week: IsoWeek = chrono_date(base.checked_add(jiff::Span::new().weeks(1)).expect("date"))
            .into_iso_week();
        check_view(&dated, &model, &pattern, owner, viewer, week);
        check_view(&dated, &model, &pattern, owner, owner, week);
    }
}

trait IntoIsoWeek {
    fn into_iso_week(self) -> IsoWeek;
}

impl IntoIsoWeek for chrono::NaiveDate {
    fn into_iso_week(self) -> IsoWeek {
        IsoWeek::containing(self).expect("in range")
    }
}

/// A zone that falls back: the repeated hour's instants judge the owner slots they show,
/// and a viewer week longer than 168 hours reads some owner slots in two owner weeks.
#[test]
fn views_across_a_fall_back_and_two_owner_weeks() {
    let zones = zones();
    let find = |name: &str| {
        zones
            .iter()
            .find(|(z, _)| z.name() == name)
            .expect("zone")
            .clone()
    };
    let (owner, viewer) = (find("Pacific/Kiritimati"), find("America/Los_Angeles"));
    let pattern = Week::AVAILABLE;
    let mut dated = Dated::new();
    let mut model = Model::default();
    // A day off on the Sunday before and the Monday after the week of the US fall-back.
    for date in [
        jiff::civil::date(2026, 11, 1),
        jiff::civil::date(2026, 11, 9),
    ] {
        dated
            .set_override(chrono_date(date), DayOverride::UNAVAILABLE)
            .expect("in range");
        model.overrides.insert(date, [Status::Unavailable; 48]);
    }
    let week = IsoWeek::containing(chrono_date(jiff::civil::date(2026, 11, 2))).expect("week");
    check_view(&dated, &model, &pattern, &owner, &viewer, week);
    check_view(&dated, &model, &pattern, &viewer, &owner, week);
    let week = IsoWeek::containing(chrono_date(jiff::civil::date(2026, 10, 27))).expect("week");
    check_view(&dated, &model, &pattern, &viewer, &owner, week);
}

/// The span rules: whole minutes, a real span, at most 7 days, not in the past, within two
/// years; a refused claim changes nothing.
#[test]
fn span_rules() {
    let zone: Zone = "Europe/Berlin".parse().expect("zone");
    let now = 1_800_000_017; // 17 seconds into a minute
    let mut dated = Dated::new();
    let pattern = Week::AVAILABLE;
    let minute = now - now % 60;
    for (start, end) in [
        (minute + 30, minute + 3600),
        (minute, minute),
        (minute + 60, minute),
        (minute, minute + 8 * 86_400),
        (minute - 60, minute + 3600),
        (minute + 800 * 86_400, minute + 800 * 86_400 + 60),
    ] {
        let err = dated
            .claim(zone, &pattern, &Claim::new(start, end), now)
            .expect_err("refused");
        assert!(err.is_invalid_span(), "{start}..{end}: {err}");
    }
    let mut labelled = Claim::new(minute, minute + 60);
    labelled.label = Some("a\nb".into());
    assert!(dated
        .claim(zone, &pattern, &labelled, now)
        .unwrap_err()
        .is_invalid_span());
    assert_eq!(dated.booking_count(), 0);
    assert!(dated.is_empty());
    // The current minute may be booked.
    dated
        .claim(zone, &pattern, &Claim::new(minute, minute + 60), now)
        .expect("the current minute");
}

/// Changing the owner's zone moves claims with their real spans, and refuses a zone in which
/// two bookings would share a slot.
#[test]
fn rezoning_keeps_real_spans() {
    let utc: Zone = "UTC".parse().expect("zone");
    let kathmandu: Zone = "Asia/Kathmandu".parse().expect("zone");
    let pattern = Week::AVAILABLE;
    let start = 1_800_000_000; // a whole hour
    let now = start - 86_400;
    let mut dated = Dated::new();
    let a = dated
        .claim(utc, &pattern, &Claim::new(start, start + 1800), now)
        .expect("a");
    assert_eq!(a.slot_count(), 1);
    let moved = dated
        .rezone("Asia/Tokyo".parse().expect("zone"))
        .expect("whole hours");
    assert_eq!(moved.booking(a.id()).map(|b| b.slot_count()), Some(1));
    // UTC+05:45 splits the half hour in two slots; a second booking next to it then shares one.
    dated
        .claim(utc, &pattern, &Claim::new(start + 1800, start + 3600), now)
        .expect("b");
    assert!(dated.rezone(kathmandu).unwrap_err().is_conflict());
}

/// Compaction drops what ended before the cut-off and changes no later answer.
#[test]
fn compaction_keeps_the_future() {
    let zone: Zone = "America/Vancouver".parse().expect("zone");
    let pattern = Week::AVAILABLE;
    let t0 = 1_800_000_000; // a whole hour
    let mut dated = Dated::new();
    let early = dated
        .claim(zone, &pattern, &Claim::new(t0, t0 + 3600), t0 - 60)
        .expect("early");
    let late = dated
        .claim(
            zone,
            &pattern,
            &Claim::new(t0 + 86_400, t0 + 90_000),
            t0 - 60,
        )
        .expect("late");
    let date = chrono::DateTime::from_timestamp(t0 - 3 * 86_400, 0)
        .expect("date")
        .date_naive();
    dated
        .set_override(date, DayOverride::UNAVAILABLE)
        .expect("override");
    let week = IsoWeek::at(zone, t0 + 86_400).expect("week");
    let before = dated.effective(&pattern, week);
    let dropped = dated.compact_before(zone, t0 + 7200);
    assert_eq!(dropped, 2);
    assert!(dated.booking(early.id()).is_none());
    assert!(dated.booking(late.id()).is_some());
    let after = dated.effective(&pattern, week);
    // Slots from the cut-off on did not change.
    let cutoff = t0 + 7200;
    let local = cutoff + i64::from(zone.offset_at(cutoff).expect("offset"));
    let cutoff_week = IsoWeek::at(zone, cutoff).expect("week");
    let first_kept = if cutoff_week < week {
        0
    } else {
        ((local.div_euclid(86_400) + 3).rem_euclid(7) * 48 + local.rem_euclid(86_400) / 1800)
            as usize
    };
    let changed: Vec<usize> = (0..SLOTS)
        .filter(|&i| {
            let slot = availability_core::Slot::from_index(i).expect("slot");
            before.status(slot) != after.status(slot)
        })
        .collect();
    assert!(!changed.is_empty(), "the past changed");
    assert!(
        changed.iter().all(|&i| i < first_kept),
        "{changed:?} vs {first_kept}"
    );
    assert!(dated.override_on(date).is_none());
}

/// Many bookings (kept in chunks of ids): each found by id, counted, listed in id order,
/// cancelled without touching the others, the earliest first dropped by compaction; copies
/// stay independent.
#[test]
fn many_bookings_keep_their_ids() {
    let zone = Zone::UTC;
    let pattern = Week::AVAILABLE;
    let t0 = 1_800_000_000;
    let mut dated = Dated::new();
    let ids: Vec<BookingId> = (0..1000)
        .map(|i| {
            let start = t0 + i * 3600;
            dated
                .claim(zone, &pattern, &Claim::new(start, start + 3600), t0 - 60)
                .expect("a free hour")
                .id()
        })
        .collect();
    let copy = dated.clone();
    for id in ids.iter().step_by(3) {
        assert_eq!(dated.cancel(*id).map(|b| b.id()), Some(*id));
        assert!(dated.cancel(*id).is_none(), "cancelled twice");
    }
    let kept: Vec<BookingId> = ids
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 3 != 0)
        .map(|(_, id)| *id)
        .collect();
    assert_eq!(dated.booking_count(), kept.len());
    let listed: Vec<BookingId> = dated.all_bookings().map(|b| b.id()).collect();
    assert_eq!(listed, kept);
    for (i, id) in ids.iter().enumerate() {
        assert_eq!(dated.booking(*id).is_some(), i % 3 != 0, "booking {i}");
        assert!(copy.booking(*id).is_some(), "the copy lost booking {i}");
    }
    assert_eq!(copy.booking_count(), 1000);
    assert_ne!(copy, dated);
    // The hours of the cancelled bookings are free again, the others still taken.
    let again = dated.claim(zone, &pattern, &Claim::new(t0, t0 + 3600), t0 - 60);
    assert!(again.is_ok(), "the first hour was cancelled");
    assert!(dated
        .claim(zone, &pattern, &Claim::new(t0 + 3600, t0 + 7200), t0 - 60)
        .is_err());
    // Compaction up to the end of the 100th hour drops the bookings that ended by then.
    let before = dated.booking_count();
    let dropped = dated.compact_before(zone, t0 + 100 * 3600);
    let ended = dated
        .all_bookings()
        .filter(|b| b.end() <= t0 + 100 * 3600)
        .count();
    assert_eq!(ended, 0);
    assert_eq!(dated.booking_count(), before - dropped);
    assert_eq!(dated.compact_before(zone, t0 + 100 * 3600), 0);
}
