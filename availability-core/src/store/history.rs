//! A calendar's pattern history: the versions of its weekly pattern, each with when it was
//! committed, the key that made it, the week itself and which slots it changed.
//!
//! A change of the pattern is its own record kind (`docs/format.md`, kind 21: the calendar's
//! record and the key that wrote it), so the history is as durable as the change; compaction
//! writes the versions still kept as records of kind 22. The log's index of what is live keeps
//! each calendar's versions, packed in one allocation ([`pack`]); a calendar whose pattern
//! never changed keeps none, and its history is its record's week alone.

use alloc::sync::Arc;
use alloc::vec::Vec;

use super::calendar::Calendar;
use super::format::CalendarRecord;
use crate::error::{Error, Kind};
use crate::plane::{Plane, WORDS};
use crate::week::Week;

/// The most versions a calendar's history keeps, the newest: a bound on its memory (at most
/// about 160 bytes a version, packed) whatever a key holder writes within the retention
/// period.
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
        let changed = differ(before, &week);
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

    /// The id of the key that wrote it: a calendar's key, a stored admin key or one of the
    /// server's configuration; none for the version a history begins with, or a write that
    /// no key authorized (a program of its own).
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

/// What a packed version's week is.
const WEEK_EMPTY: u8 = 0;
const WEEK_FOLLOWS: u8 = 1;
const WEEK_OF_RECORD: u8 = 2;
/// What a packed version's changed slots are.
const CHANGED_FROM_BEFORE: u8 = 0;
const CHANGED_FOLLOWS: u8 = 1;

/// `versions` (oldest first) packed into one allocation, as the log's index keeps a history:
/// a calendar that was created and then given its week once costs about 70 bytes, not two
/// whole versions. Each version is its number, time and key id, then its week (none when it is
/// every slot unavailable, or when it is the newest and `record_week`, the week of the
/// calendar's record), then the slots it changed (none when they are the difference from the
/// version before it, or from a week of every slot unavailable for the first). Memory only:
/// the log's records hold whole versions (kinds 21 and 22).
pub(crate) fn pack(versions: &[PastPattern], record_week: &Week) -> Arc<[u8]> {
    let mut out = Vec::with_capacity(versions.len() * 32);
    let mut before = Week::default();
    for (n, v) in versions.iter().enumerate() {
        let newest = n + 1 == versions.len();
        pack_one(
            &mut |bytes| out.extend_from_slice(bytes),
            v,
            &before,
            newest,
            record_week,
        );
        before = v.week;
    }
    Arc::from(out)
}

/// [`pack`] of the history a calendar's first change begins: the version its record `before`
/// holds, then `next`, whose week is the record's after the change. One allocation, made to
/// measure: most calendars' histories are this one.
pub(crate) fn begin(before: &CalendarRecord, next: &PastPattern) -> Arc<[u8]> {
    // The longest two versions: number, time, key id, week and changed slots each.
    const MOST: usize = 2 * (8 + 8 + 1 + 32 + 1 + Week::BYTES + 1 + 8 * WORDS);
    let mut buffer = [0_u8; MOST];
    let mut len = 0;
    let mut put = |bytes: &[u8]| {
        let end = (len + bytes.len()).min(MOST);
        buffer[len..end].copy_from_slice(&bytes[..end - len]);
        len = end;
    };
    let first = PastPattern::of_record(before);
    pack_one(&mut put, &first, &Week::default(), false, &next.week);
    pack_one(&mut put, next, &first.week, true, &next.week);
    Arc::from(&buffer[..len])
}

/// One version as [`pack`] lays it out, after the version whose week is `before`.
fn pack_one(
    put: &mut dyn FnMut(&[u8]),
    v: &PastPattern,
    before: &Week,
    newest: bool,
    record_week: &Week,
) {
    put(&v.version.to_le_bytes());
    put(&v.at_ms.to_le_bytes());
    let key = v.key_id.as_deref().unwrap_or_default();
    put(&[key.len() as u8]);
    put(key.as_bytes());
    if newest && v.week == *record_week {
        put(&[WEEK_OF_RECORD]);
    } else if v.week == Week::default() {
        put(&[WEEK_EMPTY]);
    } else {
        put(&[WEEK_FOLLOWS]);
        put(&v.week.to_bytes());
    }
    if v.changed == differ(before, &v.week) {
        put(&[CHANGED_FROM_BEFORE]);
    } else {
        put(&[CHANGED_FOLLOWS]);
        for word in v.changed.0 {
            put(&word.to_le_bytes());
        }
    }
}

/// The versions [`pack`] packed with the same `record_week`. The bytes are the index's own,
/// made by [`pack`]: a short read ends the list.
pub(crate) fn unpack(bytes: &[u8], record_week: &Week) -> Vec<PastPattern> {
    let mut versions = Vec::new();
    let mut c = super::format::Cursor::new(bytes);
    let mut before = Week::default();
    let mut next = || -> Result<PastPattern, alloc::string::String> {
        let version = c.u64()?;
        let at_ms = c.i64()?;
        let key_len = usize::from(c.byte()?);
        let key_id = match key_len {
            0 => None,
            n => Some(Arc::from(c.text(n, "key id")?.as_str())),
        };
        let week = match c.byte()? {
            WEEK_EMPTY => Week::default(),
            WEEK_OF_RECORD => *record_week,
            _ => {
                let bytes: &[u8; Week::BYTES] = c
                    .take(Week::BYTES)?
                    .try_into()
                    .map_err(|_| alloc::string::String::from("short"))?;
                Week::from_bytes(bytes).map_err(|e| alloc::string::ToString::to_string(&e))?
            }
        };
        let changed = match c.byte()? {
            CHANGED_FROM_BEFORE => differ(&before, &week),
            _ => Plane(core::array::from_fn(|_| c.u64().unwrap_or_default())),
        };
        before = week;
        Ok(PastPattern {
            version,
            at_ms,
            key_id,
            week,
            changed,
        })
    };
    while let Ok(version) = next() {
        versions.push(version);
    }
    versions
}

/// Where the parts of a version that [`pack`] laid out at `start` lie.
struct Laid {
    start: usize,
    week_flag: usize,
    changed_flag: usize,
    end: usize,
    version: u64,
}

/// The layout of the version packed at `start` in `bytes`; `None` past the end.
fn laid(bytes: &[u8], start: usize) -> Option<Laid> {
    let version = u64::from_le_bytes(bytes.get(start..start + 8)?.try_into().ok()?);
    let key_len = usize::from(*bytes.get(start + 16)?);
    let week_flag = start + 17 + key_len;
    let changed_flag = week_flag
        + 1
        + match *bytes.get(week_flag)? {
            WEEK_FOLLOWS => Week::BYTES,
            _ => 0,
        };
    let end = changed_flag
        + 1
        + match *bytes.get(changed_flag)? {
            CHANGED_FOLLOWS => 8 * WORDS,
            _ => 0,
        };
    (end <= bytes.len()).then_some(Laid {
        start,
        week_flag,
        changed_flag,
        end,
        version,
    })
}

/// The week of the version laid out as `v` in `bytes`, packed with `record_week`.
fn week_of(bytes: &[u8], v: &Laid, record_week: &Week) -> Option<Week> {
    match bytes[v.week_flag] {
        WEEK_EMPTY => Some(Week::default()),
        WEEK_OF_RECORD => Some(*record_week),
        _ => {
            let week: &[u8; Week::BYTES] = bytes
                .get(v.week_flag + 1..v.changed_flag)?
                .try_into()
                .ok()?;
            Week::from_bytes(week).ok()
        }
    }
}

/// `packed` (packed with `record_week`) with the version `make` makes from the newest's week
/// added as [`push`] adds it, packed with `next_record_week`: what [`pack`] of those versions
/// gives, byte for byte, but made by copying the bytes of the versions that stay as they are
/// and laying out again only the newest (no longer the newest) and, when the oldest goes, the
/// one after it. A change of the pattern so costs the index a copy, not a decoding and
/// encoding of every version. `None` when `push` would not simply add it (the version is not
/// newer, or the bytes are not as [`pack`] makes them): then unpack, push and pack.
pub(crate) fn append(
    packed: &[u8],
    record_week: &Week,
    make: impl FnOnce(&Week) -> PastPattern,
    next_record_week: &Week,
) -> Option<Arc<[u8]>> {
    let first = laid(packed, 0)?;
    let mut second = None;
    let mut last_start = 0;
    let mut count = 1;
    let mut at = first.end;
    while at < packed.len() {
        let v = laid(packed, at)?;
        if count == 1 {
            second = Some(v.start);
        }
        last_start = v.start;
        at = v.end;
        count += 1;
    }
    let last = laid(packed, last_start)?;
    let last_week = week_of(packed, &last, record_week)?;
    let next = make(&last_week);
    if next.version <= last.version || count > MAX_HISTORY {
        return None;
    }
    let mut out = Vec::with_capacity(packed.len() + 2 * (Week::BYTES + 8 * WORDS + 64));
    let mut copy_from = 0;
    if count == MAX_HISTORY {
        // The oldest goes: the one after it now follows no version.
        let second = laid(packed, second?)?;
        if second.start == last.start {
            return None;
        }
        let first_week = week_of(packed, &first, record_week)?;
        let second_week = week_of(packed, &second, record_week)?;
        out.extend_from_slice(&packed[second.start..second.changed_flag]);
        let changed = match packed[second.changed_flag] {
            CHANGED_FROM_BEFORE => differ(&first_week, &second_week),
            _ => Plane(core::array::from_fn(|i| {
                let at = second.changed_flag + 1 + 8 * i;
                u64::from_le_bytes(packed[at..at + 8].try_into().unwrap_or_default())
            })),
        };
        if changed == differ(&Week::default(), &second_week) {
            out.push(CHANGED_FROM_BEFORE);
        } else {
            out.push(CHANGED_FOLLOWS);
            for word in changed.0 {
                out.extend_from_slice(&word.to_le_bytes());
            }
        }
        copy_from = second.end;
    }
    out.extend_from_slice(&packed[copy_from.min(last.start)..last.start]);
    // The newest is no longer the newest: its week is written out if it was the record's.
    out.extend_from_slice(&packed[last.start..last.week_flag]);
    if packed[last.week_flag] == WEEK_OF_RECORD {
        if last_week == Week::default() {
            out.push(WEEK_EMPTY);
        } else {
            out.push(WEEK_FOLLOWS);
            out.extend_from_slice(&last_week.to_bytes());
        }
    } else {
        out.extend_from_slice(&packed[last.week_flag..last.changed_flag]);
    }
    out.extend_from_slice(&packed[last.changed_flag..last.end]);
    pack_one(
        &mut |bytes| out.extend_from_slice(bytes),
        &next,
        &last_week,
        true,
        next_record_week,
    );
    Some(Arc::from(out))
}

/// `packed` (none for a history not begun; packed with `record_week`) with the version `make`
/// makes from the newest's week added as [`push`] adds it, packed with `next_record_week`:
/// by [`append`] where it can, else unpacked, pushed and packed again.
pub(crate) fn add(
    packed: Option<&[u8]>,
    record_week: &Week,
    make: impl Fn(&Week) -> PastPattern,
    next_record_week: &Week,
) -> Arc<[u8]> {
    if let Some(appended) =
        packed.and_then(|packed| append(packed, record_week, &make, next_record_week))
    {
        return appended;
    }
    let mut versions = packed
        .map(|packed| unpack(packed, record_week))
        .unwrap_or_default();
    let before = versions.last().map_or(*record_week, |p| p.week);
    push(&mut versions, make(&before));
    pack(&versions, next_record_week)
}

/// The slots whose status differs between two weeks.
fn differ(a: &Week, b: &Week) -> Plane {
    a.open.xor(b.open).or(a.firm.xor(b.firm))
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
    fn a_packed_history_unpacks_as_it_was() {
        let (a, b, c) = (week("#?#"), week("..??##"), week("#"));
        let mut odd = PastPattern::after(&a, 9, -3, Some(Arc::from("k_1")), b);
        // Changed slots that are not the difference from the version before: kept as they
        // are (the oldest version kept after retention cut its predecessor).
        odd.changed = Plane::range(100, 120);
        let versions = [
            PastPattern::after(&Week::default(), 1, 5, None, Week::default()),
            PastPattern::after(&Week::default(), 4, 6, None, a),
            odd,
            PastPattern::after(&b, 12, i64::MAX, Some(Arc::from("x")), c),
        ];
        for record_week in [c, a, Week::default()] {
            for n in 0..=versions.len() {
                let packed = pack(&versions[..n], &record_week);
                assert_eq!(unpack(&packed, &record_week), versions[..n], "{n}");
            }
        }
        let small = pack(&versions[..2], &a);
        assert!(small.len() < 40, "{} bytes", small.len());
        // A first change packs as the general case does.
        let mut record = super::super::calendar::new_calendar("r", "UTC", Vec::new(), 3);
        record.week = b;
        record.version = 7;
        let next = PastPattern::after(&b, 8, 99, Some(Arc::from("k")), c);
        let whole = [PastPattern::of_record(&record), next.clone()];
        assert_eq!(begin(&record, &next), pack(&whole, &c));
        assert_eq!(unpack(&begin(&record, &next), &c), whole);
    }

    #[test]
    fn appending_packs_as_pushing_and_packing_does() {
        // A fixed, well-spread sequence of weeks, keys, record weeks and odd changed slots.
        let weeks = [week(""), week("#?#"), week("..??##"), week("#"), week("?")];
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut roll = |n: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n) as usize
        };
        let mut versions: Vec<PastPattern> = Vec::new();
        let mut record_week = weeks[0];
        let mut packed = pack(&versions, &record_week);
        let mut appended = 0;
        for v in 1..=(MAX_HISTORY as u64 + 300) {
            let before = versions.last().map_or(record_week, |p| p.week);
            let key = [
                None,
                Some(Arc::from("k_1")),
                Some(Arc::from("a-longer-key")),
            ][roll(3)]
            .clone();
            let mut next = PastPattern::after(&before, v, v as i64, key, weeks[roll(5)]);
            if roll(7) == 0 {
                next.changed = Plane::range(roll(300), 300);
            }
            // Mostly the next record's week is the new version's; sometimes another.
            let next_record_week = if roll(5) == 0 {
                weeks[roll(5)]
            } else {
                next.week
            };
            let mut expected = versions.clone();
            push(&mut expected, next.clone());
            let whole = pack(&expected, &next_record_week);
            if let Some(fast) = append(&packed, &record_week, |_| next.clone(), &next_record_week) {
                assert_eq!(fast, whole, "version {v}");
                appended += 1;
            }
            assert_eq!(unpack(&whole, &next_record_week), expected, "version {v}");
            versions = expected;
            record_week = next_record_week;
            packed = whole;
        }
        assert!(appended >= MAX_HISTORY, "{appended} appended");
        // A version not newer than the newest is not appended.
        let old = PastPattern::after(&weeks[0], 5, 5, None, weeks[1]);
        assert!(append(&packed, &record_week, |_| old.clone(), &record_week).is_none());
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
