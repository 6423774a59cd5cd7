//! Unix seconds as the dates pages and the downloads API show (UTC, `YYYY-MM-DD`), and the day
//! numbers downloads are counted by.

/// Days since 1970-01-01 (UTC) of a Unix time.
pub fn day_of(unix: i64) -> i64 {
    unix.div_euclid(86_400)
}

/// `YYYY-MM-DD` of a day number (Howard Hinnant's `civil_from_days`).
pub fn day_to_date(day: i64) -> String {
    let z = day + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

/// `YYYY-MM-DD` of a Unix time.
pub fn date(unix: i64) -> String {
    day_to_date(day_of(unix))
}

/// `YYYY-MM-DDTHH:MM:SSZ` of a Unix time (what crates.io's API shows).
pub fn timestamp(unix: i64) -> String {
    let secs = unix.rem_euclid(86_400);
    format!(
        "{}T{:02}:{:02}:{:02}Z",
        date(unix),
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(date(0), "1970-01-01");
        assert_eq!(date(951_782_400), "2000-02-29");
        assert_eq!(date(1_767_225_599), "2025-12-31");
        assert_eq!(timestamp(1_767_225_599), "2025-12-31T23:59:59Z");
        assert_eq!(date(-1), "1969-12-31");
        assert_eq!(timestamp(0), "1970-01-01T00:00:00Z");
        assert_eq!(timestamp(1_796_031_738), "2026-11-30T09:42:18Z");
        assert_eq!(timestamp(4_102_444_799), "2099-12-31T23:59:59Z");
    }
}
