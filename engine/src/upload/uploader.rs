//! [`Uploader`]: the engine bound to a generated [`Client`].

use super::engine::Engine;
use super::{ParallelismStats, Upload, UploadConfig, UploadError, UploadHandle};
use crate::models::FileFull;
use crate::Client;

/// Uploads files with a [`Client`]. Cheap to clone; clones share the concurrency budget
/// ([`UploadConfig::concurrency`] parts in flight across all their uploads, and for the
/// adaptive default, one controller that learns the network from all of them).
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use box_uploads::upload::{Upload, UploadConfig, Uploader};
/// use box_uploads::ClientBuilder;
///
/// let client = ClientBuilder::new().token("ACCESS_TOKEN").build()?;
/// let mut config = UploadConfig::default();
/// config.concurrency = 6.into(); // pinned; the default adapts to the network
/// let uploader = Uploader::with_config(client, config);
///
/// let handle = uploader.start_upload(Upload::new_file("0", "big.iso").from_path("big.iso"));
/// let mut progress = handle.progress();
/// tokio::spawn(async move {
///     while progress.changed().await.is_ok() {
///         let p = progress.borrow().clone();
///         eprintln!("{}/{} bytes, {} retries", p.bytes_sent, p.total_bytes, p.retries);
///     }
/// });
/// let file = handle.join().await?;
/// println!("{} {:?}", file.id, file.sha1);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Uploader {
    engine: Engine<Client>,
}

impl std::fmt::Debug for Uploader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Uploader")
            .field("config", &*self.engine.config)
            .finish_non_exhaustive()
    }
}

impl Uploader {
    /// An uploader with the default [`UploadConfig`].
    pub fn new(client: Client) -> Self {
        Uploader::with_config(client, UploadConfig::default())
    }

    pub fn with_config(client: Client, config: UploadConfig) -> Self {
        Uploader {
            engine: Engine::new(client, config),
        }
    }

    pub fn config(&self) -> &UploadConfig {
        &self.engine.config
    }

    /// The parts in flight now and at most so far, and the adaptive limit (shared by every
    /// clone of this uploader).
    pub fn parallelism(&self) -> ParallelismStats {
        self.engine.parallelism.stats()
    }

    pub fn client(&self) -> &Client {
        &self.engine.api
    }

    /// Starts an upload on a task of its own and returns its handle (progress, `join`,
    /// `abort`). Must be called within a Tokio runtime.
    pub fn start_upload(&self, upload: Upload) -> UploadHandle<FileFull> {
        self.engine.start(upload)
    }

    /// Uploads and waits for the committed file.
    pub async fn upload(&self, upload: Upload) -> Result<FileFull, UploadError> {
        self.start_upload(upload).join().await
    }
}
