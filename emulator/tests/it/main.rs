//! Integration tests: plain reqwest against an in-process emulator on 127.0.0.1.

mod common;

mod binary;
mod chunked;
mod concurrency;
mod direct;
mod errors;
mod faults;
mod persistence;
