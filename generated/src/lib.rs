//! box-uploads: a typed client for Box's file-upload API.
//!
//! Two layers:
//! - [`generated`](crate::operations) from `spec/box-uploads.yaml` by `cargo xtask codegen`: the
//!   [`models`], one request type and one async method per operation in [`operations`], and one
//!   error enum per operation in [`errors`] (a variant per documented status and Box error code);
//! - hand-written on top: [`ClientBuilder`] and the upload engine in [`upload`].
//!
//! ```no_run
//! use box_uploads::{operations::CreateUploadSessionRequest, models::CreateUploadSessionBody, Client};
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let client = Client::builder().token("ACCESS_TOKEN").build()?;
//! let body = CreateUploadSessionBody { folder_id: "0".into(), file_size: 104_857_600, file_name: "movie.mov".into() };
//! let session = client.create_upload_session(CreateUploadSessionRequest::new(body)).await?;
//! println!("part size {:?}", session.part_size);
//! # Ok(()) }
//! ```

mod client_builder;
// Formatted by the generator (prettyplease), so that `cargo fmt` cannot make it drift.
#[rustfmt::skip]
mod generated;
pub mod upload;

pub use box_uploads_runtime as runtime;
pub use box_uploads_runtime::{
    ApiError, Body, DecodeError, Error, FilePart, OperationError, TransportError,
};
pub use client_builder::ClientBuilder;
pub use generated::{errors, models, operations};
pub use generated::{Client, SERVERS};

/// The README's Rust examples, compiled as doctests so that they stay true.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
