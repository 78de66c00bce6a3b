//! A token request's form: the generated `PostOauth2Token` body, one constructor per grant this
//! crate makes. Its `Debug` shows nothing of it, whatever it carries (the secrets are
//! [`Secret`]s already; the rest is nobody's business in a log either).

use std::fmt;

use box_uploads_runtime::Secret;

use crate::models::{PostOauth2Token, PostOauth2TokenBoxSubjectType, PostOauth2TokenGrantType};

/// The body of one token request.
#[derive(Clone)]
pub(crate) struct Form(PostOauth2Token);

impl fmt::Debug for Form {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Form").finish_non_exhaustive()
    }
}

/// A body with only `grant_type` set.
fn grant(grant_type: PostOauth2TokenGrantType) -> PostOauth2Token {
    PostOauth2Token {
        grant_type,
        client_id: None,
        client_secret: None,
        code: None,
        refresh_token: None,
        assertion: None,
        subject_token: None,
        subject_token_type: None,
        actor_token: None,
        actor_token_type: None,
        scope: None,
        resource: None,
        box_subject_type: None,
        box_subject_id: None,
        box_shared_link: None,
    }
}

impl Form {
    /// The client credentials grant, for the enterprise's service account or a user
    /// (`subject_type` `enterprise` or `user`).
    pub(crate) fn client_credentials(
        client_id: &str,
        client_secret: &Secret,
        subject_type: &str,
        subject_id: &str,
    ) -> Self {
        Form(PostOauth2Token {
            client_id: Some(client_id.to_string()),
            client_secret: Some(client_secret.clone()),
            box_subject_type: Some(PostOauth2TokenBoxSubjectType::from(subject_type)),
            box_subject_id: Some(subject_id.to_string()),
            ..grant(PostOauth2TokenGrantType::ClientCredentials)
        })
    }

    /// The JWT bearer grant: a signed `assertion`, with the app's client id and secret.
    pub(crate) fn jwt_bearer(assertion: &Secret, client_id: &str, client_secret: &Secret) -> Self {
        Form(PostOauth2Token {
            assertion: Some(assertion.clone()),
            client_id: Some(client_id.to_string()),
            client_secret: Some(client_secret.clone()),
            ..grant(PostOauth2TokenGrantType::UrnIetfParamsOauthGrantTypeJwtBearer)
        })
    }

    /// The refresh token grant (OAuth 2.0): the refresh token, spent by this request.
    pub(crate) fn refresh_token(
        client_id: &str,
        client_secret: &Secret,
        refresh_token: &Secret,
    ) -> Self {
        Form(PostOauth2Token {
            client_id: Some(client_id.to_string()),
            client_secret: Some(client_secret.clone()),
            refresh_token: Some(refresh_token.clone()),
            ..grant(PostOauth2TokenGrantType::RefreshToken)
        })
    }

    /// The body the generated `request_access_token` sends.
    pub(crate) fn body(&self) -> &PostOauth2Token {
        &self.0
    }

    /// The grant type, for logs (it is no secret).
    pub(crate) fn grant_type(&self) -> &str {
        self.0.grant_type.as_str()
    }

    /// The value of field `name` as it is sent, if set (for tests: the one place a form's
    /// secrets are read besides sending it).
    #[cfg(test)]
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        let b = &self.0;
        fn secret(s: &Option<Secret>) -> Option<&str> {
            s.as_ref().map(Secret::expose)
        }
        match name {
            "grant_type" => Some(b.grant_type.as_str()),
            "client_id" => b.client_id.as_deref(),
            "client_secret" => secret(&b.client_secret),
            "refresh_token" => secret(&b.refresh_token),
            "assertion" => secret(&b.assertion),
            "box_subject_type" => b.box_subject_type.as_ref().map(|t| t.as_str()),
            "box_subject_id" => b.box_subject_id.as_deref(),
            _ => None,
        }
    }

    /// The form with `box_subject_id` replaced (for a test of how values are encoded).
    #[cfg(test)]
    pub(crate) fn with_subject_id(mut self, id: &str) -> Self {
        self.0.box_subject_id = Some(id.to_string());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_form_never_shows_its_values() {
        let form = Form::client_credentials("id", &Secret::new("very-secret"), "enterprise", "7");
        let shown = format!("{form:?}");
        assert!(!shown.contains("very-secret"), "{shown}");
        assert!(!shown.contains("client_credentials"), "{shown}");
    }

    #[test]
    fn each_grant_sets_its_fields() {
        let secret = Secret::new("s");
        let ccg = Form::client_credentials("c", &secret, "user", "42");
        assert_eq!(
            [ccg.get("grant_type"), ccg.get("box_subject_type")],
            [Some("client_credentials"), Some("user")]
        );
        let jwt = Form::jwt_bearer(&Secret::new("A.B.C"), "c", &secret);
        assert_eq!(
            jwt.get("grant_type"),
            Some("urn:ietf:params:oauth:grant-type:jwt-bearer")
        );
        assert_eq!(jwt.get("assertion"), Some("A.B.C"));
        let refresh = Form::refresh_token("c", &secret, &Secret::new("R"));
        assert_eq!(
            [
                refresh.grant_type(),
                refresh.get("refresh_token").unwrap_or("")
            ],
            ["refresh_token", "R"]
        );
    }
}
