//! How much is said on stderr: `-q` (errors only), the default (warnings), `-v` (each retry
//! with its reason and wait), `-vv` (every request and event of the engine), or a filter from
//! `--log-level` or `RUST_LOG`, through `tracing-subscriber` (the engine logs with `tracing`).
//!
//! The engine logs each retry as a debug event carrying its `ProgressEvent::Retry` (from an
//! upload's progress, or from the retry loop of a tree's own calls); a layer of its own turns
//! exactly those into lines, so the rest of the debug log stays hidden: each retry with `-v`,
//! and by default the first that found no server, naming the host.

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
        let mut field = EventField(None);
        event.record(&mut field);
        let Some(retry) = field.0.as_deref().and_then(Retry::parse) else {
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

/// The `event` field of a log event, as its `Debug` text.
struct EventField(Option<String>);

impl Visit for EventField {
    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        if field.name() == "event" {
            self.0 = Some(format!("{value:?}"));
        }
    }
}

/// A retry, read back from the `Debug` text of the engine's `ProgressEvent::Retry` (the log
/// carries it as such).
#[derive(Debug, PartialEq, Eq)]
struct Retry {
    operation: String,
    attempt: String,
    reason: String,
    wait: String,
}

impl Retry {
    fn parse(debug: &str) -> Option<Retry> {
        let fields = debug.strip_prefix("Retry {")?;
        let field = |name: &str, end: &str| -> Option<String> {
            let start = fields.find(name)? + name.len();
            let len = fields[start..].find(end)?;
            Some(fields[start..start + len].to_string())
        };
        Some(Retry {
            operation: field("operation: \"", "\"")?,
            attempt: field("attempt: ", ",")?,
            reason: field("reason: \"", "\"")?,
            wait: field("wait: ", " }")?,
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

    #[test]
    fn a_retry_event_is_one_line_with_its_reason_and_wait() {
        let event = box_uploads::upload::ProgressEvent::Retry {
            operation: "upload_file",
            attempt: 2,
            reason: "HTTP 502 bad_gateway".into(),
            wait: std::time::Duration::from_millis(1500),
        };
        let retry = Retry::parse(&format!("{event:?}")).expect("a retry");
        assert_eq!(
            retry.line(),
            "attempt 2 of upload_file failed (HTTP 502 bad_gateway); retrying in 1.5s"
        );
        assert!(retry.on_upload_host());
        let other = box_uploads::upload::ProgressEvent::Committed {
            file_id: "1".into(),
        };
        assert_eq!(Retry::parse(&format!("{other:?}")), None);
    }
}
