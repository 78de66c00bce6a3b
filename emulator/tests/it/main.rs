//! Integration tests: plain reqwest (or raw TCP) against an in-process emulator on
//! 127.0.0.1, and the `box-emulator` binary run as a child process.

mod common;
mod raw;

mod auth;
mod binary;
mod chunked;
mod concurrency;
mod direct;
mod errors;
mod faults;
mod folders;
mod hash_ahead;
mod hostile_input;
mod hostile_memory;
mod lifecycle;
mod memory_1gib;
mod net;
mod part_sha512;
mod persistence;
mod plan;
mod reuse_commit;
mod tls;
