//! HTTP handlers: routing, and what every handler does first (count, latency, auth, rate).
//!
//! A handler returns [`ApiResult`]: its answer, or an [`ApiError`] that becomes Box's error
//! body. A handler that reads the request body takes a [`BodyStream`] as its last argument;
//! what it leaves unread when it answers an error is drained by [`drain_after_error`].

pub(crate) mod files;
mod folders;
mod internal;
mod oauth;
pub(crate) mod sessions;

use crate::auth::{Caller, TokenStatus};
use crate::body::{drain_after_error, BodyError, BodyStream};
use crate::config::{FaultConfig, SERVICE_ACCOUNT_ID};
use crate::counters::Operation;
use crate::error::ApiError;
use crate::state::{lock, Shared};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, options, post};
use axum::Router;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

pub(crate) type ApiResult = Result<Response, ApiError>;
pub(crate) type AppState = axum::extract::State<Arc<Shared>>;

/// Largest JSON body accepted (create session, preflight).
pub(crate) const JSON_LIMIT: u64 = 1024 * 1024;
/// Largest commit body (a parts list of 10000 parts is about 1 MiB).
pub(crate) const COMMIT_JSON_LIMIT: u64 = 16 * 1024 * 1024;
/// Most values a JSON body (or the `attributes` part) may hold. A body is parsed into a tree
/// that costs 30 to 100 bytes a value, so a 1 MiB body of `[0,0,0,...]` would otherwise take
/// tens of MiB; this keeps the memory a request can cost bounded whatever the body's shape.
pub(crate) const JSON_MAX_VALUES: usize = 10_000;
/// Values allowed per part in a commit body (a part entry has 5), beyond [`JSON_MAX_VALUES`].
pub(crate) const COMMIT_VALUES_PER_PART: u64 = 8;
/// How many preflight upload tokens are remembered.
const MAX_UPLOAD_TOKENS: usize = 1024;

/// The request-level faults: each is drawn from (seed, its kind, how many times it was drawn
/// before), so the same requests in the same order meet the same faults.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RequestFault {
    Request503 = 0,
    Request502 = 1,
    NameTemporarilyReserved = 2,
    OperationBlocked = 3,
    Direct500AfterStore = 4,
    Write503AfterStore = 5,
    CommitDropAfterStore = 6,
}

/// The number of [`RequestFault`] kinds.
pub(crate) const REQUEST_FAULT_KINDS: usize = 7;

/// Box's `503 unavailable` (common errors): retry after `retry-after` seconds.
pub(crate) fn unavailable(retry_after_secs: u64) -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
        "Unavailable",
    )
    .with_header(header::RETRY_AFTER, &retry_after_secs.to_string())
}

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    let mut r = Router::new()
        // API base (api.box.com/2.0). Box serves the preflight here, not the direct uploads:
        // those are on the upload base only (see `files::upload_on_api_base`).
        .route(
            "/2.0/files/content",
            options(files::preflight).post(files::upload_on_api_base),
        )
        .route("/2.0/files/{file_id}", get(files::get_file))
        .route(
            "/2.0/files/{file_id}/content",
            get(files::download)
                .options(files::preflight)
                .post(files::upload_on_api_base),
        )
        .route("/2.0/files/{file_id}/versions", get(files::list_versions))
        .route("/2.0/folders", post(folders::create_folder))
        .route("/2.0/folders/{folder_id}", get(folders::get_folder))
        .route(
            "/2.0/folders/{folder_id}/items",
            get(folders::list_folder_items),
        )
        // Upload base (upload.box.com/api/2.0).
        .route("/api/2.0/files/content", post(files::upload_file))
        .route("/api/2.0/files/{file_id}/content", post(files::upload_file));
    // Session operations live on the upload base; they are also accepted on the API base.
    for prefix in ["/api/2.0", "/2.0"] {
        r = r
            .route(
                &format!("{prefix}/files/upload_sessions"),
                post(sessions::create_session),
            )
            .route(
                &format!("{prefix}/files/{{file_id}}/upload_sessions"),
                post(sessions::create_session),
            )
            .route(
                &format!("{prefix}/files/upload_sessions/{{session_id}}"),
                get(sessions::get_session)
                    .put(sessions::upload_part)
                    .delete(sessions::abort_session),
            )
            .route(
                &format!("{prefix}/files/upload_sessions/{{session_id}}/parts"),
                get(sessions::list_parts),
            )
            .route(
                &format!("{prefix}/files/upload_sessions/{{session_id}}/commit"),
                post(sessions::commit),
            )
            .route(
                &format!("{prefix}/files/upload_sessions/{{session_id}}/log"),
                post(sessions::log_event),
            );
    }
    r.route("/oauth2/token", post(oauth::token))
        .route("/oauth2/revoke", post(oauth::revoke))
        .route("/_emulator/counters", get(internal::counters))
        .route("/_emulator/counters/reset", post(internal::reset_counters))
        .route(
            "/_emulator/faults",
            get(internal::get_faults).put(internal::put_faults),
        )
        .route(
            "/_emulator/net",
            get(internal::get_net).put(internal::put_net),
        )
        .route("/_emulator/expire-tokens", post(internal::expire_tokens))
        .route(
            "/_emulator/refresh-tokens",
            post(internal::mint_refresh_token),
        )
        .route(
            "/_emulator/token-clock",
            post(internal::advance_token_clock),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn(drain_after_error))
        .with_state(shared)
}

async fn not_found() -> ApiError {
    ApiError::not_found("Not Found")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "Method Not Allowed",
    )
}

impl Shared {
    /// What every API request goes through first: counted, delayed by injected latency,
    /// authenticated, rate limited.
    pub(crate) async fn begin(
        &self,
        op: Operation,
        headers: &HeaderMap,
        allow_upload_token: bool,
    ) -> Result<FaultConfig, ApiError> {
        Ok(self.begin_as(op, headers, allow_upload_token).await?.0)
    }

    /// [`begin`](Self::begin), also telling who the request acts as (its token's user, or the
    /// user named by an honoured `as-user` header).
    pub(crate) async fn begin_as(
        &self,
        op: Operation,
        headers: &HeaderMap,
        allow_upload_token: bool,
    ) -> Result<(FaultConfig, Caller), ApiError> {
        *self
            .counters()
            .requests
            .entry(op.as_str().to_string())
            .or_default() += 1;
        self.tick_expire_countdown();
        let faults = self.faults();
        if faults.latency_ms > 0 {
            self.counters().injected.delayed_requests += 1;
            tokio::time::sleep(Duration::from_millis(faults.latency_ms)).await;
        }
        let caller = self
            .check_auth(headers, allow_upload_token)
            .inspect_err(|_| {
                self.counters().auth.unauthorized += 1;
            })?;
        let caller = self.check_as_user(headers, caller)?;
        self.check_rate(&faults)?;
        self.check_gateway_faults(&faults)?;
        Ok((faults, caller))
    }

    /// Whether a request-level fault of probability `p` fires this time (see
    /// [`RequestFault`]). A probability of 0 draws nothing.
    pub(crate) fn draw(&self, kind: RequestFault, p: f64) -> bool {
        if p <= 0.0 {
            return false;
        }
        let n = self.fault_draws[kind as usize].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        p >= 1.0
            || crate::util::unit_float(crate::util::mix(&[self.config.seed, 100 + kind as u64, n]))
                < p
    }

    /// The injected `502`/`503` answered to any API request (after authentication and the rate
    /// limit, before the request does anything). On Box these come from its front end;
    /// whether they precede authentication there is unknown, and it makes no difference to a
    /// client that has a valid token.
    fn check_gateway_faults(&self, faults: &FaultConfig) -> Result<(), ApiError> {
        if self.draw(RequestFault::Request503, faults.request_503) {
            self.counters().injected.request_503 += 1;
            return Err(unavailable(faults.retry_after_503_secs));
        }
        if self.draw(RequestFault::Request502, faults.request_502) {
            self.counters().injected.request_502 += 1;
            return Err(ApiError::new(
                StatusCode::BAD_GATEWAY,
                "bad_gateway",
                "Bad Gateway",
            ));
        }
        Ok(())
    }

    /// The injected `409`s (with the messages of Box's common-errors guide) of a request that writes into a folder: `name_temporarily_reserved`
    /// (direct uploads and session creations: Box's answer while a duplicate request for the
    /// name is in flight) when `name_reserved` is set, and `operation_blocked_temporary`
    /// (those and commits: a move or copy holds the folder). Nothing has been stored.
    pub(crate) fn check_folder_faults(
        &self,
        faults: &FaultConfig,
        name_reserved: bool,
    ) -> Result<(), ApiError> {
        if name_reserved
            && self.draw(
                RequestFault::NameTemporarilyReserved,
                faults.name_temporarily_reserved,
            )
        {
            self.counters().injected.name_temporarily_reserved += 1;
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "name_temporarily_reserved",
                "The item name is reserved by another processing item. Wait and then retry the request, or wait and check the parent folder to see if the name is in use.",
            ));
        }
        if self.draw(RequestFault::OperationBlocked, faults.operation_blocked) {
            self.counters().injected.operation_blocked += 1;
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "operation_blocked_temporary",
                "The operation is blocked by another ongoing operation",
            ));
        }
        Ok(())
    }

    /// Who the bearer token acts as, or Box's 401.
    ///
    /// An issued token that expired, was revoked or was invalidated gets what Box was seen to
    /// answer (box/box-node-sdk#157): an empty body and `www-authenticate: Bearer
    /// realm="Service", error="invalid_token", error_description="The access token provided is
    /// invalid."`. A missing token, or one the emulator never issued, keeps the emulator's
    /// earlier answer: Box's error body with code `unauthorized` (and the same
    /// `www-authenticate`, without `error` when no token was sent). Box probably answers an
    /// unknown token like an expired one; the error body is kept because clients and tests
    /// written against the emulator read it.
    fn check_auth(
        &self,
        headers: &HeaderMap,
        allow_upload_token: bool,
    ) -> Result<Caller, ApiError> {
        const INVALID_TOKEN: &str = "Bearer realm=\"Service\", error=\"invalid_token\", error_description=\"The access token provided is invalid.\"";
        let token = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                let (scheme, token) = v.trim().split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
            });
        if let Some(t) = token {
            if constant_time_eq(t.as_bytes(), self.config.token.as_bytes()) {
                return Ok(Caller::service_account());
            }
            if allow_upload_token && lock(&self.upload_tokens).iter().any(|u| u == t) {
                return Ok(Caller::service_account());
            }
            match lock(&self.auth).check(t) {
                TokenStatus::Valid(user) => return Ok(Caller { user }),
                TokenStatus::Dead => {
                    self.counters().auth.expired_token_401 += 1;
                    return Err(ApiError::new(
                        StatusCode::UNAUTHORIZED,
                        "invalid_token",
                        "The access token provided is invalid.",
                    )
                    .with_header(header::WWW_AUTHENTICATE, INVALID_TOKEN)
                    .empty_body());
                }
                TokenStatus::Unknown => {}
            }
        }
        let challenge = if token.is_some() {
            INVALID_TOKEN
        } else {
            "Bearer realm=\"Service\""
        };
        Err(
            ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", "Unauthorized")
                .with_header(header::WWW_AUTHENTICATE, challenge),
        )
    }

    /// Applies an `as-user: ID` header: honoured when the caller is the service account and
    /// ID a configured user (https://developer.box.com/guides/authentication/oauth2/as-user/: an admin, co-admin or service
    /// account may act as a user; the service account's own id is refused). Anything else is
    /// `403 access_denied_insufficient_permissions`: Box's code for a caller without the
    /// rights to act as that user is not documented, and this is its generic code for a
    /// token without the permission; an unknown user id might get another status on Box
    /// (unconfirmed), the emulator answers the stricter 403 for all of them.
    fn check_as_user(&self, headers: &HeaderMap, caller: Caller) -> Result<Caller, ApiError> {
        let Some(value) = headers.get("as-user") else {
            return Ok(caller);
        };
        let target = value.to_str().unwrap_or("").trim();
        let allowed = caller.is_service_account()
            && target != SERVICE_ACCOUNT_ID
            && self.config.users.iter().any(|u| u == target);
        if !allowed {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "access_denied_insufficient_permissions",
                "Access denied - insufficient permission",
            ));
        }
        self.counters().auth.as_user += 1;
        Ok(Caller {
            user: target.to_string(),
        })
    }

    /// Replaces the fault settings. `expire_tokens: Some(0)` runs at once and is cleared;
    /// `Some(N)` starts its countdown. Both rate-limit windows start afresh.
    pub(crate) fn set_faults(&self, mut faults: FaultConfig) {
        for window in [&self.rate, &self.upload_rate] {
            let mut w = lock(window);
            w.start = tokio::time::Instant::now();
            w.count = 0;
        }
        let mut countdown = lock(&self.expire_countdown);
        *countdown = faults.expire_tokens;
        if faults.expire_tokens == Some(0) {
            faults.expire_tokens = None;
            *countdown = None;
            self.expire_tokens();
        }
        *self.faults.write().unwrap_or_else(|e| e.into_inner()) = faults;
    }

    /// Counts one API request against a pending `expire-tokens=N`, firing it when due.
    fn tick_expire_countdown(&self) {
        let mut countdown = lock(&self.expire_countdown);
        match *countdown {
            None => {}
            Some(0) => {
                *countdown = None;
                self.expire_tokens();
                self.faults
                    .write()
                    .unwrap_or_else(|e| e.into_inner())
                    .expire_tokens = None;
            }
            Some(n) => *countdown = Some(n - 1),
        }
    }

    /// A refresh token for configured user `user`, or `None` if there is no such user.
    pub(crate) fn mint_refresh_token(&self, user: &str) -> Option<String> {
        if user == SERVICE_ACCOUNT_ID || !self.config.users.iter().any(|u| u == user) {
            return None;
        }
        let token = lock(&self.auth).mint_refresh(user);
        self.counters().auth.refresh_tokens_issued += 1;
        Some(token)
    }

    /// Moves the token clock forward; returns how far ahead of the real clock it now is.
    pub(crate) fn advance_token_clock(&self, by: Duration) -> Duration {
        let mut auth = lock(&self.auth);
        auth.advance_clock(by);
        auth.clock_offset()
    }

    /// Invalidates every access token issued so far; returns how many were in force.
    pub(crate) fn expire_tokens(&self) -> u64 {
        let n = lock(&self.auth).expire_all();
        let mut c = self.counters();
        c.injected.expire_tokens += 1;
        c.auth.tokens_invalidated += n;
        n
    }

    /// The request limit (`rate_limit`): every API request counts.
    fn check_rate(&self, faults: &FaultConfig) -> Result<(), ApiError> {
        let Some(rl) = faults.rate_limit else {
            return Ok(());
        };
        take_from_window(&self.rate, rl).inspect_err(|_| {
            let mut c = self.counters();
            c.injected.rate_limited += 1;
            c.injected.rate_limited_requests += 1;
        })
    }

    /// The upload limit (`rate_limit_uploads`), checked by direct uploads and session
    /// creations after [`begin`](Self::begin) (so an upload also counts toward the request
    /// limit, and a request refused by that one does not count here). Box's rate-limit guide:
    /// "240 file upload requests per minute per user"; which requests it counts is not
    /// documented beyond that (whether parts do is unconfirmed), and the emulator counts the
    /// requests that start an upload.
    pub(crate) fn check_upload_rate(&self, faults: &FaultConfig) -> Result<(), ApiError> {
        let Some(rl) = faults.rate_limit_uploads else {
            return Ok(());
        };
        take_from_window(&self.upload_rate, rl).inspect_err(|_| {
            let mut c = self.counters();
            c.injected.rate_limited += 1;
            c.injected.rate_limited_uploads += 1;
        })
    }

    pub(crate) fn new_upload_token(&self) -> String {
        let token = format!("UT{}", crate::error::new_request_id());
        let mut tokens = lock(&self.upload_tokens);
        if tokens.len() >= MAX_UPLOAD_TOKENS {
            tokens.pop_front();
        }
        tokens.push_back(token.clone());
        token
    }
}

/// Counts one request in a fixed window of `rl`: Box's `429 rate_limit_exceeded` (its
/// rate-limit guide's body) with `retry-after` in whole seconds, rounded up, until the window
/// ends, when the limit is reached.
fn take_from_window(
    window: &std::sync::Mutex<crate::state::RateWindow>,
    rl: crate::config::RateLimit,
) -> Result<(), ApiError> {
    let length = Duration::from_millis(rl.window_ms.max(1));
    let now = tokio::time::Instant::now();
    let retry_after = {
        let mut w = lock(window);
        if now.duration_since(w.start) >= length {
            w.start = now;
            w.count = 0;
        }
        w.count += 1;
        if w.count <= u64::from(rl.max_requests) {
            return Ok(());
        }
        let remaining = length.saturating_sub(now.duration_since(w.start));
        (remaining.as_secs_f64().ceil() as u64).max(1)
    };
    Err(ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limit_exceeded",
        "Request rate limit exceeded, please try again later",
    )
    .with_header(header::RETRY_AFTER, &retry_after.to_string()))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub(crate) fn json_response(status: StatusCode, v: Value) -> Response {
    (status, axum::Json(v)).into_response()
}

/// Box's answer for one page of a list (offset paging): the page's `entries`, the list's
/// `total_count`, the `offset` and `limit` used, and for a sorted list its `order` (ascending
/// by `order_by`).
pub(crate) fn page_response(
    entries: Vec<Value>,
    total: usize,
    offset: u64,
    limit: u64,
    order_by: Option<&str>,
) -> Response {
    let mut page = serde_json::json!({
        "entries": entries,
        "total_count": total,
        "offset": offset,
        "limit": limit,
    });
    if let Some(by) = order_by {
        page["order"] = serde_json::json!([{"by": by, "direction": "ASC"}]);
    }
    json_response(StatusCode::OK, page)
}

pub(crate) fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).map(|v| v.to_str().unwrap_or("\u{fffd}"))
}

pub(crate) fn body_error(e: BodyError) -> ApiError {
    match e {
        BodyError::TooLarge(limit) => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "request_entity_too_large",
            format!("Request body is larger than {limit} bytes"),
        ),
        BodyError::Timeout => ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            e.to_string(),
        )
        .closing(),
        BodyError::Transport(_) => ApiError::bad_request(e.to_string()).closing(),
    }
}

/// Reads a JSON object body of at most `limit` bytes and `max_values` values (see
/// [`json_value_count`]). An empty body reads as `{}`.
pub(crate) async fn read_json_object(
    body: &mut BodyStream,
    limit: u64,
    max_values: usize,
) -> Result<serde_json::Map<String, Value>, ApiError> {
    let data = body.read_limited(limit).await.map_err(body_error)?;
    parse_json_object(&data, max_values)
}

/// Parses a JSON object body: `400 bad_request` if it is not JSON, not an object, nested
/// too deeply (serde_json's limit of 128 levels) or holds more than `max_values` values.
/// Blank input reads as `{}`.
pub(crate) fn parse_json_object(
    data: &[u8],
    max_values: usize,
) -> Result<serde_json::Map<String, Value>, ApiError> {
    if data.iter().all(|b| b.is_ascii_whitespace()) {
        return Ok(serde_json::Map::new());
    }
    if json_value_count(data) > max_values {
        return Err(ApiError::bad_request(format!(
            "The JSON body holds too many values (more than {max_values})"
        )));
    }
    match serde_json::from_slice::<Value>(data) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(ApiError::bad_request(
            "The request body must be a JSON object",
        )),
        Err(e) => Err(ApiError::bad_request(format!("Invalid JSON body: {e}"))),
    }
}

/// The number of values in a JSON text plus one per empty array or object (so never less
/// than the values serde_json would build), found without parsing it: one, plus one per
/// `[`, `{` and `,` outside strings.
pub(crate) fn json_value_count(data: &[u8]) -> usize {
    let mut count = 1usize;
    let mut in_string = false;
    let mut escaped = false;
    for &b in data {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
        } else {
            match b {
                b'"' => in_string = true,
                b'[' | b'{' | b',' => count += 1,
                _ => {}
            }
        }
    }
    count
}

/// Decoded query pairs (an unparsable query reads as empty).
pub(crate) fn query_pairs(uri: &Uri) -> Vec<(String, String)> {
    uri.query()
        .and_then(|q| serde_urlencoded::from_str::<Vec<(String, String)>>(q).ok())
        .unwrap_or_default()
}

pub(crate) fn query_get<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// The `fields` query parameter (`fields=id,type,name`).
pub(crate) fn fields_param(pairs: &[(String, String)]) -> Option<Vec<String>> {
    query_get(pairs, "fields").map(|v| {
        v.split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect()
    })
}

/// Parses an `offset`/`limit` style query value.
pub(crate) fn query_u64(
    pairs: &[(String, String)],
    key: &str,
    default: u64,
) -> Result<u64, ApiError> {
    match query_get(pairs, key) {
        None => Ok(default),
        Some(v) => crate::util::parse_u64_digits(v.trim())
            .ok_or_else(|| ApiError::bad_request(format!("Invalid value for '{key}': {v:?}"))),
    }
}

pub(crate) fn with_header(mut resp: Response, name: HeaderName, value: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(value) {
        resp.headers_mut().insert(name, v);
    }
    resp
}
