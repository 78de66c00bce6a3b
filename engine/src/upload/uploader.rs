//! [`Uploader`]: the engine bound to a generated [`Client`].

use super::engine::Engine;
use super::limits::UserLimits;
use super::{
    OutcomeReceiver, ParallelismStats, Upload, UploadConfig, UploadError, UploadHandle,
    UploadOutcome, UploadTarget, Uploaded,
};
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

    /// An uploader with these settings. Its first upload reads the user's largest upload
    /// (`GET /users/me`, once for this uploader and its clones); a file over it is refused with
    /// [`TooLarge`](super::UploadErrorKind::TooLarge) before anything is sent.
    pub fn with_config(client: Client, config: UploadConfig) -> Self {
        let limits = UserLimits::of_client(client.clone());
        Uploader {
            engine: Engine::new(client, config).with_limits(limits),
        }
    }

    /// The settings of every upload of this uploader.
    pub fn config(&self) -> &UploadConfig {
        &self.engine.config
    }

    /// The parts in flight now and at most so far, and the adaptive limit (shared by every
    /// clone of this uploader).
    pub fn parallelism(&self) -> ParallelismStats {
        self.engine.parallelism.stats()
    }

    /// The generated client the uploads call.
    pub fn client(&self) -> &Client {
        &self.engine.api
    }

    /// Starts an upload on a task of its own and returns its handle (progress, `join`,
    /// `pause`, `abort`). Must be called within a Tokio runtime. The handle's `join` fails with
    /// the kinds [`upload`](Self::upload) names.
    pub fn start_upload<T: UploadTarget>(&self, upload: Upload<T>) -> UploadHandle<FileFull> {
        let target = upload.target.clone();
        self.engine.start(upload).naming_failures_for(target)
    }

    /// Uploads and waits for the committed file.
    ///
    /// Fails with an [`UploadError`] whose [`kind`](UploadError::kind) says what to do:
    /// [`CredentialsRefused`](super::UploadErrorKind::CredentialsRefused),
    /// [`NotFound`](super::UploadErrorKind::NotFound) (the folder, the file or the session),
    /// [`Conflict`](super::UploadErrorKind::Conflict) (the name is in use, by the file it names),
    /// [`TooLarge`](super::UploadErrorKind::TooLarge), [`GaveUp`](super::UploadErrorKind::GaveUp) (transient
    /// failures until the retry budget was spent),
    /// [`SourceChanged`](super::UploadErrorKind::SourceChanged) and the other source kinds,
    /// [`Verification`](super::UploadErrorKind::Verification),
    /// [`CommitTimeout`](super::UploadErrorKind::CommitTimeout),
    /// [`StateFile`](super::UploadErrorKind::StateFile), [`Cancelled`](super::UploadErrorKind::Cancelled),
    /// [`InvalidInput`](super::UploadErrorKind::InvalidInput), or [`Api`](super::UploadErrorKind::Api) for
    /// any other answer (such as a 412 to `if_match`).
    ///
    /// ```no_run
    /// # async fn demo(uploader: box_uploads::upload::Uploader) -> Result<(), box_uploads::upload::UploadError> {
    /// use box_uploads::upload::{Upload, UploadErrorKind};
    ///
    /// match uploader.upload(Upload::new_file("0", "notes.txt").from_bytes("hello")).await {
    ///     Ok(file) => println!("stored as {}", file.id),
    ///     Err(e) => match e.kind() {
    ///         UploadErrorKind::Conflict { existing, .. } => {
    ///             let v = Upload::new_version(&existing.id).from_bytes("hello");
    ///             uploader.upload(v).await?;
    ///         }
    ///         _ => return Err(e),
    ///     },
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn upload<T: UploadTarget>(
        &self,
        upload: Upload<T>,
    ) -> Result<FileFull, UploadError> {
        self.start_upload(upload).join().await
    }

    /// Uploads like [`upload`](Self::upload), and says what was done: with a conflict policy
    /// ([`Upload::on_conflict`]), whether the content was sent as a new file, a new version or
    /// a renamed copy, or skipped (then `file` is the one Box holds); without one,
    /// [`UploadOutcome::Uploaded`].
    pub async fn upload_with_outcome<T: UploadTarget>(
        &self,
        upload: Upload<T>,
    ) -> Result<Uploaded<FileFull>, UploadError> {
        let (handle, outcome) = self.start_upload_with_outcome(upload);
        let file = handle.join().await?;
        let outcome = outcome.get().unwrap_or(UploadOutcome::Uploaded);
        Ok(Uploaded { file, outcome })
    }

    /// [`start_upload`](Self::start_upload), and what the upload did (read it once `join`
    /// returned the file): see [`upload_with_outcome`](Self::upload_with_outcome).
    pub fn start_upload_with_outcome<T: UploadTarget>(
        &self,
        upload: Upload<T>,
    ) -> (UploadHandle<FileFull>, OutcomeReceiver) {
        let target = upload.target.clone();
        let (handle, outcome) = self.engine.start_with_outcome(upload);
        (handle.naming_failures_for(target), OutcomeReceiver(outcome))
    }

    /// What [`upload_with_outcome`](Self::upload_with_outcome) would do, found with read-only
    /// calls and nothing sent (a dry run): a new file's conflict policy looks the name up and
    /// hashes the source; without a policy the answer is [`UploadOutcome::Uploaded`]. `file` is
    /// the file a skip would return, or the one a new version would be made of.
    /// [`OnConflict::Fail`](super::OnConflict::Fail) over a name in use fails with the conflict
    /// the upload would.
    pub async fn plan_upload<T: UploadTarget>(
        &self,
        upload: Upload<T>,
    ) -> Result<Uploaded<Option<FileFull>>, UploadError> {
        self.engine.plan(upload).await
    }
}
