//! One concrete week as a `VFREEBUSY` (RFC 5545 section 3.6.4) in UTC.
//!
//! The periods are the viewer's week as the JSON view has it, slot by slot, at the real
//! instants each viewer half hour covers (none in a spring-forward gap, two stretches in a
//! fall-back fold). Available is `FBTYPE=FREE`, maybe `BUSY-TENTATIVE`, unavailable
//! `BUSY-UNAVAILABLE`, and the real span of a booking `BUSY`; adjacent periods of one type
//! are merged.

use availability_core::tz::{IsoWeek, Zone};
use availability_core::{Slot, Status};
use chrono::NaiveTime;

use super::{escape_text, push_line, utc_stamp, PRODID};

/// What a period of a `VFREEBUSY` is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FbType {
    /// Available: `FREE`.
    Free,
    /// Maybe: `BUSY-TENTATIVE`.
    Tentative,
    /// Unavailable: `BUSY-UNAVAILABLE`.
    Unavailable,
    /// Booked: `BUSY`.
    Busy,
}

impl FbType {
    /// The `FBTYPE` parameter's value.
    pub fn as_str(self) -> &'static str {
        match self {
            FbType::Free => "FREE",
            FbType::Tentative => "BUSY-TENTATIVE",
            FbType::Unavailable => "BUSY-UNAVAILABLE",
            FbType::Busy => "BUSY",
        }
    }

    fn of(status: Status) -> FbType {
        match status {
            Status::Available => FbType::Free,
            Status::Maybe => FbType::Tentative,
            Status::Unavailable => FbType::Unavailable,
        }
    }
}

/// `[start, end)` in Unix seconds, of one type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Period {
    /// The first instant.
    pub start: i64,
    /// The first instant after it.
    pub end: i64,
    /// What it is.
    pub kind: FbType,
}

/// The step of the walk over real instants: every offset in use today is a whole number of
/// quarter hours, and so is every instant at which one changes.
const STEP: i64 = 900;

/// The periods of the viewer's `week` in `viewer`'s zone: each real instant of the week takes
/// the status of the viewer slot its wall time falls in (`status`), then the spans of
/// `booked` (Unix seconds) that fall on unavailable time become `BUSY`. Merged and sorted.
pub fn periods(
    viewer: Zone,
    week: IsoWeek,
    status: impl Fn(Slot) -> Status,
    booked: &[(i64, i64)],
) -> Vec<Period> {
    let local_start = week.monday().and_time(NaiveTime::MIN).and_utc().timestamp();
    let local_end = local_start + 7 * 86_400;
    // Offsets lie within a day of UTC: walk a day either side, keep what falls in the week.
    let mut t = (local_start - 86_400).div_euclid(STEP) * STEP;
    let mut out: Vec<Period> = Vec::with_capacity(64);
    while t < local_end + 86_400 {
        let wall = t + i64::from(viewer.offset_at(t).unwrap_or(0));
        if (local_start..local_end).contains(&wall) {
            let index = usize::try_from((wall - local_start) / 1800).unwrap_or(usize::MAX);
            if let Some(slot) = Slot::from_index(index) {
                push_merged(
                    &mut out,
                    Period {
                        start: t,
                        end: t + STEP,
                        kind: FbType::of(status(slot)),
                    },
                );
            }
        }
        t += STEP;
    }
    if booked.is_empty() {
        return out;
    }
    let mut with_bookings = Vec::with_capacity(out.len() + 2 * booked.len());
    for period in out {
        if period.kind != FbType::Unavailable {
            push_merged(&mut with_bookings, period);
            continue;
        }
        // Cut the unavailable period at every booking that overlaps it.
        let mut at = period.start;
        let mut cuts: Vec<(i64, i64)> = booked
            .iter()
            .map(|&(s, e)| (s.max(period.start), e.min(period.end)))
            .filter(|(s, e)| s < e)
            .collect();
        cuts.sort_unstable();
        for (s, e) in cuts {
            if s > at {
                push_merged(
                    &mut with_bookings,
                    Period {
                        start: at,
                        end: s,
                        kind: FbType::Unavailable,
                    },
                );
            }
            let s = s.max(at);
            if e > s {
                push_merged(
                    &mut with_bookings,
                    Period {
                        start: s,
                        end: e,
                        kind: FbType::Busy,
                    },
                );
                at = e;
            }
        }
        if at < period.end {
            push_merged(
                &mut with_bookings,
                Period {
                    start: at,
                    end: period.end,
                    kind: FbType::Unavailable,
                },
            );
        }
    }
    with_bookings
}

/// Appends `p`, or extends the last period when it is of the same type and ends where `p`
/// starts.
fn push_merged(out: &mut Vec<Period>, p: Period) {
    match out.last_mut() {
        Some(last) if last.kind == p.kind && last.end == p.start => last.end = p.end,
        _ => out.push(p),
    }
}

/// What the document says about itself.
#[derive(Clone, Copy, Debug)]
pub struct About<'a> {
    /// The `UID`: stable for the same calendar (or group), viewer zone and week.
    pub uid: &'a str,
    /// The `DTSTAMP`: the last change of what it describes, Unix seconds.
    pub stamp: i64,
    /// A human-readable name (`COMMENT`).
    pub name: &'a str,
}

/// The `VCALENDAR` with one `VFREEBUSY` of `periods`, which cover the week without holes
/// except where the viewer's clock skips.
pub fn render(about: &About<'_>, periods: &[Period]) -> Vec<u8> {
    let mut out = Vec::with_capacity(512 + periods.len() * 64);
    push_line(&mut out, "BEGIN:VCALENDAR");
    push_line(&mut out, "VERSION:2.0");
    push_line(&mut out, &format!("PRODID:{PRODID}"));
    push_line(&mut out, "METHOD:PUBLISH");
    push_line(&mut out, "BEGIN:VFREEBUSY");
    push_line(&mut out, &format!("UID:{}", escape_text(about.uid)));
    push_line(&mut out, &format!("DTSTAMP:{}", utc_stamp(about.stamp)));
    if let (Some(first), Some(last)) = (periods.first(), periods.last()) {
        push_line(&mut out, &format!("DTSTART:{}", utc_stamp(first.start)));
        push_line(&mut out, &format!("DTEND:{}", utc_stamp(last.end)));
    }
    push_line(&mut out, &format!("COMMENT:{}", escape_text(about.name)));
    for p in periods {
        push_line(
            &mut out,
            &format!(
                "FREEBUSY;FBTYPE={}:{}/{}",
                p.kind.as_str(),
                utc_stamp(p.start),
                utc_stamp(p.end)
            ),
        );
    }
    push_line(&mut out, "END:VFREEBUSY");
    push_line(&mut out, "END:VCALENDAR");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use availability_core::Week;

    fn zone(name: &str) -> Zone {
        Zone::new(name).expect("zone")
    }

    fn at(text: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(text)
            .expect("instant")
            .timestamp()
    }

    #[test]
    fn equal_neighbours_merge_and_the_week_is_covered() {
        let week = IsoWeek::new(2026, 48).expect("week");
        let nine_to_five = Week::from_fn(|s| {
            if s.day().index() == 0 && (18..34).contains(&s.half_hour()) {
                Status::Available
            } else if s.day().index() == 0 && s.half_hour() == 34 {
                Status::Maybe
            } else {
                Status::Unavailable
            }
        });
        let p = periods(zone("UTC"), week, |s| nine_to_five.status(s), &[]);
        let kinds: Vec<FbType> = p.iter().map(|p| p.kind).collect();
        assert_eq!(
            kinds,
            [
                FbType::Unavailable,
                FbType::Free,
                FbType::Tentative,
                FbType::Unavailable
            ]
        );
        assert_eq!(p[0].start, at("2026-11-23T00:00:00Z"));
        assert_eq!(p[1].start, at("2026-11-23T09:00:00Z"));
        assert_eq!(p[2].start, at("2026-11-23T17:00:00Z"));
        assert_eq!(p[3].end, at("2026-11-30T00:00:00Z"));
        for pair in p.windows(2) {
            assert_eq!(pair[0].end, pair[1].start);
        }
    }

    #[test]
    fn a_spring_forward_week_is_an_hour_shorter_in_utc() {
        // New York, 2026-03-08: 02:00 EST becomes 03:00 EDT.
        let week = IsoWeek::new(2026, 10).expect("week");
        let p = periods(zone("America/New_York"), week, |_| Status::Available, &[]);
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].start, at("2026-03-02T05:00:00Z"));
        assert_eq!(p[0].end, at("2026-03-09T04:00:00Z"));
    }

    #[test]
    fn bookings_split_unavailable_time_as_busy() {
        let week = IsoWeek::new(2026, 48).expect("week");
        let booked = [(at("2026-11-24T10:15:00Z"), at("2026-11-24T11:00:00Z"))];
        let p = periods(zone("UTC"), week, |_| Status::Unavailable, &booked);
        let kinds: Vec<FbType> = p.iter().map(|p| p.kind).collect();
        assert_eq!(
            kinds,
            [FbType::Unavailable, FbType::Busy, FbType::Unavailable]
        );
        assert_eq!((p[1].start, p[1].end), booked[0]);
    }

    #[test]
    fn the_document_has_one_freebusy_with_typed_periods() {
        let p = [
            Period {
                start: at("2026-11-23T00:00:00Z"),
                end: at("2026-11-23T09:00:00Z"),
                kind: FbType::Unavailable,
            },
            Period {
                start: at("2026-11-23T09:00:00Z"),
                end: at("2026-11-30T00:00:00Z"),
                kind: FbType::Free,
            },
        ];
        let about = About {
            uid: "freebusy-room,4",
            stamp: at("2026-11-01T12:00:00Z"),
            name: "room;4",
        };
        let text = String::from_utf8(render(&about, &p)).expect("utf8");
        assert!(
            text.starts_with("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n"),
            "{text}"
        );
        assert!(text.contains("\r\nUID:freebusy-room\\,4\r\n"), "{text}");
        assert!(text.contains("\r\nDTSTAMP:20261101T120000Z\r\n"), "{text}");
        assert!(text.contains("\r\nCOMMENT:room\\;4\r\n"), "{text}");
        assert!(text.contains(
            "\r\nFREEBUSY;FBTYPE=BUSY-UNAVAILABLE:20261123T000000Z/20261123T090000Z\r\n"
        ));
        assert!(text.contains("\r\nFREEBUSY;FBTYPE=FREE:20261123T090000Z/20261130T000000Z\r\n"));
        assert!(text.ends_with("END:VFREEBUSY\r\nEND:VCALENDAR\r\n"));
        assert_eq!(text.matches("BEGIN:VFREEBUSY").count(), 1);
    }
}
