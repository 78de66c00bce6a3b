//! The drift check: committed generated code must be exactly what the specs give, so plain
//! `cargo test` fails when someone edits a spec without running `cargo xtask codegen`.

use std::fs;
use std::path::{Path, PathBuf};

use xtask::codegen::{self, check, default_targets, Drift, Target};

#[test]
fn generated_code_is_up_to_date_with_the_specs() {
    let root = xtask::workspace_root();
    for target in default_targets(&root) {
        let drift = check(&root, &target)
            .unwrap_or_else(|e| panic!("{}", e.report(&codegen::label(&root, &target.spec))));
        assert!(drift.is_empty(), "{}", codegen::drift_report(&root, &drift));
    }
}

/// A scratch copy of the spec and its generated crate, laid out like the workspace.
fn scratch_copy(name: &str) -> (PathBuf, Target) {
    let root = xtask::workspace_root();
    let scratch = root.join("target").join("drift-test").join(name);
    let _ = fs::remove_dir_all(&scratch);
    fs::create_dir_all(scratch.join("spec")).expect("mkdir");
    fs::copy(
        root.join("spec/box-uploads.yaml"),
        scratch.join("spec/box-uploads.yaml"),
    )
    .expect("copy spec");
    copy_dir(&root.join("generated"), &scratch.join("generated"));
    // A published crate carries the repository's license texts.
    for name in ["LICENSE-MIT", "LICENSE-APACHE"] {
        fs::copy(root.join(name), scratch.join(name)).expect("copy license");
    }
    // The generated Cargo.toml points at the runtime by a relative path.
    fs::create_dir_all(scratch.join("runtime")).expect("mkdir");
    let box_target = default_targets(&root)
        .into_iter()
        .next()
        .expect("the Box target comes first");
    let target = Target {
        spec: scratch.join("spec/box-uploads.yaml"),
        out: scratch.join("generated"),
        kind: box_target.kind,
    };
    (scratch, target)
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).expect("mkdir");
    for entry in fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        let path = entry.path();
        if path.is_dir() {
            copy_dir(&path, &to.join(entry.file_name()));
        } else {
            fs::copy(&path, to.join(entry.file_name())).expect("copy generated");
        }
    }
}

fn file_name(d: &Drift) -> String {
    let (Drift::Stale(p) | Drift::Missing(p) | Drift::Orphaned(p)) = d;
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

#[test]
fn a_new_property_in_the_spec_makes_the_check_fail_until_regenerated() {
    let (scratch, target) = scratch_copy("new-property");
    assert!(
        check(&scratch, &target).expect("checks").is_empty(),
        "the copy starts clean"
    );

    let spec_path = scratch.join("spec/box-uploads.yaml");
    let spec = fs::read_to_string(&spec_path).expect("read");
    // Add a property to the UploadSession schema.
    let anchor = "\n    UploadSession:\n";
    let at = spec.find(anchor).expect("UploadSession schema present");
    let props = spec[at..]
        .find("properties:\n")
        .expect("UploadSession has properties")
        + at
        + "properties:\n".len();
    let indent: String = spec[props..].chars().take_while(|c| *c == ' ').collect();
    let added = format!("{indent}drift_probe:\n{indent}  type: string\n");
    fs::write(
        &spec_path,
        format!("{}{}{}", &spec[..props], added, &spec[props..]),
    )
    .expect("write");

    let drift = check(&scratch, &target).expect("checks");
    assert_eq!(
        drift,
        vec![Drift::Stale(target.out.join("src/generated/models.rs"))],
        "only the models change"
    );
    let report = codegen::drift_report(&scratch, &drift);
    assert!(
        report.contains("stale: generated/src/generated/models.rs"),
        "{report}"
    );
    assert!(report.contains("run `cargo xtask codegen`"), "{report}");

    codegen::write(&scratch, &target).expect("regenerates");
    assert!(
        check(&scratch, &target).expect("checks").is_empty(),
        "clean after regenerating"
    );
    let models = fs::read_to_string(target.out.join("src/generated/models.rs")).expect("read");
    assert!(models.contains("pub drift_probe: Option<String>"));
}

#[test]
fn missing_and_orphaned_files_are_named() {
    let (scratch, target) = scratch_copy("orphan");
    fs::remove_file(target.out.join("src/generated/errors.rs")).expect("remove");
    fs::write(
        target.out.join("src/generated/old_module.rs"),
        "// left over\n",
    )
    .expect("write");
    // A hand-written file anywhere in the generated crate is an orphan too.
    fs::create_dir_all(target.out.join("src/upload")).expect("mkdir");
    fs::write(target.out.join("src/upload/engine.rs"), "// by hand\n").expect("write");
    let drift = check(&scratch, &target).expect("checks");
    let names: Vec<(bool, String)> = drift
        .iter()
        .map(|d| (matches!(d, Drift::Missing(_)), file_name(d)))
        .collect();
    assert!(
        names.contains(&(true, "errors.rs".to_string())),
        "{drift:?}"
    );
    assert!(
        drift
            .iter()
            .any(|d| matches!(d, Drift::Orphaned(p) if p.ends_with("old_module.rs"))),
        "{drift:?}"
    );
    assert!(
        drift
            .iter()
            .any(|d| matches!(d, Drift::Orphaned(p) if p.ends_with("src/upload/engine.rs"))),
        "{drift:?}"
    );
    codegen::write(&scratch, &target).expect("regenerates");
    assert!(
        !Path::new(&target.out.join("src/generated/old_module.rs")).exists(),
        "orphan removed"
    );
    assert!(check(&scratch, &target).expect("checks").is_empty());
}

#[test]
fn the_published_crate_carries_the_license_texts_of_the_repository() {
    let (scratch, target) = scratch_copy("licenses");
    assert_eq!(
        fs::read(target.out.join("LICENSE-MIT")).expect("generated/LICENSE-MIT"),
        fs::read(scratch.join("LICENSE-MIT")).expect("LICENSE-MIT")
    );
    // A changed text at the root makes the copy stale until regenerated.
    fs::write(scratch.join("LICENSE-MIT"), "changed\n").expect("write");
    let drift = check(&scratch, &target).expect("checks");
    assert_eq!(drift, vec![Drift::Stale(target.out.join("LICENSE-MIT"))]);
    codegen::write(&scratch, &target).expect("regenerates");
    assert_eq!(
        fs::read_to_string(target.out.join("LICENSE-MIT")).expect("read"),
        "changed\n"
    );
    // Without the text at the root there is nothing to publish it with: a clear error.
    fs::remove_file(scratch.join("LICENSE-APACHE")).expect("remove");
    let err = check(&scratch, &target).expect_err("no license text");
    let report = err.report("spec/box-uploads.yaml");
    assert!(
        report.contains("license texts") && report.contains("LICENSE-APACHE"),
        "{report}"
    );
}
