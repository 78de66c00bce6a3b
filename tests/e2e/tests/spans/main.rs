//! The engine's tracing fields, in a process of their own: tracing caches one interest per
//! callsite for every thread, and a callsite another test's thread registers while this test's
//! thread-local subscriber is being set can be cached as "never", hiding this test's spans
//! (seen in full runs of the shared test binary).

#[macro_use]
#[path = "../it/common.rs"]
#[allow(dead_code, unused_imports, unused_macros)] // shared with the other end-to-end tests; a few used here
mod common;

mod tracing_fields;
