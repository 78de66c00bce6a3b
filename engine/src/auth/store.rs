//! Where an OAuth 2.0 refresh token lives between renewals. Box's refresh tokens are single
//! use: each renewal returns the next one and kills the one sent, so the store is written
//! before the new access token is used (a crash in between must not lose the only valid refresh token), and a store shared by several
//! processes is locked from load to save.

use std::fmt;
use std::fs;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use box_uploads_runtime::{CredentialsError, CredentialsErrorKind, Secret};

/// Keeps the refresh token of [`OAuthCredentials`](super::OAuthCredentials). Implement it to
/// keep the token in a database, a keychain or a vault.
///
/// The methods block (file or network I/O is fine): they are called on Tokio's blocking
/// threads, one renewal at a time per credentials.
pub trait TokenStore: Send + Sync + fmt::Debug + 'static {
    /// The refresh token to use next; `None` when the store has none.
    fn load(&self) -> Result<Option<Secret>, CredentialsError>;

    /// Replaces the refresh token. Called with the rotated token before the access token
    /// issued with it is handed out: when this fails, that access token is not used.
    fn save(&self, refresh_token: &Secret) -> Result<(), CredentialsError>;

    /// Keeps other processes that share the store out from [`load`](Self::load) to
    /// [`save`](Self::save), until the returned lock is dropped. Renewals within one process
    /// are already one at a time; the default takes no lock.
    fn lock(&self) -> Result<StoreLock, CredentialsError> {
        Ok(StoreLock::none())
    }
}

/// What [`TokenStore::lock`] returns: the lock is released when this is dropped.
pub struct StoreLock(Option<Box<dyn Send>>);

impl StoreLock {
    /// No lock at all.
    pub fn none() -> Self {
        StoreLock(None)
    }

    /// Holds `guard` until dropped (a lock file's remover, a mutex guard that is `Send`...).
    pub fn holding(guard: impl Send + 'static) -> Self {
        StoreLock(Some(Box::new(guard)))
    }
}

impl fmt::Debug for StoreLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() {
            "StoreLock(held)"
        } else {
            "StoreLock(none)"
        })
    }
}

fn store_error(message: impl Into<String>, source: Option<io::Error>) -> CredentialsError {
    let error = CredentialsError::new(CredentialsErrorKind::Store, message);
    match source {
        Some(e) => error.with_source(e),
        None => error,
    }
}

/// A refresh token kept in memory only: renewals work for the life of the process.
#[derive(Default)]
pub struct MemoryTokenStore {
    token: Mutex<Option<Secret>>,
}

impl MemoryTokenStore {
    /// A store holding `refresh_token`.
    pub fn new(refresh_token: impl Into<String>) -> Self {
        MemoryTokenStore {
            token: Mutex::new(Some(Secret::new(refresh_token))),
        }
    }

    /// The token held now.
    pub fn current(&self) -> Option<Secret> {
        self.token.lock().map(|t| t.clone()).unwrap_or_default()
    }
}

impl fmt::Debug for MemoryTokenStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryTokenStore")
            .field("token", &self.current())
            .finish()
    }
}

impl TokenStore for MemoryTokenStore {
    fn load(&self) -> Result<Option<Secret>, CredentialsError> {
        Ok(self.current())
    }

    fn save(&self, refresh_token: &Secret) -> Result<(), CredentialsError> {
        let mut slot = self
            .token
            .lock()
            .map_err(|_| store_error("the in-memory token store is poisoned", None))?;
        *slot = Some(refresh_token.clone());
        Ok(())
    }
}

/// A refresh token in a file of its own (the token alone, one line).
///
/// Written atomically (a temporary file in the same directory, then a rename), readable by
/// its owner only (mode 0600 on Unix). Processes sharing the file take turns through a lock
/// file beside it (`PATH.lock`), and each renewal reads the file again first, so a token
/// rotated by another process is the one used.
#[derive(Debug, Clone)]
pub struct FileTokenStore {
    path: PathBuf,
}

/// How long a renewal waits for another process's lock.
const LOCK_WAIT: Duration = Duration::from_secs(30);
/// A lock file older than this is left over from a process that died: it is removed.
const LOCK_STALE: Duration = Duration::from_secs(60);

impl FileTokenStore {
    /// A store in the file at `path` (created on the first save).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        FileTokenStore { path: path.into() }
    }

    /// The file the tokens are kept in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn lock_path(&self) -> PathBuf {
        let mut name = self.path.file_name().unwrap_or_default().to_os_string();
        name.push(".lock");
        self.path.with_file_name(name)
    }

    fn temp_path(&self) -> PathBuf {
        let mut name = std::ffi::OsString::from(".");
        name.push(self.path.file_name().unwrap_or_default());
        name.push(format!(
            ".{}.{:x}.tmp",
            std::process::id(),
            fastrand::u64(..)
        ));
        self.path.with_file_name(name)
    }

    fn shown(&self) -> String {
        self.path.display().to_string()
    }
}

/// Removes the lock file when dropped.
struct LockFile(PathBuf);

impl Drop for LockFile {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

/// Creates a file readable and writable by its owner only.
fn create_private(path: &Path) -> io::Result<fs::File> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    options.open(path)
}

impl TokenStore for FileTokenStore {
    fn load(&self) -> Result<Option<Secret>, CredentialsError> {
        match fs::read_to_string(&self.path) {
            Ok(text) => {
                let token = text.trim();
                Ok((!token.is_empty()).then(|| Secret::new(token)))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(store_error(
                format!("cannot read the refresh token file {}", self.shown()),
                Some(e),
            )),
        }
    }

    fn save(&self, refresh_token: &Secret) -> Result<(), CredentialsError> {
        let temp = self.temp_path();
        let written = (|| {
            let mut file = create_private(&temp)?;
            file.write_all(refresh_token.expose().as_bytes())?;
            file.write_all(b"\n")?;
            file.sync_all()?;
            fs::rename(&temp, &self.path)
        })();
        if let Err(e) = written {
            let _ = fs::remove_file(&temp);
            return Err(store_error(
                format!("cannot write the refresh token file {}", self.shown()),
                Some(e),
            ));
        }
        // Make the rename itself durable where the platform allows.
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            if let Ok(d) = fs::File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(())
    }

    fn lock(&self) -> Result<StoreLock, CredentialsError> {
        let lock = self.lock_path();
        let started = std::time::Instant::now();
        loop {
            match create_private(&lock) {
                Ok(mut file) => {
                    let _ = writeln!(file, "{}", std::process::id());
                    return Ok(StoreLock::holding(LockFile(lock)));
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    let age = fs::metadata(&lock)
                        .and_then(|m| m.modified())
                        .ok()
                        .and_then(|t| SystemTime::now().duration_since(t).ok());
                    if age.is_some_and(|a| a > LOCK_STALE) {
                        tracing::warn!(lock = %lock.display(), "removing a stale refresh token lock");
                        let _ = fs::remove_file(&lock);
                        continue;
                    }
                    if started.elapsed() > LOCK_WAIT {
                        return Err(store_error(
                            format!(
                                "another process has held {} for over {LOCK_WAIT:?}",
                                lock.display()
                            ),
                            None,
                        ));
                    }
                    std::thread::sleep(Duration::from_millis(25));
                }
                Err(e) => {
                    return Err(store_error(
                        format!("cannot create the lock file {}", lock.display()),
                        Some(e),
                    ))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_store_keeps_the_last_token_atomically_and_privately() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("refresh-token");
        let store = FileTokenStore::new(&path);
        assert!(store.load().expect("loads").is_none(), "no file yet");
        store.save(&Secret::new("R1")).expect("saves");
        store.save(&Secret::new("R2")).expect("saves");
        assert_eq!(
            store.load().expect("loads").expect("a token").expose(),
            "R2"
        );
        assert_eq!(fs::read_to_string(&path).expect("file"), "R2\n");
        // Nothing left behind but the token file.
        let names: Vec<_> = fs::read_dir(dir.path())
            .expect("dir")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, [std::ffi::OsString::from("refresh-token")]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // Another store on the same file (another process) reads the same token.
        let again = FileTokenStore::new(&path);
        assert_eq!(
            again.load().expect("loads").expect("a token").expose(),
            "R2"
        );
    }

    #[test]
    fn the_lock_excludes_a_second_holder_until_dropped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = FileTokenStore::new(dir.path().join("t"));
        let held = store.lock().expect("locks");
        assert!(dir.path().join("t.lock").exists());
        let other = store.clone();
        let waiter = std::thread::spawn(move || {
            let started = std::time::Instant::now();
            let _lock = other.lock().expect("locks after release");
            started.elapsed()
        });
        std::thread::sleep(Duration::from_millis(200));
        drop(held);
        let waited = waiter.join().expect("joins");
        assert!(waited >= Duration::from_millis(150), "{waited:?}");
        assert!(!dir.path().join("t.lock").exists(), "released on drop");
    }

    #[test]
    fn debug_shows_no_token() {
        let store = MemoryTokenStore::new("REFRESH-SECRET");
        let shown = format!("{store:?} {:?}", StoreLock::none());
        assert!(!shown.contains("REFRESH-SECRET"), "{shown}");
        let file = FileTokenStore::new("/tmp/x");
        assert!(format!("{file:?}").contains("/tmp/x"));
    }
}
