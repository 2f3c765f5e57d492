//! Zone names and release versions: which strings may name a zone, the hash the name index
//! and ETags use, the order of names, and the order of IANA releases.

use alloc::format;
use core::cmp::Ordering;

use crate::error::Truncated;
use crate::error::{Error, Kind};

/// FNV-1a of a zone name: a fixed function, so hashes (and the ETags made from them) are the
/// same in every process.
pub(crate) const fn name_hash(name: &str) -> u64 {
    let bytes = name.as_bytes();
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        i += 1;
    }
    hash
}

/// The longest zone name a database may hold; IANA names are at most about 30 bytes.
pub(super) const MAX_NAME: usize = 64;

/// A zone name: 1 to 64 bytes of letters, digits and `/_-+`, in parts that are neither empty
/// nor `.` or `..`.
pub(super) fn check_name(name: &str) -> Result<(), Error> {
    let valid = !name.is_empty()
        && name.len() <= MAX_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'-' | b'+'))
        && name.split('/').all(|part| !part.is_empty());
    if valid {
        Ok(())
    } else {
        Err(Error::new(
            Kind::TzData,
            format!("{:?} is not a time-zone name", Truncated(name)),
        ))
    }
}

pub(super) fn cmp_ignore_case(a: &str, b: &str) -> Ordering {
    let a = a.bytes().map(|b| b.to_ascii_lowercase());
    let b = b.bytes().map(|b| b.to_ascii_lowercase());
    a.cmp(b)
}

/// `2026f` as (2026, 1, "f"): releases order by year, then by the length of the letters
/// (`2026z` comes before a hypothetical `2026aa`), then by the letters.
pub(super) fn version_key(version: &str) -> Option<(u32, usize, &str)> {
    let digits = version.bytes().take_while(u8::is_ascii_digit).count();
    let (year, letters) = version.split_at(digits);
    if year.len() != 4 || letters.is_empty() || !letters.bytes().all(|b| b.is_ascii_lowercase()) {
        return None;
    }
    Some((year.parse().ok()?, letters.len(), letters))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_order_as_iana_names_them() {
        let order = [
            "1996l", "2025b", "2026a", "2026f", "2026z", "2026aa", "2027a",
        ];
        for pair in order.windows(2) {
            assert!(version_key(pair[0]) < version_key(pair[1]), "{pair:?}");
        }
        for bad in ["", "2026", "26f", "2026F", "2026f ", "x2026f", "20266f"] {
            assert_eq!(version_key(bad), None, "{bad:?}");
        }
    }

    /// ETags hash zones by this function; it must not change between builds.
    #[test]
    fn name_hashes_are_fnv_1a() {
        assert_eq!(name_hash(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(name_hash("a"), 0xaf63_dc4c_8601_ec8c);
        assert_ne!(name_hash("Europe/Berlin"), name_hash("Europe/Paris"));
    }

    #[test]
    fn names_are_checked() {
        for good in [
            "UTC",
            "America/Argentina/Buenos_Aires",
            "Etc/GMT+5",
            "EST5EDT",
        ] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        for bad in ["", "/UTC", "UTC/", "a//b", "../etc/passwd", "a b", "Ä"] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }
}
