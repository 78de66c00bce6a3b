//! The generator takes Box's whole published API description: the crate it writes from the
//! newest copy present (the shared copy beside the clone, else the pinned npm copy; see
//! `xtask::upstream::copies`) builds, is clean under `clippy -D warnings` and rustdoc, and
//! every example in the description decodes into its generated type, except the known-bad ones
//! listed here.
//!
//! Slow (it compiles a crate of some 60,000 lines), so `#[ignore]`d; CI runs it with
//! `cargo test -p xtask --test it whole_api:: -- --ignored` (the npm copy needs fetch.sh first).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use xtask::codegen::{self, Kind, Target};

/// Examples in Box's description that are wrong: the copies they are wrong in (by
/// `info.version`), where, and why. An entry that starts decoding in a copy it names (Box
/// fixed it, or the generator changed) fails the test too, so the list stays true.
const KNOWN_BAD: &[(&[&str], &str, &str)] = &[
    (
        &["2.0.0", "2024.0"],
        "/components/schemas/Collaboration/properties/created_by/allOf/2/example",
        "a list of one-property objects (`[{\"id\": 33224412}, {\"type\": \"user\"}, ...]`) \
         where the schema is one user object, and the id is a number where the schema says string",
    ),
    (
        &["2024.0"],
        "/paths/~1search/get/parameters/12/example",
        "mdfilters' `filters` is a list of one-property objects (`[{\"category\": \"online\"}, \
         {\"contractValue\": 100000}]`) where MetadataFilter says one object of field values",
    ),
];

/// The pointers of the known-bad examples of the copy with this `info.version`.
fn known_bad(version: &str) -> Vec<&'static str> {
    KNOWN_BAD
        .iter()
        .filter(|(versions, _, _)| versions.contains(&version))
        .map(|(_, pointer, _)| *pointer)
        .collect()
}

/// The target directory cargo uses for this workspace: the generated crate builds into it too,
/// so that its dependencies (reqwest, serde, ...) are the ones already built.
fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
}

/// Runs cargo in `dir` and returns whether it succeeded, with its stdout and stderr.
fn cargo(dir: &Path, target: &Path, args: &[&str]) -> (bool, String) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .args(args)
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", target)
        // Read by `cargo doc` only: spec prose must not give rustdoc warnings either.
        .env("RUSTDOCFLAGS", "-D warnings")
        .output()
        .unwrap_or_else(|e| panic!("cannot run cargo {args:?}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

#[test]
#[ignore = "slow: builds the whole-API crate (run with --ignored; needs a copy of Box's description)"]
fn the_whole_box_api_generates_a_clean_crate_whose_examples_decode() {
    let root = xtask::workspace_root();
    let spec = crate::upstream_copy();
    let text = fs::read_to_string(&spec).unwrap_or_else(|e| panic!("{}: {e}", spec.display()));
    let document: serde_json::Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not JSON: {e}", spec.display()));
    let version = document["info"]["version"].as_str().unwrap_or_default();
    let known = known_bad(version);
    let name = spec
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let target_dir = target_dir(&root);
    let out = target_dir.join("whole-api/box-api");
    let target = Target {
        spec,
        out: out.clone(),
        kind: Kind::Crate {
            name: "box-api".into(),
            used_by: None,
            examples: true,
            member: false,
        },
    };
    codegen::write(&root, &target).unwrap_or_else(|e| panic!("{}", e.report(&name)));
    // The workspace's lock file pins the versions already built in the shared target dir.
    fs::copy(root.join("Cargo.lock"), out.join("Cargo.lock")).expect("copy Cargo.lock");

    let (ok, log) = cargo(&out, &target_dir, &["build"]);
    assert!(ok, "the whole-API crate does not build:\n{log}");
    let (ok, log) = cargo(
        &out,
        &target_dir,
        &["clippy", "--all-targets", "--", "-D", "warnings"],
    );
    assert!(ok, "the whole-API crate is not clippy-clean:\n{log}");
    let (ok, log) = cargo(&out, &target_dir, &["doc", "--no-deps"]);
    assert!(ok, "the whole-API crate's docs have warnings:\n{log}");

    let (ok, log) = cargo(&out, &target_dir, &["test", "--test", "examples"]);
    let bad: Vec<&str> = log
        .lines()
        .filter_map(|l| l.strip_prefix("bad example at "))
        .filter_map(|l| l.split_once(": ").map(|(pointer, _)| pointer))
        .collect();
    assert!(
        ok || !bad.is_empty(),
        "the example test failed without naming an example:\n{log}"
    );
    let unexpected: Vec<&str> = log
        .lines()
        .filter(|l| {
            l.strip_prefix("bad example at ")
                .and_then(|l| l.split_once(": "))
                .is_some_and(|(p, _)| !known.contains(&p))
        })
        .collect();
    assert!(
        unexpected.is_empty(),
        "examples that do not decode into their generated types:\n{}",
        unexpected.join("\n")
    );
    let fixed: Vec<&str> = known.into_iter().filter(|p| !bad.contains(p)).collect();
    assert!(
        fixed.is_empty(),
        "known-bad examples of info.version {version} that now decode (take that version off \
         their KNOWN_BAD entry): {fixed:?}"
    );
}
