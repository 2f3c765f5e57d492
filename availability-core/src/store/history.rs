//! A calendar's pattern history: the versions of its weekly pattern, each with when it was
//! committed, the key that made it, the week itself and which slots it changed.
//!
//! A change of the pattern is its own record kind (`docs/format.md`, kind 21: the calendar's
//! record and the key that wrote it), so the history is as durable as the change; compaction
//! writes the versions still kept as records of kind 22. The log's index of what is live keeps
//! each calendar's versions; a calendar whose pattern never changed keeps none, and its
//! history is its record's week alone.

use alloc::sync::Arc;
use alloc::vec::Vec;

use super::calendar::Calendar;
use super::format::CalendarRecord;
use crate::error::{Error, Kind};
use crate::plane::{Plane, WORDS};
use crate::week::Week;

/// The most versions a calendar's history keeps, the newest: a bound on its memory (each
/// version takes about 180 bytes) whatever a key holder writes within the retention period.
pub const MAX_HISTORY: usize = 1_000;

/// One version of a calendar's weekly pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PastPattern {
    version: u64,
    at_ms: i64,
    key_id: Option<Arc<str>>,
    week: Week,
    changed: Plane,
}

impl PastPattern {
    /// A version as a caller (a database's rows) recorded it: the calendar's `version` once
    /// the pattern was `week`, at `at_ms`, by the key `key_id`, changing the slots set in
    /// `changed` (six words, bit `t` of word `t / 64` for slot `t`).
    ///
    /// # Errors
    ///
    /// [`Error::is_invalid_week`] for version 0 or bits set past the week's 336 slots.
    pub fn new(
        version: u64,
        at_ms: i64,
        key_id: Option<&str>,
        week: Week,
        changed: [u64; WORDS],
    ) -> Result<PastPattern, Error> {
        if version == 0 {
            return Err(Error::new(Kind::InvalidWeek, "a pattern version of 0"));
        }
        let changed = Plane::from_words(changed).ok_or_else(|| {
            Error::new(Kind::InvalidWeek, "changed slots past the end of the week")
        })?;
        Ok(PastPattern {
            version,
            at_ms,
            key_id: key_id.map(Arc::from),
            week,
            changed,
        })
    }

    /// The version `week` makes after `before`, the week of the version before it.
    pub fn after(
        before: &Week,
        version: u64,
        at_ms: i64,
        key_id: Option<Arc<str>>,
        week: Week,
    ) -> PastPattern {
        let changed = before.open.xor(week.open).or(before.firm.xor(week.firm));
        PastPattern {
            version,
            at_ms,
            key_id,
            week,
            changed,
        }
    }

    /// The version a calendar's record holds when nothing earlier is kept: its week as of the
    /// record's version and time, by no key known, changing the slots that are not
    /// unavailable (a calendar begins with none open).
    pub(crate) fn of_record(record: &CalendarRecord) -> PastPattern {
        PastPattern::after(
            &Week::default(),
            record.version,
            record.changed_at_ms,
            None,
            record.week,
        )
    }

    /// The version `calendar`'s record holds when nothing earlier is kept: the first of a
    /// history that begins now.
    pub fn of_calendar(calendar: &Calendar) -> PastPattern {
        PastPattern::of_record(&calendar.record)
    }

    /// The calendar's version once the pattern was this week.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// When it was committed, in milliseconds since 1970-01-01T00:00:00Z.
    pub fn at_ms(&self) -> i64 {
        self.at_ms
    }

    /// The id of the key that wrote it, when a key the store holds did (an admin key of the
    /// server's configuration, or a version older than the history, has none).
    pub fn key_id(&self) -> Option<&str> {
        self.key_id.as_deref()
    }

    /// The week.
    pub fn week(&self) -> &Week {
        &self.week
    }

    /// The slots whose status this version changed: as six words, bit `t` of word `t / 64`
    /// for slot `t`.
    pub fn changed_words(&self) -> [u64; WORDS] {
        self.changed.0
    }

    /// The runs of slots this version changed, in slot order: `(start, end)` slot indexes,
    /// `end` excluded.
    pub fn changed_runs(&self) -> Vec<(usize, usize)> {
        let mut runs: Vec<(usize, usize)> = Vec::new();
        for slot in self.changed.ones() {
            match runs.last_mut() {
                Some((_, end)) if *end == slot => *end += 1,
                _ => runs.push((slot, slot + 1)),
            }
        }
        runs
    }

    /// How many slots this version changed.
    pub fn changed_count(&self) -> usize {
        self.changed.count()
    }
}

/// The history of `calendar` as readers get it, newest first: the versions of `kept` (the
/// log's, oldest first) committed since `cutoff_ms` and the newest in any case; or, when none
/// are kept, the version its record holds.
pub(crate) fn history_of(
    calendar: &Calendar,
    kept: Option<&[PastPattern]>,
    cutoff_ms: i64,
) -> Vec<PastPattern> {
    match kept.filter(|kept| !kept.is_empty()) {
        Some(kept) => self::kept(kept, cutoff_ms).iter().rev().cloned().collect(),
        None => alloc::vec![PastPattern::of_record(&calendar.record)],
    }
}

/// Adds `version` to `history`, dropping the oldest beyond [`MAX_HISTORY`]; a version not
/// newer than the last is ignored (a record read twice changes nothing).
pub(crate) fn push(history: &mut Vec<PastPattern>, version: PastPattern) {
    if history
        .last()
        .is_some_and(|last| last.version >= version.version)
    {
        return;
    }
    history.push(version);
    if history.len() > MAX_HISTORY {
        history.drain(..history.len() - MAX_HISTORY);
    }
}

/// The versions of `history` to keep at `cutoff_ms`: those committed since, and the newest
/// in any case (it is the pattern in force).
pub(crate) fn kept(history: &[PastPattern], cutoff_ms: i64) -> &[PastPattern] {
    let newest = history.len().saturating_sub(1);
    let first = history
        .iter()
        .position(|p| p.at_ms >= cutoff_ms)
        .unwrap_or(newest)
        .min(newest);
    &history[first..]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn week(s: &str) -> Week {
        alloc::format!("{s}{}", ".".repeat(336 - s.len()))
            .parse()
            .expect("a week")
    }

    #[test]
    fn a_version_names_the_slots_it_changed() {
        let before = week("##..??");
        let after = week("#?..?#.#");
        let v = PastPattern::after(&before, 3, 10, None, after);
        assert_eq!(v.changed_runs(), [(1, 2), (5, 6), (7, 8)]);
        assert_eq!(v.changed_count(), 3);
        let same = PastPattern::after(&after, 4, 11, None, after);
        assert!(same.changed_runs().is_empty());
    }

    #[test]
    fn the_history_keeps_the_newest_and_ignores_repeats() {
        let mut history = Vec::new();
        for v in 1..=(MAX_HISTORY as u64 + 5) {
            push(
                &mut history,
                PastPattern::after(&week(""), v, v as i64, None, week("#")),
            );
        }
        push(
            &mut history,
            PastPattern::after(&week(""), 3, 3, None, week("#")),
        );
        assert_eq!(history.len(), MAX_HISTORY);
        assert_eq!(history[0].version(), 6);
        assert_eq!(
            history.last().map(PastPattern::version),
            Some(MAX_HISTORY as u64 + 5)
        );
    }

    #[test]
    fn retention_keeps_the_pattern_in_force() {
        let history: Vec<PastPattern> = (1..=4)
            .map(|v| PastPattern::after(&week(""), v, v as i64 * 100, None, week("#")))
            .collect();
        assert_eq!(kept(&history, 250).len(), 2);
        assert_eq!(kept(&history, 1_000).len(), 1, "the newest stays");
        assert_eq!(kept(&history, 0).len(), 4);
        assert!(kept(&[], 0).is_empty());
    }
}
