//! Wall-clock formatting without a date crate: RFC 3339 timestamps for
//! recordings and journals, and the days-to-date step under them (also
//! used for made-up dates). These run on every exchange, so they stay
//! hand-written; dates off the hot path (certificate validity) use the
//! `time` crate.
//!
//! Both rest on Howard Hinnant's days-to-civil algorithm, which turns a
//! count of days since 1970-01-01 into a proleptic Gregorian date.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// `2024-05-01T12:34:56.789Z`: UTC, millisecond precision. Times before
/// 1970 (a clock gone badly wrong) are written as the epoch.
pub fn rfc3339_millis(time: SystemTime) -> String {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    let secs = since.as_secs();
    let (year, month, day) = civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    let Ok(year) = u64::try_from(year) else {
        return "1970-01-01T00:00:00.000Z".into();
    };
    if year > 9999 {
        return format!(
            "{year}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
            rem / 3600,
            rem / 60 % 60,
            rem % 60,
            since.subsec_millis()
        );
    }
    // Written digit by digit: recorders stamp two of these per exchange,
    // and the formatting machinery costs more than the rest of it.
    let mut out = String::with_capacity(24);
    let mut digits = |value: u64, width: u32, then: char| {
        for place in (0..width).rev() {
            out.push(char::from(b'0' + (value / 10u64.pow(place) % 10) as u8));
        }
        out.push(then);
    };
    digits(year, 4, '-');
    digits(u64::from(month), 2, '-');
    digits(u64::from(day), 2, 'T');
    digits(rem / 3600, 2, ':');
    digits(rem / 60 % 60, 2, ':');
    digits(rem % 60, 2, '.');
    digits(u64::from(since.subsec_millis()), 3, 'Z');
    out
}

/// Days since 1970-01-01 to (year, month 1–12, day 1–31).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11], March-based
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(rfc3339_millis(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let t = UNIX_EPOCH + Duration::from_millis(951_782_400_123); // leap day 2000
        assert_eq!(rfc3339_millis(t), "2000-02-29T00:00:00.123Z");
        let t = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(rfc3339_millis(t), "2023-11-14T22:13:20.000Z");
        let t = UNIX_EPOCH + Duration::from_secs(4_102_444_799); // last second of 2099
        assert_eq!(rfc3339_millis(t), "2099-12-31T23:59:59.000Z");
        let t = UNIX_EPOCH + Duration::from_millis(9_999_999_999_999); // 2286
        assert_eq!(rfc3339_millis(t), "2286-11-20T17:46:39.999Z");
        let t = UNIX_EPOCH + Duration::from_secs(253_402_300_800); // 10000-01-01
        assert_eq!(rfc3339_millis(t), "10000-01-01T00:00:00.000Z");
    }

    #[test]
    fn walks_days_across_month_and_year_ends() {
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(civil_from_days(59), (1970, 3, 1));
    }
}
