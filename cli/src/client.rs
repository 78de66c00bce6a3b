//! The uploader a `put` runs with: a client holding the credentials and the base URLs given,
//! and the upload settings the options ask for.

use anyhow::Context as _;

use box_uploads::upload::{UploadConfig, Uploader};
use box_uploads::ClientBuilder;

use crate::args::PutArgs;
use crate::credentials;

/// The client and the engine's settings of `args`; fails on missing or conflicting credentials.
pub(crate) fn uploader(args: &PutArgs) -> anyhow::Result<Uploader> {
    let mut builder = credentials::configure(ClientBuilder::new(), &args.auth)?;
    if let (Some(api), Some(upload)) = (&args.api_url, &args.upload_url) {
        builder = builder.api_url(api.clone()).upload_url(upload.clone());
    }
    let client = builder.build().context("cannot build the client")?;

    let mut config = UploadConfig::default();
    config.concurrency = args.concurrency;
    if let Some(cutoff) = args.chunked_cutoff {
        config.chunked_cutoff = cutoff;
    }
    if let Some(min) = args.min_chunked_size {
        config.min_chunked_size = min;
    }
    Ok(Uploader::with_config(client, config))
}
