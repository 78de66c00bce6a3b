//! OAuth 2.0 refresh: an access token from a refresh token, which Box rotates on every use
//! (<https://developer.box.com/guides/authentication/tokens/refresh/>). The rotated token is saved to the [`TokenStore`] before
//! the new access token is handed out (a crash in between must not lose the only
//! valid refresh token); a refresh token that was used
//! already is refused by Box (400 `invalid_grant`) and is a [`CredentialsErrorKind::Refused`]
//! error: sign in again.

use std::fmt;
use std::sync::{Arc, Mutex};

use box_uploads_runtime::{CredentialsError, CredentialsErrorKind, Secret};

use super::cache::{Grant, GrantFuture, IssuedToken, TokenCache};
use super::endpoint::TokenEndpoint;
use super::form::Form;
use super::store::TokenStore;

/// Tokens from an OAuth 2.0 refresh token kept in a [`TokenStore`]: cached, renewed a minute
/// ahead of expiry, one renewal at a time, and once more after a 401.
///
/// ```no_run
/// use box_uploads::auth::{FileTokenStore, OAuthCredentials, TokenEndpoint};
///
/// // The file holds the refresh token from the app's sign-in; every renewal replaces it.
/// let store = FileTokenStore::new("/home/me/.config/box/refresh-token");
/// let credentials =
///     OAuthCredentials::new("CLIENT_ID", "CLIENT_SECRET", store, TokenEndpoint::default());
/// let client = box_uploads::ClientBuilder::new().credentials(credentials).build()?;
/// # let _ = client; Ok::<(), box_uploads::BuildError>(())
/// ```
pub struct OAuthCredentials(TokenCache<RefreshGrant>);

impl OAuthCredentials {
    /// Credentials of a user who signed in with OAuth 2.0: the refresh token in `store`,
    /// renewed at `endpoint`.
    pub fn new(
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
        store: impl TokenStore,
        endpoint: TokenEndpoint,
    ) -> Self {
        OAuthCredentials::with_shared_store(client_id, client_secret, Arc::new(store), endpoint)
    }

    /// As [`new`](Self::new), with a store the caller keeps a handle on.
    pub fn with_shared_store(
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
        store: Arc<dyn TokenStore>,
        endpoint: TokenEndpoint,
    ) -> Self {
        OAuthCredentials(TokenCache::new(RefreshGrant {
            client_id: client_id.into(),
            client_secret: Secret::new(client_secret),
            store,
            endpoint,
            unsaved: Mutex::new(None),
        }))
    }
}

impl fmt::Debug for OAuthCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("OAuthCredentials").field(&self.0).finish()
    }
}

super::renewing_credentials!(OAuthCredentials);

pub(crate) struct RefreshGrant {
    client_id: String,
    client_secret: Secret,
    store: Arc<dyn TokenStore>,
    endpoint: TokenEndpoint,
    /// A rotated refresh token the store failed to save: the only live one, used next time
    /// (and saved then).
    unsaved: Mutex<Option<Secret>>,
}

impl fmt::Debug for RefreshGrant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RefreshGrant")
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret)
            .field("store", &self.store)
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

/// Runs a blocking store call on Tokio's blocking threads.
async fn blocking<T: Send + 'static>(
    store: &Arc<dyn TokenStore>,
    call: impl FnOnce(&dyn TokenStore) -> Result<T, CredentialsError> + Send + 'static,
) -> Result<T, CredentialsError> {
    let store = store.clone();
    tokio::task::spawn_blocking(move || call(&*store))
        .await
        .map_err(|e| {
            CredentialsError::new(CredentialsErrorKind::Store, "the token store task failed")
                .with_source(e)
        })?
}

impl RefreshGrant {
    fn take_unsaved(&self) -> Option<Secret> {
        self.unsaved.lock().ok().and_then(|mut u| u.take())
    }

    fn keep_unsaved(&self, token: Secret) {
        if let Ok(mut slot) = self.unsaved.lock() {
            *slot = Some(token);
        }
    }

    async fn renew(&self) -> Result<IssuedToken, CredentialsError> {
        // Held until the rotated token is saved: another process sharing the store waits,
        // then reads the token saved here.
        let _lock = blocking(&self.store, |s| s.lock()).await?;
        let refresh_token = match self.take_unsaved() {
            Some(token) => token,
            None => blocking(&self.store, |s| s.load()).await?.ok_or_else(|| {
                CredentialsError::new(
                    CredentialsErrorKind::Config,
                    "the token store holds no refresh token: sign in to get one",
                )
            })?,
        };
        let form = Form::refresh_token(&self.client_id, &self.client_secret, &refresh_token);
        let granted = match self.endpoint.request(&mut || Ok(form.clone())).await {
            Ok(granted) => granted,
            Err(refusal) if refusal.error.code() == Some("invalid_grant") => {
                return Err(CredentialsError::new(
                    CredentialsErrorKind::Refused,
                    "Box refused the refresh token (400 invalid_grant): it was used already \
                     (each one is good for a single renewal) or it expired; sign in again",
                )
                .with_answer(400, Some("invalid_grant".into()))
                .with_source(refusal.error));
            }
            Err(refusal) => return Err(refusal.error),
        };
        if let Some(rotated) = &granted.refresh_token {
            let saving = rotated.clone();
            if let Err(e) = blocking(&self.store, move |s| s.save(&saving)).await {
                // The token sent is dead now; keep the live one for the next renewal.
                self.keep_unsaved(rotated.clone());
                return Err(e);
            }
        }
        tracing::debug!(
            expires_in = granted.expires_in.as_secs(),
            rotated = granted.refresh_token.is_some(),
            "refresh token grant: token issued"
        );
        Ok(IssuedToken {
            access_token: granted.access_token,
            expires_in: granted.expires_in,
        })
    }
}

impl Grant for RefreshGrant {
    fn fetch(&self) -> GrantFuture<'_> {
        Box::pin(self.renew())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex as StdMutex;

    use box_uploads_runtime::Credentials as _;

    use super::super::endpoint::fake::Scripted;
    use super::super::store::{FileTokenStore, MemoryTokenStore};
    use super::*;

    fn rotated(access: &str, refresh: &str) -> serde_json::Value {
        serde_json::json!({
            "access_token": access, "expires_in": 3600, "token_type": "bearer",
            "refresh_token": refresh, "restricted_to": []
        })
    }

    #[tokio::test]
    async fn the_file_store_keeps_the_rotated_token() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("refresh");
        let store = FileTokenStore::new(&path);
        store.save(&Secret::new("R1")).expect("seeded");
        let script = Scripted::new();
        script
            .then(200, rotated("A1", "R2"))
            .then(200, rotated("A2", "R3"));
        let creds = OAuthCredentials::new("cid", "csecret", store, script.endpoint());

        let first = creds.token().await.expect("token");
        assert_eq!(first.expose(), "A1");
        assert_eq!(std::fs::read_to_string(&path).expect("file").trim(), "R2");
        let second = creds
            .refresh_after_rejection(&first)
            .await
            .expect("renewed");
        assert_eq!(second.expose(), "A2");
        assert_eq!(std::fs::read_to_string(&path).expect("file").trim(), "R3");

        let sent = script.sent();
        assert_eq!(sent[0].get("grant_type"), Some("refresh_token"));
        assert_eq!(sent[0].get("client_id"), Some("cid"));
        assert_eq!(sent[0].get("client_secret"), Some("csecret"));
        assert_eq!(sent[0].get("refresh_token"), Some("R1"));
        assert_eq!(
            sent[1].get("refresh_token"),
            Some("R2"),
            "the rotated one is used"
        );
    }

    /// A store that logs what happens to it, and can be told to fail saving.
    #[derive(Debug, Default)]
    struct Logged {
        token: StdMutex<Option<String>>,
        log: Arc<StdMutex<Vec<String>>>,
        fail_saves: StdMutex<bool>,
    }

    impl TokenStore for Logged {
        fn load(&self) -> Result<Option<Secret>, CredentialsError> {
            Ok(self.token.lock().expect("lock").clone().map(Secret::new))
        }
        fn save(&self, token: &Secret) -> Result<(), CredentialsError> {
            if *self.fail_saves.lock().expect("lock") {
                return Err(CredentialsError::new(
                    CredentialsErrorKind::Store,
                    "disk full",
                ));
            }
            self.log
                .lock()
                .expect("lock")
                .push(format!("saved {}", token.expose()));
            *self.token.lock().expect("lock") = Some(token.expose().to_string());
            Ok(())
        }
    }

    #[tokio::test]
    async fn the_rotated_token_is_saved_before_the_access_token_is_used() {
        let log = Arc::new(StdMutex::new(Vec::new()));
        let store = Arc::new(Logged {
            token: StdMutex::new(Some("R1".into())),
            log: log.clone(),
            ..Logged::default()
        });
        let script = Scripted::new();
        script
            .then(200, rotated("A1", "R2"))
            .then(200, rotated("A2", "R3"))
            .then(200, rotated("A3", "R4"));
        let creds = OAuthCredentials::with_shared_store("c", "s", store.clone(), script.endpoint());
        let token = creds.token().await.expect("token");
        log.lock()
            .expect("lock")
            .push(format!("used {}", token.expose()));
        assert_eq!(*log.lock().expect("lock"), ["saved R2", "used A1"]);

        // A store that cannot save: the access token is not handed out...
        *store.fail_saves.lock().expect("lock") = true;
        let err = creds
            .refresh_after_rejection(&token)
            .await
            .expect_err("the rotated token could not be saved");
        assert_eq!(err.kind(), CredentialsErrorKind::Store);
        // ...and the live refresh token (R3) is kept for the next renewal, which saves it.
        *store.fail_saves.lock().expect("lock") = false;
        let token = creds
            .refresh_after_rejection(&token)
            .await
            .expect("renewed");
        assert_eq!(token.expose(), "A3");
        assert_eq!(script.sent()[2].get("refresh_token"), Some("R3"));
        assert_eq!(store.load().expect("load").expect("token").expose(), "R4");
    }

    #[tokio::test]
    async fn a_refresh_token_used_twice_is_refused_and_the_store_keeps_the_rotated_one() {
        let store = Arc::new(MemoryTokenStore::new("R1"));
        let script = Scripted::new();
        script.then(200, rotated("A1", "R2")).then(
            400,
            serde_json::json!({"error": "invalid_grant", "error_description": "Invalid refresh token"}),
        );
        let creds = OAuthCredentials::with_shared_store("c", "s", store.clone(), script.endpoint());
        let first = creds.token().await.expect("token");
        // Another process used R2 meanwhile (simulated by Box's answer).
        let err = creds
            .refresh_after_rejection(&first)
            .await
            .expect_err("used twice");
        assert_eq!(err.kind(), CredentialsErrorKind::Refused);
        assert_eq!(err.code(), Some("invalid_grant"));
        assert!(err.to_string().contains("sign in again"), "{err}");
        assert!(!format!("{err} {err:?}").contains("R2"));
        assert_eq!(script.sent().len(), 2, "a refusal is not retried");
        assert_eq!(store.current().expect("token").expose(), "R2");
    }

    #[tokio::test]
    async fn an_empty_store_is_a_config_error() {
        let script = Scripted::new();
        let creds = OAuthCredentials::new("c", "s", MemoryTokenStore::default(), script.endpoint());
        let err = creds.token().await.expect_err("no token");
        assert_eq!(err.kind(), CredentialsErrorKind::Config);
        assert!(script.sent().is_empty());
    }

    #[tokio::test]
    async fn debug_shows_no_secret() {
        let script = Scripted::new();
        script.then(200, rotated("ACCESS-SECRET", "REFRESH-NEXT"));
        let creds = OAuthCredentials::new(
            "client-id-shown",
            "CLIENT-SECRET",
            MemoryTokenStore::new("REFRESH-FIRST"),
            script.endpoint(),
        );
        creds.token().await.expect("token");
        let shown = format!("{creds:?}");
        assert!(shown.contains("client-id-shown"), "{shown}");
        for secret in [
            "ACCESS-SECRET",
            "REFRESH-NEXT",
            "REFRESH-FIRST",
            "CLIENT-SECRET",
        ] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
    }
}
