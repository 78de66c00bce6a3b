//! Integration tests of the runtime's public API against a tiny loopback server.

mod form;
mod send;
mod server;
