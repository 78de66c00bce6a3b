//! Small helpers: a seeded PRNG, hashing, header parsing, name rules, time formatting.

use base64::Engine as _;
use chrono::{DateTime, Datelike as _, SecondsFormat, Utc};
use sha1::{Digest as _, Sha1};

/// One step of splitmix64: a fast, well-mixed 64-bit hash/PRNG (public domain, Vigna).
pub(crate) fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// Deterministic hash of a few numbers, used to make fault decisions reproducible from a seed.
pub(crate) fn mix(words: &[u64]) -> u64 {
    let mut h = 0x005E_ED0F_B0C5_u64;
    for w in words {
        h = splitmix64(h ^ splitmix64(*w));
    }
    h
}

/// Maps a hash to a float in [0, 1).
pub(crate) fn unit_float(h: u64) -> f64 {
    (h >> 11) as f64 / (1u64 << 53) as f64
}

/// Hex (lowercase) of a SHA-1 digest.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(HEX[(b >> 4) as usize] as char);
        s.push(HEX[(b & 15) as usize] as char);
    }
    s
}

/// Parses 40 hex characters into 20 bytes.
pub(crate) fn parse_hex_sha1(s: &str) -> Option<[u8; 20]> {
    let s = s.trim();
    if s.len() != 40 {
        return None;
    }
    let mut out = [0u8; 20];
    for (i, chunk) in s.as_bytes().chunks(2).enumerate() {
        let hi = (chunk[0] as char).to_digit(16)?;
        let lo = (chunk[1] as char).to_digit(16)?;
        out[i] = (hi * 16 + lo) as u8;
    }
    Some(out)
}

pub(crate) fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

pub(crate) fn sha1_finish(h: Sha1) -> [u8; 20] {
    h.finalize().into()
}

/// Why a `digest` header was refused.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum DigestError {
    NoSha,
    BadBase64,
}

/// Parses an RFC 3230 `digest` header and returns the SHA-1 it carries.
///
/// Box: `digest: sha=<base64 of the raw 20-byte SHA-1>`; only SHA-1 is supported. The
/// algorithm name is matched case-insensitively (`sha=`, `SHA=`), and a list of several
/// digests (`sha=...,md5=...`) is accepted as RFC 3230 allows.
pub(crate) fn parse_digest_header(value: &str) -> Result<[u8; 20], DigestError> {
    for item in value.split(',') {
        let item = item.trim();
        let Some((alg, val)) = item.split_once('=') else {
            continue;
        };
        if !alg.trim().eq_ignore_ascii_case("sha") {
            continue;
        }
        let val = val.trim();
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(val)
            .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(val))
            .map_err(|_| DigestError::BadBase64)?;
        return <[u8; 20]>::try_from(decoded.as_slice()).map_err(|_| DigestError::BadBase64);
    }
    Err(DigestError::NoSha)
}

/// A parsed `content-range: bytes <first>-<last>/<total>` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ContentRange {
    pub first: u64,
    pub last: u64,
    pub total: u64,
}

/// Parses `bytes a-b/total` strictly (digits only, no overflow, `a <= b < total`).
pub(crate) fn parse_content_range(value: &str) -> Option<ContentRange> {
    let rest = value.trim();
    let (unit, rest) = rest.split_once(' ')?;
    if !unit.eq_ignore_ascii_case("bytes") {
        return None;
    }
    let (range, total) = rest.trim().split_once('/')?;
    let (first, last) = range.split_once('-')?;
    let first = parse_u64_digits(first)?;
    let last = parse_u64_digits(last)?;
    let total = parse_u64_digits(total)?;
    if first > last || last >= total {
        return None;
    }
    Some(ContentRange { first, last, total })
}

/// Parses a non-empty string of ASCII digits without overflow (at most 19 digits keeps it
/// inside `i64`, which is what Box's int64 fields allow).
pub(crate) fn parse_u64_digits(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 19 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Why a file name breaks Box's rules: at most 255 characters (`item_name_too_long`); no
/// non-printable characters, no `/` or `\`, no leading or trailing spaces, and not `.` or
/// `..` (`item_name_invalid`).
/// <https://developer.box.com/guides/api-calls/permissions-and-errors/common-errors/>
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum NameProblem {
    TooLong,
    Invalid(&'static str),
}

pub(crate) fn check_file_name(name: &str) -> Result<(), NameProblem> {
    if name.chars().count() > 255 {
        return Err(NameProblem::TooLong);
    }
    if name.is_empty() {
        return Err(NameProblem::Invalid("Names must not be empty"));
    }
    if name == "." || name == ".." {
        return Err(NameProblem::Invalid("Names '.' and '..' are not allowed"));
    }
    if name.starts_with(' ') || name.ends_with(' ') {
        return Err(NameProblem::Invalid(
            "Names must not start or end with spaces",
        ));
    }
    if name.contains('/') || name.contains('\\') {
        return Err(NameProblem::Invalid("Names must not contain '/' or '\\'"));
    }
    if name.chars().any(char::is_control) {
        return Err(NameProblem::Invalid(
            "Names must not contain non-printable characters",
        ));
    }
    // Since 2020 the common-errors guide also lists `<`, `>`, `:`, `|`, `?`, `*` and `-`.
    // Hyphens are normal in Box names (that entry looks like a documentation error), and the
    // rule in Box's API reference (non-printable, `/`, `\`, leading/trailing spaces, `.`,
    // `..`) does not include the others, so they are accepted here too.
    Ok(())
}

/// Case-insensitive key for name uniqueness within a folder ("New File" == "new file").
pub(crate) fn name_key(name: &str) -> String {
    name.to_lowercase()
}

pub(crate) fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, false)
}

/// Parses an RFC 3339 date-time from a client. One whose UTC year falls outside 0000 to
/// 9999 (`9999-12-31T23:59:59-01:00`) is refused: it could not be answered as RFC 3339.
pub(crate) fn parse_rfc3339(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
        .filter(|t| (0..=9999).contains(&t.year()))
}

/// Strips quotes and a weak marker from an etag as sent in `if-match` (`"1"`, `W/"1"`).
pub(crate) fn etag_matches(header: &str, etag: &str) -> bool {
    header.split(',').any(|candidate| {
        let c = candidate.trim();
        let c = c.strip_prefix("W/").unwrap_or(c);
        let c = c.trim_matches('"');
        c == "*" || c == etag
    })
}

/// Ids generated by the server are the only things that become file names on disk; this
/// check keeps anything else (a client-supplied id) from ever reaching a path.
pub(crate) fn is_safe_id(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric())
}

pub(crate) fn is_numeric_id(s: &str) -> bool {
    !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit())
}

/// Compares two secrets in time that does not depend on where they differ.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_range_rules() {
        assert_eq!(
            parse_content_range("bytes 0-9/10"),
            Some(ContentRange {
                first: 0,
                last: 9,
                total: 10
            })
        );
        assert_eq!(parse_content_range("bytes 5-4/10"), None);
        assert_eq!(parse_content_range("bytes 0-10/10"), None);
        assert_eq!(parse_content_range("bytes 0-9/*"), None);
        assert_eq!(parse_content_range("bytes -1-9/10"), None);
        assert_eq!(parse_content_range("bytes 0-99999999999999999999/1"), None);
        assert_eq!(parse_content_range("items 0-9/10"), None);
    }

    #[test]
    fn digest_header() {
        let d = [0u8; 20];
        let v = format!("sha={}", b64(&d));
        assert_eq!(parse_digest_header(&v), Ok(d));
        assert_eq!(parse_digest_header(&v.replace("sha", "SHA")), Ok(d));
        assert_eq!(parse_digest_header(&format!("md5=abc, {v}")), Ok(d));
        assert_eq!(parse_digest_header("md5=abc"), Err(DigestError::NoSha));
        assert_eq!(parse_digest_header("sha=!!"), Err(DigestError::BadBase64));
        assert_eq!(parse_digest_header("sha=AAAA"), Err(DigestError::BadBase64));
    }

    #[test]
    fn names() {
        assert!(check_file_name("a-b.txt").is_ok());
        assert!(check_file_name("what?.txt").is_ok());
        assert_eq!(check_file_name(&"a".repeat(256)), Err(NameProblem::TooLong));
        assert!(check_file_name(&"é".repeat(255)).is_ok());
        for bad in [
            "", ".", "..", " a", "a ", "a/b", "a\\b", "a\u{1}b", "a\u{7f}",
        ] {
            assert!(
                matches!(check_file_name(bad), Err(NameProblem::Invalid(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn etags() {
        assert!(etag_matches("1", "1"));
        assert!(etag_matches("\"1\"", "1"));
        assert!(etag_matches("W/\"1\"", "1"));
        assert!(!etag_matches("2", "1"));
    }

    #[test]
    fn hex_roundtrip() {
        let d: [u8; 20] = core::array::from_fn(|i| i as u8 * 13);
        assert_eq!(parse_hex_sha1(&hex(&d)), Some(d));
        assert_eq!(parse_hex_sha1(&hex(&d).to_uppercase()), Some(d));
        assert_eq!(parse_hex_sha1("zz"), None);
    }
}
