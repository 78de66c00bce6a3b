//! The token endpoint (`POST /oauth2/token`): one form-encoded request per grant, the client id
//! and secret in the body, no bearer
//! (<https://developer.box.com/reference/post-oauth2-token/>), sent with the generated
//! `request_access_token` through the crate's one retry loop: transient failures (429, 5xx,
//! transport) are retried a few times with back-off, refusals are not. The runtime reads the
//! answer small and never quotes it (it holds the token).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use box_uploads_runtime::{CredentialsError, CredentialsErrorKind, Secret};
use futures_util::future::BoxFuture;

use super::form::Form;
use super::refusal::{Refusal, TokenCallError};
use crate::models::AccessToken;
use crate::operations::RequestAccessTokenRequest;
use crate::retry::{RetryContext, RetryPolicy, Step};

/// Box's token endpoint.
pub const DEFAULT_TOKEN_URL: &str = "https://api.box.com/oauth2/token";

/// Attempts at one token request, the first included.
const MAX_ATTEMPTS: u32 = 4;
/// Back-off before the second attempt; doubled for each further one.
const INITIAL_BACKOFF: Duration = Duration::from_millis(500);
/// Longest wait between two attempts, `retry-after` included: a request waits on the token.
const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// Time allowed for one request to the token endpoint.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// How a token request is retried.
fn policy() -> RetryPolicy {
    RetryPolicy {
        max_attempts: MAX_ATTEMPTS,
        initial_backoff: INITIAL_BACKOFF,
        max_backoff: MAX_BACKOFF,
        // The attempts and waits above take well under this; it only bounds the worst case.
        deadline: Duration::from_secs(5 * 60),
    }
}

/// Where tokens come from: the token URL and the HTTP client that calls it.
///
/// Cheap to clone. Its `Debug` shows the URL only.
///
/// ```
/// use box_uploads::auth::TokenEndpoint;
/// let box_endpoint = TokenEndpoint::default(); // https://api.box.com/oauth2/token
/// let emulator = TokenEndpoint::new("http://127.0.0.1:8080/oauth2/token");
/// # let _ = (box_endpoint, emulator);
/// ```
#[derive(Clone)]
pub struct TokenEndpoint {
    url: Arc<str>,
    transport: Arc<dyn Transport>,
}

impl fmt::Debug for TokenEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenEndpoint")
            .field("url", &&*self.url)
            .finish_non_exhaustive()
    }
}

impl Default for TokenEndpoint {
    fn default() -> Self {
        TokenEndpoint::new(DEFAULT_TOKEN_URL)
    }
}

impl TokenEndpoint {
    /// The endpoint at `url`, called with an HTTP client of its own.
    pub fn new(url: impl Into<String>) -> Self {
        TokenEndpoint::with_http_client(url, reqwest::Client::new())
    }

    /// The endpoint at `url`, called with `http` (share the API client's connection pool).
    pub fn with_http_client(url: impl Into<String>, http: reqwest::Client) -> Self {
        let client = crate::Client::new(box_uploads_runtime::Core::with_http_client(http));
        TokenEndpoint {
            url: Arc::from(url.into()),
            transport: Arc::new(GeneratedClient { client }),
        }
    }

    /// The token URL: the `aud` of JWT assertions too.
    pub fn url(&self) -> &str {
        &self.url
    }

    #[cfg(test)]
    pub(crate) fn with_transport(url: &str, transport: Arc<dyn Transport>) -> Self {
        TokenEndpoint {
            url: Arc::from(url),
            transport,
        }
    }

    /// Asks for a token with the form `make_form` builds (called again for each attempt, so a
    /// JWT assertion is signed afresh with a new `jti`). Retries 429, 5xx and transport failures
    /// a few times (a `retry-after` waited at most [`MAX_BACKOFF`]); a refusal comes back at
    /// once.
    pub(crate) async fn request(
        &self,
        make_form: &mut (dyn FnMut() -> Result<Form, CredentialsError> + Send),
    ) -> Result<Granted, Refusal> {
        let policy = policy();
        let token = RetryContext::new(&policy)
            .retry_after_at_most(MAX_BACKOFF)
            .run("request_access_token", |_| {
                let form = make_form();
                async move {
                    let form = match form {
                        Ok(form) => form,
                        Err(e) => return Step::Failed(TokenCallError::Form(e)),
                    };
                    tracing::debug!(grant = form.grant_type(), "asking the token endpoint");
                    self.transport.post(&self.url, &form).await.into()
                }
            })
            .await?;
        granted(token).map_err(Refusal::local)
    }
}

/// What one token request comes to.
pub(crate) type TokenResult = Result<AccessToken, TokenCallError>;

/// Sends one token request. The production transport is the generated client; unit tests
/// script answers.
pub(crate) trait Transport: Send + Sync + 'static {
    fn post<'a>(&'a self, url: &'a str, form: &'a Form) -> BoxFuture<'a, TokenResult>;
}

/// The generated `request_access_token`, at the endpoint's URL, within [`REQUEST_TIMEOUT`].
struct GeneratedClient {
    client: crate::Client,
}

impl Transport for GeneratedClient {
    fn post<'a>(&'a self, url: &'a str, form: &'a Form) -> BoxFuture<'a, TokenResult> {
        Box::pin(async move {
            let request = RequestAccessTokenRequest::new(form.body().clone()).with_endpoint(url);
            match tokio::time::timeout(REQUEST_TIMEOUT, self.client.request_access_token(request))
                .await
            {
                Ok(answer) => answer.map_err(|e| TokenCallError::Call(Box::new(e))),
                Err(_) => Err(TokenCallError::NoAnswer("timed out")),
            }
        })
    }
}

/// A token the endpoint issued.
#[derive(Debug)]
pub(crate) struct Granted {
    pub(crate) access_token: Secret,
    pub(crate) expires_in: Duration,
    /// OAuth 2.0 only: the next refresh token (the one sent is dead now).
    pub(crate) refresh_token: Option<Secret>,
}

/// The token of an answer, once it is seen to be usable: a token, and a lifetime.
fn granted(token: AccessToken) -> Result<Granted, CredentialsError> {
    // The error never quotes the answer: it holds tokens.
    let malformed = |what: &str| {
        CredentialsError::new(
            CredentialsErrorKind::Unavailable,
            format!("the token endpoint answered 200 without {what}"),
        )
        .with_answer(200, None)
    };
    if token.access_token.expose().is_empty() {
        return Err(malformed("an access_token"));
    }
    let expires_in = u64::try_from(token.expires_in)
        .ok()
        .filter(|s| *s > 0)
        .ok_or_else(|| malformed("a positive expires_in"))?;
    Ok(Granted {
        access_token: token.access_token,
        expires_in: Duration::from_secs(expires_in.min(1_000_000_000)),
        refresh_token: token.refresh_token.filter(|t| !t.expose().is_empty()),
    })
}

/// Scripted token endpoints for unit tests: each answer is what the generated client makes of
/// a status, headers and body.
#[cfg(test)]
pub(crate) mod fake {
    use std::collections::VecDeque;
    use std::sync::Mutex;

    use box_uploads_runtime::support::{self, AnswerLimits, RawResponse};
    use chrono::{DateTime, Utc};

    use super::*;
    use crate::errors::RequestAccessTokenError;

    /// An answer of the token endpoint, before the client reads it.
    #[derive(Clone)]
    pub(crate) struct Answer {
        pub(crate) status: u16,
        /// The `Date` header.
        pub(crate) date: Option<DateTime<Utc>>,
        pub(crate) retry_after: Option<Duration>,
        pub(crate) body: bytes::Bytes,
    }

    impl Answer {
        /// What the generated client makes of it.
        fn read(self) -> TokenResult {
            if (200..300).contains(&self.status) {
                return support::decode_bytes_limited(
                    self.status,
                    &self.body,
                    AnswerLimits::CREDENTIALS,
                )
                .map_err(|e| TokenCallError::Call(Box::new(e)));
            }
            let raw = RawResponse {
                status: self.status,
                request_id: None,
                retry_after: self.retry_after.map(|d| d.as_secs().to_string()),
                date: self.date.map(|d| d.to_rfc2822()),
                body: self.body,
            };
            Err(TokenCallError::Call(Box::new(
                box_uploads_runtime::Error::Api(RequestAccessTokenError::from_raw(raw)),
            )))
        }
    }

    /// Answers from a script, recording every form it was sent.
    #[derive(Default)]
    pub(crate) struct Scripted {
        answers: Mutex<VecDeque<Option<Answer>>>,
        pub(crate) forms: Mutex<Vec<Form>>,
    }

    impl Scripted {
        pub(crate) fn new() -> Arc<Self> {
            Arc::new(Scripted::default())
        }

        pub(crate) fn then(&self, status: u16, body: serde_json::Value) -> &Self {
            self.then_answer(Answer {
                status,
                date: None,
                retry_after: None,
                body: body.to_string().into(),
            })
        }

        pub(crate) fn then_answer(&self, answer: Answer) -> &Self {
            self.answers
                .lock()
                .expect("script lock")
                .push_back(Some(answer));
            self
        }

        pub(crate) fn then_unreachable(&self) -> &Self {
            self.answers.lock().expect("script lock").push_back(None);
            self
        }

        pub(crate) fn token(&self, access: &str, expires_in: u64) -> &Self {
            self.then(
                200,
                serde_json::json!({"access_token": access, "expires_in": expires_in, "token_type": "bearer"}),
            )
        }

        pub(crate) fn sent(&self) -> Vec<Form> {
            self.forms.lock().expect("forms lock").clone()
        }

        pub(crate) fn endpoint(self: &Arc<Self>) -> TokenEndpoint {
            TokenEndpoint::with_transport("https://api.box.com/oauth2/token", self.clone())
        }
    }

    impl Transport for Scripted {
        fn post<'a>(&'a self, _url: &'a str, form: &'a Form) -> BoxFuture<'a, TokenResult> {
            self.forms.lock().expect("forms lock").push(form.clone());
            let next = self.answers.lock().expect("script lock").pop_front();
            Box::pin(async move {
                match next {
                    Some(Some(answer)) => answer.read(),
                    Some(None) => Err(TokenCallError::NoAnswer("could not connect")),
                    None => Err(TokenCallError::NoAnswer("script exhausted")),
                }
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fake::Scripted;
    use super::*;

    fn form() -> Result<Form, CredentialsError> {
        Ok(Form::client_credentials(
            "id",
            &Secret::new("very-secret"),
            "enterprise",
            "7",
        ))
    }

    #[tokio::test(start_paused = true)]
    async fn only_access_token_and_expires_in_are_required() {
        let script = Scripted::new();
        script.then(
            200,
            serde_json::json!({"access_token": "A", "expires_in": 4123}),
        );
        let got = script.endpoint().request(&mut form).await.expect("granted");
        assert_eq!(got.access_token.expose(), "A");
        assert_eq!(got.expires_in, Duration::from_secs(4123));
        assert!(got.refresh_token.is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn a_malformed_success_is_an_error_that_quotes_nothing() {
        let script = Scripted::new();
        script.then(200, serde_json::json!({"access_token": "LEAKED-TOKEN"}));
        let err = script
            .endpoint()
            .request(&mut form)
            .await
            .expect_err("no expires_in");
        let text = format!("{} {:?}", err.error, err.error);
        assert!(text.contains("expires_in"), "{text}");
        assert!(!text.contains("LEAKED-TOKEN"), "{text}");
    }

    #[tokio::test(start_paused = true)]
    async fn transient_failures_are_retried_with_back_off() {
        let script = Scripted::new();
        script
            .then(503, serde_json::json!({}))
            .then_unreachable()
            .then(429, serde_json::json!({"error": "rate_limit_exceeded"}))
            .token("A", 3600);
        let started = tokio::time::Instant::now();
        let got = script.endpoint().request(&mut form).await.expect("granted");
        assert_eq!(got.access_token.expose(), "A");
        assert_eq!(script.sent().len(), 4);
        // Three waits of at least half of 0.5, 1 and 2 s.
        assert!(
            started.elapsed() >= Duration::from_millis(1750),
            "{:?}",
            started.elapsed()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn retries_stop_after_a_few_attempts() {
        let script = Scripted::new();
        for _ in 0..10 {
            script.then(500, serde_json::json!({}));
        }
        let err = script
            .endpoint()
            .request(&mut form)
            .await
            .expect_err("always 500");
        assert_eq!(err.error.kind(), CredentialsErrorKind::Unavailable);
        assert_eq!(err.error.status(), Some(500));
        assert_eq!(script.sent().len(), MAX_ATTEMPTS as usize);
    }

    #[tokio::test(start_paused = true)]
    async fn invalid_and_unauthorized_clients_are_never_retried() {
        for code in [
            "invalid_client",
            "unauthorized_client",
            "invalid_grant",
            "invalid_request",
        ] {
            let script = Scripted::new();
            script
                .then(
                    400,
                    serde_json::json!({"error": code, "error_description": "nope"}),
                )
                .token("A", 3600);
            let err = script
                .endpoint()
                .request(&mut form)
                .await
                .expect_err("refused");
            assert_eq!(err.error.kind(), CredentialsErrorKind::Refused, "{code}");
            assert_eq!(err.error.code(), Some(code));
            assert_eq!(script.sent().len(), 1, "{code} was retried");
            assert!(!err.error.to_string().contains("very-secret"));
        }
    }

    #[tokio::test(start_paused = true)]
    async fn clock_skew_answers_are_recognised() {
        for (description, skew) in [
            (
                "Current date/time MUST be before the expiration date/time listed in the 'exp' claim",
                true,
            ),
            (
                "The 'exp' value exceeds the maximum value of 60 seconds beyond the issue time",
                true,
            ),
            ("Please check the 'sub' claim", false),
        ] {
            let script = Scripted::new();
            script.then(
                400,
                serde_json::json!({"error": "invalid_grant", "error_description": description}),
            );
            let err = script
                .endpoint()
                .request(&mut form)
                .await
                .expect_err("refused");
            assert_eq!(err.is_clock_skew(), skew, "{description}");
        }
    }

    /// A one-answer HTTP/1.1 server on loopback: answers `answer` to the first request, and
    /// hands back the request it read.
    async fn one_answer_server(answer: String) -> (String, tokio::task::JoinHandle<String>) {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let server = tokio::spawn(async move {
            let (mut conn, _) = listener.accept().await.expect("accept");
            let mut seen = Vec::new();
            let mut buf = [0u8; 4096];
            loop {
                let n = conn.read(&mut buf).await.expect("read");
                seen.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&seen).to_string();
                if let Some(head_end) = text.find("\r\n\r\n") {
                    let len: usize = text[..head_end]
                        .lines()
                        .find_map(|l| {
                            let (k, v) = l.split_once(':')?;
                            k.eq_ignore_ascii_case("content-length")
                                .then(|| v.trim().parse().ok())?
                        })
                        .unwrap_or(0);
                    if seen.len() >= head_end + 4 + len || n == 0 {
                        break;
                    }
                }
                if n == 0 {
                    break;
                }
            }
            conn.write_all(answer.as_bytes()).await.expect("write");
            String::from_utf8_lossy(&seen).to_string()
        });
        (format!("http://{addr}/oauth2/token"), server)
    }

    fn http_answer(status: &str, body: &str) -> String {
        format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ndate: Wed, 21 Oct 2015 07:28:00 GMT\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
    }

    /// One real request over loopback, through the generated client: form-encoded, the secret
    /// in the body, no `authorization` header.
    #[tokio::test]
    async fn the_generated_client_posts_a_form_without_a_bearer() {
        let (url, server) = one_answer_server(http_answer(
            "200 OK",
            r#"{"access_token":"A1","expires_in":3600}"#,
        ))
        .await;
        let endpoint = TokenEndpoint::new(url);
        let form = form().expect("form").with_subject_id("a b&c");
        let got = endpoint
            .request(&mut || Ok(form.clone()))
            .await
            .expect("granted");
        assert_eq!(got.access_token.expose(), "A1");
        assert_eq!(got.expires_in, Duration::from_secs(3600));
        let request = server.await.expect("server");
        let lower = request.to_ascii_lowercase();
        assert!(
            request.starts_with("POST /oauth2/token HTTP/1.1"),
            "{request}"
        );
        assert!(
            lower.contains("content-type: application/x-www-form-urlencoded"),
            "{request}"
        );
        assert!(!lower.contains("authorization:"), "{request}");
        assert!(
            request.ends_with(
                "grant_type=client_credentials&client_id=id&client_secret=very-secret&box_subject_type=enterprise&box_subject_id=a+b%26c"
            ),
            "{request}"
        );
    }

    /// A refusal over loopback keeps the server's `Date` (for JWT clock skew), and a token
    /// answer that cannot be read is an error that quotes none of it.
    #[tokio::test]
    async fn the_date_of_a_refusal_is_read_and_a_bad_token_answer_is_never_quoted() {
        let (url, _server) = one_answer_server(http_answer(
            "400 Bad Request",
            r#"{"error":"invalid_grant","error_description":"Current date/time MUST be before the expiration date/time listed in the 'exp' claim"}"#,
        ))
        .await;
        let refusal = TokenEndpoint::new(url)
            .request(&mut form)
            .await
            .expect_err("refused");
        assert_eq!(
            refusal.date.map(|d| d.timestamp()),
            Some(1_445_412_480),
            "the Date header is read"
        );
        assert!(refusal.is_clock_skew());

        let (url, _server) = one_answer_server(http_answer(
            "200 OK",
            r#"{"access_token":"LEAKED-TOKEN","expires_in":"soon"}"#,
        ))
        .await;
        let refusal = TokenEndpoint::new(url)
            .request(&mut form)
            .await
            .expect_err("unreadable");
        let text = format!("{} {:?}", refusal.error, refusal);
        assert!(!text.contains("LEAKED"), "{text}");
        assert_eq!(refusal.error.status(), Some(200));
    }
}
