//! Who a request acts as: its bearer token's user, or the user an honoured `as-user` header
//! names; Box's 401 and 403 otherwise.

use crate::auth::Caller;
use crate::config::SERVICE_ACCOUNT_ID;
use crate::error::ApiError;
use crate::state::{Shared, TokenOwner};
use axum::http::{header, HeaderMap, StatusCode};

const INVALID_TOKEN: &str = "Bearer realm=\"Service\", error=\"invalid_token\", error_description=\"The access token provided is invalid.\"";

/// The caller of a request: its token's user, then `as-user` applied. A 401 is counted in
/// `auth.unauthorized`.
pub(super) fn identify(
    st: &Shared,
    headers: &HeaderMap,
    allow_upload_token: bool,
) -> Result<Caller, ApiError> {
    let caller = bearer_caller(st, headers, allow_upload_token).inspect_err(|_| {
        st.counters().auth.unauthorized += 1;
    })?;
    as_user(st, headers, caller)
}

/// Who the bearer token acts as, or Box's 401.
///
/// An issued token that expired, was revoked or was invalidated gets what Box was seen to
/// answer (box/box-node-sdk#157): an empty body and `www-authenticate: Bearer
/// realm="Service", error="invalid_token", error_description="The access token provided is
/// invalid."`. A missing token, or one the emulator never issued, gets Box's error body with
/// code `unauthorized` (and the same `www-authenticate`, without `error` when no token was
/// sent). Box probably answers an unknown token like an expired one; the error body is kept
/// because clients and tests written against the emulator read it.
fn bearer_caller(
    st: &Shared,
    headers: &HeaderMap,
    allow_upload_token: bool,
) -> Result<Caller, ApiError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, token) = v.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        });
    if let Some(t) = token {
        match st.token_owner(t, allow_upload_token) {
            TokenOwner::Caller(caller) => return Ok(caller),
            TokenOwner::Dead => {
                st.counters().auth.expired_token_401 += 1;
                return Err(ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "invalid_token",
                    "The access token provided is invalid.",
                )
                .with_header(header::WWW_AUTHENTICATE, INVALID_TOKEN)
                .empty_body());
            }
            TokenOwner::Unknown => {}
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
/// ID a configured user (<https://developer.box.com/guides/authentication/oauth2/as-user/>:
/// an admin, co-admin or service account may act as a user; the service account's own id is
/// refused). Anything else is `403 access_denied_insufficient_permissions`: Box's code for a
/// caller without the rights to act as that user is not documented, and this is its generic
/// code for a token without the permission; an unknown user id might get another status on
/// Box (unconfirmed), the emulator answers the stricter 403 for all of them.
fn as_user(st: &Shared, headers: &HeaderMap, caller: Caller) -> Result<Caller, ApiError> {
    let Some(value) = headers.get("as-user") else {
        return Ok(caller);
    };
    let target = value.to_str().unwrap_or("").trim();
    let allowed = caller.is_service_account()
        && target != SERVICE_ACCOUNT_ID
        && st.config.users.iter().any(|u| u == target);
    if !allowed {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "access_denied_insufficient_permissions",
            "Access denied - insufficient permission",
        ));
    }
    st.counters().auth.as_user += 1;
    Ok(Caller {
        user: target.to_string(),
    })
}
