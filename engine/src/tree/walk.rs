//! Reading the local tree: the directories and files under the root in name order (excludes
//! applied, symbolic links followed or reported), and hashing one file to compare it with Box's.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use sha1::{Digest as _, Sha1};

use super::glob::Glob;
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

/// What a walk found, each list in path order.
#[derive(Debug, Default)]
pub(crate) struct Walked {
    pub dirs: Vec<String>,
    pub files: Vec<LocalFile>,
    /// Links not followed (or broken, or too deep): reported as skipped.
    pub symlinks: Vec<String>,
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

/// Walks the tree under `root`, leaving out what matches `exclude`.
pub(crate) fn walk(root: &Path, exclude: &[Glob], follow: bool) -> std::io::Result<Walked> {
    fn go(
        dir: &Path,
        prefix: &str,
        exclude: &[Glob],
        follow: bool,
        depth: u32,
        out: &mut Walked,
    ) -> std::io::Result<()> {
        let mut entries = std::fs::read_dir(dir)?.collect::<Result<Vec<_>, _>>()?;
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let name = e.file_name().to_string_lossy().into_owned();
            let rel = if prefix.is_empty() {
                name
            } else {
                format!("{prefix}/{name}")
            };
            if exclude.iter().any(|g| g.matches(&rel)) {
                continue;
            }
            let path = e.path();
            let mut meta = std::fs::symlink_metadata(&path)?;
            if meta.file_type().is_symlink() {
                if !follow {
                    out.symlinks.push(rel);
                    continue;
                }
                meta = match std::fs::metadata(&path) {
                    Ok(m) => m,
                    Err(_) => {
                        out.symlinks.push(rel);
                        continue;
                    }
                };
            }
            if meta.is_dir() {
                if depth >= MAX_DEPTH {
                    out.symlinks.push(rel);
                    continue;
                }
                out.dirs.push(rel.clone());
                go(&path, &rel, exclude, follow, depth + 1, out)?;
            } else if meta.is_file() {
                out.files.push(LocalFile {
                    rel,
                    abs: path,
                    size: meta.len(),
                    mtime_ns: mtime_ns(&meta),
                });
            }
        }
        Ok(())
    }
    let mut out = Walked::default();
    go(root, "", exclude, follow, 0, &mut out)?;
    Ok(out)
}

/// The SHA-1 of the file at `path`, and how many bytes it had when read.
pub(crate) fn hash_file(path: &Path) -> std::io::Result<(u64, Sha1Digest)> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha1::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut n = 0u64;
    loop {
        let k = f.read(&mut buf)?;
        if k == 0 {
            break;
        }
        n += k as u64;
        h.update(&buf[..k]);
    }
    Ok((n, Sha1Digest(h.finalize().into())))
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let walked = walk(
            dir.path(),
            &[Glob::new("*.tmp"), Glob::new("target")],
            false,
        )
        .expect("walk");
        assert_eq!(walked.dirs, ["a", "empty"]);
        let files: Vec<(&str, u64)> = walked
            .files
            .iter()
            .map(|f| (f.rel.as_str(), f.size))
            .collect();
        assert_eq!(files, [("a/z.txt", 1), ("b.txt", 2)]);
        assert_eq!(walked.files[1].abs, dir.path().join("b.txt"));
        assert!(walked.files.iter().all(|f| f.mtime_ns > 0));
        assert!(walked.symlinks.is_empty());
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
        let walked = walk(dir.path(), &[], false).expect("walk");
        assert_eq!(walked.symlinks, ["broken", "link"]);
        assert_eq!(walked.files.len(), 1);
        let walked = walk(dir.path(), &[], true).expect("walk");
        assert_eq!(walked.symlinks, ["broken"]);
        let files: Vec<&str> = walked.files.iter().map(|f| f.rel.as_str()).collect();
        assert_eq!(files, ["link/f.txt", "real/f.txt"]);
    }

    #[test]
    fn hash_file_is_the_sha1_of_the_content() {
        let dir = tempfile::tempdir().expect("tempdir");
        let data: Vec<u8> = (0..600_000u32).map(|i| (i % 251) as u8).collect();
        write(dir.path(), "f", &data);
        let (n, sha1) = hash_file(&dir.path().join("f")).expect("hash");
        assert_eq!(n, 600_000);
        assert_eq!(sha1, Sha1Digest::of(&data));
    }
}
