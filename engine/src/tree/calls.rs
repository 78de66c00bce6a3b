//! How a tree upload talks to Box: every API call and every upload spaced by the run's rate
//! limiter, retried under the uploader's policy, and a 429 anywhere slowing the whole run.

use std::future::Future;

use box_uploads_runtime::{self as rt, OperationError};

use super::context::Run;
use crate::models::FileFull;
use crate::upload::{call_error, CallError, ProgressEvent, Upload, UploadError, UploadErrorKind};

/// The error for a call that failed after `attempts` attempts.
pub(crate) fn api_failure(operation: &'static str, attempts: u32, err: CallError) -> UploadError {
    UploadError::from(UploadErrorKind::Api {
        operation,
        attempts,
    })
    .with_source(err)
}

impl Run {
    /// One API call, spaced by the limiter and retried as the uploads' calls are (429, 5xx,
    /// timeouts). A 429 slows the whole run.
    pub(crate) async fn call<T, E, F, Fut>(&self, mut f: F) -> Result<T, (u32, CallError)>
    where
        E: OperationError + Send + Sync + 'static,
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, rt::Error<E>>>,
    {
        let policy = self.uploader.config().retry.clone();
        let mut attempt = 0u32;
        loop {
            self.limiter.acquire(1, 0).await;
            attempt += 1;
            let err = match f().await {
                Ok(v) => return Ok(v),
                Err(e) => call_error(e),
            };
            if err.status() == Some(429) {
                self.limiter.throttled(err.retry_after());
            }
            if !err.is_retryable() || attempt >= policy.max_attempts {
                return Err((attempt, err));
            }
            let wait = err
                .retry_after()
                .unwrap_or_else(|| crate::upload::jittered(policy.backoff(attempt)));
            tokio::time::sleep(wait).await;
        }
    }

    /// An upload, spaced by the limiter (one upload; its requests estimated from its size),
    /// whose 429s slow the whole run.
    pub(crate) async fn upload(&self, upload: Upload, size: u64) -> Result<FileFull, UploadError> {
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
