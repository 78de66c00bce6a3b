//! JWT grant: a server app's RSA key signs an assertion, exchanged for a token for the
//! enterprise's service account or for a user (<https://developer.box.com/guides/authentication/jwt/without-sdk/>).
//!
//! The key comes from the app config JSON Box lets an admin download: an encrypted PKCS#8 PEM
//! key and its passphrase. It is decrypted once, when the config is read. Each assertion is
//! signed RS256 with the app's `publicKeyID` as `kid`, a fresh random `jti` and `exp` 30 s
//! after issue, as Box's SDKs do (<https://developer.box.com/guides/authentication/jwt/without-sdk/>). When Box refuses an assertion for its `exp` (the two
//! clocks disagree), it is signed again once with the time of Box's `Date` header, and that
//! offset is kept for later assertions.

use std::fmt;
use std::path::Path;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use box_uploads_runtime::{CredentialsError, CredentialsErrorKind, Secret};
use chrono::{DateTime, Utc};
use ring::rand::SecureRandom as _;

use super::cache::{Grant, GrantFuture, IssuedToken, TokenCache};
use super::ccg::Subject;
use super::endpoint::TokenEndpoint;
use super::form::Form;

/// How long an assertion is valid: Box allows at most 60 s; the SDKs use 30.
const ASSERTION_LIFETIME_SECS: i64 = 30;

/// The grant type a JWT assertion is sent with (as the tests read it back from the form).
#[cfg(test)]
const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

fn config_error(message: impl Into<String>) -> CredentialsError {
    CredentialsError::new(CredentialsErrorKind::Config, message)
}

/// A Box app config for JWT (the JSON file an admin downloads from the developer console),
/// with its private key decrypted. Its `Debug` shows the client id, key id and subject only.
///
/// ```no_run
/// use box_uploads::auth::{JwtConfig, JwtCredentials, TokenEndpoint};
///
/// let config = JwtConfig::from_file("123_abcd_config.json")?;
/// let client = box_uploads::ClientBuilder::new()
///     .credentials(JwtCredentials::new(config, TokenEndpoint::default()))
///     .build()?;
/// # let _ = client; Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct JwtConfig {
    client_id: String,
    client_secret: Secret,
    public_key_id: String,
    key: Arc<ring::signature::RsaKeyPair>,
    subject: Subject,
}

impl fmt::Debug for JwtConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtConfig")
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret)
            .field("public_key_id", &self.public_key_id)
            .field("private_key", &"<redacted>")
            .field("subject", &self.subject)
            .finish()
    }
}

/// The JSON layout of Box's app config. Secrets are read into [`Secret`]s at once.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct AppConfigFile {
    box_app_settings: AppSettings,
    #[serde(rename = "enterpriseID", default)]
    enterprise_id: Option<serde_json::Value>,
    #[serde(rename = "userID", default)]
    user_id: Option<serde_json::Value>,
}

#[derive(serde::Deserialize)]
struct AppSettings {
    #[serde(rename = "clientID")]
    client_id: String,
    #[serde(rename = "clientSecret")]
    client_secret: String,
    #[serde(rename = "appAuth")]
    app_auth: AppAuth,
}

#[derive(serde::Deserialize)]
struct AppAuth {
    #[serde(rename = "publicKeyID")]
    public_key_id: String,
    #[serde(rename = "privateKey")]
    private_key: String,
    #[serde(default)]
    passphrase: Option<String>,
}

/// An id given as a string or a number; `None` when absent, null, empty or `0`.
fn id_of(value: Option<serde_json::Value>) -> Option<String> {
    let id = match value? {
        serde_json::Value::String(s) => s.trim().to_string(),
        serde_json::Value::Number(n) => n.to_string(),
        _ => return None,
    };
    (!id.is_empty() && id != "0").then_some(id)
}

impl JwtConfig {
    /// Reads an app config from its JSON text and decrypts its key. Acts for `userID` when
    /// the config has one, else for the enterprise's service account.
    pub fn from_json(text: &str) -> Result<Self, CredentialsError> {
        // serde_json's messages name a position, never the content.
        let file: AppConfigFile = serde_json::from_str(text).map_err(|e| {
            config_error(format!(
                "the app config is not Box's JWT config JSON (boxAppSettings.clientID, \
                 clientSecret, appAuth.publicKeyID, privateKey, passphrase, enterpriseID): \
                 line {} column {}",
                e.line(),
                e.column()
            ))
        })?;
        let settings = file.box_app_settings;
        let subject = match (id_of(file.user_id), id_of(file.enterprise_id)) {
            (Some(user), _) => Subject::User(user),
            (None, Some(enterprise)) => Subject::Enterprise(enterprise),
            (None, None) => {
                return Err(config_error(
                    "the app config has neither an enterpriseID nor a userID to act for",
                ))
            }
        };
        let passphrase = Secret::new(settings.app_auth.passphrase.unwrap_or_default());
        let key = decrypt_key(&Secret::new(settings.app_auth.private_key), &passphrase)?;
        if settings.client_id.is_empty() || settings.app_auth.public_key_id.is_empty() {
            return Err(config_error(
                "the app config has an empty clientID or publicKeyID",
            ));
        }
        Ok(JwtConfig {
            client_id: settings.client_id,
            client_secret: Secret::new(settings.client_secret),
            public_key_id: settings.app_auth.public_key_id,
            key: Arc::new(key),
            subject,
        })
    }

    /// Reads an app config file (see [`JwtConfig::from_json`]).
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, CredentialsError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| {
            config_error(format!("cannot read the app config {}", path.display())).with_source(e)
        })?;
        JwtConfig::from_json(&text)
    }

    /// Acts for `subject` instead (an app user, say) with the same app.
    pub fn with_subject(mut self, subject: Subject) -> Self {
        self.subject = subject;
        self
    }

    /// The app's client id.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// Whom the tokens act as.
    pub fn subject(&self) -> &Subject {
        &self.subject
    }

    /// A signed assertion issued at `now` for the token URL `audience`.
    pub(crate) fn assertion(
        &self,
        now: DateTime<Utc>,
        audience: &str,
    ) -> Result<Secret, CredentialsError> {
        let rng = ring::rand::SystemRandom::new();
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let header = serde_json::json!({"alg": "RS256", "typ": "JWT", "kid": self.public_key_id});
        let issued_at = now.timestamp();
        let claims = serde_json::json!({
            "iss": self.client_id,
            "sub": self.subject.id(),
            "box_sub_type": self.subject.kind(),
            "aud": audience,
            "jti": random_jti(&rng)?,
            "iat": issued_at,
            "exp": issued_at + ASSERTION_LIFETIME_SECS,
        });
        let signing_input = format!(
            "{}.{}",
            b64.encode(header.to_string()),
            b64.encode(claims.to_string())
        );
        let mut signature = vec![0u8; self.key.public().modulus_len()];
        self.key
            .sign(
                &ring::signature::RSA_PKCS1_SHA256,
                &rng,
                signing_input.as_bytes(),
                &mut signature,
            )
            .map_err(|_| config_error("signing the JWT assertion failed"))?;
        Ok(Secret::new(format!(
            "{signing_input}.{}",
            b64.encode(signature)
        )))
    }
}

/// A version 4 UUID from the system's secure random source: 36 characters (Box wants 16–128).
fn random_jti(rng: &ring::rand::SystemRandom) -> Result<String, CredentialsError> {
    let mut b = [0u8; 16];
    rng.fill(&mut b)
        .map_err(|_| config_error("no random numbers for the JWT id"))?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    ))
}

/// Decrypts the PEM key (`ENCRYPTED PRIVATE KEY`, PKCS#8 with PBES2; an unencrypted
/// `PRIVATE KEY` is accepted too) into ring's key pair. No error names the key or passphrase.
fn decrypt_key(
    pem: &Secret,
    passphrase: &Secret,
) -> Result<ring::signature::RsaKeyPair, CredentialsError> {
    // Configs carry the PEM with `\n` escapes turned into newlines by JSON; some tools leave
    // `\r\n`. Both decode.
    // The PEM decoder's messages name what is malformed (base64, the armour), never the content.
    let (label, der) = pkcs8::der::pem::decode_vec(pem.expose().trim().as_bytes())
        .map_err(|e| config_error(format!("the app config's privateKey is not a PEM key: {e}")))?;
    let plain = match label {
        "ENCRYPTED PRIVATE KEY" => {
            let info = pkcs8::EncryptedPrivateKeyInfo::try_from(der.as_slice()).map_err(|e| {
                config_error("the app config's privateKey is not an encrypted PKCS#8 key")
                    .with_source(e)
            })?;
            let doc = info.decrypt(passphrase.expose().as_bytes()).map_err(|e| {
                config_error(
                    "cannot decrypt the app config's privateKey: wrong passphrase, or a \
                     cipher this client does not support (PBES2 with AES-CBC is)",
                )
                .with_source(e)
            })?;
            doc.as_bytes().to_vec()
        }
        "PRIVATE KEY" => der,
        other => {
            return Err(config_error(format!(
                "the app config's privateKey is a {other:?} PEM, not a PKCS#8 private key"
            )))
        }
    };
    ring::signature::RsaKeyPair::from_pkcs8(&plain).map_err(|e| {
        config_error(format!(
            "the app config's privateKey is not a usable RSA key: {e}"
        ))
    })
}

/// Tokens from JWT assertions: cached, renewed a minute ahead of expiry, one renewal at a
/// time, and once more after a 401. Box issues no refresh token for JWT: each renewal is a new
/// assertion.
pub struct JwtCredentials(TokenCache<JwtGrant>);

impl JwtCredentials {
    /// Credentials for `config`, with assertions addressed (`aud`) to `endpoint`'s URL.
    pub fn new(config: JwtConfig, endpoint: TokenEndpoint) -> Self {
        JwtCredentials(TokenCache::new(JwtGrant {
            config,
            endpoint,
            clock_offset: Mutex::new(chrono::Duration::zero()),
        }))
    }
}

impl fmt::Debug for JwtCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("JwtCredentials").field(&self.0).finish()
    }
}

super::renewing_credentials!(JwtCredentials);

pub(crate) struct JwtGrant {
    config: JwtConfig,
    endpoint: TokenEndpoint,
    /// Box's clock minus ours, learnt from a clock-skew refusal.
    clock_offset: Mutex<chrono::Duration>,
}

impl fmt::Debug for JwtGrant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtGrant")
            .field("config", &self.config)
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

impl JwtGrant {
    fn offset(&self) -> chrono::Duration {
        self.clock_offset
            .lock()
            .map(|o| *o)
            .unwrap_or_else(|poisoned| *poisoned.into_inner())
    }

    fn form(&self) -> Result<Form, CredentialsError> {
        let now = Utc::now() + self.offset();
        let assertion = self.config.assertion(now, self.endpoint.url())?;
        Ok(Form::jwt_bearer(
            &assertion,
            &self.config.client_id,
            &self.config.client_secret,
        ))
    }
}

impl Grant for JwtGrant {
    fn fetch(&self) -> GrantFuture<'_> {
        Box::pin(async move {
            let mut resigned = false;
            loop {
                match self.endpoint.request(&mut || self.form()).await {
                    Ok(granted) => {
                        tracing::debug!(
                            subject_type = self.config.subject.kind(),
                            expires_in = granted.expires_in.as_secs(),
                            "JWT grant: token issued"
                        );
                        return Ok(IssuedToken {
                            access_token: granted.access_token,
                            expires_in: granted.expires_in,
                        });
                    }
                    Err(refusal) if refusal.is_clock_skew() && !resigned => {
                        let Some(server_now) = refusal.date else {
                            return Err(refusal.error);
                        };
                        let offset = server_now - Utc::now();
                        tracing::warn!(
                            offset_secs = offset.num_seconds(),
                            "Box refused the JWT assertion's exp: this machine's clock is off; \
                             signing again with Box's time"
                        );
                        if let Ok(mut slot) = self.clock_offset.lock() {
                            *slot = offset;
                        }
                        resigned = true;
                    }
                    Err(refusal) => return Err(refusal.error),
                }
            }
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::path::PathBuf;
    use std::process::{Command, Stdio};

    use box_uploads_runtime::Credentials as _;

    use super::super::endpoint::fake::Answer;
    use super::super::endpoint::fake::Scripted;
    use super::*;

    pub(crate) const PASSPHRASE: &str = "correct horse battery staple";

    /// A fresh RSA key made by `openssl`: the encrypted PKCS#8 PEM (as Box's app config holds
    /// it) and the public key as DER `RSAPublicKey` (what ring verifies with). `None` when
    /// `openssl` is not installed.
    pub(crate) fn openssl_key(dir: &Path) -> Option<(String, Vec<u8>)> {
        let have_openssl = Command::new("openssl")
            .arg("version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !have_openssl {
            eprintln!(
                "SKIPPED: `openssl` is not installed; the JWT key tests need it to make a key pair"
            );
            return None;
        }
        let plain: PathBuf = dir.join("plain.pem");
        let encrypted = dir.join("encrypted.pem");
        let public = dir.join("public.der");
        let run = |args: &[&str]| {
            let out = Command::new("openssl")
                .args(args)
                .output()
                .expect("openssl runs");
            assert!(
                out.status.success(),
                "openssl {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        let path = |p: &PathBuf| p.to_str().expect("utf-8 path").to_string();
        let pass = format!("pass:{PASSPHRASE}");
        run(&[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
            &path(&plain),
        ]);
        run(&[
            "pkcs8",
            "-topk8",
            "-v2",
            "aes-256-cbc",
            "-in",
            &path(&plain),
            "-passout",
            &pass,
            "-out",
            &path(&encrypted),
        ]);
        run(&[
            "rsa",
            "-in",
            &path(&encrypted),
            "-passin",
            &pass,
            "-RSAPublicKey_out",
            "-outform",
            "DER",
            "-out",
            &path(&public),
        ]);
        let pem = std::fs::read_to_string(&encrypted).expect("encrypted key");
        assert!(
            pem.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"),
            "{pem}"
        );
        Some((pem, std::fs::read(&public).expect("public key")))
    }

    pub(crate) fn app_config(pem: &str, enterprise: &str, user: Option<&str>) -> String {
        let mut config = serde_json::json!({
            "boxAppSettings": {
                "clientID": "jwt-client-id",
                "clientSecret": "jwt-client-secret",
                "appAuth": {
                    "publicKeyID": "key-id-1",
                    "privateKey": pem,
                    "passphrase": PASSPHRASE,
                }
            },
            "enterpriseID": enterprise,
        });
        if let Some(user) = user {
            config["userID"] = serde_json::json!(user);
        }
        config.to_string()
    }

    fn part(segment: &str) -> serde_json::Value {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(segment)
            .expect("base64url");
        serde_json::from_slice(&bytes).expect("json")
    }

    /// Checks the signature with the public key, then returns header and claims.
    pub(crate) fn verified(
        assertion: &str,
        public_der: &[u8],
    ) -> (serde_json::Value, serde_json::Value) {
        let pieces: Vec<&str> = assertion.split('.').collect();
        assert_eq!(pieces.len(), 3, "{assertion}");
        let signature = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(pieces[2])
            .expect("signature");
        let input = format!("{}.{}", pieces[0], pieces[1]);
        ring::signature::UnparsedPublicKey::new(
            &ring::signature::RSA_PKCS1_2048_8192_SHA256,
            public_der,
        )
        .verify(input.as_bytes(), &signature)
        .expect("the signature verifies with the public key");
        (part(pieces[0]), part(pieces[1]))
    }

    #[test]
    fn assertions_are_signed_rs256_with_the_documented_claims() {
        let dir = tempfile::tempdir().expect("tempdir");
        let Some((pem, public)) = openssl_key(dir.path()) else {
            return;
        };
        let config = JwtConfig::from_json(&app_config(&pem, "98765", None)).expect("config");
        assert_eq!(config.subject(), &Subject::enterprise("98765"));
        let aud = "https://api.box.com/oauth2/token";
        let now = Utc::now();
        let first = config.assertion(now, aud).expect("signed");
        let second = config.assertion(now, aud).expect("signed");
        let (header, claims) = verified(first.expose(), &public);
        assert_eq!(header["alg"], "RS256");
        assert_eq!(header["kid"], "key-id-1");
        assert_eq!(claims["iss"], "jwt-client-id");
        assert_eq!(claims["sub"], "98765");
        assert_eq!(claims["box_sub_type"], "enterprise");
        assert_eq!(claims["aud"], aud);
        let (iat, exp) = (
            claims["iat"].as_i64().expect("iat"),
            claims["exp"].as_i64().expect("exp"),
        );
        assert_eq!(iat, now.timestamp());
        assert!(exp > iat && exp - iat <= 60, "exp {exp} iat {iat}");
        let jti = claims["jti"].as_str().expect("jti");
        assert!((16..=128).contains(&jti.len()), "{jti}");
        let (_, again) = verified(second.expose(), &public);
        assert_ne!(again["jti"], claims["jti"], "every assertion has a new jti");
    }

    #[test]
    fn a_user_id_in_the_config_makes_the_user_the_subject() {
        let dir = tempfile::tempdir().expect("tempdir");
        let Some((pem, public)) = openssl_key(dir.path()) else {
            return;
        };
        let config = JwtConfig::from_json(&app_config(&pem, "98765", Some("555"))).expect("config");
        let assertion = config.assertion(Utc::now(), "aud").expect("signed");
        let (_, claims) = verified(assertion.expose(), &public);
        assert_eq!(claims["sub"], "555");
        assert_eq!(claims["box_sub_type"], "user");
    }

    #[test]
    fn a_wrong_passphrase_is_a_config_error_that_quotes_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let Some((pem, _)) = openssl_key(dir.path()) else {
            return;
        };
        let text = app_config(&pem, "1", None).replace(PASSPHRASE, "Tr0ub4dor-guess");
        let err = JwtConfig::from_json(&text).expect_err("cannot decrypt");
        assert_eq!(err.kind(), CredentialsErrorKind::Config);
        let shown = format!("{err} {err:?}");
        assert!(shown.contains("passphrase"), "{shown}");
        assert!(!shown.contains("Tr0ub4dor-guess"), "{shown}");
        assert!(!shown.contains("BEGIN"), "{shown}");
    }

    #[test]
    fn a_config_without_a_subject_or_key_is_refused() {
        let err = JwtConfig::from_json("{}").expect_err("not a config");
        assert_eq!(err.kind(), CredentialsErrorKind::Config);
        let dir = tempfile::tempdir().expect("tempdir");
        let Some((pem, _)) = openssl_key(dir.path()) else {
            return;
        };
        let err = JwtConfig::from_json(&app_config(&pem, "0", None)).expect_err("no subject");
        assert!(err.to_string().contains("enterpriseID"), "{err}");
    }

    #[tokio::test(start_paused = true)]
    async fn debug_of_config_and_credentials_shows_no_secret() {
        let dir = tempfile::tempdir().expect("tempdir");
        let Some((pem, _)) = openssl_key(dir.path()) else {
            return;
        };
        let config = JwtConfig::from_json(&app_config(&pem, "1", None)).expect("config");
        let script = Scripted::new();
        script.token("JWT-ACCESS-TOKEN", 3600);
        let creds = JwtCredentials::new(config.clone(), script.endpoint());
        creds.token().await.expect("token");
        let shown = format!("{config:?} {creds:?}");
        assert!(shown.contains("jwt-client-id"), "{shown}");
        for secret in [
            "jwt-client-secret",
            PASSPHRASE,
            "JWT-ACCESS-TOKEN",
            "PRIVATE KEY",
        ] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        let body = pem.lines().nth(1).expect("a base64 line");
        assert!(!shown.contains(body), "{shown}");
    }

    #[tokio::test(start_paused = true)]
    async fn the_grant_sends_assertion_client_id_and_secret() {
        let dir = tempfile::tempdir().expect("tempdir");
        let Some((pem, public)) = openssl_key(dir.path()) else {
            return;
        };
        let config = JwtConfig::from_json(&app_config(&pem, "1", None)).expect("config");
        let script = Scripted::new();
        script.token("A", 3600);
        let creds = JwtCredentials::new(config, script.endpoint());
        assert_eq!(creds.token().await.expect("token").expose(), "A");
        let form = &script.sent()[0];
        assert_eq!(form.get("grant_type"), Some(JWT_BEARER));
        assert_eq!(form.get("client_id"), Some("jwt-client-id"));
        assert_eq!(form.get("client_secret"), Some("jwt-client-secret"));
        let (_, claims) = verified(form.get("assertion").expect("assertion"), &public);
        assert_eq!(claims["aud"], "https://api.box.com/oauth2/token");
    }

    #[tokio::test(start_paused = true)]
    async fn a_clock_skew_refusal_is_signed_again_once_from_the_date_header() {
        let dir = tempfile::tempdir().expect("tempdir");
        let Some((pem, public)) = openssl_key(dir.path()) else {
            return;
        };
        let config = JwtConfig::from_json(&app_config(&pem, "1", None)).expect("config");
        let box_time = Utc::now() + chrono::Duration::hours(2);
        let skew = Answer {
            status: 400,
            date: Some(box_time),
            retry_after: None,
            body: serde_json::json!({
                "error": "invalid_grant",
                "error_description": "Current date/time MUST be before the expiration date/time listed in the 'exp' claim"
            })
            .to_string()
            .into(),
        };
        let script = Scripted::new();
        script.then_answer(skew.clone()).token("A", 3600);
        let creds = JwtCredentials::new(config.clone(), script.endpoint());
        assert_eq!(creds.token().await.expect("token").expose(), "A");
        let sent = script.sent();
        assert_eq!(sent.len(), 2);
        let (_, first) = verified(sent[0].get("assertion").expect("assertion"), &public);
        let (_, second) = verified(sent[1].get("assertion").expect("assertion"), &public);
        let expected_exp = box_time.timestamp() + ASSERTION_LIFETIME_SECS;
        let second_exp = second["exp"].as_i64().expect("exp");
        assert!(
            (second_exp - expected_exp).abs() <= 2,
            "exp {second_exp}, Box's date + 30 s = {expected_exp}"
        );
        assert!(first["exp"].as_i64().expect("exp") < expected_exp - 3600);
        assert_ne!(first["jti"], second["jti"]);

        // Once only: a second skew refusal in the same renewal is the error.
        let script = Scripted::new();
        script
            .then_answer(skew.clone())
            .then_answer(skew)
            .token("A", 3600);
        let creds = JwtCredentials::new(config, script.endpoint());
        let err = creds.token().await.expect_err("refused twice");
        assert_eq!(err.code(), Some("invalid_grant"));
        assert_eq!(script.sent().len(), 2);
    }
}
