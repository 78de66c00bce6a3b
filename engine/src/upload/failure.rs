//! An API call's failure as the retry loop judges it: `CallError` implements
//! [`Failure`](crate::retry::Failure), and a call that gives up ends in an [`UploadError`].
//! A module of its own so that neither the call errors nor the upload error import the retry
//! loop. (The upload's progress reporter and cancellation meet the loop where they are defined,
//! as its `RetryObserver` and `CancelSignal`.)

use std::time::Duration;

use super::calls::CallError;
use super::error::UploadError;

/// An API call's failure, as the retry loop sees it: a call that gives up ends in an
/// [`UploadError`] naming the operation and the attempts made.
impl crate::retry::Failure for CallError {
    type Final = UploadError;

    fn is_retryable(&self) -> bool {
        CallError::is_retryable(self)
    }
    fn retry_after(&self) -> Option<Duration> {
        CallError::retry_after(self)
    }
    fn status(&self) -> Option<u16> {
        CallError::status(self)
    }
    fn may_have_taken_effect(&self) -> bool {
        CallError::may_have_taken_effect(self)
    }
    fn reason(&self) -> String {
        CallError::reason(self)
    }
    fn gave_up(self, operation: &'static str, attempts: u32) -> UploadError {
        UploadError::api(operation, attempts, self)
    }
    fn cancelled() -> UploadError {
        UploadError::cancelled()
    }
}
