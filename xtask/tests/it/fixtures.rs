//! Snapshot tests of the generator over small fixture specs, one per construct (`fixtures/ok/`),
//! and of its error reports over broken specs (`fixtures/bad/`). Snapshots live in
//! `xtask/tests/snapshots/`; under `CI=true` insta never writes them, so a changed output fails
//! until reviewed locally (`cargo insta review`, or `INSTA_UPDATE=always cargo test -p xtask`).

use std::fs;
use std::path::{Path, PathBuf};

use xtask::codegen::{generate_module, GenerateError};

use crate::fixtures_dir;

/// Compares `text` with `xtask/tests/snapshots/fixtures__NAME.snap`: the folder and file names
/// these snapshots had when this module was a test binary of its own, kept so that moving it
/// into `it` moved no snapshot.
fn assert_snapshot(name: &str, text: &str) {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("../snapshots");
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| insta::assert_snapshot!(format!("fixtures__{name}"), text));
}

fn fixtures(kind: &str) -> Vec<PathBuf> {
    let dir = fixtures_dir().join(kind);
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no fixtures in {}", dir.display());
    files
}

fn stem(path: &Path) -> String {
    path.file_stem()
        .expect("file name")
        .to_string_lossy()
        .into_owned()
}

fn generate(path: &Path) -> Result<String, GenerateError> {
    let text = fs::read_to_string(path).expect("fixture readable");
    let label = format!(
        "fixtures/{}",
        path.file_name().expect("name").to_string_lossy()
    );
    let files = generate_module(&text, &label)?;
    Ok(files
        .iter()
        .map(|(name, text)| format!("==> {name} <==\n{text}"))
        .collect::<Vec<_>>()
        .join("\n"))
}

#[test]
fn every_construct_generates_code_that_matches_its_snapshot() {
    for path in fixtures("ok") {
        let name = stem(&path);
        let out = generate(&path).unwrap_or_else(|e| panic!("{name} failed:\n{}", e.report(&name)));
        assert_snapshot(&format!("ok_{name}"), &out);
    }
}

#[test]
fn generating_twice_gives_identical_output() {
    for path in fixtures("ok") {
        let first = generate(&path).expect("generates");
        let second = generate(&path).expect("generates");
        assert!(first == second, "{} differs between two runs", stem(&path));
    }
}

/// The `# expect-error: POINTER reason` lines a bad fixture starts with.
fn expected_pointers(path: &Path) -> Vec<String> {
    fs::read_to_string(path)
        .expect("fixture readable")
        .lines()
        .filter_map(|l| l.strip_prefix("# expect-error: "))
        .map(|rest| {
            let pointer = rest.split_whitespace().next().unwrap_or("");
            pointer.trim_matches('"').to_string()
        })
        .collect()
}

#[test]
fn every_bad_spec_fails_with_every_problem_located() {
    for path in fixtures("bad") {
        let name = stem(&path);
        let err = match generate(&path) {
            Ok(_) => panic!("{name}: a broken spec generated code"),
            Err(e) => e,
        };
        let GenerateError::Spec(problems) = &err else {
            panic!("{name}: not a spec error: {err:?}")
        };
        let expected = expected_pointers(&path);
        assert_eq!(
            problems.list().len(),
            expected.len(),
            "{name}: problems {:#?}",
            problems.list()
        );
        for pointer in &expected {
            assert!(
                problems
                    .list()
                    .iter()
                    .any(|p| p.pointer.starts_with(pointer.as_str())),
                "{name}: no problem located at {pointer}; got {:#?}",
                problems.list()
            );
        }
        assert_snapshot(
            &format!("bad_{name}"),
            &err.report(&format!("fixtures/{name}.yaml")),
        );
    }
}

fn problems_of(name: &str) -> Vec<(String, String)> {
    let path = fixtures_dir().join(format!("bad/{name}.yaml"));
    match generate(&path) {
        Err(GenerateError::Spec(p)) => p
            .list()
            .iter()
            .map(|p| (p.pointer.clone(), p.message.clone()))
            .collect(),
        other => panic!("{name}: expected spec problems, got {other:?}"),
    }
}

#[test]
fn not_yaml_names_the_line() {
    let problems = problems_of("not_yaml");
    assert_eq!(problems[0].0, "");
    assert!(
        problems[0]
            .1
            .starts_with("not a YAML or JSON document (line 9"),
        "{problems:?}"
    );
}

#[test]
fn wrong_versions_are_refused() {
    assert_eq!(problems_of("swagger2")[0].0, "/swagger");
    assert!(problems_of("swagger2")[0].1.contains("Swagger 2.0"));
    assert_eq!(problems_of("openapi31")[0].0, "/openapi");
    assert!(problems_of("openapi31")[0]
        .1
        .contains("3.1.0 is not supported"));
}

#[test]
fn dangling_refs_are_each_located() {
    let problems = problems_of("dangling_ref");
    let pointers: Vec<&str> = problems.iter().map(|(p, _)| p.as_str()).collect();
    assert!(
        pointers.contains(&"/paths/~1things/get/parameters/0/$ref"),
        "{pointers:?}"
    );
    assert!(
        pointers
            .contains(&"/paths/~1things/get/responses/200/content/application~1json/schema/$ref"),
        "{pointers:?}"
    );
    assert!(problems.iter().all(|(_, m)| m.starts_with("dangling $ref")));
}

#[test]
fn duplicate_and_missing_names_and_media_types_are_reported_together() {
    let problems = problems_of("many_problems");
    let messages: Vec<String> = problems.iter().map(|(p, m)| format!("{p} {m}")).collect();
    let has = |needle: &str| messages.iter().any(|m| m.contains(needle));
    assert!(
        has("/paths/~1things/post/x-rust-name duplicate operation name `list_things`"),
        "{messages:#?}"
    );
    assert!(
        has("/paths/~1things~1{id}/get operation GET /things/{id} has no name"),
        "{messages:#?}"
    );
    assert!(has("/paths/~1things~1{id}/put/requestBody/content/application~1xml unsupported media type `application/xml`"), "{messages:#?}");
    assert!(
        has("dangling $ref `#/components/schemas/ThingList`"),
        "{messages:#?}"
    );
}
