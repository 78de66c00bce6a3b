//! Folder trees: one call uploads a local directory tree into a Box folder, creating the
//! folders that are missing, skipping what Box already holds, and staying under Box's rate
//! limits.
//!
//! - Each Box folder is created at most once however many files wait for it (a single-flight
//!   per path; a `409 item_name_in_use` means it is there, and names it) and listed once, all
//!   pages, to learn what it holds.
//! - Per file: a new name is uploaded; an existing one with the same size and SHA-1 is skipped
//!   whatever the policy (the local file is hashed to compare, and no byte is sent), else
//!   [`OnConflict`] decides. A rename first looks for a renamed copy (`name (n).ext`) with the
//!   same content, so running it again makes no other copy.
//! - A folder or file that cannot be read fails alone ([`TreeFileError::Unreadable`], naming
//!   its path); the rest of the tree goes on.
//! - Files and their parts share the [`Uploader`](crate::upload::Uploader)'s concurrency
//!   budget: many small files go at once, a big one takes several permits for its parts.
//! - A [`RateLimiter`] (by default Box's 240 uploads and 1000 requests a minute) spaces the
//!   calls, and a 429 anywhere slows the whole run.
//! - With a journal ([`TreeUpload::journal`]), a killed run started again skips every file
//!   done without hashing or listing it again, and creates no duplicate. A journal kept inside
//!   the tree is never uploaded ([`SkipReason::JournalFile`]).
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use box_uploads::tree::{OnConflict, TreeUpload};
//! use box_uploads::upload::Uploader;
//! use box_uploads::ClientBuilder;
//!
//! let uploader = Uploader::new(ClientBuilder::new().token("ACCESS_TOKEN").build()?);
//! let tree = TreeUpload::new("photos/", "0")
//!     .on_conflict(OnConflict::Version)
//!     .exclude("**/.DS_Store")
//!     .journal("photos.journal");
//! let report = uploader.upload_tree(tree).await?;
//! println!(
//!     "{} uploaded, {} skipped, {} failed",
//!     report.uploaded(),
//!     report.skipped(),
//!     report.failed()
//! );
//! for file in report.failures() {
//!     eprintln!("{}: {:?}", file.path, file.outcome);
//! }
//! # Ok(()) }
//! ```
//!
//! The modules, by concern: [`TreeUpload`] (`options`) says what to do; `run` drives one tree
//! upload over the state its steps share (`context`): `walk` reads the local tree and hashes,
//! `folders` resolves and lists Box folders, `file` handles one file after the pure
//! [`OnConflict`] decision (the crate's `conflict` module, shared with single uploads), and `calls` is how every step reaches Box (the
//! [`RateLimiter`] of `limiter`, the retries). `journal` records what is done; `report` and
//! `error` say what became of it; `handle` runs it on a task ([`TreeHandle`]).

mod calls;
mod context;
mod error;
mod file;
mod folders;
mod glob;
mod handle;
mod journal;
mod limiter;
mod options;
mod report;
mod run;
mod walk;

pub use crate::conflict::OnConflict;
pub use error::{TreeError, TreeFileError};
pub use glob::Glob;
pub use handle::{TreeAborter, TreeHandle};
pub use limiter::{Rate, RateLimiter, RateLimits};
pub use options::TreeUpload;
pub use report::{FileOutcome, FileReport, PlannedAction, SkipReason, TreeProgress, TreeReport};
