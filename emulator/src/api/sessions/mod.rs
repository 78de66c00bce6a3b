//! Chunked uploads: sessions, parts, commit.
//! <https://developer.box.com/guides/uploads/chunked/>
//!
//! [`create`] makes a session, [`part`] stores one part (written in place through
//! [`region`]), [`commit`] checks the parts list ([`commit_body`]) and stores the file, and
//! [`status`] answers the session's status, its parts, its abort and its log events. The
//! headers of a part and a commit are read by [`headers`]. For a new version, [`plan`] says
//! which parts the file's current version already holds, and a commit may name those parts
//! instead of uploads ([`reuse`]); [`prefill`] copies the hits into the session's file while
//! the client uploads the misses. A commit assembles the file and hashes it in [`assemble`],
//! from where [`hash_ahead`] got hashing the file's leading parts as they arrived.

mod assemble;
pub(crate) mod commit;
mod commit_body;
pub(crate) mod create;
mod hash_ahead;
pub(crate) mod headers;
pub(crate) mod part;
pub(crate) mod plan;
mod prefill;
mod region;
mod reuse;
pub(crate) mod status;
