//! Runtime support for API clients produced by `cargo xtask codegen`.
//!
//! Generated code is thin: it builds a URL and headers, hands the request to [`Core`], and maps the
//! answer to typed success values or a per-operation error enum. Everything that does not depend on
//! the API description lives here, so that every generated crate shares one tested implementation:
//!
//! - [`Core`]: the HTTP client, credentials, default headers and base-URL overrides;
//!   [`Core::send`] attaches a token and renews it once after a 401;
//! - [`Credentials`], [`StaticToken`], [`Secret`]: where tokens come from, and how secrets stay
//!   out of logs;
//! - [`Body`] and [`FilePart`]: streamed request bodies;
//! - [`ApiError`], [`Error`], [`TransportError`], [`DecodeError`], [`CredentialsError`]: what can
//!   go wrong, typed;
//! - [`retry_after`]: parsing of `retry-after` (delta-seconds or HTTP-date);
//! - [`support`]: helpers called by generated code (not meant for direct use).

#![deny(missing_docs)]

mod body;
mod core;
mod credentials;
mod error;
pub mod retry_after;
mod secret;
mod send;
pub mod support;

pub use crate::body::{Body, FilePart};
pub use crate::core::{Core, CoreBuildError, CoreBuilder};
pub use crate::credentials::{
    Credentials, CredentialsError, CredentialsErrorKind, StaticToken, TokenFuture,
};
pub use crate::error::{
    ApiError, ApiErrorFields, DecodeError, Error, OperationError, TransportError,
};
pub use crate::secret::Secret;

// Re-exported so that users of a generated crate can name these without extra dependencies.
pub use bytes::Bytes;
pub use chrono;
pub use reqwest;
pub use serde_json;
