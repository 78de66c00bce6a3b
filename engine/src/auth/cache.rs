//! The token cache every renewable credential shares: refresh ahead of expiry, one refresh at a
//! time, and one renewal after a 401.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use box_uploads_runtime::{
    Credentials, CredentialsError, CredentialsErrorKind, Secret, TokenFuture,
};
use tokio::sync::Mutex;
use tokio::time::Instant;

/// A token as the token endpoint issued it.
pub(crate) struct IssuedToken {
    pub(crate) access_token: Secret,
    /// Box's `expires_in`: about an hour, but read it rather than assume 3600 (Box's own example
    /// answer says 4123).
    pub(crate) expires_in: Duration,
}

/// What [`Grant::fetch`] returns.
pub(crate) type GrantFuture<'a> =
    Pin<Box<dyn Future<Output = Result<IssuedToken, CredentialsError>> + Send + 'a>>;

/// One way of getting a new access token (client credentials, a JWT assertion, a refresh token).
pub(crate) trait Grant: Send + Sync + fmt::Debug + 'static {
    fn fetch(&self) -> GrantFuture<'_>;
}

/// How long before expiry a token is renewed: 60 s for Box's hour-long tokens, a tenth of the
/// lifetime for short ones (so a 3 s token is used for 2.7 s, not renewed before every request).
pub(crate) fn refresh_margin(lifetime: Duration) -> Duration {
    (lifetime / 10).min(Duration::from_secs(60))
}

/// A token renewed after a 401 and refused again within this time was refused for another
/// reason than expiry: renewing again would only loop. Later, it may simply have expired (or
/// been revoked by an operator): it is renewed.
pub(crate) const REJECTION_WINDOW: Duration = Duration::from_secs(30);

struct Cached {
    token: Secret,
    issued_at: Instant,
    refresh_at: Instant,
    /// Issued because the server refused its predecessor: if this one is refused too (soon),
    /// the problem is not expiry, and another refresh would only loop.
    after_rejection: bool,
}

/// Caches the token of a [`Grant`] and implements [`Credentials`] on top.
///
/// The mutex is held while a refresh runs, so concurrent callers (every part in flight) wait
/// for that one refresh instead of starting their own: with Box's single-use refresh tokens, a
/// second concurrent refresh would even invalidate the first.
pub(crate) struct TokenCache<G> {
    grant: G,
    state: Mutex<Option<Cached>>,
}

impl<G: Grant> TokenCache<G> {
    pub(crate) fn new(grant: G) -> Self {
        TokenCache {
            grant,
            state: Mutex::new(None),
        }
    }

    async fn renew(&self, after_rejection: bool) -> Result<Cached, CredentialsError> {
        let issued = self.grant.fetch().await?;
        let lifetime = issued.expires_in;
        let now = Instant::now();
        Ok(Cached {
            token: issued.access_token,
            issued_at: now,
            refresh_at: now + lifetime.saturating_sub(refresh_margin(lifetime)),
            after_rejection,
        })
    }

    async fn current(&self) -> Result<Secret, CredentialsError> {
        let mut state = self.state.lock().await;
        if let Some(cached) = state.as_ref() {
            if Instant::now() < cached.refresh_at {
                return Ok(cached.token.clone());
            }
        }
        let fresh = self.renew(false).await?;
        let token = fresh.token.clone();
        *state = Some(fresh);
        Ok(token)
    }

    async fn after_rejection(&self, rejected: &Secret) -> Result<Secret, CredentialsError> {
        let mut state = self.state.lock().await;
        if let Some(cached) = state.as_ref() {
            if cached.token.expose() != rejected.expose() {
                // Another request already renewed it.
                return Ok(cached.token.clone());
            }
            if cached.after_rejection && cached.issued_at.elapsed() < REJECTION_WINDOW {
                return Err(CredentialsError::new(
                    CredentialsErrorKind::Rejected,
                    "the server refused a token issued just now (HTTP 401), so expiry is not \
                     the cause: check that the app is authorized in the enterprise and may act \
                     for this user",
                ));
            }
        }
        let fresh = self.renew(true).await?;
        let token = fresh.token.clone();
        *state = Some(fresh);
        Ok(token)
    }
}

impl<G: Grant> fmt::Debug for TokenCache<G> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenCache")
            .field("grant", &self.grant)
            .finish_non_exhaustive()
    }
}

impl<G: Grant> Credentials for TokenCache<G> {
    fn token(&self) -> TokenFuture<'_> {
        Box::pin(self.current())
    }

    fn refresh_after_rejection<'a>(&'a self, rejected: &'a Secret) -> TokenFuture<'a> {
        Box::pin(self.after_rejection(rejected))
    }

    fn can_refresh(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use super::*;

    /// Issues `token-1`, `token-2`, ... with the given lifetime, slowly, counting fetches.
    #[derive(Debug)]
    struct Counting {
        fetches: Arc<AtomicUsize>,
        lifetime: Duration,
    }

    impl Grant for Counting {
        fn fetch(&self) -> GrantFuture<'_> {
            Box::pin(async move {
                tokio::time::sleep(Duration::from_millis(50)).await;
                let n = self.fetches.fetch_add(1, Ordering::SeqCst) + 1;
                Ok(IssuedToken {
                    access_token: Secret::new(format!("token-{n}")),
                    expires_in: self.lifetime,
                })
            })
        }
    }

    fn cache(lifetime: Duration) -> (Arc<TokenCache<Counting>>, Arc<AtomicUsize>) {
        let fetches = Arc::new(AtomicUsize::new(0));
        let grant = Counting {
            fetches: fetches.clone(),
            lifetime,
        };
        (Arc::new(TokenCache::new(grant)), fetches)
    }

    #[test]
    fn margin_is_a_minute_for_hour_long_tokens_and_a_tenth_for_short_ones() {
        assert_eq!(
            refresh_margin(Duration::from_secs(3600)),
            Duration::from_secs(60)
        );
        assert_eq!(
            refresh_margin(Duration::from_secs(4123)),
            Duration::from_secs(60)
        );
        assert_eq!(
            refresh_margin(Duration::from_secs(3)),
            Duration::from_millis(300)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn many_concurrent_callers_share_one_refresh() {
        let (cache, fetches) = cache(Duration::from_secs(3600));
        let calls: Vec<_> = (0..32)
            .map(|_| {
                let cache = cache.clone();
                tokio::spawn(async move { cache.token().await })
            })
            .collect();
        for call in calls {
            let token = call.await.expect("joins").expect("token");
            assert_eq!(token.expose(), "token-1");
        }
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_token_is_renewed_ahead_of_expiry_not_on_every_request() {
        let (cache, fetches) = cache(Duration::from_secs(3));
        assert_eq!(cache.token().await.expect("token").expose(), "token-1");
        tokio::time::sleep(Duration::from_millis(2_500)).await;
        assert_eq!(cache.token().await.expect("token").expose(), "token-1");
        // 2.7 s after issue (3 s minus a tenth), it is renewed.
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(cache.token().await.expect("token").expose(), "token-2");
        assert_eq!(fetches.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn many_rejections_of_one_token_renew_it_once() {
        let (cache, fetches) = cache(Duration::from_secs(3600));
        let first = cache.token().await.expect("token");
        let calls: Vec<_> = (0..16)
            .map(|_| {
                let (cache, first) = (cache.clone(), first.clone());
                tokio::spawn(async move { cache.refresh_after_rejection(&first).await })
            })
            .collect();
        for call in calls {
            let token = call.await.expect("joins").expect("renewed");
            assert_eq!(token.expose(), "token-2");
        }
        assert_eq!(fetches.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_token_refused_right_after_renewal_is_an_error_that_says_so() {
        let (cache, fetches) = cache(Duration::from_secs(3600));
        let first = cache.token().await.expect("token");
        let second = cache
            .refresh_after_rejection(&first)
            .await
            .expect("renewed");
        let err = cache
            .refresh_after_rejection(&second)
            .await
            .expect_err("no loop of refreshes");
        assert_eq!(err.kind(), CredentialsErrorKind::Rejected);
        assert!(err.to_string().contains("issued just now"), "{err}");
        assert_eq!(fetches.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_renewed_token_refused_long_after_is_renewed_again() {
        let (cache, fetches) = cache(Duration::from_secs(3600));
        let first = cache.token().await.expect("token");
        let second = cache
            .refresh_after_rejection(&first)
            .await
            .expect("renewed");
        tokio::time::sleep(REJECTION_WINDOW).await;
        let third = cache
            .refresh_after_rejection(&second)
            .await
            .expect("expired or revoked since: renewed");
        assert_eq!(third.expose(), "token-3");
        assert_eq!(fetches.load(Ordering::SeqCst), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_renewal_is_not_cached_and_the_next_call_tries_again() {
        #[derive(Debug)]
        struct FailsOnce(AtomicUsize);
        impl Grant for FailsOnce {
            fn fetch(&self) -> GrantFuture<'_> {
                Box::pin(async move {
                    if self.0.fetch_add(1, Ordering::SeqCst) == 0 {
                        Err(CredentialsError::new(
                            CredentialsErrorKind::Unavailable,
                            "down",
                        ))
                    } else {
                        Ok(IssuedToken {
                            access_token: Secret::new("ok"),
                            expires_in: Duration::from_secs(3600),
                        })
                    }
                })
            }
        }
        let cache = TokenCache::new(FailsOnce(AtomicUsize::new(0)));
        let err = cache.token().await.expect_err("first renewal fails");
        assert!(err.is_retryable());
        assert_eq!(cache.token().await.expect("second works").expose(), "ok");
    }

    #[test]
    fn debug_shows_no_token() {
        let (cache, _) = cache(Duration::from_secs(3600));
        let shown = format!("{cache:?}");
        assert!(shown.contains("TokenCache"), "{shown}");
        assert!(!shown.contains("token-"), "{shown}");
    }
}
