//! Emulator configuration and fault injection settings.

use crate::units::{self, Bare};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Box's chunked-upload minimum: the chunked-upload guide gives 20 MB
/// (<https://developer.box.com/guides/uploads/chunked/>) and Box's own SDK samples use
/// `CHUNKED_UPLOAD_MINIMUM = 20000000` bytes.
pub const DEFAULT_MIN_CHUNKED_SIZE: u64 = 20_000_000;
/// The part size Box hands out for ordinary files (8 MiB).
pub const DEFAULT_PART_SIZE: u64 = 8 * 1024 * 1024;
/// The larger part size observed for larger files (32 MiB).
pub const LARGE_PART_SIZE: u64 = 32 * 1024 * 1024;
/// Files of at least this size get [`LARGE_PART_SIZE`] parts when no part size is configured.
pub const LARGE_FILE_THRESHOLD: u64 = 512 * 1024 * 1024;
/// The most parts one session may have. Box publishes no limit; list-parts refuses offsets
/// above 10000, which suggests about this many. Automatic part sizes grow to stay below it.
pub const MAX_PARTS: u64 = 10_000;
/// Box's session lifetime (7 days).
pub const DEFAULT_SESSION_LIFETIME: Duration = Duration::from_secs(7 * 24 * 3600);
/// Box's access-token lifetime (60 minutes).
pub const DEFAULT_TOKEN_TTL: Duration = Duration::from_secs(3600);
/// The user id of the enterprise's service account: the user that client-credentials and JWT
/// tokens for the enterprise (and the static [`Config::token`]) act as. Configured users
/// ([`Config::users`]) must have other ids.
pub const SERVICE_ACCOUNT_ID: &str = "900000001";

/// How the emulator is set up. Build one with struct-update syntax so that fields added in
/// later versions keep your code compiling:
///
/// ```
/// let config = box_emulator::Config {
///     part_size: Some(1024 * 1024),
///     min_chunked_size: 1,
///     ..Default::default()
/// };
/// assert_eq!(config.token, "test-token");
/// ```
#[derive(Clone, Debug)]
pub struct Config {
    /// Address to listen on; port 0 picks a free port. Default `127.0.0.1:0`.
    pub listen: SocketAddr,
    /// Where files, sessions and parts are kept. `None` (the default) makes a fresh
    /// temporary directory that is deleted when the [`crate::Emulator`] is shut down or
    /// dropped; a directory you pass is kept, so a later emulator can reopen it.
    pub data_dir: Option<PathBuf>,
    /// The static bearer token: it never expires and acts as the enterprise's service account
    /// ([`SERVICE_ACCOUNT_ID`]). API calls carry it or a token issued by `POST /oauth2/token`.
    /// Default `"test-token"`.
    pub token: String,
    /// Folder ids (digits) that exist besides the root folder `"0"`, which always exists.
    pub folders: Vec<String>,
    /// The part size every session gets. `None` (default): 8 MiB, or 32 MiB for files of
    /// 512 MiB and more (doubled further if a file would need more than 10000 parts), as
    /// Box does. A configured size always wins.
    pub part_size: Option<u64>,
    /// Smallest file size a chunked session accepts (`400 file_size_too_small` below it).
    /// Default 20,000,000 bytes.
    pub min_chunked_size: u64,
    /// Largest file accepted anywhere (`403 file_size_limit_exceeded`). Default unlimited.
    pub max_file_size: Option<u64>,
    /// Largest file accepted by direct upload (`413 request_entity_too_large`). Box's guide
    /// says 50 MB; the default here is unlimited so tests can use direct uploads freely.
    pub max_direct_upload_size: Option<u64>,
    /// Total bytes of all stored file versions (`403 storage_limit_exceeded`). Default
    /// unlimited.
    pub storage_limit: Option<u64>,
    /// How long an upload session lives. Default 7 days.
    pub session_lifetime: Duration,
    /// Seed for ids and fault decisions. The same seed, config and request sequence give
    /// the same session ids and the same injected faults.
    pub seed: u64,
    /// Faults to inject from the start (changeable later with
    /// [`crate::Emulator::set_faults`]).
    pub faults: FaultConfig,
    /// Base URL put into `session_endpoints` and the preflight `upload_url`, e.g.
    /// `http://emulator.test:8080`. Default: `http://` + the address the server listens on.
    pub public_url: Option<String>,
    /// Network shaping: a round trip before each request, bandwidth per connection and for
    /// the whole link, server time per part and commit. Default: none (loopback as it is).
    /// Changeable later with [`crate::Emulator::set_net`].
    pub net: crate::net::NetConfig,
    /// Serve HTTPS with this certificate and key (ALPN offers HTTP/2 and HTTP/1.1) instead of
    /// plain HTTP/1.1; the URLs the emulator hands out then start with `https://`. Default
    /// none (plain HTTP).
    pub tls: Option<crate::tls::TlsConfig>,

    // --- Service authentication (`POST /oauth2/token`) ---
    /// The app's client id. With [`client_secret`](Self::client_secret) it enables the token
    /// endpoint; without it every token request is refused `400 invalid_client`. Default none.
    pub client_id: Option<String>,
    /// The app's client secret (set with [`client_id`](Self::client_id)).
    pub client_secret: Option<String>,
    /// The enterprise: client-credentials (`box_subject_type=enterprise`) and JWT
    /// (`box_sub_type=enterprise`) requests name it to get a token for its service account
    /// ([`SERVICE_ACCOUNT_ID`]). Digits. Default `"1"`.
    pub enterprise_id: String,
    /// Users (ids of digits) that tokens may be issued for (client credentials with
    /// `box_subject_type=user`, JWT with `box_sub_type=user`, refresh tokens) and that the
    /// service account may act as with an `as-user` header. Default none.
    pub users: Vec<String>,
    /// The app's JWT public key: a PEM `PUBLIC KEY` (SPKI) or `RSA PUBLIC KEY` (PKCS#1), the
    /// text itself. With [`jwt_key_id`](Self::jwt_key_id) it enables the JWT grant. Default none.
    pub jwt_public_key: Option<String>,
    /// The id of [`jwt_public_key`](Self::jwt_public_key): assertions must carry it as `kid`.
    pub jwt_key_id: Option<String>,
    /// Lifetime of every issued access token (`expires_in`); after it the token gets Box's
    /// 401 (an empty body and `www-authenticate: Bearer ... error="invalid_token"`). The static
    /// [`token`](Self::token) never expires. Default 60 minutes.
    pub token_ttl: Duration,
    /// Refresh tokens that exist from the start: token -> user id (one of
    /// [`users`](Self::users)). Each is single use, as Box's. More can be minted at run time
    /// ([`crate::Emulator::mint_refresh_token`], `POST /_emulator/refresh-tokens`).
    pub refresh_tokens: BTreeMap<String, String>,
    /// Whether the enterprise admin has authorized the app. `false` makes every token request
    /// with the right client id and secret answer `400 unauthorized_client`. Default `true`.
    pub app_authorized: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            data_dir: None,
            token: "test-token".to_string(),
            folders: Vec::new(),
            part_size: None,
            min_chunked_size: DEFAULT_MIN_CHUNKED_SIZE,
            max_file_size: None,
            max_direct_upload_size: None,
            storage_limit: None,
            session_lifetime: DEFAULT_SESSION_LIFETIME,
            seed: 0,
            faults: FaultConfig::default(),
            public_url: None,
            net: crate::net::NetConfig::default(),
            tls: None,
            client_id: None,
            client_secret: None,
            enterprise_id: "1".to_string(),
            users: Vec::new(),
            jwt_public_key: None,
            jwt_key_id: None,
            token_ttl: DEFAULT_TOKEN_TTL,
            refresh_tokens: BTreeMap::new(),
            app_authorized: true,
        }
    }
}

impl Config {
    /// The part size a session for a file of `file_size` bytes gets.
    pub fn part_size_for(&self, file_size: u64) -> u64 {
        if let Some(p) = self.part_size {
            return p.max(1);
        }
        let mut p = if file_size >= LARGE_FILE_THRESHOLD {
            LARGE_PART_SIZE
        } else {
            DEFAULT_PART_SIZE
        };
        while file_size.div_ceil(p) > MAX_PARTS {
            p = p.saturating_mul(2);
        }
        p
    }
}

/// Faults to inject. All probabilities are fractions in `[0, 1]`; decisions are drawn from
/// the emulator's seed, the session's sequence number, the part's index and how many times
/// that part was tried, so a run is reproducible whatever order parts arrive in.
///
/// Construct with `..Default::default()`: fields may be added in later versions.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaultConfig {
    /// Fraction of part uploads answered `500 internal_server_error` without storing the
    /// part (the body is read and discarded first).
    pub part_500_before_store: f64,
    /// Fraction of part uploads that store the part, then answer `500`.
    pub part_500_after_store: f64,
    /// Fraction of part uploads that store the part, then drop the connection without
    /// answering.
    pub part_drop_after_store: f64,
    /// Fraction of part uploads whose connection is reset half-way through the body (the
    /// server stops reading and closes the socket; nothing is stored).
    pub part_reset_mid_body: f64,
    /// Number of commit attempts per session answered `202 Accepted` with `retry-after`
    /// before the commit succeeds.
    pub commit_202: u32,
    /// `retry-after` seconds sent with those 202s (and with the 202 answered while another
    /// commit of the same session is still assembling the file).
    pub commit_retry_after_secs: u64,
    /// The first commit of each session that arrives once all parts are in answers
    /// `400 parts_mismatch` (as if the last part were not yet visible), once.
    pub commit_parts_mismatch_once: bool,
    /// Fraction of commits that are applied (the file or version is stored and the session
    /// committed) and then get no answer: the connection is dropped. A retry of the commit
    /// then meets the committed session (404), so the client has to look for the file.
    pub commit_drop_after_store: f64,
    /// Fraction of direct uploads (new file or new version) that store the file, then answer
    /// `500 internal_server_error`.
    pub direct_500_after_store: f64,
    /// Fraction of API requests answered `503 unavailable` with `retry-after`
    /// ([`retry_after_503_secs`](Self::retry_after_503_secs)) before being handled: nothing
    /// is done. Box: "retry per Retry-After".
    pub request_503: f64,
    /// Fraction of writes (direct uploads and commits) that are applied, then answered
    /// `503 unavailable` with `retry-after`: Box warns that a write may persist despite a 503.
    pub write_503_after_store: f64,
    /// `retry-after` seconds sent with the injected 503s (`503=P@SECS`; default 0 in the
    /// library, 1 from `--fault 503=P`).
    pub retry_after_503_secs: u64,
    /// Fraction of API requests answered `502 bad_gateway` before being handled.
    pub request_502: f64,
    /// Fraction of direct uploads (new file or version) and session creations (new file or
    /// version) answered `409 name_temporarily_reserved` before anything is stored (Box: a
    /// duplicate request for the name is in flight; wait and retry).
    pub name_temporarily_reserved: f64,
    /// Fraction of direct uploads, session creations and commits answered
    /// `409 operation_blocked_temporary` before anything is stored (Box: a move or copy holds
    /// the folder; retry later).
    pub operation_blocked: f64,
    /// Answer `429 rate_limit_exceeded` with `retry-after` above this request rate (every
    /// API request counts; Box: about 1000 requests a minute per user).
    pub rate_limit: Option<RateLimit>,
    /// Answer uploads `429 rate_limit_exceeded` with `retry-after` above this rate, counted
    /// apart from [`rate_limit`](Self::rate_limit): direct uploads (new file and new version)
    /// and session creations (new file and new version) count; parts, commits and preflights
    /// do not (Box: 240 file uploads a minute per user; whether parts count there is
    /// unconfirmed). An upload counts toward both limits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_limit_uploads: Option<RateLimit>,
    /// Added to every API request before it is handled, in milliseconds (at most an hour).
    pub latency_ms: u64,
    /// A one-shot action, not a lasting fault: invalidate every access token issued so far
    /// (tokens issued afterwards work; the static token, refresh tokens and preflight upload
    /// tokens are not touched), so a client meets the expired-token 401 in the middle of an
    /// upload. `Some(0)` does it at once (when the faults are set); `Some(N)` lets N more API
    /// requests through first and does it when the next one arrives (token requests and
    /// `/_emulator/*` do not count). Once done the field reads `None` again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expire_tokens: Option<u64>,
}

/// The longest injected latency: one hour.
const MAX_LATENCY_MS: u64 = 3_600_000;

/// A fixed-window request rate: at most `max_requests` API requests per `window_ms`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    /// Requests allowed per window; the rest of the window answers 429.
    pub max_requests: u32,
    /// Window length in milliseconds.
    pub window_ms: u64,
}

/// An invalid `--fault` spec.
#[derive(Debug, thiserror::Error)]
#[error("invalid fault spec {spec:?}: {reason}")]
pub struct FaultSpecError {
    /// The spec as given.
    pub spec: String,
    /// What is wrong with it.
    pub reason: String,
}

impl FaultConfig {
    /// Applies one `--fault` spec (see the crate docs / `--help` for the syntax):
    ///
    /// | spec | field |
    /// | --- | --- |
    /// | `part-500=P` | [`part_500_before_store`](Self::part_500_before_store) |
    /// | `part-500-after-store=P` | [`part_500_after_store`](Self::part_500_after_store) |
    /// | `part-drop-after-store=P` | [`part_drop_after_store`](Self::part_drop_after_store) |
    /// | `part-reset=P` | [`part_reset_mid_body`](Self::part_reset_mid_body) |
    /// | `commit-202=N` or `commit-202=N@SECS` | [`commit_202`](Self::commit_202), [`commit_retry_after_secs`](Self::commit_retry_after_secs) |
    /// | `commit-parts-mismatch-once` | [`commit_parts_mismatch_once`](Self::commit_parts_mismatch_once) |
    /// | `commit-drop-after-store=P` | [`commit_drop_after_store`](Self::commit_drop_after_store) |
    /// | `direct-500-after-store=P` | [`direct_500_after_store`](Self::direct_500_after_store) |
    /// | `503=P` or `503=P@SECS` | [`request_503`](Self::request_503), [`retry_after_503_secs`](Self::retry_after_503_secs) |
    /// | `503-after-store=P` or `503-after-store=P@SECS` | [`write_503_after_store`](Self::write_503_after_store), [`retry_after_503_secs`](Self::retry_after_503_secs) |
    /// | `502=P` | [`request_502`](Self::request_502) |
    /// | `name-temporarily-reserved=P` | [`name_temporarily_reserved`](Self::name_temporarily_reserved) |
    /// | `operation-blocked=P` | [`operation_blocked`](Self::operation_blocked) |
    /// | `rate-limit=N/DURATION` (e.g. `100/1s`, `5/500ms`) | [`rate_limit`](Self::rate_limit) |
    /// | `rate-limit-uploads=N/DURATION` (e.g. `240/1m`) | [`rate_limit_uploads`](Self::rate_limit_uploads) |
    /// | `latency=DURATION` (e.g. `50ms`, `1s`) | [`latency_ms`](Self::latency_ms) |
    /// | `expire-tokens` or `expire-tokens=N` | [`expire_tokens`](Self::expire_tokens) (`Some(0)` or `Some(N)`) |
    ///
    /// `P` is a fraction (`0.1`) or a percentage (`10%`). `SECS` and `DURATION` are durations
    /// as [`crate::units::parse_duration`] reads them (`500ms`, `2s`, `1m`, `1h`); a bare
    /// number is seconds.
    pub fn apply_spec(&mut self, spec: &str) -> Result<(), FaultSpecError> {
        let err = |reason: &str| FaultSpecError {
            spec: spec.to_string(),
            reason: reason.to_string(),
        };
        let (key, value) = match spec.split_once('=') {
            Some((k, v)) => (k.trim(), Some(v.trim())),
            None => (spec.trim(), None),
        };
        let need = || value.ok_or_else(|| err("a value is required (KIND=VALUE)"));
        match key {
            "part-500" => self.part_500_before_store = parse_fraction(need()?).map_err(err)?,
            "part-500-after-store" => {
                self.part_500_after_store = parse_fraction(need()?).map_err(err)?
            }
            "part-drop-after-store" => {
                self.part_drop_after_store = parse_fraction(need()?).map_err(err)?
            }
            "part-reset" => self.part_reset_mid_body = parse_fraction(need()?).map_err(err)?,
            "commit-202" => {
                let v = need()?;
                let (n, secs) = match v.split_once('@') {
                    Some((n, s)) => (n, Some(s)),
                    None => (v, None),
                };
                self.commit_202 = n.parse().map_err(|_| err("expected a count"))?;
                self.commit_retry_after_secs = match secs {
                    Some(s) => parse_duration(s).map_err(|e| err(&e))?.as_secs(),
                    None => 1,
                };
            }
            "commit-parts-mismatch-once" => {
                self.commit_parts_mismatch_once = match value {
                    None | Some("true") | Some("1") => true,
                    Some("false") | Some("0") => false,
                    Some(_) => return Err(err("expected true or false")),
                }
            }
            "commit-drop-after-store" => {
                self.commit_drop_after_store = parse_fraction(need()?).map_err(err)?
            }
            "direct-500-after-store" => {
                self.direct_500_after_store = parse_fraction(need()?).map_err(err)?
            }
            "503" | "503-after-store" => {
                let v = need()?;
                let (p, secs) = match v.split_once('@') {
                    Some((p, s)) => (p, Some(s)),
                    None => (v, None),
                };
                let p = parse_fraction(p).map_err(err)?;
                if key == "503" {
                    self.request_503 = p;
                } else {
                    self.write_503_after_store = p;
                }
                // Both specs set the one retry-after; without @SECS a value set by the
                // other spec is kept (1 otherwise).
                self.retry_after_503_secs = match secs {
                    Some(s) => parse_duration(s).map_err(|e| err(&e))?.as_secs(),
                    None => self.retry_after_503_secs.max(1),
                };
            }
            "502" => self.request_502 = parse_fraction(need()?).map_err(err)?,
            "name-temporarily-reserved" => {
                self.name_temporarily_reserved = parse_fraction(need()?).map_err(err)?
            }
            "operation-blocked" => self.operation_blocked = parse_fraction(need()?).map_err(err)?,
            "rate-limit" | "rate-limit-uploads" => {
                let v = need()?;
                let (n, per) = v.split_once('/').unwrap_or((v, "1s"));
                let max_requests: u32 = n.parse().map_err(|_| err("expected N/DURATION"))?;
                let window = parse_duration(per).map_err(|e| err(&e))?;
                if max_requests == 0 || window.is_zero() {
                    return Err(err("rate and window must be positive"));
                }
                let rl = Some(RateLimit {
                    max_requests,
                    window_ms: window.as_millis().min(u128::from(u64::MAX)) as u64,
                });
                if key == "rate-limit" {
                    self.rate_limit = rl;
                } else {
                    self.rate_limit_uploads = rl;
                }
            }
            "latency" => {
                self.latency_ms = parse_duration(need()?)
                    .map_err(|e| err(&e))?
                    .as_millis()
                    .min(u128::from(MAX_LATENCY_MS)) as u64
            }
            "expire-tokens" => {
                self.expire_tokens = Some(match value {
                    None => 0,
                    Some(n) => n
                        .parse()
                        .map_err(|_| err("expected a number of requests"))?,
                })
            }
            _ => return Err(err("unknown fault kind")),
        }
        Ok(())
    }

    /// The same config with every probability clamped into `[0, 1]` (NaN reads as 0) and
    /// the latency to at most an hour.
    pub fn clamped(mut self) -> FaultConfig {
        for p in self.probabilities_mut() {
            *p = if p.is_nan() { 0.0 } else { p.clamp(0.0, 1.0) };
        }
        self.latency_ms = self.latency_ms.min(MAX_LATENCY_MS);
        self
    }

    /// The same config if every probability is within `[0, 1]` and the latency is at most an
    /// hour, an error naming the first value that is not otherwise.
    pub fn validated(mut self) -> Result<FaultConfig, String> {
        for p in self.probabilities_mut() {
            if !(0.0..=1.0).contains(p) {
                return Err(format!("probability {p} is not between 0 and 1"));
            }
        }
        if self.latency_ms > MAX_LATENCY_MS {
            return Err(format!(
                "latency_ms {} is more than an hour ({MAX_LATENCY_MS})",
                self.latency_ms
            ));
        }
        Ok(self)
    }

    fn probabilities_mut(&mut self) -> [&mut f64; 11] {
        [
            &mut self.part_500_before_store,
            &mut self.part_500_after_store,
            &mut self.part_drop_after_store,
            &mut self.part_reset_mid_body,
            &mut self.commit_drop_after_store,
            &mut self.direct_500_after_store,
            &mut self.request_503,
            &mut self.write_503_after_store,
            &mut self.request_502,
            &mut self.name_temporarily_reserved,
            &mut self.operation_blocked,
        ]
    }

    /// Parses a list of specs into a fresh config.
    pub fn from_specs<'a>(
        specs: impl IntoIterator<Item = &'a str>,
    ) -> Result<FaultConfig, FaultSpecError> {
        let mut f = FaultConfig::default();
        for s in specs {
            f.apply_spec(s)?;
        }
        Ok(f)
    }
}

fn parse_fraction(s: &str) -> Result<f64, &'static str> {
    let (num, scale) = match s.strip_suffix('%') {
        Some(n) => (n, 100.0),
        None => (s, 1.0),
    };
    let v: f64 = num
        .trim()
        .parse()
        .map_err(|_| "expected a fraction such as 0.1 or 10%")?;
    let v = v / scale;
    if !(0.0..=1.0).contains(&v) {
        return Err("fraction must be between 0 and 1");
    }
    Ok(v)
}

/// Parses a spec's duration ([`crate::units::parse_duration`]; a bare number is seconds):
/// `250ms`, `2s`, `1m`, `1h`, `3`.
fn parse_duration(s: &str) -> Result<Duration, String> {
    units::parse_duration(s, Bare::Secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_specs() {
        let f = FaultConfig::from_specs([
            "part-500=0.1",
            "part-500-after-store=5%",
            "part-drop-after-store=0.25",
            "part-reset=1",
            "commit-202=3@2s",
            "commit-parts-mismatch-once",
            "rate-limit=100/2s",
            "rate-limit-uploads=4/1m",
            "latency=25ms",
            "expire-tokens=3",
            "commit-drop-after-store=0.5",
            "direct-500-after-store=10%",
            "503=0.2@3s",
            "503-after-store=0.3@3s",
            "502=1",
            "name-temporarily-reserved=0.4",
            "operation-blocked=0.6",
        ])
        .unwrap();
        assert_eq!(f.commit_drop_after_store, 0.5);
        assert!((f.direct_500_after_store - 0.1).abs() < 1e-12);
        assert_eq!(f.request_503, 0.2);
        assert_eq!(f.write_503_after_store, 0.3);
        assert_eq!(f.retry_after_503_secs, 3);
        assert_eq!(f.request_502, 1.0);
        assert_eq!(f.name_temporarily_reserved, 0.4);
        assert_eq!(f.operation_blocked, 0.6);
        assert_eq!(
            FaultConfig::from_specs(["503=1"])
                .unwrap()
                .retry_after_503_secs,
            1
        );
        assert_eq!(f.part_500_before_store, 0.1);
        assert!((f.part_500_after_store - 0.05).abs() < 1e-12);
        assert_eq!(f.part_drop_after_store, 0.25);
        assert_eq!(f.part_reset_mid_body, 1.0);
        assert_eq!(f.commit_202, 3);
        assert_eq!(f.commit_retry_after_secs, 2);
        assert!(f.commit_parts_mismatch_once);
        assert_eq!(
            f.rate_limit,
            Some(RateLimit {
                max_requests: 100,
                window_ms: 2000
            })
        );
        assert_eq!(
            f.rate_limit_uploads,
            Some(RateLimit {
                max_requests: 4,
                window_ms: 60_000
            })
        );
        assert_eq!(f.latency_ms, 25);
        // Hours, and bare seconds, in every duration of a spec.
        let h =
            FaultConfig::from_specs(["latency=1h", "rate-limit=5/1h", "commit-202=1@3"]).unwrap();
        assert_eq!(h.latency_ms, 3_600_000);
        assert_eq!(h.rate_limit.map(|r| r.window_ms), Some(3_600_000));
        assert_eq!(h.commit_retry_after_secs, 3);
        assert_eq!(f.expire_tokens, Some(3));
        assert_eq!(
            FaultConfig::from_specs(["expire-tokens"])
                .unwrap()
                .expire_tokens,
            Some(0)
        );
        for bad in [
            "expire-tokens=x",
            "part-500=2",
            "nope=1",
            "commit-202=x",
            "rate-limit=0/1s",
            "rate-limit-uploads=x/1s",
            "rate-limit-uploads=0/1s",
            "latency",
            "503=2",
            "503",
            "502=x",
            "operation-blocked",
            "name-temporarily-reserved=-1",
        ] {
            assert!(FaultConfig::from_specs([bad]).is_err(), "{bad}");
        }
    }

    #[test]
    fn automatic_part_sizes() {
        let c = Config::default();
        assert_eq!(c.part_size_for(160_000_000), DEFAULT_PART_SIZE);
        assert_eq!(c.part_size_for(1_000_000_000), LARGE_PART_SIZE);
        let huge = 1_000_000_000_000;
        assert!(huge / c.part_size_for(huge) <= MAX_PARTS);
        let c = Config {
            part_size: Some(1000),
            ..Default::default()
        };
        assert_eq!(c.part_size_for(1_000_000_000), 1000);
    }
}
