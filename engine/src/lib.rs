//! box-uploads: upload files to Box, small or huge, parallel, verified and resumable.
//!
//! # Upload a file
//!
//! Build a [`Client`] with credentials, wrap it in an [`Uploader`](upload::Uploader), and
//! upload: one call, direct below 50 MiB, chunked and parallel above, every part and the whole
//! file checked by SHA-1, retried with back-off. The handle reports progress; a failure is an
//! [`UploadError`](upload::UploadError) whose [`kind`](upload::UploadError::kind) says what to
//! do about it.
//!
//! ```no_run
//! use box_uploads::auth::Subject;
//! use box_uploads::upload::{Upload, UploadErrorKind, Uploader};
//! use box_uploads::ClientBuilder;
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let client = ClientBuilder::new()
//!     .client_credentials(
//!         std::env::var("BOX_CLIENT_ID")?,
//!         std::env::var("BOX_CLIENT_SECRET")?,
//!         Subject::enterprise(std::env::var("BOX_ENTERPRISE_ID")?),
//!     )
//!     .build()?;
//! let uploader = Uploader::new(client);
//!
//! let handle = uploader.start_upload(
//!     Upload::new_file("0", "backup.tar")
//!         .from_path("backup.tar")
//!         .state_file("backup.tar.upload"), // resumable after a crash
//! );
//! let mut progress = handle.progress();
//! tokio::spawn(async move {
//!     while progress.changed().await.is_ok() {
//!         let p = progress.borrow().clone();
//!         eprintln!("{} / {} bytes", p.bytes_done, p.total_bytes);
//!     }
//! });
//! match handle.join().await {
//!     Ok(file) => println!("stored as file {}", file.id),
//!     Err(e) => match e.kind() {
//!         // The name is in use: upload a new version of the file that holds it.
//!         UploadErrorKind::Conflict { existing, .. } => {
//!             let version = Upload::new_version(&existing.id).from_path("backup.tar");
//!             uploader.upload(version).await?;
//!         }
//!         UploadErrorKind::NotFound { missing, .. } => eprintln!("{missing} does not exist"),
//!         UploadErrorKind::CredentialsRefused { .. } => eprintln!("fix the app's credentials"),
//!         UploadErrorKind::GaveUp { last, .. } => eprintln!("Box is not answering ({last}): later"),
//!         UploadErrorKind::SourceChanged { .. } => eprintln!("backup.tar changed: upload again"),
//!         _ => return Err(e.into()),
//!     },
//! }
//! # Ok(()) }
//! ```
//!
//! A new version is [`Upload::new_version`](upload::Upload::new_version), the only builder with
//! `rename` and `if_match`. [`UploadHandle::pause`](upload::UploadHandle::pause) stops an
//! upload and keeps its session and state file for a later resume;
//! [`abort`](upload::UploadHandle::abort) discards them. Credentials other than client
//! credentials (a fixed token, JWT, OAuth 2.0 refresh tokens) are in [`auth`].
//!
//! # Upload a folder tree
//!
//! [`Uploader::upload_tree`](upload::Uploader::upload_tree) uploads a local directory into a
//! Box folder: folders made once, identical files skipped, a conflict policy
//! ([`OnConflict`](tree::OnConflict)), a journal to continue a stopped run, and a report with
//! a result per file (whose failures read as the same
//! [`UploadErrorKind`](upload::UploadErrorKind)).
//!
//! ```no_run
//! # async fn demo(uploader: box_uploads::upload::Uploader) -> Result<(), Box<dyn std::error::Error>> {
//! use box_uploads::tree::{OnConflict, TreeUpload};
//!
//! let report = uploader
//!     .upload_tree(TreeUpload::new("photos/", "0").on_conflict(OnConflict::Skip).journal("photos.journal"))
//!     .await?;
//! println!("{} uploaded, {} skipped, {} failed", report.uploaded(), report.skipped(), report.failed());
//! # Ok(()) }
//! ```
//!
//! # The generated client
//!
//! Underneath, [`api`] is the typed client that `cargo xtask codegen` writes from
//! `spec/box-uploads.yaml` (crate `box-uploads-api`, re-exported here): the [`models`], one
//! request type and one async method per operation in [`operations`], and one error enum per
//! operation in [`errors`] (a variant per documented status and Box error code).
//!
//! ```no_run
//! use box_uploads::{operations::CreateUploadSessionRequest, models::CreateUploadSessionBody, ClientBuilder};
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let client = ClientBuilder::new().token("ACCESS_TOKEN").build()?;
//! let body = CreateUploadSessionBody { folder_id: "0".into(), file_size: 104_857_600, file_name: "movie.mov".into() };
//! let session = client.create_upload_session(CreateUploadSessionRequest::new(body)).await?;
//! println!("part size {:?}", session.part_size);
//! # Ok(()) }
//! ```
//!
//! # Examples and versions
//!
//! `engine/examples/` uploads a file, a tree, a new version, and resumes after a crash, against
//! Box or `box-upload emulator` (`BOX_API_URL`, `BOX_UPLOAD_URL`, `BOX_TOKEN`). The crate
//! follows semantic versioning; see `CHANGELOG.md` for what each version changed.

#![deny(missing_docs)]

pub mod auth;
mod client_builder;
mod conflict;
mod digest;
mod paging;
mod retry;
pub mod tree;
pub mod upload;

/// The generated API: `box-uploads-api`, written by `cargo xtask codegen` from the spec.
pub use box_uploads_api as api;
pub use box_uploads_api::{errors, models, operations, Client, SERVERS};
pub use box_uploads_runtime as runtime;
pub use box_uploads_runtime::{
    ApiError, Body, DecodeError, Error, FilePart, OperationError, TransportError,
};
pub use client_builder::{BuildError, ClientBuilder};

/// The traits that give every error its accessors (`status()`, `code()`, `message()`,
/// `request_id()`, `retry_after()`, `is_retryable()`), and the types most code names:
/// `use box_uploads::prelude::*;`.
pub mod prelude {
    pub use crate::tree::{OnConflict, TreeReport, TreeUpload};
    pub use crate::upload::{Upload, UploadError, UploadErrorKind, Uploader};
    pub use crate::{Client, ClientBuilder, OperationError};
}

/// The README's Rust examples, compiled as doctests so that they stay true.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
