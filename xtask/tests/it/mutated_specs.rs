//! Property test: the generator never panics on a damaged spec. Whatever the damage, it either
//! generates code or reports problems, each with a message and a JSON-pointer location.

use proptest::prelude::*;
use xtask::codegen::{generate_module, GenerateError};

const EVERYTHING: &str = include_str!("../fixtures/everything.yaml");
const BOX_SPEC: &str = include_str!("../../../spec/box-uploads.yaml");

/// One edit to a document's lines.
#[derive(Debug, Clone)]
enum Edit {
    Remove(usize),
    Duplicate(usize),
    Insert(usize, usize, char),
    Truncate(usize, usize),
    Swap(usize, usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    let noise = prop_oneof![
        Just(':'),
        Just('{'),
        Just('}'),
        Just('['),
        Just('-'),
        Just(' '),
        Just('#'),
        Just('$'),
        Just('\''),
        Just('"'),
        Just('\t'),
        Just('/'),
        Just('~'),
        Just('\u{0}'),
        Just('é'),
        any::<char>()
    ];
    prop_oneof![
        any::<usize>().prop_map(Edit::Remove),
        any::<usize>().prop_map(Edit::Duplicate),
        (any::<usize>(), any::<usize>(), noise).prop_map(|(l, c, ch)| Edit::Insert(l, c, ch)),
        (any::<usize>(), any::<usize>()).prop_map(|(l, c)| Edit::Truncate(l, c)),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Edit::Swap(a, b)),
    ]
}

fn apply(text: &str, edits: &[Edit]) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    for e in edits {
        if lines.is_empty() {
            break;
        }
        let n = lines.len();
        match *e {
            Edit::Remove(l) => {
                lines.remove(l % n);
            }
            Edit::Duplicate(l) => {
                let line = lines[l % n].clone();
                lines.insert(l % n, line);
            }
            Edit::Insert(l, c, ch) => {
                let line = &mut lines[l % n];
                let chars: Vec<char> = line.chars().collect();
                let at = c % (chars.len() + 1);
                *line = chars[..at]
                    .iter()
                    .chain(std::iter::once(&ch))
                    .chain(&chars[at..])
                    .collect();
            }
            Edit::Truncate(l, c) => {
                let line = &mut lines[l % n];
                let keep = c % (line.chars().count() + 1);
                *line = line.chars().take(keep).collect();
            }
            Edit::Swap(a, b) => lines.swap(a % n, b % n),
        }
    }
    lines.join("\n")
}

fn assert_never_panics_and_locates(text: &str) -> Result<(), TestCaseError> {
    match generate_module(text, "mutated.yaml") {
        Ok(files) => prop_assert_eq!(files.len(), 5),
        Err(GenerateError::Spec(problems)) => {
            prop_assert!(!problems.is_empty());
            for p in problems.list() {
                prop_assert!(!p.message.is_empty());
                prop_assert!(
                    p.pointer.is_empty() || p.pointer.starts_with('/'),
                    "pointer {:?}",
                    p.pointer
                );
            }
        }
        Err(other) => prop_assert!(false, "not a located spec problem: {other:?}"),
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn damaged_fixture_specs_never_panic(edits in prop::collection::vec(edit(), 1..6)) {
        assert_never_panics_and_locates(&apply(EVERYTHING, &edits))?;
    }
}

proptest! {
    // The Box spec is large: fewer cases, each still a full generate.
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn damaged_box_specs_never_panic(edits in prop::collection::vec(edit(), 1..4)) {
        assert_never_panics_and_locates(&apply(BOX_SPEC, &edits))?;
    }
}
