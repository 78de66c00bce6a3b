//! `box-emulator`: run the Box-compatible upload server from the command line.
//!
//! The flags are one clap definition ([`Args`]): `--help`, the parser and the flag table of
//! emulator/README.md all come from it (a test renders the table and compares).

use box_emulator::units::{self, Bare};
use box_emulator::{Config, Emulator, FaultConfig, NetConfig, TlsConfig};
use clap::Parser;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// The long part of `--help`: fault and network specs, and the control routes.
const AFTER_HELP: &str = "\
BYTES is a count with an optional unit: KiB, MiB, GiB (binary) or KB, MB, GB (decimal;
10MB is 10,000,000 bytes), e.g. --part-size 8MiB. DUR is 250ms, 30s, 1.5s, 1m, 2h, 7d.

The first line on stdout is `listening on http://HOST:PORT` (the address bound;
`https://` with --tls-cert and --tls-key, which serve HTTPS only, HTTP/2 or HTTP/1.1
as ALPN settles it).
The server runs until interrupted (Ctrl-C or SIGTERM).

FAULT SPECS (P is a fraction such as 0.1, or a percentage such as 10%):
    part-500=P               part uploads answer 500 without storing the part
    part-500-after-store=P   part uploads store the part, then answer 500
    part-drop-after-store=P  part uploads store the part, then drop the connection
    part-reset=P             part uploads are reset half-way through the body
    commit-202=N[@SECS]      the first N commits of each session answer 202 with
                             retry-after SECS [default 1]
    commit-parts-mismatch-once
                             the first commit of each session after its last part
                             arrives answers 400 parts_mismatch
    commit-drop-after-store=P
                             commits are applied (file stored, session committed),
                             then the connection is dropped without an answer
    direct-500-after-store=P direct uploads (file or version) are stored, then
                             answered 500
    503=P[@SECS]             API requests answer 503 unavailable with retry-after
                             SECS [default 1] without doing anything
    503-after-store=P[@SECS] direct uploads and commits are applied, then answered
                             503 with retry-after SECS [default 1]
    502=P                    API requests answer 502 bad_gateway
    name-temporarily-reserved=P
                             direct uploads and session creations answer
                             409 name_temporarily_reserved
    operation-blocked=P      direct uploads, session creations and commits answer
                             409 operation_blocked_temporary
    rate-limit=N/DUR         answer 429 rate_limit_exceeded above N requests per DUR
                             (e.g. 100/1s, 5/500ms); every API request counts
    rate-limit-uploads=N/DUR answer 429 rate_limit_exceeded above N uploads per DUR
                             (direct uploads and session creations; e.g. 240/1m),
                             counted apart from rate-limit
    latency=DUR              add DUR (e.g. 50ms) to every API request
    expire-tokens[=N]        one-shot: invalidate every access token issued so far
                             (after N more API requests; at once without N)
SECS and DUR in fault specs: a bare number is seconds.
Part faults are drawn from (seed, session, part index, attempt), the others from
(seed, fault, how many times it was drawn), so a run is reproducible.

NETWORK SHAPING (--net; every key optional):
    rtt=DUR                  every request waits DUR before it is handled
    conn=RATE                request bodies, and apart response bodies, of one
                             connection flow at most RATE (e.g. 12MiB/s, 100MB/s)
    link=RATE                all connections' bodies together, each way, at most RATE
    server=DUR               processing time added to each part upload and commit
RATE is BYTES with an optional /s; here a bare DUR is milliseconds.
/_emulator/* is never shaped. No packet loss, no TCP slow start or handshake.
Shaping is per TCP connection: an HTTP/2 connection's streams share its rates.

COUNTERS AND CONTROLS (no authentication):
    GET /_emulator/counters        JSON counters of traffic and injected faults
    POST /_emulator/counters/reset set them back to zero
    GET|PUT /_emulator/faults      read or replace the fault settings (JSON)
    GET|PUT /_emulator/net         read or replace the network shaping (JSON:
                                   rtt_ms, conn_bytes_per_sec, link_bytes_per_sec,
                                   server_ms; null is unlimited)
    POST /_emulator/expire-tokens  invalidate every issued access token now
    POST /_emulator/refresh-tokens {\"user_id\": \"ID\"}: mint a refresh token
    POST /_emulator/token-clock    {\"advance_secs\": N}: age issued tokens N seconds";

const AUTH: &str = "Service authentication (POST /oauth2/token, POST /oauth2/revoke)";

/// The flags. A help text that ends in `[default: ...]` names a default that is not a value
/// (a temporary directory, unlimited); clap adds the others from `default_value`.
#[derive(Parser, Debug)]
#[command(
    name = "box-emulator",
    about = "A Box-compatible file-upload server for offline tests",
    after_help = AFTER_HELP,
    // A flag given twice keeps the last value, as the hand-written parser did.
    args_override_self = true
)]
struct Args {
    /// address to listen on (port 0: a free port, printed on stdout)
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:0")]
    listen: SocketAddr,

    /// where files, versions, sessions and parts are kept [default: a temporary directory,
    /// deleted on exit]
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,

    /// the static bearer token to accept (never expires; acts as the service account)
    #[arg(long, value_name = "TOKEN", default_value = "test-token")]
    token: String,

    /// part size of every session (always wins) [default: 8 MiB; 32 MiB for files of 512 MiB
    /// and more; doubled further if a file would need more than 10,000 parts]
    #[arg(long, value_name = "BYTES", value_parser = units::parse_size)]
    part_size: Option<u64>,

    /// smallest file a chunked session accepts (the default is Box's observed minimum)
    #[arg(long, value_name = "BYTES", value_parser = units::parse_size, default_value = "20000000")]
    min_chunked_size: u64,

    /// largest file accepted anywhere (403 file_size_limit_exceeded) [default: unlimited]
    #[arg(long, value_name = "BYTES", value_parser = units::parse_size)]
    max_file_size: Option<u64>,

    /// largest direct upload (413 request_entity_too_large; Box's guide says 50 MB)
    /// [default: unlimited]
    #[arg(long, value_name = "BYTES", value_parser = units::parse_size)]
    max_direct_size: Option<u64>,

    /// total bytes of all stored versions (403 storage_limit_exceeded) [default: unlimited]
    #[arg(long, value_name = "BYTES", value_parser = units::parse_size)]
    storage_limit: Option<u64>,

    /// upload session lifetime (7d, 1h, 30s; a bare number is seconds)
    #[arg(long, value_name = "DUR", value_parser = secs, default_value = "7d")]
    session_lifetime: Duration,

    /// a folder (digits) that exists besides the root 0, reachable by id but not listed in
    /// the root; repeatable [default: only 0]
    #[arg(long = "folder", value_name = "ID")]
    folders: Vec<String>,

    /// inject a fault; repeatable (see the fault specs) [default: none]
    #[arg(long = "fault", value_name = "SPEC", value_parser = fault_spec)]
    faults: Vec<String>,

    /// shape the network: rtt=DUR,conn=RATE,link=RATE[,server=DUR], a round trip, bandwidth
    /// per connection and for the whole link, server time (see network shaping)
    /// [default: none]
    #[arg(long, value_name = "SPEC", value_parser = net_spec)]
    net: Option<NetConfig>,

    /// seed for session ids and fault decisions
    #[arg(long, value_name = "N", default_value = "0")]
    seed: u64,

    /// base URL put into session_endpoints and upload_url [default: http://ADDR, https://ADDR
    /// with --tls-cert]
    #[arg(long, value_name = "URL")]
    public_url: Option<String>,

    /// serve HTTPS only with this certificate chain (PEM, leaf first; with --tls-key); ALPN
    /// offers HTTP/2 and HTTP/1.1 [default: plain HTTP/1.1]
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,

    /// the private key of --tls-cert (PEM: PKCS#8, PKCS#1 or SEC1) [default: none]
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,

    /// the app's client id; with --client-secret it enables POST /oauth2/token [default:
    /// none, every token request is invalid_client]
    #[arg(long, value_name = "ID", help_heading = AUTH)]
    client_id: Option<String>,

    /// the app's client secret (with --client-id) [default: none]
    #[arg(long, value_name = "SECRET", help_heading = AUTH)]
    client_secret: Option<String>,

    /// the enterprise (digits): client credentials with box_subject_type=enterprise and JWT
    /// box_sub_type=enterprise get its service account
    #[arg(long, value_name = "ID", default_value = "1", help_heading = AUTH)]
    enterprise_id: String,

    /// a user (digits; repeatable): client credentials box_subject_type=user, JWT
    /// box_sub_type=user, refresh tokens, and as-user [default: none]
    #[arg(long = "user", value_name = "ID", help_heading = AUTH)]
    users: Vec<String>,

    /// the JWT grant's public key: a PEM file, or the PEM text itself (PUBLIC KEY or RSA
    /// PUBLIC KEY) [default: no JWT]
    #[arg(long, value_name = "PEM", value_parser = pem, allow_hyphen_values = true, help_heading = AUTH)]
    jwt_public_key: Option<String>,

    /// the JWT key's id, which assertions carry as kid (with --jwt-public-key) [default: none]
    #[arg(long, value_name = "KID", help_heading = AUTH)]
    jwt_key_id: Option<String>,

    /// lifetime of every issued access token (60m, 30s; a bare number is seconds)
    #[arg(long, value_name = "DUR", value_parser = secs, default_value = "60m", help_heading = AUTH)]
    token_ttl: Duration,

    /// a single-use refresh token for a configured user; repeatable [default: none]
    #[arg(long = "refresh-token", value_name = "TOKEN:USER", value_parser = refresh_token, help_heading = AUTH)]
    refresh_tokens: Vec<(String, String)>,

    /// token requests with the right credentials answer 400 unauthorized_client [default:
    /// authorized]
    #[arg(long, help_heading = AUTH)]
    app_not_authorized: bool,
}

/// A duration whose bare number is seconds.
fn secs(s: &str) -> Result<Duration, String> {
    units::parse_duration(s, Bare::Secs)
}

/// A `--fault` spec, checked on its own; [`Args::into_config`] applies them in order (a
/// later `503` keeps an earlier `@SECS`).
fn fault_spec(s: &str) -> Result<String, String> {
    FaultConfig::from_specs([s])
        .map(|_| s.to_string())
        .map_err(|e| e.to_string())
}

fn net_spec(s: &str) -> Result<NetConfig, String> {
    NetConfig::from_spec(s).map_err(|e| e.to_string())
}

/// The PEM text itself, or the file that holds it.
fn pem(s: &str) -> Result<String, String> {
    if s.trim_start().starts_with("-----BEGIN") {
        return Ok(s.to_string());
    }
    std::fs::read_to_string(s).map_err(|e| format!("cannot read {s:?}: {e}"))
}

fn refresh_token(s: &str) -> Result<(String, String), String> {
    let (token, user) = s
        .rsplit_once(':')
        .ok_or_else(|| format!("{s:?}: expected TOKEN:USER"))?;
    Ok((token.to_string(), user.to_string()))
}

impl Args {
    /// The library's configuration. Fails on a `--fault` spec (which `fault_spec` has
    /// already checked one by one) or an unreadable `--tls-cert` or `--tls-key` file (their
    /// contents are checked when the emulator starts).
    fn into_config(self) -> Result<Config, String> {
        let mut faults = FaultConfig::default();
        for spec in &self.faults {
            faults.apply_spec(spec).map_err(|e| e.to_string())?;
        }
        let tls = match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => Some(
                TlsConfig::from_pem_files(cert, key)
                    .map_err(|e| format!("--tls-cert/--tls-key: {e}"))?,
            ),
            _ => None,
        };
        Ok(Config {
            listen: self.listen,
            data_dir: self.data_dir,
            token: self.token,
            folders: self.folders,
            part_size: self.part_size,
            min_chunked_size: self.min_chunked_size,
            max_file_size: self.max_file_size,
            max_direct_upload_size: self.max_direct_size,
            storage_limit: self.storage_limit,
            session_lifetime: self.session_lifetime,
            seed: self.seed,
            faults,
            public_url: self.public_url,
            net: self.net.unwrap_or_default(),
            tls,
            client_id: self.client_id,
            client_secret: self.client_secret,
            enterprise_id: self.enterprise_id,
            users: self.users,
            jwt_public_key: self.jwt_public_key,
            jwt_key_id: self.jwt_key_id,
            token_ttl: self.token_ttl,
            refresh_tokens: self.refresh_tokens.into_iter().collect(),
            app_authorized: !self.app_not_authorized,
        })
    }
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

fn main() -> ExitCode {
    // Help exits 0 on stdout; a bad flag exits 2 with clap's message on stderr.
    let config = match Args::parse().into_config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("box-emulator: {e}");
            return ExitCode::from(2);
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("box-emulator: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    rt.block_on(async move {
        let emu = match Emulator::start(config).await {
            Ok(e) => e,
            Err(e) => {
                eprintln!("box-emulator: {e}");
                return ExitCode::FAILURE;
            }
        };
        {
            let mut out = std::io::stdout().lock();
            let mut addr = emu.local_addr();
            if addr.ip().is_unspecified() {
                addr.set_ip(if addr.is_ipv4() {
                    std::net::Ipv4Addr::LOCALHOST.into()
                } else {
                    std::net::Ipv6Addr::LOCALHOST.into()
                });
            }
            let scheme = if emu.config().tls.is_some() {
                "https"
            } else {
                "http"
            };
            let _ = writeln!(out, "listening on {scheme}://{addr}");
            let _ = out.flush();
        }
        eprintln!(
            "box-emulator: API {} uploads {} data {} token {}",
            emu.api_url(),
            emu.upload_url(),
            emu.data_dir().display(),
            if emu.token() == "test-token" {
                "test-token"
            } else {
                "(as given)"
            }
        );
        if emu.config().client_id.is_some() {
            eprintln!("box-emulator: token endpoint {}", emu.token_url());
        }
        wait_for_signal().await;
        emu.shutdown().await;
        ExitCode::SUCCESS
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory as _;

    fn parse(args: &[&str]) -> Result<Config, clap::Error> {
        let argv = std::iter::once("box-emulator").chain(args.iter().copied());
        let args = Args::try_parse_from(argv)?;
        Ok(args.into_config().expect("specs checked by clap apply"))
    }

    #[test]
    fn parses_flags() {
        let c = parse(&[
            "--listen",
            "127.0.0.1:0",
            "--data-dir=/tmp/x",
            "--token",
            "t",
            "--part-size",
            "1MiB",
            "--min-chunked-size",
            "1",
            "--folder",
            "12",
            "--folder",
            "13",
            "--fault",
            "part-500=0.5",
            "--fault",
            "latency=5ms",
            "--seed",
            "7",
            "--session-lifetime",
            "2h",
            "--client-id",
            "cid",
            "--client-secret=sec",
            "--enterprise-id",
            "77",
            "--user",
            "5",
            "--user",
            "6",
            "--token-ttl",
            "30s",
            "--refresh-token",
            "rt1:5",
            "--jwt-key-id",
            "k1",
            "--jwt-public-key",
            "-----BEGIN PUBLIC KEY-----\nAA==\n-----END PUBLIC KEY-----",
            "--app-not-authorized",
            "--fault",
            "expire-tokens=4",
            "--fault",
            "503=0.25@2s",
            "--fault",
            "operation-blocked=1",
            "--net",
            "rtt=40ms,conn=12MiB/s,link=120MiB/s,server=5ms",
        ])
        .unwrap();
        assert_eq!(c.part_size, Some(1 << 20));
        assert_eq!(c.min_chunked_size, 1);
        assert_eq!(c.folders, vec!["12", "13"]);
        assert_eq!(c.faults.part_500_before_store, 0.5);
        assert_eq!(c.faults.latency_ms, 5);
        assert_eq!(c.seed, 7);
        assert_eq!(c.session_lifetime.as_secs(), 7200);
        assert_eq!(c.client_id.as_deref(), Some("cid"));
        assert_eq!(c.client_secret.as_deref(), Some("sec"));
        assert_eq!(c.enterprise_id, "77");
        assert_eq!(c.users, vec!["5", "6"]);
        assert_eq!(c.token_ttl.as_secs(), 30);
        assert_eq!(c.refresh_tokens.get("rt1").map(String::as_str), Some("5"));
        assert_eq!(c.jwt_key_id.as_deref(), Some("k1"));
        assert!(c.jwt_public_key.unwrap().contains("BEGIN PUBLIC KEY"));
        assert!(!c.app_authorized);
        assert_eq!(c.faults.expire_tokens, Some(4));
        assert_eq!(c.faults.request_503, 0.25);
        assert_eq!(c.faults.retry_after_503_secs, 2);
        assert_eq!(c.faults.operation_blocked, 1.0);
        assert_eq!(c.net.rtt_ms, Some(40));
        assert_eq!(c.net.conn_bytes_per_sec, Some(12 << 20));
        assert_eq!(c.net.link_bytes_per_sec, Some(120 << 20));
        assert_eq!(c.net.server_ms, Some(5));
        assert!(parse(&["--net", "conn=fast"]).is_err());
        assert!(parse(&["--refresh-token", "nouser"]).is_err());
        assert!(parse(&["--jwt-public-key", "/nonexistent/key.pem"]).is_err());
        let help = parse(&["--help"]).unwrap_err();
        assert_eq!(help.kind(), clap::error::ErrorKind::DisplayHelp);
        assert!(parse(&["--bogus"]).is_err());
        assert!(parse(&["--part-size"]).is_err());
        assert!(parse(&["--app-not-authorized=yes"]).is_err());
        assert!(parse(&["--part-size", "10M"]).is_err());
        assert!(parse(&["--fault", "nonsense=1"]).is_err());
        // The TLS files go together, and must be readable.
        assert!(parse(&["--tls-cert", "/nonexistent/cert.pem"]).is_err());
        assert!(parse(&["--tls-key", "/nonexistent/key.pem"]).is_err());
        let argv = [
            "box-emulator",
            "--tls-cert",
            "/nonexistent/cert.pem",
            "--tls-key",
            "/nonexistent/key.pem",
        ];
        let err = Args::try_parse_from(argv).map(Args::into_config);
        assert!(matches!(err, Ok(Err(e)) if e.contains("/nonexistent/cert.pem")));
    }

    #[test]
    fn tls_flags_read_the_pem_files() {
        let certs = box_emulator::TestCertificates::shared();
        let dir =
            std::env::temp_dir().join(format!("box-emulator-main-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        std::fs::write(&cert, &certs.server.cert_chain_pem).unwrap();
        std::fs::write(&key, &certs.server.key_pem).unwrap();
        let c = parse(&[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ])
        .unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(c.tls.as_ref(), Some(&certs.server));
    }

    /// Every spelling the docs use, and the last of a repeated flag winning.
    #[test]
    fn accepts_documented_values() {
        let c = parse(&[
            "--part-size",
            "8MiB",
            "--max-direct-size",
            "50MB",
            "--session-lifetime",
            "1h",
            "--token-ttl",
            "60m",
            "--min-chunked-size",
            "20000000",
            "--fault",
            "rate-limit=1000/1m",
            "--fault",
            "rate-limit-uploads=240/1m",
            "--fault",
            "commit-202=1@0s",
            "--net",
            "rtt=150ms,conn=4MiB/s,link=40MiB/s",
            "--net",
            "rtt=40ms,conn=12MiB/s,link=100MB/s",
            "--seed",
            "1",
            "--seed",
            "2",
        ])
        .unwrap();
        assert_eq!(c.part_size, Some(8 << 20));
        assert_eq!(c.max_direct_upload_size, Some(50_000_000));
        assert_eq!(c.session_lifetime, Duration::from_secs(3600));
        assert_eq!(c.token_ttl, Duration::from_secs(3600));
        assert_eq!(c.faults.rate_limit.map(|r| r.window_ms), Some(60_000));
        assert_eq!(
            c.faults.rate_limit_uploads.map(|r| r.max_requests),
            Some(240)
        );
        assert_eq!(c.faults.commit_202, 1);
        assert_eq!(c.faults.commit_retry_after_secs, 0);
        assert_eq!(c.net.rtt_ms, Some(40));
        assert_eq!(c.net.link_bytes_per_sec, Some(100_000_000));
        assert_eq!(c.seed, 2);
        // A bare number is seconds for lifetimes.
        let c = parse(&["--session-lifetime", "30", "--token-ttl", "90"]).unwrap();
        assert_eq!(c.session_lifetime, Duration::from_secs(30));
        assert_eq!(c.token_ttl, Duration::from_secs(90));
    }

    /// No flags give the library's defaults.
    #[test]
    fn defaults_are_the_librarys() {
        assert_eq!(
            format!("{:?}", parse(&[]).unwrap()),
            format!("{:?}", Config::default())
        );
        Args::command().debug_assert();
    }

    /// The flag table of emulator/README.md, as clap's definition renders it.
    fn flag_table() -> String {
        let mut out = String::from("| Flag | Meaning | Default |\n| --- | --- | --- |\n");
        let cmd = Args::command();
        for arg in cmd.get_arguments() {
            let Some(long) = arg.get_long() else { continue };
            if long == "help" {
                continue;
            }
            let flag = match arg.get_value_names() {
                Some([name]) if arg.get_action().takes_values() => format!("--{long} {name}"),
                _ => format!("--{long}"),
            };
            let help = arg.get_help().map(ToString::to_string).unwrap_or_default();
            let help = help.split_whitespace().collect::<Vec<_>>().join(" ");
            let (meaning, default) = match help.rsplit_once(" [default: ") {
                Some((m, d)) => (m.to_string(), d.trim_end_matches(']').to_string()),
                None => {
                    let values: Vec<String> = arg
                        .get_default_values()
                        .iter()
                        .map(|v| format!("`{}`", v.to_string_lossy()))
                        .collect();
                    (help.clone(), values.join(", "))
                }
            };
            out.push_str(&format!("| `{flag}` | {meaning} | {default} |\n"));
        }
        out
    }

    /// emulator/README.md's flag table is the one clap renders: change the definition above,
    /// then paste what this test prints between the README's markers.
    #[test]
    fn readme_flag_table_matches_clap() {
        const BEGIN: &str = "<!-- flags: rendered from src/main.rs (Args) by a test -->\n";
        const END: &str = "<!-- end of flags -->";
        let readme = include_str!("../README.md");
        let expected = flag_table();
        let found = readme
            .split_once(BEGIN)
            .and_then(|(_, rest)| rest.split_once(END))
            .map(|(table, _)| table);
        assert!(
            found == Some(expected.as_str()),
            "emulator/README.md's flag table differs from the clap definition; between\n{BEGIN}\
             and {END} it should read:\n\n{expected}"
        );
    }
}
