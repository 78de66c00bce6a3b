//! Reading the local tree: the directories and files under the root in name order (excludes
//! applied, symbolic links followed or reported, the run's own journal left to the report, an
//! unreadable entry set apart), and reading one file to compare it with Box's.

use std::path::{Path, PathBuf};

use super::glob::Glob;
use super::journal::JournalFiles;
use super::report::SkipReason;
use crate::upload::Sha1Digest;

/// A local file to upload.
#[derive(Debug)]
pub(crate) struct LocalFile {
    /// Path relative to the tree's root, names joined with `/`.
    pub rel: String,
    pub abs: PathBuf,
    pub size: u64,
    /// Modification time, nanoseconds since the Unix epoch (0 if unknown).
    pub mtime_ns: i64,
}

/// An entry reported without being uploaded.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Skipped {
    pub rel: String,
    pub size: u64,
    pub reason: SkipReason,
}

/// An entry (file or folder) that could not be read: it fails on its own.
#[derive(Debug)]
pub(crate) struct Unreadable {
    pub rel: String,
    pub abs: PathBuf,
    pub error: std::io::Error,
}

/// What a walk found, each list in path order.
#[derive(Debug, Default)]
pub(crate) struct Walked {
    /// Folders read (an unreadable one is in `unreadable`, not here: it is not made in Box).
    pub dirs: Vec<String>,
    pub files: Vec<LocalFile>,
    /// Links not followed (or broken, or too deep), and the journal's own files.
    pub skipped: Vec<Skipped>,
    pub unreadable: Vec<Unreadable>,
}

/// What to leave out of a walk, and how to treat links.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WalkOptions<'a> {
    pub exclude: &'a [Glob],
    pub follow: bool,
    /// The run's journal, if it has one: reported as skipped if it is in the tree.
    pub journal: Option<&'a JournalFiles>,
}

/// Directories nested deeper than this are not entered (a loop of followed links ends here).
const MAX_DEPTH: u32 = 64;

fn mtime_ns(meta: &std::fs::Metadata) -> i64 {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .and_then(|d| i64::try_from(d.as_nanos()).ok())
        .unwrap_or(0)
}

/// A directory's entries in name order.
fn entries(dir: &Path) -> std::io::Result<Vec<std::fs::DirEntry>> {
    let mut entries = std::fs::read_dir(dir)?.collect::<Result<Vec<_>, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    Ok(entries)
}

/// Walks the tree under `root`. Only the root being unreadable fails the walk; a folder or
/// file below that cannot be read is set apart in [`Walked::unreadable`].
pub(crate) fn walk(root: &Path, options: WalkOptions<'_>) -> std::io::Result<Walked> {
    let mut out = Walked::default();
    let root_entries = entries(root)?;
    go(root, "", root_entries, options, 0, &mut out);
    Ok(out)
}

/// Goes through the `entries` of directory `dir` (`prefix` relative to the root).
fn go(
    dir: &Path,
    prefix: &str,
    entries_here: Vec<std::fs::DirEntry>,
    options: WalkOptions<'_>,
    depth: u32,
    out: &mut Walked,
) {
    // The journal is looked for only in its own folder (one canonical path per folder).
    let journal_here = options
        .journal
        .filter(|j| std::fs::canonicalize(dir).is_ok_and(|d| j.is_dir(&d)));
    for e in entries_here {
        let name = e.file_name();
        let shown = name.to_string_lossy();
        let rel = if prefix.is_empty() {
            shown.into_owned()
        } else {
            format!("{prefix}/{shown}")
        };
        if options.exclude.iter().any(|g| g.matches(&rel)) {
            continue;
        }
        let path = e.path();
        let mut meta = match std::fs::symlink_metadata(&path) {
            Ok(meta) => meta,
            Err(error) => {
                out.unreadable.push(Unreadable {
                    rel,
                    abs: path,
                    error,
                });
                continue;
            }
        };
        let skip = |out: &mut Walked, rel: String, size: u64, reason: SkipReason| {
            out.skipped.push(Skipped { rel, size, reason });
        };
        if journal_here.is_some_and(|j| j.is_name(&name)) {
            skip(out, rel, meta.len(), SkipReason::JournalFile);
            continue;
        }
        if meta.file_type().is_symlink() {
            if !options.follow {
                skip(out, rel, 0, SkipReason::Symlink);
                continue;
            }
            meta = match std::fs::metadata(&path) {
                Ok(m) => m,
                Err(_) => {
                    skip(out, rel, 0, SkipReason::Symlink);
                    continue;
                }
            };
            // A link to the journal is the journal.
            let to_journal = options
                .journal
                .is_some_and(|j| std::fs::canonicalize(&path).is_ok_and(|target| j.holds(&target)));
            if to_journal {
                skip(out, rel, meta.len(), SkipReason::JournalFile);
                continue;
            }
        }
        if meta.is_dir() {
            if depth >= MAX_DEPTH {
                skip(out, rel, 0, SkipReason::Symlink);
                continue;
            }
            match entries(&path) {
                Ok(inner) => {
                    out.dirs.push(rel.clone());
                    go(&path, &rel, inner, options, depth + 1, out);
                }
                Err(error) => out.unreadable.push(Unreadable {
                    rel,
                    abs: path,
                    error,
                }),
            }
        } else if meta.is_file() {
            out.files.push(LocalFile {
                rel,
                abs: path,
                size: meta.len(),
                mtime_ns: mtime_ns(&meta),
            });
        }
    }
}

/// Opens the local file at `path` to make sure it can be read (and is still a file), and
/// hashes it when `hash` says so: its SHA-1 and how many bytes it had when read.
pub(crate) fn read_local(path: &Path, hash: bool) -> std::io::Result<Option<(u64, Sha1Digest)>> {
    let f = std::fs::File::open(path)?;
    if !f.metadata()?.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    if !hash {
        return Ok(None);
    }
    Sha1Digest::of_reader(f).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(exclude: &[Glob], follow: bool) -> WalkOptions<'_> {
        WalkOptions {
            exclude,
            follow,
            journal: None,
        }
    }

    /// The links a walk reported.
    fn symlinks(walked: &Walked) -> Vec<&str> {
        walked
            .skipped
            .iter()
            .filter(|s| s.reason == SkipReason::Symlink)
            .map(|s| s.rel.as_str())
            .collect()
    }

    fn write(root: &Path, rel: &str, data: &[u8]) {
        let path = root.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(path, data).expect("write");
    }

    #[test]
    fn walk_lists_in_path_order_and_leaves_out_excluded_names() {
        let dir = tempfile::tempdir().expect("tempdir");
        write(dir.path(), "b.txt", b"bb");
        write(dir.path(), "a/z.txt", b"z");
        write(dir.path(), "a/x.tmp", b"x");
        write(dir.path(), "target/out.bin", b"o");
        std::fs::create_dir_all(dir.path().join("empty")).expect("mkdir");
        let exclude = [Glob::new("*.tmp"), Glob::new("target")];
        let walked = walk(dir.path(), options(&exclude, false)).expect("walk");
        assert_eq!(walked.dirs, ["a", "empty"]);
        let files: Vec<(&str, u64)> = walked
            .files
            .iter()
            .map(|f| (f.rel.as_str(), f.size))
            .collect();
        assert_eq!(files, [("a/z.txt", 1), ("b.txt", 2)]);
        assert_eq!(walked.files[1].abs, dir.path().join("b.txt"));
        assert!(walked.files.iter().all(|f| f.mtime_ns > 0));
        assert!(walked.skipped.is_empty());
        assert!(walked.unreadable.is_empty());
    }

    #[cfg(unix)]
    #[test]
    fn links_are_reported_unless_followed() {
        let dir = tempfile::tempdir().expect("tempdir");
        write(dir.path(), "real/f.txt", b"f");
        std::os::unix::fs::symlink(dir.path().join("real"), dir.path().join("link"))
            .expect("symlink");
        std::os::unix::fs::symlink(dir.path().join("gone"), dir.path().join("broken"))
            .expect("symlink");
        let walked = walk(dir.path(), options(&[], false)).expect("walk");
        assert_eq!(symlinks(&walked), ["broken", "link"]);
        assert_eq!(walked.files.len(), 1);
        let walked = walk(dir.path(), options(&[], true)).expect("walk");
        assert_eq!(symlinks(&walked), ["broken"]);
        let files: Vec<&str> = walked.files.iter().map(|f| f.rel.as_str()).collect();
        assert_eq!(files, ["link/f.txt", "real/f.txt"]);
    }

    #[test]
    fn hash_file_is_the_sha1_of_the_content() {
        let dir = tempfile::tempdir().expect("tempdir");
        let data: Vec<u8> = (0..600_000u32).map(|i| (i % 251) as u8).collect();
        write(dir.path(), "f", &data);
        let (n, sha1) = read_local(&dir.path().join("f"), true)
            .expect("hash")
            .expect("hashed");
        assert_eq!(n, 600_000);
        assert_eq!(sha1, Sha1Digest::of(&data));
        assert!(read_local(&dir.path().join("f"), false)
            .expect("readable")
            .is_none());
    }

    #[test]
    fn a_directory_where_a_file_was_is_unreadable() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("d")).expect("mkdir");
        let e = read_local(&dir.path().join("d"), false).expect_err("a directory");
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
        let e = read_local(&dir.path().join("gone"), true).expect_err("nothing there");
        assert_eq!(e.kind(), std::io::ErrorKind::NotFound);
    }

    #[test]
    fn the_journal_in_the_tree_is_reported_with_its_namesakes_and_not_walked() {
        let dir = tempfile::tempdir().expect("tempdir");
        write(dir.path(), "a.txt", b"a");
        write(dir.path(), "state/tree.journal", b"{}\n");
        write(dir.path(), "state/tree.journal.tmp", b"");
        write(dir.path(), "state/tree.journals", b"s");
        write(dir.path(), "other/tree.journal", b"o");
        // Named through `other/..`, before it is opened.
        let journal = JournalFiles::new(&dir.path().join("other/../state/tree.journal"))
            .expect("journal files");
        let walk_with = |follow| {
            walk(
                dir.path(),
                WalkOptions {
                    exclude: &[],
                    follow,
                    journal: Some(&journal),
                },
            )
            .expect("walk")
        };
        let walked = walk_with(false);
        let files: Vec<&str> = walked.files.iter().map(|f| f.rel.as_str()).collect();
        assert_eq!(
            files,
            ["a.txt", "other/tree.journal", "state/tree.journals"]
        );
        assert_eq!(
            walked.skipped,
            [
                Skipped {
                    rel: "state/tree.journal".into(),
                    size: 3,
                    reason: SkipReason::JournalFile
                },
                Skipped {
                    rel: "state/tree.journal.tmp".into(),
                    size: 0,
                    reason: SkipReason::JournalFile
                },
            ]
        );
        // A followed link to the journal is the journal.
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(
                dir.path().join("state/tree.journal"),
                dir.path().join("j-link"),
            )
            .expect("symlink");
            let walked = walk_with(true);
            assert!(walked.files.iter().all(|f| f.rel != "j-link"));
            assert!(walked
                .skipped
                .iter()
                .any(|s| s.rel == "j-link" && s.reason == SkipReason::JournalFile));
        }
    }

    /// Makes `levels` nested folders of 200-character names under `root/deep`, with a file at
    /// the bottom: deep enough that the path of the lowest ones is over `PATH_MAX`, which no
    /// one can read (root included). Made by a shell, whose `cd` goes one folder at a time.
    #[cfg(unix)]
    fn too_deep(root: &Path, levels: u32) {
        let script = format!(
            "mkdir deep && cd deep && n=$(printf '%0200d' 0) && \
             for i in $(seq 1 {levels}); do mkdir \"$n$i\" && cd -P \"$n$i\" || exit 1; done && \
             echo x > f.txt"
        );
        let status = std::process::Command::new("sh")
            .args(["-c", &script])
            .current_dir(root)
            .status()
            .expect("sh");
        assert!(status.success(), "{script}");
    }

    #[cfg(unix)]
    #[test]
    fn an_unreadable_folder_is_set_apart_and_the_others_are_walked() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().expect("tempdir");
        write(dir.path(), "a.txt", b"a");
        write(dir.path(), "z/z.txt", b"z");
        too_deep(dir.path(), 24);
        write(dir.path(), "locked/secret.txt", b"s");
        let locked = dir.path().join("locked");
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).expect("chmod");
        // Root reads it anyway: then only the path too long is unreadable.
        let denied = std::fs::read_dir(&locked).is_err();
        let walked = walk(dir.path(), options(&[], false));
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let walked = walked.expect("walk");
        let files: Vec<&str> = walked.files.iter().map(|f| f.rel.as_str()).collect();
        assert!(
            files.contains(&"a.txt") && files.contains(&"z/z.txt"),
            "{files:?}"
        );
        assert!(!files.iter().any(|f| f.ends_with("/f.txt")), "{files:?}");
        let unreadable: Vec<&str> = walked.unreadable.iter().map(|u| u.rel.as_str()).collect();
        assert!(
            walked.unreadable.iter().all(|u| u.abs.ends_with(&u.rel)),
            "{unreadable:?}"
        );
        let deep: Vec<&&str> = unreadable
            .iter()
            .filter(|u| u.starts_with("deep/"))
            .collect();
        assert_eq!(deep.len(), 1, "{unreadable:?}");
        assert!(
            !walked.dirs.iter().any(|d| d == *deep[0]),
            "an unreadable folder is not made"
        );
        if denied {
            assert!(unreadable.contains(&"locked"), "{unreadable:?}");
            let locked = walked.unreadable.iter().find(|u| u.rel == "locked");
            assert!(locked.is_some_and(|u| u.error.kind() == std::io::ErrorKind::PermissionDenied));
            assert!(!files.contains(&"locked/secret.txt"));
            assert!(!walked.dirs.iter().any(|d| d == "locked"));
        } else {
            eprintln!("running as root: a folder without permissions is readable, not checked");
            assert!(files.contains(&"locked/secret.txt"));
        }
    }
}
