//! The targets the bench holds the engine to, and whether this run's figures meet each: a
//! multiple of the best peer and a share of the link on every profile, CPU against the
//! two-pass SHA-1 floor, peak RSS within the engine's memory bound, `codegen --check` under
//! a second, the many-small-files case, and the new version with one changed region against a
//! full upload and boxsdk 10's version upload; over HTTPS on loopback, CPU against the floor
//! and boxsdk 3.x's and throughput against boxsdk 3.x's ([`tls`]). A target not met says why, from the run's own
//! figures ([`why`]).

mod judge;
mod small_files;
mod tls;
mod version_reuse;
pub mod why;

pub use judge::judge;
pub use small_files::{engine as small_files_engine, is_small_files};
pub use version_reuse::{is_version_reuse, FULL_RATIO};

use serde::{Deserialize, Serialize};

/// At least this multiple of the best peer's throughput (every profile).
pub const PEER_RATIO: f64 = 1.5;
/// At least this share of the profile's `link` (shaped profiles).
pub const LINK_SHARE: f64 = 0.85;
/// Client CPU at most this multiple of the two-pass SHA-1 floor (loopback).
pub const FLOOR_RATIO: f64 = 1.2;
/// `cargo xtask codegen --check` on an already-built tree: under this many seconds.
pub const CODEGEN_CHECK_S: f64 = 1.0;

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Met,
    NotMet,
    NotMeasured,
}

impl Status {
    /// The word on the terminal (a shortfall stands out in capitals).
    pub fn word(self) -> &'static str {
        match self {
            Status::Met => "met",
            Status::NotMet => "NOT met",
            Status::NotMeasured => "not measured",
        }
    }

    fn of(ok: bool) -> Status {
        if ok {
            Status::Met
        } else {
            Status::NotMet
        }
    }
}

/// One target: what is held, the goal, what this run measured, and the verdict.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Target {
    pub name: String,
    pub goal: String,
    pub measured: String,
    pub status: Status,
}

impl Target {
    fn judged(name: String, goal: String, measured: String, met: bool) -> Target {
        Target {
            name,
            goal,
            measured,
            status: Status::of(met),
        }
    }

    fn not_measured(name: String, goal: String, why: &str) -> Target {
        Target {
            name,
            goal,
            measured: format!("not measured ({why})"),
            status: Status::NotMeasured,
        }
    }
}

#[cfg(test)]
mod tests;
