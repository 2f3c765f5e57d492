//! Opens arbitrary bytes as a store's log where it holds dated data (overrides, bookings and
//! remembered answers): the result is an error or a working store, never a panic. A working
//! store must then take dated writes and reopen to the same dated state, and no slot may be
//! held by two bookings.
//!
//! The first input byte picks how the rest becomes a store file:
//! - 0: the bytes are the file.
//! - 1: the bytes are patches (2-byte offset, 1-byte xor) to the records of a valid store
//!   with dated data, after which every record gets a correct CRC, so the record decoders see
//!   hostile bytes.
//! - anything else: the same patches, CRCs left as they fall.

use std::sync::OnceLock;

use availability_core::dated::{Claim, DayOverride};
use availability_core::store::double::FileDouble;
use availability_core::store::{Answer, Authority, Change, IdempotencyKey, Store};
use availability_core::tz::IsoWeek;
use availability_core::{Batch, Day, Entry, Status};

const HEADER: usize = 4096;
const FRAME: usize = 32;
/// The Monday 09:00 UTC two to three weeks from now: every booking is in the future and
/// within the two years a booking may reach.
fn t() -> i64 {
    static T: OnceLock<i64> = OnceLock::new();
    *T.get_or_init(|| {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        // 1970-01-05 was a Monday.
        let week = (now - 4 * 86_400).div_euclid(7 * 86_400) + 3;
        week * 7 * 86_400 + 4 * 86_400 + 9 * 3600
    })
}

/// The date of `day` in the week of [`t`].
macro_rules! date {
    ($day:expr) => {
        IsoWeek::at(availability_core::tz::Zone::UTC, t())
            .expect("week")
            .date($day)
    };
}

/// A store file with overrides, bookings (one cancelled, one idempotent) and a remembered
/// answer.
fn baseline() -> &'static Vec<u8> {
    static BASELINE: OnceLock<Vec<u8>> = OnceLock::new();
    BASELINE.get_or_init(|| {
        let file = FileDouble::new_store();
        let store = Store::open_double(file.clone()).expect("baseline");
        let week = Batch::from(
            Day::ALL
                .iter()
                .map(|&day| {
                    Entry::range(
                        day,
                        "08:00".parse().expect("time"),
                        "20:00".parse().expect("time"),
                        Status::Available,
                    )
                })
                .collect::<Vec<_>>(),
        );
        for id in ["default", "room-1"] {
            if id != "default" {
                store
                    .create(id, "Europe/Paris", Vec::new(), &Authority::Unchecked)
                    .expect("create");
            }
            store
                .commit(id, None, &Change::Replace(week.clone()))
                .expect("pattern");
            let mut claim = Claim::new(t(), t() + 3600);
            claim.label = Some(String::from("Planning"));
            claim.key_id = Some(String::from("k1"));
            let (_, first) = store.book(id, None, &claim, None).expect("book");
            store
                .book(
                    id,
                    None,
                    &Claim::new(t() + 86_400, t() + 86_400 + 1800),
                    None,
                )
                .expect("book");
            store.cancel(id, None, first.id()).expect("cancel");
            let mut day = DayOverride::UNAVAILABLE;
            day.set("10:00".parse().expect("time"), Status::Maybe);
            let date = date!(Day::Wednesday);
            store.set_override(id, None, date, day).expect("override");
        }
        let key = IdempotencyKey {
            key: String::from("retry-1"),
            principal: String::from("key:k1"),
            fingerprint: [3; 32],
            expires_ms: (t() + 86_400) * 1000,
        };
        store
            .book(
                "room-1",
                None,
                &Claim::new(t() + 7200, t() + 9000),
                Some(&key),
            )
            .expect("idempotent booking");
        let admin = IdempotencyKey {
            key: String::from("create-1"),
            principal: String::from("admin:a"),
            fingerprint: [4; 32],
            expires_ms: (t() + 86_400) * 1000,
        };
        store
            .remember(
                &admin,
                Answer::Response {
                    status: 201,
                    body: b"{\"id\":\"x\"}".to_vec(),
                    state: Some((1, 2)),
                },
            )
            .expect("remember");
        drop(store);
        file.durable()
    })
}

/// The journal the input describes.
fn journal_from(data: &[u8]) -> Vec<u8> {
    let Some((&mode, rest)) = data.split_first() else {
        return Vec::new();
    };
    if mode == 0 {
        return rest.to_vec();
    }
    let mut journal = baseline().clone();
    // Where the records are: walk the frames by their lengths.
    let mut frames = Vec::new();
    let mut at = HEADER;
    while let Some(len) = journal.get(at + 4..at + 8) {
        let len = u32::from_le_bytes(len.try_into().expect("4 bytes")) as usize;
        if len == 0 {
            break;
        }
        let size = (FRAME + len).next_multiple_of(8);
        frames.push((at, len));
        at += size;
    }
    let end = at.max(HEADER + 1);
    for patch in rest.chunks_exact(3) {
        let offset = HEADER + u16::from_le_bytes([patch[0], patch[1]]) as usize % (end - HEADER);
        if let Some(byte) = journal.get_mut(offset) {
            *byte ^= patch[2];
        }
    }
    if mode == 1 {
        for (at, len) in frames {
            if let Some(covered) = journal.get(at + 4..at + FRAME + len) {
                let crc = crc32fast::hash(covered);
                journal[at..at + 4].copy_from_slice(&crc.to_le_bytes());
            }
        }
    }
    journal
}

/// One calendar's dated data as a store shows it: id, version, bookings (id, start, end),
/// number of overrides.
type CalendarState = (String, u64, Vec<(u64, i64, i64)>, usize);

/// What a store shows of dated data, checking that no two bookings overlap in time (a
/// journal can make two bookings share a slot without sharing an instant, as new time-zone
/// rules can; the store keeps both rather than drop one).
fn dated_state(store: &Store) -> Vec<CalendarState> {
    store
        .list()
        .iter()
        .map(|calendar| {
            let dated = calendar.dated();
            let mut spans: Vec<(i64, i64)> =
                dated.all_bookings().map(|b| (b.start(), b.end())).collect();
            spans.sort_unstable();
            for pair in spans.windows(2) {
                assert!(pair[0].1 <= pair[1].0, "bookings overlap: {pair:?}");
            }
            let mut bookings: Vec<_> = dated
                .all_bookings()
                .map(|b| (b.id().0, b.start(), b.end()))
                .collect();
            bookings.sort_unstable();
            (
                calendar.id().to_string(),
                calendar.version(),
                bookings,
                dated.all_overrides().count(),
            )
        })
        .collect()
}

/// Checks one input; panics on a finding.
pub(crate) fn run(data: &[u8]) {
    let journal = FileDouble::new(journal_from(data));
    let Ok(store) = Store::open_double(journal.clone()) else {
        return;
    };
    let _ = store.remembered("key:k1", "retry-1");
    // A store that opened must work: dated writes on every calendar, then a reopen that
    // shows the same dated state.
    for calendar in store.list() {
        let id = calendar.id().to_string();
        let start = t() + 3 * 86_400;
        match store.book(&id, None, &Claim::new(start, start + 1800), None) {
            Ok((after, _)) => assert_eq!(after.version(), calendar.version() + 1),
            Err(e) => assert!(
                e.is_conflict(),
                "a store that opened refused a booking: {e}"
            ),
        }
        let date = date!(Day::Friday);
        store
            .set_override(&id, None, date, DayOverride::UNAVAILABLE)
            .unwrap_or_else(|e| panic!("a store that opened refused an override: {e}"));
    }
    let after = dated_state(&store);
    drop(store);
    let store = Store::open_double(journal.reboot())
        .expect("a store that opened and was written must reopen");
    assert_eq!(dated_state(&store), after);
}
