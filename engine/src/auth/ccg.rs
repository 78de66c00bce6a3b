//! Client credentials grant (CCG): a server app's client id and secret, for the enterprise's
//! service account or for one of its users (<https://developer.box.com/guides/authentication/client-credentials/>).

use std::fmt;

use box_uploads_runtime::{CredentialsError, Secret};

use super::cache::{Grant, GrantFuture, IssuedToken, TokenCache};
use super::endpoint::TokenEndpoint;
use super::form::Form;

/// Whom a token acts for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Subject {
    /// The enterprise's service account (`box_subject_type=enterprise`).
    Enterprise(String),
    /// One managed user (`box_subject_type=user`; the app needs "Generate User Access
    /// Tokens").
    User(String),
}

impl Subject {
    /// The enterprise's service account (Box's `box_subject_type=enterprise`).
    pub fn enterprise(id: impl Into<String>) -> Self {
        Subject::Enterprise(id.into())
    }

    /// A user of the enterprise (Box's `box_subject_type=user`).
    pub fn user(id: impl Into<String>) -> Self {
        Subject::User(id.into())
    }

    /// `enterprise` or `user`, as Box's `box_subject_type` and `box_sub_type` spell it.
    pub fn kind(&self) -> &'static str {
        match self {
            Subject::Enterprise(_) => "enterprise",
            Subject::User(_) => "user",
        }
    }

    /// The enterprise or user id.
    pub fn id(&self) -> &str {
        match self {
            Subject::Enterprise(id) | Subject::User(id) => id,
        }
    }
}

/// Tokens from the client credentials grant: cached, renewed a minute before they expire
/// (Box's last about an hour), one renewal at a time, and once more after a 401.
///
/// ```no_run
/// use box_uploads::auth::{ClientCredentials, Subject, TokenEndpoint};
///
/// let credentials = ClientCredentials::new(
///     "CLIENT_ID",
///     std::env::var("BOX_CLIENT_SECRET").unwrap_or_default(),
///     Subject::enterprise("12345"),
///     TokenEndpoint::default(),
/// );
/// let client = box_uploads::ClientBuilder::new().credentials(credentials).build()?;
/// # let _ = client; Ok::<(), box_uploads::BuildError>(())
/// ```
///
/// [`ClientBuilder::client_credentials`](crate::ClientBuilder::client_credentials) does the
/// same with the builder's HTTP client and token URL.
pub struct ClientCredentials(TokenCache<CcgGrant>);

impl ClientCredentials {
    /// Client credentials of a server app, acting as `subject`.
    pub fn new(
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
        subject: Subject,
        endpoint: TokenEndpoint,
    ) -> Self {
        ClientCredentials(TokenCache::new(CcgGrant {
            client_id: client_id.into(),
            client_secret: Secret::new(client_secret),
            subject,
            endpoint,
        }))
    }
}

impl fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ClientCredentials").field(&self.0).finish()
    }
}

super::renewing_credentials!(ClientCredentials);

pub(crate) struct CcgGrant {
    client_id: String,
    client_secret: Secret,
    subject: Subject,
    endpoint: TokenEndpoint,
}

impl fmt::Debug for CcgGrant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CcgGrant")
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret)
            .field("subject", &self.subject)
            .field("endpoint", &self.endpoint)
            .finish()
    }
}

impl CcgGrant {
    fn form(&self) -> Result<Form, CredentialsError> {
        Ok(Form::client_credentials(
            &self.client_id,
            &self.client_secret,
            self.subject.kind(),
            self.subject.id(),
        ))
    }
}

impl Grant for CcgGrant {
    fn fetch(&self) -> GrantFuture<'_> {
        Box::pin(async move {
            let granted = self
                .endpoint
                .request(&mut || self.form())
                .await
                .map_err(|r| r.error)?;
            tracing::debug!(
                subject_type = self.subject.kind(),
                expires_in = granted.expires_in.as_secs(),
                "client credentials grant: token issued"
            );
            Ok(IssuedToken {
                access_token: granted.access_token,
                expires_in: granted.expires_in,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use box_uploads_runtime::{Credentials as _, CredentialsErrorKind};

    use super::super::endpoint::fake::Scripted;
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn sends_the_documented_form_and_caches_the_token() {
        let script = Scripted::new();
        script.token("ACCESS-1", 3600);
        let creds = ClientCredentials::new(
            "my-client",
            "my-secret",
            Subject::enterprise("777"),
            script.endpoint(),
        );
        assert_eq!(creds.token().await.expect("token").expose(), "ACCESS-1");
        assert_eq!(creds.token().await.expect("cached").expose(), "ACCESS-1");
        let sent = script.sent();
        assert_eq!(sent.len(), 1);
        let form = &sent[0];
        assert_eq!(form.get("grant_type"), Some("client_credentials"));
        assert_eq!(form.get("client_id"), Some("my-client"));
        assert_eq!(form.get("client_secret"), Some("my-secret"));
        assert_eq!(form.get("box_subject_type"), Some("enterprise"));
        assert_eq!(form.get("box_subject_id"), Some("777"));
        assert!(creds.can_refresh());
    }

    #[tokio::test(start_paused = true)]
    async fn a_user_subject_is_sent_as_such() {
        let script = Scripted::new();
        script.token("A", 3600);
        let creds = ClientCredentials::new("c", "s", Subject::user("42"), script.endpoint());
        creds.token().await.expect("token");
        assert_eq!(script.sent()[0].get("box_subject_type"), Some("user"));
        assert_eq!(script.sent()[0].get("box_subject_id"), Some("42"));
    }

    #[tokio::test(start_paused = true)]
    async fn bad_credentials_are_refused_without_retry_or_secret() {
        let script = Scripted::new();
        script.then(
            400,
            serde_json::json!({"error": "invalid_grant", "error_description": "Grant credentials are invalid"}),
        );
        let creds =
            ClientCredentials::new("c", "my-secret", Subject::user("42"), script.endpoint());
        let err = creds.token().await.expect_err("refused");
        assert_eq!(err.kind(), CredentialsErrorKind::Refused);
        assert!(
            err.to_string().contains("Grant credentials are invalid"),
            "{err}"
        );
        assert!(!format!("{err} {err:?}").contains("my-secret"));
        assert_eq!(script.sent().len(), 1);
    }

    #[test]
    fn debug_shows_no_secret() {
        let creds = ClientCredentials::new(
            "visible-client-id",
            "the-client-secret",
            Subject::enterprise("1"),
            TokenEndpoint::default(),
        );
        let shown = format!("{creds:?}");
        assert!(shown.contains("visible-client-id"), "{shown}");
        assert!(!shown.contains("the-client-secret"), "{shown}");
    }
}
