//! How much is said on stderr: `-q` (errors only), the default (warnings), `-v` (each retry
//! with its reason and wait), `-vv` (every request and event of the engine), or a filter from
//! `--log-level` or `RUST_LOG`, through `tracing-subscriber` (the engine logs with `tracing`).

use std::io::IsTerminal as _;

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
            Verbosity::Verbose => "warn,box_upload=info,box_uploads=info,box_uploads::retry=debug",
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

/// Installs the subscriber that writes log lines to stderr; an invalid filter is a usage error.
pub(crate) fn init(args: &LogArgs) -> Result<Verbosity, String> {
    let filter = filter(args, std::env::var("RUST_LOG").ok())?;
    let verbosity = Verbosity::of(args);
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(verbosity >= Verbosity::Debug || args.log_level.is_some())
        .without_time()
        .finish();
    // Only `main` installs one; a second (never here) would keep the first.
    let _ = tracing::subscriber::set_global_default(subscriber);
    Ok(verbosity)
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
        assert!(f.to_string().contains("box_uploads::retry=debug"), "{f}");
        assert_eq!(Verbosity::of(&log_args(false, 3, None)), Verbosity::Debug);
        assert!(filter(&log_args(false, 0, Some("no such=level=x")), None).is_err());
    }
}
