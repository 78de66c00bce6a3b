//! Ctrl-C during an upload: the run raced against the signal (an interrupted run exits 130,
//! `Exit::Interrupted`). What an interrupted run leaves behind (a session to resume, or
//! nothing) is the caller's to decide and to say.

use std::future::Future;

use crate::output::Bar;

/// How a run raced against Ctrl-C ended.
pub(crate) enum Ended<T, R> {
    /// The run ended first, with this result.
    Finished(T),
    /// Ctrl-C came first; the run, unfinished, to stop or to drop.
    Interrupted(R),
}

/// Waits for `run` or for Ctrl-C, whichever comes first, then clears `bar` so that the message
/// after it starts on a clean line.
pub(crate) async fn until_ctrl_c<R: Future + Unpin>(mut run: R, bar: Bar) -> Ended<R::Output, R> {
    let ended = tokio::select! {
        result = &mut run => Ended::Finished(result),
        // An error (no handler for the signal could be set up) ends the wait as Ctrl-C does.
        _ = tokio::signal::ctrl_c() => Ended::Interrupted(run),
    };
    bar.clear();
    ended
}
