//! The HTTP core shared by every operation of a generated client: the connection pool, the
//! credentials, the headers sent on every request and the base-URL overrides. Sending lives in
//! `send.rs`.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use crate::{Credentials, StaticToken};

/// Connection settings for a generated client. Cheap to clone: clones share the connection
/// pool and the credentials.
#[derive(Clone)]
pub struct Core {
    http: reqwest::Client,
    pub(crate) credentials: Option<Arc<dyn Credentials>>,
    default_headers: Arc<HeaderMap>,
    servers: Arc<BTreeMap<String, String>>,
}

impl fmt::Debug for Core {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Core")
            .field("credentials", &self.credentials)
            // Names only: a value might be a key.
            .field(
                "default_headers",
                &self.default_headers.keys().collect::<Vec<_>>(),
            )
            .field("servers", &self.servers)
            .finish_non_exhaustive()
    }
}

impl Core {
    /// A builder of a core.
    pub fn builder() -> CoreBuilder {
        CoreBuilder::default()
    }

    /// A core that sends with `http` (sharing its connection pool), without credentials, default
    /// headers or server overrides: for an operation called at a URL of its own, such as a
    /// token endpoint.
    pub fn with_http_client(http: reqwest::Client) -> Core {
        Core {
            http,
            credentials: None,
            default_headers: Arc::new(HeaderMap::new()),
            servers: Arc::new(BTreeMap::new()),
        }
    }

    /// The underlying HTTP client (connection pool shared by every clone of this core).
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// The credentials [`send`](Self::send) takes tokens from, if any: a caller whose request
    /// came back 401 with a streamed body asks [`Credentials::can_refresh`] whether a retry
    /// can succeed.
    pub fn credentials(&self) -> Option<&Arc<dyn Credentials>> {
        self.credentials.as_ref()
    }

    /// The base URL configured for `key`, if the caller overrode the spec's default.
    pub fn server_override(&self, key: &str) -> Option<&str> {
        self.servers.get(key).map(String::as_str)
    }

    /// Starts a request with the default headers. The token is added when it is sent
    /// ([`send`](Self::send)), not here: getting one may take a round trip.
    pub fn request(&self, method: reqwest::Method, url: reqwest::Url) -> reqwest::RequestBuilder {
        let builder = self.http.request(method, url);
        if self.default_headers.is_empty() {
            builder
        } else {
            builder.headers(HeaderMap::clone(&self.default_headers))
        }
    }
}

/// Builds a [`Core`]. Defaults: rustls TLS, 30 s connect timeout, 5 min read timeout, keep-alive.
#[derive(Default)]
pub struct CoreBuilder {
    http: Option<reqwest::Client>,
    credentials: Option<Arc<dyn Credentials>>,
    default_headers: HeaderMap,
    servers: BTreeMap<String, String>,
    connect_timeout: Option<Duration>,
    read_timeout: Option<Duration>,
    user_agent: Option<String>,
}

impl fmt::Debug for CoreBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CoreBuilder")
            .field("credentials", &self.credentials)
            .field(
                "default_headers",
                &self.default_headers.keys().collect::<Vec<_>>(),
            )
            .field("servers", &self.servers)
            .finish_non_exhaustive()
    }
}

impl CoreBuilder {
    /// A fixed bearer token ([`StaticToken`]): sent as `authorization: Bearer ...` on every
    /// request that needs one; a 401 is final.
    pub fn bearer_token(self, token: impl Into<String>) -> Self {
        self.credentials(Arc::new(StaticToken::new(token.into())))
    }

    /// Where tokens come from (replaces a [`bearer_token`](Self::bearer_token)).
    pub fn credentials(mut self, credentials: Arc<dyn Credentials>) -> Self {
        self.credentials = Some(credentials);
        self
    }

    /// A header sent on every request (an acting-user header, say), replacing an earlier value
    /// of the same name. Values stay out of `Debug`; mark a secret one with
    /// [`HeaderValue::set_sensitive`] so that the HTTP stack hides it too.
    pub fn default_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.default_headers.insert(name, value);
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

    /// Uses this `reqwest` client, as it was built, instead of building one. Its own timeouts
    /// and `user-agent` apply: [`build`](Self::build) refuses this builder's
    /// [`connect_timeout`](Self::connect_timeout), [`read_timeout`](Self::read_timeout) and
    /// [`user_agent`](Self::user_agent) beside it rather than ignore them.
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http = Some(client);
        self
    }

    /// How long to wait for a connection to be made.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = Some(timeout);
        self
    }

    /// How long a response may stay silent (per read, not for the whole transfer).
    pub fn read_timeout(mut self, timeout: Duration) -> Self {
        self.read_timeout = Some(timeout);
        self
    }

    /// The `user-agent` header of every request.
    pub fn user_agent(mut self, agent: impl Into<String>) -> Self {
        self.user_agent = Some(agent.into());
        self
    }

    /// The core, or why these settings make none (see [`CoreBuildError`]).
    pub fn build(self) -> Result<Core, CoreBuildError> {
        let http = match self.http {
            Some(client) => {
                let ignored: Vec<&'static str> = [
                    (self.connect_timeout.is_some(), "connect_timeout"),
                    (self.read_timeout.is_some(), "read_timeout"),
                    (self.user_agent.is_some(), "user_agent"),
                ]
                .into_iter()
                .filter_map(|(set, name)| set.then_some(name))
                .collect();
                if !ignored.is_empty() {
                    return Err(CoreBuildError::IgnoredByHttpClient(ignored));
                }
                client
            }
            None => reqwest::Client::builder()
                .connect_timeout(self.connect_timeout.unwrap_or(Duration::from_secs(30)))
                .read_timeout(self.read_timeout.unwrap_or(Duration::from_secs(300)))
                .user_agent(self.user_agent.unwrap_or_else(|| {
                    concat!("box-uploads/", env!("CARGO_PKG_VERSION")).to_string()
                }))
                .build()
                .map_err(|e| CoreBuildError::Http(e.into()))?,
        };
        Ok(Core {
            http,
            credentials: self.credentials,
            default_headers: Arc::new(self.default_headers),
            servers: Arc::new(self.servers),
        })
    }
}

/// Why a [`CoreBuilder`] made no [`Core`].
#[derive(Debug)]
#[non_exhaustive]
pub enum CoreBuildError {
    /// Settings that a client given with [`CoreBuilder::http_client`] would ignore, by the
    /// names of their setters: set them on that client instead.
    IgnoredByHttpClient(Vec<&'static str>),
    /// The HTTP client could not be made (its TLS backend failed to start, say).
    Http(crate::TransportError),
}

impl fmt::Display for CoreBuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CoreBuildError::IgnoredByHttpClient(names) => write!(
                f,
                "{} cannot apply to a client given with http_client: set {} on that client",
                names.join(", "),
                if names.len() == 1 { "it" } else { "them" }
            ),
            CoreBuildError::Http(_) => f.write_str("cannot start the HTTP client"),
        }
    }
}

impl std::error::Error for CoreBuildError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CoreBuildError::Http(e) => Some(e),
            CoreBuildError::IgnoredByHttpClient(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_a_given_http_client_would_ignore_are_refused() {
        let err = Core::builder()
            .http_client(reqwest::Client::new())
            .read_timeout(Duration::from_secs(1))
            .user_agent("mine/1")
            .build()
            .expect_err("refused");
        assert!(
            matches!(&err, CoreBuildError::IgnoredByHttpClient(n) if n == &["read_timeout", "user_agent"]),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            "read_timeout, user_agent cannot apply to a client given with http_client: set them \
             on that client"
        );
        // The given client alone, with this builder's own settings, is used.
        let core = Core::builder()
            .http_client(reqwest::Client::new())
            .server("api", "http://127.0.0.1:1/2.0")
            .build()
            .expect("builds");
        assert_eq!(core.server_override("api"), Some("http://127.0.0.1:1/2.0"));
    }

    #[test]
    fn debug_output_never_shows_the_token_or_header_values() {
        let builder = Core::builder().bearer_token("s3cr3t-token").default_header(
            HeaderName::from_static("x-api-key"),
            HeaderValue::from_static("s3cr3t-key"),
        );
        let shown_builder = format!("{builder:?}");
        let core = builder.build().expect("builds");
        let shown = format!("{shown_builder} {core:?}");
        assert!(!shown.contains("s3cr3t"), "{shown}");
        assert!(shown.contains("x-api-key"), "{shown}");
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

    #[test]
    fn a_bearer_token_is_fixed_credentials() {
        let core = Core::builder().bearer_token("t").build().expect("builds");
        let credentials = core.credentials().expect("set");
        assert!(!credentials.can_refresh());
        assert!(Core::builder()
            .build()
            .expect("builds")
            .credentials()
            .is_none());
    }
}
