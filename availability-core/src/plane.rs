//! One 336-bit plane of a week, in six little-endian-ordered `u64` words.
//!
//! Bit `i` of the plane is bit `i % 64` of word `i / 64`. The last word uses 16 bits; the 48
//! bits past slot 335 (the tail) are always zero. Every operation here keeps that invariant,
//! and [`Plane::from_words`] rejects words that break it, so equality and counting can look at
//! whole words.

use crate::grid::SLOTS;

/// Words in a plane.
pub(crate) const WORDS: usize = SLOTS.div_ceil(64);
/// The bits of the last word that hold slots.
pub(crate) const LAST_WORD_MASK: u64 = (1 << (SLOTS - 64 * (WORDS - 1))) - 1;

const _: () = assert!(WORDS == 6 && SLOTS % 64 == 16);
const _: () = assert!(LAST_WORD_MASK == 0xFFFF);

/// A set of slots, one bit each.
#[derive(Clone, Copy, Eq, Default)]
pub(crate) struct Plane(pub(crate) [u64; WORDS]);

/// Word by word, without a branch: the derived comparison of the array calls `memcmp`, whose
/// call costs more than the six words (it sat in the loops that count groups).
impl PartialEq for Plane {
    #[inline(always)]
    fn eq(&self, other: &Plane) -> bool {
        let mut differ = 0;
        for j in 0..WORDS {
            differ |= self.0[j] ^ other.0[j];
        }
        differ == 0
    }
}

/// The words, as the equality above compares them.
impl core::hash::Hash for Plane {
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }
}

impl Plane {
    /// No slot.
    pub(crate) const EMPTY: Plane = Plane([0; WORDS]);
    /// Every slot.
    pub(crate) const FULL: Plane = Plane([!0, !0, !0, !0, !0, LAST_WORD_MASK]);

    /// The plane of these words, or `None` when a tail bit is set.
    #[inline]
    pub(crate) const fn from_words(words: [u64; WORDS]) -> Option<Plane> {
        if words[WORDS - 1] & !LAST_WORD_MASK != 0 {
            None
        } else {
            Some(Plane(words))
        }
    }

    /// Slots `start..end`.
    ///
    /// # Panics
    ///
    /// In debug builds, unless `start <= end <= 336`.
    #[inline]
    #[allow(dead_code)] // Used by the time-zone plans, which are behind a feature.
    pub(crate) fn range(start: usize, end: usize) -> Plane {
        debug_assert!(start <= end && end <= SLOTS);
        let mut words = [0u64; WORDS];
        for (j, word) in words.iter_mut().enumerate() {
            let lo = start.saturating_sub(64 * j).min(64);
            let hi = end.saturating_sub(64 * j).min(64);
            if hi > lo {
                *word = (!0u64 >> (64 - (hi - lo))) << lo;
            }
        }
        Plane(words)
    }

    /// Whether slot `i` is in the plane.
    #[inline(always)]
    pub(crate) const fn get(&self, i: usize) -> bool {
        (self.0[i / 64] >> (i % 64)) & 1 != 0
    }

    /// Puts slot `i` in the plane or takes it out.
    #[inline(always)]
    pub(crate) fn set(&mut self, i: usize, value: bool) {
        let bit = 1u64 << (i % 64);
        let word = &mut self.0[i / 64];
        *word = (*word & !bit) | (u64::from(value) << (i % 64));
    }

    #[inline]
    pub(crate) fn and(self, other: Plane) -> Plane {
        Plane(core::array::from_fn(|j| self.0[j] & other.0[j]))
    }

    #[inline]
    pub(crate) fn or(self, other: Plane) -> Plane {
        Plane(core::array::from_fn(|j| self.0[j] | other.0[j]))
    }

    /// The slots in exactly one of `self` and `other`.
    #[cfg(feature = "std")]
    #[inline]
    pub(crate) fn xor(self, other: Plane) -> Plane {
        Plane(core::array::from_fn(|j| self.0[j] ^ other.0[j]))
    }

    /// The slots in `self` and not in `other`.
    #[inline]
    pub(crate) fn and_not(self, other: Plane) -> Plane {
        Plane(core::array::from_fn(|j| self.0[j] & !other.0[j]))
    }

    #[inline]
    pub(crate) fn count(&self) -> usize {
        self.0.iter().map(|w| w.count_ones() as usize).sum()
    }

    /// The plane moved towards lower slots by `k` bits, with zeros coming in at the top:
    /// bit `i` of the result is bit `i + k` of `self`.
    #[inline]
    fn shift_down(self, k: usize) -> Plane {
        let (w, b) = (k / 64, k % 64);
        Plane(core::array::from_fn(|j| {
            let lo = if j + w < WORDS { self.0[j + w] >> b } else { 0 };
            let hi = if b != 0 && j + w + 1 < WORDS {
                self.0[j + w + 1] << (64 - b)
            } else {
                0
            };
            lo | hi
        }))
    }

    /// The plane moved towards higher slots by `k` bits, bits past slot 335 dropped:
    /// bit `i` of the result is bit `i - k` of `self`.
    #[inline]
    pub(crate) fn shift_up(self, k: usize) -> Plane {
        let (w, b) = (k / 64, k % 64);
        let mut out = Plane(core::array::from_fn(|j| {
            let lo = if j >= w { self.0[j - w] << b } else { 0 };
            let hi = if b != 0 && j > w {
                self.0[j - w - 1] >> (64 - b)
            } else {
                0
            };
            lo | hi
        }));
        out.0[WORDS - 1] &= LAST_WORD_MASK;
        out
    }

    /// The plane rotated around the week: bit `i` of the result is bit `(i + k) % 336` of
    /// `self`. A view whose viewer slot `v` falls in owner slot `v + k` is this rotation.
    #[inline]
    pub(crate) fn rotate(self, k: usize) -> Plane {
        let k = k % SLOTS;
        if k == 0 {
            return self;
        }
        self.shift_down(k).or(self.shift_up(SLOTS - k))
    }

    /// The 64 bits from slot `at` on (zeros past slot 335).
    #[inline]
    #[allow(dead_code)] // Used by the dated layer, which is behind a feature.
    pub(crate) fn bits_at(self, at: usize) -> u64 {
        self.shift_down(at).0[0]
    }

    /// The plane whose slots `0..64` are the bits of `bits`.
    #[inline]
    #[allow(dead_code)] // Used by the dated layer, which is behind a feature.
    pub(crate) const fn from_low_bits(bits: u64) -> Plane {
        Plane([bits, 0, 0, 0, 0, 0])
    }

    /// The indices of the set slots, in increasing order.
    pub(crate) fn ones(self) -> Ones {
        Ones {
            words: self.0,
            word: 0,
        }
    }
}

impl core::fmt::Debug for Plane {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Plane(")?;
        for i in 0..SLOTS {
            f.write_str(if self.get(i) { "1" } else { "0" })?;
        }
        write!(f, ")")
    }
}

/// The set slots of a plane, found a word at a time with `trailing_zeros`.
#[derive(Clone, Debug)]
pub(crate) struct Ones {
    words: [u64; WORDS],
    word: usize,
}

impl Iterator for Ones {
    type Item = usize;

    #[inline]
    fn next(&mut self) -> Option<usize> {
        while self.word < WORDS {
            let w = &mut self.words[self.word];
            if *w != 0 {
                let bit = w.trailing_zeros() as usize;
                *w &= *w - 1;
                return Some(self.word * 64 + bit);
            }
            self.word += 1;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;
    use proptest::prelude::*;

    fn model(plane: &Plane) -> Vec<bool> {
        (0..SLOTS).map(|i| plane.get(i)).collect()
    }

    fn arb_plane() -> impl Strategy<Value = Plane> {
        proptest::array::uniform6(any::<u64>()).prop_map(|mut words| {
            words[WORDS - 1] &= LAST_WORD_MASK;
            Plane(words)
        })
    }

    #[test]
    fn full_and_range_agree() {
        assert_eq!(Plane::range(0, SLOTS), Plane::FULL);
        assert_eq!(Plane::range(7, 7), Plane::EMPTY);
        assert_eq!(Plane::FULL.count(), SLOTS);
        assert!(Plane::from_words([0, 0, 0, 0, 0, 1 << 16]).is_none());
    }

    proptest! {
        #[test]
        fn rotate_matches_model(plane in arb_plane(), k in 0usize..1000) {
            let rotated = model(&plane.rotate(k));
            let bits = model(&plane);
            for (i, &bit) in rotated.iter().enumerate() {
                prop_assert_eq!(bit, bits[(i + k) % SLOTS]);
            }
            prop_assert_eq!(plane.rotate(k).0[WORDS - 1] & !LAST_WORD_MASK, 0);
        }

        #[test]
        fn shift_up_matches_model(plane in arb_plane(), k in 0usize..SLOTS) {
            let shifted = model(&plane.shift_up(k));
            let bits = model(&plane);
            for (i, &bit) in shifted.iter().enumerate() {
                prop_assert_eq!(bit, i >= k && bits[i - k]);
            }
        }

        #[test]
        fn range_matches_model(a in 0usize..=SLOTS, b in 0usize..=SLOTS) {
            let (start, end) = (a.min(b), a.max(b));
            let range = Plane::range(start, end);
            for i in 0..SLOTS {
                prop_assert_eq!(range.get(i), (start..end).contains(&i));
            }
        }

        #[test]
        fn ones_lists_the_set_bits(plane in arb_plane()) {
            let expected: Vec<usize> = (0..SLOTS).filter(|&i| plane.get(i)).collect();
            prop_assert_eq!(plane.ones().collect::<Vec<_>>(), expected);
        }
    }
}
