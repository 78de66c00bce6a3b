//! box-uploads: upload files to Box, small or huge, parallel, verified and resumable.
//!
//! Two layers, two crates:
//! - [`api`]: the typed client that `cargo xtask codegen` writes from `spec/box-uploads.yaml`
//!   (crate `box-uploads-api`, re-exported here): the [`models`], one request type and one async
//!   method per operation in [`operations`], and one error enum per operation in [`errors`] (a
//!   variant per documented status and Box error code);
//! - hand-written in this crate: [`ClientBuilder`], the credentials in [`auth`] (a fixed token,
//!   client credentials, JWT, OAuth 2.0 refresh tokens; renewed ahead of expiry and after a
//!   401, one renewal at a time), the upload engine in [`upload`] and folder tree uploads in
//!   [`tree`].
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

pub mod auth;
mod client_builder;
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
