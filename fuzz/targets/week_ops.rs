//! Differential target: arbitrary edit sequences applied to a `Week` and to a plain model
//! (336 statuses) must agree, and invalid batches must change nothing.

use availability_core::{Batch, Day, Entry, Slot, Status, Time, Week};

const SLOTS: usize = 336;

fn status(byte: u8) -> Status {
    Status::ALL[usize::from(byte % 3)]
}

fn time(byte: u8) -> Time {
    Time::from_half_hours(usize::from(byte) % 49).expect("0..=48")
}

fn span(entry: &Entry) -> Option<(usize, usize)> {
    match *entry {
        Entry::Slot { day, time, .. } => (!time.is_end_of_day()).then(|| {
            let i = day.index() * 48 + time.half_hours();
            (i, i + 1)
        }),
        Entry::Range { day, from, to, .. } => (from < to).then(|| {
            (
                day.index() * 48 + from.half_hours(),
                day.index() * 48 + to.half_hours(),
            )
        }),
    }
}

/// Checks one input; panics on a finding.
pub(crate) fn run(data: &[u8]) {
    let mut week = Week::UNAVAILABLE;
    let mut model = [Status::Unavailable; SLOTS];
    let mut other = Week::MAYBE;
    for op in data.chunks(5) {
        let [kind, a, b, c, d] = match *op {
            [k, a, b, c, d] => [k, a, b, c, d],
            _ => return,
        };
        match kind % 4 {
            // A batch of up to four entries from the following bytes' bits.
            0 | 1 => {
                let day = Day::from_index(usize::from(a % 7)).expect("0..7");
                let entries = [
                    Entry::slot(day, time(b), status(c)),
                    Entry::range(day, time(b), time(c), status(d)),
                    Entry::range(day.next(), time(c), time(d), status(b)),
                ];
                let batch: Batch = entries
                    .iter()
                    .take(usize::from(kind % 3) + 1)
                    .copied()
                    .collect();
                let mut expected = model;
                let mut bad = None;
                for (index, entry) in batch.entries().iter().enumerate() {
                    match span(entry) {
                        Some((s, e)) => expected[s..e].fill(entry.status()),
                        None => {
                            bad = Some(index);
                            break;
                        }
                    }
                }
                let result = if kind % 4 == 0 {
                    batch.apply(&week)
                } else {
                    batch.apply_replacing()
                };
                if kind % 4 == 1 && bad.is_none() {
                    expected = [Status::Unavailable; SLOTS];
                    for entry in batch.entries() {
                        let (s, e) = span(entry).expect("valid");
                        expected[s..e].fill(entry.status());
                    }
                }
                match (result, bad) {
                    (Ok(next), None) => {
                        week = next;
                        model = expected;
                    }
                    (Err(err), Some(index)) => assert_eq!(err.entry_index(), Some(index)),
                    (result, bad) => panic!("week {result:?} but model says bad entry {bad:?}"),
                }
            }
            // Combine with another week, built from the bytes as a slot edit.
            2 => {
                let slot = Slot::from_index(usize::from(u16::from_le_bytes([a, b])) % SLOTS)
                    .expect("in range");
                other.set(slot, status(c));
                let (before, o) = (model, other);
                if d % 2 == 0 {
                    week = week.min(o);
                } else {
                    week = week.max(o);
                }
                for (i, m) in model.iter_mut().enumerate() {
                    let s = o.status(Slot::from_index(i).expect("slot"));
                    *m = if d % 2 == 0 {
                        before[i].min(s)
                    } else {
                        before[i].max(s)
                    };
                }
            }
            // Round trips of every encoding.
            _ => {
                assert_eq!(week.to_string().parse::<Week>().expect("text"), week);
                assert_eq!(Week::from_bytes(&week.to_bytes()).expect("bytes"), week);
            }
        }
        for (i, m) in model.iter().enumerate() {
            assert_eq!(
                week.status(Slot::from_index(i).expect("slot")),
                *m,
                "slot {i}"
            );
        }
        let counts = week.counts();
        assert_eq!(counts.available + counts.maybe + counts.unavailable, SLOTS);
        assert_eq!(week.runs().map(|r| r.len()).sum::<usize>(), SLOTS);
    }
}
