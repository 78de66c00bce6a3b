//! The box-uploads generator: an OpenAPI 3.0.x document -> Rust, in stages that each have a module:
//! `load` (YAML -> OpenAPI) -> `lower` (-> `ir`, with every problem located by `diag`) -> `emit`
//! (-> tokens) -> `render` (-> formatted text) -> `codegen` (write, or check for drift).
//! `lower` parses path templates (`template`) and chooses names (`names`) once, as typed values
//! that `emit` reads rather than re-parses.
//! `docs/generator.md` describes the constructs it reads and the code it writes.

pub mod codegen;
pub mod diag;
pub mod emit;
pub mod ir;
pub mod load;
pub mod lower;
pub mod names;
pub mod render;
pub mod template;
pub mod upstream;

use std::path::PathBuf;

/// The workspace root (the parent of this crate).
pub fn workspace_root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(PathBuf::from).unwrap_or(manifest)
}
