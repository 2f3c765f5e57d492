//! Unit tests of the log's byte layout.

use super::*;
use crate::dated::{Claim, GroupRef};
use crate::plane::Plane;
use crate::store::format::page_crc;
use crate::store::groups::{Group, GroupType};

fn owner() -> Owner {
    Owner {
        id: String::from("room-1"),
        incarnation: 7,
        version: 3,
    }
}

/// The booking the samples remember, as a claim of `Team sync` by key `k1` makes it.
fn booking(id: u64) -> Arc<crate::dated::Booking> {
    let claim = Claim {
        start: 1_800_000_000,
        end: 1_800_003_600,
        label: Some(String::from("Team sync")),
        key_id: Some(String::from("k1")),
        booking_type: Some(String::from("call-30")),
        group: None,
    };
    let slots = alloc::vec![(2_900, Plane::range(40, 42)), (2_901, Plane::range(0, 1))];
    Arc::new(crate::dated::Booking::made(
        crate::dated::BookingId(id),
        &claim,
        1_799_000_000_000,
        slots.into_boxed_slice(),
    ))
}

fn samples() -> Vec<Record> {
    let remembered = Remembered {
        key: String::from("8e03978e-40d5-43e8-bc93-6894a57f9324"),
        principal: String::from("key:k1"),
        fingerprint: [9; 32],
        expires_ms: 1_800_000_000_000,
        answer: Answer::Response {
            status: 201,
            body: b"{\"id\":\"1\"}".to_vec(),
            state: Some((7, 3)),
        },
    };
    let booked = |id| Remembered {
        key: String::from("book-again"),
        answer: Answer::Booked {
            calendar: owner().id,
            incarnation: owner().incarnation,
            version: owner().version,
            booking: booking(id),
        },
        ..remembered.clone()
    };
    alloc::vec![
        Record::State {
            owner: owner(),
            next_booking: 12
        },
        Record::Override {
            owner: owner(),
            day: 20_000,
            open: 0xFF,
            firm: 0x0F
        },
        Record::ClearOverride {
            owner: owner(),
            day: -3
        },
        Record::Book {
            owner: owner(),
            id: 5,
            start: 1_800_000_000,
            end: 1_800_003_600,
            created_ms: 1_799_000_000_000,
            key_id: Some(String::from("k1")),
            label: Some(String::from("Team sync")),
            booking_type: None,
            group: None,
            remembered: Some(remembered.clone()),
        },
        Record::Book {
            owner: owner(),
            id: 7,
            start: 1_800_000_000,
            end: 1_800_003_600,
            created_ms: 1_799_000_000_000,
            key_id: Some(String::from("k1")),
            label: Some(String::from("Team sync")),
            booking_type: Some(String::from("call-30")),
            group: None,
            remembered: Some(booked(7)),
        },
        Record::Book {
            owner: owner(),
            id: 6,
            start: 1_800_000_000,
            end: 1_800_003_600,
            created_ms: 0,
            key_id: None,
            label: None,
            booking_type: Some(String::from("room-2h")),
            group: Some(GroupRef {
                group: String::from("team"),
                id: 1 << 40,
            }),
            remembered: None,
        },
        Record::Cancel {
            owner: owner(),
            id: 5
        },
        Record::Remember(remembered.clone()),
        Record::Remember(booked(8)),
        Record::Remember(Remembered {
            key: String::from("no-state"),
            answer: Answer::Response {
                status: 200,
                body: Vec::new(),
                state: None,
            },
            ..remembered.clone()
        }),
        Record::Group(Arc::new(Group::with_types(
            String::from("team"),
            alloc::vec![String::from("room-1"), String::from("ana")],
            Vec::new(),
        ))),
        Record::Group(Arc::new(Group::with_types(
            String::from("team"),
            alloc::vec![String::from("ana")],
            alloc::vec![
                (
                    String::from("standup"),
                    GroupType {
                        rules: crate::slots::BookingType::new(15),
                        zone: String::from("Asia/Kathmandu"),
                    },
                ),
                (
                    String::from("sync"),
                    GroupType {
                        rules: crate::slots::BookingType {
                            label: Some(String::from("Weekly sync")),
                            per_day: Some(2),
                            ..crate::slots::BookingType::new(60)
                        },
                        zone: String::from("UTC"),
                    },
                ),
            ],
        ))),
        Record::GroupWrite(GroupWrite {
            group: GroupRef {
                group: String::from("team"),
                id: 99,
            },
            span: Some(GroupSpan {
                start: 1_800_000_000,
                end: 1_800_001_800,
                created_ms: 1_799_000_000_000,
                key_id: Some(String::from("admin-1")),
                label: Some(String::from("Planning")),
                booking_type: String::from("sync"),
            }),
            parts: alloc::vec![(owner(), 8), (owner(), 9)],
        }),
        Record::GroupWrite(GroupWrite {
            group: GroupRef {
                group: String::from("team"),
                id: 99,
            },
            span: None,
            parts: alloc::vec![(owner(), 8)],
        }),
        Record::DeleteGroup {
            id: String::from("team"),
        },
        Record::Calendars(batch(&["room-1", "room-2", "hall"])),
        Record::Pattern {
            by: Some(Arc::from("k-1_x")),
            record: Arc::clone(&batch(&["room-1"])[0]),
        },
        Record::Pattern {
            by: None,
            record: Arc::clone(&batch(&["hall"])[0]),
        },
        Record::Past {
            id: String::from("room-1"),
            incarnation: 5,
            past: Arc::new(
                crate::store::PastPattern::new(
                    12,
                    1_799_000_000_123,
                    Some("owner"),
                    "#?.#".repeat(84).parse().expect("a week"),
                    [u64::MAX, 0, 1 << 63, 5, 0, 0xFFFF],
                )
                .expect("a version"),
            ),
        },
        Record::Past {
            id: String::from("hall"),
            incarnation: 9,
            past: Arc::new(
                crate::store::PastPattern::new(1, -5, None, crate::Week::default(), [0; 6])
                    .expect("a version"),
            ),
        },
    ]
    .into_iter()
    .chain(webhook_samples())
    .collect()
}

/// An endpoint of each kind, its removal, attempts, and events waiting.
fn webhook_samples() -> Vec<Record> {
    use crate::store::webhook::*;
    let hook = Webhook::new(
        "wh-1",
        "https://hooks.example.com/in?x=1",
        EventSet::of([EventKind::BookingCreated, EventKind::CalendarDeleted]),
        alloc::vec![String::from("room-1")],
        Some((String::from("room-1"), 7)),
        alloc::vec![1, 2, 3, 250],
        1_799_000_000_000,
    )
    .expect("a webhook");
    let mut failing = Webhook::new(
        "wh-2",
        "https://10.0.0.1/",
        EventSet::ALL,
        alloc::vec![],
        None,
        alloc::vec![9; 60],
        1_799_000_000_001,
    )
    .expect("a webhook");
    failing.failing_since_ms = Some(1_799_000_100_000);
    failing.disabled = Some(Disabled {
        at_ms: 1_799_300_000_000,
        reason: String::from("410 Gone"),
    });
    let id = EventId {
        incarnation: 7,
        version: 4,
    };
    let attempt = |outcome, error: Option<&str>| Attempt {
        event: id,
        kind: EventKind::BookingRescheduled,
        number: 3,
        at_ms: 1_799_000_200_000,
        status: 503,
        duration_ms: 15_000,
        error: error.map(String::from),
        outcome,
    };
    let event = |booking, day| Event {
        id,
        kind: EventKind::BookingRescheduled,
        calendar: String::from("room-1"),
        at_ms: 1_799_000_000_002,
        booking,
        day,
    };
    alloc::vec![
        Record::Webhook(Arc::new(hook)),
        Record::Webhook(Arc::new(failing)),
        Record::DeleteWebhook {
            id: String::from("wh-1"),
        },
        Record::Attempts {
            hook: String::from("wh-2"),
            attempts: alloc::vec![
                attempt(Outcome::Retry, Some("connection reset")),
                attempt(Outcome::Delivered, None),
                attempt(Outcome::GaveUp, Some("")),
            ],
        },
        Record::Pending(Arc::new(Pending {
            event: event(
                Some(EventBooking {
                    id: 12,
                    start: 1_800_000_000,
                    end: 1_800_001_800,
                    label: Some(String::from("Team sync")),
                    booking_type: Some(String::from("call-30")),
                    group: Some(GroupRef {
                        group: String::from("team"),
                        id: 99,
                    }),
                    previous: Some((1_799_990_000, 1_799_991_800)),
                }),
                None,
            ),
            deliveries: alloc::vec![
                Delivery {
                    hook: String::from("wh-1"),
                    attempts: 0,
                    last_ms: 0,
                },
                Delivery {
                    hook: String::from("wh-2"),
                    attempts: 4,
                    last_ms: 1_799_000_300_000,
                },
            ],
        })),
        Record::Pending(Arc::new(Pending {
            event: event(None, Some(20_500)),
            deliveries: alloc::vec![Delivery {
                hook: String::from("wh-2"),
                attempts: 0,
                last_ms: 0,
            }],
        })),
    ]
}

/// New calendars of one batch (incarnation 5), one of them open to bookings from anyone.
fn batch(ids: &[&str]) -> alloc::vec::Vec<Arc<CalendarRecord>> {
    ids.iter()
        .enumerate()
        .map(|(i, id)| {
            let mut record =
                super::super::calendar::new_calendar(id, "Asia/Kathmandu", alloc::vec![], 5);
            record.booking_public = i == 1;
            Arc::new(record)
        })
        .collect()
}

#[test]
fn a_batch_is_of_new_calendars_of_distinct_ids() {
    let refused = |records: alloc::vec::Vec<Arc<CalendarRecord>>| {
        let record = Record::Calendars(records);
        Record::decode(record.kind(), &record.encode()).expect_err("refused")
    };
    assert!(refused(batch(&["a", "b", "a"])).contains("twice"));
    assert!(refused(alloc::vec![]).contains("0 calendars"));
    let mut old = batch(&["a", "b"]);
    Arc::make_mut(&mut old[1]).version = 2;
    assert!(refused(old).contains("version 2"));
    let mut unborn = batch(&["a"]);
    Arc::make_mut(&mut unborn[0]).incarnation = 0;
    assert!(refused(unborn).contains("incarnation 0"));
}

#[test]
fn every_records_length_is_known_without_encoding_it() {
    for record in samples() {
        assert_eq!(record.encoded_len(), record.encode().len(), "{record:?}");
    }
}

#[test]
fn records_round_trip_and_every_truncation_is_refused() {
    for record in samples() {
        let payload = record.encode();
        assert_eq!(Record::decode(record.kind(), &payload), Ok(record.clone()));
        for n in 0..payload.len() {
            assert!(
                Record::decode(record.kind(), &payload[..n]).is_err(),
                "{record:?} {n}"
            );
        }
    }
}

#[test]
fn a_scan_stops_at_the_first_invalid_frame() {
    // Made once: a sample made again a millisecond later has another change time.
    let samples = samples();
    let mut body = Vec::new();
    for (i, record) in samples.iter().enumerate() {
        body.extend_from_slice(&frame(10 + i as u64, 10, record));
    }
    let whole = body.len();
    body.resize(whole + 64, 0);
    let (records, end, why) = scan(&body, 10);
    assert_eq!((records, end, why), (samples.clone(), whole, End::Clean));
    // A flipped byte in the third frame keeps the first two.
    let second_end = frame(10, 10, &samples[0]).len() + frame(11, 10, &samples[1]).len();
    let mut damaged = body.clone();
    damaged[second_end + 30] ^= 0x40;
    let (records, end, why) = scan(&damaged, 10);
    assert_eq!((records.len(), end), (2, second_end));
    assert!(matches!(why, End::Invalid(_)));
    // Recovery sees the fourth frame after the damage, and what it says was durable.
    let third = frame(12, 10, &samples[2]).len();
    assert_eq!(
        later_frame(&damaged[second_end + third..], 12),
        Some((13, 10))
    );
    assert_eq!(later_frame(&damaged[second_end + third..], 13), None);
    // A wrong first sequence number reads nothing.
    assert_eq!(scan(&body, 11).0.len(), 0);
}

/// A response as version 3 kept it, in a booking record (flag 1) and on its own (kind 6):
/// read as a response that showed no calendar's state.
#[test]
fn responses_as_version_3_kept_them_are_read() {
    let response = |remembered: &Remembered| {
        let mut out = Vec::new();
        let Answer::Response { status, body, .. } = &remembered.answer else {
            panic!("a response");
        };
        remembered::encode_response(&mut out, remembered, *status, body, None);
        out.pop(); // Version 3 wrote no state.
        out
    };
    for record in samples() {
        match record {
            Record::Remember(
                ref r @ Remembered {
                    answer: Answer::Response { .. },
                    ..
                },
            ) => {
                let read = Record::decode(6, &response(r)).expect("kind 6");
                let Record::Remember(read) = read else {
                    panic!("{read:?}");
                };
                assert!(matches!(read.answer, Answer::Response { state: None, .. }));
                assert_eq!(read.key, r.key);
            }
            Record::Book {
                remembered:
                    Some(
                        ref r @ Remembered {
                            answer: Answer::Response { .. },
                            ..
                        },
                    ),
                ..
            } => {
                let mut payload = record.encode();
                let tail = response(r).len() + 1 + 1 + 16;
                payload.truncate(payload.len() - tail);
                payload.push(1);
                payload.extend_from_slice(&response(r));
                let Record::Book {
                    remembered: Some(read),
                    ..
                } = Record::decode(4, &payload).expect("kind 4, flag 1")
                else {
                    panic!("a booking with its answer");
                };
                assert!(matches!(read.answer, Answer::Response { state: None, .. }));
            }
            _ => {}
        }
    }
}

#[test]
fn the_header_round_trips_and_refuses_the_future() {
    let header = Header {
        generation: 3,
        first_seq: 41,
    };
    let bytes = header.encode();
    assert_eq!(Header::decode(&bytes), Ok(header));
    let mut newer = bytes.clone();
    newer[8] = FORMAT_VERSION as u8 + 1;
    assert!(Header::decode(&newer).unwrap_err().contains("newer"));
    // The log of version 3 is read as it is (and rewritten by a compaction on open).
    let mut three = bytes.clone();
    three[8] = 3;
    let crc = page_crc(&three, 12);
    three[12..16].copy_from_slice(&crc.to_le_bytes());
    assert_eq!(Header::decode(&three), Ok(header));
    // A journal of the format before is read only as one (to migrate it), and the other way.
    assert!(Header::decode_journal(&bytes)
        .unwrap_err()
        .contains("magic"));
    let mut journal = bytes.clone();
    journal[..8].copy_from_slice(&JOURNAL_MAGIC);
    journal[8] = 1;
    let crc = page_crc(&journal, 12);
    journal[12..16].copy_from_slice(&crc.to_le_bytes());
    assert_eq!(Header::decode_journal(&journal), Ok(header));
    assert!(Header::decode(&journal).unwrap_err().contains("magic"));
    let mut flipped = bytes;
    flipped[100] = 1;
    assert!(Header::decode(&flipped).unwrap_err().contains("CRC"));
}
