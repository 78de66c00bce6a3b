//! The conflict policy: what to do with a local file given what Box holds under its name. A pure
//! decision ([`decide`]), so a table of cases pins it down. It sits beside `tree` and `upload`,
//! not in either, because both act on it: the file step of a tree, and a single new file's
//! upload (`upload::conflict`), which also names its renamed copies with [`copy_name`].

use crate::digest::Sha1Digest;
use crate::models::{Item, ItemType};

/// What to do with a local file whose name a file in the Box folder already has. In every
/// case a file with the same size and SHA-1 is skipped: its bytes are never sent again.
///
/// One policy for trees ([`TreeUpload::on_conflict`](crate::tree::TreeUpload::on_conflict))
/// and single new files ([`Upload::on_conflict`](crate::upload::Upload::on_conflict)), with one
/// default, [`Version`](OnConflict::Version) (`OnConflict::default()`): running an upload again
/// brings Box up to date (unchanged files skipped, changed ones given a new version, earlier
/// versions kept by Box) and makes no duplicate. A tree always applies a policy; a single
/// `Upload::new_file` applies one when given one (see its `on_conflict` for why). Also
/// exported as `box_uploads::upload::OnConflict`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum OnConflict {
    /// Leave the file in Box as it is.
    Skip,
    /// Upload the local file as a new version of it (only if its etag is the one listed).
    #[default]
    Version,
    /// Report the file as failed.
    Fail,
    /// Upload the local file under a new name: `name (1).ext`, `name (2).ext`... unless one of
    /// these renamed copies already holds the same content (then it is skipped: running again
    /// makes no other copy).
    Rename,
}

/// What is known of the local file when deciding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Local {
    /// Size found when the tree was walked.
    pub size: u64,
    /// The content's SHA-1, when it was hashed (see [`must_hash`]) and still had `size` bytes.
    pub sha1: Option<Sha1Digest>,
}

/// What Box holds under the file's name, as far as the decision needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Existing<'a> {
    pub is_file: bool,
    /// As listed; Box's sizes are signed.
    pub size: Option<i64>,
    /// Hex, as Box lists it.
    pub sha1: Option<&'a str>,
}

impl<'a> From<&'a Item> for Existing<'a> {
    fn from(item: &'a Item) -> Self {
        Existing {
            is_file: item.r#type == ItemType::File,
            size: item.size,
            sha1: item.sha1.as_deref(),
        }
    }
}

impl Existing<'_> {
    /// The listed size differs from `size` (an unknown size does not).
    fn other_size(&self, size: u64) -> bool {
        self.size
            .is_some_and(|s| u64::try_from(s).ok() != Some(size))
    }
}

/// A renamed copy Box holds of the file's name (`name (n).ext`, as an earlier run with
/// [`OnConflict::Rename`] made it), with its name as listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Copy<'a> {
    pub name: &'a str,
    pub existing: Existing<'a>,
}

/// What to do with one local file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Nothing of that name: upload it as a new file.
    Upload,
    /// Box holds a file with the same size and SHA-1: send nothing.
    SkipIdentical,
    /// Box holds a renamed copy `name` with the same size and SHA-1 (an earlier run's
    /// [`OnConflict::Rename`]): send nothing, make no other copy.
    SkipRenamedCopy { name: String },
    /// Upload it as a new version of the file Box holds.
    NewVersion,
    /// Upload it as a new file under `name`.
    Rename { name: String },
    /// Leave what Box holds ([`OnConflict::Skip`]).
    Skip,
    /// Report a conflict ([`OnConflict::Fail`], or a version of something that is not a file).
    Fail,
}

/// Whether the local file must be hashed before [`decide`]: only when Box holds a file of that
/// name whose size does not already tell them apart, or (renaming) a renamed copy of that kind.
pub(crate) fn must_hash(
    local_size: u64,
    existing: Option<&Existing<'_>>,
    copies: &[Copy<'_>],
    policy: OnConflict,
) -> bool {
    let maybe_same = |e: &Existing<'_>| e.is_file && !e.other_size(local_size);
    existing.is_some_and(|e| {
        maybe_same(e)
            || (policy == OnConflict::Rename && copies.iter().any(|c| maybe_same(&c.existing)))
    })
}

/// Box holds the local file's content: a file of the same size (or unlisted) and SHA-1.
fn identical(local: &Local, existing: &Existing<'_>) -> bool {
    existing.is_file
        && !existing.other_size(local.size)
        && local
            .sha1
            .zip(existing.sha1)
            .is_some_and(|(ours, theirs)| ours.matches_hex(theirs))
}

/// Decides what to do with a local file named `name` given what Box holds under that name (if
/// anything), its renamed copies (`copies`, lowest number first) and the `policy`. Content Box
/// holds under that name is skipped whatever the policy. A rename first looks for a renamed
/// copy with the same content (skipped: running again makes no other copy), and otherwise
/// takes the first `name (n).ext` not `taken` (listed, or chosen by another rename of this run).
pub(crate) fn decide(
    name: &str,
    local: &Local,
    existing: Option<&Existing<'_>>,
    copies: &[Copy<'_>],
    policy: OnConflict,
    taken: impl Fn(&str) -> bool,
) -> Decision {
    let Some(existing) = existing else {
        return Decision::Upload;
    };
    if identical(local, existing) {
        return Decision::SkipIdentical;
    }
    match (policy, existing.is_file) {
        (OnConflict::Rename, _) => match copies.iter().find(|c| identical(local, &c.existing)) {
            Some(copy) => Decision::SkipRenamedCopy {
                name: copy.name.to_string(),
            },
            None => Decision::Rename {
                name: free_name(name, taken),
            },
        },
        (OnConflict::Skip, _) => Decision::Skip,
        (OnConflict::Version, true) => Decision::NewVersion,
        _ => Decision::Fail,
    }
}

/// `name` as stem and extension: `a.txt` -> (`a`, `.txt`); a dot file or a name without a
/// dot is all stem.
fn stem_ext(name: &str) -> (&str, &str) {
    match name.rfind('.') {
        Some(i) if i > 0 => name.split_at(i),
        _ => (name, ""),
    }
}

/// The `n`th renamed copy of `name`: `stem (n).ext`.
pub(crate) fn copy_name(name: &str, n: u64) -> String {
    let (stem, ext) = stem_ext(name);
    format!("{stem} ({n}){ext}")
}

/// The name a renamed copy was made from, and its number: `a (2).txt` -> (`a.txt`, 2); `None`
/// for a name [`copy_name`] does not make.
pub(crate) fn copy_of(candidate: &str) -> Option<(String, u64)> {
    let (stem, ext) = stem_ext(candidate);
    let (base_stem, number) = stem.strip_suffix(')')?.rsplit_once(" (")?;
    let n: u64 = number.parse().ok().filter(|n| *n > 0)?;
    let base = format!("{base_stem}{ext}");
    // Only what `copy_name` makes (no `(01)`, no `+1`, a stem it would split the same way).
    (copy_name(&base, n) == candidate).then_some((base, n))
}

/// The first of `stem (1).ext`, `stem (2).ext`... that is not `taken`.
fn free_name(name: &str, taken: impl Fn(&str) -> bool) -> String {
    (1u64..)
        .map(|n| copy_name(name, n))
        .find(|candidate| !taken(candidate))
        .unwrap_or_else(|| copy_name(name, u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ABC: &str = "a9993e364706816aba3e25717850c26c9cd0d89d";
    const ABC_UPPER: &str = "A9993E364706816ABA3E25717850C26C9CD0D89D";
    const OTHER: &str = "da39a3ee5e6b4b0d3255bfef95601890afd80709";

    fn file(size: Option<i64>, sha1: Option<&'static str>) -> Existing<'static> {
        Existing {
            is_file: true,
            size,
            sha1,
        }
    }

    const FOLDER: Existing<'static> = Existing {
        is_file: false,
        size: None,
        sha1: None,
    };

    const NO_COPIES: &[Copy<'static>] = &[];

    fn copy(name: &'static str, size: i64, sha1: &'static str) -> Copy<'static> {
        Copy {
            name,
            existing: file(Some(size), Some(sha1)),
        }
    }

    /// What the case is, name, local file, what Box holds, its renamed copies, policy, decision.
    type Row<'a> = (
        &'static str,
        &'static str,
        Local,
        Option<Existing<'static>>,
        &'a [Copy<'static>],
        OnConflict,
        Decision,
    );

    /// What the case is, what Box holds, its renamed copies, policy, whether to hash.
    type HashRow<'a> = (
        &'static str,
        Option<Existing<'static>>,
        &'a [Copy<'static>],
        OnConflict,
        bool,
    );

    const POLICIES: [OnConflict; 4] = [
        OnConflict::Skip,
        OnConflict::Version,
        OnConflict::Fail,
        OnConflict::Rename,
    ];

    #[test]
    fn decisions_table() {
        let hashed = Local {
            size: 3,
            sha1: Some(Sha1Digest::of(b"abc")),
        };
        let unhashed = Local {
            size: 3,
            sha1: None,
        };
        let rename = |name: &str| Decision::Rename { name: name.into() };
        let copy_skipped = |name: &str| Decision::SkipRenamedCopy { name: name.into() };
        // Renamed copies an earlier run made, lowest number first.
        let same_in_2: &[Copy<'static>] = &[copy("a (1).txt", 3, OTHER), copy("a (2).txt", 3, ABC)];
        let same_in_1_and_3: &[Copy<'static>] =
            &[copy("a (1).txt", 3, ABC), copy("a (3).txt", 3, ABC)];
        let others: &[Copy<'static>] = &[copy("a (1).txt", 3, OTHER), copy("a (2).txt", 4, ABC)];
        let folder_copy: &[Copy<'static>] = &[Copy {
            name: "a (1).txt",
            existing: FOLDER,
        }];
        // Names in use in the folder, for the renames.
        let in_use = ["a (1).txt", "notes (1)"];
        // One row per case.
        #[rustfmt::skip]
        let mut rows: Vec<Row<'_>> = vec![
            ("nothing there", "a.txt", hashed, None, NO_COPIES, OnConflict::Fail, Decision::Upload),
            ("nothing there, unhashed", "a.txt", unhashed, None, NO_COPIES, OnConflict::Version, Decision::Upload),
            ("nothing there, an identical copy does not matter", "a.txt", hashed, None, same_in_2, OnConflict::Rename, Decision::Upload),
            ("same size and sha1", "a.txt", hashed, Some(file(Some(3), Some(ABC))), NO_COPIES, OnConflict::Fail, Decision::SkipIdentical),
            ("sha1 compared without case", "a.txt", hashed, Some(file(Some(3), Some(ABC_UPPER))), NO_COPIES, OnConflict::Version, Decision::SkipIdentical),
            ("size unlisted, same sha1", "a.txt", hashed, Some(file(None, Some(ABC))), NO_COPIES, OnConflict::Rename, Decision::SkipIdentical),
            ("same content under the name beats a copy", "a.txt", hashed, Some(file(Some(3), Some(ABC))), same_in_2, OnConflict::Rename, Decision::SkipIdentical),
            ("other sha1, version", "a.txt", hashed, Some(file(Some(3), Some(OTHER))), NO_COPIES, OnConflict::Version, Decision::NewVersion),
            ("other size, version", "a.txt", unhashed, Some(file(Some(4), Some(ABC))), NO_COPIES, OnConflict::Version, Decision::NewVersion),
            ("negative size is another size", "a.txt", hashed, Some(file(Some(-1), Some(ABC))), NO_COPIES, OnConflict::Version, Decision::NewVersion),
            ("sha1 unlisted, version", "a.txt", hashed, Some(file(Some(3), None)), NO_COPIES, OnConflict::Version, Decision::NewVersion),
            ("not hashed (changed while read), version", "a.txt", unhashed, Some(file(Some(3), Some(ABC))), NO_COPIES, OnConflict::Version, Decision::NewVersion),
            ("other content, skip", "a.txt", hashed, Some(file(Some(3), Some(OTHER))), NO_COPIES, OnConflict::Skip, Decision::Skip),
            ("other content, fail", "a.txt", hashed, Some(file(Some(3), Some(OTHER))), NO_COPIES, OnConflict::Fail, Decision::Fail),
            ("other content, rename past names in use", "a.txt", hashed, Some(file(Some(3), Some(OTHER))), NO_COPIES, OnConflict::Rename, rename("a (2).txt")),
            ("rename again: the identical copy is skipped", "a.txt", hashed, Some(file(Some(3), Some(OTHER))), same_in_2, OnConflict::Rename, copy_skipped("a (2).txt")),
            ("rename again: the lowest identical copy", "a.txt", hashed, Some(file(Some(3), Some(OTHER))), same_in_1_and_3, OnConflict::Rename, copy_skipped("a (1).txt")),
            ("rename again, copies differ: a free name", "a.txt", hashed, Some(file(Some(3), Some(OTHER))), others, OnConflict::Rename, rename("a (2).txt")),
            ("rename again, unhashed: no copy is identical", "a.txt", unhashed, Some(file(Some(3), Some(OTHER))), same_in_2, OnConflict::Rename, rename("a (2).txt")),
            ("rename, a folder named as a copy is no copy", "a.txt", hashed, Some(file(Some(3), Some(OTHER))), folder_copy, OnConflict::Rename, rename("a (2).txt")),
            ("identical copies matter only to a rename", "a.txt", hashed, Some(file(Some(3), Some(OTHER))), same_in_2, OnConflict::Version, Decision::NewVersion),
            ("identical copies matter only to a rename, skip", "a.txt", hashed, Some(file(Some(3), Some(OTHER))), same_in_2, OnConflict::Skip, Decision::Skip),
            ("identical copies matter only to a rename, fail", "a.txt", hashed, Some(file(Some(3), Some(OTHER))), same_in_2, OnConflict::Fail, Decision::Fail),
            ("rename without extension", "notes", hashed, Some(file(Some(9), None)), NO_COPIES, OnConflict::Rename, rename("notes (2)")),
            ("rename of a dot file keeps its name whole", ".env", hashed, Some(file(Some(9), None)), NO_COPIES, OnConflict::Rename, rename(".env (1)")),
            ("rename keeps the last extension", "x.tar.gz", hashed, Some(file(Some(9), None)), NO_COPIES, OnConflict::Rename, rename("x.tar (1).gz")),
            ("folder, version fails", "a.txt", hashed, Some(FOLDER), NO_COPIES, OnConflict::Version, Decision::Fail),
            ("folder, fail", "a.txt", hashed, Some(FOLDER), NO_COPIES, OnConflict::Fail, Decision::Fail),
            ("folder, skip", "a.txt", hashed, Some(FOLDER), NO_COPIES, OnConflict::Skip, Decision::Skip),
            ("folder, rename", "a.txt", hashed, Some(FOLDER), NO_COPIES, OnConflict::Rename, rename("a (2).txt")),
            ("folder, rename again: the identical copy is skipped", "a.txt", hashed, Some(FOLDER), same_in_2, OnConflict::Rename, copy_skipped("a (2).txt")),
        ];
        // Identical content is skipped whatever the policy: by its name, size unlisted, sha1 in
        // capitals, copies beside it or not.
        for policy in POLICIES {
            for (existing, copies) in [
                (file(Some(3), Some(ABC)), NO_COPIES),
                (file(None, Some(ABC)), NO_COPIES),
                (file(Some(3), Some(ABC_UPPER)), others),
                (file(Some(3), Some(ABC)), same_in_2),
            ] {
                rows.push((
                    "identical, any policy",
                    "a.txt",
                    hashed,
                    Some(existing),
                    copies,
                    policy,
                    Decision::SkipIdentical,
                ));
            }
        }
        for (row, name, local, existing, copies, policy, want) in rows {
            let got = decide(name, &local, existing.as_ref(), copies, policy, |n| {
                in_use.contains(&n)
            });
            assert_eq!(got, want, "{row} ({policy:?})");
        }
    }

    #[test]
    fn hashing_is_needed_only_for_a_file_of_maybe_the_same_size() {
        let rows = [
            ("nothing there", None, false),
            ("same size", Some(file(Some(3), Some(ABC))), true),
            ("size unlisted", Some(file(None, None)), true),
            ("other size", Some(file(Some(4), Some(ABC))), false),
            ("negative size", Some(file(Some(-3), Some(ABC))), false),
            ("folder", Some(FOLDER), false),
        ];
        for (row, existing, want) in rows {
            for policy in POLICIES {
                assert_eq!(
                    must_hash(3, existing.as_ref(), NO_COPIES, policy),
                    want,
                    "{row}"
                );
            }
        }
        // Renaming, a copy of maybe the same size needs the hash too (to be skipped).
        let same_size = [copy("a (1).txt", 3, ABC)];
        let other_size = [copy("a (1).txt", 4, ABC)];
        #[rustfmt::skip]
        let rows: [HashRow<'_>; 6] = [
            ("other size, copy of the same size, rename", Some(file(Some(4), None)), &same_size, OnConflict::Rename, true),
            ("folder, copy of the same size, rename", Some(FOLDER), &same_size, OnConflict::Rename, true),
            ("other size, copy of the same size, version", Some(file(Some(4), None)), &same_size, OnConflict::Version, false),
            ("other size, copy of another size, rename", Some(file(Some(4), None)), &other_size, OnConflict::Rename, false),
            ("folder copy, rename", Some(file(Some(4), None)), &[Copy { name: "a (1).txt", existing: FOLDER }], OnConflict::Rename, false),
            ("nothing there, copy of the same size, rename", None, &same_size, OnConflict::Rename, false),
        ];
        for (row, existing, copies, policy, want) in rows {
            assert_eq!(
                must_hash(3, existing.as_ref(), copies, policy),
                want,
                "{row}"
            );
        }
    }

    #[test]
    fn a_copy_name_is_read_back_only_as_a_rename_makes_it() {
        #[rustfmt::skip]
        let rows: [(&str, Option<(&str, u64)>); 13] = [
            ("a (1).txt", Some(("a.txt", 1))),
            ("a (12).txt", Some(("a.txt", 12))),
            ("notes (2)", Some(("notes", 2))),
            (".env (1)", Some((".env", 1))),
            ("x.tar (1).gz", Some(("x.tar.gz", 1))),
            ("a (1) (2).txt", Some(("a (1).txt", 2))),
            ("a.txt", None),
            ("a (0).txt", None),
            ("a (01).txt", None),
            ("a (+1).txt", None),
            ("a(1).txt", None),
            (" (1).txt", None),
            ("a (x).txt", None),
        ];
        for (name, want) in rows {
            let got = copy_of(name);
            assert_eq!(got.as_ref().map(|(b, n)| (b.as_str(), *n)), want, "{name}");
            if let Some((base, n)) = got {
                assert_eq!(copy_name(&base, n), name);
            }
        }
    }

    #[test]
    fn existing_is_read_from_a_listed_item() {
        let item: Item = serde_json::from_value(serde_json::json!({
            "type": "file", "id": "5", "name": "a.txt", "size": 3, "sha1": ABC
        }))
        .expect("an item");
        assert_eq!(Existing::from(&item), file(Some(3), Some(ABC)));
        let folder: Item = serde_json::from_value(serde_json::json!({"type": "folder", "id": "6"}))
            .expect("an item");
        assert_eq!(Existing::from(&folder), FOLDER);
    }
}
