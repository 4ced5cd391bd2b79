//! Instants written for people and scripts: RFC 3339 in UTC; and read
//! from them, with any offset.

use ::time::OffsetDateTime;
use ::time::format_description::well_known::Rfc3339;

/// `2026-11-20T09:30:00Z` (or `…+08:00`, with fractions of a second) → a
/// protobuf timestamp.
pub fn parse_rfc3339(text: &str) -> Result<prost_types::Timestamp, String> {
    let instant = OffsetDateTime::parse(text.trim(), &Rfc3339).map_err(|error| {
        format!("{text:?} is not an RFC 3339 instant such as 2026-11-20T09:30:00Z: {error}")
    })?;
    Ok(prost_types::Timestamp {
        seconds: instant.unix_timestamp(),
        nanos: instant.nanosecond() as i32,
    })
}

/// `1764172800` → `2025-11-26T16:00:00Z`.
pub fn rfc3339(unix_seconds: i64) -> String {
    let days = unix_seconds.div_euclid(86_400);
    let second_of_day = unix_seconds.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        second_of_day / 3_600,
        second_of_day % 3_600 / 60,
        second_of_day % 60
    )
}

/// The proleptic Gregorian date `days` after 1970-01-01 (Howard Hinnant's
/// `civil_from_days`), so that no date library is needed for one format.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_index + 2) / 5 + 1) as u32;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_match_known_instants() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_764_172_800), "2025-11-26T16:00:00Z");
        assert_eq!(rfc3339(4_102_444_799), "2099-12-31T23:59:59Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59Z");
    }

    #[test]
    fn instants_read_back_with_any_offset() {
        let utc = parse_rfc3339("2025-11-26T16:00:00Z").unwrap();
        assert_eq!((utc.seconds, utc.nanos), (1_764_172_800, 0));
        assert_eq!(rfc3339(utc.seconds), "2025-11-26T16:00:00Z");
        let beijing = parse_rfc3339("2025-11-27T00:00:00.25+08:00").unwrap();
        assert_eq!(
            (beijing.seconds, beijing.nanos),
            (1_764_172_800, 250_000_000)
        );
        for wrong in ["2025-11-26", "yesterday", "2025-11-26T16:00:00", ""] {
            assert!(parse_rfc3339(wrong).is_err(), "{wrong:?}");
        }
    }
}
