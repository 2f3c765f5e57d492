//! The week engine's hot paths: one slot, a batch, a group minimum, runs.

use std::hint::black_box;

use availability_benches::{office_week, time};
use availability_core::{Batch, Day, Entry, Slot, Status, Week};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};

/// A deterministic pseudo-random sequence, so every run measures the same inputs.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }

    fn below(&mut self, n: u64) -> usize {
        (self.next() % n) as usize
    }
}

fn random_week(rng: &mut Lcg) -> Week {
    let mut week = Week::AVAILABLE;
    for _ in 0..40 {
        let slot = Slot::from_index(rng.below(336)).expect("slot");
        week.set(slot, Status::ALL[rng.below(3)]);
    }
    week
}

fn hundred_entries(rng: &mut Lcg) -> Batch {
    (0..100)
        .map(|i| {
            let day = Day::from_index(rng.below(7)).expect("day");
            let status = Status::ALL[rng.below(3)];
            if i % 2 == 0 {
                Entry::slot(day, time(rng.below(48)), status)
            } else {
                let from = rng.below(47);
                let to = from + 1 + rng.below((48 - from) as u64);
                Entry::range(day, time(from), time(to), status)
            }
        })
        .collect()
}

fn benches(c: &mut Criterion) {
    let mut rng = Lcg(0x5eed);
    let week = office_week();

    c.bench_function("week/status_of_one_slot", |b| {
        let slot = "wednesday 12:30".parse::<Slot>().expect("slot");
        b.iter(|| black_box(&week).status(black_box(slot)))
    });

    let batch = hundred_entries(&mut rng);
    c.bench_function("week/apply_batch_of_100", |b| {
        b.iter(|| black_box(&batch).apply(black_box(&week)))
    });

    let weeks: Vec<Week> = (0..1000).map(|_| random_week(&mut rng)).collect();
    c.bench_function("week/min_of_1000_weeks", |b| {
        b.iter(|| Week::min_of(black_box(&weeks)))
    });

    c.bench_function("week/runs_of_office_week", |b| {
        b.iter(|| black_box(&week).runs().map(|r| r.len()).sum::<usize>())
    });
    let noisy = random_week(&mut rng);
    c.bench_function("week/runs_of_noisy_week", |b| {
        b.iter(|| black_box(&noisy).runs().map(|r| r.len()).sum::<usize>())
    });

    c.bench_function("week/text_round_trip", |b| {
        b.iter_batched(
            || week.to_string(),
            |text| text.parse::<Week>(),
            BatchSize::SmallInput,
        )
    });
}

criterion_group!(week, benches);
criterion_main!(week);
