//! Credentials: where the bearer token of every request comes from
//! (<https://developer.box.com/guides/authentication/>).
//!
//! A [`Client`](crate::Client) asks its [`Credentials`] for a token before each request. The
//! provided ones:
//!
//! | credentials | for | renewal |
//! |---|---|---|
//! | [`StaticToken`] | a developer token, or a token managed elsewhere | none: a 401 is final |
//! | [`ClientCredentials`] | a server app (client credentials grant), as its service account ([`Subject::Enterprise`]) or a user | a new grant |
//! | [`JwtCredentials`] | a server app with a key pair ([`JwtConfig`], Box's app config JSON) | a new signed assertion |
//! | [`OAuthCredentials`] | a user who signed in (OAuth 2.0) | the refresh token in a [`TokenStore`], rotated on every use |
//!
//! The renewable ones share one cache: a token is renewed a minute before it expires (a tenth
//! of its lifetime for short-lived ones), one renewal at a time however many requests are in
//! flight (the others wait for it), and once after a 401. A token refused right after it was
//! issued is an error instead of a loop. The token endpoint is called form-encoded with the
//! client id and secret in the body; 429 and 5xx answers are retried a few times with
//! back-off, `invalid_client` and `unauthorized_client` never.
//!
//! Secrets (client secret, private key, passphrase, access and refresh tokens) are held as
//! [`Secret`]s: no `Debug`, `Display`, log line or error shows them.
//!
//! Implement [`Credentials`] yourself to get tokens from elsewhere (a vault, another process).

mod cache;
mod ccg;
mod endpoint;
mod form;
mod jwt;
mod oauth;
mod refusal;
mod store;

pub use box_uploads_runtime::{
    Credentials, CredentialsError, CredentialsErrorKind, Secret, StaticToken, TokenFuture,
};
pub use ccg::{ClientCredentials, Subject};
pub use endpoint::{TokenEndpoint, DEFAULT_TOKEN_URL};
pub use jwt::{JwtConfig, JwtCredentials};
pub use oauth::OAuthCredentials;
pub use store::{FileTokenStore, MemoryTokenStore, StoreLock, TokenStore};

/// Implements [`Credentials`] for a newtype around a [`cache::TokenCache`].
macro_rules! renewing_credentials {
    ($ty:ty) => {
        impl box_uploads_runtime::Credentials for $ty {
            fn token(&self) -> box_uploads_runtime::TokenFuture<'_> {
                box_uploads_runtime::Credentials::token(&self.0)
            }

            fn refresh_after_rejection<'a>(
                &'a self,
                rejected: &'a box_uploads_runtime::Secret,
            ) -> box_uploads_runtime::TokenFuture<'a> {
                box_uploads_runtime::Credentials::refresh_after_rejection(&self.0, rejected)
            }

            fn can_refresh(&self) -> bool {
                box_uploads_runtime::Credentials::can_refresh(&self.0)
            }
        }
    };
}
pub(crate) use renewing_credentials;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_static_token_never_shows() {
        let token = StaticToken::new("DEVELOPER-TOKEN");
        let shown = format!("{token:?}");
        assert!(!shown.contains("DEVELOPER-TOKEN"), "{shown}");
        assert!(!token.can_refresh());
    }
}
