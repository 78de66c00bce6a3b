//! How much is said on stderr: `-q` (errors only), the default (warnings), `-v` (each retry
//! with its reason and wait), `-vv` (every request and event of the engine), or a filter from
//! `--log-level` or `RUST_LOG`, through `tracing-subscriber` (the engine logs with `tracing`).
//!
//! The engine logs each retry as a debug event with separate fields (`operation`, `attempt`,
//! `reason`, `wait`, `wait_ms`; from an upload's progress, or from the retry loop of a tree's
//! own calls); a layer of its own reads those fields and turns exactly those events into
//! lines, so the rest of the debug log stays hidden: each retry with `-v`, and by default the
//! first that found no server, naming the host.

use std::fmt::Debug;
use std::io::IsTerminal as _;
use std::sync::atomic::{AtomicBool, Ordering};

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::layer::{Context, Layer, SubscriberExt as _};
use tracing_subscriber::EnvFilter;

use crate::args::LogArgs;

/// The verbosity asked for with `-q` and `-v`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Verbosity {
    Quiet,
    Normal,
    Verbose,
    Debug,
}

impl Verbosity {
    pub(crate) fn of(args: &LogArgs) -> Self {
        match (args.quiet, args.verbose) {
            (true, _) => Verbosity::Quiet,
            (false, 0) => Verbosity::Normal,
            (false, 1) => Verbosity::Verbose,
            (false, _) => Verbosity::Debug,
        }
    }

    /// The filter of each verbosity: the engine's retry loop logs at debug, and is shown from
    /// `-v` on.
    fn filter(self) -> &'static str {
        match self {
            Verbosity::Quiet => "error",
            Verbosity::Normal => "warn",
            Verbosity::Verbose => "warn,box_upload=info,box_uploads=info",
            Verbosity::Debug => {
                "info,box_upload=debug,box_uploads=debug,box_uploads_runtime=debug,box_uploads_api=debug"
            }
        }
    }
}

/// The filter in force: `--log-level` wins, then `RUST_LOG`, then `-q`/`-v`.
fn filter(args: &LogArgs, rust_log: Option<String>) -> Result<EnvFilter, String> {
    if let Some(level) = &args.log_level {
        return EnvFilter::try_new(level).map_err(|e| format!("--log-level {level:?}: {e}"));
    }
    if let Some(spec) = rust_log.filter(|s| !s.trim().is_empty()) {
        return EnvFilter::try_new(&spec).map_err(|e| format!("RUST_LOG {spec:?}: {e}"));
    }
    Ok(EnvFilter::new(Verbosity::of(args).filter()))
}

/// The hosts a run talks to, to name the one that cannot be reached.
#[derive(Debug, Clone, Default)]
pub(crate) struct Hosts {
    pub(crate) api_url: String,
    pub(crate) upload_url: String,
}

/// Installs the subscriber that writes log lines to stderr; an invalid filter is a usage error.
pub(crate) fn init(args: &LogArgs, hosts: Hosts) -> Result<Verbosity, String> {
    let rust_log = std::env::var("RUST_LOG").ok();
    let filter = filter(args, rust_log.clone())?;
    let verbosity = Verbosity::of(args);
    let explicit = args.log_level.is_some() || rust_log.is_some_and(|s| !s.trim().is_empty());
    let lines = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(verbosity >= Verbosity::Debug || explicit)
        .without_time()
        .with_filter(filter);
    // An explicit filter or `-vv` shows the retries in the log itself.
    let mode = match verbosity {
        _ if explicit => None,
        Verbosity::Normal => Some(Mode::FirstUnreachable),
        Verbosity::Verbose => Some(Mode::Every),
        Verbosity::Quiet | Verbosity::Debug => None,
    };
    let retries = mode.map(|mode| {
        RetryLines {
            mode,
            hosts,
            warned: AtomicBool::new(false),
        }
        .with_filter(filter_fn(|m| {
            *m.level() == tracing::Level::DEBUG && RETRY_TARGETS.contains(&m.target())
        }))
    });
    let subscriber = tracing_subscriber::registry().with(lines).with(retries);
    // Only `main` installs one; a second (never here) would keep the first.
    let _ = tracing::subscriber::set_global_default(subscriber);
    Ok(verbosity)
}

/// Where the engine logs its retries: an upload's progress events, and the retry loop of calls
/// that report to no upload (a tree's listings and folders).
const RETRY_TARGETS: [&str; 2] = ["box_uploads::upload::progress", "box_uploads::retry"];

/// Which retries are said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// `-v`: each, with its reason and wait.
    Every,
    /// By default: the first that found no server, once, naming the host (else a dead address
    /// is silence until the retries run out).
    FirstUnreachable,
}

/// Prints the retries the engine logs, one line each.
struct RetryLines {
    mode: Mode,
    hosts: Hosts,
    warned: AtomicBool,
}

impl<S: Subscriber> Layer<S> for RetryLines {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let Some(retry) = Retry::of(event) else {
            return;
        };
        match self.mode {
            Mode::Every => crate::output::message(retry.line()),
            Mode::FirstUnreachable => {
                let unreachable = matches!(
                    retry.reason.as_str(),
                    "connect failed" | "timeout" | "connection broken"
                );
                if unreachable && !self.warned.swap(true, Ordering::Relaxed) {
                    let url = if retry.on_upload_host() {
                        &self.hosts.upload_url
                    } else {
                        &self.hosts.api_url
                    };
                    crate::output::message(format_args!(
                        "cannot reach {url} ({}); retrying (-v shows each retry)",
                        retry.reason
                    ));
                }
            }
        }
    }
}

/// A retry, read from the fields the engine logs it with (`operation`, `attempt`, `reason`,
/// `wait` as its `Debug` text, `wait_ms`).
#[derive(Debug, Default, PartialEq, Eq)]
struct Retry {
    operation: String,
    attempt: String,
    reason: String,
    wait: String,
}

/// Gathers a retry's fields from an event; an event without them is no retry.
#[derive(Default)]
struct RetryFields {
    operation: Option<String>,
    attempt: Option<u64>,
    reason: Option<String>,
    wait: Option<String>,
    wait_ms: Option<u64>,
}

impl Visit for RetryFields {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "operation" => self.operation = Some(value.to_string()),
            "reason" => self.reason = Some(value.to_string()),
            _ => {}
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        match field.name() {
            "attempt" => self.attempt = Some(value),
            "wait_ms" => self.wait_ms = Some(value),
            _ => {}
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        if let Ok(value) = u64::try_from(value) {
            self.record_u64(field, value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        if field.name() == "wait" {
            self.wait = Some(format!("{value:?}"));
        }
    }
}

impl Retry {
    /// The retry an event logs, if it is one.
    fn of(event: &Event<'_>) -> Option<Retry> {
        let mut fields = RetryFields::default();
        event.record(&mut fields);
        // The wait as the engine wrote it; from its milliseconds if only those were given.
        let wait = match (fields.wait, fields.wait_ms) {
            (Some(wait), _) => wait,
            (None, Some(ms)) => format!("{:?}", std::time::Duration::from_millis(ms)),
            (None, None) => return None,
        };
        Some(Retry {
            operation: fields.operation?,
            attempt: fields.attempt?.to_string(),
            reason: fields.reason?,
            wait,
        })
    }

    /// `attempt 1 of upload_file failed (HTTP 502 bad_gateway); retrying in 500ms`.
    fn line(&self) -> String {
        format!(
            "attempt {} of {} failed ({}); retrying in {}",
            self.attempt, self.operation, self.reason, self.wait
        )
    }

    /// Uploads and their sessions go to the upload host, the rest to the API host.
    fn on_upload_host(&self) -> bool {
        self.operation.starts_with("upload") || self.operation.contains("session")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log_args(quiet: bool, verbose: u8, level: Option<&str>) -> LogArgs {
        LogArgs {
            quiet,
            verbose,
            log_level: level.map(str::to_string),
        }
    }

    #[test]
    fn the_log_level_wins_then_rust_log_then_the_flags() {
        let f = filter(&log_args(true, 0, Some("debug")), Some("trace".into())).expect("valid");
        assert_eq!(f.to_string(), "debug");
        let f = filter(&log_args(true, 0, None), Some("box_uploads=trace".into())).expect("valid");
        assert_eq!(f.to_string(), "box_uploads=trace");
        let f = filter(&log_args(false, 1, None), Some(" ".into())).expect("valid");
        assert!(f.to_string().contains("box_uploads=info"), "{f}");
        assert_eq!(Verbosity::of(&log_args(false, 3, None)), Verbosity::Debug);
        assert!(filter(&log_args(false, 0, Some("no such=level=x")), None).is_err());
    }

    /// Collects the retries read from the events logged while it is the default subscriber.
    #[derive(Clone, Default)]
    struct Seen(std::sync::Arc<std::sync::Mutex<Vec<Option<Retry>>>>);

    impl<S: Subscriber> Layer<S> for Seen {
        fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
            if let Ok(mut seen) = self.0.lock() {
                seen.push(Retry::of(event));
            }
        }
    }

    fn retries_of(log: impl FnOnce()) -> Vec<Option<Retry>> {
        let seen = Seen::default();
        let subscriber = tracing_subscriber::registry().with(seen.clone());
        tracing::subscriber::with_default(subscriber, log);
        let seen = seen.0.lock().map(|mut s| std::mem::take(&mut *s));
        seen.unwrap_or_default()
    }

    #[test]
    fn a_retry_event_is_one_line_with_its_reason_and_wait() {
        // The fields the engine logs a retry with.
        let wait = std::time::Duration::from_millis(1500);
        let mut seen = retries_of(|| {
            tracing::debug!(
                operation = "upload_file",
                attempt = 2u32,
                reason = "HTTP 502 bad_gateway",
                wait_ms = 1500u64,
                wait = ?wait,
                "attempt 2 of upload_file failed (HTTP 502 bad_gateway); retrying in 1.5s"
            );
            tracing::debug!(
                operation = "get_folder_items",
                attempt = 1u32,
                reason = "timeout",
                wait_ms = 250u64,
                "retrying"
            );
            let other = box_uploads::upload::ProgressEvent::Committed {
                file_id: "1".into(),
            };
            tracing::debug!(event = ?other, "upload progress");
        });
        assert_eq!(seen.len(), 3);
        let retry = seen.remove(0).expect("a retry");
        assert_eq!(
            retry.line(),
            "attempt 2 of upload_file failed (HTTP 502 bad_gateway); retrying in 1.5s"
        );
        assert!(retry.on_upload_host());
        // Only the milliseconds: the wait is read from them.
        let listing = seen.remove(0).expect("a retry");
        assert_eq!(
            listing.line(),
            "attempt 1 of get_folder_items failed (timeout); retrying in 250ms"
        );
        assert!(!listing.on_upload_host());
        assert_eq!(seen.remove(0), None);
    }
}
