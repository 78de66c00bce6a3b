//! The token endpoint (`POST /oauth2/token`): one form-encoded request per grant, the client id
//! and secret in the body, no bearer
//! (<https://developer.box.com/reference/post-oauth2-token/>). Transient failures (429, 5xx,
//! transport) are retried a few times with back-off; refusals are not. Only `access_token` and
//! `expires_in` are required of an answer: Box's examples disagree on the other fields.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use box_uploads_runtime::{CredentialsError, CredentialsErrorKind, Secret};
use chrono::{DateTime, Utc};

/// Box's token endpoint.
pub const DEFAULT_TOKEN_URL: &str = "https://api.box.com/oauth2/token";

/// Attempts at one token request, the first included.
const MAX_ATTEMPTS: u32 = 4;
/// Back-off before the second attempt; doubled for each further one.
const INITIAL_BACKOFF: Duration = Duration::from_millis(500);
/// Longest wait between two attempts, `retry-after` included.
const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// Time allowed for one request to the token endpoint.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest answer read from the token endpoint (a token answer is well under 4 KiB).
const MAX_ANSWER: usize = 64 * 1024;

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
        TokenEndpoint {
            url: Arc::from(url.into()),
            transport: Arc::new(HttpTransport { http }),
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
    /// a few times; a refusal comes back at once.
    pub(crate) async fn request(
        &self,
        make_form: &mut (dyn FnMut() -> Result<Form, CredentialsError> + Send),
    ) -> Result<Granted, Refusal> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let form = make_form().map_err(Refusal::local)?;
            let grant = form.grant_type();
            let outcome = self.transport.post(&self.url, &form).await;
            let wait = match outcome {
                Ok(answer) if answer.status == 200 => {
                    return granted(&answer).map_err(Refusal::local)
                }
                Ok(answer) => {
                    let refusal = Refusal::from_answer(&answer);
                    if !refusal.is_retryable() || attempt >= MAX_ATTEMPTS {
                        return Err(refusal);
                    }
                    let wait = answer
                        .retry_after
                        .unwrap_or_else(|| jittered_backoff(attempt))
                        .min(MAX_BACKOFF);
                    tracing::debug!(
                        grant,
                        status = answer.status,
                        attempt,
                        ?wait,
                        "the token endpoint answered a transient error; retrying"
                    );
                    wait
                }
                Err(failure) => {
                    if attempt >= MAX_ATTEMPTS {
                        return Err(Refusal::unreachable(failure, attempt));
                    }
                    let wait = jittered_backoff(attempt);
                    tracing::debug!(grant, attempt, ?wait, error = %failure, "the token endpoint could not be reached; retrying");
                    wait
                }
            };
            tokio::time::sleep(wait).await;
        }
    }
}

fn jittered_backoff(attempt: u32) -> Duration {
    let base = INITIAL_BACKOFF
        .saturating_mul(1 << attempt.saturating_sub(1).min(10))
        .min(MAX_BACKOFF);
    crate::upload::jittered(base)
}

/// A token request's form. Every value is kept as a [`Secret`], so that a form never shows
/// in `Debug` output whatever it carries.
#[derive(Clone, Debug, Default)]
pub(crate) struct Form {
    fields: Vec<(&'static str, Secret)>,
}

impl Form {
    pub(crate) fn new(grant_type: &str) -> Self {
        Form::default().field("grant_type", grant_type)
    }

    pub(crate) fn field(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.fields.push((name, Secret::new(value)));
        self
    }

    pub(crate) fn secret(mut self, name: &'static str, value: &Secret) -> Self {
        self.fields.push((name, value.clone()));
        self
    }

    /// The value of field `name`, if set.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.expose())
    }

    /// The grant type, for logs (it is no secret).
    fn grant_type(&self) -> &'static str {
        match self.get("grant_type") {
            Some("client_credentials") => "client_credentials",
            Some("refresh_token") => "refresh_token",
            Some("urn:ietf:params:oauth:grant-type:jwt-bearer") => "jwt-bearer",
            _ => "other",
        }
    }

    /// The pairs to encode. The one place a token request's secrets are exposed.
    fn pairs(&self) -> Vec<(&'static str, &str)> {
        self.fields.iter().map(|(n, v)| (*n, v.expose())).collect()
    }
}

/// What the token endpoint answered, before interpretation.
#[derive(Clone)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    /// The answer's `Date` header: the server's clock, for JWT `exp` claims.
    pub(crate) date: Option<DateTime<Utc>>,
    pub(crate) retry_after: Option<Duration>,
    /// May hold tokens: never shown.
    pub(crate) body: bytes::Bytes,
}

impl fmt::Debug for Answer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Answer")
            .field("status", &self.status)
            .field("date", &self.date)
            .finish_non_exhaustive()
    }
}

/// A request that got no answer; its message names the failure, never the request.
#[derive(Debug)]
pub(crate) struct TransportFailure(pub(crate) String);

impl fmt::Display for TransportFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TransportFailure {}

pub(crate) type PostFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Answer, TransportFailure>> + Send + 'a>>;

/// Sends one token request. The production transport is [`HttpTransport`]; unit tests script
/// answers.
pub(crate) trait Transport: Send + Sync + 'static {
    fn post<'a>(&'a self, url: &'a str, form: &'a Form) -> PostFuture<'a>;
}

/// Form-encoded POST with `reqwest`: the one place the token endpoint is called.
///
/// Not the generated `request_access_token`, although the runtime now keeps `Date` in its error
/// answers (`ApiError::date`): that operation takes a typed body (one field per grant, where
/// these forms are built field by field with secrets kept apart), needs a generated `Client`
/// per token URL, decodes the 200 itself (its decode error may quote the body, which holds the
/// token) and does not cap the answer's size as [`MAX_ANSWER`] does here. Not a simple switch.
struct HttpTransport {
    http: reqwest::Client,
}

impl Transport for HttpTransport {
    fn post<'a>(&'a self, url: &'a str, form: &'a Form) -> PostFuture<'a> {
        Box::pin(async move {
            let response = self
                .http
                .post(url)
                .timeout(REQUEST_TIMEOUT)
                .form(&form.pairs())
                .send()
                .await
                .map_err(|e| TransportFailure(describe(&e)))?;
            let status = response.status().as_u16();
            let header = |name: reqwest::header::HeaderName| {
                response
                    .headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            };
            let date = header(reqwest::header::DATE)
                .and_then(|d| DateTime::parse_from_rfc2822(&d).ok())
                .map(|d| d.with_timezone(&Utc));
            let retry_after = header(reqwest::header::RETRY_AFTER)
                .as_deref()
                .and_then(box_uploads_runtime::retry_after::parse);
            let mut response = response;
            let mut body = Vec::new();
            while let Some(chunk) = response
                .chunk()
                .await
                .map_err(|e| TransportFailure(describe(&e)))?
            {
                if body.len() + chunk.len() > MAX_ANSWER {
                    return Err(TransportFailure(format!(
                        "token endpoint: the answer is larger than {MAX_ANSWER} bytes"
                    )));
                }
                body.extend_from_slice(&chunk);
            }
            let body = bytes::Bytes::from(body);
            Ok(Answer {
                status,
                date,
                retry_after,
                body,
            })
        })
    }
}

/// A transport failure in a few words (never the URL or the form).
fn describe(e: &reqwest::Error) -> String {
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else if e.is_body() || e.is_decode() {
        "the answer broke off"
    } else {
        "the request failed"
    };
    format!("token endpoint: {what}")
}

/// A token the endpoint issued.
#[derive(Debug)]
pub(crate) struct Granted {
    pub(crate) access_token: Secret,
    pub(crate) expires_in: Duration,
    /// OAuth 2.0 only: the next refresh token (the one sent is dead now).
    pub(crate) refresh_token: Option<Secret>,
}

fn granted(answer: &Answer) -> Result<Granted, CredentialsError> {
    #[derive(serde::Deserialize)]
    struct Body {
        access_token: Option<String>,
        expires_in: Option<serde_json::Value>,
        refresh_token: Option<String>,
    }
    // The error never quotes the body: it holds tokens.
    let malformed = |what: &str| {
        CredentialsError::new(
            CredentialsErrorKind::Unavailable,
            format!("the token endpoint answered 200 without {what}"),
        )
        .with_answer(answer.status, None)
    };
    let body: Body = serde_json::from_slice(&answer.body).map_err(|_| malformed("a JSON body"))?;
    let access_token = body
        .access_token
        .filter(|t| !t.is_empty())
        .ok_or_else(|| malformed("an access_token"))?;
    // A number, or a number in a string: be lenient in what is accepted.
    let expires_in = match body.expires_in {
        Some(serde_json::Value::Number(n)) => n.as_f64(),
        Some(serde_json::Value::String(s)) => s.trim().parse::<f64>().ok(),
        _ => None,
    }
    .filter(|s| s.is_finite() && *s > 0.0)
    .ok_or_else(|| malformed("a positive expires_in"))?;
    Ok(Granted {
        access_token: Secret::new(access_token),
        expires_in: Duration::from_secs_f64(expires_in.min(1e9)),
        refresh_token: body
            .refresh_token
            .filter(|t| !t.is_empty())
            .map(Secret::new),
    })
}

/// The token endpoint did not issue a token.
#[derive(Debug)]
pub(crate) struct Refusal {
    pub(crate) error: CredentialsError,
    /// The server's clock (`Date`), when it answered.
    pub(crate) date: Option<DateTime<Utc>>,
    /// `error_description`, for recognising clock-skew refusals.
    pub(crate) description: Option<String>,
}

impl Refusal {
    fn local(error: CredentialsError) -> Self {
        Refusal {
            error,
            date: None,
            description: None,
        }
    }

    fn unreachable(failure: TransportFailure, attempts: u32) -> Self {
        Refusal::local(
            CredentialsError::new(
                CredentialsErrorKind::Unavailable,
                format!("no token after {attempts} attempt(s)"),
            )
            .with_source(failure),
        )
    }

    fn from_answer(answer: &Answer) -> Self {
        #[derive(serde::Deserialize)]
        struct Body {
            error: Option<String>,
            error_description: Option<String>,
        }
        let body: Option<Body> = serde_json::from_slice(&answer.body).ok();
        let (code, description) = match body {
            Some(b) => (b.error, b.error_description),
            None => (None, None),
        };
        let status = answer.status;
        let kind = if status == 429 || status >= 500 {
            CredentialsErrorKind::Unavailable
        } else {
            CredentialsErrorKind::Refused
        };
        let mut message = format!("the token endpoint refused the grant: HTTP {status}");
        if let Some(code) = &code {
            message.push(' ');
            message.push_str(code);
        }
        // Box's descriptions say what is wrong ("Grant credentials are invalid") and quote
        // nothing that was sent.
        if let Some(d) = &description {
            message.push_str(": ");
            message.push_str(&d.chars().take(300).collect::<String>());
        }
        match code.as_deref() {
            Some("invalid_client") => {
                message.push_str(" (check the client id and secret)");
            }
            Some("unauthorized_client") => {
                message.push_str(" (the app is not authorized in the enterprise)");
            }
            _ => {}
        }
        Refusal {
            error: CredentialsError::new(kind, message).with_answer(status, code),
            date: answer.date,
            description,
        }
    }

    /// 429 and 5xx may succeed later; `invalid_client`, `unauthorized_client` and every other
    /// 4xx are refusals: the same grant would be refused again.
    fn is_retryable(&self) -> bool {
        self.error.kind() == CredentialsErrorKind::Unavailable
    }

    /// Box's JWT clock-skew answers: `invalid_grant` about the `exp` claim ("Current date/time MUST be before the
    /// expiration date/time listed in the 'exp' claim", "The 'exp' value exceeds the maximum value
    /// of 60 seconds beyond the issue time").
    pub(crate) fn is_clock_skew(&self) -> bool {
        self.error.code() == Some("invalid_grant")
            && self.description.as_deref().is_some_and(|d| {
                d.contains("'exp'") || d.contains("\"exp\"") || d.contains("exp claim")
            })
    }
}

/// Scripted token endpoints for unit tests.
#[cfg(test)]
pub(crate) mod fake {
    use std::collections::VecDeque;
    use std::sync::Mutex;

    use super::*;

    /// Answers from a script, recording every form it was sent.
    #[derive(Default)]
    pub(crate) struct Scripted {
        answers: Mutex<VecDeque<Result<Answer, TransportFailure>>>,
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
                .push_back(Ok(answer));
            self
        }

        pub(crate) fn then_unreachable(&self) -> &Self {
            self.answers
                .lock()
                .expect("script lock")
                .push_back(Err(TransportFailure(
                    "token endpoint: could not connect".into(),
                )));
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
        fn post<'a>(&'a self, _url: &'a str, form: &'a Form) -> PostFuture<'a> {
            self.forms.lock().expect("forms lock").push(form.clone());
            let next = self.answers.lock().expect("script lock").pop_front();
            Box::pin(async move {
                next.unwrap_or_else(|| Err(TransportFailure("script exhausted".into())))
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fake::Scripted;
    use super::*;

    fn form() -> Result<Form, CredentialsError> {
        Ok(Form::new("client_credentials")
            .field("client_id", "id")
            .secret("client_secret", &Secret::new("very-secret")))
    }

    #[test]
    fn a_form_never_shows_its_values() {
        let shown = format!("{:?}", form().expect("form"));
        assert!(!shown.contains("very-secret"), "{shown}");
        assert!(!shown.contains("client_credentials"), "{shown}");
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

    /// One real request over loopback: form-encoded, the secret in the body, no
    /// `authorization` header, and the `Date` header read.
    #[tokio::test]
    async fn the_http_transport_posts_a_form_without_a_bearer() {
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
            }
            let body = r#"{"access_token":"A1","expires_in":3600}"#;
            let answer = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ndate: Wed, 21 Oct 2015 07:28:00 GMT\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            conn.write_all(answer.as_bytes()).await.expect("write");
            String::from_utf8_lossy(&seen).to_string()
        });
        let endpoint = TokenEndpoint::new(format!("http://{addr}/oauth2/token"));
        let form = form().expect("form").field("box_subject_id", "a b&c");
        let answer = endpoint
            .transport
            .post(endpoint.url(), &form)
            .await
            .expect("answered");
        assert_eq!(answer.status, 200);
        assert_eq!(
            answer.date.map(|d| d.timestamp()),
            Some(1_445_412_480),
            "the Date header is read"
        );
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
                "grant_type=client_credentials&client_id=id&client_secret=very-secret&box_subject_id=a+b%26c"
            ),
            "{request}"
        );
    }
}
