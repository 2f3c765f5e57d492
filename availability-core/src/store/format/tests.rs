//! Unit tests of the byte layout of calendar records, keys and the fixed records of the
//! formats before the log.

use super::*;
use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec;

fn key(id: &str) -> KeyHash {
    KeyHash::new(
        id,
        "$2b$12$abcdefghijklmnopqrstuvABCDEFGHIJKLMNOPQRSTUVWXYZ01234",
    )
    .expect("key")
}

fn calendar() -> CalendarRecord {
    CalendarRecord {
        id: Arc::from("room-1"),
        zone: Arc::from("America/Port-au-Prince"),
        week: Week::from_fn(|s| crate::Status::ALL[s.index() % 3]),
        version: 7,
        changed_at_ms: 1_700_000_000_123,
        keys: vec![
            key("k1"),
            key("k_2")
                .with_scope(KeyScope::Book)
                .with_label("front desk")
                .expect("label"),
        ],
        incarnation: 9 << 40 | 3,
        booking_public: true,
        types: Box::default(),
    }
}

/// Booking types with every field away from its default, in name order.
fn types() -> types::Types {
    let mut call = crate::slots::BookingType::new(30);
    call.interval = 15;
    call.buffer_before = 10;
    call.buffer_after = 720;
    call.notice = 1_051_200;
    call.horizon = 730;
    call.per_day = Some(1_000);
    call.label = Some(String::from("30-minute call ☕"));
    let room = crate::slots::BookingType::new(1_440);
    vec![(Box::from("call"), call), (Box::from("room-2h"), room)].into_boxed_slice()
}

#[test]
fn booking_types_round_trip_and_are_checked() {
    let mut record = calendar();
    record.types = types();
    let payload = record.encode();
    assert_eq!(payload.len(), record.encoded_len());
    assert_eq!(
        CalendarRecord::decode(&payload, FORMAT_VERSION),
        Ok(record.clone())
    );
    // Out of order, a duration out of range, a truncation: refused, never misread.
    let mut swapped = record.clone();
    swapped.types = types().iter().rev().cloned().collect();
    assert!(CalendarRecord::decode(&swapped.encode(), FORMAT_VERSION).is_err());
    let mut long = record.clone();
    let mut t = types().to_vec();
    t[0].1.duration = 1_441;
    long.types = t.into_boxed_slice();
    assert!(CalendarRecord::decode(&long.encode(), FORMAT_VERSION).is_err());
    for n in payload.len() - 40..payload.len() {
        assert!(
            CalendarRecord::decode(&payload[..n], FORMAT_VERSION).is_err(),
            "{n}"
        );
    }
}

#[test]
fn calendar_payloads_round_trip() {
    let record = calendar();
    assert_eq!(
        CalendarRecord::decode(&record.encode(), FORMAT_VERSION),
        Ok(record)
    );
}

#[test]
fn the_largest_calendar_fits_one_copy() {
    let mut record = calendar();
    record.id = Arc::from("a".repeat(MAX_ID));
    record.zone = Arc::from("Z".repeat(MAX_ZONE));
    record.keys = (0..MAX_KEYS)
        .map(|i| {
            KeyHash::new(format!("{i:0>32}"), "h".repeat(MAX_KEY_HASH))
                .and_then(|k| k.with_label("l".repeat(MAX_KEY_LABEL)))
                .expect("key")
        })
        .collect();
    let payload = record.encode();
    assert!(payload.len() <= MAX_PAYLOAD);
    assert_eq!(CalendarRecord::decode(&payload, FORMAT_VERSION), Ok(record));
}

#[test]
fn meta_payloads_round_trip_and_reject_zero_slots() {
    let meta = MetaRecord {
        slots: 32,
        admin_keys: vec![key("admin")],
    };
    assert_eq!(MetaRecord::decode(&meta.encode(), FORMAT_VERSION), Ok(meta));
    let empty = MetaRecord {
        slots: 0,
        admin_keys: vec![],
    };
    assert!(MetaRecord::decode(&empty.encode(), FORMAT_VERSION).is_err());
}

#[test]
fn every_truncation_and_extension_of_a_payload_is_rejected() {
    let payload = calendar().encode();
    for n in 0..payload.len() {
        assert!(
            CalendarRecord::decode(&payload[..n], FORMAT_VERSION).is_err(),
            "prefix {n}"
        );
    }
    let mut longer = payload.clone();
    longer.push(0);
    assert!(CalendarRecord::decode(&longer, FORMAT_VERSION).is_err());
}

#[test]
fn copies_round_trip_and_name_their_record() {
    let mut page = [0u8; PAGE];
    encode_copy(&mut page, 5, 9, PayloadKind::Free, &[]);
    let raw = decode_copy(&page, 5).expect("valid");
    assert_eq!(
        (raw.seq, raw.kind, raw.payload.len()),
        (9, PayloadKind::Free, 0)
    );
    let err = decode_copy(&page, 6).expect_err("misplaced");
    assert!(err.contains("record 5"), "{err}");
}

#[test]
fn the_newer_valid_copy_wins_and_a_tie_is_refused() {
    let mut a = [0u8; PAGE];
    let mut b = [0u8; PAGE];
    encode_copy(&mut a, 1, 4, PayloadKind::Free, &[]);
    encode_copy(&mut b, 1, 5, PayloadKind::Free, &[]);
    let ok = |_: PayloadKind, _: &[u8]| Ok::<(), String>(());
    assert_eq!(choose([&a, &b], 1, ok).expect("valid").copy, 1);
    assert_eq!(choose([&b, &a], 1, ok).expect("valid").copy, 0);
    b[100] ^= 1;
    assert_eq!(choose([&a, &b], 1, ok).expect("valid").copy, 0);
    assert_eq!(choose([&b, &a], 1, ok).expect("valid").copy, 1);
    assert!(choose([&b, &b], 1, ok).is_err());
    assert!(choose([&a, &a], 1, ok)
        .expect_err("tie")
        .contains("sequence number 4"));
}

#[test]
fn the_header_checks_magic_version_crc_and_size() {
    let header = encode_header_of(PAGED_VERSION);
    assert_eq!(check_header(&header), Ok(PAGED_VERSION));
    assert_eq!(check_header(&encode_header_of(1)), Ok(MIGRATES_FROM));
    let mut bad = header;
    bad[0] = b'X';
    assert!(check_header(&bad).expect_err("magic").contains("magic"));
    let mut newer = header;
    newer[8] = FORMAT_VERSION as u8 + 1;
    assert!(sniff_version(&newer)
        .expect_err("version")
        .contains("newer"));
    for log in OLDER_LOGS.into_iter().chain([FORMAT_VERSION]) {
        newer[8] = log as u8;
        assert_eq!(sniff_version(&newer), Ok(log));
        assert!(
            check_header(&newer).is_err(),
            "version {log} is not of fixed records"
        );
    }
    let mut flipped = header;
    flipped[2000] = 1;
    assert!(check_header(&flipped).expect_err("crc").contains("CRC"));
    assert!(check_header(&header[..100]).is_err());
}
