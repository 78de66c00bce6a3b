//! What a token request can fail with: the failure of one attempt ([`TokenCallError`], which the
//! retry loop judges), and the [`Refusal`] a request ends in when it gives up: a
//! [`CredentialsError`] that never quotes what was sent, the server's clock and Box's
//! description (for JWT clock skew).

use std::fmt;
use std::time::Duration;

use box_uploads_runtime::{self as rt, CredentialsError, CredentialsErrorKind, OperationError};
use chrono::{DateTime, Utc};

use crate::errors::RequestAccessTokenError;
use crate::retry::Failure;

/// One failed attempt at a token request.
#[derive(Debug)]
pub(crate) enum TokenCallError {
    /// The generated call's failure: the endpoint's answer, or a failure around it (boxed: an
    /// answer is large beside the other variants).
    Call(Box<rt::Error<RequestAccessTokenError>>),
    /// No answer: none in time, or (in tests) none at all.
    NoAnswer(&'static str),
    /// The form could not be made (a JWT assertion that could not be signed).
    Form(CredentialsError),
}

/// A request that got no answer; its message names the failure, never the request.
#[derive(Debug)]
struct NoAnswer(&'static str);

impl fmt::Display for NoAnswer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "token endpoint: {}", self.0)
    }
}

impl std::error::Error for NoAnswer {}

/// 429, 5xx and transport failures are tried again; `invalid_client`, `unauthorized_client` and
/// every other 4xx are refusals (the same grant would be refused again), and neither an answer
/// that cannot be read nor a form that cannot be made gets better by asking again.
impl Failure for TokenCallError {
    type Final = Refusal;

    fn is_retryable(&self) -> bool {
        match self {
            TokenCallError::Call(e) => e.is_retryable(),
            TokenCallError::NoAnswer(_) => true,
            TokenCallError::Form(_) => false,
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            TokenCallError::Call(e) => e.retry_after(),
            _ => None,
        }
    }

    fn status(&self) -> Option<u16> {
        match self {
            TokenCallError::Call(e) => e.status(),
            _ => None,
        }
    }

    fn reason(&self) -> String {
        match self {
            TokenCallError::Call(e) if e.api().is_some() => match e.code() {
                Some(code) => format!("HTTP {} {code}", e.status().unwrap_or_default()),
                None => format!("HTTP {}", e.status().unwrap_or_default()),
            },
            TokenCallError::Call(e) => e.to_string(),
            TokenCallError::NoAnswer(why) => (*why).to_string(),
            TokenCallError::Form(_) => "no form".to_string(),
        }
    }

    fn gave_up(self, _operation: &'static str, attempts: u32) -> Refusal {
        let call = match self {
            TokenCallError::Call(call) => *call,
            TokenCallError::NoAnswer(why) => return Refusal::unreachable(NoAnswer(why), attempts),
            TokenCallError::Form(e) => return Refusal::local(e),
        };
        match call {
            rt::Error::Api(answer) => Refusal::answered(&answer),
            rt::Error::Transport(t) => Refusal::unreachable(t, attempts),
            rt::Error::Decode(d) => Refusal::local(
                CredentialsError::new(
                    CredentialsErrorKind::Unavailable,
                    // The runtime reads a token answer without ever quoting it.
                    format!(
                        "the token endpoint answered {} with a token that could not be read: {}",
                        d.status, d.message
                    ),
                )
                .with_answer(d.status, None),
            ),
            rt::Error::InvalidRequest(why) => Refusal::local(CredentialsError::new(
                CredentialsErrorKind::Config,
                format!("the token request could not be sent: {why}"),
            )),
            rt::Error::Credentials(e) => Refusal::local(e),
        }
    }

    fn cancelled() -> Refusal {
        Refusal::local(CredentialsError::new(
            CredentialsErrorKind::Unavailable,
            "the token request was cancelled",
        ))
    }
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
    pub(crate) fn local(error: CredentialsError) -> Self {
        Refusal {
            error,
            date: None,
            description: None,
        }
    }

    fn unreachable(failure: impl std::error::Error + Send + Sync + 'static, attempts: u32) -> Self {
        Refusal::local(
            CredentialsError::new(
                CredentialsErrorKind::Unavailable,
                format!("no token after {attempts} attempt(s)"),
            )
            .with_source(failure),
        )
    }

    /// The endpoint's error answer, as the generated error sorted it.
    fn answered(answer: &RequestAccessTokenError) -> Self {
        let status = answer.status();
        let code = answer.code().map(str::to_owned);
        // OAuth 2.0's `error_description` (or a JSON error's `message`).
        let description = answer.message().map(str::to_owned);
        let kind = if answer.is_retryable() {
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
        match answer {
            RequestAccessTokenError::InvalidClient(_) => {
                message.push_str(" (check the client id and secret)");
            }
            RequestAccessTokenError::UnauthorizedClient(_) => {
                message.push_str(" (the app is not authorized in the enterprise)");
            }
            _ => {}
        }
        let date = answer
            .date()
            .and_then(|d| DateTime::parse_from_rfc2822(d).ok())
            .map(|d| d.with_timezone(&Utc));
        Refusal {
            error: CredentialsError::new(kind, message).with_answer(status, code),
            date,
            description,
        }
    }

    /// Box's JWT clock-skew answers: `invalid_grant` about the `exp` claim ("Current date/time
    /// MUST be before the expiration date/time listed in the 'exp' claim", "The 'exp' value
    /// exceeds the maximum value of 60 seconds beyond the issue time").
    pub(crate) fn is_clock_skew(&self) -> bool {
        self.error.code() == Some("invalid_grant")
            && self.description.as_deref().is_some_and(|d| {
                d.contains("'exp'") || d.contains("\"exp\"") || d.contains("exp claim")
            })
    }
}
