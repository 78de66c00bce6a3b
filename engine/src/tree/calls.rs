//! How a tree upload talks to Box: every API call and every upload spaced by the run's rate
//! limiter, retried under the uploader's policy, and a 429 anywhere slowing the whole run.

use std::future::Future;

use box_uploads_runtime::{self as rt, OperationError};
use futures_util::TryFutureExt as _;

use super::context::Run;
use crate::models::FileFull;
use crate::retry::RetryContext;
use crate::upload::{call_error, ProgressEvent, Upload, UploadError, UploadTarget};

impl Run {
    /// One API call to `operation`, through the crate's retry loop: each attempt waits for the
    /// limiter (a plain request), a 429 slows the whole run (the limiter is the loop's
    /// throttle), transient failures are retried under the uploader's policy (attempts and
    /// deadline), and a 401 is sent once more when the credentials renewed the token.
    /// Cancelling the run drops this future, ending any wait at once.
    pub(crate) async fn call<T, E, F, Fut>(
        &self,
        operation: &'static str,
        mut f: F,
    ) -> Result<T, UploadError>
    where
        E: OperationError + Send + Sync + 'static,
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, rt::Error<E>>>,
    {
        let policy = &self.uploader.config().retry;
        RetryContext::new(policy)
            .throttled(&self.limiter)
            .renewing_credentials(self.can_renew_credentials())
            .call(operation, || f().map_err(call_error))
            .await
    }

    /// The client's credentials can renew a refused token.
    fn can_renew_credentials(&self) -> bool {
        let core = self.uploader.client().core();
        core.credentials().is_some_and(|c| c.can_refresh())
    }

    /// An upload, spaced by the limiter (one upload; its requests estimated from its size),
    /// whose 429s slow the whole run.
    pub(crate) async fn upload<T: UploadTarget>(
        &self,
        upload: Upload<T>,
        size: u64,
    ) -> Result<FileFull, UploadError> {
        let config = self.uploader.config();
        let requests = if size > config.chunked_cutoff && size >= config.min_chunked_size {
            // Create, parts (Box's smallest part is 8 MiB), commit.
            u32::try_from(size.div_ceil(8 * 1024 * 1024) + 2).unwrap_or(u32::MAX)
        } else {
            1
        };
        self.limiter.acquire(requests, 1).await;
        let handle = self.uploader.start_upload(upload);
        let mut events = handle.events();
        let limiter = self.limiter.clone();
        let watcher = tokio::spawn(async move {
            loop {
                match events.recv().await {
                    Ok(ProgressEvent::Retry { reason, wait, .. })
                        if reason.starts_with("HTTP 429") =>
                    {
                        limiter.throttled(Some(wait));
                    }
                    Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                }
            }
        });
        let progress = handle.progress();
        let result = handle.join().await;
        watcher.abort();
        // Parts beyond the estimate are charged now: later calls wait for them.
        let parts = progress.borrow().total_parts;
        let made = u32::try_from(parts.saturating_add(2)).unwrap_or(u32::MAX);
        if parts > 1 && made > requests {
            self.limiter.acquire(made - requests, 0).await;
        }
        result
    }
}
