//! `POST /files/upload_sessions/{id}/plan`: which parts of a new version the file's current
//! version already holds (hits, each with the `part_id` a commit names it by) and which must
//! be uploaded (misses). Box's part-reuse operation, since September 2026; it is in neither
//! copy of Box's OpenAPI description (see `shared/box-upload-api.md`, section 15).
//!
//! A part is a hit when the current version was committed from a part with the same offset,
//! size and SHA-512. A part recorded without its SHA-512 (uploaded with `sha=` alone) is
//! hashed from the version's content in the background as soon as the version is stored, and
//! the SHA-512 kept on the version's part record; a plan that comes before waits for, or
//! computes, only the parts it asks about (see `state::part_sha512`). The hits are copied into
//! the session's file in the background at once ([`super::prefill`]), and the hash ahead of
//! the commit may cover them at once ([`super::hash_ahead`]).

use super::hash_ahead;
use super::prefill::{self, Hit};
use crate::api::request::{body_error, json_value_count, parse_json_object, JSON_LIMIT};
use crate::api::response::json_response;
use crate::api::{ApiResult, AppState};
use crate::auth::Caller;
use crate::body::BodyStream;
use crate::error::ApiError;
use crate::state::{lock, PartRecord, PlanHit, SessionTarget, Shared};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::{json, Value};
use std::sync::Arc;

/// The most parts one plan may ask about. Box documents no limit; the emulator's is list
/// parts' page size. Asking about more is `413 request_entity_too_large` (a client splits the
/// batch), as is a body over [`JSON_LIMIT`] or over [`PLAN_MAX_VALUES`] JSON values.
pub(crate) const PLAN_MAX_PARTS: usize = 1000;

/// Room for [`PLAN_MAX_PARTS`] entries (four values each) and then some; more values than this
/// cannot be a plan within the limit.
const PLAN_MAX_VALUES: usize = PLAN_MAX_PARTS * 8 + 1000;

/// One part a plan asks about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Asked {
    pub offset: u64,
    pub size: u64,
    /// 128 lowercase hex digits.
    pub sha512: String,
}

/// Answers `{"upload_session_id", "hits": [{offset, size, sha512, part_id}], "misses":
/// [{offset, size, sha512}]}`, both lists in the order asked.
pub(crate) async fn plan(
    State(st): AppState,
    Path(sid): Path<String>,
    caller: Caller,
    mut body: BodyStream,
) -> ApiResult {
    let session = st.owned_session(&sid, &caller)?;
    let meta = {
        let inner = lock(&session.inner);
        inner.check_live()?;
        inner.meta.clone()
    };
    let SessionTarget::NewVersion { file_id, .. } = &meta.target else {
        // Box documents plan for a new version only (its SDKs call it from
        // `upload_big_file_version` alone) and says nothing of a new file's session, where
        // nothing can be a hit; the stricter answer refuses it.
        return Err(ApiError::bad_request(
            "A plan needs an upload session for a new version of an existing file \
             (POST /files/{file_id}/upload_sessions)",
        ));
    };
    let data = body.read_limited(JSON_LIMIT).await.map_err(body_error)?;
    let asked = parse_plan(&data, meta.file_size, meta.part_size)?;
    let (version_id, held) = held_parts(&st, file_id, &asked).await;
    let mut hits = Vec::new();
    let mut misses = Vec::new();
    let mut to_copy = Vec::new();
    let mut noted = Vec::new();
    for (a, h) in asked.iter().zip(held) {
        let index = a.offset / meta.part_size.max(1);
        match h {
            Some(part) => {
                hits.push(
                    json!({"offset": a.offset, "size": a.size, "sha512": a.sha512, "part_id": part.part_id}),
                );
                to_copy.push(Hit {
                    index,
                    offset: a.offset,
                    size: a.size,
                });
                noted.push((index, Some(part.sha1_state)));
            }
            None => {
                misses.push(json!({"offset": a.offset, "size": a.size, "sha512": a.sha512}));
                noted.push((index, None));
            }
        }
    }
    if let Some(v) = version_id {
        // The hits for the hash ahead, which may go on over them at once.
        {
            let mut inner = lock(&session.inner);
            for (index, hit) in noted {
                match hit {
                    Some(sha1_state) => inner.hits.insert(
                        index,
                        PlanHit {
                            version_id: v.clone(),
                            sha1_state,
                        },
                    ),
                    None => inner.hits.remove(&index),
                };
            }
        }
        hash_ahead::kick(&st, &session);
        prefill::start(st.clone(), session.clone(), v, to_copy);
    }
    {
        let mut c = st.counters();
        c.plan_requests += 1;
        c.plan_hits += hits.len() as u64;
        c.plan_misses += misses.len() as u64;
    }
    Ok(json_response(
        StatusCode::OK,
        json!({"upload_session_id": sid, "hits": hits, "misses": misses}),
    ))
}

/// File `file_id`'s current version, and for each part asked its identical part, if it has
/// one (a file gone meanwhile holds nothing: every part misses). The SHA-512s of the version's
/// parts are computed in the background once it is stored; this takes those ready, waits for
/// those being computed, and computes those not started (see `state::part_sha512`).
async fn held_parts(
    st: &Arc<Shared>,
    file_id: &str,
    asked: &[Asked],
) -> (Option<String>, Vec<Option<PartRecord>>) {
    // Candidates (same offset and size) and their SHA-512s, as the catalog holds them now.
    let (version_id, candidates, lookup) = {
        let catalog = st.catalog.lock().await;
        let Some(v) = catalog.files.get(file_id).and_then(|f| f.current()) else {
            return (None, vec![None; asked.len()]);
        };
        let candidates: Vec<Option<PartRecord>> = asked
            .iter()
            .map(|a| {
                v.parts
                    .binary_search_by_key(&a.offset, |p| p.offset)
                    .ok()
                    .map(|i| v.parts[i].clone())
                    .filter(|p| p.size == a.size)
            })
            .collect();
        let lookup = st.part_sha512s(&catalog, file_id, &v.id, &candidates);
        (v.id.clone(), candidates, lookup)
    };
    let sha512s = lookup.resolve(st).await;
    let held = asked
        .iter()
        .zip(candidates)
        .zip(sha512s)
        .map(|((a, c), h)| c.filter(|_| h.as_deref() == Some(a.sha512.as_str())))
        .collect();
    (Some(version_id), held)
}

/// `413 request_entity_too_large`: a plan asking about more than the emulator answers at once.
fn too_many(message: impl Into<String>) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "request_entity_too_large",
        message,
    )
}

/// Parses and checks a plan body against its session (`file_size`, `part_size`):
/// `{"parts": [{"offset", "size", "sha512"}, ...]}`, one part at least and at most
/// [`PLAN_MAX_PARTS`] (`413 request_entity_too_large` beyond). Every part must be one of the
/// session's parts: its offset a multiple of the part size inside the file, its size the part
/// size (the last part: what is left); its `sha512` 128 lowercase hex digits. Anything else
/// is `400 bad_request` (Box documents no plan-specific error codes).
pub(crate) fn parse_plan(
    data: &[u8],
    file_size: u64,
    part_size: u64,
) -> Result<Vec<Asked>, ApiError> {
    if json_value_count(data) > PLAN_MAX_VALUES {
        return Err(too_many(format!(
            "A plan may ask about at most {PLAN_MAX_PARTS} parts"
        )));
    }
    let mut m = parse_json_object(data, PLAN_MAX_VALUES)?;
    let list = match m.remove("parts") {
        None | Some(Value::Null) => {
            return Err(ApiError::bad_request("The parts field is required"))
        }
        Some(Value::Array(a)) => a,
        Some(_) => return Err(ApiError::bad_request("The parts field must be an array")),
    };
    if list.is_empty() {
        return Err(ApiError::bad_request(
            "The parts field must list at least one part",
        ));
    }
    if list.len() > PLAN_MAX_PARTS {
        return Err(too_many(format!(
            "A plan may ask about at most {PLAN_MAX_PARTS} parts; this one asks about {}",
            list.len()
        )));
    }
    let part_size = part_size.max(1);
    list.iter()
        .enumerate()
        .map(|(i, p)| {
            let bad = |what: &str| ApiError::bad_request(format!("parts[{i}] {what}"));
            let obj = p.as_object().ok_or_else(|| bad("is not an object"))?;
            let num = |key: &str| {
                obj.get(key)
                    .and_then(Value::as_u64)
                    .filter(|n| *n <= i64::MAX as u64)
                    .ok_or_else(|| bad(&format!("needs {key}, a non-negative integer")))
            };
            let offset = num("offset")?;
            let size = num("size")?;
            let sha512 = obj
                .get("sha512")
                .and_then(Value::as_str)
                .filter(|s| is_sha512_hex(s))
                .ok_or_else(|| bad("needs sha512, 128 lowercase hex digits"))?;
            if offset % part_size != 0 || offset >= file_size {
                return Err(bad(&format!(
                    "offset {offset} is not the start of a part (a multiple of the part size \
                     {part_size} below the file size {file_size})"
                )));
            }
            let expected = part_size.min(file_size - offset);
            if size != expected {
                return Err(bad(&format!(
                    "size {size} is not the size of the part at offset {offset} ({expected})"
                )));
            }
            Ok(Asked {
                offset,
                size,
                sha512: sha512.to_string(),
            })
        })
        .collect()
}

/// 128 lowercase hex digits. Box's SDKs send lowercase; uppercase is refused (the stricter
/// reading of "128 lowercase hex").
pub(crate) fn is_sha512_hex(s: &str) -> bool {
    s.len() == 128 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sha() -> String {
        "ab".repeat(64)
    }

    fn entry(offset: u64, size: u64) -> Value {
        json!({"offset": offset, "size": size, "sha512": sha()})
    }

    fn parse(body: Value) -> Result<Vec<Asked>, (u16, String)> {
        // A 2500-byte file in 1000-byte parts: 0, 1000 and the 500-byte 2000.
        parse_plan(body.to_string().as_bytes(), 2500, 1000)
            .map_err(|e| (e.status.as_u16(), e.code.to_string()))
    }

    #[test]
    fn parts_that_fit_the_session_are_accepted_in_order() {
        let got = parse(json!({"parts": [entry(2000, 500), entry(0, 1000)]})).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(
            got[0],
            Asked {
                offset: 2000,
                size: 500,
                sha512: sha()
            }
        );
        assert_eq!(got[1].offset, 0);
    }

    #[test]
    fn malformed_and_misfit_parts_are_400() {
        let bad = |e: Value| {
            assert_eq!(
                parse(json!({"parts": [e.clone()]})),
                Err((400, "bad_request".to_string())),
                "{e}"
            )
        };
        bad(entry(500, 1000)); // not aligned
        bad(entry(1000, 999)); // not the part's size
        bad(entry(2000, 1000)); // the last part is 500 bytes
        bad(entry(3000, 1000)); // past the end
        bad(json!({"offset": 0, "size": 1000})); // no sha512
        bad(json!({"offset": 0, "size": 1000, "sha512": "AB".repeat(64)})); // uppercase
        bad(json!({"offset": 0, "size": 1000, "sha512": "ab".repeat(63)})); // short
        bad(json!({"offset": -1, "size": 1000, "sha512": sha()}));
        bad(json!({"size": 1000, "sha512": sha()}));
        bad(json!("part"));
        for body in [json!({}), json!({"parts": []}), json!({"parts": {}})] {
            assert_eq!(parse(body), Err((400, "bad_request".to_string())));
        }
    }

    #[test]
    fn too_many_parts_are_413() {
        let many = |n: usize| json!({"parts": vec![entry(0, 1000); n]});
        assert_eq!(
            parse(many(PLAN_MAX_PARTS)).map(|v| v.len()),
            Ok(PLAN_MAX_PARTS)
        );
        for n in [PLAN_MAX_PARTS + 1, PLAN_MAX_PARTS * 3] {
            assert_eq!(
                parse(many(n)),
                Err((413, "request_entity_too_large".to_string()))
            );
        }
    }
}
