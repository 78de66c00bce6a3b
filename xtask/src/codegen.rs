//! Stage 5: write the generated files, or check that the files on disk are what the spec gives
//! (rust-analyzer's `ensure_file_contents` is the model). A stale, missing or orphaned generated
//! file is named, with the command that fixes it.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Component, Path, PathBuf};

use crate::diag::Problems;

/// The file names of a generated module, in the order they are written.
const MODULE_FILES: [&str; 5] = [
    "mod.rs",
    "client.rs",
    "errors.rs",
    "models.rs",
    "operations.rs",
];

/// Generates the module files (`mod.rs`, `models.rs`, ...) for a spec's text.
pub fn generate_module(
    text: &str,
    spec_label: &str,
) -> Result<BTreeMap<String, String>, GenerateError> {
    generate(text, spec_label).map(|g| g.files)
}

/// What a spec gives: the module files, the API's title for the crate's own files, and the
/// spec's examples for a crate's example test.
pub struct Generated {
    pub title: String,
    pub files: BTreeMap<String, String>,
    pub examples: Vec<crate::ir::Example>,
}

pub fn generate(text: &str, spec_label: &str) -> Result<Generated, GenerateError> {
    let api = crate::load::load(text).map_err(GenerateError::Spec)?;
    let ir = crate::lower::lower(&api).map_err(GenerateError::Spec)?;
    let outputs = [
        ("mod.rs", crate::emit::client::emit_mod()),
        ("client.rs", crate::emit::client::emit_client(&ir)),
        ("errors.rs", crate::emit::errors::emit(&ir.operations)),
        ("models.rs", crate::emit::models::emit(&ir.types)),
        (
            "operations.rs",
            crate::emit::operations::emit(&ir.operations, &ir.types),
        ),
    ];
    let mut files = BTreeMap::new();
    for (name, tokens) in outputs {
        let text =
            crate::render::render(name, tokens, spec_label).map_err(GenerateError::Internal)?;
        files.insert(name.to_string(), text);
    }
    Ok(Generated {
        title: ir.title,
        files,
        examples: ir.examples,
    })
}

#[derive(Debug)]
pub enum GenerateError {
    /// The spec has problems (each located).
    Spec(Problems),
    /// A bug in the generator.
    Internal(String),
    /// Reading or writing files failed.
    Io(String),
}

impl GenerateError {
    pub fn report(&self, spec_label: &str) -> String {
        match self {
            GenerateError::Spec(problems) => problems.report(spec_label),
            GenerateError::Internal(msg) | GenerateError::Io(msg) => {
                format!("error: {spec_label}: {msg}\n")
            }
        }
    }
}

/// What a target produces: a module inside a hand-written crate, or a whole crate.
#[derive(Debug, Clone)]
pub enum Kind {
    /// Files go straight into `out` (which the generator owns entirely).
    Module,
    /// `out/Cargo.toml`, `out/src/lib.rs` and `out/src/generated/*` (which it owns), and for a
    /// published crate the license texts.
    Crate {
        name: String,
        /// The hand-written crate built on this one, which the crate docs point to.
        used_by: Option<String>,
        /// Also write `tests/examples.rs`, which decodes every example of the spec into its
        /// type (when the spec has any).
        examples: bool,
        /// A member of this repository's workspace. Any other crate declares a `[workspace]`
        /// of its own, so that cargo never treats it as a stray member of ours (under `target/`,
        /// say).
        member: bool,
    },
}

#[derive(Debug, Clone)]
pub struct Target {
    pub spec: PathBuf,
    pub out: PathBuf,
    pub kind: Kind,
}

/// The workspace's own targets: the Box client, and the fixture crate that proves the generator
/// works on a second, different document.
pub fn default_targets(root: &Path) -> Vec<Target> {
    vec![
        Target {
            spec: root.join("spec/box-uploads.yaml"),
            out: root.join("generated"),
            kind: Kind::Crate {
                name: "box-uploads-api".to_string(),
                used_by: Some("box-uploads".to_string()),
                examples: true,
                member: true,
            },
        },
        Target {
            spec: root.join("xtask/tests/fixtures/everything.yaml"),
            out: root.join("tests/fixture-client"),
            kind: Kind::Crate {
                name: "fixture-client".to_string(),
                used_by: None,
                examples: true,
                member: true,
            },
        },
    ]
}

/// `path` relative to `root` with `/` separators, or as given when outside it.
pub fn label(root: &Path, path: &Path) -> String {
    match path.strip_prefix(root) {
        Ok(rel) => rel.to_string_lossy().replace('\\', "/"),
        Err(_) => path.to_string_lossy().into_owned(),
    }
}

/// A relative path from `from` (a directory) to `to`, both absolute and lexically normal.
fn relative(from: &Path, to: &Path) -> PathBuf {
    let from: Vec<Component> = from.components().collect();
    let to: Vec<Component> = to.components().collect();
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut out = PathBuf::new();
    for _ in common..from.len() {
        out.push("..");
    }
    for c in &to[common..] {
        out.push(c.as_os_str());
    }
    out
}

/// `text` as a TOML basic string.
fn toml_string(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Spec prose on one line, for a doc comment or a manifest.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The version of a generated crate. It moves with the spec: a spec change that changes the
/// generated code raises it (see CHANGELOG.md).
const CRATE_VERSION: &str = "0.1.0";
/// The version of `runtime/` that generated code needs (runtime/Cargo.toml's).
const RUNTIME_VERSION: &str = "0.1.0";

fn cargo_toml(
    name: &str,
    title: &str,
    spec_label: &str,
    root: &Path,
    out: &Path,
    member: bool,
    published: bool,
) -> String {
    let runtime = root.join("runtime");
    let inside = out.starts_with(root);
    let runtime_path = if inside {
        relative(out, &runtime)
    } else {
        runtime
    };
    let runtime_path = runtime_path.to_string_lossy().replace('\\', "/");
    let workspace = if member {
        String::new()
    } else {
        "\n# Not part of any other workspace.\n[workspace]\n".to_string()
    };
    let description = toml_string(&format!(
        "The typed HTTP client for {}, generated from {spec_label}.",
        one_line(title)
    ));
    // The crate a hand-written one re-exports is published with it; any other stays local.
    let publish = if published {
        format!(
            "license = \"MIT OR Apache-2.0\"\n\
         rust-version = \"1.85\"\n\
         readme = \"../README.md\"\n\
         documentation = \"https://docs.rs/{name}\"\n\
         keywords = [\"box\", \"upload\", \"api-client\", \"openapi\"]\n\
         categories = [\"api-bindings\", \"web-programming::http-client\"]\n\
         publish = [\"crates-io\"]\n"
        )
    } else {
        "publish = false\n".to_string()
    };
    let docs_rs = if published {
        "\n[package.metadata.docs.rs]\nall-features = true\n"
    } else {
        ""
    };
    format!(
        "# @generated by `cargo xtask codegen` from {spec_label}. Do not edit.\n\
         [package]\n\
         name = \"{name}\"\n\
         version = \"{CRATE_VERSION}\"\n\
         description = {description}\n\
         edition = \"2021\"\n\
         {publish}\
         \n\
         [dependencies]\n\
         box-uploads-runtime = {{ path = \"{runtime_path}\", version = \"{RUNTIME_VERSION}\" }}\n\
         serde = {{ version = \"1\", features = [\"derive\"] }}\n\
         {docs_rs}{workspace}"
    )
}

fn lib_rs(name: &str, title: &str, spec_label: &str, used_by: Option<&str>) -> String {
    let title = one_line(title);
    let krate = name.replace('-', "_");
    let layers = match used_by {
        Some(krate) => format!(
            "//! The hand-written crate `{krate}` is built on this one: it re-exports it and adds\n\
             //! what a spec cannot describe. Depend on `{krate}` unless you need only this layer.\n"
        ),
        None => "//! Hand-written code goes in a crate of its own that depends on this one.\n".to_string(),
    };
    format!(
        "{header}\
         //! The typed HTTP client for {title}: one request type and one async method on\n\
         //! [`Client`] per operation ([`operations`]), a type per schema ([`models`]), and one\n\
         //! error enum per operation with a variant per documented status and error code\n\
         //! ([`errors`]). `use {krate}::prelude::*;` brings the errors' accessors into scope.\n\
         //!\n\
         //! Every file of this crate, this one included, is generated by `cargo xtask codegen` from\n\
         //! `{spec_label}`: change the spec and regenerate, never edit by hand.\n\
         //!\n\
         {layers}\
         #![deny(missing_docs)]\n\
         #[rustfmt::skip]\n\
         mod generated;\n\
         pub use generated::*;\n",
        header = crate::render::header(spec_label)
    )
}

/// The repository's license texts (for `MIT OR Apache-2.0`), copied into a published crate.
const LICENSE_FILES: [&str; 2] = ["LICENSE-MIT", "LICENSE-APACHE"];

/// Every file a target should have, with its contents.
pub fn expected_files(
    root: &Path,
    target: &Target,
) -> Result<BTreeMap<PathBuf, String>, GenerateError> {
    let spec_label = label(root, &target.spec);
    let text = fs::read_to_string(&target.spec).map_err(|e| {
        GenerateError::Io(format!(
            "cannot read the spec {}: {e}",
            target.spec.display()
        ))
    })?;
    let generated = generate(&text, &spec_label)?;
    let mut files = BTreeMap::new();
    let module_dir = match &target.kind {
        Kind::Module => target.out.clone(),
        Kind::Crate {
            name,
            used_by,
            examples,
            member,
        } => {
            files.insert(
                target.out.join("Cargo.toml"),
                cargo_toml(
                    name,
                    &generated.title,
                    &spec_label,
                    root,
                    &target.out,
                    *member,
                    used_by.is_some(),
                ),
            );
            files.insert(
                target.out.join("src/lib.rs"),
                lib_rs(name, &generated.title, &spec_label, used_by.as_deref()),
            );
            if used_by.is_some() {
                // Published: the package carries the license texts its manifest names (cargo
                // packages only what lies inside the crate's folder).
                for name in LICENSE_FILES {
                    let text = fs::read_to_string(root.join(name)).map_err(|e| {
                        GenerateError::Io(format!(
                            "a published crate carries the license texts: cannot read {}: {e}",
                            root.join(name).display()
                        ))
                    })?;
                    files.insert(target.out.join(name), text);
                }
            }
            if *examples && !generated.examples.is_empty() {
                let tokens =
                    crate::emit::examples::emit(&name.replace('-', "_"), &generated.examples);
                let text = crate::render::render("tests/examples.rs", tokens, &spec_label)
                    .map_err(GenerateError::Internal)?;
                files.insert(target.out.join("tests/examples.rs"), text);
            }
            target.out.join("src/generated")
        }
    };
    for (name, text) in generated.files {
        files.insert(module_dir.join(name), text);
    }
    Ok(files)
}

/// The directory whose every file, at any depth, the target owns (anything else there is an
/// orphan): a generated crate's folder holds nothing written by hand.
fn owned_dir(target: &Target) -> PathBuf {
    target.out.clone()
}

/// One generated file that does not match the spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Drift {
    Stale(PathBuf),
    Missing(PathBuf),
    Orphaned(PathBuf),
}

/// Compares a target's files on disk with what its spec gives.
pub fn check(root: &Path, target: &Target) -> Result<Vec<Drift>, GenerateError> {
    let expected = expected_files(root, target)?;
    Ok(drift(target, &expected))
}

/// How the files on disk differ from `expected`.
fn drift(target: &Target, expected: &BTreeMap<PathBuf, String>) -> Vec<Drift> {
    let mut drift = Vec::new();
    for (path, text) in expected {
        match fs::read_to_string(path) {
            Ok(actual) if actual == *text => {}
            Ok(_) => drift.push(Drift::Stale(path.clone())),
            Err(_) => drift.push(Drift::Missing(path.clone())),
        }
    }
    for path in existing_files(&owned_dir(target)) {
        if !expected.contains_key(&path) {
            drift.push(Drift::Orphaned(path));
        }
    }
    drift
}

/// Writes a target's files (only those that changed) and removes orphans. Returns what changed.
pub fn write(root: &Path, target: &Target) -> Result<Vec<Drift>, GenerateError> {
    let expected = expected_files(root, target)?;
    let drift = drift(target, &expected);
    let io = |e: std::io::Error, p: &Path| {
        GenerateError::Io(format!("cannot write {}: {e}", p.display()))
    };
    for d in &drift {
        match d {
            Drift::Stale(path) | Drift::Missing(path) => {
                if let Some(parent) = path.parent() {
                    fs::create_dir_all(parent).map_err(|e| io(e, parent))?;
                }
                fs::write(path, &expected[path]).map_err(|e| io(e, path))?;
            }
            Drift::Orphaned(path) => fs::remove_file(path).map_err(|e| io(e, path))?,
        }
    }
    Ok(drift)
}

/// Every file under `dir`, recursively, sorted. Symlinks are listed, not followed.
fn existing_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.filter_map(Result::ok) {
            let path = entry.path();
            match entry.file_type() {
                Ok(t) if t.is_dir() => pending.push(path),
                Ok(_) => out.push(path),
                Err(_) => {}
            }
        }
    }
    out.sort();
    out
}

/// The lines `--check` prints for drift.
pub fn drift_report(root: &Path, drift: &[Drift]) -> String {
    let mut out = String::from("error: generated code is out of date with its spec:\n");
    for d in drift {
        let (what, path) = match d {
            Drift::Stale(p) => ("stale", p),
            Drift::Missing(p) => ("missing", p),
            Drift::Orphaned(p) => ("orphaned (no longer generated)", p),
        };
        out.push_str(&format!("  - {what}: {}\n", label(root, path)));
    }
    out.push_str("run `cargo xtask codegen` to regenerate, and commit the result\n");
    out
}

/// Files that are always part of a module target, for documentation and tests.
pub fn module_file_names() -> &'static [&'static str] {
    &MODULE_FILES
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_strings_are_escaped() {
        assert_eq!(toml_string(r#"a "b" \c"#), r#""a \"b\" \\c""#);
        assert_eq!(toml_string("two\nlines"), "\"two lines\"");
    }

    #[test]
    fn crate_docs_name_the_spec_and_the_crate_on_top() {
        let with = lib_rs("pets-api", "Pets  API\n", "spec/pets.yaml", Some("pets"));
        assert!(with.contains("client for Pets API:"), "{with}");
        assert!(with.contains("`spec/pets.yaml`"), "{with}");
        assert!(with.contains("crate `pets` is built on this one"), "{with}");
        assert!(with.contains("use pets_api::prelude::*;"), "{with}");
        let without = lib_rs("pets-api", "Pets", "spec/pets.yaml", None);
        assert!(!without.contains("is built on this one"), "{without}");
    }
}
