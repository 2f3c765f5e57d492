//! One concrete week as a `VFREEBUSY` (RFC 5545 section 3.6.4) in UTC.
//!
//! A `VFREEBUSY` is a list of real periods that calendar software lays over its own grid, so
//! the periods are the owners' real times, exact to the instant, not the viewer's half hours:
//! every instant of the viewer's week (none in a spring-forward gap) takes its owner's status
//! at that instant. Available is `FBTYPE=FREE`, maybe `BUSY-TENTATIVE`, unavailable
//! `BUSY-UNAVAILABLE`, and the real span of a booking `BUSY`; adjacent periods of one type are
//! merged. The viewer's zone only chooses which week is covered. A group's instant is `FREE`
//! where every member is available, `BUSY-TENTATIVE` where every member is at least maybe,
//! `BUSY` where a member is booked, and `BUSY-UNAVAILABLE` otherwise.

use availability_core::tz::{Interval, IsoWeek};
use availability_core::Status;
use chrono::NaiveTime;

use super::{escape_text, push_line, utc_stamp, PRODID};
use crate::store::Calendar;

/// What a period of a `VFREEBUSY` is, from the freest to the busiest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
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

/// One calendar's week: every real instant of the viewed week by owner status (the runs of
/// `Dated::runs`), and the real spans of its bookings that fall in it.
#[derive(Clone, Copy, Debug)]
pub struct Owner<'a> {
    /// The runs, in order.
    pub runs: &'a [Interval],
    /// The bookings' spans, Unix seconds.
    pub booked: &'a [(i64, i64)],
}

/// The real spans of `calendar`'s bookings that may fall in the viewer's ISO week `week`.
pub fn booked(calendar: &Calendar, week: IsoWeek) -> Vec<(i64, i64)> {
    let monday = week.monday().and_time(NaiveTime::MIN).and_utc().timestamp();
    // Offsets lie within a day of UTC: these bounds hold the whole viewer week.
    calendar
        .dated()
        .bookings(monday - 86_400, monday + 8 * 86_400)
        .iter()
        .map(|b| (b.start(), b.end()))
        .collect()
}

/// The periods of the viewed week of one calendar, or of a group of them (each instant the
/// busiest of its members' types). Merged and sorted.
pub fn periods(owners: &[Owner<'_>]) -> Vec<Period> {
    match owners {
        [] => Vec::new(),
        [one] => of_owner(one),
        _ => busiest(&owners.iter().map(of_owner).collect::<Vec<_>>()),
    }
}

/// One calendar's periods: its runs, with the spans of its bookings cut out of its
/// unavailable time as `BUSY`.
fn of_owner(owner: &Owner<'_>) -> Vec<Period> {
    let mut out = Vec::with_capacity(owner.runs.len() + 2 * owner.booked.len());
    for run in owner.runs {
        let period = Period {
            start: run.start.unix_seconds(),
            end: run.end.unix_seconds(),
            kind: FbType::of(run.status),
        };
        if period.kind != FbType::Unavailable || owner.booked.is_empty() {
            push_merged(&mut out, period);
            continue;
        }
        // Cut the unavailable period at every booking that overlaps it.
        let mut at = period.start;
        let mut cuts: Vec<(i64, i64)> = owner
            .booked
            .iter()
            .map(|&(s, e)| (s.max(period.start), e.min(period.end)))
            .filter(|(s, e)| s < e)
            .collect();
        cuts.sort_unstable();
        for (s, e) in cuts {
            if s > at {
                push_merged(
                    &mut out,
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
                    &mut out,
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
                &mut out,
                Period {
                    start: at,
                    end: period.end,
                    kind: FbType::Unavailable,
                },
            );
        }
    }
    out
}

/// The members' periods laid over each other: between two consecutive ends of any of them,
/// the busiest type any member has there. An instant no member's periods hold (the viewer's
/// clocks skip it, for all of them alike) stays out.
fn busiest(each: &[Vec<Period>]) -> Vec<Period> {
    let mut ends: Vec<i64> = each
        .iter()
        .flatten()
        .flat_map(|p| [p.start, p.end])
        .collect();
    ends.sort_unstable();
    ends.dedup();
    let mut next = vec![0usize; each.len()];
    let mut out = Vec::new();
    for pair in ends.windows(2) {
        let (start, end) = (pair[0], pair[1]);
        let mut kind = Some(FbType::Free);
        for (periods, i) in each.iter().zip(next.iter_mut()) {
            while periods.get(*i).is_some_and(|p| p.end <= start) {
                *i += 1;
            }
            kind = match periods.get(*i) {
                Some(p) if p.start <= start => kind.map(|k| k.max(p.kind)),
                _ => None,
            };
        }
        if let Some(kind) = kind {
            push_merged(&mut out, Period { start, end, kind });
        }
    }
    out
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
    use availability_core::tz::{Plan, Zone};
    use availability_core::Week;

    fn zone(name: &str) -> Zone {
        Zone::new(name).expect("zone")
    }

    fn at(text: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(text)
            .expect("instant")
            .timestamp()
    }

    /// Monday 09:00-17:00 available, 17:00-17:30 maybe, the rest unavailable.
    fn nine_to_five() -> Week {
        Week::from_fn(|s| {
            if s.day().index() == 0 && (18..34).contains(&s.half_hour()) {
                Status::Available
            } else if s.day().index() == 0 && s.half_hour() == 34 {
                Status::Maybe
            } else {
                Status::Unavailable
            }
        })
    }

    /// The runs of `week`, owned in `owner`, during ISO week `iso` of `viewer`.
    fn runs(week: &Week, owner: &str, viewer: &str, iso: IsoWeek) -> Vec<Interval> {
        Plan::new(zone(owner), zone(viewer), iso)
            .expect("plan")
            .runs(week)
    }

    fn kinds(p: &[Period]) -> Vec<FbType> {
        p.iter().map(|p| p.kind).collect()
    }

    #[test]
    fn equal_neighbours_merge_and_the_week_is_covered() {
        let week = IsoWeek::new(2026, 48).expect("week");
        let runs = runs(&nine_to_five(), "UTC", "UTC", week);
        let p = periods(&[Owner {
            runs: &runs,
            booked: &[],
        }]);
        assert_eq!(
            kinds(&p),
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
    fn a_quarter_hour_viewer_sees_the_owners_real_hours() {
        // Berlin 09:00-17:00 is 08:00-16:00 UTC in November, whatever grid Kathmandu
        // (+05:45) draws; only which week is covered is the viewer's.
        let week = IsoWeek::new(2026, 48).expect("week");
        let runs = runs(&nine_to_five(), "Europe/Berlin", "Asia/Kathmandu", week);
        let p = periods(&[Owner {
            runs: &runs,
            booked: &[],
        }]);
        assert_eq!(
            p[0].start,
            at("2026-11-22T18:15:00Z"),
            "Kathmandu's Monday 00:00"
        );
        assert_eq!(
            p.iter()
                .find(|p| p.kind == FbType::Free)
                .map(|p| (p.start, p.end)),
            Some((at("2026-11-23T08:00:00Z"), at("2026-11-23T16:00:00Z")))
        );
        assert_eq!(p.last().map(|p| p.end), Some(at("2026-11-29T18:15:00Z")));
    }

    #[test]
    fn a_spring_forward_week_is_an_hour_shorter_in_utc() {
        // New York, 2026-03-08: 02:00 EST becomes 03:00 EDT.
        let week = IsoWeek::new(2026, 10).expect("week");
        let runs = runs(
            &Week::AVAILABLE,
            "America/New_York",
            "America/New_York",
            week,
        );
        let p = periods(&[Owner {
            runs: &runs,
            booked: &[],
        }]);
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].start, at("2026-03-02T05:00:00Z"));
        assert_eq!(p[0].end, at("2026-03-09T04:00:00Z"));
    }

    #[test]
    fn bookings_split_unavailable_time_as_busy() {
        let week = IsoWeek::new(2026, 48).expect("week");
        let booked = [(at("2026-11-24T10:15:00Z"), at("2026-11-24T11:00:00Z"))];
        let runs = runs(&Week::UNAVAILABLE, "UTC", "UTC", week);
        let p = periods(&[Owner {
            runs: &runs,
            booked: &booked,
        }]);
        assert_eq!(
            kinds(&p),
            [FbType::Unavailable, FbType::Busy, FbType::Unavailable]
        );
        assert_eq!((p[1].start, p[1].end), booked[0]);
    }

    #[test]
    fn a_group_instant_is_its_busiest_members() {
        let week = IsoWeek::new(2026, 48).expect("week");
        // Available but for Monday 09:00-09:30 UTC, which its booking claims.
        let claimed = Week::from_fn(|s| {
            if s.day().index() == 0 && s.half_hour() == 18 {
                Status::Unavailable
            } else {
                Status::Available
            }
        });
        let free = runs(&claimed, "UTC", "Asia/Kathmandu", week);
        let berlin = runs(&nine_to_five(), "Europe/Berlin", "Asia/Kathmandu", week);
        let booked = [(at("2026-11-23T09:10:00Z"), at("2026-11-23T09:20:00Z"))];
        let p = periods(&[
            Owner {
                runs: &free,
                booked: &booked,
            },
            Owner {
                runs: &berlin,
                booked: &[],
            },
        ]);
        let spans: Vec<(FbType, i64, i64)> = p.iter().map(|p| (p.kind, p.start, p.end)).collect();
        assert_eq!(
            spans,
            [
                (
                    FbType::Unavailable,
                    at("2026-11-22T18:15:00Z"),
                    at("2026-11-23T08:00:00Z")
                ),
                (
                    FbType::Free,
                    at("2026-11-23T08:00:00Z"),
                    at("2026-11-23T09:00:00Z")
                ),
                (
                    FbType::Unavailable,
                    at("2026-11-23T09:00:00Z"),
                    at("2026-11-23T09:10:00Z")
                ),
                (
                    FbType::Busy,
                    at("2026-11-23T09:10:00Z"),
                    at("2026-11-23T09:20:00Z")
                ),
                (
                    FbType::Unavailable,
                    at("2026-11-23T09:20:00Z"),
                    at("2026-11-23T09:30:00Z")
                ),
                (
                    FbType::Free,
                    at("2026-11-23T09:30:00Z"),
                    at("2026-11-23T16:00:00Z")
                ),
                (
                    FbType::Tentative,
                    at("2026-11-23T16:00:00Z"),
                    at("2026-11-23T16:30:00Z")
                ),
                (
                    FbType::Unavailable,
                    at("2026-11-23T16:30:00Z"),
                    at("2026-11-29T18:15:00Z")
                ),
            ]
        );
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
