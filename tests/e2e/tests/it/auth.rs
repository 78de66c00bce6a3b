//! Service authentication end to end: client credentials, JWT and OAuth 2.0 refresh tokens
//! from the emulator's `POST /oauth2/token`, tokens renewed under running uploads, and the
//! engine's answer to a 401 (the core renews the token; a streamed body is sent again once).
//! Every test checks the bytes stored and the emulator's counters of tokens and 401s.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use box_uploads::auth::{
    Credentials, CredentialsError, CredentialsErrorKind, FileTokenStore, JwtConfig,
    MemoryTokenStore, OAuthCredentials, Secret, Subject, TokenEndpoint, TokenFuture,
};
use box_uploads::upload::{Upload, UploadConfig, UploadErrorKind};

use crate::common::*;

const CLIENT_ID: &str = "e2e-client-id";
const CLIENT_SECRET: &str = "e2e-client-secret";
const USER: &str = "555";

/// An emulator that issues tokens to the test app, with 64 KiB parts.
fn auth_config() -> Config {
    Config {
        client_id: Some(CLIENT_ID.into()),
        client_secret: Some(CLIENT_SECRET.into()),
        users: vec![USER.into()],
        ..small_config()
    }
}

fn builder(emu: &Emulator) -> ClientBuilder {
    ClientBuilder::new()
        .api_url(emu.api_url())
        .upload_url(emu.upload_url())
}

fn ccg_client(emu: &Emulator) -> Client {
    builder(emu)
        .client_credentials(
            CLIENT_ID,
            CLIENT_SECRET,
            Subject::enterprise(emu_enterprise(emu)),
        )
        .build()
        .expect("client")
}

/// The emulator's enterprise (its configuration's default).
fn emu_enterprise(_emu: &Emulator) -> String {
    Config::default().enterprise_id
}

/// An uploader chunking above 64 KiB with `concurrency` parts at once.
fn chunking(client: Client, concurrency: usize) -> Uploader {
    let mut config = UploadConfig::default();
    config.chunked_cutoff = 64 * KIB;
    config.min_chunked_size = 1;
    config.concurrency = concurrency.into();
    config.retry = fast_retries();
    Uploader::with_config(client, config)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chunked_upload_spans_several_token_renewals_without_a_401() {
    const PART: u64 = 16 * KIB;
    const PARTS: u64 = 240;
    let emu = start(Config {
        token_ttl: Duration::from_secs(3),
        part_size: Some(PART),
        faults: FaultConfig {
            latency_ms: 50,
            ..Default::default()
        },
        ..auth_config()
    })
    .await;
    // 240 parts, 2 at a time, 50 ms each at least: 6 s of parts, while each token is used
    // for 2.7 s (3 s less a tenth). A token taken at 2.7 s reaches the emulator's check 50 ms
    // later, well before it expires.
    let data = test_data(PARTS * PART, 11);
    let file = chunking(ccg_client(&emu), 2)
        .upload(Upload::new_file("0", "renewals.bin").from_bytes(data.clone()))
        .await
        .unwrap_or_else(|e| panic!("upload failed: {e} ({:?})", emu.counters()));
    assert_stored(&emu, &file.id, &data).await;
    let c = emu.counters();
    assert!(
        c.auth.tokens_issued.client_credentials >= 3,
        "renewed ahead of expiry, several times: {:?}",
        c.auth
    );
    assert_eq!(c.auth.unauthorized, 0, "never a 401: {:?}", c.auth);
    assert_eq!(c.parts_stored, PARTS);
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_tokens_under_parts_in_flight_cost_exactly_one_refresh() {
    let slow = FaultConfig {
        latency_ms: 60,
        ..Default::default()
    };
    let emu = start(Config {
        faults: slow.clone(),
        ..auth_config()
    })
    .await;
    let data = test_data(40 * 64 * KIB, 12);
    let handle = chunking(ccg_client(&emu), 4)
        .start_upload(Upload::new_file("0", "expired.bin").from_bytes(data.clone()));
    emu.wait_for_counters(Duration::from_secs(60), |c| c.parts_stored >= 6)
        .await
        .unwrap_or_else(|c| panic!("no parts stored: {c:?}"));
    // Every token issued so far dies now, with parts in flight.
    emu.set_faults(FaultConfig {
        expire_tokens: Some(0),
        ..slow
    });
    let file = handle
        .join()
        .await
        .unwrap_or_else(|e| panic!("upload failed: {e} ({:?})", emu.counters()));
    assert_stored(&emu, &file.id, &data).await;
    let c = emu.counters();
    assert!(c.auth.tokens_invalidated >= 1, "{:?}", c.auth);
    assert!(
        c.auth.expired_token_401 >= 1,
        "a part met the 401: {:?}",
        c.auth
    );
    assert_eq!(
        c.auth.tokens_issued.client_credentials, 2,
        "the first token and exactly one renewal: {:?}",
        c.auth
    );
    assert_eq!(c.parts_stored, 40, "every part stored once");
    assert_eq!((c.sessions_created, c.sessions_committed), (1, 1));
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_direct_upload_met_by_an_expired_token_is_sent_again_once() {
    let emu = start(auth_config()).await;
    let client = ccg_client(&emu);
    let uploader = chunking(client, 2);
    let first = test_data(1000, 1);
    uploader
        .upload(Upload::new_file("0", "first.bin").from_bytes(first))
        .await
        .expect("first upload");
    emu.set_faults(FaultConfig {
        expire_tokens: Some(0),
        ..Default::default()
    });
    let data = test_data(30 * KIB, 2);
    let file = uploader
        .upload(Upload::new_file("0", "second.bin").from_bytes(data.clone()))
        .await
        .unwrap_or_else(|e| panic!("upload failed: {e} ({:?})", emu.counters()));
    assert_stored(&emu, &file.id, &data).await;
    let c = emu.counters();
    assert_eq!(c.auth.expired_token_401, 1, "{:?}", c.auth);
    assert_eq!(c.auth.tokens_issued.client_credentials, 2, "{:?}", c.auth);
    assert_eq!(c.direct_uploads, 2);
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_token_used_twice_is_refused_and_the_file_store_keeps_the_rotated_one() {
    let emu = start(Config {
        refresh_tokens: [("first-refresh-token".to_string(), USER.to_string())].into(),
        ..auth_config()
    })
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("refresh-token");
    std::fs::write(&path, "first-refresh-token\n").expect("seed the store");

    let client = builder(&emu)
        .oauth_refresh(CLIENT_ID, CLIENT_SECRET, FileTokenStore::new(&path))
        .build()
        .expect("client");
    let data = test_data(10 * KIB, 3);
    let file = chunking(client, 2)
        .upload(Upload::new_file("0", "oauth.bin").from_bytes(data.clone()))
        .await
        .unwrap_or_else(|e| panic!("upload failed: {e} ({:?})", emu.counters()));
    assert_stored(&emu, &file.id, &data).await;
    let rotated = std::fs::read_to_string(&path).expect("store");
    let rotated = rotated.trim();
    assert!(
        !rotated.is_empty() && rotated != "first-refresh-token",
        "the rotated token was saved"
    );

    // Another holder of the first token (a copy of an old store) tries it again.
    let stale = OAuthCredentials::new(
        CLIENT_ID,
        CLIENT_SECRET,
        MemoryTokenStore::new("first-refresh-token"),
        TokenEndpoint::new(format!("{}/oauth2/token", emu.base_url())),
    );
    let err = stale.token().await.expect_err("single use");
    assert_eq!(err.kind(), CredentialsErrorKind::Refused);
    assert_eq!(err.code(), Some("invalid_grant"));
    assert!(!format!("{err} {err:?}").contains("first-refresh-token"));

    // The file store still holds the live token, and it works.
    assert_eq!(
        std::fs::read_to_string(&path).expect("store").trim(),
        rotated
    );
    let client = builder(&emu)
        .oauth_refresh(CLIENT_ID, CLIENT_SECRET, FileTokenStore::new(&path))
        .build()
        .expect("client");
    let file = chunking(client, 2)
        .upload(Upload::new_file("0", "oauth-2.bin").from_bytes(data.clone()))
        .await
        .expect("the rotated token works");
    assert_stored(&emu, &file.id, &data).await;
    assert_eq!(emu.counters().auth.tokens_issued.refresh_token, 2);
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwt_from_an_app_config_uploads_through_the_emulator() {
    let dir = tempfile::tempdir().expect("tempdir");
    let passphrase = "e2e passphrase";
    let key = TestRsaKey::shared();
    let (private_pem, public_pem) = (
        key.encrypted_private_key_pem(passphrase),
        key.public_key_pem.clone(),
    );
    let emu = start(Config {
        jwt_public_key: Some(public_pem),
        jwt_key_id: Some("e2e-key".into()),
        ..auth_config()
    })
    .await;
    let config_path = dir.path().join("config.json");
    let app_config = serde_json::json!({
        "boxAppSettings": {
            "clientID": CLIENT_ID,
            "clientSecret": CLIENT_SECRET,
            "appAuth": {
                "publicKeyID": "e2e-key",
                "privateKey": private_pem,
                "passphrase": passphrase,
            }
        },
        "enterpriseID": emu_enterprise(&emu),
    });
    std::fs::write(&config_path, app_config.to_string()).expect("write config");

    let config = JwtConfig::from_file(&config_path).expect("the app config reads");
    let client = builder(&emu).jwt(config.clone()).build().expect("client");
    let data = test_data(200 * KIB, 4);
    let file = chunking(client, 2)
        .upload(Upload::new_file("0", "jwt.bin").from_bytes(data.clone()))
        .await
        .unwrap_or_else(|e| panic!("upload failed: {e} ({:?})", emu.counters()));
    assert_stored(&emu, &file.id, &data).await;

    // As a user of the enterprise too.
    let client = builder(&emu)
        .jwt(config.with_subject(Subject::user(USER)))
        .build()
        .expect("client");
    let file = chunking(client, 2)
        .upload(Upload::new_file("0", "jwt-user.bin").from_bytes(data.clone()))
        .await
        .unwrap_or_else(|e| panic!("upload as a user failed: {e} ({:?})", emu.counters()));
    assert_stored(&emu, &file.id, &data).await;
    let c = emu.counters();
    assert_eq!(c.auth.tokens_issued.jwt_bearer, 2, "{:?}", c.auth);
    assert_eq!(c.auth.unauthorized, 0, "{:?}", c.auth);
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn as_user_is_honoured_and_a_refused_app_fails_once_without_retry() {
    let emu = start(auth_config()).await;
    let client = builder(&emu)
        .client_credentials(
            CLIENT_ID,
            CLIENT_SECRET,
            Subject::enterprise(emu_enterprise(&emu)),
        )
        .as_user(USER)
        .build()
        .expect("client");
    let data = test_data(5 * KIB, 5);
    let file = chunking(client, 2)
        .upload(Upload::new_file("0", "as-user.bin").from_bytes(data.clone()))
        .await
        .unwrap_or_else(|e| panic!("upload failed: {e} ({:?})", emu.counters()));
    assert_stored(&emu, &file.id, &data).await;
    assert!(
        emu.counters().auth.as_user >= 1,
        "{:?}",
        emu.counters().auth
    );

    // A wrong secret: invalid_client, asked once, never retried, and the secret not shown.
    let client = builder(&emu)
        .client_credentials(
            CLIENT_ID,
            "not-the-secret",
            Subject::enterprise(emu_enterprise(&emu)),
        )
        .build()
        .expect("client");
    let before = emu.counters().requests_total;
    let err = chunking(client, 2)
        .upload(Upload::new_file("0", "refused.bin").from_bytes(data.clone()))
        .await
        .expect_err("refused");
    assert!(
        matches!(
            err.kind(),
            UploadErrorKind::CredentialsRefused { attempts: 1, .. }
        ),
        "{err:?}"
    );
    let call = err.call_error().expect("a call error");
    let refused = call.credentials_error().expect("a credentials error");
    assert_eq!(refused.kind(), CredentialsErrorKind::Refused);
    assert_eq!(refused.code(), Some("invalid_client"));
    assert_eq!(
        emu.counters().requests_total - before,
        1,
        "one token request"
    );
    let shown = format!("{err:?} {}", chain(&err));
    assert!(!shown.contains("not-the-secret"), "{shown}");
    emu.shutdown().await;
}

/// An error and its causes on one line.
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        source = cause.source();
    }
    out
}

/// Renewable credentials that hand out the emulator's fixed token, except that from the
/// `revoke_at`-th request on they hand out a revoked one, until a 401 makes them renew. They
/// count renewals.
#[derive(Debug)]
struct RevokedAt {
    current: Mutex<Secret>,
    good: Secret,
    revoke_at: usize,
    calls: AtomicUsize,
    renewals: AtomicUsize,
}

impl RevokedAt {
    fn new(emu: &Emulator, revoke_at: usize) -> Arc<Self> {
        Arc::new(RevokedAt {
            current: Mutex::new(Secret::new(emu.token())),
            good: Secret::new(emu.token()),
            revoke_at,
            calls: AtomicUsize::new(0),
            renewals: AtomicUsize::new(0),
        })
    }
}

impl Credentials for RevokedAt {
    fn token(&self) -> TokenFuture<'_> {
        let mut current = self.current.lock().expect("lock");
        if self.calls.fetch_add(1, Ordering::SeqCst) + 1 == self.revoke_at {
            *current = Secret::new("revoked-token");
        }
        let token = current.clone();
        Box::pin(async move { Ok(token) })
    }

    fn refresh_after_rejection<'a>(&'a self, rejected: &'a Secret) -> TokenFuture<'a> {
        Box::pin(async move {
            let mut current = self.current.lock().expect("lock");
            if *current == *rejected {
                if *current == self.good {
                    return Err(CredentialsError::new(
                        CredentialsErrorKind::Rejected,
                        "refused again",
                    ));
                }
                self.renewals.fetch_add(1, Ordering::SeqCst);
                *current = self.good.clone();
            }
            Ok(current.clone())
        })
    }

    fn can_refresh(&self) -> bool {
        true
    }
}

/// Without the emulator's token endpoint: renewable credentials whose token is refused on the
/// direct upload, or on the first part. Those streamed bodies cannot be replayed by the core,
/// which renews the token and hands the 401 back; the engine sends them again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streamed_bodies_refused_401_are_sent_again_with_the_renewed_token() {
    let emu = start(small_config()).await;
    // Direct: the first request is the upload. Chunked: the second is the first part (the
    // first opens the session).
    for (name, size, revoke_at, max_401) in [
        ("direct.bin", 30 * KIB, 1, 1),
        ("chunked.bin", 10 * 64 * KIB, 2, 3),
    ] {
        let credentials = RevokedAt::new(&emu, revoke_at);
        let client = builder(&emu)
            .shared_credentials(credentials.clone())
            .build()
            .expect("client");
        let unauthorized_before = emu.counters().responses_for(401);
        let data = test_data(size, 6);
        let file = chunking(client, 3)
            .upload(Upload::new_file("0", name).from_bytes(data.clone()))
            .await
            .unwrap_or_else(|e| panic!("{name}: {e} ({:?})", emu.counters()));
        assert_stored(&emu, &file.id, &data).await;
        assert_eq!(credentials.renewals.load(Ordering::SeqCst), 1, "{name}");
        // Each request sent with the revoked token met a 401: the direct upload, or the parts
        // that were in flight (3 at most) before the renewal.
        let refused = emu.counters().responses_for(401) - unauthorized_before;
        assert!((1..=max_401).contains(&refused), "{name}: {refused} 401s");
    }
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fixed_token_refused_401_is_final() {
    let emu = start(small_config()).await;
    let client = builder(&emu)
        .token("not-the-token")
        .build()
        .expect("client");
    let err = chunking(client, 2)
        .upload(Upload::new_file("0", "x.bin").from_bytes(test_data(1000, 7)))
        .await
        .expect_err("refused");
    assert_eq!(err.status(), Some(401));
    assert!(
        matches!(
            err.kind(),
            UploadErrorKind::CredentialsRefused { attempts: 1, .. }
        ),
        "{err:?}"
    );
    assert_eq!(emu.counters().responses_for(401), 1);
    emu.shutdown().await;
}
