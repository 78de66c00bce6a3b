//! End-to-end tests: the generated client (`api_*`) and the upload engine (`engine_*`, `soak`)
//! against an in-process `box-emulator` on 127.0.0.1. One test binary, so everything compiles
//! and links once and the helpers in `common` are shared:
//!
//! ```sh
//! cargo test -p box-uploads-e2e                      # everything but the long soak
//! cargo test -p box-uploads-e2e --test it api_errors # one module
//! ```
//!
//! The tracing-fields test is a binary of its own (`tests/spans/`).

#[macro_use]
mod common;

mod api_commit;
mod api_direct;
mod api_errors;
mod api_parts;
mod api_restart;
mod api_sessions;
mod auth;
mod conflict;
mod engine_adaptive;
mod engine_faults;
mod engine_handle;
mod engine_sizes;
mod engine_source_errors;
mod engine_versions;
mod library;
mod limits;
mod rare_answers;
mod reuse;
mod soak;
mod tls;
mod tree;
