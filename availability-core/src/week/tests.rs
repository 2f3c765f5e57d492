//! The week's unit tests.

use super::*;
use alloc::string::ToString;
use alloc::vec::Vec;

#[test]
fn runs_of_uniform_weeks() {
    for status in Status::ALL {
        let week = Week::filled(status);
        for runs in [week.runs(), week.runs_wrapping()] {
            let runs: Vec<Run> = runs.collect();
            assert_eq!(runs.len(), 1);
            assert_eq!((runs[0].start_index(), runs[0].len()), (0, SLOTS));
            assert!(!runs[0].wraps());
        }
    }
}

#[test]
fn runs_at_word_edges() {
    // Runs that start and end on the 64-bit word boundaries and on the last slot.
    let week = Week::from_fn(|s| match s.index() {
        63 | 64 | 127 | 335 => Status::Available,
        128..=191 => Status::Maybe,
        _ => Status::Unavailable,
    });
    let runs: Vec<(usize, usize, Status)> = week
        .runs()
        .map(|r| (r.start_index(), r.end_index(), r.status()))
        .collect();
    assert_eq!(
        runs,
        [
            (0, 63, Status::Unavailable),
            (63, 65, Status::Available),
            (65, 127, Status::Unavailable),
            (127, 128, Status::Available),
            (128, 192, Status::Maybe),
            (192, 335, Status::Unavailable),
            (335, 336, Status::Available),
        ]
    );
}

#[test]
fn bytes_round_trip_and_reject_broken_invariant() {
    let week = Week::from_fn(|s| Status::ALL[s.index() * 7 % 3]);
    assert_eq!(Week::from_bytes(&week.to_bytes()).expect("valid"), week);
    let mut bytes = Week::UNAVAILABLE.to_bytes();
    bytes[Week::BYTES / 2] = 1; // firm without open
    let err = Week::from_bytes(&bytes).expect_err("firm without open");
    assert!(err.is_invalid_week(), "{err}");
    assert!(err.to_string().contains("slot 0"), "{err}");
}

#[test]
fn bits_views_have_336_bits() {
    let week = Week::from_fn(|s| {
        if s.index() == 335 {
            Status::Available
        } else {
            Status::Unavailable
        }
    });
    assert_eq!(week.open_bits().len(), SLOTS);
    assert!(week.firm_bits()[335]);
    assert_eq!(week.open_bits().count_ones(), 1);
}

#[test]
fn text_errors_name_the_problem() {
    let err = "#".repeat(335).parse::<Week>().expect_err("short");
    assert!(err.to_string().contains("335 slot symbols"), "{err}");
    let err = format!("{}x", "#".repeat(335))
        .parse::<Week>()
        .expect_err("bad");
    assert!(err.to_string().contains("'x' at byte 335"), "{err}");
    let debug = alloc::format!("{:?}", Week::AVAILABLE);
    assert!(debug.contains("Mon ####"), "{debug}");
    assert_eq!(Week::MAYBE.to_string().len(), SLOTS + 6);
}
