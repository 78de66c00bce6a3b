//! The HTTP core shared by every operation of a generated client.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// A credential that never appears in `Debug` or `Display` output.
#[derive(Clone)]
pub struct Secret(Arc<str>);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(Arc::from(value.into()))
    }

    /// The secret itself. Call sites are few and deliberate: building the `authorization` header.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Connection settings for a generated client: the `reqwest` client, the bearer token, and
/// base-URL overrides per server key (`api`, `upload`, ... as named in the spec).
#[derive(Clone)]
pub struct Core {
    http: reqwest::Client,
    token: Option<Secret>,
    servers: Arc<BTreeMap<String, String>>,
}

impl fmt::Debug for Core {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Core")
            .field("token", &self.token)
            .field("servers", &self.servers)
            .finish_non_exhaustive()
    }
}

impl Core {
    pub fn builder() -> CoreBuilder {
        CoreBuilder::default()
    }

    /// The underlying HTTP client (connection pool shared by every clone of this core).
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// The base URL configured for `key`, if the caller overrode the spec's default.
    pub fn server_override(&self, key: &str) -> Option<&str> {
        self.servers.get(key).map(String::as_str)
    }

    /// Starts a request with the credentials attached.
    pub fn request(&self, method: reqwest::Method, url: reqwest::Url) -> reqwest::RequestBuilder {
        let builder = self.http.request(method, url);
        match &self.token {
            Some(token) => builder.bearer_auth(token.expose()),
            None => builder,
        }
    }
}

/// Builds a [`Core`]. Defaults: rustls TLS, 30 s connect timeout, 5 min read timeout, keep-alive.
#[derive(Default)]
pub struct CoreBuilder {
    http: Option<reqwest::Client>,
    token: Option<Secret>,
    servers: BTreeMap<String, String>,
    connect_timeout: Option<Duration>,
    read_timeout: Option<Duration>,
    user_agent: Option<String>,
}

impl fmt::Debug for CoreBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CoreBuilder")
            .field("token", &self.token)
            .field("servers", &self.servers)
            .finish_non_exhaustive()
    }
}

impl CoreBuilder {
    /// The bearer token sent as `authorization: Bearer ...` on every request.
    pub fn bearer_token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(Secret::new(token));
        self
    }

    /// Overrides the base URL of server `key` (for example to point at a local emulator).
    /// A trailing `/` is ignored.
    pub fn server(mut self, key: impl Into<String>, base_url: impl Into<String>) -> Self {
        let mut url = base_url.into();
        while url.ends_with('/') {
            url.pop();
        }
        self.servers.insert(key.into(), url);
        self
    }

    /// Uses this `reqwest` client instead of building one (timeouts set here are then ignored).
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http = Some(client);
        self
    }

    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = Some(timeout);
        self
    }

    /// How long a response may stay silent (per read, not for the whole transfer).
    pub fn read_timeout(mut self, timeout: Duration) -> Self {
        self.read_timeout = Some(timeout);
        self
    }

    pub fn user_agent(mut self, agent: impl Into<String>) -> Self {
        self.user_agent = Some(agent.into());
        self
    }

    pub fn build(self) -> Result<Core, crate::TransportError> {
        let http = match self.http {
            Some(client) => client,
            None => reqwest::Client::builder()
                .connect_timeout(self.connect_timeout.unwrap_or(Duration::from_secs(30)))
                .read_timeout(self.read_timeout.unwrap_or(Duration::from_secs(300)))
                .user_agent(self.user_agent.unwrap_or_else(|| {
                    concat!("box-uploads/", env!("CARGO_PKG_VERSION")).to_string()
                }))
                .build()
                .map_err(crate::TransportError::from)?,
        };
        Ok(Core {
            http,
            token: self.token,
            servers: Arc::new(self.servers),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_shows_the_token() {
        let core = Core::builder()
            .bearer_token("s3cr3t-token")
            .build()
            .expect("builds");
        let shown = format!(
            "{core:?} {:?} {}",
            Secret::new("s3cr3t-token"),
            Secret::new("s3cr3t-token")
        );
        assert!(!shown.contains("s3cr3t"), "{shown}");
    }

    #[test]
    fn server_override_drops_trailing_slashes() {
        let core = Core::builder()
            .server("api", "http://127.0.0.1:1/2.0//")
            .build()
            .expect("builds");
        assert_eq!(core.server_override("api"), Some("http://127.0.0.1:1/2.0"));
        assert_eq!(core.server_override("upload"), None);
    }
}
