//! A small glob matcher for exclude lists: `*` (any run of characters but `/`), `**` (any run,
//! `/` included: any number of directories), `?` (one character but `/`). A pattern without `/`
//! is matched against every name of the path (as `.gitignore` does: `*.tmp` excludes
//! `a/b/x.tmp`, `target` excludes a directory called `target` anywhere); one with `/` against
//! the whole path relative to the tree's root.

/// One exclude pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob {
    pattern: String,
    anchored: bool,
}

impl Glob {
    /// A pattern; a leading `/` or `./` anchors it at the root and is dropped.
    pub fn new(pattern: impl Into<String>) -> Self {
        let mut pattern: String = pattern.into();
        let had_slash = pattern.contains('/');
        while let Some(rest) = pattern
            .strip_prefix("./")
            .or_else(|| pattern.strip_prefix('/'))
        {
            pattern = rest.to_string();
        }
        while pattern.len() > 1 && pattern.ends_with('/') {
            pattern.pop();
        }
        Glob {
            pattern,
            anchored: had_slash,
        }
    }

    /// The pattern as given (without a leading `/`).
    pub fn as_str(&self) -> &str {
        &self.pattern
    }

    /// Whether `path` (relative to the root, names joined with `/`) matches.
    pub fn matches(&self, path: &str) -> bool {
        let p: Vec<char> = self.pattern.chars().collect();
        if self.anchored {
            let t: Vec<char> = path.chars().collect();
            return match_here(&p, &t);
        }
        path.split('/').any(|name| {
            let t: Vec<char> = name.chars().collect();
            match_here(&p, &t)
        })
    }
}

fn match_here(p: &[char], t: &[char]) -> bool {
    match p.first() {
        None => t.is_empty(),
        Some('*') if p.get(1) == Some(&'*') => {
            // `**/` also matches no directory at all.
            let rest = &p[2..];
            if let Some(after) = rest.strip_prefix(&['/']) {
                if match_here(after, t) {
                    return true;
                }
            }
            (0..=t.len()).any(|i| match_here(rest, &t[i..]))
        }
        Some('*') => {
            let rest = &p[1..];
            for i in 0..=t.len() {
                if match_here(rest, &t[i..]) {
                    return true;
                }
                if t.get(i) == Some(&'/') {
                    break;
                }
            }
            false
        }
        Some('?') => t.first().is_some_and(|c| *c != '/') && match_here(&p[1..], &t[1..]),
        Some(c) => t.first() == Some(c) && match_here(&p[1..], &t[1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::Glob;

    #[test]
    fn star_stays_within_a_name_and_double_star_crosses_directories() {
        assert!(Glob::new("*.tmp").matches("a/b/x.tmp"));
        assert!(!Glob::new("*.tmp").matches("a/b/x.tmpl"));
        assert!(Glob::new("a/*.txt").matches("a/x.txt"));
        assert!(!Glob::new("a/*.txt").matches("a/b/x.txt"));
        assert!(Glob::new("a/**/x.txt").matches("a/b/c/x.txt"));
        assert!(Glob::new("a/**/x.txt").matches("a/x.txt"));
        assert!(Glob::new("**/cache").matches("deep/down/cache"));
        assert!(Glob::new("target").matches("sub/target"));
        assert!(Glob::new("fil?.rs").matches("file.rs"));
        assert!(!Glob::new("fil?.rs").matches("fil/.rs"));
        assert!(Glob::new("/top.txt").matches("top.txt"));
        assert!(!Glob::new("/top.txt").matches("sub/top.txt"));
    }
}
