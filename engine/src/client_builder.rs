//! Building a [`Client`] for Box: the token and, for an emulator or a proxy, the base URLs.

use std::time::Duration;

use box_uploads_runtime::TransportError;

use crate::Client;

/// Builds a [`Client`].
///
/// ```no_run
/// # fn main() -> Result<(), box_uploads::TransportError> {
/// // Real Box: only a token.
/// let box_client = box_uploads::ClientBuilder::new().token("ACCESS_TOKEN").build()?;
/// // A local emulator: both base URLs.
/// let local = box_uploads::ClientBuilder::new()
///     .token("test-token")
///     .api_url("http://127.0.0.1:8080/2.0")
///     .upload_url("http://127.0.0.1:8080/api/2.0")
///     .build()?;
/// # let _ = (box_client, local); Ok(()) }
/// ```
#[derive(Debug, Default)]
pub struct ClientBuilder {
    core: box_uploads_runtime::CoreBuilder,
}

impl ClientBuilder {
    /// A builder for real Box (`api.box.com`, `upload.box.com`); give it at least a token.
    pub fn new() -> Self {
        Self::default()
    }

    /// The OAuth access token (sent as `authorization: Bearer ...`; never logged or displayed).
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.core = self.core.bearer_token(token);
        self
    }

    /// Base URL of the API host (default `https://api.box.com/2.0`).
    pub fn api_url(mut self, url: impl Into<String>) -> Self {
        self.core = self.core.server("api", url);
        self
    }

    /// Base URL of the upload host (default `https://upload.box.com/api/2.0`), used for uploads
    /// and, unless Box hands back absolute session URLs (it does), for session calls.
    pub fn upload_url(mut self, url: impl Into<String>) -> Self {
        let url = url.into();
        self.core = self
            .core
            .server("upload", url.clone())
            .server("upload_session", url);
        self
    }

    /// Uses this `reqwest` client (its own timeouts and TLS settings then apply).
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.core = self.core.http_client(client);
        self
    }

    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.core = self.core.connect_timeout(timeout);
        self
    }

    /// How long a response may stay silent before the request fails (default 5 minutes).
    pub fn read_timeout(mut self, timeout: Duration) -> Self {
        self.core = self.core.read_timeout(timeout);
        self
    }

    pub fn build(self) -> Result<Client, TransportError> {
        Ok(Client::new(self.core.build()?))
    }
}
