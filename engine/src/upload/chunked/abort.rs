//! Aborting an upload session that will not be committed: at once after a failure, or from a
//! guard when the upload is dropped (cancelled), retried patiently because a session left
//! behind holds storage until it expires.

use std::time::Duration;

use crate::retry::{RetryContext, RetryPolicy, Step};
use crate::upload::calls::{SessionInfo, UploadCalls};
use crate::upload::context::Ctx;
use crate::upload::error::Chain;
use crate::upload::progress::ProgressEvent;

/// Aborts the session when the upload is dropped (cancelled) without deciding otherwise.
pub(super) struct SessionGuard<A: UploadCalls> {
    pub(super) api: A,
    pub(super) abort_url: String,
    pub(super) session_id: String,
    pub(super) armed: bool,
}

impl<A: UploadCalls> Drop for SessionGuard<A> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            let api = self.api.clone();
            let url = std::mem::take(&mut self.abort_url);
            let id = std::mem::take(&mut self.session_id);
            handle.spawn(async move {
                abort_with_retries(&api, &url, &id).await;
            });
        }
    }
}

pub(super) async fn abort_session<A: UploadCalls>(ctx: &Ctx<A>, session: &SessionInfo) {
    if abort_with_retries(&ctx.api, &session.endpoints.abort, &session.id).await {
        ctx.reporter.event(ProgressEvent::SessionAborted {
            session_id: session.id.clone(),
        });
    }
}

/// Aborts a session, retrying transient failures (a pooled connection may have been broken by
/// the cancelled part uploads). True when the session is gone.
pub(super) async fn abort_with_retries<A: UploadCalls>(
    api: &A,
    url: &str,
    session_id: &str,
) -> bool {
    // Patient on purpose: a session left behind holds storage until it expires (7 days), and
    // the call that failed may have failed from a rate limit that also answers this one.
    let patient = RetryPolicy {
        max_attempts: 10,
        initial_backoff: Duration::from_millis(200),
        max_backoff: Duration::from_secs(5),
        deadline: Duration::from_secs(60),
    };
    let aborted = RetryContext::new(&patient)
        .run("abort_upload_session", |_| async move {
            match api.abort(url).await {
                Ok(()) => Step::Done(()),
                // Already gone (aborted, expired, committed by an earlier attempt): nothing to do.
                Err(e) if matches!(e.status(), Some(404) | Some(410)) => Step::Done(()),
                Err(e) => Step::Failed(e),
            }
        })
        .await;
    match aborted {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!(session_id, error = %Chain(&e), "could not abort the upload session");
            false
        }
    }
}
