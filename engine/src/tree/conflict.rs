//! The conflict policy: what to do with a local file given what Box holds under its name. A pure
//! decision ([`decide`]), so a table of cases pins it down; the file step acts on the answer.

use crate::models::{Item, ItemType};
use crate::upload::Sha1Digest;

/// What to do with a local file whose name a file in the Box folder already has. In every
/// case a file with the same size and SHA-1 is skipped: its bytes are never sent again.
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
    /// Upload the local file under a new name: `name (1).ext`, `name (2).ext`...
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

/// What to do with one local file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Nothing of that name: upload it as a new file.
    Upload,
    /// Box holds a file with the same size and SHA-1: send nothing.
    SkipIdentical,
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
/// name whose size does not already tell them apart.
pub(crate) fn must_hash(local_size: u64, existing: Option<&Existing<'_>>) -> bool {
    existing.is_some_and(|e| e.is_file && !e.other_size(local_size))
}

/// Decides what to do with a local file named `name` given what Box holds under that name (if
/// anything) and the `policy`. `taken` says whether a name is in use in the folder (listed, or
/// chosen by another rename of this run); a rename takes the first free `name (n).ext`.
pub(crate) fn decide(
    name: &str,
    local: &Local,
    existing: Option<&Existing<'_>>,
    policy: OnConflict,
    taken: impl Fn(&str) -> bool,
) -> Decision {
    let Some(existing) = existing else {
        return Decision::Upload;
    };
    let identical = existing.is_file
        && !existing.other_size(local.size)
        && local
            .sha1
            .zip(existing.sha1)
            .is_some_and(|(ours, theirs)| ours.matches_hex(theirs));
    if identical {
        return Decision::SkipIdentical;
    }
    match (policy, existing.is_file) {
        (OnConflict::Rename, _) => Decision::Rename {
            name: free_name(name, taken),
        },
        (OnConflict::Skip, _) => Decision::Skip,
        (OnConflict::Version, true) => Decision::NewVersion,
        _ => Decision::Fail,
    }
}

/// The first of `stem (1).ext`, `stem (2).ext`... that is not `taken`.
fn free_name(name: &str, taken: impl Fn(&str) -> bool) -> String {
    let (stem, ext) = match name.rsplit_once('.') {
        Some((s, e)) if !s.is_empty() => (s, format!(".{e}")),
        _ => (name, String::new()),
    };
    (1u64..)
        .map(|n| format!("{stem} ({n}){ext}"))
        .find(|candidate| !taken(candidate))
        .unwrap_or_else(|| format!("{stem} ({}){ext}", u64::MAX))
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

    /// What the case is, name, local file, what Box holds, policy, decision.
    type Row = (
        &'static str,
        &'static str,
        Local,
        Option<Existing<'static>>,
        OnConflict,
        Decision,
    );

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
        // Names in use in the folder, for the renames.
        let in_use = ["a (1).txt", "notes (1)"];
        // One row per case.
        #[rustfmt::skip]
        let rows: Vec<Row> = vec![
            ("nothing there", "a.txt", hashed, None, OnConflict::Fail, Decision::Upload),
            ("nothing there, unhashed", "a.txt", unhashed, None, OnConflict::Version, Decision::Upload),
            ("same size and sha1", "a.txt", hashed, Some(file(Some(3), Some(ABC))), OnConflict::Fail, Decision::SkipIdentical),
            ("sha1 compared without case", "a.txt", hashed, Some(file(Some(3), Some(ABC_UPPER))), OnConflict::Version, Decision::SkipIdentical),
            ("size unlisted, same sha1", "a.txt", hashed, Some(file(None, Some(ABC))), OnConflict::Rename, Decision::SkipIdentical),
            ("other sha1, version", "a.txt", hashed, Some(file(Some(3), Some(OTHER))), OnConflict::Version, Decision::NewVersion),
            ("other size, version", "a.txt", unhashed, Some(file(Some(4), Some(ABC))), OnConflict::Version, Decision::NewVersion),
            ("negative size is another size", "a.txt", hashed, Some(file(Some(-1), Some(ABC))), OnConflict::Version, Decision::NewVersion),
            ("sha1 unlisted, version", "a.txt", hashed, Some(file(Some(3), None)), OnConflict::Version, Decision::NewVersion),
            ("not hashed (changed while read), version", "a.txt", unhashed, Some(file(Some(3), Some(ABC))), OnConflict::Version, Decision::NewVersion),
            ("other content, skip", "a.txt", hashed, Some(file(Some(3), Some(OTHER))), OnConflict::Skip, Decision::Skip),
            ("other content, fail", "a.txt", hashed, Some(file(Some(3), Some(OTHER))), OnConflict::Fail, Decision::Fail),
            ("other content, rename past names in use", "a.txt", hashed, Some(file(Some(3), Some(OTHER))), OnConflict::Rename, rename("a (2).txt")),
            ("rename without extension", "notes", hashed, Some(file(Some(9), None)), OnConflict::Rename, rename("notes (2)")),
            ("rename of a dot file keeps its name whole", ".env", hashed, Some(file(Some(9), None)), OnConflict::Rename, rename(".env (1)")),
            ("rename keeps the last extension", "x.tar.gz", hashed, Some(file(Some(9), None)), OnConflict::Rename, rename("x.tar (1).gz")),
            ("folder, version fails", "a.txt", hashed, Some(FOLDER), OnConflict::Version, Decision::Fail),
            ("folder, fail", "a.txt", hashed, Some(FOLDER), OnConflict::Fail, Decision::Fail),
            ("folder, skip", "a.txt", hashed, Some(FOLDER), OnConflict::Skip, Decision::Skip),
            ("folder, rename", "a.txt", hashed, Some(FOLDER), OnConflict::Rename, rename("a (2).txt")),
        ];
        for (row, name, local, existing, policy, want) in rows {
            let got = decide(name, &local, existing.as_ref(), policy, |n| {
                in_use.contains(&n)
            });
            assert_eq!(got, want, "{row}");
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
            assert_eq!(must_hash(3, existing.as_ref()), want, "{row}");
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
