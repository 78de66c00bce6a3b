//! The user's upload limit: `max_upload_size` of `GET /users/me`, asked once per
//! [`Uploader`](super::Uploader) (shared by its clones and by every file of a tree) on its first
//! upload, and checked before an upload sends a byte.
//!
//! The check is a courtesy, not a gate: Box itself refuses a file over the limit (413
//! `file_size_limit_exceeded`, at session creation or at the upload), only later, after a
//! direct upload has sent the whole file. So when the user cannot be read (401/403/404, a
//! transport failure, any other error) the upload goes on unchecked, and Box's answer decides.
//! Two failures stop the upload, since its own first call would meet them again: no access
//! token could be had (the credentials were refused), or Box refused a token that cannot be
//! renewed (401 to a fixed token). Then nothing is remembered, and the next upload asks again.

use std::future::Future;
use std::pin::Pin;

use tokio::sync::OnceCell;

use super::calls::{CallError, CallErrorKind, UploadCalls as _};
use super::client_impl::call_error;
use super::error::{SizeLimit, UploadError, UploadErrorKind};
use super::source::Peek;
use crate::operations::GetCurrentUserRequest;
use crate::Client;

/// The operation that reads the limit.
const OPERATION: &str = "get_current_user";

/// What asks for the limit: `Ok(None)` when Box left it out.
type Ask = Box<
    dyn Fn() -> Pin<Box<dyn Future<Output = Result<Option<u64>, CallError>> + Send>> + Send + Sync,
>;

/// The user's largest upload, asked for at most once.
pub(crate) struct UserLimits {
    ask: Ask,
    /// A 401 is final: the token cannot be renewed.
    fixed_token: bool,
    max_upload_size: OnceCell<Option<u64>>,
}

impl std::fmt::Debug for UserLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserLimits")
            .field("max_upload_size", &self.max_upload_size.get())
            .finish_non_exhaustive()
    }
}

impl UserLimits {
    /// Limits read with `ask` (called at most once, on the first check); `fixed_token`: a 401
    /// is final.
    pub(crate) fn new(ask: Ask, fixed_token: bool) -> Self {
        UserLimits {
            ask,
            fixed_token,
            max_upload_size: OnceCell::new(),
        }
    }

    /// Limits read from Box through `client` (`GET /users/me?fields=max_upload_size`).
    pub(crate) fn of_client(client: Client) -> Self {
        let fixed_token = !client.can_refresh_credentials();
        UserLimits::new(
            Box::new(move || {
                let client = client.clone();
                Box::pin(async move { ask_box(&client).await })
            }),
            fixed_token,
        )
    }

    /// The user's largest upload in bytes, if known. Concurrent first callers wait for one
    /// call, made once (no retries: a failure lets uploads go on unchecked); refused
    /// credentials are the error, and the next caller asks again.
    pub(crate) async fn max_upload_size(&self) -> Result<Option<u64>, UploadError> {
        let max = self
            .max_upload_size
            .get_or_try_init(|| async {
                match (self.ask)().await {
                    Ok(max) => {
                        tracing::debug!(max_upload_size = ?max, "read the user's upload limit");
                        Ok(max)
                    }
                    Err(e)
                        if e.kind() == CallErrorKind::Credentials
                            || (self.fixed_token && e.status() == Some(401)) =>
                    {
                        Err(UploadError::api(OPERATION, 1, e))
                    }
                    Err(e) => {
                        tracing::debug!(
                            error = %e,
                            "cannot read the user's upload limit; uploads go on unchecked"
                        );
                        Ok(None)
                    }
                }
            })
            .await?;
        Ok(*max)
    }

    /// Refuses an upload of `size` bytes over the user's limit, before anything is sent.
    /// `operation` is the call Box would refuse.
    pub(crate) async fn check(
        &self,
        operation: &'static str,
        size: u64,
    ) -> Result<(), UploadError> {
        match self.max_upload_size().await? {
            Some(max) if size > max => Err(UploadErrorKind::TooLarge {
                operation,
                attempts: 0,
                size,
                limit: SizeLimit::MaxUploadSize(max),
            }
            .into()),
            _ => Ok(()),
        }
    }
}

/// The size of what `peek` shows, without opening it: `None` when a file's size cannot be read.
pub(crate) async fn peeked_size(peek: Peek) -> Option<u64> {
    match peek {
        Peek::Path(path) => tokio::fs::metadata(&path).await.ok().map(|m| m.len()),
        Peek::Reader { size } => Some(size),
        Peek::Bytes(bytes) => Some(bytes.len() as u64),
    }
}

/// Asks Box for the user's `max_upload_size` alone.
async fn ask_box(client: &Client) -> Result<Option<u64>, CallError> {
    let request = GetCurrentUserRequest::new().with_fields(vec!["max_upload_size".into()]);
    let user = client.get_current_user(request).await.map_err(call_error)?;
    Ok(user.max_upload_size.and_then(|m| u64::try_from(m).ok()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    fn limits(max: Option<u64>, asked: Arc<AtomicUsize>) -> UserLimits {
        UserLimits::new(
            Box::new(move || {
                asked.fetch_add(1, Ordering::SeqCst);
                Box::pin(async move { Ok(max) })
            }),
            true,
        )
    }

    fn failing(kind: CallErrorKind, asked: Arc<AtomicUsize>) -> UserLimits {
        UserLimits::new(
            Box::new(move || {
                asked.fetch_add(1, Ordering::SeqCst);
                Box::pin(async move { Err(CallError::new(kind, "no".to_string())) })
            }),
            true,
        )
    }

    #[tokio::test]
    async fn asks_once_and_refuses_only_what_is_over() {
        let asked = Arc::new(AtomicUsize::new(0));
        let l = limits(Some(1000), asked.clone());
        assert!(l.check("upload_file", 1000).await.is_ok());
        let err = l
            .check("upload_file", 1001)
            .await
            .expect_err("over the limit");
        assert_eq!(
            err.kind(),
            &UploadErrorKind::TooLarge {
                operation: "upload_file",
                attempts: 0,
                size: 1001,
                limit: SizeLimit::MaxUploadSize(1000),
            }
        );
        let text = err.to_string();
        assert!(
            text.contains("1001 bytes") && text.contains("1000 bytes"),
            "{text}"
        );
        assert_eq!(asked.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn an_unknown_limit_lets_everything_through() {
        let asked = Arc::new(AtomicUsize::new(0));
        let l = limits(None, asked.clone());
        assert!(l.check("create_upload_session", u64::MAX).await.is_ok());
        assert!(l.check("create_upload_session", u64::MAX).await.is_ok());
        assert_eq!(asked.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_failed_read_lets_uploads_go_on_and_is_not_asked_again() {
        let asked = Arc::new(AtomicUsize::new(0));
        let l = failing(CallErrorKind::Connect, asked.clone());
        assert!(l.check("upload_file", u64::MAX).await.is_ok());
        assert!(l.check("upload_file", u64::MAX).await.is_ok());
        assert_eq!(asked.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn refused_credentials_stop_the_upload_and_are_asked_again() {
        let asked = Arc::new(AtomicUsize::new(0));
        let l = failing(CallErrorKind::Credentials, asked.clone());
        let err = l.check("upload_file", 1).await.expect_err("refused");
        assert!(
            matches!(
                err.kind(),
                UploadErrorKind::Api {
                    operation: "get_current_user",
                    attempts: 1
                }
            ),
            "{err:?}"
        );
        assert!(l.check("upload_file", 1).await.is_err());
        assert_eq!(asked.load(Ordering::SeqCst), 2);
    }
}
