//! `PUT /files/upload_sessions/{id}`: one part, streamed to disk and hashed as it arrives.
//! <https://developer.box.com/reference/put-files-upload-sessions-id/>
//!
//! Parts are immutable: a range already stored (or being stored) is refused before the body
//! is read. The body goes straight into the part's region of the session's data file when
//! this request owns the region (the usual case), else into a temporary file that is copied
//! into place once the part is known good and reserved (see [`super::region`]).

use super::hash_ahead;
use super::headers::{part_digest_header, part_slot, size_mismatch, PartDigests, PartSlot};
use super::region::{overlap_error, taken_over, RegionOwner, RegionWriter, Reservation};
use crate::api::gate::Faults;
use crate::api::request::{body_error, header_str};
use crate::api::response::json_response;
use crate::api::{ApiResult, AppState};
use crate::auth::Caller;
use crate::body::BodyStream;
use crate::config::FaultConfig;
use crate::error::ApiError;
use crate::state::{
    copy_at, io_err, lock, part_fault, write_json_atomic, PartFault, PartRecord, Region, Session,
    Shared, TempPath,
};
use crate::util;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use serde_json::json;
use sha1::{Digest as _, Sha1};
use std::sync::Arc;
use tokio::io::AsyncWriteExt as _;

/// Stores one part; answers 200 with `{"part": UploadPart}`.
pub(crate) async fn upload_part(
    State(st): AppState,
    Path(sid): Path<String>,
    caller: Caller,
    faults: Faults,
    headers: HeaderMap,
    mut body: BodyStream,
) -> ApiResult {
    require_length(&headers)?;
    let session = st.owned_session(&sid, &caller)?;
    let (file_size, part_size, seq) = {
        let inner = lock(&session.inner);
        inner.check_live()?;
        (inner.meta.file_size, inner.meta.part_size, inner.meta.seq)
    };
    let expected = part_digest_header(header_str(&headers, "digest"))?;
    let slot = part_slot(
        header_str(&headers, "content-range"),
        header_str(&headers, "content-length"),
        file_size,
        part_size,
    )?;
    let claim = claim(&st, &session, &faults, seq, slot.index)?;
    let fault = claim.fault;
    if fault == PartFault::ResetMidBody {
        st.count_part_fault(fault);
        read_half(&st, &mut body, slot.size).await;
        return Err(faults.drop_connection().await);
    }
    let want_sha512 = expected.sha512.is_some();
    let (held, actual) = receive(&st, &session, slot, claim.sink, want_sha512, &mut body).await?;
    check_digests(&expected, &actual)?;
    let rec = PartRecord {
        part_id: st.part_id(seq, slot.index),
        offset: slot.first,
        size: slot.size,
        sha1: util::hex(&actual.sha1),
        sha512: actual.sha512.map(|d| util::hex(&d)),
        sha1_state: None,
    };
    store(&st, &session, slot, &rec, held, claim.region).await?;
    hash_ahead::kick(&st, &session);
    match fault {
        PartFault::Fail500After => {
            st.count_part_fault(fault);
            Err(ApiError::internal("Internal Server Error"))
        }
        PartFault::DropAfter => {
            st.count_part_fault(fault);
            Err(faults.drop_connection().await)
        }
        _ => Ok(json_response(StatusCode::OK, json!({"part": rec.json()}))),
    }
}

/// Checks the part received against each digest its header carried.
///
/// Box documents a 412 for a part upload only as "a precondition was not met", and names no
/// status for a part whose bytes do not match its `digest` header; the emulator answers such
/// a part with 412 precondition_failed, the closest documented status
/// (https://developer.box.com/reference/put-files-upload-sessions-id/), for either digest.
fn check_digests(expected: &PartDigests, actual: &Received) -> Result<(), ApiError> {
    let mismatch = |alg: &str, want: &[u8], got: &[u8]| {
        ApiError::new(
            StatusCode::PRECONDITION_FAILED,
            "precondition_failed",
            format!(
                "The digest header ({alg}={}) does not match the part received ({alg}={})",
                util::b64(want),
                util::b64(got)
            ),
        )
    };
    if let Some(want) = expected.sha1 {
        let got = actual.sha1;
        if want != got {
            return Err(mismatch("sha", &want, &got));
        }
    }
    if let (Some(want), Some(got)) = (expected.sha512, actual.sha512) {
        if want != got {
            return Err(mismatch("sha-512", &want, &got));
        }
    }
    Ok(())
}

/// Box's common errors: `411 length_required`, "content-length header was required, but
/// not provided." That is a part with no body framing at all: neither `content-length` nor
/// `transfer-encoding` (so, to HTTP/1.1, an empty body). A chunked part
/// (`transfer-encoding: chunked`, no content-length) is accepted, as Box accepts it: Box's
/// own Node SDK (box-node-sdk 10, `uploadFilePart` and `uploadBigFile`, run against Box in
/// its integration tests) sends every part as a Node stream, which fetch sends chunked.
/// Box documents no order between this and the session checks; it is checked first, as a
/// front end would.
fn require_length(headers: &HeaderMap) -> Result<(), ApiError> {
    if headers.get(header::CONTENT_LENGTH).is_none()
        && headers.get(header::TRANSFER_ENCODING).is_none()
    {
        return Err(ApiError::new(
            StatusCode::LENGTH_REQUIRED,
            "length_required",
            "content-length header was required, but not provided.",
        ));
    }
    Ok(())
}

/// What the part's attempt got under the session lock: its fault, its region, and where its
/// body goes.
struct Claim {
    fault: PartFault,
    region: Arc<Region>,
    sink: SinkKind,
}

/// Where a part's body goes while it is received.
enum SinkKind {
    /// Into its region (this request owns it).
    Direct(RegionOwner),
    /// Into a temporary file (another request owns the region).
    Temp,
    /// Nowhere (a 500-before fault: the part is never stored).
    Discard,
}

/// Counts the attempt, draws its fault and takes the part's region if nobody owns it, under
/// the session lock, after checking that the part is neither stored nor reserved: a request
/// that gets the region knows the part was neither then; only a request that reserves the
/// part can take the region from it (see [`Region`]).
fn claim(
    st: &Shared,
    session: &Session,
    faults: &FaultConfig,
    seq: u64,
    index: u64,
) -> Result<Claim, ApiError> {
    let mut inner = lock(&session.inner);
    inner.check_live()?;
    if let Some(existing) = inner.part_at(index) {
        return Err(overlap_error(existing));
    }
    let a = inner.attempts.entry(index).or_default();
    *a = a.saturating_add(1);
    let attempt = *a;
    let fault = part_fault(st.config.seed, faults, seq, index, attempt);
    let region = inner.regions.entry(index).or_default().clone();
    let sink = match fault {
        PartFault::ResetMidBody => SinkKind::Discard,
        PartFault::Fail500Before => SinkKind::Discard,
        _ => match RegionOwner::try_take(&region) {
            Some(owner) => SinkKind::Direct(owner),
            None => SinkKind::Temp,
        },
    };
    Ok(Claim {
        fault,
        region,
        sink,
    })
}

/// Reads about half of the body (counting its bytes) before the connection is reset.
async fn read_half(st: &Shared, body: &mut BodyStream, size: u64) {
    let half = size / 2;
    while body.bytes_read() < half {
        match body.next_chunk().await {
            Ok(Some(chunk)) => st.counters().file_bytes_received += chunk.len() as u64,
            _ => break,
        }
    }
}

/// The digests of a part received: the SHA-1 always, the SHA-512 when asked for.
struct Received {
    sha1: [u8; 20],
    sha512: Option<[u8; 64]>,
}

/// A received part that passed its size checks: already in its region (still owned), or
/// still in a temporary file.
enum Placement {
    Written(RegionOwner),
    Pending(TempPath),
}

/// The sink a body is being written to.
enum Sink {
    Direct(RegionWriter),
    Temp(TempPath, tokio::io::BufWriter<tokio::fs::File>),
    Discard,
}

/// Receives the body into its sink, hashing it: `400 request_size_mismatch` if it is longer
/// (cut off at once, the connection closed) or shorter than the part; the injected
/// 500-before once it is read. Returns where the bytes are and their SHA-1, and their SHA-512
/// when `want_sha512` (only a part whose header carried one pays for it).
async fn receive(
    st: &Shared,
    session: &Session,
    slot: PartSlot,
    kind: SinkKind,
    want_sha512: bool,
    body: &mut BodyStream,
) -> Result<(Placement, Received), ApiError> {
    let size = slot.size;
    let mut sink = match kind {
        SinkKind::Direct(owner) => {
            Sink::Direct(RegionWriter::start(session.data_path(), slot.first, owner))
        }
        SinkKind::Discard => Sink::Discard,
        SinkKind::Temp => {
            let tmp = st.temp_path();
            let f = tokio::fs::File::create(tmp.path())
                .await
                .map_err(io_err("creating temporary file"))?;
            Sink::Temp(tmp, tokio::io::BufWriter::with_capacity(256 * 1024, f))
        }
    };
    let mut hasher = Sha1::new();
    let mut hasher512 = want_sha512.then(|| ring::digest::Context::new(&ring::digest::SHA512));
    let mut received = 0u64;
    while let Some(chunk) = body.next_chunk().await.map_err(body_error)? {
        received += chunk.len() as u64;
        st.counters().file_bytes_received += chunk.len() as u64;
        if received > size {
            // Cut off: the rest is neither read nor buffered; the connection is closed.
            return Err(size_mismatch(format!(
                "The body is longer than the {size} bytes given by content-range"
            ))
            .closing());
        }
        hasher.update(&chunk);
        if let Some(h) = &mut hasher512 {
            h.update(&chunk);
        }
        match &mut sink {
            Sink::Direct(w) => w.send(chunk).await,
            Sink::Temp(_, w) => w
                .write_all(&chunk)
                .await
                .map_err(io_err("writing temporary file"))?,
            Sink::Discard => {}
        }
    }
    if received < size {
        return Err(size_mismatch(format!(
            "The body has {received} bytes but content-range says {size}"
        )));
    }
    // Every byte written (or flushed) before the part is judged; the region stays owned.
    let placement = match sink {
        Sink::Direct(w) => match w.finish().await? {
            Some(owner) => Placement::Written(owner),
            None => return Err(taken_over(session, slot.index)),
        },
        Sink::Temp(tmp, mut w) => {
            w.flush().await.map_err(io_err("writing temporary file"))?;
            Placement::Pending(tmp)
        }
        Sink::Discard => {
            // Only the 500-before fault discards a body.
            st.count_part_fault(PartFault::Fail500Before);
            return Err(ApiError::internal("Internal Server Error"));
        }
    };
    let sha512 = hasher512.and_then(|h| <[u8; 64]>::try_from(h.finish().as_ref()).ok());
    Ok((
        placement,
        Received {
            sha1: util::sha1_finish(hasher),
            sha512,
        },
    ))
}

/// Stores a good part: reserves it, puts its bytes in place if they are still in a temporary
/// file, saves its record, and counts it.
async fn store(
    st: &Shared,
    session: &Session,
    slot: PartSlot,
    rec: &PartRecord,
    held: Placement,
    region: Arc<Region>,
) -> Result<(), ApiError> {
    let reservation = Reservation::take(session, slot.index, rec)?;
    let _owner = match held {
        Placement::Written(owner) => owner,
        Placement::Pending(tmp) => copy_into_place(session, slot, tmp, region).await?,
    };
    if let Err(e) = write_json_atomic(&session.part_meta_path(slot.index), rec).await {
        if lock(&session.inner).gone {
            return Err(ApiError::session_not_found());
        }
        return Err(ApiError::io("storing part", e));
    }
    reservation.store(rec.clone())?;
    let mut c = st.counters();
    c.parts_stored += 1;
    c.part_bytes_stored += slot.size;
    c.bytes_stored += slot.size;
    Ok(())
}

/// Copies a part received in a temporary file into its region. The part is reserved, so it
/// takes the region over (a request still streaming into it, stalled or slow, is fenced out
/// and will not store its own); the copy owns the region, so a dropped request cannot free it
/// while the copy still writes to it.
async fn copy_into_place(
    session: &Session,
    slot: PartSlot,
    tmp: TempPath,
    region: Arc<Region>,
) -> Result<RegionOwner, ApiError> {
    let data = session.data_path();
    let src = tmp.path().to_path_buf();
    let PartSlot { first, size, .. } = slot;
    tokio::task::spawn_blocking(move || {
        let guard = RegionOwner::take_over(&region);
        let r = std::fs::File::open(&src).and_then(|s| {
            let d = std::fs::OpenOptions::new().write(true).open(&data)?;
            copy_at(&s, &d, first, size)
        });
        drop(tmp);
        r.map(|()| guard)
    })
    .await
    .map_err(|e| ApiError::internal(format!("Internal Server Error ({e})")))?
    .map_err(|e| {
        if lock(&session.inner).gone {
            ApiError::session_not_found()
        } else {
            ApiError::io("storing part", e)
        }
    })
}
