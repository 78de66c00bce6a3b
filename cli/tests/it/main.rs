//! Integration tests of the `box-upload` command line (and, in `secrets`, `crash` and `reuse`, of the
//! engine it drives) against `box-emulator`, in process or as a child process. One test
//! binary, so everything compiles and links once and the helpers in `common` are shared.

mod common;

mod auth;
mod cli_put;
mod cli_resume;
mod conflict;
mod crash;
mod limits;
mod reuse;
mod secrets;
mod tls;
mod tree;
mod trust;
