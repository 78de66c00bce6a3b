//! Building a [`Client`] for Box: the credentials, the user to act as and, for an emulator or a
//! proxy, the base URLs and the certificate authorities to trust besides the usual ones.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use box_uploads_runtime::{CoreBuildError, CoreBuilder, Secret, TransportError};
use reqwest::header::{HeaderName, HeaderValue};

use crate::auth::{
    ClientCredentials, Credentials, JwtConfig, JwtCredentials, OAuthCredentials, StaticToken,
    Subject, TokenEndpoint, TokenStore, DEFAULT_TOKEN_URL,
};
use crate::Client;

/// Builds a [`Client`].
///
/// Credentials: a fixed token ([`token`](Self::token)), a server app's client credentials
/// ([`client_credentials`](Self::client_credentials)), a JWT app config ([`jwt`](Self::jwt)),
/// an OAuth 2.0 refresh token ([`oauth_refresh`](Self::oauth_refresh)), or any
/// [`Credentials`] ([`credentials`](Self::credentials)). The renewable ones get their tokens
/// from [`token_url`](Self::token_url) (by default Box's, or the emulator's when
/// [`api_url`](Self::api_url) points at one) through the client's own connection pool.
///
/// ```no_run
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use box_uploads::auth::{JwtConfig, Subject};
/// use box_uploads::ClientBuilder;
///
/// // A developer token (an hour, not renewable).
/// let developer = ClientBuilder::new().token("ACCESS_TOKEN").build()?;
///
/// // A server app with client credentials, as the enterprise's service account, acting for
/// // one of its users.
/// let service = ClientBuilder::new()
///     .client_credentials("CLIENT_ID", std::env::var("BOX_CLIENT_SECRET")?, Subject::enterprise("12345"))
///     .as_user("777")
///     .build()?;
///
/// // A server app with a key pair: Box's app config file.
/// let jwt = ClientBuilder::new().jwt(JwtConfig::from_file("config.json")?).build()?;
///
/// // A local emulator: both base URLs; the token URL follows the API's.
/// let local = ClientBuilder::new()
///     .client_credentials("id", "secret", Subject::enterprise("1"))
///     .api_url("http://127.0.0.1:8080/2.0") // tokens from http://127.0.0.1:8080/oauth2/token
///     .upload_url("http://127.0.0.1:8080/api/2.0")
///     .build()?;
///
/// // An emulator (or a proxy) serving HTTPS with a certificate from a private CA.
/// let private_ca = ClientBuilder::new()
///     .token("test-token")
///     .api_url("https://localhost:8443/2.0")
///     .upload_url("https://localhost:8443/api/2.0")
///     .ca_cert_file("ca.pem")
///     .build()?;
/// # let _ = (developer, service, jwt, local, private_ca); Ok(()) }
/// ```
#[derive(Default)]
pub struct ClientBuilder {
    credentials: Option<PendingCredentials>,
    token_url: Option<String>,
    api_url: Option<String>,
    upload_url: Option<String>,
    as_user: Option<String>,
    http: Option<reqwest::Client>,
    connect_timeout: Option<Duration>,
    read_timeout: Option<Duration>,
    root_certificates: Vec<RootCertificate>,
    /// `None`: not set (HTTP/1.1 for the client the builder makes).
    http2: Option<bool>,
}

/// A certificate authority to trust besides the built-in ones, read at [`ClientBuilder::build`].
#[derive(Debug)]
enum RootCertificate {
    Pem(Vec<u8>),
    File(PathBuf),
}

/// Default connect timeout of the HTTP client the builder makes (the runtime's).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// Default read timeout of the HTTP client the builder makes (the runtime's).
const READ_TIMEOUT: Duration = Duration::from_secs(300);

/// Credentials chosen on the builder, bound to the token endpoint at [`ClientBuilder::build`].
enum PendingCredentials {
    Ready(Arc<dyn Credentials>),
    ClientCredentials {
        client_id: String,
        client_secret: Secret,
        subject: Subject,
    },
    Jwt(JwtConfig),
    OAuth {
        client_id: String,
        client_secret: Secret,
        store: Arc<dyn TokenStore>,
    },
}

impl fmt::Debug for PendingCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PendingCredentials::Ready(c) => c.fmt(f),
            PendingCredentials::ClientCredentials {
                client_id,
                client_secret,
                subject,
            } => f
                .debug_struct("ClientCredentials")
                .field("client_id", client_id)
                .field("client_secret", client_secret)
                .field("subject", subject)
                .finish(),
            PendingCredentials::Jwt(config) => config.fmt(f),
            PendingCredentials::OAuth {
                client_id,
                client_secret,
                store,
            } => f
                .debug_struct("OAuth")
                .field("client_id", client_id)
                .field("client_secret", client_secret)
                .field("store", store)
                .finish(),
        }
    }
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("credentials", &self.credentials)
            .field("token_url", &self.token_url)
            .field("api_url", &self.api_url)
            .field("upload_url", &self.upload_url)
            .field("as_user", &self.as_user)
            .field("root_certificates", &self.root_certificates.len())
            .field("http2", &self.http2)
            .finish_non_exhaustive()
    }
}

/// The client could not be built: an unusable setting, or the HTTP client failed to start.
#[derive(Debug)]
pub struct BuildError {
    message: String,
    source: Option<TransportError>,
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for BuildError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_ref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl From<TransportError> for BuildError {
    fn from(e: TransportError) -> Self {
        BuildError {
            message: "cannot start the HTTP client".into(),
            source: Some(e),
        }
    }
}

impl From<CoreBuildError> for BuildError {
    fn from(e: CoreBuildError) -> Self {
        match e {
            CoreBuildError::Http(e) => e.into(),
            other => BuildError {
                message: other.to_string(),
                source: None,
            },
        }
    }
}

/// The token URL of an API base: `https://api.box.com/2.0` -> `https://api.box.com/oauth2/token`
/// (an emulator serves both from one host, as Box does).
fn token_url_for(api_url: &str) -> String {
    let base = api_url.trim_end_matches('/');
    let root = base.strip_suffix("/2.0").unwrap_or(base);
    format!("{root}/oauth2/token")
}

impl ClientBuilder {
    /// A builder for real Box (`api.box.com`, `upload.box.com`); give it credentials.
    pub fn new() -> Self {
        Self::default()
    }

    /// A fixed access token (a developer token, or one managed elsewhere), sent as
    /// `authorization: Bearer ...`; never logged or displayed. A 401 is final.
    pub fn token(self, token: impl Into<String>) -> Self {
        self.credentials(StaticToken::new(token.into()))
    }

    /// Tokens from `credentials`: one of [`crate::auth`]'s, or your own.
    pub fn credentials(self, credentials: impl Credentials) -> Self {
        self.shared_credentials(Arc::new(credentials))
    }

    /// As [`credentials`](Self::credentials), shared with other clients (one token cache, one
    /// renewal at a time for all of them).
    pub fn shared_credentials(mut self, credentials: Arc<dyn Credentials>) -> Self {
        self.credentials = Some(PendingCredentials::Ready(credentials));
        self
    }

    /// Tokens from the client credentials grant of a server app (see
    /// [`ClientCredentials`]), for `subject`: the enterprise's service account or a user.
    pub fn client_credentials(
        mut self,
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
        subject: Subject,
    ) -> Self {
        self.credentials = Some(PendingCredentials::ClientCredentials {
            client_id: client_id.into(),
            client_secret: Secret::new(client_secret),
            subject,
        });
        self
    }

    /// Tokens from JWT assertions signed with the key of Box's app config (see
    /// [`JwtConfig`]); the assertions' audience is the token URL.
    pub fn jwt(mut self, config: JwtConfig) -> Self {
        self.credentials = Some(PendingCredentials::Jwt(config));
        self
    }

    /// Tokens from an OAuth 2.0 refresh token kept in `store` (see [`OAuthCredentials`]);
    /// every renewal saves the rotated refresh token there before the new access token is used.
    pub fn oauth_refresh(
        mut self,
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
        store: impl TokenStore,
    ) -> Self {
        self.credentials = Some(PendingCredentials::OAuth {
            client_id: client_id.into(),
            client_secret: Secret::new(client_secret),
            store: Arc::new(store),
        });
        self
    }

    /// The token endpoint for the renewable credentials set on this builder (default
    /// `https://api.box.com/oauth2/token`; with [`api_url`](Self::api_url) set,
    /// `{api_url without /2.0}/oauth2/token`).
    pub fn token_url(mut self, url: impl Into<String>) -> Self {
        self.token_url = Some(url.into());
        self
    }

    /// Acts as user `user_id` (sends `as-user: user_id` on every request). The caller must be
    /// an admin, a co-admin or a service account allowed to "perform actions as users"; a
    /// service account's own id is refused.
    pub fn as_user(mut self, user_id: impl Into<String>) -> Self {
        self.as_user = Some(user_id.into());
        self
    }

    /// Base URL of the API host (default `https://api.box.com/2.0`).
    pub fn api_url(mut self, url: impl Into<String>) -> Self {
        self.api_url = Some(url.into());
        self
    }

    /// Base URL of the upload host (default `https://upload.box.com/api/2.0`), used for uploads
    /// and, unless Box hands back absolute session URLs (it does), for session calls.
    pub fn upload_url(mut self, url: impl Into<String>) -> Self {
        self.upload_url = Some(url.into());
        self
    }

    /// Uses this `reqwest` client, as it was built: its own timeouts, TLS settings and HTTP
    /// versions apply. The settings it would ignore ([`connect_timeout`](Self::connect_timeout),
    /// [`read_timeout`](Self::read_timeout), [`http2`](Self::http2) and extra root certificates)
    /// make [`build`](Self::build) fail, naming them: set them on that client instead.
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http = Some(client);
        self
    }

    /// How long to wait for a connection to be made.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = Some(timeout);
        self
    }

    /// How long a response may stay silent before the request fails (default 5 minutes).
    pub fn read_timeout(mut self, timeout: Duration) -> Self {
        self.read_timeout = Some(timeout);
        self
    }

    /// Trusts the certificate authorities in `pem` (one or more `-----BEGIN CERTIFICATE-----`
    /// blocks) besides the built-in roots, as reqwest's `add_root_certificate` does: for an
    /// emulator, a proxy or a test server with a private CA. Checked at
    /// [`build`](Self::build), which fails if there is no certificate or the PEM is invalid.
    pub fn add_root_certificate_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.root_certificates
            .push(RootCertificate::Pem(pem.into()));
        self
    }

    /// As [`add_root_certificate_pem`](Self::add_root_certificate_pem), with the PEM read from
    /// `path` at [`build`](Self::build) (which fails if it cannot be read).
    pub fn ca_cert_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.root_certificates
            .push(RootCertificate::File(path.into()));
        self
    }

    /// The extra roots as reqwest certificates, or which one is unusable.
    fn root_certificates(&self) -> Result<Vec<reqwest::Certificate>, BuildError> {
        let mut out = Vec::new();
        for root in &self.root_certificates {
            let (what, pem) = match root {
                RootCertificate::Pem(pem) => ("root certificate PEM".to_string(), pem.clone()),
                RootCertificate::File(path) => {
                    let what = format!("CA certificate file {}", path.display());
                    let pem = std::fs::read(path).map_err(|e| BuildError {
                        message: format!("{what}: cannot read it: {e}"),
                        source: None,
                    })?;
                    (what, pem)
                }
            };
            let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| BuildError {
                message: format!("{what}: not valid PEM: {e}"),
                source: Some(e.into()),
            })?;
            if certs.is_empty() {
                return Err(BuildError {
                    message: format!("{what}: holds no -----BEGIN CERTIFICATE----- block"),
                    source: None,
                });
            }
            out.extend(certs);
        }
        Ok(out)
    }

    /// Speaks HTTP/2 to servers that offer it (ALPN over HTTPS), instead of HTTP/1.1 only, the
    /// default. Applies to the HTTP client the builder makes; a client given with
    /// [`http_client`](Self::http_client) is used as it was built, so [`build`](Self::build)
    /// refuses the two together.
    ///
    /// Why HTTP/1.1 by default: over HTTP/2 every request in flight shares one TCP connection,
    /// so the parts an upload sends at once go no faster than one connection. Over HTTP/1.1 each
    /// part in flight has a connection of its own, and a path whose rate is limited per
    /// connection (a proxy, a shaper, a long round trip with TCP's window) carries them all at
    /// once. Measured by hand against the emulator over HTTPS with `--net
    /// rtt=40ms,conn=12MiB/s,link=120MiB/s`, a 256 MiB file in 8 MiB parts (the bench's
    /// `upload-one --http 2` and `--http 1.1`, parts in flight chosen by the network, up to 32;
    /// two runs each): HTTP/2 took 21.6 s (11.9 MiB/s), its 35 requests on one connection;
    /// HTTP/1.1 took 2.65-2.74 s (93-97 MiB/s) on 31 connections. Parts
    /// are 8 MiB or more, so HTTP/2's smaller headers and single handshake save nothing that
    /// shows; choose it where a server or proxy limits connections per client.
    pub fn http2(mut self, enabled: bool) -> Self {
        self.http2 = Some(enabled);
        self
    }

    /// The HTTP client for every request: the one given, or one with the runtime's defaults
    /// (rustls, keep-alive, its timeouts), HTTP/1.1 unless [`http2`](Self::http2), and this
    /// builder's timeouts and extra roots.
    fn make_http_client(&mut self) -> Result<reqwest::Client, BuildError> {
        if let Some(http) = self.http.take() {
            let ignored: Vec<&'static str> = [
                (self.connect_timeout.is_some(), "connect_timeout"),
                (self.read_timeout.is_some(), "read_timeout"),
                (self.http2.is_some(), "http2"),
                (
                    !self.root_certificates.is_empty(),
                    "extra root certificates",
                ),
            ]
            .into_iter()
            .filter_map(|(set, name)| set.then_some(name))
            .collect();
            if !ignored.is_empty() {
                // Worded as the runtime's builder words the same refusal.
                return Err(CoreBuildError::IgnoredByHttpClient(ignored).into());
            }
            return Ok(http);
        }
        let mut http = reqwest::Client::builder()
            .connect_timeout(self.connect_timeout.unwrap_or(CONNECT_TIMEOUT))
            .read_timeout(self.read_timeout.unwrap_or(READ_TIMEOUT))
            .user_agent(concat!("box-uploads/", env!("CARGO_PKG_VERSION")));
        if self.http2 != Some(true) {
            http = http.http1_only();
        }
        for cert in self.root_certificates()? {
            http = http.add_root_certificate(cert);
        }
        http.build().map_err(|e| BuildError {
            message: "cannot start the HTTP client".into(),
            source: Some(e.into()),
        })
    }

    /// The token URL the renewable credentials will use.
    fn effective_token_url(&self) -> String {
        match (&self.token_url, &self.api_url) {
            (Some(url), _) => url.clone(),
            (None, Some(api)) => token_url_for(api),
            (None, None) => DEFAULT_TOKEN_URL.to_string(),
        }
    }

    /// The client, or why these settings make none.
    pub fn build(mut self) -> Result<Client, BuildError> {
        let token_url = self.effective_token_url();
        // One connection pool for the API, the uploads and the token endpoint.
        let http = self.make_http_client()?;
        let mut core = CoreBuilder::default().http_client(http.clone());
        let endpoint = || TokenEndpoint::with_http_client(token_url.clone(), http.clone());
        let credentials: Option<Arc<dyn Credentials>> = match self.credentials {
            None => None,
            Some(PendingCredentials::Ready(c)) => Some(c),
            Some(PendingCredentials::ClientCredentials {
                client_id,
                client_secret,
                subject,
            }) => Some(Arc::new(ClientCredentials::new(
                client_id,
                client_secret.expose(),
                subject,
                endpoint(),
            ))),
            Some(PendingCredentials::Jwt(config)) => {
                Some(Arc::new(JwtCredentials::new(config, endpoint())))
            }
            Some(PendingCredentials::OAuth {
                client_id,
                client_secret,
                store,
            }) => Some(Arc::new(OAuthCredentials::with_shared_store(
                client_id,
                client_secret.expose(),
                store,
                endpoint(),
            ))),
        };
        if let Some(credentials) = credentials {
            core = core.credentials(credentials);
        }
        if let Some(user) = &self.as_user {
            let value = HeaderValue::from_str(user.trim())
                .ok()
                .filter(|_| !user.trim().is_empty())
                .ok_or_else(|| BuildError {
                    message: format!("as-user: {user:?} is not a user id"),
                    source: None,
                })?;
            core = core.default_header(HeaderName::from_static("as-user"), value);
        }
        // The generated token operations (`request_access_token`, `revoke_access_token`)
        // address the same host.
        if let Some(root) = token_url.strip_suffix("/oauth2/token") {
            if token_url != DEFAULT_TOKEN_URL {
                core = core.server("auth", root);
            }
        }
        if let Some(api) = self.api_url {
            core = core.server("api", api);
        }
        if let Some(upload) = self.upload_url {
            core = core
                .server("upload", upload.clone())
                .server("upload_session", upload);
        }
        Ok(Client::new(core.build()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_url_follows_the_api_url_unless_set() {
        assert_eq!(
            ClientBuilder::new().effective_token_url(),
            "https://api.box.com/oauth2/token"
        );
        assert_eq!(
            ClientBuilder::new()
                .api_url("http://127.0.0.1:9/2.0/")
                .effective_token_url(),
            "http://127.0.0.1:9/oauth2/token"
        );
        assert_eq!(
            ClientBuilder::new()
                .api_url("http://127.0.0.1:9/2.0")
                .token_url("http://auth.example/t")
                .effective_token_url(),
            "http://auth.example/t"
        );
    }

    #[test]
    fn the_generated_token_operations_follow_the_token_url() {
        let client = ClientBuilder::new()
            .api_url("http://127.0.0.1:9/2.0")
            .build()
            .expect("builds");
        assert_eq!(client.base_url("auth"), Some("http://127.0.0.1:9"));
        let client = ClientBuilder::new().build().expect("builds");
        assert_eq!(client.base_url("auth"), Some("https://api.box.com"));
    }

    #[test]
    fn as_user_is_sent_on_every_request() {
        let client = ClientBuilder::new()
            .token("t")
            .as_user("777")
            .build()
            .expect("builds");
        let url = reqwest::Url::parse("http://127.0.0.1:9/2.0/files/content").expect("url");
        let request = client
            .core()
            .request(reqwest::Method::POST, url)
            .build()
            .expect("request");
        assert_eq!(
            request.headers().get("as-user").map(|v| v.as_bytes()),
            Some(&b"777"[..])
        );
    }

    #[test]
    fn an_unusable_as_user_id_is_a_build_error() {
        let err = ClientBuilder::new()
            .token("t")
            .as_user("12\n34")
            .build()
            .expect_err("not a header value");
        assert!(err.to_string().contains("as-user"), "{err}");
        assert!(ClientBuilder::new().as_user("").build().is_err());
        assert!(ClientBuilder::new().as_user("777").build().is_ok());
    }

    #[test]
    fn unusable_root_certificates_are_build_errors() {
        let err = ClientBuilder::new()
            .ca_cert_file("/nonexistent/ca.pem")
            .build()
            .expect_err("unreadable");
        let shown = err.to_string();
        assert!(
            shown.contains("/nonexistent/ca.pem") && shown.contains("cannot read"),
            "{shown}"
        );
        let err = ClientBuilder::new()
            .add_root_certificate_pem("not a certificate")
            .build()
            .expect_err("no PEM");
        assert!(
            err.to_string().contains("no -----BEGIN CERTIFICATE-----"),
            "{err}"
        );
        let err = ClientBuilder::new()
            .add_root_certificate_pem(
                "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
            )
            .build()
            .expect_err("bad base64");
        assert!(err.to_string().contains("not valid PEM"), "{err}");
        let err = ClientBuilder::new()
            .http_client(reqwest::Client::new())
            .ca_cert_file("ca.pem")
            .build()
            .expect_err("roots cannot join a given client");
        assert!(err.to_string().contains("http_client"), "{err}");
    }

    #[test]
    fn settings_a_given_http_client_would_ignore_are_build_errors() {
        let given = || ClientBuilder::new().http_client(reqwest::Client::new());
        let err = given()
            .connect_timeout(Duration::from_secs(5))
            .read_timeout(Duration::from_secs(60))
            .build()
            .expect_err("timeouts cannot reach a given client");
        assert_eq!(
            err.to_string(),
            "connect_timeout, read_timeout cannot apply to a client given with http_client: \
             set them on that client"
        );
        let err = given()
            .http2(false)
            .build()
            .expect_err("nor the HTTP version");
        assert_eq!(
            err.to_string(),
            "http2 cannot apply to a client given with http_client: set it on that client"
        );
        // Alone, or with settings of the builder's own, the given client is used.
        let client = given()
            .api_url("http://127.0.0.1:1/2.0")
            .as_user("42")
            .build()
            .expect("builds");
        assert_eq!(
            client.core().server_override("api"),
            Some("http://127.0.0.1:1/2.0")
        );
    }

    #[test]
    fn debug_shows_no_secret() {
        let builders = [
            ClientBuilder::new().token("TOKEN-SECRET"),
            ClientBuilder::new().client_credentials("id", "CLIENT-SECRET", Subject::user("1")),
            ClientBuilder::new().oauth_refresh(
                "id",
                "CLIENT-SECRET",
                crate::auth::MemoryTokenStore::new("REFRESH-SECRET"),
            ),
        ];
        for builder in builders {
            let shown = format!("{builder:?}");
            assert!(!shown.contains("SECRET"), "{shown}");
            let client = builder.build().expect("builds");
            let shown = format!("{client:?}");
            assert!(!shown.contains("SECRET"), "{shown}");
        }
    }
}
