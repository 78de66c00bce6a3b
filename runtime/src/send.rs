//! Sending a request: a token from the credentials, and one renewal after a 401.

use reqwest::header::{HeaderValue, AUTHORIZATION};
use reqwest::StatusCode;

use crate::support::{discard_capped, error_code, raw_response};
use crate::{Core, CredentialsError, CredentialsErrorKind, Error, Secret, TransportError};

impl Core {
    /// Sends a request that needs credentials (when the core has any).
    ///
    /// The token comes from [`Credentials::token`](crate::Credentials::token), just before
    /// sending. On a 401, if the credentials can refresh, they are asked once for another token
    /// ([`refresh_after_rejection`](crate::Credentials::refresh_after_rejection)); then:
    ///
    /// - a body in memory (bytes, JSON, a form) is sent once more with the new token. A second
    ///   401 is [`Error::Credentials`] of kind `Rejected`: a token refused right after it was
    ///   renewed means expiry is not the cause;
    /// - a streamed body cannot be sent twice: the 401 answer is returned as it came, the new
    ///   token already in place. The caller re-reads its source and retries once (see
    ///   [`Core::credentials`] to know whether that can help).
    ///
    /// `E` is the operation's error type; only transport and credentials failures come from here.
    pub async fn send<E>(
        &self,
        builder: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, Error<E>> {
        let (http, request) = builder.build_split();
        let request = request.map_err(TransportError::from)?;
        let Some(credentials) = &self.credentials else {
            return execute(&http, request).await;
        };
        let token = credentials.token().await.map_err(Error::Credentials)?;
        // Taken before the first attempt consumes the request; `None` for a streamed body.
        let replay = request.try_clone();
        let response = execute(&http, authorized(request, &token)?).await?;
        if response.status() != StatusCode::UNAUTHORIZED || !credentials.can_refresh() {
            return Ok(response);
        }
        let renewed = credentials
            .refresh_after_rejection(&token)
            .await
            .map_err(Error::Credentials)?;
        let Some(replay) = replay else {
            return Ok(response);
        };
        // Read the small 401 body so that the connection can be reused.
        discard_capped(response).await;
        let response = execute(&http, authorized(replay, &renewed)?).await?;
        if response.status() == StatusCode::UNAUTHORIZED {
            return Err(Error::Credentials(refused_after_renewal(response).await));
        }
        Ok(response)
    }

    /// Sends a request that must carry no credentials (an operation whose spec says
    /// `security: []`, such as a token endpoint): no `authorization` header, no refresh.
    pub async fn send_without_credentials<E>(
        &self,
        builder: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, Error<E>> {
        let (http, request) = builder.build_split();
        execute(&http, request.map_err(TransportError::from)?).await
    }
}

async fn execute<E>(
    http: &reqwest::Client,
    request: reqwest::Request,
) -> Result<reqwest::Response, Error<E>> {
    http.execute(request)
        .await
        .map_err(|e| Error::Transport(TransportError::from(e)))
}

/// The request with `authorization: Bearer <token>`, marked sensitive so that the HTTP stack
/// never prints it.
fn authorized<E>(
    mut request: reqwest::Request,
    token: &Secret,
) -> Result<reqwest::Request, Error<E>> {
    let mut value = HeaderValue::try_from(format!("Bearer {}", token.expose())).map_err(|_| {
        Error::Credentials(CredentialsError::new(
            CredentialsErrorKind::Config,
            "the access token has characters that cannot be sent in an HTTP header",
        ))
    })?;
    value.set_sensitive(true);
    request.headers_mut().insert(AUTHORIZATION, value);
    Ok(request)
}

/// The error for a 401 on a token obtained right after a 401.
async fn refused_after_renewal(response: reqwest::Response) -> CredentialsError {
    let code = match raw_response(response).await {
        Ok(raw) => error_code(&raw.body),
        Err(_) => None,
    };
    CredentialsError::new(
        CredentialsErrorKind::Rejected,
        "the server refused the access token renewed after its predecessor was refused \
         (HTTP 401 twice), so expiry is not the cause: check what these credentials may access",
    )
    .with_answer(StatusCode::UNAUTHORIZED.as_u16(), code)
}
