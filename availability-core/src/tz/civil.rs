//! Proleptic Gregorian dates as day numbers, for the time-zone rules (no `std` needed).

/// Instants are clamped to about +-30,000 years, far beyond any rule, so that no arithmetic
/// on them overflows.
const LIMIT: i64 = 1_000_000_000_000;

pub(crate) fn is_leap(year: i32) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

pub(crate) fn days_in_month(year: i32, month: u8) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to `year-month-day` (month 1 to 12).
pub(crate) fn days_from_civil(year: i32, month: u8, day: u8) -> i64 {
    // Howard Hinnant's algorithm: years start in March, so the leap day ends a year.
    let month = i64::from(month);
    let year = i64::from(year) - i64::from(month <= 2);
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * (month + if month > 2 { -3 } else { 9 }) + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The calendar year of the wall-clock second `local` (seconds since 1970-01-01 00:00).
pub(crate) fn year_of(local: i64) -> i32 {
    let days = local.clamp(-LIMIT, LIMIT).div_euclid(86_400) + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let year = year_of_era + era * 400 + i64::from(shifted_month >= 10);
    // In range by the clamp above.
    i32::try_from(year).unwrap_or(if year < 0 { i32::MIN } else { i32::MAX })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_numbers_and_years() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(1969, 12, 31), -1);
        assert_eq!(days_from_civil(2026, 12, 1), 20_788);
        for year in [1600, 1900, 1969, 1970, 2000, 2024, 2026, 2100, 2400] {
            let first = days_from_civil(year, 1, 1) * 86_400;
            assert_eq!(year_of(first), year);
            assert_eq!(year_of(first - 1), year - 1);
            let length = (1..=12).map(|m| days_in_month(year, m)).sum::<i64>();
            assert_eq!(
                days_from_civil(year + 1, 1, 1) - days_from_civil(year, 1, 1),
                length
            );
        }
        assert!(year_of(i64::MIN) < -29_000 && year_of(i64::MAX) > 29_000);
    }
}
