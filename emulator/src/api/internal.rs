//! `/_emulator/*`: counters and faults for tests that drive the binary. No authentication.

use super::{body_error, finish, json_response, AppState};
use crate::body::BodyStream;
use crate::config::FaultConfig;
use crate::counters::Counters;
use crate::error::ApiError;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

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
pub(crate) async fn put_faults(axum::extract::State(st): AppState, req: Request) -> Response {
    let mut body = BodyStream::new(req.into_body());
    let r = async {
        let data = body.read_limited(64 * 1024).await.map_err(body_error)?;
        let f: FaultConfig = serde_json::from_slice(&data)
            .map_err(|e| ApiError::bad_request(format!("Invalid fault config: {e}")))?;
        let f = f
            .validated()
            .map_err(|e| ApiError::bad_request(format!("Invalid fault config: {e}")))?;
        *st.faults.write().unwrap_or_else(|e| e.into_inner()) = f.clone();
        Ok(json_response(
            StatusCode::OK,
            serde_json::to_value(f).unwrap_or_default(),
        ))
    }
    .await;
    finish(r, &mut body).await
}
