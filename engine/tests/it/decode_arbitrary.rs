//! Property tests: arbitrary JSON (and arbitrary bytes) never make decoding panic. Models either
//! decode or give a serde error; error answers always land in a variant that keeps the status,
//! the code (even one the spec does not know) and the raw body.

use box_uploads::errors::{CommitUploadSessionError, UploadFileError, UploadPartError};
use box_uploads::models::{ConflictError, Files, UploadParts, UploadSession, UploadedPart};
use box_uploads::runtime::support::RawResponse;
use box_uploads::runtime::Bytes;
use box_uploads::OperationError as _;
use proptest::prelude::*;
use serde_json::Value;

/// Keys the models know, mixed with arbitrary ones, so that decoding goes deep.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(vec![
            "id", "type", "code", "status", "message", "request_id", "entries", "total_count", "part", "parts",
            "context_info", "conflicts", "sha1", "size", "offset", "part_id", "session_endpoints", "part_size",
            "total_parts", "session_expires_at", "file_version", "etag", "name", "parent", "created_at",
            "item_status", "path_collection", "order", "direction", "conflicting_part",
        ]).prop_map(str::to_owned),
        1 => ".{0,8}",
    ]
}

fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        prop_oneof![
            Just("file".to_string()),
            Just("upload_session".to_string()),
            Just("2012-12-12T10:53:43-08:00".to_string()),
            ".{0,12}"
        ]
        .prop_map(Value::String),
    ];
    leaf.prop_recursive(5, 96, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(key(), inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn decode_all(value: &Value) {
    // Only "does not panic" matters here; success or a serde error are both fine.
    let _ = serde_json::from_value::<Files>(value.clone());
    let _ = serde_json::from_value::<UploadSession>(value.clone());
    let _ = serde_json::from_value::<UploadedPart>(value.clone());
    let _ = serde_json::from_value::<UploadParts>(value.clone());
    let _ = serde_json::from_value::<ConflictError>(value.clone());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_json_never_panics_the_models(value in json()) {
        decode_all(&value);
    }

    #[test]
    fn error_answers_keep_status_code_and_body(status in 300u16..600, value in json(), code in prop::option::of(".{1,16}")) {
        let mut value = value;
        if let (Some(code), Value::Object(map)) = (&code, &mut value) {
            map.insert("code".into(), Value::String(code.clone()));
        }
        let body = serde_json::to_vec(&value).expect("encodes");
        let raw = RawResponse { status, request_id: None, retry_after: None, date: None, body: Bytes::from(body.clone()) };
        let expected_code = value.get("code").and_then(Value::as_str).map(str::to_owned);

        let upload = UploadFileError::from_raw(raw.clone());
        prop_assert_eq!(upload.status(), status);
        prop_assert_eq!(upload.code().map(str::to_owned), expected_code.clone());
        prop_assert_eq!(upload.raw_body().as_bytes(), body.as_slice());
        prop_assert_eq!(upload.is_retryable(), status == 429 || status >= 500);

        let part = UploadPartError::from_raw(raw.clone());
        prop_assert_eq!(part.code().map(str::to_owned), expected_code.clone());
        let commit = CommitUploadSessionError::from_raw(raw);
        prop_assert_eq!(commit.status(), status);
        prop_assert!(!commit.to_string().is_empty());
    }

    #[test]
    fn arbitrary_bytes_never_panic_error_decoding(status in 0u16..1000, body in prop::collection::vec(any::<u8>(), 0..256)) {
        let raw = RawResponse { status, request_id: Some("r".into()), retry_after: Some("x".into()), date: None, body: Bytes::from(body) };
        let err = UploadFileError::from_raw(raw);
        prop_assert_eq!(err.status(), status);
        let _ = err.to_string();
    }
}
