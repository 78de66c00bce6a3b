//! The headers of a part upload and a commit: `digest` (the SHA-1 of the whole file; the
//! SHA-1, the SHA-512 or both of a part) and a part's `content-range` and `content-length`,
//! checked against its session.

use crate::error::ApiError;
use crate::util::{self, DigestError};
use axum::http::StatusCode;

/// A 416 for a `content-range` that does not fit the session.
///
/// Box's reference for a part upload documents a 416 for a content range that does not match
/// a range the session expects, without naming an error code
/// (<https://developer.box.com/reference/put-files-upload-sessions-id/>);
/// `range_not_satisfiable` is the emulator's choice, used for syntax, alignment, size and
/// total errors alike.
fn range_error(message: impl Into<String>) -> ApiError {
    ApiError::new(
        StatusCode::RANGE_NOT_SATISFIABLE,
        "range_not_satisfiable",
        message,
    )
}

/// `400 request_size_mismatch`: the body's length is not the one announced.
pub(crate) fn size_mismatch(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "request_size_mismatch", message)
}

/// Parses the value of a required `digest` header (`sha=<base64 SHA-1 of the {what}>`):
/// `400 bad_request` if it is missing, carries no SHA-1 or is not the base64 of 20 bytes.
pub(crate) fn digest_header(value: Option<&str>, what: &str) -> Result<[u8; 20], ApiError> {
    let v = value.ok_or_else(|| {
        ApiError::bad_request(format!(
            "Missing required header 'digest' (sha=<base64 SHA-1 of the {what}>)"
        ))
    })?;
    util::parse_digest_header(v).map_err(|e| {
        ApiError::bad_request(match e {
            DigestError::NoSha => {
                format!("The digest header must carry a SHA-1: sha=<base64 SHA-1 of the {what}>")
            }
            DigestError::BadBase64 => {
                "The digest header's sha value is not the base64 of a 20-byte SHA-1".to_string()
            }
        })
    })
}

/// The digests a part's `digest` header carries: at least one of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PartDigests {
    /// `sha=<base64 SHA-1>`.
    pub sha1: Option<[u8; 20]>,
    /// `sha-512=<base64 SHA-512>` (RFC 5843), which Box accepts on parts since 2026.
    pub sha512: Option<[u8; 64]>,
}

/// Parses a part's required `digest` header: RFC 3230 instance digests, comma separated,
/// algorithm names matched case-insensitively; `sha=` (SHA-1), `sha-512=` (SHA-512) or both;
/// other algorithms are ignored. `400 bad_request` if it is missing, carries neither, or a
/// value is not the base64 of a digest of the right length.
pub(crate) fn part_digest_header(value: Option<&str>) -> Result<PartDigests, ApiError> {
    let v = value.ok_or_else(|| {
        ApiError::bad_request(
            "Missing required header 'digest' (sha=<base64 SHA-1 of the part> or \
             sha-512=<base64 SHA-512 of the part>)",
        )
    })?;
    let mut out = PartDigests {
        sha1: None,
        sha512: None,
    };
    for item in v.split(',') {
        let Some((alg, val)) = item.trim().split_once('=') else {
            continue;
        };
        let alg = alg.trim();
        if alg.eq_ignore_ascii_case("sha") {
            out.sha1 = Some(decode_digest(val, "sha", "a 20-byte SHA-1")?);
        } else if alg.eq_ignore_ascii_case("sha-512") {
            out.sha512 = Some(decode_digest(val, "sha-512", "a 64-byte SHA-512")?);
        }
    }
    if out.sha1.is_none() && out.sha512.is_none() {
        return Err(ApiError::bad_request(
            "The digest header must carry sha=<base64 SHA-1 of the part> or \
             sha-512=<base64 SHA-512 of the part>",
        ));
    }
    Ok(out)
}

/// The bytes of one base64 digest value (padded or not) of length `N`.
fn decode_digest<const N: usize>(val: &str, alg: &str, what: &str) -> Result<[u8; N], ApiError> {
    use base64::Engine as _;
    let val = val.trim();
    base64::engine::general_purpose::STANDARD
        .decode(val)
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(val))
        .ok()
        .and_then(|d| <[u8; N]>::try_from(d.as_slice()).ok())
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "The digest header's {alg} value is not the base64 of {what}"
            ))
        })
}

/// Where a part goes in its session, from its `content-range`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PartSlot {
    /// Offset of the first byte.
    pub first: u64,
    /// Length in bytes (the last part of a file may be short).
    pub size: u64,
    /// Part index (`first / part_size`).
    pub index: u64,
}

/// Checks a part's `content-range` (and `content-length`, when sent) against its session:
/// `400 bad_request` if the range is missing; `416 range_not_satisfiable` if it is not
/// `bytes <first>-<last>/<total>`, its total is not the file size, it does not start at a
/// multiple of the part size or is not exactly one part long; `400 request_size_mismatch`
/// if the `content-length` differs from the range's length.
pub(crate) fn part_slot(
    content_range: Option<&str>,
    content_length: Option<&str>,
    file_size: u64,
    part_size: u64,
) -> Result<PartSlot, ApiError> {
    let range_h = content_range.ok_or_else(|| {
        ApiError::bad_request(
            "Missing required header 'content-range' (bytes <first>-<last>/<total>)",
        )
    })?;
    let range = util::parse_content_range(range_h).ok_or_else(|| {
        range_error(format!(
            "Invalid content-range {range_h:?}: expected bytes <first>-<last>/<total> with first <= last < total"
        ))
    })?;
    if range.total != file_size {
        return Err(range_error(format!(
            "The content-range total {} does not match the session's file size {file_size}",
            range.total
        )));
    }
    let part_size = part_size.max(1);
    if range.first % part_size != 0 {
        return Err(range_error(format!(
            "The range must start at a multiple of the part size {part_size}"
        )));
    }
    let size = range.last - range.first + 1;
    let expected_size = part_size.min(file_size - range.first);
    if size != expected_size {
        return Err(range_error(format!(
            "Every part must be exactly {part_size} bytes except the last; this part must be {expected_size} bytes"
        )));
    }
    if let Some(cl) = content_length {
        if cl.trim().parse::<u64>().ok() != Some(size) {
            return Err(size_mismatch(format!(
                "The content-length {cl} does not match the content-range size {size}"
            )));
        }
    }
    Ok(PartSlot {
        first: range.first,
        size,
        index: range.first / part_size,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(bytes: &[u8]) -> String {
        util::b64(bytes)
    }

    #[test]
    fn a_part_digest_carries_sha1_sha512_or_both() {
        let s1 = [1u8; 20];
        let s5 = [5u8; 64];
        let parse = |v: &str| part_digest_header(Some(v)).map_err(|e| e.code);
        let both = PartDigests {
            sha1: Some(s1),
            sha512: Some(s5),
        };
        assert_eq!(
            parse(&format!("sha={}", b64(&s1))),
            Ok(PartDigests {
                sha1: Some(s1),
                sha512: None
            })
        );
        assert_eq!(
            parse(&format!("SHA-512={}", b64(&s5))),
            Ok(PartDigests {
                sha1: None,
                sha512: Some(s5)
            })
        );
        assert_eq!(
            parse(&format!("sha={}, sha-512={}", b64(&s1), b64(&s5))),
            Ok(both)
        );
        assert_eq!(
            parse(&format!("md5=xyz,sha-512={},sha={}", b64(&s5), b64(&s1))),
            Ok(both)
        );
        for bad in [
            "md5=AAAA".to_string(),
            "sha-256=AAAA".to_string(),
            "".to_string(),
            format!("sha-512={}", b64(&s1)),
            format!("sha={}", b64(&s5)),
            "sha-512=not base64!".to_string(),
        ] {
            assert_eq!(parse(&bad), Err("bad_request".to_string()), "{bad}");
        }
        assert_eq!(
            part_digest_header(None).map_err(|e| e.code),
            Err("bad_request".to_string())
        );
    }
}
