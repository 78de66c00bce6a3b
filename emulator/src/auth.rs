//! Service authentication: the access and refresh tokens the token endpoint issues, the checks
//! of JWT assertions, and who a request acts as.
//!
//! Every issued access token belongs to a user: the enterprise's service account
//! ([`SERVICE_ACCOUNT_ID`]) for client-credentials and JWT tokens of the enterprise, or a
//! configured user. The static [`Config::token`] and preflight upload tokens act as the service
//! account. Tokens live in memory only (a restarted emulator has none).
//!
//! Time: access and refresh token lifetimes are measured on a token clock that a test can move
//! forward ([`crate::Emulator::advance_token_clock`]) instead of sleeping. JWT `exp` claims are
//! checked against the wall clock, which is what clients sign with (the `Date` header of every
//! answer is that clock too).

use crate::config::{Config, SERVICE_ACCOUNT_ID};
use crate::error::ApiError;
use base64::Engine as _;
use serde_json::Value;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Box's refresh-token lifetime: 60 days.
const REFRESH_TOKEN_TTL: Duration = Duration::from_secs(60 * 24 * 3600);
/// The token URL Box's own SDKs put in `aud` whatever host they talk to.
pub(crate) const BOX_TOKEN_URL: &str = "https://api.box.com/oauth2/token";
/// Longest a JWT `exp` may be after now (Box: 60 seconds).
const MAX_JWT_LIFETIME_SECS: i64 = 60;
/// The token stores are pruned of dead entries when they grow past this (then past twice
/// what is left), so memory stays bounded however many tokens a long test requests.
const PRUNE_MIN: usize = 4096;

/// Who a request acts as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Caller {
    /// The user id ([`SERVICE_ACCOUNT_ID`] for the service account).
    pub user: String,
}

impl Caller {
    pub fn service_account() -> Caller {
        Caller {
            user: SERVICE_ACCOUNT_ID.to_string(),
        }
    }

    pub fn is_service_account(&self) -> bool {
        self.user == SERVICE_ACCOUNT_ID
    }
}

/// What a bearer token is.
pub(crate) enum TokenStatus {
    /// An issued token in force, for this user.
    Valid(String),
    /// An issued token that expired, was revoked or was invalidated by `expire-tokens`.
    Dead,
    /// Not a token the emulator issued (or one forgotten long after it died).
    Unknown,
}

struct AccessToken {
    user: String,
    expires_at: Instant,
    epoch: u64,
    revoked: bool,
    /// The refresh token issued with it, revoked with it.
    refresh: Option<String>,
}

struct RefreshToken {
    user: String,
    expires_at: Instant,
    /// The access token issued with it, revoked with it.
    access: Option<String>,
}

/// The grant an access token was issued by (for the counters).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Grant {
    ClientCredentials,
    JwtBearer,
    RefreshToken,
}

/// Issued tokens and used JWT ids.
pub(crate) struct AuthState {
    access: HashMap<String, AccessToken>,
    refresh: HashMap<String, RefreshToken>,
    /// Used `jti` values -> their `exp` (Unix seconds). A jti whose exp has passed can be
    /// forgotten: an assertion carrying it is refused for its `exp` anyway.
    jtis: HashMap<String, i64>,
    /// Bumped by `expire-tokens`; tokens of an older epoch are dead.
    epoch: u64,
    /// How far the token clock is ahead of the real one.
    clock_offset: Duration,
    prune_access_at: usize,
    prune_refresh_at: usize,
    prune_jtis_at: usize,
}

/// An access token just issued, as the token endpoint answers it.
pub(crate) struct Issued {
    pub access_token: String,
    pub expires_in: u64,
    pub refresh_token: Option<String>,
}

impl AuthState {
    pub fn new(config: &Config) -> AuthState {
        let mut s = AuthState {
            access: HashMap::new(),
            refresh: HashMap::new(),
            jtis: HashMap::new(),
            epoch: 0,
            clock_offset: Duration::ZERO,
            prune_access_at: PRUNE_MIN,
            prune_refresh_at: PRUNE_MIN,
            prune_jtis_at: PRUNE_MIN,
        };
        let now = s.now();
        for (token, user) in &config.refresh_tokens {
            s.refresh.insert(
                token.clone(),
                RefreshToken {
                    user: user.clone(),
                    expires_at: later(now, REFRESH_TOKEN_TTL),
                    access: None,
                },
            );
        }
        s
    }

    /// The token clock.
    fn now(&self) -> Instant {
        later(Instant::now(), self.clock_offset)
    }

    pub fn advance_clock(&mut self, by: Duration) {
        // Bounded (100 years) so the clock stays representable.
        self.clock_offset = self
            .clock_offset
            .saturating_add(by)
            .min(Duration::from_secs(100 * 365 * 86_400));
    }

    pub fn clock_offset(&self) -> Duration {
        self.clock_offset
    }

    /// Looks a bearer token up.
    pub fn check(&self, token: &str) -> TokenStatus {
        match self.access.get(token) {
            None => TokenStatus::Unknown,
            Some(t) if self.alive(t) => TokenStatus::Valid(t.user.clone()),
            Some(_) => TokenStatus::Dead,
        }
    }

    fn alive(&self, t: &AccessToken) -> bool {
        !t.revoked && t.epoch == self.epoch && self.now() < t.expires_at
    }

    /// Issues an access token for `user` that lives `ttl`, with a refresh token if asked.
    pub fn issue(&mut self, user: &str, ttl: Duration, with_refresh: bool) -> Issued {
        self.prune_access();
        let now = self.now();
        let access_token = random_token(32);
        let refresh_token = with_refresh.then(|| {
            self.prune_refresh();
            let r = random_token(64);
            self.refresh.insert(
                r.clone(),
                RefreshToken {
                    user: user.to_string(),
                    expires_at: later(now, REFRESH_TOKEN_TTL),
                    access: Some(access_token.clone()),
                },
            );
            r
        });
        self.access.insert(
            access_token.clone(),
            AccessToken {
                user: user.to_string(),
                expires_at: later(now, ttl),
                epoch: self.epoch,
                revoked: false,
                refresh: refresh_token.clone(),
            },
        );
        Issued {
            access_token,
            // Whole seconds, rounded down: a client that trusts it never uses a dead token.
            expires_in: ttl.as_secs(),
            refresh_token,
        }
    }

    /// A new refresh token for `user` (no access token with it).
    pub fn mint_refresh(&mut self, user: &str) -> String {
        self.prune_refresh();
        let r = random_token(64);
        self.refresh.insert(
            r.clone(),
            RefreshToken {
                user: user.to_string(),
                expires_at: later(self.now(), REFRESH_TOKEN_TTL),
                access: None,
            },
        );
        r
    }

    /// Uses up a refresh token: its user if it was valid. Single use: it is gone afterwards.
    pub fn take_refresh(&mut self, token: &str) -> Option<String> {
        let r = self.refresh.remove(token)?;
        (self.now() < r.expires_at).then_some(r.user)
    }

    /// Revokes an access or refresh token and the one issued with it. Returns how many tokens
    /// were revoked (0 for a token the emulator does not know).
    pub fn revoke(&mut self, token: &str) -> u64 {
        let mut n = 0;
        let mut refresh = None;
        if let Some(t) = self.access.get_mut(token) {
            if !t.revoked {
                t.revoked = true;
                n += 1;
            }
            refresh = t.refresh.take();
        }
        if let Some(r) = self.refresh.remove(refresh.as_deref().unwrap_or(token)) {
            n += 1;
            if let Some(t) = r.access.and_then(|a| self.access.get_mut(&a)) {
                if !t.revoked {
                    t.revoked = true;
                    n += 1;
                }
            }
        }
        n
    }

    /// Invalidates every access token issued so far. Returns how many were in force.
    pub fn expire_all(&mut self) -> u64 {
        let live = self.access.values().filter(|t| self.alive(t)).count() as u64;
        self.epoch += 1;
        live
    }

    /// Records a JWT id; false if it was used before (and has not expired since).
    pub fn use_jti(&mut self, jti: &str, exp: i64, now_unix: i64) -> bool {
        if self.jtis.len() >= self.prune_jtis_at {
            self.jtis.retain(|_, e| *e >= now_unix);
            self.prune_jtis_at = (self.jtis.len() * 2).max(PRUNE_MIN);
        }
        match self.jtis.get(jti) {
            Some(e) if *e >= now_unix => false,
            _ => {
                self.jtis.insert(jti.to_string(), exp);
                true
            }
        }
    }

    fn prune_access(&mut self) {
        if self.access.len() < self.prune_access_at {
            return;
        }
        let (epoch, now) = (self.epoch, self.now());
        self.access
            .retain(|_, t| !t.revoked && t.epoch == epoch && now < t.expires_at);
        self.prune_access_at = (self.access.len() * 2).max(PRUNE_MIN);
    }

    fn prune_refresh(&mut self) {
        if self.refresh.len() < self.prune_refresh_at {
            return;
        }
        let now = self.now();
        self.refresh.retain(|_, r| now < r.expires_at);
        self.prune_refresh_at = (self.refresh.len() * 2).max(PRUNE_MIN);
    }
}

/// `t + d`, saturating at a time far ahead instead of overflowing.
fn later(t: Instant, d: Duration) -> Instant {
    t.checked_add(d)
        .or_else(|| t.checked_add(Duration::from_secs(100 * 365 * 86_400)))
        .unwrap_or(t)
}

/// A random token of `len` characters from `[0-9A-Za-z]`.
pub(crate) fn random_token(len: usize) -> String {
    use ring::rand::SecureRandom as _;
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let rng = ring::rand::SystemRandom::new();
    let mut out = String::with_capacity(len);
    let mut buf = [0u8; 64];
    while out.len() < len {
        if rng.fill(&mut buf).is_err() {
            // No system randomness: fall back to the process-unique request ids.
            out.push_str(&crate::error::new_request_id());
            continue;
        }
        // Rejection sampling keeps every character equally likely (248 = 4 * 62).
        for b in buf {
            if b < 248 && out.len() < len {
                out.push(char::from(ALPHABET[usize::from(b % 62)]));
            }
        }
    }
    out.truncate(len);
    out
}

// ---------------------------------------------------------------------------------------
// Public keys

/// The PKCS#1 `RSAPublicKey` DER inside a PEM `PUBLIC KEY` (SPKI, what `openssl pkey -pubout`
/// writes and Box's console takes) or `RSA PUBLIC KEY` (PKCS#1).
pub(crate) fn rsa_public_key_from_pem(pem: &str) -> Result<Vec<u8>, String> {
    let pem = pem.trim();
    let (label, body) = pem_body(pem)?;
    let der = base64::engine::general_purpose::STANDARD
        .decode(body)
        .map_err(|e| format!("the PEM body is not base64: {e}"))?;
    let pkcs1 = match label.as_str() {
        "PUBLIC KEY" => spki_rsa_key(&der)?,
        "RSA PUBLIC KEY" => der,
        other => {
            return Err(format!(
                "expected a PEM PUBLIC KEY or RSA PUBLIC KEY, found {other:?}"
            ))
        }
    };
    // RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }
    let (seq, rest) = der_element(&pkcs1, 0x30)?;
    if !rest.is_empty() {
        return Err("trailing bytes after the RSA public key".into());
    }
    let (n, rest) = der_element(seq, 0x02)?;
    let (_e, rest) = der_element(rest, 0x02)?;
    if !rest.is_empty() || n.len() < 2 {
        return Err("not an RSA public key".into());
    }
    let bits = (n.len() - usize::from(n[0] == 0)) * 8;
    if !(2048..=8192).contains(&bits) {
        return Err(format!(
            "the RSA key has about {bits} bits; 2048 to 8192 are accepted"
        ));
    }
    Ok(pkcs1)
}

/// The label and the base64 text of a PEM block.
pub(crate) fn pem_body(pem: &str) -> Result<(String, String), String> {
    let mut lines = pem.lines().map(str::trim).filter(|l| !l.is_empty());
    let first = lines.next().unwrap_or_default();
    let label = first
        .strip_prefix("-----BEGIN ")
        .and_then(|l| l.strip_suffix("-----"))
        .ok_or("not a PEM block (no -----BEGIN line)")?
        .to_string();
    let mut body = String::new();
    for line in lines {
        if line == format!("-----END {label}-----") {
            return Ok((label, body));
        }
        body.push_str(line);
    }
    Err(format!("the PEM block has no -----END {label}----- line"))
}

/// `SubjectPublicKeyInfo ::= SEQUENCE { algorithm SEQUENCE { OID rsaEncryption, NULL },
/// subjectPublicKey BIT STRING }`: the RSA key inside.
fn spki_rsa_key(der: &[u8]) -> Result<Vec<u8>, String> {
    const RSA_ENCRYPTION: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x01];
    let (spki, rest) = der_element(der, 0x30)?;
    if !rest.is_empty() {
        return Err("trailing bytes after the public key".into());
    }
    let (alg, rest) = der_element(spki, 0x30)?;
    let (oid, _params) = der_element(alg, 0x06)?;
    if oid != RSA_ENCRYPTION {
        return Err("the public key is not an RSA key".into());
    }
    let (bits, rest) = der_element(rest, 0x03)?;
    if !rest.is_empty() {
        return Err("trailing bytes in the public key".into());
    }
    match bits.split_first() {
        Some((0, key)) => Ok(key.to_vec()),
        _ => Err("malformed public key bit string".into()),
    }
}

/// One DER element with tag `tag` at the start of `data`: its content and what follows it.
fn der_element(data: &[u8], tag: u8) -> Result<(&[u8], &[u8]), String> {
    let bad = || "malformed DER in the public key".to_string();
    let (&t, rest) = data.split_first().ok_or_else(bad)?;
    if t != tag {
        return Err(bad());
    }
    let (&l, rest) = rest.split_first().ok_or_else(bad)?;
    let (len, rest) = if l < 0x80 {
        (usize::from(l), rest)
    } else {
        let n = usize::from(l & 0x7F);
        if n == 0 || n > 4 || rest.len() < n {
            return Err(bad());
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, &rest[n..])
    };
    if rest.len() < len {
        return Err(bad());
    }
    Ok(rest.split_at(len))
}

// ---------------------------------------------------------------------------------------
// JWT assertions

/// The JWT grant's settings.
pub(crate) struct JwtKey {
    pub key_id: String,
    /// PKCS#1 `RSAPublicKey` DER.
    pub public_key: Vec<u8>,
}

/// The subject of a checked assertion.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Assertion {
    /// `enterprise` or `user`.
    pub sub_type: String,
    pub sub: String,
    pub jti: String,
    pub exp: i64,
}

fn grant_error(description: &str) -> ApiError {
    ApiError::oauth("invalid_grant", description)
}

/// Checks a JWT assertion's form, signature and claims (everything but whether its subject
/// exists and its `jti` was used before, which need the emulator's state).
///
/// Box's messages are used where known (https://developer.box.com/reference/post-oauth2-token/ and Box's common-errors guide,
/// https://developer.box.com/guides/api-calls/permissions-and-errors/common-errors/: the
/// `kid`, signature, `iss`, `sub`, `jti` and both `exp` messages, "Algorithm not allowed").
/// Box publishes no message for a malformed assertion, a wrong `aud` or `box_sub_type`; the
/// emulator's own wording is used for those, with the same `invalid_grant` code. The order of
/// the checks on Box is unknown: here the form, then `alg`, `kid`, the signature, then the
/// claims.
pub(crate) fn check_assertion(
    assertion: &str,
    key: &JwtKey,
    client_id: &str,
    audiences: &[&str],
    now_unix: i64,
) -> Result<Assertion, ApiError> {
    let malformed = || grant_error("The 'assertion' is not a valid JWT");
    let mut pieces = assertion.split('.');
    let (Some(h64), Some(c64), Some(s64), None) =
        (pieces.next(), pieces.next(), pieces.next(), pieces.next())
    else {
        return Err(malformed());
    };
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let json = |part: &str| -> Result<serde_json::Map<String, Value>, ApiError> {
        let bytes = b64.decode(part).map_err(|_| malformed())?;
        match serde_json::from_slice(&bytes) {
            Ok(Value::Object(m)) => Ok(m),
            _ => Err(malformed()),
        }
    };
    let header = json(h64)?;
    let claims = json(c64)?;
    let signature = b64.decode(s64).map_err(|_| malformed())?;

    let alg: &dyn ring::signature::VerificationAlgorithm =
        match header.get("alg").and_then(Value::as_str) {
            Some("RS256") => &ring::signature::RSA_PKCS1_2048_8192_SHA256,
            Some("RS384") => &ring::signature::RSA_PKCS1_2048_8192_SHA384,
            Some("RS512") => &ring::signature::RSA_PKCS1_2048_8192_SHA512,
            _ => return Err(grant_error("Algorithm not allowed")),
        };
    // Box's JWT guide: `kid` is needed only when an app has several public keys; Box's Node
    // SDK sends `{"alg": "RS256"}` alone and Box accepts it. The emulator's app has one key,
    // so an assertion without `kid` is checked against it; a `kid` that is given must name it.
    match header.get("kid") {
        None => {}
        Some(kid) if kid.as_str() == Some(key.key_id.as_str()) => {}
        Some(_) => return Err(grant_error("\"kid\" invalid, unable to lookup correct key")),
    }
    let signed = &assertion[..h64.len() + 1 + c64.len()];
    ring::signature::UnparsedPublicKey::new(alg, &key.public_key)
        .verify(signed.as_bytes(), &signature)
        .map_err(|_| {
            grant_error(
                "Signature verification error. The public key identified by \"kid\" must \
                 correspond to the private key used for signing.",
            )
        })?;

    let string_claim = |name: &str| claims.get(name).and_then(Value::as_str);
    if string_claim("iss") != Some(client_id) {
        return Err(grant_error("Please check the 'iss' claim."));
    }
    // Box's SDKs always send Box's URL; a client pointed at the emulator may send the
    // emulator's. Both are accepted; anything else is refused.
    let aud_ok = match claims.get("aud") {
        Some(Value::String(a)) => audiences.contains(&a.as_str()),
        Some(Value::Array(list)) => list
            .iter()
            .any(|a| a.as_str().is_some_and(|a| audiences.contains(&a))),
        _ => false,
    };
    if !aud_ok {
        return Err(grant_error("Please check the 'aud' claim."));
    }
    let sub_type = match string_claim("box_sub_type") {
        Some(t @ ("enterprise" | "user")) => t.to_string(),
        _ => return Err(grant_error("Please check the 'box_sub_type' claim.")),
    };
    // `sub` must be a string (a number is refused: cburnette/boxr#35).
    let sub = string_claim("sub")
        .ok_or_else(|| {
            grant_error("Please check the 'sub' claim. The 'sub' specified is invalid.")
        })?
        .to_string();
    let exp = match claims.get("exp") {
        None => return Err(grant_error("Please check the 'exp' claim.")),
        Some(v) => v
            .as_i64()
            .ok_or_else(|| grant_error("Please check the 'exp' claim. Should be an integer"))?,
    };
    if exp <= now_unix {
        return Err(grant_error(
            "Current date/time MUST be before the expiration date/time listed in the 'exp' claim",
        ));
    }
    // Box measures from the issue time; `iat` is optional (Box's SDKs do not send it), so the
    // emulator measures from its own clock, and allows no leeway.
    if exp - now_unix > MAX_JWT_LIFETIME_SECS {
        return Err(grant_error(
            "The 'exp' value exceeds the maximum value of 60 seconds beyond the issue time",
        ));
    }
    let jti = match string_claim("jti") {
        Some(j) if (16..=128).contains(&j.chars().count()) => j.to_string(),
        _ => {
            return Err(grant_error(
                "Please check the 'jti' claim. A unique 'jti' value is required.",
            ))
        }
    };
    Ok(Assertion {
        sub_type,
        sub,
        jti,
        exp,
    })
}

/// The audiences an assertion may name: Box's token URL and the emulator's.
pub(crate) fn audiences(base_url: &str) -> [String; 2] {
    [
        BOX_TOKEN_URL.to_string(),
        format!("{base_url}/oauth2/token"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_walk_rejects_garbage() {
        assert!(rsa_public_key_from_pem("nope").is_err());
        assert!(rsa_public_key_from_pem(
            "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----"
        )
        .is_err());
        assert!(der_element(&[0x30, 0x82, 0xFF], 0x30).is_err());
        assert!(der_element(&[0x30, 0x05, 1, 2], 0x30).is_err());
        assert_eq!(
            der_element(&[0x02, 0x01, 7, 9], 0x02).unwrap(),
            (&[7u8][..], &[9u8][..])
        );
    }

    #[test]
    fn tokens_are_alphanumeric_and_distinct() {
        let a = random_token(32);
        let b = random_token(32);
        assert_eq!(a.len(), 32);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a, b);
    }

    #[test]
    fn refresh_tokens_are_single_use_and_revocation_is_paired() {
        let mut s = AuthState::new(&Config::default());
        let i = s.issue("5", Duration::from_secs(60), true);
        let r = i.refresh_token.clone().unwrap();
        assert!(matches!(s.check(&i.access_token), TokenStatus::Valid(u) if u == "5"));
        assert_eq!(s.revoke(&r), 2);
        assert!(matches!(s.check(&i.access_token), TokenStatus::Dead));
        assert_eq!(s.take_refresh(&r), None);
        let m = s.mint_refresh("6");
        assert_eq!(s.take_refresh(&m).as_deref(), Some("6"));
        assert_eq!(s.take_refresh(&m), None);
    }

    #[test]
    fn clock_and_epoch_kill_tokens() {
        let mut s = AuthState::new(&Config::default());
        let a = s.issue("5", Duration::from_secs(60), false);
        s.advance_clock(Duration::from_secs(59));
        assert!(matches!(s.check(&a.access_token), TokenStatus::Valid(_)));
        s.advance_clock(Duration::from_secs(1));
        assert!(matches!(s.check(&a.access_token), TokenStatus::Dead));
        let b = s.issue("5", Duration::from_secs(60), false);
        assert_eq!(s.expire_all(), 1);
        assert!(matches!(s.check(&b.access_token), TokenStatus::Dead));
        let c = s.issue("5", Duration::from_secs(60), false);
        assert!(matches!(s.check(&c.access_token), TokenStatus::Valid(_)));
        assert!(matches!(s.check("other"), TokenStatus::Unknown));
    }

    #[test]
    fn jtis_are_remembered_until_they_expire() {
        let mut s = AuthState::new(&Config::default());
        assert!(s.use_jti("j", 130, 100));
        assert!(!s.use_jti("j", 130, 110));
        // Past its exp the assertion is refused for the exp anyway; the jti may be forgotten.
        assert!(s.use_jti("j", 200, 140));
    }
}
