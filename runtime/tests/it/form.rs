//! `support::form`: what generated form types look like on the wire.

use box_uploads_runtime::reqwest::header::CONTENT_TYPE;
use box_uploads_runtime::{support, Error, Secret};

/// Shaped like a generated form type: optional fields skipped when `None`, a secret exposed
/// only on the wire.
#[derive(Debug, serde::Serialize)]
struct TokenForm {
    grant_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_secret: Option<Secret>,
    #[serde(skip_serializing_if = "Option::is_none")]
    box_subject_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    lifetime: Option<i64>,
}

fn encoded<T: serde::Serialize>(form: &T) -> Result<(String, String), Error<()>> {
    let builder = box_uploads_runtime::reqwest::Client::new().post("http://127.0.0.1:1/token");
    let request = support::form(builder, form)?.build().expect("builds");
    let content_type = request.headers()[CONTENT_TYPE]
        .to_str()
        .expect("text")
        .to_string();
    let body = request
        .body()
        .and_then(|b| b.as_bytes())
        .expect("in memory");
    Ok((
        content_type,
        String::from_utf8(body.to_vec()).expect("text"),
    ))
}

#[test]
fn a_form_sends_present_fields_encoded_and_skips_absent_ones() {
    let form = TokenForm {
        grant_type: "urn:ietf:params:oauth:grant-type:jwt-bearer",
        client_secret: Some(Secret::new("s3cr3t &=+")),
        box_subject_id: None,
        lifetime: Some(60),
    };
    let (content_type, body) = encoded(&form).expect("encodes");
    assert_eq!(content_type, "application/x-www-form-urlencoded");
    assert_eq!(
        body,
        "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer\
         &client_secret=s3cr3t+%26%3D%2B&lifetime=60"
    );
    assert!(!format!("{form:?}").contains("s3cr3t"));
}

#[test]
fn a_nested_value_is_an_invalid_request_not_a_panic() {
    #[derive(serde::Serialize)]
    struct Nested {
        tags: Vec<String>,
    }
    let err = encoded(&Nested {
        tags: vec!["a".into()],
    })
    .expect_err("no encoding for a list");
    assert!(matches!(err, Error::InvalidRequest(_)), "{err:?}");
}
