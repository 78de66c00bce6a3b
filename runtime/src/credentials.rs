//! Bearer credentials: where a client gets the token it sends, and what it does when the server
//! refuses one.
//!
//! [`Core::send`](crate::Core::send) asks its [`Credentials`] for a token before every request.
//! After a 401 it asks, once, for a different token
//! ([`Credentials::refresh_after_rejection`]) and, when the request can be sent again (its body
//! is in memory), sends it once more; a streamed body cannot be replayed, so the caller gets the
//! 401 and retries from its source. Implementations cache and refresh however they like;
//! [`StaticToken`] never changes.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use crate::Secret;

/// What [`Credentials`] methods return.
pub type TokenFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Secret, CredentialsError>> + Send + 'a>>;

/// A source of bearer tokens, shared by every request of a client (and so called concurrently).
///
/// Implement it to share tokens through a vault or another process; [`StaticToken`] covers a
/// fixed token, and the crates built on this runtime provide the provider's grants.
pub trait Credentials: Send + Sync + fmt::Debug + 'static {
    /// A token good for the next request: cached while fresh, renewed ahead of expiry. Called
    /// before every request, so it should be cheap when the cached token is fresh.
    fn token(&self) -> TokenFuture<'_>;

    /// The server answered 401 to `rejected`. Return the token to try once more: a renewed one,
    /// or the one another caller renewed meanwhile (compare it with `rejected`: many requests in
    /// flight see the same 401, and should cause one renewal, not one each). An error when no
    /// other token can be had, of kind [`Rejected`](CredentialsErrorKind::Rejected) when `rejected`
    /// was itself issued after a rejection (the cause is not expiry, and renewing again would loop).
    ///
    /// [`Core`](crate::Core) calls it at most once per request, and only if
    /// [`can_refresh`](Self::can_refresh).
    fn refresh_after_rejection<'a>(&'a self, rejected: &'a Secret) -> TokenFuture<'a>;

    /// Whether [`refresh_after_rejection`](Self::refresh_after_rejection) can ever give a new
    /// token (false for a fixed token), so callers know a 401 is final.
    fn can_refresh(&self) -> bool;
}

/// A fixed token (a developer token, or one managed elsewhere). A 401 is final: the answer is
/// returned as it came, with nothing renewed.
#[derive(Clone, Debug)]
pub struct StaticToken(Secret);

impl StaticToken {
    /// Sends `token` with every request; never renews it.
    pub fn new(token: impl Into<Secret>) -> Self {
        StaticToken(token.into())
    }
}

impl Credentials for StaticToken {
    fn token(&self) -> TokenFuture<'_> {
        let token = self.0.clone();
        Box::pin(async move { Ok(token) })
    }

    fn refresh_after_rejection<'a>(&'a self, _rejected: &'a Secret) -> TokenFuture<'a> {
        Box::pin(async {
            Err(CredentialsError::new(
                CredentialsErrorKind::Rejected,
                "the server refused the fixed access token (HTTP 401) and it cannot be renewed: \
                 it has expired or was revoked",
            ))
        })
    }

    fn can_refresh(&self) -> bool {
        false
    }
}

/// What kind of credentials failure this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CredentialsErrorKind {
    /// The server refused the token, and no other can be had (a fixed token; a token refused
    /// right after it was issued).
    Rejected,
    /// The token endpoint refused the grant (bad client id or secret, used refresh token...).
    /// Retrying the same grant will not help.
    Refused,
    /// The token endpoint could not be reached or answered 429/5xx: may succeed later.
    Unavailable,
    /// The configuration is unusable (a key that does not parse, a missing field, a token that
    /// cannot be sent in a header...).
    Config,
    /// Reading or writing a token store failed.
    Store,
}

/// Getting a usable token failed. The message never contains a secret.
#[derive(Debug)]
pub struct CredentialsError {
    kind: CredentialsErrorKind,
    message: String,
    status: Option<u16>,
    code: Option<String>,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl CredentialsError {
    /// `message` is this error's own sentence (a cause goes in [`with_source`](Self::with_source)).
    pub fn new(kind: CredentialsErrorKind, message: impl Into<String>) -> Self {
        CredentialsError {
            kind,
            message: message.into(),
            status: None,
            code: None,
            source: None,
        }
    }

    /// The HTTP status and error code (OAuth's `invalid_grant`, say) of the answer behind it.
    pub fn with_answer(mut self, status: u16, code: Option<String>) -> Self {
        self.status = Some(status);
        self.code = code;
        self
    }

    /// The failure behind this one.
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> CredentialsErrorKind {
        self.kind
    }

    /// The token endpoint's HTTP status, when it answered.
    pub fn status(&self) -> Option<u16> {
        self.status
    }

    /// The token endpoint's error code (`invalid_grant`...), when it gave one.
    pub fn code(&self) -> Option<&str> {
        self.code.as_deref()
    }

    /// Only [`Unavailable`](CredentialsErrorKind::Unavailable): the others need a change of
    /// configuration or of the account, not time.
    pub fn is_retryable(&self) -> bool {
        self.kind == CredentialsErrorKind::Unavailable
    }
}

impl fmt::Display for CredentialsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CredentialsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_static_token_never_refreshes() {
        let fixed = StaticToken::new("s3cr3t");
        let token = fixed.token().await.expect("a token");
        assert_eq!(token.expose(), "s3cr3t");
        assert!(!fixed.can_refresh());
        let err = fixed
            .refresh_after_rejection(&token)
            .await
            .expect_err("no other token");
        assert_eq!(err.kind(), CredentialsErrorKind::Rejected);
        assert!(!err.is_retryable());
        assert!(!format!("{fixed:?} {err:?} {err}").contains("s3cr3t"));
    }
}
