//! `retry-after` values: delta-seconds (`120`) or an HTTP-date (`Wed, 21 Oct 2015 07:28:00 GMT`).

use std::time::Duration;

/// Longest wait honoured; a server asking for more is treated as asking for this.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// Parses a `retry-after` value into a wait from now. `None` for a value that is neither form.
pub fn parse(value: &str) -> Option<Duration> {
    parse_at(value, chrono::Utc::now())
}

/// As [`parse`], with "now" given (for tests).
pub fn parse_at(value: &str, now: chrono::DateTime<chrono::Utc>) -> Option<Duration> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    if value.bytes().all(|b| b.is_ascii_digit()) {
        // A huge number of seconds is still a valid (long) wait: saturate instead of failing.
        let secs = value.parse::<u64>().unwrap_or(u64::MAX);
        return Some(Duration::from_secs(secs).min(MAX_RETRY_AFTER));
    }
    // RFC 9110 allows only IMF-fixdate in new senders; chrono's RFC 2822 parser reads it (GMT).
    let when = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let wait = when.with_timezone(&chrono::Utc) - now;
    Some(wait.to_std().unwrap_or(Duration::ZERO).min(MAX_RETRY_AFTER))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn delta_seconds() {
        assert_eq!(parse("3"), Some(Duration::from_secs(3)));
        assert_eq!(parse(" 0 "), Some(Duration::ZERO));
        assert_eq!(parse("99999999999999999999999"), Some(MAX_RETRY_AFTER));
    }

    #[test]
    fn http_date_in_the_future_and_past() {
        let now = chrono::Utc
            .with_ymd_and_hms(2015, 10, 21, 7, 27, 50)
            .single()
            .expect("valid");
        assert_eq!(
            parse_at("Wed, 21 Oct 2015 07:28:00 GMT", now),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            parse_at("Wed, 21 Oct 2015 07:00:00 GMT", now),
            Some(Duration::ZERO)
        );
    }

    #[test]
    fn garbage_is_none() {
        for bad in ["", "-1", "1.5", "soon", "Wed, 99 Oct 2015"] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }
}
