//! What one running upload shares with its steps (opening a session, the parts, the commit, a
//! direct upload): the resolved [`Job`] and the [`Ctx`] of calls, settings, progress and cancel.
//! The steps import this module, never the engine that starts them.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::adaptive::{congestion_of, Parallelism};
use super::calls::{CallError, FileDates, Target, UploadCalls};
use super::handle::Cancellation;
use super::progress::Reporter;
use super::UploadConfig;
use crate::retry::{RetryContext, RetryPolicy};

/// Everything one upload needs, resolved from the [`Upload`](super::Upload) and the engine's defaults.
pub(crate) struct Job {
    pub target: Target,
    pub if_match: Option<String>,
    pub state_file: Option<PathBuf>,
    pub keep_session_on_failure: bool,
    pub retry: RetryPolicy,
    pub commit_deadline: Duration,
    /// The content's dates sent with the upload, if any.
    pub dates: Option<FileDates>,
    /// Ask Box which parts it holds already and send only the others (a chunked new version,
    /// unless turned off).
    pub reuse_parts: bool,
}

/// What the running upload shares with its parts.
pub(crate) struct Ctx<A> {
    pub api: A,
    pub config: Arc<UploadConfig>,
    pub parallelism: Parallelism,
    pub reporter: Reporter,
    pub cancel: Cancellation,
}

impl<A: Clone> Clone for Ctx<A> {
    fn clone(&self) -> Self {
        Ctx {
            api: self.api.clone(),
            config: self.config.clone(),
            parallelism: self.parallelism.clone(),
            reporter: self.reporter.clone(),
            cancel: self.cancel.clone(),
        }
    }
}

impl<A: UploadCalls> Ctx<A> {
    /// How the calls of the upload are retried: reported as progress, stopped by a cancel, and
    /// tried once more after a 401 when the credentials could renew the token.
    pub(crate) fn retry<'a>(&'a self, policy: &'a RetryPolicy) -> RetryContext<'a> {
        RetryContext::new(policy)
            .reporting(&self.reporter)
            .cancellable(&self.cancel)
            .renewing_credentials(self.api.can_refresh_credentials())
    }
}

impl<A> Ctx<A> {
    /// The time allowed for one attempt at sending `len` bytes.
    pub(crate) fn transfer_timeout(&self, len: u64) -> Duration {
        let per_byte = self.config.min_throughput.max(1);
        self.config.request_timeout_base + Duration::from_secs(len / per_byte)
    }

    /// Sends one request carrying `len` bytes of file content (a part, or a whole direct
    /// upload): in a place of the uploader's parallelism (the end of a chunked upload may go
    /// past its limit: the parts not answered yet are counted from the progress), within the
    /// transfer timeout, and telling the parallelism how it went (a sample when answered, a
    /// back-off on congestion).
    pub(crate) async fn send_content<T>(
        &self,
        len: u64,
        call: impl Future<Output = Result<T, CallError>>,
    ) -> Result<T, CallError> {
        let permit = self
            .parallelism
            .acquire_part(|| self.reporter.parts_left())
            .await;
        let _in_flight = self.reporter.in_flight();
        let timeout = self.transfer_timeout(len);
        let result = tokio::time::timeout(timeout, call)
            .await
            .unwrap_or_else(|_| Err(CallError::timeout(timeout)));
        match &result {
            Ok(_) => permit.completed(len),
            Err(e) => {
                if let Some(why) = congestion_of(e) {
                    permit.congested(why);
                }
            }
        }
        result
    }
}
