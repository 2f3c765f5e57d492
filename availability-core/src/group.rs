//! [`Tally`]: how many of many weeks are available, and maybe, in each slot.
//!
//! "Is everyone free" over many calendars is an AND of their planes; "how many are free" is a
//! count per slot. A [`Tally`] keeps both counts *bit-sliced*: plane `i` of a counter holds bit
//! `i` of every slot's count, so adding a week is a handful of word operations on six words,
//! whatever the number of slots. Weeks are taken eight at a time through carry-save adders
//! (the Harley-Seal scheme): eight weeks cost seven full adders per plane word and one carry
//! into the counter, instead of eight ripple-carry additions.
//!
//! ```
//! use availability_core::group::Tally;
//! use availability_core::{Status, Week};
//!
//! let mut alice = Week::UNAVAILABLE;
//! let mut bob = Week::UNAVAILABLE;
//! for slot in ["monday 09:00", "monday 09:30"] {
//!     alice.set(slot.parse()?, Status::Available);
//! }
//! bob.set("monday 09:30".parse()?, Status::Available);
//! bob.set("monday 09:00".parse()?, Status::Maybe);
//!
//! let mut tally = Tally::new();
//! tally.add(&alice);
//! tally.add(&bob);
//! let nine = "monday 09:00".parse()?;
//! assert_eq!((tally.available(nine), tally.maybe(nine)), (1, 1));
//! assert_eq!(tally.everyone().status(nine), Status::Maybe);
//! assert_eq!(tally.everyone().status("monday 09:30".parse()?), Status::Available);
//! // The slots where at least 2 are available, as a week's firm plane.
//! assert_eq!(tally.at_least(2).counts().available, 1);
//! # Ok::<(), availability_core::Error>(())
//! ```

use alloc::vec::Vec;

use crate::grid::{Slot, SLOTS};
use crate::plane::{Plane, WORDS};
use crate::week::Week;

/// Per-slot counts over many weeks: how many are available, how many maybe (or better), and
/// the minimum of them all.
#[derive(Clone, Debug)]
pub struct Tally {
    firm: Counter,
    open: Counter,
    /// The minimum of the weeks added, kept directly: two ANDs per week.
    everyone: Week,
    members: u32,
}

impl Default for Tally {
    fn default() -> Tally {
        Tally::new()
    }
}

impl Tally {
    /// No week yet.
    pub fn new() -> Tally {
        Tally {
            firm: Counter::default(),
            open: Counter::default(),
            everyone: Week::AVAILABLE,
            members: 0,
        }
    }

    /// Counts one more week.
    #[inline]
    pub fn add(&mut self, week: &Week) {
        self.firm.add(week.firm);
        self.open.add(week.open);
        self.everyone = self.everyone.min(*week);
        self.members += 1;
    }

    /// How many weeks were added.
    pub fn members(&self) -> u32 {
        self.members
    }

    /// How many weeks are available in `slot`.
    pub fn available(&self, slot: Slot) -> u32 {
        self.firm.get(slot.index())
    }

    /// How many weeks are maybe (not available) in `slot`.
    pub fn maybe(&self, slot: Slot) -> u32 {
        self.open.get(slot.index()) - self.firm.get(slot.index())
    }

    /// The per-slot counts of available weeks, in slot order.
    pub fn available_counts(&self) -> [u32; SLOTS] {
        self.firm.all()
    }

    /// The per-slot counts of weeks that are maybe (not available), in slot order.
    pub fn maybe_counts(&self) -> [u32; SLOTS] {
        let (open, firm) = (self.open.all(), self.firm.all());
        core::array::from_fn(|i| open[i] - firm[i])
    }

    /// [`Tally::available_counts`] and [`Tally::maybe_counts`] together, reading each counter
    /// once.
    pub fn counts(&self) -> ([u32; SLOTS], [u32; SLOTS]) {
        let (open, firm) = (self.open.all(), self.firm.all());
        (firm, core::array::from_fn(|i| open[i] - firm[i]))
    }

    /// The minimum over every week added (everyone's status): [`Week::AVAILABLE`] for none.
    pub fn everyone(&self) -> Week {
        self.everyone
    }

    /// A week available exactly where at least `k` weeks are available (and unavailable
    /// elsewhere): a bit-sliced comparison, word by word.
    pub fn at_least(&self, k: u32) -> Week {
        let firm = self.firm.at_least(k);
        Week { open: firm, firm }
    }

    /// The maximal runs of slots, in slot order, where at least `k` weeks are available, each
    /// with the fewest available over the run.
    pub fn spans(&self, k: u32) -> Vec<Span> {
        let counts = self.firm.all();
        let mut out: Vec<Span> = Vec::new();
        let mut open: Option<Span> = None;
        for (i, &count) in counts.iter().enumerate() {
            if count >= k.max(1) {
                match &mut open {
                    Some(span) => {
                        span.end = i + 1;
                        span.available = span.available.min(count);
                    }
                    None => {
                        open = Some(Span {
                            start: i,
                            end: i + 1,
                            available: count,
                        })
                    }
                }
            } else if let Some(span) = open.take() {
                out.push(span);
            }
        }
        out.extend(open);
        out
    }

    /// The best spans of the week: the maximal runs of slots where the most weeks are
    /// available, longest first (then earliest).
    pub fn best(&self) -> Vec<Span> {
        let most = self.firm.all().into_iter().max().unwrap_or(0);
        let mut spans: Vec<Span> = self
            .spans(most)
            .into_iter()
            .filter(|span| span.available == most)
            .collect();
        spans.sort_by_key(|span| (core::cmp::Reverse(span.end - span.start), span.start));
        spans
    }
}

/// A run of slots `start..end` (indices 0 to 336) and the fewest weeks available over it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    /// The first slot.
    pub start: usize,
    /// One past the last slot.
    pub end: usize,
    /// The fewest weeks available in any slot of the run.
    pub available: u32,
}

/// Per-slot counts of one plane's bits over many planes, bit-sliced: `bits[i]` holds bit `i`
/// of every slot's count. New planes go through a carry-save front (Harley-Seal): `ones`,
/// `twos` and `fours` hold the pending low bits, and every eighth plane moves one plane of
/// weight eight into `bits` from level 3 up.
#[derive(Clone, Debug, Default)]
struct Counter {
    /// Planes added since the front was last emptied into `bits`.
    pending: [Plane; 8],
    waiting: usize,
    ones: Plane,
    twos: Plane,
    fours: Plane,
    /// Bit `i` of every slot's count of weight-eight units, at level `i + 3`.
    bits: Vec<Plane>,
}

/// Nibble `n` spread into four 16-bit lanes: bit `k` of `n` becomes 1 in lane `k`.
const SPREAD: [u64; 16] = {
    let mut table = [0u64; 16];
    let mut n = 0;
    while n < 16 {
        let mut k = 0;
        while k < 4 {
            if n >> k & 1 == 1 {
                table[n] |= 1 << (16 * k);
            }
            k += 1;
        }
        n += 1;
    }
    table
};

/// Byte `n` spread into eight 8-bit lanes: bit `k` of `n` becomes 1 in lane `k`.
const SPREAD8: [u64; 256] = {
    let mut table = [0u64; 256];
    let mut n = 0;
    while n < 256 {
        let mut k = 0;
        while k < 8 {
            if n >> k & 1 == 1 {
                table[n] |= 1 << (8 * k);
            }
            k += 1;
        }
        n += 1;
    }
    table
};

/// A full adder on whole planes: the sum and the carry of three bits, slot by slot.
#[inline(always)]
fn csa(a: Plane, b: Plane, c: Plane) -> (Plane, Plane) {
    let mut sum = [0u64; WORDS];
    let mut carry = [0u64; WORDS];
    for j in 0..WORDS {
        let u = a.0[j] ^ b.0[j];
        sum[j] = u ^ c.0[j];
        carry[j] = (a.0[j] & b.0[j]) | (u & c.0[j]);
    }
    (Plane(sum), Plane(carry))
}

impl Counter {
    #[inline]
    fn add(&mut self, plane: Plane) {
        self.pending[self.waiting] = plane;
        self.waiting += 1;
        if self.waiting == self.pending.len() {
            self.waiting = 0;
            let d = self.pending;
            let (ones, twos_a) = csa(self.ones, d[0], d[1]);
            let (ones, twos_b) = csa(ones, d[2], d[3]);
            let (twos, fours_a) = csa(self.twos, twos_a, twos_b);
            let (ones, twos_a) = csa(ones, d[4], d[5]);
            let (ones, twos_b) = csa(ones, d[6], d[7]);
            let (twos, fours_b) = csa(twos, twos_a, twos_b);
            let (fours, eights) = csa(self.fours, fours_a, fours_b);
            (self.ones, self.twos, self.fours) = (ones, twos, fours);
            ripple(&mut self.bits, eights, 0);
        }
    }

    /// The whole count, bit-sliced from level 0: the front and the waiting planes folded in.
    fn settled(&self) -> Vec<Plane> {
        let mut bits = Vec::with_capacity(self.bits.len() + 4);
        bits.extend([Plane::EMPTY; 3]);
        bits.extend_from_slice(&self.bits);
        for (level, plane) in [(0, self.ones), (1, self.twos), (2, self.fours)] {
            ripple(&mut bits, plane, level);
        }
        for plane in &self.pending[..self.waiting] {
            ripple(&mut bits, *plane, 0);
        }
        bits
    }

    /// The count of slot `i`.
    fn get(&self, i: usize) -> u32 {
        self.settled()
            .iter()
            .enumerate()
            .map(|(level, plane)| u32::from(plane.get(i)) << level)
            .sum()
    }

    /// Every slot's count.
    ///
    /// Read out many slots at a time: each byte (or, for taller counts, nibble) of a level's
    /// plane is spread by a table into lanes of a word, one lane a slot, and added at the
    /// level's weight, so the cost is a table lookup per eight (or four) slots per level,
    /// whatever the counts are. Counts below 2^8 (up to 255 weeks) take 8-bit lanes, below
    /// 2^16 16-bit lanes; taller counts take the bit-by-bit way.
    fn all(&self) -> [u32; SLOTS] {
        let bits = self.settled();
        let mut counts = [0u32; SLOTS];
        if bits.len() <= 8 {
            let mut lanes = [0u64; SLOTS / 8];
            for (level, plane) in bits.iter().enumerate() {
                for (word, &value) in plane.0.iter().enumerate() {
                    let mut rest = value;
                    let mut at = word * 8;
                    while rest != 0 {
                        if let Some(lane) = lanes.get_mut(at) {
                            *lane += SPREAD8[(rest & 0xFF) as usize] << level;
                        }
                        rest >>= 8;
                        at += 1;
                    }
                }
            }
            for (eight, lane) in counts.chunks_exact_mut(8).zip(lanes) {
                for (k, count) in eight.iter_mut().enumerate() {
                    *count = ((lane >> (8 * k)) & 0xFF) as u32;
                }
            }
        } else if bits.len() <= 16 {
            let mut lanes = [0u64; SLOTS / 4];
            for (level, plane) in bits.iter().enumerate() {
                for (word, &value) in plane.0.iter().enumerate() {
                    let mut rest = value;
                    let mut at = word * 16;
                    while rest != 0 {
                        if let Some(lane) = lanes.get_mut(at) {
                            *lane += SPREAD[(rest & 0xF) as usize] << level;
                        }
                        rest >>= 4;
                        at += 1;
                    }
                }
            }
            for (four, lane) in counts.chunks_exact_mut(4).zip(lanes) {
                for (k, count) in four.iter_mut().enumerate() {
                    *count = ((lane >> (16 * k)) & 0xFFFF) as u32;
                }
            }
        } else {
            for (level, plane) in bits.iter().enumerate() {
                for i in plane.ones() {
                    counts[i] += 1 << level;
                }
            }
        }
        counts
    }

    /// The slots whose count is at least `k`: compared from the top bit down, as planes.
    fn at_least(&self, k: u32) -> Plane {
        if k == 0 {
            return Plane::FULL;
        }
        let bits = self.settled();
        let levels = bits.len();
        if levels < 32 && k >> levels != 0 {
            return Plane::EMPTY;
        }
        // `above`: slots already known greater; `equal`: slots equal on every bit so far.
        let (mut above, mut equal) = (Plane::EMPTY, Plane::FULL);
        for level in (0..levels).rev() {
            let plane = bits[level];
            if (k >> level) & 1 == 1 {
                equal = equal.and(plane);
            } else {
                above = above.or(equal.and(plane));
                equal = equal.and_not(plane);
            }
        }
        above.or(equal)
    }
}

/// Adds `plane` (ones of weight `2^level`) into the bit-sliced `bits`, carrying upwards.
#[inline]
fn ripple(bits: &mut Vec<Plane>, mut carry: Plane, mut level: usize) {
    while carry != Plane::EMPTY {
        if level == bits.len() {
            bits.push(carry);
            return;
        }
        let sum = Plane(core::array::from_fn(|j| bits[level].0[j] ^ carry.0[j]));
        carry = bits[level].and(carry);
        bits[level] = sum;
        level += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Around each change of the readout's lane width (8 bits up to 255 weeks, 16 bits up to
    /// 65,535, bit by bit beyond), with counts that differ from slot to slot.
    #[test]
    fn counts_are_read_out_at_every_lane_width() {
        let mut odd = Week::UNAVAILABLE;
        for slot in (0..SLOTS)
            .filter(|i| i % 3 != 0)
            .filter_map(Slot::from_index)
        {
            odd.set(
                slot,
                if slot.index() % 2 == 0 {
                    Status::Available
                } else {
                    Status::Maybe
                },
            );
        }
        for n in [254u32, 255, 256, 257, 511, 512, 65_535, 65_536, 70_001] {
            let mut tally = Tally::new();
            for i in 0..n {
                tally.add(if i % 2 == 0 { &Week::AVAILABLE } else { &odd });
            }
            let (available, maybe) = tally.counts();
            let (evens, odds) = (n.div_ceil(2), n / 2);
            for i in 0..SLOTS {
                let (a, m) = match (i % 3 != 0, i % 2 == 0) {
                    (false, _) => (evens, 0),
                    (true, true) => (n, 0),
                    (true, false) => (evens, odds),
                };
                assert_eq!((available[i], maybe[i]), (a, m), "{n} weeks, slot {i}");
            }
        }
    }

    #[test]
    fn counts_past_sixteen_bits_are_read_out_too() {
        for n in [65_535u32, 65_536, 70_001] {
            let mut tally = Tally::new();
            for _ in 0..n {
                tally.add(&Week::AVAILABLE);
            }
            let (available, maybe) = tally.counts();
            assert!(available.iter().all(|&c| c == n), "{n}");
            assert!(maybe.iter().all(|&c| c == 0), "{n}");
            assert_eq!(tally.at_least(n), Week::AVAILABLE);
        }
    }
    use crate::grid::Status;
    use proptest::prelude::*;

    fn arb_week() -> impl Strategy<Value = Week> {
        proptest::collection::vec(0usize..3, SLOTS)
            .prop_map(|s| Week::from_fn(|slot| Status::ALL[s[slot.index()]]))
    }

    proptest! {
        /// Against a plain count, slot by slot, for every number of weeks up to 40 (so the
        /// carry-save front is seen part-full and emptied several times).
        #[test]
        fn counts_match_a_plain_count(weeks in proptest::collection::vec(arb_week(), 0..40), k in 0u32..45) {
            let mut tally = Tally::new();
            for week in &weeks {
                tally.add(week);
            }
            let available = tally.available_counts();
            let maybe = tally.maybe_counts();
            let mut everyone = Week::AVAILABLE;
            for slot in (0..SLOTS).filter_map(Slot::from_index) {
                let statuses = weeks.iter().map(|w| w.status(slot));
                let plain_available = statuses.clone().filter(|s| *s == Status::Available).count();
                let plain_maybe = statuses.clone().filter(|s| *s == Status::Maybe).count();
                prop_assert_eq!(available[slot.index()] as usize, plain_available);
                prop_assert_eq!(maybe[slot.index()] as usize, plain_maybe);
                prop_assert_eq!(tally.available(slot) as usize, plain_available);
                prop_assert_eq!(tally.maybe(slot) as usize, plain_maybe);
                prop_assert_eq!(
                    tally.at_least(k).status(slot) == Status::Available,
                    plain_available >= k as usize
                );
                everyone.set(slot, statuses.min().unwrap_or(Status::Available));
            }
            prop_assert_eq!(tally.everyone(), everyone);
            prop_assert_eq!(tally.members() as usize, weeks.len());
            for span in tally.spans(k.max(1)) {
                prop_assert!(span.start < span.end);
                prop_assert!((span.start..span.end).all(|i| available[i] >= k.max(1)));
                prop_assert_eq!(
                    span.available,
                    (span.start..span.end).map(|i| available[i]).min().unwrap_or(0)
                );
            }
        }
    }

    #[test]
    fn a_thousand_weeks_count_to_a_thousand() {
        let mut tally = Tally::new();
        for n in 0..1000 {
            let mut week = Week::AVAILABLE;
            if n % 2 == 0 {
                week.set(Slot::from_index(5).expect("slot"), Status::Maybe);
            }
            tally.add(&week);
        }
        let slot = |i| Slot::from_index(i).expect("slot");
        assert_eq!(tally.available(slot(0)), 1000);
        assert_eq!((tally.available(slot(5)), tally.maybe(slot(5))), (500, 500));
        assert_eq!(tally.at_least(1000).counts().available, SLOTS - 1);
        assert_eq!(tally.at_least(1001).counts().available, 0);
        assert_eq!(tally.at_least(500).counts().available, SLOTS);
        let best = tally.best();
        assert_eq!(
            best[0],
            Span {
                start: 6,
                end: SLOTS,
                available: 1000
            }
        );
        assert_eq!(
            best[1],
            Span {
                start: 0,
                end: 5,
                available: 1000
            }
        );
    }
}
