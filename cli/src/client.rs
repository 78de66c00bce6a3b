//! The uploader a `put` runs with: a client holding the credentials and the base URLs given,
//! and the upload settings the options ask for. Credentials that cannot be used exit 3, a
//! client that cannot be built (a malformed URL, a `--ca-cert` file unreadable or not PEM
//! certificates) exits 2, naming what is wrong.

use box_uploads::upload::{UploadConfig, Uploader};
use box_uploads::ClientBuilder;

use crate::args::PutArgs;
use crate::credentials;
use crate::exit_code::{Classified, Exit};
use crate::output::failure_line;

/// The client and the engine's settings of `args`; fails on missing or conflicting credentials.
pub(crate) fn uploader(args: &PutArgs) -> anyhow::Result<Uploader> {
    let mut builder = credentials::configure(ClientBuilder::new(), &args.auth)
        .map_err(|e| Classified::new(Exit::Refused, failure_line(&e)))?;
    if let (Some(api), Some(upload)) = (&args.api_url, &args.upload_url) {
        builder = builder.api_url(api.clone()).upload_url(upload.clone());
    }
    // One HTTP client serves the API, the uploads and the token endpoint: all trust it.
    if let Some(ca) = &args.ca_cert {
        builder = builder.ca_cert_file(ca.clone());
    }
    let client = builder.build().map_err(|e| {
        Classified::new(
            Exit::Usage,
            format!("cannot build the client: {}", crate::output::chain_line(&e)),
        )
    })?;

    let mut config = UploadConfig::default();
    config.concurrency = args.concurrency;
    config.retry.max_attempts = args.retries.saturating_add(1);
    if let Some(cutoff) = args.chunked_cutoff {
        config.chunked_cutoff = cutoff;
    }
    if let Some(min) = args.min_chunked_size {
        config.min_chunked_size = min;
    }
    // Every new version: --version-of, --on-conflict version, and a directory's.
    config.reuse_parts = !args.no_reuse;
    Ok(Uploader::with_config(client, config))
}
