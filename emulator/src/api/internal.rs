//! `/_emulator/*`: counters, faults and token controls for tests that drive the binary. No
//! authentication.

use super::request::{body_error, parse_json_object, JSON_MAX_VALUES};
use super::response::json_response;
use super::{ApiResult, AppState};
use crate::body::BodyStream;
use crate::config::FaultConfig;
use crate::counters::Counters;
use crate::error::ApiError;
use crate::net::{Net, NetConfig};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Extension;
use serde_json::{json, Value};
use std::sync::Arc;

pub(crate) async fn counters(axum::extract::State(st): AppState) -> Response {
    let c = st.counters().clone();
    json_response(StatusCode::OK, serde_json::to_value(c).unwrap_or_default())
}

pub(crate) async fn reset_counters(axum::extract::State(st): AppState) -> Response {
    *st.counters() = Counters::default();
    StatusCode::NO_CONTENT.into_response()
}

pub(crate) async fn get_faults(axum::extract::State(st): AppState) -> Response {
    json_response(
        StatusCode::OK,
        serde_json::to_value(st.faults()).unwrap_or_default(),
    )
}

/// `PUT /_emulator/faults` with a JSON [`FaultConfig`] (missing fields take their
/// defaults, i.e. no fault) replaces the fault settings.
pub(crate) async fn put_faults(
    axum::extract::State(st): AppState,
    mut body: BodyStream,
) -> ApiResult {
    let data = body.read_limited(64 * 1024).await.map_err(body_error)?;
    let f: FaultConfig = serde_json::from_slice(&data)
        .map_err(|e| ApiError::bad_request(format!("Invalid fault config: {e}")))?;
    let f = f
        .validated()
        .map_err(|e| ApiError::bad_request(format!("Invalid fault config: {e}")))?;
    st.set_faults(f);
    Ok(json_response(
        StatusCode::OK,
        serde_json::to_value(st.faults()).unwrap_or_default(),
    ))
}

/// `POST /_emulator/expire-tokens`: invalidates every access token issued so far (the
/// `expire-tokens` action, at once). Answers `{"invalidated": N}`, the number that were in
/// force.
pub(crate) async fn expire_tokens(axum::extract::State(st): AppState) -> Response {
    let n = st.expire_tokens();
    json_response(StatusCode::OK, json!({ "invalidated": n }))
}

/// `POST /_emulator/refresh-tokens` with `{"user_id": "ID"}`: mints a refresh token for a
/// configured user and answers 201 `{"refresh_token": "...", "user_id": "ID"}`.
pub(crate) async fn mint_refresh_token(
    axum::extract::State(st): AppState,
    mut body: BodyStream,
) -> ApiResult {
    let data = body.read_limited(64 * 1024).await.map_err(body_error)?;
    let m = parse_json_object(&data, JSON_MAX_VALUES)?;
    let user = m
        .get("user_id")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::bad_request("Expected {\"user_id\": \"ID\"}"))?;
    let token = st.mint_refresh_token(user).ok_or_else(|| {
        ApiError::bad_request(format!("{user:?} is not a configured user (--user)"))
    })?;
    Ok(json_response(
        StatusCode::CREATED,
        json!({ "refresh_token": token, "user_id": user }),
    ))
}

/// `POST /_emulator/token-clock` with `{"advance_secs": N}`: moves the clock that access and
/// refresh token lifetimes are measured on N seconds forward. Answers
/// `{"offset_secs": TOTAL}`.
pub(crate) async fn advance_token_clock(
    axum::extract::State(st): AppState,
    mut body: BodyStream,
) -> ApiResult {
    let data = body.read_limited(64 * 1024).await.map_err(body_error)?;
    let m = parse_json_object(&data, JSON_MAX_VALUES)?;
    let secs = m
        .get("advance_secs")
        .and_then(Value::as_u64)
        .ok_or_else(|| ApiError::bad_request("Expected {\"advance_secs\": N}"))?;
    let total = st.advance_token_clock(std::time::Duration::from_secs(secs));
    Ok(json_response(
        StatusCode::OK,
        json!({ "offset_secs": total.as_secs() }),
    ))
}

/// `GET /_emulator/net`: the network shaping in force, as
/// `{"rtt_ms", "conn_bytes_per_sec", "link_bytes_per_sec", "server_ms"}` (null: unlimited).
pub(crate) async fn get_net(Extension(net): Extension<Arc<Net>>) -> Response {
    json_response(
        StatusCode::OK,
        serde_json::to_value(net.config()).unwrap_or_default(),
    )
}

/// `PUT /_emulator/net` with a JSON [`NetConfig`] (missing or null fields: unlimited)
/// replaces the network shaping for requests that start from now on; answers it.
pub(crate) async fn put_net(
    Extension(net): Extension<Arc<Net>>,
    mut body: BodyStream,
) -> ApiResult {
    let data = body.read_limited(64 * 1024).await.map_err(body_error)?;
    let bad = |e: String| ApiError::bad_request(format!("Invalid network config: {e}"));
    let v: Value = serde_json::from_slice(&data).map_err(|e| bad(e.to_string()))?;
    if !v.is_object() {
        return Err(bad("expected a JSON object".into()));
    }
    let c: NetConfig = serde_json::from_value(v).map_err(|e| bad(e.to_string()))?;
    net.set_config(c.validated().map_err(bad)?);
    Ok(json_response(
        StatusCode::OK,
        serde_json::to_value(net.config()).unwrap_or_default(),
    ))
}
