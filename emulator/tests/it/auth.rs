//! Service authentication: `POST /oauth2/token` (client credentials, JWT bearer, refresh
//! token), `POST /oauth2/revoke`, token lifetimes, the `expire-tokens` action, `as-user` and
//! sessions bound to their user.

use crate::common::*;
use box_emulator::{Config, Emulator, FaultConfig, Operation, SERVICE_ACCOUNT_ID};
use reqwest::{Method, Response};
use serde_json::{json, Value};
use std::time::Duration;

const JWT_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
const INVALID_TOKEN_CHALLENGE: &str = "Bearer realm=\"Service\", error=\"invalid_token\", error_description=\"The access token provided is invalid.\"";

async fn token_request(emu: &Emulator, form: &[(&str, &str)]) -> Response {
    http()
        .post(emu.token_url())
        .form(form)
        .send()
        .await
        .expect("token request")
}

/// The form fields of a request by the test app, plus `extra`.
fn app_form<'a>(extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut form = vec![("client_id", CLIENT_ID), ("client_secret", CLIENT_SECRET)];
    form.extend_from_slice(extra);
    form
}

/// Checks a successful token answer and returns it.
async fn expect_token(resp: Response) -> Value {
    let status = resp.status();
    assert_eq!(
        resp.headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    let text = resp.text().await.expect("body");
    assert_eq!(status, 200, "{text}");
    let v: Value = serde_json::from_str(&text).expect("JSON");
    let token = v["access_token"].as_str().expect("access_token");
    assert!(token.len() >= 32 && token.chars().all(|c| c.is_ascii_alphanumeric()));
    assert!(v["expires_in"].as_u64().expect("expires_in") > 0);
    assert_eq!(v["token_type"], "bearer");
    assert_eq!(v["restricted_to"], json!([]));
    assert_eq!(
        v["issued_token_type"],
        "urn:ietf:params:oauth:token-type:access_token"
    );
    v
}

/// Checks a token-endpoint error: 400 `{"error": code, "error_description": description}`.
async fn expect_oauth_error(resp: Response, code: &str, description: &str) {
    let status = resp.status();
    let text = resp.text().await.expect("body");
    assert_eq!(status, 400, "{text}");
    let v: Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(
        v,
        json!({"error": code, "error_description": description}),
        "{text}"
    );
}

/// A client-credentials token for a subject.
async fn ccg_token(emu: &Emulator, subject_type: &str, subject_id: &str) -> String {
    let v = expect_token(
        token_request(
            emu,
            &app_form(&[
                ("grant_type", "client_credentials"),
                ("box_subject_type", subject_type),
                ("box_subject_id", subject_id),
            ]),
        )
        .await,
    )
    .await;
    assert!(v.get("refresh_token").is_none(), "{v}");
    v["access_token"].as_str().unwrap().to_string()
}

async fn jwt_request(emu: &Emulator, assertion: &str) -> Response {
    token_request(
        emu,
        &app_form(&[("grant_type", JWT_GRANT), ("assertion", assertion)]),
    )
    .await
}

/// A request to the API with `token` (and an `as-user` header when given).
async fn api_get(emu: &Emulator, path: &str, token: &str, as_user: Option<&str>) -> Response {
    let mut rb = http()
        .request(Method::GET, format!("{}{path}", emu.api_url()))
        .bearer_auth(token);
    if let Some(u) = as_user {
        rb = rb.header("as-user", u);
    }
    rb.send().await.expect("send")
}

async fn create_session_with(
    emu: &Emulator,
    token: &str,
    as_user: Option<&str>,
    name: &str,
    size: u64,
) -> Response {
    let mut rb = http()
        .post(format!("{}/files/upload_sessions", emu.upload_url()))
        .bearer_auth(token)
        .json(&json!({"folder_id": "0", "file_name": name, "file_size": size}));
    if let Some(u) = as_user {
        rb = rb.header("as-user", u);
    }
    rb.send().await.expect("send")
}

async fn put_part_with(
    session: &Value,
    token: &str,
    as_user: Option<&str>,
    offset: u64,
    part: &[u8],
    total: u64,
) -> Response {
    let url = session["session_endpoints"]["upload_part"]
        .as_str()
        .unwrap();
    let mut rb = http()
        .put(url)
        .bearer_auth(token)
        .header("digest", digest(part))
        .header(
            "content-range",
            content_range(offset, part.len() as u64, total),
        )
        .body(part.to_vec());
    if let Some(u) = as_user {
        rb = rb.header("as-user", u);
    }
    rb.send().await.expect("send")
}

/// Asserts Box's 401 for an expired or revoked token: empty body, the `invalid_token`
/// challenge.
async fn expect_invalid_token(resp: Response) {
    assert_eq!(resp.status(), 401);
    assert_eq!(
        resp.headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok()),
        Some(INVALID_TOKEN_CHALLENGE)
    );
    assert!(resp.headers().contains_key("box-request-id"));
    assert_eq!(resp.bytes().await.expect("body").len(), 0);
}

// ---------------------------------------------------------------------------------------
// Client credentials

#[tokio::test]
async fn client_credentials_issue_tokens_for_the_enterprise_and_users() {
    let emu = start(auth_config(1024)).await;
    let sa = ccg_token(&emu, "enterprise", ENTERPRISE_ID).await;
    let user = ccg_token(&emu, "user", USER_ID).await;
    assert_ne!(sa, user);
    for token in [&sa, &user] {
        expect_status(api_get(&emu, "/folders/0/items", token, None).await, 200).await;
    }
    // The answer's lifetime is the configured one (60 minutes by default).
    let v = expect_token(
        token_request(
            &emu,
            &app_form(&[
                ("grant_type", "client_credentials"),
                ("box_subject_type", "enterprise"),
                ("box_subject_id", ENTERPRISE_ID),
            ]),
        )
        .await,
    )
    .await;
    assert_eq!(v["expires_in"], 3600);
    // The static token keeps working beside issued ones.
    expect_status(
        api_get(&emu, "/folders/0/items", emu.token(), None).await,
        200,
    )
    .await;
    let c = emu.counters();
    assert_eq!(c.auth.tokens_issued.client_credentials, 3);
    assert_eq!(c.auth.tokens_issued.total(), 3);
    assert_eq!(c.requests_for(Operation::RequestToken), 3);
    assert_eq!(c.auth.token_errors, 0);
}

#[tokio::test]
async fn token_requests_are_refused_with_boxs_codes() {
    let emu = start(auth_config(1024)).await;
    let ccg = |kind: &'static str, id: &'static str| {
        app_form(&[
            ("grant_type", "client_credentials"),
            ("box_subject_type", kind),
            ("box_subject_id", id),
        ])
    };
    let bad_grant = "Invalid grant_type parameter or parameter missing";
    // No grant type, an unknown one.
    expect_oauth_error(
        token_request(&emu, &app_form(&[])).await,
        "invalid_request",
        bad_grant,
    )
    .await;
    expect_oauth_error(
        token_request(&emu, &app_form(&[("grant_type", "password")])).await,
        "invalid_request",
        bad_grant,
    )
    .await;
    // Wrong secret, unknown client, no credentials.
    let creds_invalid = "The client credentials are invalid.";
    let mut wrong_secret = ccg("enterprise", ENTERPRISE_ID);
    wrong_secret[1] = ("client_secret", "nope");
    expect_oauth_error(
        token_request(&emu, &wrong_secret).await,
        "invalid_client",
        creds_invalid,
    )
    .await;
    let mut wrong_id = ccg("enterprise", ENTERPRISE_ID);
    wrong_id[0] = ("client_id", "someone-else");
    expect_oauth_error(
        token_request(&emu, &wrong_id).await,
        "invalid_client",
        creds_invalid,
    )
    .await;
    expect_oauth_error(
        token_request(
            &emu,
            &[
                ("grant_type", "client_credentials"),
                ("box_subject_type", "enterprise"),
                ("box_subject_id", ENTERPRISE_ID),
            ],
        )
        .await,
        "invalid_client",
        creds_invalid,
    )
    .await;
    // Credentials in HTTP Basic instead of the body: refused, as Box does.
    let resp = http()
        .post(emu.token_url())
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .form(&[
            ("grant_type", "client_credentials"),
            ("box_subject_type", "enterprise"),
            ("box_subject_id", ENTERPRISE_ID),
        ])
        .send()
        .await
        .unwrap();
    expect_oauth_error(resp, "invalid_client", creds_invalid).await;
    // Even with the body credentials too.
    let resp = http()
        .post(emu.token_url())
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .form(&ccg("enterprise", ENTERPRISE_ID))
        .send()
        .await
        .unwrap();
    expect_oauth_error(resp, "invalid_client", creds_invalid).await;
    // A subject that does not exist or does not match.
    let grant_invalid = "Grant credentials are invalid";
    for (kind, id) in [
        ("enterprise", "2"),
        ("user", "999"),
        ("user", ENTERPRISE_ID),
        ("user", SERVICE_ACCOUNT_ID),
        ("enterprise", USER_ID),
        ("group", USER_ID),
        ("", ""),
    ] {
        expect_oauth_error(
            token_request(&emu, &ccg(kind, id)).await,
            "invalid_grant",
            grant_invalid,
        )
        .await;
    }
    expect_oauth_error(
        token_request(&emu, &app_form(&[("grant_type", "client_credentials")])).await,
        "invalid_grant",
        grant_invalid,
    )
    .await;
    // A JSON body is not a form: no grant type.
    let resp = http()
        .post(emu.token_url())
        .json(
            &json!({"grant_type": "client_credentials", "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET, "box_subject_type": "enterprise",
            "box_subject_id": ENTERPRISE_ID}),
        )
        .send()
        .await
        .unwrap();
    expect_oauth_error(resp, "invalid_request", bad_grant).await;
    // A field sent twice.
    let mut twice = ccg("enterprise", ENTERPRISE_ID);
    twice.push(("box_subject_id", ENTERPRISE_ID));
    expect_oauth_error(
        token_request(&emu, &twice).await,
        "invalid_request",
        "The 'box_subject_id' parameter is repeated",
    )
    .await;
    // Grants the emulator does not model, and JWT without a configured key.
    let unauthorized_grant = "The grant type is unauthorized for this client_id.";
    for grant in [
        "authorization_code",
        "urn:ietf:params:oauth:grant-type:token-exchange",
        JWT_GRANT,
    ] {
        expect_oauth_error(
            token_request(
                &emu,
                &app_form(&[("grant_type", grant), ("code", "x"), ("assertion", "x")]),
            )
            .await,
            "invalid_request",
            unauthorized_grant,
        )
        .await;
    }
    let c = emu.counters();
    assert_eq!(c.auth.tokens_issued.total(), 0);
    assert_eq!(c.auth.token_errors, 20);
    assert_eq!(c.errors_for("invalid_client"), 5);
    assert_eq!(c.errors_for("invalid_grant"), 8);
    assert_eq!(c.errors_for("invalid_request"), 7);
    assert_eq!(c.responses_for(400), 20);
}

#[tokio::test]
async fn an_emulator_without_an_app_or_with_an_unauthorized_app_refuses_tokens() {
    let form = app_form(&[
        ("grant_type", "client_credentials"),
        ("box_subject_type", "enterprise"),
        ("box_subject_id", ENTERPRISE_ID),
    ]);
    let plain = start(config(1024)).await;
    expect_oauth_error(
        token_request(&plain, &form).await,
        "invalid_client",
        "The client credentials are invalid.",
    )
    .await;
    let unauthorized = start(Config {
        app_authorized: false,
        ..auth_config(1024)
    })
    .await;
    expect_oauth_error(
        token_request(&unauthorized, &form).await,
        "unauthorized_client",
        "This app is not authorized by the enterprise admin.",
    )
    .await;
    // Wrong credentials are still invalid_client there.
    let mut wrong = form.clone();
    wrong[1] = ("client_secret", "x");
    expect_oauth_error(
        token_request(&unauthorized, &wrong).await,
        "invalid_client",
        "The client credentials are invalid.",
    )
    .await;
}

// ---------------------------------------------------------------------------------------
// JWT

#[tokio::test]
async fn jwt_assertions_get_tokens_for_the_enterprise_and_users() {
    let key = TestRsaKey::shared();
    let emu = start(jwt_config(1024, key)).await;
    let sa =
        expect_token(jwt_request(&emu, &key.assertion("enterprise", ENTERPRISE_ID)).await).await;
    assert!(sa.get("refresh_token").is_none());
    let user = expect_token(jwt_request(&emu, &key.assertion("user", USER_ID)).await).await;
    // The user's token acts as the user: a session it creates is not the service account's.
    let size = 10;
    let s = expect_status(
        create_session_with(
            &emu,
            user["access_token"].as_str().unwrap(),
            None,
            "u.bin",
            size,
        )
        .await,
        201,
    )
    .await;
    let resp = put_part_with(
        &s,
        sa["access_token"].as_str().unwrap(),
        None,
        0,
        &test_data(size, 1),
        size,
    )
    .await;
    expect_error(resp, 403, "forbidden").await;
    // `aud` may be the emulator's own token URL too.
    let own_aud = key.sign(
        &jwt_header(),
        &json!({"iss": CLIENT_ID, "sub": ENTERPRISE_ID, "box_sub_type": "enterprise",
            "aud": emu.token_url(), "jti": new_jti(),
            "exp": chrono::Utc::now().timestamp() + 30}),
    );
    expect_token(jwt_request(&emu, &own_aud).await).await;
    assert_eq!(emu.counters().auth.tokens_issued.jwt_bearer, 3);
}

#[tokio::test]
async fn jwt_assertions_are_checked_as_box_checks_them() {
    let key = TestRsaKey::shared();
    let emu = start(jwt_config(1024, key)).await;
    let now = chrono::Utc::now().timestamp();
    let claims = |patch: Value| {
        let mut c = json!({"iss": CLIENT_ID, "sub": ENTERPRISE_ID, "box_sub_type": "enterprise",
            "aud": "https://api.box.com/oauth2/token", "jti": new_jti(), "exp": now + 30});
        for (k, v) in patch.as_object().unwrap() {
            if v.is_null() {
                c.as_object_mut().unwrap().remove(k);
            } else {
                c[k] = v.clone();
            }
        }
        c
    };
    let signed = |patch: Value| key.sign(&jwt_header(), &claims(patch));
    let emu_ref = &emu;
    let refused = move |assertion: String, description: &'static str| {
        let emu = emu_ref;
        async move {
            expect_oauth_error(
                jwt_request(emu, &assertion).await,
                "invalid_grant",
                description,
            )
            .await
        }
    };

    // Signature: another key, a tampered payload.
    let other = TestRsaKey::generate();
    let sig_error = "Signature verification error. The public key identified by \"kid\" must correspond to the private key used for signing.";
    refused(other.sign(&jwt_header(), &claims(json!({}))), sig_error).await;
    let good = signed(json!({}));
    let pieces: Vec<&str> = good.split('.').collect();
    let forged = {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let payload =
            b64.encode(claims(json!({"sub": USER_ID, "box_sub_type": "user"})).to_string());
        format!("{}.{payload}.{}", pieces[0], pieces[2])
    };
    refused(forged, sig_error).await;
    // Header: kid, alg.
    refused(
        key.sign(
            &json!({"alg": "RS256", "typ": "JWT", "kid": "other"}),
            &claims(json!({})),
        ),
        "\"kid\" invalid, unable to lookup correct key",
    )
    .await;
    // Without `kid` (Box's JWT guide: optional when the app has one public key; Box's Node
    // SDK sends `{"alg": "RS256"}` alone): checked against the app's one key.
    expect_token(
        jwt_request(
            &emu,
            &key.sign(&json!({"alg": "RS256", "typ": "JWT"}), &claims(json!({}))),
        )
        .await,
    )
    .await;
    expect_token(
        jwt_request(
            &emu,
            &key.sign(&json!({"alg": "RS256"}), &claims(json!({}))),
        )
        .await,
    )
    .await;
    refused(
        other.sign(&json!({"alg": "RS256"}), &claims(json!({}))),
        sig_error,
    )
    .await;
    refused(
        key.sign(
            &json!({"alg": "RS256", "typ": "JWT", "kid": 7}),
            &claims(json!({})),
        ),
        "\"kid\" invalid, unable to lookup correct key",
    )
    .await;
    for alg in ["HS256", "none", "ES256"] {
        refused(
            key.sign(&json!({"alg": alg, "kid": JWT_KEY_ID}), &claims(json!({}))),
            "Algorithm not allowed",
        )
        .await;
    }
    // Claims.
    refused(
        signed(json!({"iss": "other"})),
        "Please check the 'iss' claim.",
    )
    .await;
    refused(
        signed(json!({"iss": null})),
        "Please check the 'iss' claim.",
    )
    .await;
    refused(
        signed(json!({"aud": "https://example.com/oauth2/token"})),
        "Please check the 'aud' claim.",
    )
    .await;
    refused(
        signed(json!({"box_sub_type": "group"})),
        "Please check the 'box_sub_type' claim.",
    )
    .await;
    let bad_sub = "Please check the 'sub' claim. The 'sub' specified is invalid.";
    refused(signed(json!({"sub": "2"})), bad_sub).await;
    refused(signed(json!({"sub": 1})), bad_sub).await;
    refused(
        signed(json!({"sub": "999", "box_sub_type": "user"})),
        bad_sub,
    )
    .await;
    refused(
        signed(json!({"sub": SERVICE_ACCOUNT_ID, "box_sub_type": "user"})),
        bad_sub,
    )
    .await;
    refused(
        signed(json!({"exp": null})),
        "Please check the 'exp' claim.",
    )
    .await;
    refused(
        signed(json!({"exp": (now + 30).to_string()})),
        "Please check the 'exp' claim. Should be an integer",
    )
    .await;
    refused(
        signed(json!({"exp": now as f64 + 30.5})),
        "Please check the 'exp' claim. Should be an integer",
    )
    .await;
    refused(
        signed(json!({"exp": now - 10})),
        "Current date/time MUST be before the expiration date/time listed in the 'exp' claim",
    )
    .await;
    // More than 60 s ahead (the server's clock is at least `now`, so 120 s ahead of `now` is at
    // most 120 s ahead of it: refused however slow the request).
    refused(
        signed(json!({"exp": now + 120})),
        "The 'exp' value exceeds the maximum value of 60 seconds beyond the issue time",
    )
    .await;
    let bad_jti = "Please check the 'jti' claim. A unique 'jti' value is required.";
    refused(signed(json!({"jti": "a".repeat(15)})), bad_jti).await;
    refused(signed(json!({"jti": "a".repeat(129)})), bad_jti).await;
    refused(signed(json!({"jti": null})), bad_jti).await;
    refused(signed(json!({"jti": 1234567890123456789u64})), bad_jti).await;
    // Not a JWT at all.
    refused("abc".into(), "The 'assertion' is not a valid JWT").await;
    refused("a.b.c".into(), "The 'assertion' is not a valid JWT").await;
    refused(
        format!("{good}.extra"),
        "The 'assertion' is not a valid JWT",
    )
    .await;
    // No assertion.
    expect_oauth_error(
        token_request(&emu, &app_form(&[("grant_type", JWT_GRANT)])).await,
        "invalid_request",
        "Invalid grant_type parameter or parameter missing",
    )
    .await;
    // The two assertions without `kid` above.
    assert_eq!(emu.counters().auth.tokens_issued.jwt_bearer, 2);

    // The bounds of jti's length are accepted; a jti is used once.
    for len in [16, 128] {
        let a = signed(json!({"jti": "j".repeat(len - 1) + &len.to_string()[..1]}));
        expect_token(jwt_request(&emu, &a).await).await;
    }
    let once = signed(json!({}));
    expect_token(jwt_request(&emu, &once).await).await;
    refused(once.clone(), bad_jti).await;
    // A new assertion with the same jti, too.
    let jti = new_jti();
    expect_token(jwt_request(&emu, &signed(json!({"jti": jti}))).await).await;
    refused(signed(json!({"jti": jti})), bad_jti).await;
    // A refused assertion does not use its jti up.
    let jti = new_jti();
    refused(signed(json!({"jti": jti, "sub": "2"})), bad_sub).await;
    expect_token(jwt_request(&emu, &signed(json!({"jti": jti}))).await).await;
    assert_eq!(emu.counters().auth.tokens_issued.jwt_bearer, 7);
}

#[tokio::test]
async fn jwt_settings_are_checked_at_start() {
    let key = TestRsaKey::shared();
    let bad = [
        Config {
            jwt_key_id: None,
            ..jwt_config(1024, key)
        },
        Config {
            jwt_public_key: Some(
                "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----".into(),
            ),
            ..jwt_config(1024, key)
        },
        // A private key is not a public key.
        Config {
            jwt_public_key: Some(key.private_key_pem.clone()),
            ..jwt_config(1024, key)
        },
        Config {
            client_id: None,
            client_secret: None,
            ..jwt_config(1024, key)
        },
        Config {
            client_secret: None,
            ..auth_config(1024)
        },
        Config {
            users: vec!["abc".into()],
            ..auth_config(1024)
        },
        Config {
            users: vec![SERVICE_ACCOUNT_ID.into()],
            ..auth_config(1024)
        },
        Config {
            enterprise_id: "e1".into(),
            ..auth_config(1024)
        },
        Config {
            refresh_tokens: [("rt".to_string(), "999".to_string())].into(),
            ..auth_config(1024)
        },
        Config {
            token_ttl: Duration::ZERO,
            ..auth_config(1024)
        },
    ];
    for (i, config) in bad.into_iter().enumerate() {
        match Emulator::start(config).await {
            Err(box_emulator::StartError::Config(_)) => {}
            other => panic!("config {i}: expected a config error, got {other:?}"),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Refresh tokens

#[tokio::test]
async fn refresh_tokens_are_single_use_and_rotate() {
    let emu = start(Config {
        refresh_tokens: [("seeded-refresh-token".to_string(), USER_ID.to_string())].into(),
        ..auth_config(1024)
    })
    .await;
    let emu_ref = &emu;
    let refresh = move |token: String| {
        let emu = emu_ref;
        async move {
            token_request(
                emu,
                &app_form(&[("grant_type", "refresh_token"), ("refresh_token", &token)]),
            )
            .await
        }
    };
    let first = emu.mint_refresh_token(USER_ID).expect("a user");
    let v = expect_token(refresh(first.clone()).await).await;
    let second = v["refresh_token"]
        .as_str()
        .expect("a new refresh token")
        .to_string();
    assert_ne!(second, first);
    let access = v["access_token"].as_str().unwrap().to_string();
    expect_status(api_get(&emu, "/folders/0/items", &access, None).await, 200).await;
    // The used one is dead; the new one works once.
    expect_oauth_error(
        refresh(first).await,
        "invalid_grant",
        "Invalid refresh token",
    )
    .await;
    let v = expect_token(refresh(second.clone()).await).await;
    expect_oauth_error(
        refresh(second).await,
        "invalid_grant",
        "Invalid refresh token",
    )
    .await;
    // Rotating does not kill the access tokens issued before.
    expect_status(api_get(&emu, "/folders/0/items", &access, None).await, 200).await;
    assert!(v["refresh_token"].is_string());
    // Seeded by the configuration, minted over HTTP.
    expect_token(refresh("seeded-refresh-token".into()).await).await;
    let resp = http()
        .post(format!("{}/_emulator/refresh-tokens", emu.base_url()))
        .json(&json!({"user_id": OTHER_USER_ID}))
        .send()
        .await
        .unwrap();
    let minted = expect_status(resp, 201).await;
    assert_eq!(minted["user_id"], OTHER_USER_ID);
    let v = expect_token(refresh(minted["refresh_token"].as_str().unwrap().into()).await).await;
    // That token belongs to the other user: a session of USER_ID is not its.
    let user_token = ccg_token(&emu, "user", USER_ID).await;
    let s = expect_status(
        create_session_with(&emu, &user_token, None, "r.bin", 10).await,
        201,
    )
    .await;
    let resp = put_part_with(
        &s,
        v["access_token"].as_str().unwrap(),
        None,
        0,
        &test_data(10, 2),
        10,
    )
    .await;
    expect_error(resp, 403, "forbidden").await;
    // Unknown users get none; unknown tokens are refused; the token is required.
    assert_eq!(emu.mint_refresh_token("999"), None);
    assert_eq!(emu.mint_refresh_token(SERVICE_ACCOUNT_ID), None);
    let resp = http()
        .post(format!("{}/_emulator/refresh-tokens", emu.base_url()))
        .json(&json!({"user_id": "999"}))
        .send()
        .await
        .unwrap();
    expect_status(resp, 400).await;
    expect_oauth_error(
        refresh("never-issued".into()).await,
        "invalid_grant",
        "Invalid refresh token",
    )
    .await;
    expect_oauth_error(
        token_request(&emu, &app_form(&[("grant_type", "refresh_token")])).await,
        "invalid_request",
        "Invalid grant_type parameter or parameter missing",
    )
    .await;
    // A refresh token with the wrong client secret is not used up.
    let kept = emu.mint_refresh_token(USER_ID).unwrap();
    let resp = token_request(
        &emu,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &kept),
            ("client_id", CLIENT_ID),
            ("client_secret", "wrong"),
        ],
    )
    .await;
    expect_oauth_error(
        resp,
        "invalid_client",
        "The client credentials are invalid.",
    )
    .await;
    expect_token(refresh(kept).await).await;
    let c = emu.counters();
    assert_eq!(c.auth.tokens_issued.refresh_token, 5);
    // Five issued with the grant, three minted (the seeded one is not counted).
    assert_eq!(c.auth.refresh_tokens_issued, 8);
}

#[tokio::test]
async fn revoking_a_token_kills_it_and_its_pair() {
    let emu = start(auth_config(1024)).await;
    let emu_ref = &emu;
    let revoke = move |token: String, secret: &'static str| {
        let emu = emu_ref;
        async move {
            http()
                .post(format!("{}/oauth2/revoke", emu.base_url()))
                .form(&[
                    ("client_id", CLIENT_ID),
                    ("client_secret", secret),
                    ("token", &token),
                ])
                .send()
                .await
                .unwrap()
        }
    };
    let access = ccg_token(&emu, "enterprise", ENTERPRISE_ID).await;
    let resp = revoke(access.clone(), CLIENT_SECRET).await;
    assert_eq!(resp.status(), 200);
    assert!(resp.bytes().await.unwrap().is_empty());
    expect_invalid_token(api_get(&emu, "/folders/0/items", &access, None).await).await;
    // A refresh grant's pair: revoking the access token kills the refresh token too.
    let rt = emu.mint_refresh_token(USER_ID).unwrap();
    let v = expect_token(
        token_request(
            &emu,
            &app_form(&[("grant_type", "refresh_token"), ("refresh_token", &rt)]),
        )
        .await,
    )
    .await;
    let resp = revoke(v["access_token"].as_str().unwrap().into(), CLIENT_SECRET).await;
    assert_eq!(resp.status(), 200);
    expect_oauth_error(
        token_request(
            &emu,
            &app_form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", v["refresh_token"].as_str().unwrap()),
            ]),
        )
        .await,
        "invalid_grant",
        "Invalid refresh token",
    )
    .await;
    // Unknown tokens and the static token: 200, nothing happens.
    assert_eq!(revoke("unknown".into(), CLIENT_SECRET).await.status(), 200);
    assert_eq!(
        revoke(emu.token().into(), CLIENT_SECRET).await.status(),
        200
    );
    expect_status(
        api_get(&emu, "/folders/0/items", emu.token(), None).await,
        200,
    )
    .await;
    // Wrong credentials.
    expect_oauth_error(
        revoke(access, "wrong").await,
        "invalid_client",
        "The client credentials are invalid.",
    )
    .await;
    let c = emu.counters();
    assert_eq!(c.auth.tokens_revoked, 3);
    assert_eq!(c.requests_for(Operation::RevokeToken), 5);
}

// ---------------------------------------------------------------------------------------
// Lifetimes and expire-tokens

#[tokio::test]
async fn tokens_expire_after_their_ttl_with_boxs_401() {
    let emu = start(Config {
        token_ttl: Duration::from_secs(60),
        ..auth_config(1024)
    })
    .await;
    let token = ccg_token(&emu, "enterprise", ENTERPRISE_ID).await;
    expect_status(api_get(&emu, "/folders/0/items", &token, None).await, 200).await;
    // One second short of the lifetime: still good.
    emu.advance_token_clock(Duration::from_secs(59));
    expect_status(api_get(&emu, "/folders/0/items", &token, None).await, 200).await;
    // Over HTTP, for tests that drive the binary.
    let resp = http()
        .post(format!("{}/_emulator/token-clock", emu.base_url()))
        .json(&json!({"advance_secs": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(expect_status(resp, 200).await["offset_secs"], 60);
    expect_invalid_token(api_get(&emu, "/folders/0/items", &token, None).await).await;
    // The static token never expires; a new token works.
    expect_status(
        api_get(&emu, "/folders/0/items", emu.token(), None).await,
        200,
    )
    .await;
    let fresh = ccg_token(&emu, "enterprise", ENTERPRISE_ID).await;
    expect_status(api_get(&emu, "/folders/0/items", &fresh, None).await, 200).await;
    // An unknown token keeps the emulator's Box-shaped error body.
    let resp = api_get(&emu, "/folders/0/items", "never-issued", None).await;
    assert_eq!(
        resp.headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok()),
        Some(INVALID_TOKEN_CHALLENGE)
    );
    expect_error(resp, 401, "unauthorized").await;
    let c = emu.counters();
    assert_eq!(c.auth.unauthorized, 2);
    assert_eq!(c.auth.expired_token_401, 1);
    assert_eq!(c.errors_for("invalid_token"), 1);
    assert_eq!(c.errors_for("unauthorized"), 1);
    assert_eq!(c.responses_for(401), 2);
}

#[tokio::test]
async fn expire_tokens_forces_a_new_token_in_the_middle_of_an_upload() {
    let emu = start(auth_config(1024)).await;
    let data = test_data(3000, 3);
    let total = data.len() as u64;
    let token = ccg_token(&emu, "user", USER_ID).await;
    let other = ccg_token(&emu, "user", OTHER_USER_ID).await;
    let s = expect_status(
        create_session_with(&emu, &token, None, "mid.bin", total).await,
        201,
    )
    .await;
    expect_status(
        put_part_with(&s, &token, None, 0, &data[..1024], total).await,
        200,
    )
    .await;
    assert_eq!(emu.expire_tokens(), 2);
    expect_invalid_token(put_part_with(&s, &token, None, 1024, &data[1024..2048], total).await)
        .await;
    expect_invalid_token(api_get(&emu, "/folders/0/items", &other, None).await).await;
    // A new token for the same user continues the same session.
    let renewed = ccg_token(&emu, "user", USER_ID).await;
    let mut parts = vec![];
    for (i, chunk) in data.chunks(1024).enumerate().skip(1) {
        let v = expect_status(
            put_part_with(&s, &renewed, None, i as u64 * 1024, chunk, total).await,
            200,
        )
        .await;
        parts.push(v["part"].clone());
    }
    let list = http()
        .get(s["session_endpoints"]["list_parts"].as_str().unwrap())
        .bearer_auth(&renewed)
        .send()
        .await
        .unwrap();
    let listed = expect_status(list, 200).await;
    assert_eq!(listed["total_count"], 3);
    let resp = http()
        .post(s["session_endpoints"]["commit"].as_str().unwrap())
        .bearer_auth(&renewed)
        .header("digest", digest(&data))
        .json(&json!({"parts": listed["entries"]}))
        .send()
        .await
        .unwrap();
    let file = expect_status(resp, 201).await;
    assert_stored(&emu, file["entries"][0]["id"].as_str().unwrap(), &data).await;
    // The static token was not touched.
    expect_status(
        api_get(&emu, "/folders/0/items", emu.token(), None).await,
        200,
    )
    .await;
    let c = emu.counters();
    assert_eq!(c.injected.expire_tokens, 1);
    assert_eq!(c.auth.tokens_invalidated, 2);
    assert_eq!(c.auth.expired_token_401, 2);
}

#[tokio::test]
async fn expire_tokens_is_a_one_shot_fault_now_or_after_n_requests() {
    let emu = start(auth_config(1024)).await;
    let faults_url = format!("{}/_emulator/faults", emu.base_url());
    // Through set_faults: at once, and the field reads None afterwards.
    let t = ccg_token(&emu, "enterprise", ENTERPRISE_ID).await;
    emu.set_faults(FaultConfig {
        expire_tokens: Some(0),
        ..Default::default()
    });
    assert_eq!(emu.faults().expire_tokens, None);
    expect_invalid_token(api_get(&emu, "/folders/0/items", &t, None).await).await;

    // Through PUT /_emulator/faults, after two more API requests.
    let t = ccg_token(&emu, "enterprise", ENTERPRISE_ID).await;
    let resp = http()
        .put(&faults_url)
        .json(&json!({"expire_tokens": 2, "commit_202": 1}))
        .send()
        .await
        .unwrap();
    let set = expect_status(resp, 200).await;
    assert_eq!(set["expire_tokens"], 2);
    assert_eq!(set["commit_202"], 1);
    // Token requests do not count.
    let t2 = ccg_token(&emu, "enterprise", ENTERPRISE_ID).await;
    for _ in 0..2 {
        expect_status(api_get(&emu, "/folders/0/items", &t, None).await, 200).await;
    }
    expect_invalid_token(api_get(&emu, "/folders/0/items", &t, None).await).await;
    expect_invalid_token(api_get(&emu, "/folders/0/items", &t2, None).await).await;
    let now: Value = http()
        .get(&faults_url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(now.get("expire_tokens").is_none(), "{now}");
    assert_eq!(now["commit_202"], 1, "the other faults stay");
    // It does not fire again.
    let t3 = ccg_token(&emu, "enterprise", ENTERPRISE_ID).await;
    for _ in 0..3 {
        expect_status(api_get(&emu, "/folders/0/items", &t3, None).await, 200).await;
    }
    // POST /_emulator/expire-tokens: at once, telling how many were in force.
    let resp = http()
        .post(format!("{}/_emulator/expire-tokens", emu.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(expect_status(resp, 200).await["invalidated"], 1);
    expect_invalid_token(api_get(&emu, "/folders/0/items", &t3, None).await).await;
    // Replacing the faults before it fires cancels it.
    let t4 = ccg_token(&emu, "enterprise", ENTERPRISE_ID).await;
    emu.set_faults(FaultConfig {
        expire_tokens: Some(1),
        ..Default::default()
    });
    emu.set_faults(FaultConfig::default());
    for _ in 0..3 {
        expect_status(api_get(&emu, "/folders/0/items", &t4, None).await, 200).await;
    }
    assert_eq!(emu.counters().injected.expire_tokens, 3);
}

// ---------------------------------------------------------------------------------------
// Users: as-user and session ownership

#[tokio::test]
async fn a_session_belongs_to_the_user_who_created_it() {
    let emu = start(auth_config(1024)).await;
    let owner = ccg_token(&emu, "user", USER_ID).await;
    let intruder = ccg_token(&emu, "user", OTHER_USER_ID).await;
    let sa = ccg_token(&emu, "enterprise", ENTERPRISE_ID).await;
    let data = test_data(2000, 4);
    let total = data.len() as u64;
    let s = expect_status(
        create_session_with(&emu, &owner, None, "own.bin", total).await,
        201,
    )
    .await;
    let ep = |name: &str| s["session_endpoints"][name].as_str().unwrap().to_string();
    // Every operation on the session by another user (the service account and the static
    // token included) is 403 forbidden.
    for (token, as_user) in [
        (intruder.as_str(), None),
        (sa.as_str(), None),
        (emu.token(), None),
        (sa.as_str(), Some(OTHER_USER_ID)),
    ] {
        let with = |rb: reqwest::RequestBuilder| {
            let rb = rb.bearer_auth(token);
            match as_user {
                Some(u) => rb.header("as-user", u),
                None => rb,
            }
        };
        expect_error(
            put_part_with(&s, token, as_user, 0, &data[..1024], total).await,
            403,
            "forbidden",
        )
        .await;
        for rb in [
            with(http().get(ep("status"))),
            with(http().get(ep("list_parts"))),
            with(http().delete(ep("abort"))),
            with(
                http()
                    .post(ep("commit"))
                    .header("digest", digest(&data))
                    .json(&json!({"parts": []})),
            ),
            with(http().post(ep("log_event")).json(&json!({}))),
        ] {
            expect_error(rb.send().await.unwrap(), 403, "forbidden").await;
        }
    }
    // The owner, and the service account acting as the owner, may.
    expect_status(
        put_part_with(&s, &owner, None, 0, &data[..1024], total).await,
        200,
    )
    .await;
    expect_status(
        put_part_with(&s, &sa, Some(USER_ID), 1024, &data[1024..], total).await,
        200,
    )
    .await;
    let resp = http()
        .get(ep("status"))
        .bearer_auth(&owner)
        .send()
        .await
        .unwrap();
    assert_eq!(expect_status(resp, 200).await["num_parts_processed"], 2);
    // Sessions of the static token belong to the service account: a service-account token
    // may use them.
    let s2 = expect_status(
        create_session_with(&emu, emu.token(), None, "sa.bin", total).await,
        201,
    )
    .await;
    expect_status(
        put_part_with(&s2, &sa, None, 0, &data[..1024], total).await,
        200,
    )
    .await;
    expect_error(
        put_part_with(&s2, &owner, None, 1024, &data[1024..], total).await,
        403,
        "forbidden",
    )
    .await;
    assert_eq!(emu.counters().errors_for("forbidden"), 25);
}

#[tokio::test]
async fn as_user_is_honoured_only_for_the_service_account_and_configured_users() {
    let emu = start(auth_config(1024)).await;
    let sa = ccg_token(&emu, "enterprise", ENTERPRISE_ID).await;
    let user = ccg_token(&emu, "user", USER_ID).await;
    // The service account (a token or the static token) as a configured user: allowed, and a
    // session made so belongs to that user.
    for token in [sa.as_str(), emu.token()] {
        expect_status(
            api_get(&emu, "/folders/0/items", token, Some(USER_ID)).await,
            200,
        )
        .await;
    }
    let s = expect_status(
        create_session_with(&emu, &sa, Some(USER_ID), "as.bin", 10).await,
        201,
    )
    .await;
    expect_status(
        put_part_with(&s, &user, None, 0, &test_data(10, 5), 10).await,
        200,
    )
    .await;
    // A user may not act as anyone; nobody acts as an unknown user or the service account.
    for (token, target) in [
        (user.as_str(), OTHER_USER_ID),
        (user.as_str(), USER_ID),
        (sa.as_str(), "999"),
        (sa.as_str(), SERVICE_ACCOUNT_ID),
        (sa.as_str(), ""),
    ] {
        expect_error(
            api_get(&emu, "/folders/0/items", token, Some(target)).await,
            403,
            "access_denied_insufficient_permissions",
        )
        .await;
    }
    let c = emu.counters();
    assert_eq!(c.auth.as_user, 3);
    assert_eq!(c.errors_for("access_denied_insufficient_permissions"), 5);
}

// ---------------------------------------------------------------------------------------
// Counters over HTTP, and the binary

#[tokio::test]
async fn auth_counters_are_in_the_counters_json() {
    let emu = start(auth_config(1024)).await;
    let token = ccg_token(&emu, "enterprise", ENTERPRISE_ID).await;
    emu.expire_tokens();
    expect_invalid_token(api_get(&emu, "/folders/0/items", &token, None).await).await;
    let c: Value = http()
        .get(format!("{}/_emulator/counters", emu.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(c["auth"]["tokens_issued"]["client_credentials"], 1);
    assert_eq!(c["auth"]["tokens_issued"]["jwt_bearer"], 0);
    assert_eq!(c["auth"]["tokens_issued"]["refresh_token"], 0);
    assert_eq!(c["auth"]["unauthorized"], 1);
    assert_eq!(c["auth"]["expired_token_401"], 1);
    assert_eq!(c["auth"]["tokens_invalidated"], 1);
    assert_eq!(c["injected"]["expire_tokens"], 1);
    assert_eq!(c["requests"]["request_token"], 1);
    assert_eq!(c["responses"]["401"], 1);
    assert_eq!(c["errors"]["invalid_token"], 1);
    // Reset clears them with the rest.
    emu.reset_counters();
    assert_eq!(emu.counters().auth, Default::default());
}

#[tokio::test]
async fn the_binary_serves_tokens() {
    let key = TestRsaKey::shared();
    let dir = tempfile::tempdir().unwrap();
    let pem = dir.path().join("public.pem");
    std::fs::write(&pem, &key.public_key_pem).unwrap();
    let bin = Process::spawn(
        "bin-token",
        &[
            "--client-id",
            CLIENT_ID,
            "--client-secret",
            CLIENT_SECRET,
            "--enterprise-id",
            ENTERPRISE_ID,
            "--user",
            USER_ID,
            "--jwt-public-key",
            pem.to_str().unwrap(),
            "--jwt-key-id",
            JWT_KEY_ID,
            "--token-ttl",
            "90s",
            "--refresh-token",
            "rt-1:1001",
            "--fault",
            "expire-tokens=1",
        ],
    );
    let token_url = format!("{}/oauth2/token", bin.base);
    let post = |form: Vec<(&'static str, String)>| {
        let url = token_url.clone();
        async move { http().post(url).form(&form).send().await.unwrap() }
    };
    let creds = || {
        vec![
            ("client_id", CLIENT_ID.to_string()),
            ("client_secret", CLIENT_SECRET.to_string()),
        ]
    };
    let mut form = creds();
    form.extend([
        ("grant_type", "client_credentials".to_string()),
        ("box_subject_type", "enterprise".to_string()),
        ("box_subject_id", ENTERPRISE_ID.to_string()),
    ]);
    let ccg = expect_token(post(form).await).await;
    assert_eq!(ccg["expires_in"], 90);
    let mut form = creds();
    form.extend([
        ("grant_type", JWT_GRANT.to_string()),
        ("assertion", key.assertion("user", USER_ID)),
    ]);
    expect_token(post(form).await).await;
    let mut form = creds();
    form.extend([
        ("grant_type", "refresh_token".to_string()),
        ("refresh_token", "rt-1".to_string()),
    ]);
    let refreshed = expect_token(post(form).await).await;
    assert!(refreshed["refresh_token"].is_string());
    // expire-tokens=1: one API request passes, the next finds the tokens invalidated.
    let get = |token: String| {
        let url = format!("{}/2.0/folders/0/items", bin.base);
        async move { http().get(url).bearer_auth(token).send().await.unwrap() }
    };
    let access = ccg["access_token"].as_str().unwrap().to_string();
    assert_eq!(get(access.clone()).await.status(), 200);
    expect_invalid_token(get(access).await).await;
    assert_eq!(get("bin-token".into()).await.status(), 200);
    let c = bin.counters().await;
    assert_eq!(c["auth"]["tokens_issued"]["client_credentials"], 1);
    assert_eq!(c["auth"]["tokens_issued"]["jwt_bearer"], 1);
    assert_eq!(c["auth"]["tokens_issued"]["refresh_token"], 1);
    assert_eq!(c["auth"]["tokens_invalidated"], 3);
    assert_eq!(c["injected"]["expire_tokens"], 1);
}

#[test]
fn the_binary_refuses_bad_auth_flags() {
    for args in [
        &["--client-id", "x"][..],
        &["--client-id", "x", "--client-secret", "y", "--user", "abc"],
        &["--jwt-key-id", "k"],
        &["--refresh-token", "no-user"],
        &[
            "--client-id",
            "x",
            "--client-secret",
            "y",
            "--refresh-token",
            "t:5",
        ],
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_box-emulator"))
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .output()
            .expect("run box-emulator");
        assert!(!out.status.success(), "{args:?} was accepted");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}
