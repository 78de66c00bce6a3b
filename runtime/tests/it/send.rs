//! `Core::send`: the token, one renewal after a 401, replay of bodies in memory only.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use box_uploads_runtime::reqwest::header::{HeaderName, HeaderValue};
use box_uploads_runtime::reqwest::{Method, Url};
use box_uploads_runtime::{
    support, Body, Core, Credentials, CredentialsError, CredentialsErrorKind, Error, Secret,
    TokenFuture,
};

use crate::server::Server;

/// No operation error: `send` only fails in transport or credentials.
#[derive(Debug)]
struct NoApiError;

/// Issues `token-1`, then `token-2` after the first rejection of `token-1`, and so on; counts
/// renewals.
#[derive(Debug, Default)]
struct Rotating {
    current: AtomicUsize,
    renewals: AtomicUsize,
}

impl Rotating {
    fn name(n: usize) -> Secret {
        Secret::new(format!("token-{}", n + 1))
    }

    fn renewals(&self) -> usize {
        self.renewals.load(Ordering::SeqCst)
    }
}

impl Credentials for Rotating {
    fn token(&self) -> TokenFuture<'_> {
        let token = Self::name(self.current.load(Ordering::SeqCst));
        Box::pin(async move { Ok(token) })
    }

    fn refresh_after_rejection<'a>(&'a self, rejected: &'a Secret) -> TokenFuture<'a> {
        Box::pin(async move {
            let current = self.current.load(Ordering::SeqCst);
            if Self::name(current) == *rejected {
                self.renewals.fetch_add(1, Ordering::SeqCst);
                self.current.store(current + 1, Ordering::SeqCst);
            }
            Ok(Self::name(self.current.load(Ordering::SeqCst)))
        })
    }

    fn can_refresh(&self) -> bool {
        true
    }
}

/// A 401 unless the request carries `authorization: Bearer <good>`.
fn accepts(good: &'static str) -> impl Fn(&crate::server::Seen) -> (u16, String) {
    move |seen| {
        if seen.header("authorization").as_deref() == Some(&format!("Bearer {good}")) {
            (200, r#"{"ok":true}"#.to_string())
        } else {
            (401, String::new())
        }
    }
}

fn core_with(credentials: Arc<dyn Credentials>) -> Core {
    Core::builder()
        .credentials(credentials)
        .build()
        .expect("builds")
}

fn post(core: &Core, server: &Server) -> box_uploads_runtime::reqwest::RequestBuilder {
    let url = Url::parse(&format!("{}/things", server.url)).expect("url");
    core.request(Method::POST, url)
}

#[tokio::test]
async fn a_401_is_sent_again_once_with_the_renewed_token() {
    let server = Server::start(accepts("token-2")).await;
    let credentials = Arc::new(Rotating::default());
    let core = core_with(credentials.clone());
    let builder =
        support::form::<_, NoApiError>(post(&core, &server), &[("a", "1")]).expect("encodes");

    let response = core.send::<NoApiError>(builder).await.expect("sent");

    assert_eq!(response.status(), 200);
    let seen = server.seen();
    let auth: Vec<_> = seen.iter().map(|s| s.header("authorization")).collect();
    assert_eq!(
        auth,
        [Some("Bearer token-1".into()), Some("Bearer token-2".into())]
    );
    assert!(seen.iter().all(|s| s.body == b"a=1"), "{seen:?}");
    assert_eq!(credentials.renewals(), 1);
}

#[tokio::test]
async fn a_401_on_the_renewed_token_is_a_credentials_error_and_no_third_attempt() {
    let server = Server::start(|_| (401, r#"{"code":"unauthorized"}"#.to_string())).await;
    let credentials = Arc::new(Rotating::default());
    let core = core_with(credentials.clone());

    let err = core
        .send::<NoApiError>(post(&core, &server).body("x"))
        .await
        .expect_err("refused twice");

    let Error::Credentials(e) = err else {
        panic!("not a credentials error: {err:?}")
    };
    assert_eq!(e.kind(), CredentialsErrorKind::Rejected);
    assert_eq!(e.status(), Some(401));
    assert_eq!(e.code(), Some("unauthorized"));
    assert!(e.to_string().contains("expiry is not the cause"), "{e}");
    assert_eq!(server.seen().len(), 2);
    assert_eq!(credentials.renewals(), 1);
}

#[tokio::test]
async fn a_streamed_body_gets_the_401_back_after_the_token_was_renewed() {
    let server = Server::start(accepts("token-2")).await;
    let credentials = Arc::new(Rotating::default());
    let core = core_with(credentials.clone());
    let chunks = futures_util::stream::iter([Ok::<_, std::io::Error>(
        box_uploads_runtime::Bytes::from_static(b"part"),
    )]);
    let builder = support::octet_stream(post(&core, &server), Body::from_stream(chunks, Some(4)));

    let response = core.send::<NoApiError>(builder).await.expect("answered");

    // Not sent again (the stream is gone), but the next attempt gets the new token.
    assert_eq!(response.status(), 401);
    assert_eq!(server.seen().len(), 1);
    assert_eq!(server.seen()[0].body, b"part");
    assert_eq!(credentials.renewals(), 1);
    let next = credentials.token().await.expect("token");
    assert_eq!(next.expose(), "token-2");
    let retried = core
        .send::<NoApiError>(post(&core, &server).body("part"))
        .await
        .expect("sent");
    assert_eq!(retried.status(), 200);
}

#[tokio::test]
async fn operations_without_credentials_send_no_authorization_and_never_refresh() {
    let server = Server::start(|_| (401, String::new())).await;
    let credentials = Arc::new(Rotating::default());
    let core = core_with(credentials.clone());

    let response = core
        .send_without_credentials::<NoApiError>(post(&core, &server).body("x"))
        .await
        .expect("answered");

    assert_eq!(response.status(), 401);
    assert_eq!(server.seen().len(), 1);
    assert_eq!(server.seen()[0].header("authorization"), None);
    assert_eq!(credentials.renewals(), 0);
}

#[tokio::test]
async fn a_fixed_token_401_is_returned_as_it_came() {
    let server = Server::start(|_| (401, String::new())).await;
    let core = Core::builder()
        .bearer_token("fixed")
        .build()
        .expect("builds");

    let response = core
        .send::<NoApiError>(post(&core, &server).body("x"))
        .await
        .expect("answered");

    assert_eq!(response.status(), 401);
    assert_eq!(server.seen().len(), 1);
    assert_eq!(
        server.seen()[0].header("authorization").as_deref(),
        Some("Bearer fixed")
    );
}

#[tokio::test]
async fn default_headers_go_on_every_request() {
    let server = Server::start(|_| (200, "{}".to_string())).await;
    let core = Core::builder()
        .default_header(
            HeaderName::from_static("as-user"),
            HeaderValue::from_static("42"),
        )
        .build()
        .expect("builds");

    core.send::<NoApiError>(post(&core, &server))
        .await
        .expect("sent");
    core.send_without_credentials::<NoApiError>(post(&core, &server))
        .await
        .expect("sent");

    for seen in server.seen() {
        assert_eq!(seen.header("as-user").as_deref(), Some("42"));
        assert_eq!(seen.header("authorization"), None);
    }
}

#[derive(Debug)]
struct Broken;

impl Credentials for Broken {
    fn token(&self) -> TokenFuture<'_> {
        Box::pin(async {
            Err(CredentialsError::new(
                CredentialsErrorKind::Unavailable,
                "the token endpoint did not answer",
            ))
        })
    }

    fn refresh_after_rejection<'a>(&'a self, _rejected: &'a Secret) -> TokenFuture<'a> {
        self.token()
    }

    fn can_refresh(&self) -> bool {
        true
    }
}

#[tokio::test]
async fn a_credentials_failure_sends_nothing() {
    let server = Server::start(|_| (200, "{}".to_string())).await;
    let core = core_with(Arc::new(Broken));

    let err = core
        .send::<NoApiError>(post(&core, &server))
        .await
        .expect_err("no token");

    assert!(
        matches!(&err, Error::Credentials(e) if e.kind() == CredentialsErrorKind::Unavailable),
        "{err:?}"
    );
    assert!(server.seen().is_empty());
}

#[test]
fn secrets_never_reach_debug() {
    let core = Core::builder()
        .bearer_token("s3cr3t-token")
        .build()
        .expect("builds");
    let secret = Secret::new("s3cr3t-value");
    let shown = format!(
        "{core:?} {:?} {secret:?} {secret} {:?}",
        core.credentials(),
        Some(&secret)
    );
    assert!(!shown.contains("s3cr3t"), "{shown}");
}

/// An error answer keeps the server's `Date` header (JWT re-signs from it after a clock-skew
/// refusal).
#[tokio::test]
async fn an_error_answer_keeps_its_date_header() {
    use box_uploads_runtime::{ApiError, ApiErrorFields};
    let server = Server::start(|_| (400, r#"{"error":"invalid_grant"}"#.to_string())).await;
    let core = Core::builder().build().expect("builds");
    let response = core
        .send_without_credentials::<NoApiError>(post(&core, &server))
        .await
        .expect("sent");
    let raw = support::raw_response(response).await.expect("read");
    assert_eq!(raw.date.as_deref(), Some(crate::server::DATE));
    let err = ApiError::<serde_json::Value>::from_raw(raw);
    assert_eq!(err.date(), Some(crate::server::DATE));
    assert_eq!(ApiErrorFields::date(&err), Some(crate::server::DATE));
    assert_eq!(err.code.as_deref(), Some("invalid_grant"));
}
