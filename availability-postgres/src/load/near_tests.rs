//! [`Near`] against the whole calendar: a write decided from only the rows `Near` names
//! (as the database returns them) must be decided as it is from every row, in zones with
//! folds, gaps and quarter-hour offsets, for claims, typed claims (buffers, per-day limits),
//! moves, cancellations and overrides.

use availability_core::dated::{BookingId, Claim, DayOverride};
use availability_core::slots::BookingType;
use availability_core::store::decide::{self, DatedWrite};
use availability_core::store::{Authority, Calendar, Change, Expected};
use availability_core::{Status, Week};

use super::Near;
use crate::rows::Building;

/// A small deterministic generator (xorshift64*): the cases are the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a, T>(&mut self, of: &'a [T]) -> &'a T {
        &of[self.below(of.len() as u64) as usize]
    }
}

const ZONES: &[&str] = &[
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "Australia/Lord_Howe",
    "Asia/Kathmandu",
    "Pacific/Chatham",
    "America/St_Johns",
    "Pacific/Apia",
    "Pacific/Kiritimati",
    "America/Sao_Paulo",
];

/// Around changes of clocks in 2026: Europe's and North America's, both ways, and the
/// southern hemisphere's in April and September/October.
const BASES: &[i64] = &[
    1_772_928_000, // 2026-03-08
    1_774_742_400, // 2026-03-29
    1_775_347_200, // 2026-04-05
    1_790_467_200, // 2026-09-27
    1_792_886_400, // 2026-10-25
    1_793_491_200, // 2026-11-01
];

const DAY: i64 = 86_400;
const TYPES: &[&str] = &["a", "b"];

/// A calendar in `zone` with a mostly available week, two booking types and bookings and
/// overrides around `base`.
fn calendar(rng: &mut Rng, zone: &str, base: i64) -> Calendar {
    let any = Expected::default();
    let mut calendar =
        decide::creation("c", zone, Vec::new(), 1, &Authority::Unchecked, &[]).expect("a calendar");
    let week = Week::from_fn(|_| match rng.below(10) {
        0 => Status::Unavailable,
        1 => Status::Maybe,
        _ => Status::Available,
    });
    let mut changes = vec![Change::SetWeek(week)];
    for name in TYPES {
        let duration = 15 * (1 + rng.below(8) as u32);
        changes.push(Change::SetBookingType(
            (*name).to_owned(),
            BookingType {
                duration,
                interval: *rng.pick(&[15, 30, 60]),
                buffer_before: *rng.pick(&[0, 0, 30, 90, 720]),
                buffer_after: *rng.pick(&[0, 0, 15, 60, 720]),
                notice: 0,
                horizon: 730,
                per_day: *rng.pick(&[None, Some(1), Some(2), Some(3)]),
                label: None,
            },
        ));
    }
    for change in &changes {
        calendar = decide::change(&calendar, &any, &[], change).expect("a change");
    }
    for _ in 0..rng.below(6) {
        let date = chrono::DateTime::from_timestamp(base + (rng.below(25) as i64 - 12) * DAY, 0)
            .expect("a date")
            .date_naive();
        let open = rng.next() >> 16;
        let day = DayOverride::from_bits(open, open & rng.next() >> 16).expect("an override");
        let write = DatedWrite::SetOverride(date, day);
        calendar = decide::dated(&calendar, &any, &[], &write, base - 365 * DAY)
            .expect("an override")
            .0;
    }
    let now = base - 40 * DAY;
    for _ in 0..60 {
        let claim = some_claim(rng, &calendar, base);
        let write = DatedWrite::Book { claim: &claim, now };
        if let Ok((next, _)) = decide::dated(&calendar, &any, &[], &write, base - 365 * DAY) {
            calendar = next;
        }
    }
    calendar
}

/// A claim within 12 days of `base`, on the quarter hour, by span or by a type.
fn some_claim(rng: &mut Rng, calendar: &Calendar, base: i64) -> Claim {
    let start = base + (rng.below(24 * 24 * 4) as i64 - 12 * 24 * 4) * 900;
    match rng.below(3) {
        0 => Claim::new(start, start + 900 * (1 + rng.below(12) as i64)),
        _ => {
            let name = *rng.pick(TYPES);
            let ty = calendar.booking_type(name).expect("its type");
            let mut claim = Claim::new(start, ty.span(start).1);
            claim.booking_type = Some(name.to_owned());
            claim
        }
    }
}

/// `calendar` as the database's rows that `near` names make it.
fn narrowed(calendar: &Calendar, near: &Near) -> Calendar {
    let dated = calendar.dated();
    let mut building = Building::new((calendar.parts(), dated.next_booking_id().0));
    let day = |seconds: i64| {
        chrono::DateTime::from_timestamp(seconds, 0)
            .expect("a date")
            .date_naive()
    };
    let (first, last, old) = (
        day(near.from - DAY),
        day(near.to + DAY),
        day(near.cutoff - 2 * DAY),
    );
    for (date, over) in dated.all_overrides() {
        if (first <= date && date <= last) || date < old {
            building.add_override((date, over));
        }
    }
    for booking in dated.all_bookings() {
        let (start, end) = (booking.start(), booking.end());
        if (start < near.to && near.from < end)
            || near.bookings.contains(&(booking.id().0 as i64))
            || end <= near.cutoff
        {
            building.add_booking((booking.claim(), booking.id(), booking.created_unix_ms()));
        }
    }
    building.finish().expect("the narrowed calendar")
}

#[test]
fn a_write_decided_from_the_rows_near_it_is_decided_as_from_every_row() {
    let mut rng = Rng(0x5eed_2026_1207);
    let any = Expected::default();
    let (mut accepted, mut refused) = (0, 0);
    for case in 0..1_500 {
        let zone = *rng.pick(ZONES);
        let base = *rng.pick(BASES);
        let full = calendar(&mut rng, zone, base);
        let now = base - 40 * DAY;
        let cutoff = base - 3 * DAY;
        let ids: Vec<BookingId> = full.dated().all_bookings().map(|b| b.id()).collect();
        let claim = some_claim(&mut rng, &full, base);
        let date = chrono::DateTime::from_timestamp(base + (rng.below(9) as i64 - 4) * DAY, 0)
            .expect("a date")
            .date_naive();
        let some_id = match ids.is_empty() {
            true => BookingId(rng.below(5)),
            false => *rng.pick(&ids),
        };
        let write = match rng.below(6) {
            0 | 1 => DatedWrite::Book { claim: &claim, now },
            2 => DatedWrite::Move {
                booking: some_id,
                start: claim.start,
                end: rng.below(2).eq(&0).then_some(claim.end),
                now,
            },
            3 => DatedWrite::Cancel(some_id),
            4 => DatedWrite::SetOverride(date, DayOverride::from_bits(0, 0).expect("a day off")),
            _ => DatedWrite::ClearOverride(date),
        };
        let near = Near::of(&write, cutoff).expect("a write it knows");
        let narrow = narrowed(&full, &near);
        let whole = decide::dated(&full, &any, &[], &write, cutoff);
        let part = decide::dated(&narrow, &any, &[], &write, cutoff);
        match (&whole, &part) {
            (Ok((a, made_a)), Ok((b, made_b))) => {
                assert_eq!(made_a, made_b, "case {case}: {write:?} in {zone}");
                assert_eq!(a.version(), b.version(), "case {case}");
                accepted += 1;
            }
            (Err(a), Err(b)) => {
                assert_eq!(
                    a.to_string(),
                    b.to_string(),
                    "case {case}: {write:?} in {zone}"
                );
                refused += 1;
            }
            _ => panic!(
                "case {case}: {write:?} in {zone}: from every row {:?}, from the rows near \
                 it {:?}",
                whole.map(|w| w.1),
                part.map(|p| p.1)
            ),
        }
    }
    eprintln!("{accepted} accepted, {refused} refused");
    // Both outcomes are exercised.
    assert!(
        accepted > 300 && refused > 300,
        "{accepted} accepted, {refused} refused"
    );
}
