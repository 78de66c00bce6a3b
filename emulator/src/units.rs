//! Sizes and durations as people write them: the binary's flags, `--fault` and `--net` specs
//! and the benchmark's options all read them here, with `bytesize` and `humantime`, so that
//! `1h` or `10MB` means one thing everywhere.
//!
//! **Sizes** are bytes with an optional unit: `4096`, `512KiB`, `8MiB`, `1.5GiB` (binary,
//! powers of 1024) or `10KB`, `100MB`, `1GB` (decimal, powers of 1000, as SI and `bytesize`
//! read them: `10MB` is 10,000,000 bytes, `10MiB` is 10,485,760). Units are case-insensitive
//! and may follow a space. A unit must end in `B`: a bare `10M` is refused, because
//! `bytesize` reads it as decimal megabytes while the benchmark used to read it as mebibytes,
//! and a benchmark silently 5% off is worse than an error.
//!
//! **Durations** are `humantime`'s: `250ms`, `1.5s`, `30s`, `1m`, `2h`, `7d`, `1h 30m`. A
//! bare number is in the unit its caller names ([`Bare`]): seconds for lifetimes, `@SECS`,
//! rate-limit windows and latency; milliseconds for `--net` delays, as each has always read.

use std::time::Duration;

/// The unit of a duration written as a bare number (`30`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bare {
    /// `30` is 30 seconds.
    Secs,
    /// `30` is 30 milliseconds.
    Millis,
}

/// Parses a byte count: `4096`, `512KiB`, `8MiB`, `1.5GiB`, `100MB` (see the module docs for
/// which units are binary and which decimal).
///
/// ```
/// use box_emulator::units::parse_size;
/// assert_eq!(parse_size("8MiB"), Ok(8 << 20));
/// assert_eq!(parse_size("10MB"), Ok(10_000_000));
/// assert!(parse_size("10M").is_err());
/// ```
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let unit = t
        .trim_start_matches(|c: char| c.is_ascii_digit() || c == '.')
        .trim();
    if !unit.is_empty() && !unit.ends_with(['B', 'b']) {
        return Err(format!(
            "invalid size {s:?}: write the unit with its B (KiB, MiB, GiB binary; KB, MB, GB \
             decimal)"
        ));
    }
    let size: bytesize::ByteSize = t
        .parse()
        .map_err(|e| format!("invalid size {s:?} (e.g. 4096, 512KiB, 8MiB, 100MB): {e}"))?;
    // bytesize saturates instead of failing on overflow.
    if size.as_u64() == u64::MAX {
        return Err(format!("size {s:?} is too large"));
    }
    Ok(size.as_u64())
}

/// Parses a duration: `250ms`, `1.5s`, `1m`, `2h`, `7d`, `1h 30m`, or a bare number in the
/// unit `bare` names.
///
/// ```
/// use box_emulator::units::{parse_duration, Bare};
/// use std::time::Duration;
/// assert_eq!(parse_duration("1h", Bare::Secs), Ok(Duration::from_secs(3600)));
/// assert_eq!(parse_duration("40", Bare::Millis), Ok(Duration::from_millis(40)));
/// ```
pub fn parse_duration(s: &str, bare: Bare) -> Result<Duration, String> {
    let t = s.trim();
    if let Ok(n) = t.parse::<u64>() {
        return Ok(match bare {
            Bare::Secs => Duration::from_secs(n),
            Bare::Millis => Duration::from_millis(n),
        });
    }
    humantime::parse_duration(t)
        .map_err(|e| format!("invalid duration {s:?} (e.g. 250ms, 2s, 1m, 1h, 7d): {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        for (text, bytes) in [
            ("0", 0),
            ("4096", 4096),
            ("1048576", 1 << 20),
            ("1KiB", 1024),
            ("1.5KiB", 1536),
            ("500KiB", 500 * 1024),
            ("1MiB", 1 << 20),
            ("8MiB", 8 << 20),
            ("8 MiB", 8 << 20),
            ("1GiB", 1 << 30),
            ("64mib", 64 << 20),
            ("10KB", 10_000),
            ("10kB", 10_000),
            ("10MB", 10_000_000),
            ("1GB", 1_000_000_000),
            ("12B", 12),
            (" 7MiB ", 7 << 20),
        ] {
            assert_eq!(parse_size(text), Ok(bytes), "{text}");
        }
        for bad in [
            "", "x", "-1", "-1MiB", "10M", "1G", "1Gi", "12XiB", "1.2.3MiB", "MiB", "99999EiB",
        ] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn durations() {
        let secs = |s: &str| parse_duration(s, Bare::Secs);
        let ms = |s: &str| parse_duration(s, Bare::Millis);
        // `1h` is an hour whoever reads it (two hand-written parsers once disagreed).
        assert_eq!(secs("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(ms("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(secs("7d"), Ok(Duration::from_secs(7 * 86_400)));
        assert_eq!(secs("60m"), Ok(Duration::from_secs(3600)));
        assert_eq!(secs("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(secs("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(secs("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(secs("1h 30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(secs("0s"), Ok(Duration::ZERO));
        assert_eq!(secs("30"), Ok(Duration::from_secs(30)));
        assert_eq!(ms("30"), Ok(Duration::from_millis(30)));
        assert_eq!(ms(" 40ms "), Ok(Duration::from_millis(40)));
        for bad in ["", "x", "-5ms", "5 parsecs", "1.5", "s"] {
            assert!(secs(bad).is_err(), "{bad}");
        }
    }
}
