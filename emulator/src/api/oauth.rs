//! The token endpoint, beside the API on the base URL as Box's (`https://api.box.com/oauth2/…`):
//! `POST /oauth2/token` (client credentials, JWT bearer, refresh token) and
//! `POST /oauth2/revoke`. Form-encoded bodies, the client id and secret in the body; errors are
//! `400 {"error", "error_description"}` with Box's codes and messages
//! (<https://developer.box.com/reference/post-oauth2-token/>,
//! <https://developer.box.com/guides/api-calls/permissions-and-errors/common-errors/>).
//! Requests are counted ([`super::gate::count_only`]); injected faults (latency, rate limit)
//! do not apply here.

use super::request::body_error;
use super::response::json_response;
use super::{ApiResult, AppState};
use crate::auth::{self, Caller, Grant};
use crate::body::BodyStream;
use crate::error::{ApiError, ErrorShape};
use crate::state::{lock, Shared};
use crate::util::constant_time_eq;
use axum::http::{header, request::Parts, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Largest token or revoke request body (a JWT assertion is about 1 KiB).
const FORM_LIMIT: u64 = 64 * 1024;

const GRANT_CLIENT_CREDENTIALS: &str = "client_credentials";
const GRANT_JWT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
const GRANT_REFRESH: &str = "refresh_token";
const GRANT_CODE: &str = "authorization_code";
const GRANT_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";

fn invalid_request() -> ApiError {
    ApiError::oauth(
        "invalid_request",
        "Invalid grant_type parameter or parameter missing",
    )
}

fn invalid_client() -> ApiError {
    ApiError::oauth("invalid_client", "The client credentials are invalid.")
}

fn invalid_grant(description: &str) -> ApiError {
    ApiError::oauth("invalid_grant", description)
}

/// A token request's form fields.
struct Form(Vec<(String, String)>);

impl Form {
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Reads the form body. A body that is not `application/x-www-form-urlencoded` reads as no
/// fields (Box's answer to a JSON body is not documented; the missing `grant_type` makes it
/// `invalid_request`). HTTP Basic client authentication is refused `invalid_client`, as Box
/// does (scribejava/scribejava#842). A field sent twice is `invalid_request` (RFC 6749 §3.2
/// forbids it; what Box does is unconfirmed, this is the stricter answer).
async fn read_form(parts: &Parts, body: &mut BodyStream) -> Result<Form, ApiError> {
    let basic = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().split_once(' '))
        .is_some_and(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"));
    let data = body.read_limited(FORM_LIMIT).await.map_err(body_error)?;
    if basic {
        return Err(invalid_client());
    }
    let is_form = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| {
            m.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !is_form {
        return Ok(Form(Vec::new()));
    }
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_bytes(&data).map_err(|_| invalid_request())?;
    for (i, (k, _)) in pairs.iter().enumerate() {
        if pairs[..i].iter().any(|(seen, _)| seen == k) {
            return Err(ApiError::oauth(
                "invalid_request",
                format!("The '{k}' parameter is repeated"),
            ));
        }
    }
    Ok(Form(pairs))
}

/// `client_id` and `client_secret` of the form against the configured app.
fn check_client(st: &Shared, form: &Form) -> Result<(), ApiError> {
    let (Some(id), Some(secret)) = (&st.config.client_id, &st.config.client_secret) else {
        return Err(invalid_client());
    };
    let id_ok = form
        .get("client_id")
        .is_some_and(|v| constant_time_eq(v.as_bytes(), id.as_bytes()));
    let secret_ok = form
        .get("client_secret")
        .is_some_and(|v| constant_time_eq(v.as_bytes(), secret.as_bytes()));
    if !(id_ok && secret_ok) {
        return Err(invalid_client());
    }
    Ok(())
}

/// The user a `box_subject_type`/`box_sub_type` and id name, if they name one.
fn subject(st: &Shared, kind: &str, id: &str) -> Option<Caller> {
    match kind {
        "enterprise" if id == st.config.enterprise_id => Some(Caller::service_account()),
        "user" if st.is_user(id) => Some(Caller {
            user: id.to_string(),
        }),
        _ => None,
    }
}

/// Counts a refused token request (its code is counted by the server).
fn counted(st: &Shared, result: ApiResult) -> ApiResult {
    if let Err(e) = &result {
        if e.shape == ErrorShape::OAuth {
            st.counters().auth.token_errors += 1;
        }
    }
    result
}

/// `POST /oauth2/token`.
pub(crate) async fn token(
    axum::extract::State(st): AppState,
    parts: Parts,
    mut body: BodyStream,
) -> ApiResult {
    let result = token_inner(&st, &parts, &mut body).await;
    counted(&st, result)
}

async fn token_inner(st: &Shared, parts: &Parts, body: &mut BodyStream) -> ApiResult {
    let form = read_form(parts, body).await?;
    let grant_type = form.get("grant_type").unwrap_or("");
    if ![
        GRANT_CLIENT_CREDENTIALS,
        GRANT_JWT,
        GRANT_REFRESH,
        GRANT_CODE,
        GRANT_EXCHANGE,
    ]
    .contains(&grant_type)
    {
        return Err(invalid_request());
    }
    check_client(st, &form)?;
    if !st.config.app_authorized {
        return Err(ApiError::oauth(
            "unauthorized_client",
            "This app is not authorized by the enterprise admin.",
        ));
    }
    let (caller, grant) = grant_caller(st, &form, grant_type)?;
    let issued = lock(&st.auth).issue(
        &caller.user,
        st.config.token_ttl,
        grant == Grant::RefreshToken,
    );
    {
        let mut c = st.counters();
        let t = &mut c.auth.tokens_issued;
        match grant {
            Grant::ClientCredentials => t.client_credentials += 1,
            Grant::JwtBearer => t.jwt_bearer += 1,
            Grant::RefreshToken => t.refresh_token += 1,
        }
        if issued.refresh_token.is_some() {
            c.auth.refresh_tokens_issued += 1;
        }
    }
    Ok(token_answer(issued))
}

/// The fields of Box's AccessToken schema; `refresh_token` only for the refresh grant (CCG
/// and JWT issue none). Never cached.
fn token_answer(issued: auth::Issued) -> Response {
    let mut answer = json!({
        "access_token": issued.access_token,
        "expires_in": issued.expires_in,
        "token_type": "bearer",
        "restricted_to": [],
        "issued_token_type": "urn:ietf:params:oauth:token-type:access_token",
    });
    if let Some(r) = issued.refresh_token {
        answer["refresh_token"] = json!(r);
    }
    let mut resp = json_response(StatusCode::OK, answer);
    let h = resp.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    resp
}

/// Who the token is for, by grant type (the client is already checked).
fn grant_caller(st: &Shared, form: &Form, grant_type: &str) -> Result<(Caller, Grant), ApiError> {
    let grant = match grant_type {
        GRANT_CLIENT_CREDENTIALS => {
            // A missing, unknown or mismatched subject: Box's "Grant credentials are invalid"
            // (https://developer.box.com/guides/authentication/client-credentials/).
            let kind = form.get("box_subject_type").unwrap_or("");
            let id = form.get("box_subject_id").unwrap_or("");
            let caller = subject(st, kind, id)
                .ok_or_else(|| invalid_grant("Grant credentials are invalid"))?;
            (caller, Grant::ClientCredentials)
        }
        GRANT_JWT => (jwt_caller(st, form)?, Grant::JwtBearer),
        GRANT_REFRESH => {
            let token = form.get("refresh_token").ok_or_else(invalid_request)?;
            // Single use: a second use of the same token is refused. A maintainer once saw an
            // immediate reuse answered with the same token (box/box-typescript-sdk-gen#34); no
            // grace window is documented, so the emulator allows none.
            let user = lock(&st.auth)
                .take_refresh(token)
                .ok_or_else(|| invalid_grant("Invalid refresh token"))?;
            (Caller { user }, Grant::RefreshToken)
        }
        // Authorization codes and downscoped tokens are not modelled: refused as a grant the
        // app may not use.
        _ => {
            return Err(ApiError::oauth(
                "invalid_request",
                "The grant type is unauthorized for this client_id.",
            ))
        }
    };
    Ok(grant)
}

/// The JWT bearer grant: the assertion checked against the app's key, its subject and its
/// `jti` (each usable once).
fn jwt_caller(st: &Shared, form: &Form) -> Result<Caller, ApiError> {
    let Some(key) = &st.jwt_key else {
        // No public key configured: the app does not use JWT.
        return Err(ApiError::oauth(
            "invalid_request",
            "The grant type is unauthorized for this client_id.",
        ));
    };
    let assertion = form.get("assertion").ok_or_else(invalid_request)?;
    let client_id = st.config.client_id.as_deref().unwrap_or_default();
    let [box_aud, own_aud] = auth::audiences(&st.base_url);
    let now = chrono::Utc::now().timestamp();
    let a = auth::check_assertion(
        assertion,
        key,
        client_id,
        &[box_aud.as_str(), own_aud.as_str()],
        now,
    )?;
    let caller = subject(st, &a.sub_type, &a.sub).ok_or_else(|| {
        invalid_grant("Please check the 'sub' claim. The 'sub' specified is invalid.")
    })?;
    if !lock(&st.auth).use_jti(&a.jti, a.exp, now) {
        return Err(invalid_grant(
            "Please check the 'jti' claim. A unique 'jti' value is required.",
        ));
    }
    Ok(caller)
}

/// `POST /oauth2/revoke` (`client_id`, `client_secret`, `token`): 200 with an empty body. An
/// access token is revoked with the refresh token issued with it, and the other way round.
/// A token the emulator does not know (the static token included: it never expires) is
/// answered 200 all the same, as RFC 7009 asks.
pub(crate) async fn revoke(
    axum::extract::State(st): AppState,
    parts: Parts,
    mut body: BodyStream,
) -> ApiResult {
    let result = async {
        let form = read_form(&parts, &mut body).await?;
        check_client(&st, &form)?;
        let token = form.get("token").ok_or_else(|| {
            ApiError::oauth("invalid_request", "The 'token' parameter is missing")
        })?;
        let n = lock(&st.auth).revoke(token);
        st.counters().auth.tokens_revoked += n;
        Ok::<Response, ApiError>(StatusCode::OK.into_response())
    }
    .await;
    counted(&st, result)
}
