//! Download URLs: where `GET /2.0/files/{id}/content` sends a client. Each is an unguessable
//! random path that needs no bearer token (like Box's download host) and serves one version
//! of one file for a short while.

use super::{lock, Shared};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// How long a download URL works. Box's download URLs are "not persistent" and their lifetime
/// is not documented; a few minutes is enough to follow a redirect and short enough that a
/// client which keeps one around finds out.
pub(crate) const DOWNLOAD_URL_TTL: Duration = Duration::from_secs(5 * 60);
/// Most download URLs remembered; past this the expired ones go, then the oldest.
const MAX_DOWNLOAD_URLS: usize = 4096;
/// Characters of the random part of a download URL (about 256 bits).
const TOKEN_LEN: usize = 43;

/// What a download URL serves.
#[derive(Clone)]
pub(crate) struct DownloadGrant {
    pub file_id: String,
    pub version_id: String,
    expires_at: Instant,
}

/// The download URLs in force.
#[derive(Default)]
pub(crate) struct Downloads(std::sync::Mutex<HashMap<String, DownloadGrant>>);

impl Shared {
    /// A new download URL (absolute) for version `version_id` of file `file_id`.
    pub fn new_download_url(&self, file_id: &str, version_id: &str) -> String {
        let token = crate::auth::random_token(TOKEN_LEN);
        let now = Instant::now();
        let mut urls = lock(&self.downloads.0);
        if urls.len() >= MAX_DOWNLOAD_URLS {
            urls.retain(|_, g| g.expires_at > now);
        }
        if urls.len() >= MAX_DOWNLOAD_URLS {
            if let Some(oldest) = urls
                .iter()
                .min_by_key(|(_, g)| g.expires_at)
                .map(|(k, _)| k.clone())
            {
                urls.remove(&oldest);
            }
        }
        urls.insert(
            token.clone(),
            DownloadGrant {
                file_id: file_id.to_string(),
                version_id: version_id.to_string(),
                expires_at: now + DOWNLOAD_URL_TTL,
            },
        );
        format!("{}/dl/{token}", self.base_url)
    }

    /// What download token `token` serves, if it is one in force.
    pub fn download_grant(&self, token: &str) -> Option<DownloadGrant> {
        let now = Instant::now();
        let mut urls = lock(&self.downloads.0);
        match urls.get(token) {
            Some(g) if g.expires_at > now => Some(g.clone()),
            Some(_) => {
                urls.remove(token);
                None
            }
            None => None,
        }
    }
}
