//! `Week` and `Batch` against a plain model: an array of 336 statuses.

use availability_core::{Batch, Day, Entry, Slot, Status, Time, Week, SLOTS};
use proptest::prelude::*;

/// The model: one status per slot, nothing clever.
type Model = [Status; SLOTS];

fn model_of(week: &Week) -> Model {
    core::array::from_fn(|i| week.status(Slot::from_index(i).expect("slot")))
}

fn week_of(model: &Model) -> Week {
    Week::from_fn(|slot| model[slot.index()])
}

/// What the model says an entry does: `None` when the entry is invalid.
fn model_span(entry: &Entry) -> Option<(usize, usize)> {
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

fn model_apply(model: &Model, batch: &Batch) -> Result<Model, Option<usize>> {
    if batch.len() > Batch::MAX_ENTRIES {
        return Err(None);
    }
    let mut out = *model;
    for (index, entry) in batch.entries().iter().enumerate() {
        let (start, end) = model_span(entry).ok_or(Some(index))?;
        out[start..end].fill(entry.status());
    }
    Ok(out)
}

fn arb_status() -> impl Strategy<Value = Status> {
    prop::sample::select(Status::ALL.to_vec())
}

fn arb_model() -> impl Strategy<Value = Model> {
    // Mostly long runs, like real weeks, with some noise.
    prop_oneof![
        prop::array::uniform32(arb_status()).prop_map(|a| {
            let mut m = [Status::Unavailable; SLOTS];
            for (i, s) in m.iter_mut().enumerate() {
                *s = a[i * 32 / SLOTS];
            }
            m
        }),
        prop::collection::vec(arb_status(), SLOTS).prop_map(|v| {
            let mut m = [Status::Unavailable; SLOTS];
            m.copy_from_slice(&v);
            m
        }),
    ]
}

fn arb_week() -> impl Strategy<Value = Week> {
    arb_model().prop_map(|m| week_of(&m))
}

fn arb_time() -> impl Strategy<Value = Time> {
    (0usize..=48).prop_map(|h| Time::from_half_hours(h).expect("in range"))
}

fn arb_entry() -> impl Strategy<Value = Entry> {
    let day = (0usize..7).prop_map(|d| Day::from_index(d).expect("day"));
    prop_oneof![
        (day.clone(), arb_time(), arb_status()).prop_map(|(d, t, s)| Entry::slot(d, t, s)),
        (day, arb_time(), arb_time(), arb_status())
            .prop_map(|(d, f, t, s)| Entry::range(d, f, t, s)),
    ]
}

fn arb_batch() -> impl Strategy<Value = Batch> {
    prop_oneof![
        8 => prop::collection::vec(arb_entry(), 0..40).prop_map(Batch::from),
        1 => prop::collection::vec(arb_entry(), 330..345).prop_map(Batch::from),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn batches_agree_with_the_model(model in arb_model(), batch in arb_batch()) {
        let week = week_of(&model);
        let before = week;
        match (batch.apply(&week), model_apply(&model, &batch)) {
            (Ok(after), Ok(expected)) => prop_assert_eq!(model_of(&after), expected),
            (Err(err), Err(index)) => {
                prop_assert_eq!(err.entry_index(), index);
                prop_assert_eq!(err.is_too_many_entries(), index.is_none());
            }
            (got, expected) => prop_assert!(false, "week: {:?}, model: {:?}", got, expected),
        }
        // Copy-on-write: the original is untouched whatever happened.
        prop_assert_eq!(week, before);
        prop_assert_eq!(
            batch.apply_replacing().ok().map(|w| model_of(&w)),
            model_apply(&[Status::Unavailable; SLOTS], &batch).ok()
        );
        prop_assert_eq!(batch.validate().is_ok(), model_apply(&model, &batch).is_ok());
    }

    #[test]
    fn reads_agree_with_the_model(model in arb_model()) {
        let week = week_of(&model);
        prop_assert_eq!(model_of(&week), model);
        let slots: Vec<(Slot, Status)> = week.slots().collect();
        prop_assert_eq!(slots.len(), SLOTS);
        for (i, (slot, status)) in slots.iter().enumerate() {
            prop_assert_eq!((slot.index(), *status), (i, model[i]));
        }
        let reversed: Vec<(Slot, Status)> = week.slots().rev().collect();
        prop_assert_eq!(reversed.into_iter().rev().collect::<Vec<_>>(), slots);
        let counts = week.counts();
        let count = |s: Status| model.iter().filter(|&&m| m == s).count();
        prop_assert_eq!(counts.available, count(Status::Available));
        prop_assert_eq!(counts.maybe, count(Status::Maybe));
        prop_assert_eq!(counts.unavailable, count(Status::Unavailable));
        for (i, bit) in week.open_bits().iter().enumerate() {
            prop_assert_eq!(*bit, model[i] >= Status::Maybe);
        }
        for (i, bit) in week.firm_bits().iter().enumerate() {
            prop_assert_eq!(*bit, model[i] == Status::Available);
        }
    }

    #[test]
    fn runs_are_maximal_and_cover_the_week(model in arb_model()) {
        let week = week_of(&model);
        let runs: Vec<_> = week.runs().collect();
        let mut next = 0;
        for (k, run) in runs.iter().enumerate() {
            prop_assert_eq!(run.start_index(), next);
            prop_assert!(run.len() > 0 && !run.wraps());
            for s in &model[run.start_index()..run.end_index()] {
                prop_assert_eq!(*s, run.status());
            }
            if k > 0 {
                prop_assert_ne!(runs[k - 1].status(), run.status());
            }
            next = run.end_index();
        }
        prop_assert_eq!(next, SLOTS);

        // Wrapping: the same slots, with Sunday night and Monday morning joined when equal.
        let wrapping: Vec<_> = week.runs_wrapping().collect();
        let total: usize = wrapping.iter().map(|r| r.len()).sum();
        prop_assert_eq!(total, SLOTS);
        let joined = runs.len() > 1 && model[0] == model[SLOTS - 1];
        prop_assert_eq!(wrapping.len(), runs.len() - usize::from(joined));
        for run in &wrapping {
            for i in run.start_index()..run.end_index() {
                prop_assert_eq!(model[i % SLOTS], run.status());
            }
        }
        prop_assert_eq!(wrapping.iter().filter(|r| r.wraps()).count(), usize::from(joined));
        for pair in wrapping.windows(2) {
            prop_assert_ne!(pair[0].status(), pair[1].status());
            prop_assert_eq!(pair[0].end_index(), pair[1].start_index());
        }
    }

    #[test]
    fn min_and_max_are_slotwise(a in arb_model(), b in arb_model()) {
        let (wa, wb) = (week_of(&a), week_of(&b));
        let min = model_of(&wa.min(wb));
        let max = model_of(&wa.max(wb));
        for i in 0..SLOTS {
            prop_assert_eq!(min[i], a[i].min(b[i]));
            prop_assert_eq!(max[i], a[i].max(b[i]));
        }
        let mut in_place = wa;
        in_place.min_with(&wb);
        prop_assert_eq!(in_place, wa.min(wb));
        in_place = wa;
        in_place.max_with(&wb);
        prop_assert_eq!(in_place, wa.max(wb));
    }

    #[test]
    fn min_and_max_obey_their_laws(a in arb_week(), b in arb_week(), c in arb_week()) {
        prop_assert_eq!(a.min(b), b.min(a));
        prop_assert_eq!(a.max(b), b.max(a));
        prop_assert_eq!(a.min(b).min(c), a.min(b.min(c)));
        prop_assert_eq!(a.max(b).max(c), a.max(b.max(c)));
        prop_assert_eq!(a.min(a), a);
        prop_assert_eq!(a.max(a), a);
        prop_assert_eq!(a.min(Week::AVAILABLE), a);
        prop_assert_eq!(a.max(Week::UNAVAILABLE), a);
        prop_assert_eq!(a.min(Week::UNAVAILABLE), Week::UNAVAILABLE);
        prop_assert_eq!(a.max(Week::AVAILABLE), Week::AVAILABLE);
        // Absorption, which a lattice must satisfy.
        prop_assert_eq!(a.min(a.max(b)), a);
        prop_assert_eq!(a.max(a.min(b)), a);
    }

    #[test]
    fn min_of_and_max_of_fold(weeks in prop::collection::vec(arb_week(), 0..20)) {
        let min = Week::min_of(&weeks);
        let max = Week::max_of(&weeks);
        for slot in Slot::all() {
            let statuses = weeks.iter().map(|w| w.status(slot));
            prop_assert_eq!(min.status(slot), statuses.clone().min().unwrap_or(Status::Available));
            prop_assert_eq!(max.status(slot), statuses.max().unwrap_or(Status::Unavailable));
        }
    }

    #[test]
    fn encodings_round_trip(week in arb_week()) {
        prop_assert_eq!(week.to_string().parse::<Week>().expect("text"), week);
        let one_line: String = week.to_string().split_whitespace().collect();
        prop_assert_eq!(one_line.parse::<Week>().expect("one line"), week);
        prop_assert_eq!(Week::from_bytes(&week.to_bytes()).expect("bytes"), week);
        prop_assert_eq!(Week::from_words(week.open_words(), week.firm_words()).expect("words"), week);
    }

    #[test]
    fn raw_words_are_checked(open in prop::array::uniform6(any::<u64>()),
                             firm in prop::array::uniform6(any::<u64>())) {
        let tail_clear = open[5] >> 16 == 0 && firm[5] >> 16 == 0;
        let subset = open.iter().zip(&firm).all(|(o, f)| f & !o == 0);
        match Week::from_words(open, firm) {
            Ok(week) => {
                prop_assert!(tail_clear && subset);
                prop_assert_eq!((week.open_words(), week.firm_words()), (open, firm));
            }
            Err(err) => {
                prop_assert!(!(tail_clear && subset));
                prop_assert!(err.is_invalid_week());
            }
        }
    }

    #[test]
    fn text_parsing_never_panics(text in "[.?# \n]{0,400}|\\PC{0,50}") {
        if let Ok(week) = text.parse::<Week>() {
            prop_assert_eq!(week.to_string().parse::<Week>().expect("round trip"), week);
        }
    }

    #[test]
    fn grid_parsers_never_panic(text in "\\PC{0,12}") {
        let _ = text.parse::<Time>();
        let _ = text.parse::<Day>();
        let _ = text.parse::<Status>();
        if let Ok(slot) = text.parse::<Slot>() {
            prop_assert_eq!(slot.to_string().parse::<Slot>().expect("round trip"), slot);
        }
    }
}
