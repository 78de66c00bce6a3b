//! A Box-compatible file-upload server for offline tests, benchmarks and demos.
//!
//! `box-emulator` serves the ten upload operations of Box's API (preflight, direct upload
//! of a file and of a new version, chunked upload sessions with their parts, listing,
//! abort and commit), plus `GET /2.0/files/{id}`, `GET /2.0/files/{id}/content`
//! (`?version=ID` for an old version; a redirect to a download URL, as Box's),
//! `GET /2.0/files/{id}/versions` and `GET /2.0/folders/{id}/items` (offset or marker paging)
//! so tests can read back what was stored, folders (`POST /2.0/folders`,
//! `GET /2.0/folders/{id}`), the trash (`DELETE /2.0/files/{id}`, `GET` and `DELETE
//! /2.0/files/{id}/trash`, restore by `POST /2.0/files/{id}`, `DELETE /2.0/folders/{id}`) and
//! `GET /2.0/users/me`. Files go into any folder; names are unique per folder across files
//! and folders, case-insensitively.
//! [`Emulator::tree`] reads a folder tree back as path -> (size, SHA-1). It enforces Box's
//! rules with Box's status codes and error bodies, keeps everything under a data
//! directory (a restarted emulator still has every file and open session), streams
//! bodies to disk so memory stays bounded, and can inject faults reproducibly from a seed.
//!
//! It is an independent reading of Box's documentation (the API reference at
//! <https://developer.box.com/reference/> and the upload guides at
//! <https://developer.box.com/guides/uploads/>), written without the generated client so it
//! can check it.
//!
//! URL layout, as Box's: API base `http://HOST:PORT/2.0`, upload base
//! `http://HOST:PORT/api/2.0`. `session_endpoints` and the preflight `upload_url` are
//! absolute URLs back to the emulator.
//!
//! # Example
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use box_emulator::{Config, Emulator, FaultConfig};
//!
//! let emu = Emulator::start(Config {
//!     // Small parts and a small chunked minimum keep tests fast.
//!     part_size: Some(1024 * 1024),
//!     min_chunked_size: 1,
//!     ..Default::default()
//! })
//! .await?;
//! println!("API at {}, uploads at {}", emu.api_url(), emu.upload_url());
//! // Point a client at emu.api_url() / emu.upload_url() with token emu.token().
//!
//! // Inject faults at run time.
//! emu.set_faults(FaultConfig { part_500_before_store: 0.2, commit_202: 1, ..Default::default() });
//!
//! // ... run the client ...
//!
//! let c = emu.counters();
//! println!("{} parts stored, {} faults injected", c.parts_stored, c.injected_total());
//! emu.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! A test driving the `box-emulator` binary reads the same counters with
//! `GET /_emulator/counters` (no authentication), and can change faults with
//! `PUT /_emulator/faults`.
//!
//! # Service authentication
//!
//! With [`Config::client_id`] and [`Config::client_secret`] the emulator also serves Box's
//! token endpoint on its base URL ([`Emulator::token_url`]): `POST /oauth2/token` with client
//! credentials, JWT assertions ([`Config::jwt_public_key`]) and single-use refresh tokens
//! ([`Emulator::mint_refresh_token`]), and `POST /oauth2/revoke`. Issued tokens live
//! [`Config::token_ttl`] and belong to a user (the enterprise's service account,
//! [`SERVICE_ACCOUNT_ID`], or one of [`Config::users`]); an upload session belongs to the user
//! who created it, and the service account may act as a user with `as-user`. A test provokes
//! the expired-token 401 in the middle of an upload with [`Emulator::expire_tokens`] (or the
//! `expire-tokens` fault) and ages tokens with [`Emulator::advance_token_clock`]. The static
//! [`Config::token`] keeps working and never expires.
//!
//! # Network shaping
//!
//! [`Config::net`] (or [`Emulator::set_net`], `PUT /_emulator/net`, the binary's `--net`)
//! makes loopback behave like a network: a round trip before each request is handled,
//! request and response bodies limited per connection and for the whole link, and server time
//! per part upload and commit (see [`NetConfig`]). It waits on `tokio::time`, so a test can run
//! it on a paused clock. The default shapes nothing and costs nothing.
//!
//! # HTTPS
//!
//! With [`Config::tls`] (the binary's `--tls-cert` and `--tls-key`) the emulator serves HTTPS
//! only, as Box does, with rustls; ALPN offers HTTP/2 and HTTP/1.1, and its URLs start with
//! `https://`. Network shaping stays per TCP connection (an HTTP/2 connection and all its
//! streams share one connection's buckets). [`Counters::connections_opened`] and the
//! requests per HTTP version show how a client spreads its requests. A fault that drops a
//! connection drops the whole TCP connection: over HTTP/2 that ends every request in flight on
//! it, not only the one the fault was drawn for. `TestCertificates` (feature `testing`)
//! makes a throwaway CA and server certificate.
//!
//! The `testing` module (cargo feature `testing`, for `[dev-dependencies]`) has what tests of a
//! client usually need around the emulator: small-part configurations, deterministic test
//! data, the values of Box's digest and range headers, checks of Box's error bodies and of
//! what was stored. [`units`] reads sizes and durations as the binary's flags do.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod api;
mod auth;
mod body;
mod config;
mod counters;
mod error;
mod multipart;
mod net;
#[cfg(test)]
mod proptests;
mod server;
mod state;
#[cfg(any(feature = "testing", test))]
pub mod testing;
mod tls;
pub mod units;
mod util;

pub use config::{
    Config, FaultConfig, FaultSpecError, RateLimit, DEFAULT_MIN_CHUNKED_SIZE, DEFAULT_PART_SIZE,
    DEFAULT_SESSION_LIFETIME, DEFAULT_TOKEN_TTL, LARGE_FILE_THRESHOLD, LARGE_PART_SIZE, MAX_PARTS,
    SERVICE_ACCOUNT_ID,
};
pub use counters::{AuthCounters, Counters, InjectedCounters, Operation, TokensIssued};
pub use net::{NetConfig, NetSpecError};
#[cfg(any(feature = "testing", test))]
pub use tls::TestCertificates;
pub use tls::TlsConfig;

use state::{lock, Shared};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Why [`Emulator::start`] failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The configuration is not usable.
    #[error("invalid emulator configuration: {0}")]
    Config(String),
    /// Binding the listener or preparing the data directory failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

/// A running emulator. Dropping it stops the server (and removes a temporary data
/// directory); [`Emulator::shutdown`] does the same and waits for the server to stop.
pub struct Emulator {
    shared: Arc<Shared>,
    addr: SocketAddr,
    shutdown_tx: Option<watch::Sender<bool>>,
    task: Option<JoinHandle<()>>,
    net: Arc<net::Net>,
}

impl std::fmt::Debug for Emulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emulator")
            .field("addr", &self.addr)
            .field("data_dir", &self.shared.data_dir)
            .finish_non_exhaustive()
    }
}

fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> StartError {
    let context = context.into();
    move |source| StartError::Io { context, source }
}

impl Emulator {
    /// Starts an emulator on the current tokio runtime and returns once it accepts
    /// connections.
    pub async fn start(config: Config) -> Result<Emulator, StartError> {
        if config.token.is_empty() || config.token.chars().any(char::is_whitespace) {
            return Err(StartError::Config(
                "the token must be non-empty and contain no whitespace".into(),
            ));
        }
        if let Some(bad) = config.folders.iter().find(|f| !util::is_numeric_id(f)) {
            return Err(StartError::Config(format!(
                "folder id {bad:?} is not a string of digits"
            )));
        }
        if config.part_size == Some(0) {
            return Err(StartError::Config("the part size must be positive".into()));
        }
        let jwt_key = check_auth_config(&config).map_err(StartError::Config)?;
        let net =
            Arc::new(net::Net::new(config.net.validated().map_err(|e| {
                StartError::Config(format!("network shaping: {e}"))
            })?));
        let (data_dir, temp_dir) = match &config.data_dir {
            Some(d) => (d.clone(), None),
            None => {
                let d = std::env::temp_dir().join(format!(
                    "box-emulator-{}-{}",
                    std::process::id(),
                    error::new_request_id()
                ));
                (d.clone(), Some(state::TempDataDir(d)))
            }
        };
        tokio::fs::create_dir_all(&data_dir)
            .await
            .map_err(io(format!(
                "creating data directory {}",
                data_dir.display()
            )))?;
        let tls = match &config.tls {
            Some(t) => Some(t.acceptor().map_err(StartError::Config)?),
            None => None,
        };
        let scheme = if tls.is_some() { "https" } else { "http" };
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(io(format!("binding {}", config.listen)))?;
        let addr = listener.local_addr().map_err(io("reading local address"))?;
        let base_url = match &config.public_url {
            Some(u) => u.trim_end_matches('/').to_string(),
            None => {
                let mut a = addr;
                if a.ip().is_unspecified() {
                    a.set_ip(if a.is_ipv4() {
                        std::net::Ipv4Addr::LOCALHOST.into()
                    } else {
                        std::net::Ipv6Addr::LOCALHOST.into()
                    });
                }
                format!("{scheme}://{a}")
            }
        };
        let mut shared = Shared::open(config.clone(), data_dir.clone())
            .await
            .map_err(io(format!("opening data directory {}", data_dir.display())))?;
        shared.base_url = base_url;
        shared.jwt_key = jwt_key;
        shared.temp_dir = temp_dir;
        shared.set_faults(config.faults.clone().clamped());
        let shared = Arc::new(shared);
        let router = api::router(shared.clone());
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let task = tokio::spawn(server::serve(
            listener,
            router,
            shared.clone(),
            net.clone(),
            tls,
            shutdown_rx,
        ));
        Ok(Emulator {
            shared,
            addr,
            shutdown_tx: Some(shutdown_tx),
            task: Some(task),
            net,
        })
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://HOST:PORT` (`https://` with [`Config::tls`]; or the configured `public_url`).
    pub fn base_url(&self) -> String {
        self.shared.base_url.clone()
    }

    /// The API base, `http://HOST:PORT/2.0` (Box: `https://api.box.com/2.0`).
    pub fn api_url(&self) -> String {
        format!("{}/2.0", self.shared.base_url)
    }

    /// The upload base, `http://HOST:PORT/api/2.0` (Box: `https://upload.box.com/api/2.0`).
    pub fn upload_url(&self) -> String {
        self.shared.upload_base()
    }

    /// The static bearer token the emulator accepts ([`Config::token`]): it never expires and
    /// acts as the enterprise's service account.
    pub fn token(&self) -> &str {
        &self.shared.config.token
    }

    /// The data directory in use.
    pub fn data_dir(&self) -> &Path {
        &self.shared.data_dir
    }

    /// The configuration the emulator was started with.
    pub fn config(&self) -> &Config {
        &self.shared.config
    }

    /// A snapshot of the counters.
    pub fn counters(&self) -> Counters {
        self.shared.counters().clone()
    }

    /// Waits until `until` holds for the counters (checked every 10 ms), for at most
    /// `timeout`. Returns the counters that satisfied it, or, if time ran out, the last
    /// counters seen. Counters change as requests are handled, so this is how a test waits for
    /// traffic it does not drive itself (a client in the background, another process).
    pub async fn wait_for_counters(
        &self,
        timeout: std::time::Duration,
        mut until: impl FnMut(&Counters) -> bool,
    ) -> Result<Counters, Counters> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let counters = self.counters();
            if until(&counters) {
                return Ok(counters);
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(counters);
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }

    /// Sets every counter back to zero.
    pub fn reset_counters(&self) {
        *self.shared.counters() = Counters::default();
    }

    /// The fault settings in force.
    pub fn faults(&self) -> FaultConfig {
        self.shared.faults()
    }

    /// Replaces the fault settings; takes effect for requests that arrive from now on.
    /// Probabilities are clamped into `[0, 1]`.
    ///
    /// [`FaultConfig::expire_tokens`] is an action: `Some(0)` invalidates every issued access
    /// token at once (see [`expire_tokens`](Self::expire_tokens)), `Some(N)` after N more API
    /// requests.
    pub fn set_faults(&self, faults: FaultConfig) {
        self.shared.set_faults(faults.clamped());
    }

    /// The network shaping in force ([`Config::net`]).
    pub fn net(&self) -> NetConfig {
        self.net.config()
    }

    /// Replaces the network shaping; requests that start from now on are shaped by it (a body
    /// already flowing keeps the rates it started with). Zero rates and delays read as none
    /// (unlimited), delays are capped at an hour. Also `PUT /_emulator/net`.
    pub fn set_net(&self, net: NetConfig) {
        self.net.set_config(net);
    }

    /// Invalidates every access token issued so far, at once: a request carrying one gets
    /// Box's 401 (empty body, `www-authenticate: Bearer realm="Service",
    /// error="invalid_token", ...`), so a client must get a new token. Tokens issued afterwards
    /// work. The static [`token`](Self::token), preflight upload tokens and refresh tokens are
    /// not touched. Returns how many tokens were in force. The same as
    /// `set_faults(FaultConfig { expire_tokens: Some(0), .. })` (which also replaces the other
    /// faults) or `POST /_emulator/expire-tokens`.
    pub fn expire_tokens(&self) -> u64 {
        self.shared.expire_tokens()
    }

    /// Moves the clock that access- and refresh-token lifetimes are measured on `by` forward,
    /// so a test can make tokens outlive [`Config::token_ttl`] without sleeping (JWT `exp`
    /// claims are still checked against the real clock). Returns how far ahead of the real
    /// clock it now is. Also `POST /_emulator/token-clock` with `{"advance_secs": N}`.
    pub fn advance_token_clock(&self, by: std::time::Duration) -> std::time::Duration {
        self.shared.advance_token_clock(by)
    }

    /// A new refresh token for configured user `user_id` ([`Config::users`]), to exchange
    /// with `grant_type=refresh_token` (single use: the answer carries the next one). `None`
    /// if there is no such user. Also `POST /_emulator/refresh-tokens` with
    /// `{"user_id": "ID"}`.
    pub fn mint_refresh_token(&self, user_id: &str) -> Option<String> {
        self.shared.mint_refresh_token(user_id)
    }

    /// The token endpoint, `http://HOST:PORT/oauth2/token` (Box:
    /// `https://api.box.com/oauth2/token`). JWT assertions may name it or Box's URL as `aud`.
    pub fn token_url(&self) -> String {
        format!("{}/oauth2/token", self.shared.base_url)
    }

    /// Makes a folder exist under the root, named `Folder <id>` (ids are strings of digits;
    /// the root `"0"` always exists), like [`Config::folders`]: it is not persisted. Returns
    /// false if the id is not valid. Folders made over the API (`POST /2.0/folders`) are
    /// persisted.
    pub fn add_folder(&self, id: &str) -> bool {
        if !util::is_numeric_id(id) {
            return false;
        }
        self.shared.add_configured_folder(id);
        true
    }

    /// Makes an open upload session expire now (later requests get `410 session_expired`).
    /// Returns false if there is no such open session. The change is not persisted.
    pub fn expire_session(&self, session_id: &str) -> bool {
        let Ok(s) = self.shared.session(session_id) else {
            return false;
        };
        let mut inner = lock(&s.inner);
        if inner.gone || inner.meta.committed.is_some() {
            return false;
        }
        inner.meta.expires_at = chrono::Utc::now() - chrono::Duration::seconds(1);
        true
    }

    /// The content of file `file_id` as stored: its current version, or with `version_id` that
    /// version. An unknown file or version is an error of kind
    /// [`NotFound`](std::io::ErrorKind::NotFound). Reading back this way neither counts as a
    /// request nor meets injected faults.
    pub async fn file_content(
        &self,
        file_id: &str,
        version_id: Option<&str>,
    ) -> std::io::Result<Vec<u8>> {
        let blob = {
            let catalog = self.shared.catalog.lock().await;
            let not_found = |what: String| std::io::Error::new(std::io::ErrorKind::NotFound, what);
            let file = catalog
                .files
                .get(file_id)
                .ok_or_else(|| not_found(format!("no file {file_id}")))?;
            let version = match version_id {
                None => file.current(),
                Some(v) => file.versions.iter().find(|x| x.id == v),
            }
            .ok_or_else(|| not_found(format!("file {file_id} has no version {version_id:?}")))?;
            self.shared.blob_path(&version.id)
        };
        tokio::fs::read(blob).await
    }

    /// What folder `folder_id` holds, down its whole tree: each file's path relative to the
    /// folder (names joined with `/`, e.g. `docs/a.txt`) -> (size, hex SHA-1) of its current
    /// version. `None` if there is no such folder. Folders themselves are in
    /// [`tree_folders`](Self::tree_folders). Reading this way neither counts as a request nor
    /// meets injected faults; compare with `testing::local_tree` of a local directory.
    pub async fn tree(
        &self,
        folder_id: &str,
    ) -> Option<std::collections::BTreeMap<String, (u64, String)>> {
        let catalog = self.shared.catalog.lock().await;
        let dirs = self.folder_paths(folder_id)?;
        Some(
            catalog
                .files
                .values()
                .filter_map(|f| {
                    let dir = dirs.get(&f.folder_id)?;
                    let v = f.current()?;
                    Some((join_path(dir, &f.name), (v.size, v.sha1.clone())))
                })
                .collect(),
        )
    }

    /// The folders below folder `folder_id` (not itself), as paths relative to it (`docs`,
    /// `docs/old`). `None` if there is no such folder.
    pub fn tree_folders(&self, folder_id: &str) -> Option<std::collections::BTreeSet<String>> {
        let dirs = self.folder_paths(folder_id)?;
        Some(dirs.into_values().filter(|p| !p.is_empty()).collect())
    }

    /// Folder id -> path relative to `folder_id` ("" for itself), for its whole tree.
    fn folder_paths(&self, folder_id: &str) -> Option<std::collections::HashMap<String, String>> {
        let folders = self.shared.folders();
        folders.by_id.get(folder_id)?;
        let mut paths = std::collections::HashMap::new();
        paths.insert(folder_id.to_string(), String::new());
        let mut queue = vec![folder_id.to_string()];
        while let Some(id) = queue.pop() {
            let base = paths[&id].clone();
            for f in folders.by_id.values() {
                if !f.configured
                    && f.parent_id.as_deref() == Some(id.as_str())
                    && !paths.contains_key(&f.id)
                {
                    paths.insert(f.id.clone(), join_path(&base, &f.name));
                    queue.push(f.id.clone());
                }
            }
        }
        Some(paths)
    }

    /// Ids of the upload sessions that are neither committed nor aborted (expired ones
    /// included), sorted.
    pub fn open_sessions(&self) -> Vec<String> {
        let sessions = self
            .shared
            .sessions
            .read()
            .unwrap_or_else(|e| e.into_inner());
        let mut ids: Vec<String> = sessions
            .values()
            .filter(|s| {
                let inner = lock(&s.inner);
                !inner.gone && inner.meta.committed.is_none()
            })
            .map(|s| s.id.clone())
            .collect();
        ids.sort();
        ids
    }

    /// Stops accepting connections, drops open ones, and waits for the server task. A
    /// temporary data directory is removed; a configured one is kept.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown_tx.take() {
            let _ = tx.send(true);
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        // Drop removes the temporary directory.
    }
}

fn join_path(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

/// Checks the authentication settings; returns the JWT key, parsed, when one is configured.
fn check_auth_config(config: &Config) -> Result<Option<auth::JwtKey>, String> {
    let bad_secret =
        |s: &str| s.is_empty() || s.chars().any(|c| c.is_whitespace() || c.is_control());
    match (&config.client_id, &config.client_secret) {
        (None, None) => {}
        (Some(id), Some(secret)) => {
            if bad_secret(id) || bad_secret(secret) {
                return Err(
                    "the client id and secret must be non-empty and contain no whitespace".into(),
                );
            }
        }
        _ => return Err("the client id and the client secret go together".into()),
    }
    if !util::is_numeric_id(&config.enterprise_id) {
        return Err(format!(
            "enterprise id {:?} is not a string of digits",
            config.enterprise_id
        ));
    }
    for u in &config.users {
        if !util::is_numeric_id(u) {
            return Err(format!("user id {u:?} is not a string of digits"));
        }
        if u == SERVICE_ACCOUNT_ID {
            return Err(format!(
                "user id {u} is the service account's ({SERVICE_ACCOUNT_ID})"
            ));
        }
    }
    for (token, user) in &config.refresh_tokens {
        if bad_secret(token) {
            return Err("a refresh token must be non-empty and contain no whitespace".into());
        }
        if !config.users.contains(user) {
            return Err(format!(
                "refresh token for {user:?}, which is not a configured user"
            ));
        }
    }
    if config.token_ttl.is_zero() {
        return Err("the token lifetime must be positive".into());
    }
    match (&config.jwt_public_key, &config.jwt_key_id) {
        (None, None) => Ok(None),
        (Some(pem), Some(kid)) => {
            if config.client_id.is_none() {
                return Err("the JWT grant needs a client id and secret".into());
            }
            if kid.is_empty() {
                return Err("the JWT key id must not be empty".into());
            }
            let public_key =
                auth::rsa_public_key_from_pem(pem).map_err(|e| format!("JWT public key: {e}"))?;
            Ok(Some(auth::JwtKey {
                key_id: kid.clone(),
                public_key,
            }))
        }
        _ => Err("the JWT public key and its key id go together".into()),
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown_tx.take() {
            let _ = tx.send(true);
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
        // Removed now, and again when the last task holding the state ends.
        if let Some(dir) = &self.shared.temp_dir {
            dir.remove();
        }
    }
}
