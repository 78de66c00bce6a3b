//! What every API request goes through before its handler, as middleware: it is counted,
//! delayed by injected latency, identified, rate limited and met by the injected gateway
//! faults; a request that starts an upload also meets the upload limit and the folder faults.
//! The handler then takes who the request acts as ([`Caller`]) and the fault settings it met
//! ([`Faults`]) as extractors. Token requests are only counted ([`count_only`]).

use super::identify::identify;
use crate::auth::Caller;
use crate::body::hand_back;
use crate::config::FaultConfig;
use crate::counters::Operation;
use crate::error::ApiError;
use crate::server::Connection;
use crate::state::Shared;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use std::time::Duration;

/// The middleware's state: the shared state and the operation of the route.
#[derive(Clone)]
pub(crate) struct Gate {
    shared: Arc<Shared>,
    op: Operation,
}

impl Gate {
    pub(crate) fn new(shared: &Arc<Shared>, op: Operation) -> Gate {
        Gate {
            shared: shared.clone(),
            op,
        }
    }
}

/// The fault settings in force when the request arrived (left by [`api`] in the request's
/// extensions).
#[derive(Clone)]
struct InForce(FaultConfig);

/// As a handler argument: the fault settings the request met, and the means to act on
/// them beyond an error answer (dropping the connection).
pub(crate) struct Faults {
    config: FaultConfig,
    conn: Connection,
}

impl Faults {
    /// Drops the request's connection (see [`Connection::kill`]).
    pub(crate) async fn drop_connection(&self) -> ApiError {
        self.conn.kill().await
    }
}

impl std::ops::Deref for Faults {
    type Target = FaultConfig;

    fn deref(&self) -> &FaultConfig {
        &self.config
    }
}

/// Direct uploads may carry a preflight's upload token instead of an access token.
fn accepts_upload_token(op: Operation) -> bool {
    matches!(op, Operation::UploadFile | Operation::UploadFileVersion)
}

/// Direct uploads and session creations: the requests that count toward `rate_limit_uploads`
/// and may meet `name_temporarily_reserved` and `operation_blocked`.
fn starts_upload(op: Operation) -> bool {
    matches!(
        op,
        Operation::UploadFile
            | Operation::UploadFileVersion
            | Operation::CreateUploadSession
            | Operation::CreateUploadSessionForFile
    )
}

/// Middleware of every API route. A refused request is answered here; its body goes back to
/// [`crate::body::drain_after_error`] as a handler's unread body would.
pub(crate) async fn api(State(gate): State<Gate>, mut req: Request, next: Next) -> Response {
    let st = &gate.shared;
    let _in_flight =
        (gate.op == Operation::UploadPart).then(|| PartInFlight::new(st, req.headers()));
    match admit(st, gate.op, req.headers()).await {
        Ok((caller, faults)) => {
            req.extensions_mut().insert(caller);
            req.extensions_mut().insert(InForce(faults));
            next.run(req).await
        }
        Err(e) => {
            hand_back(req);
            e.into_response()
        }
    }
}

/// Middleware of the token endpoint's routes: counted, nothing else (injected faults do not
/// apply there).
pub(crate) async fn count_only(State(gate): State<Gate>, req: Request, next: Next) -> Response {
    gate.shared.counters().count_request(gate.op);
    next.run(req).await
}

/// The checks in their order: what a refused request has been counted for, and which draws it
/// took, depends on it.
async fn admit(
    st: &Shared,
    op: Operation,
    headers: &HeaderMap,
) -> Result<(Caller, FaultConfig), ApiError> {
    st.counters().count_request(op);
    st.tick_expire_countdown();
    let faults = st.faults();
    if faults.latency_ms > 0 {
        st.counters().injected.delayed_requests += 1;
        tokio::time::sleep(Duration::from_millis(faults.latency_ms)).await;
    }
    let caller = identify(st, headers, accepts_upload_token(op))?;
    st.check_rate(&faults)?;
    st.check_gateway_faults(&faults)?;
    if starts_upload(op) {
        st.check_upload_rate(&faults)?;
        st.check_folder_faults(&faults, true)?;
    }
    Ok((caller, faults))
}

/// A part upload being handled, counted in `part_uploads_in_flight` (and its maximum) from
/// its arrival until it is answered; one without `content-length` is counted in
/// `part_uploads_without_length`.
struct PartInFlight(Arc<Shared>);

impl PartInFlight {
    fn new(st: &Arc<Shared>, headers: &HeaderMap) -> Self {
        let mut c = st.counters();
        c.part_uploads_in_flight += 1;
        c.part_uploads_max_in_flight = c.part_uploads_max_in_flight.max(c.part_uploads_in_flight);
        if headers.get(header::CONTENT_LENGTH).is_none() {
            c.part_uploads_without_length += 1;
        }
        PartInFlight(st.clone())
    }
}

impl Drop for PartInFlight {
    fn drop(&mut self) {
        let mut c = self.0.counters();
        c.part_uploads_in_flight = c.part_uploads_in_flight.saturating_sub(1);
    }
}

/// Left by [`api`]; a handler behind no gate that asks for it is a bug, answered 500.
fn from_gate<T: Clone + Send + Sync + 'static>(parts: &Parts) -> Result<T, ApiError> {
    parts
        .extensions
        .get::<T>()
        .cloned()
        .ok_or_else(|| ApiError::internal("Internal Server Error (route without its gate)"))
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        from_gate(parts)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Faults {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let InForce(config) = from_gate(parts)?;
        let Ok(conn) = Connection::from_request_parts(parts, state).await;
        Ok(Faults { config, conn })
    }
}
