//! `box-emulator`: run the Box-compatible upload server from the command line.

use box_emulator::{Config, Emulator, FaultConfig, NetConfig};
use std::io::Write as _;
use std::process::ExitCode;

const HELP: &str = "\
box-emulator: a Box-compatible file-upload server for offline tests

USAGE:
    box-emulator [OPTIONS]

OPTIONS:
    --listen ADDR            address to listen on [default: 127.0.0.1:0, a free port]
    --data-dir DIR           where files and sessions are kept [default: a temporary
                             directory, deleted on exit]
    --token TOKEN            bearer token to accept [default: test-token]
    --part-size BYTES        part size of every upload session [default: 8 MiB, or
                             32 MiB for files of 512 MiB and more, as Box]
    --min-chunked-size BYTES smallest file a chunked session accepts [default: 20000000]
    --max-file-size BYTES    largest file accepted (403 file_size_limit_exceeded)
    --max-direct-size BYTES  largest direct upload (413 request_entity_too_large)
    --storage-limit BYTES    total bytes of stored versions (403 storage_limit_exceeded)
    --session-lifetime DUR   upload session lifetime, e.g. 7d, 1h, 30s [default: 7d]
    --folder ID              make folder ID exist besides the root \"0\" (repeatable)
    --fault SPEC             inject a fault (repeatable; see below)
    --net rtt=DUR,conn=RATE,link=RATE[,server=DUR]
                             shape the network (see below), e.g.
                             rtt=40ms,conn=12MiB/s,link=120MiB/s [default: none]
    --seed N                 seed for session ids and fault decisions [default: 0]
    --public-url URL         base URL to put in session_endpoints and upload_url
                             [default: http://ADDR]
    -h, --help               print this help

SERVICE AUTHENTICATION (POST /oauth2/token, POST /oauth2/revoke on the base URL):
    --client-id ID           the app's client id (with --client-secret: enables the
                             token endpoint)
    --client-secret SECRET   the app's client secret
    --enterprise-id ID       the enterprise: client credentials with
                             box_subject_type=enterprise and JWT box_sub_type=enterprise
                             get the service account [default: 1]
    --user ID                a user tokens may be issued for, and the service account
                             may act as with as-user (digits; repeatable)
    --jwt-public-key PEM     the JWT public key: a PEM file, or the PEM text itself
                             (PUBLIC KEY or RSA PUBLIC KEY); enables the JWT grant
    --jwt-key-id KID         the key's id (the assertions' kid)
    --token-ttl DUR          lifetime of issued access tokens, e.g. 60m, 30s [default: 60m]
    --refresh-token TOKEN:USER
                             a single-use refresh token for USER (repeatable)
    --app-not-authorized     token requests answer 400 unauthorized_client
The static --token never expires and acts as the enterprise's service account.

BYTES accept a KiB, MiB, GiB, KB, MB or GB suffix (--part-size 8MiB).

The first line on stdout is `listening on http://HOST:PORT` (the address bound).
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
Part faults are drawn from (seed, session, part index, attempt), the others from
(seed, fault, how many times it was drawn), so a run is reproducible.

NETWORK SHAPING (--net; every key optional):
    rtt=DUR                  every request waits DUR before it is handled
    conn=RATE                request bodies, and apart response bodies, of one
                             connection flow at most RATE (e.g. 12MiB/s, 100MB/s)
    link=RATE                all connections' bodies together, each way, at most RATE
    server=DUR               processing time added to each part upload and commit
/_emulator/* is never shaped. No packet loss, no TCP slow start or handshake.

COUNTERS AND CONTROLS (no authentication):
    GET /_emulator/counters        JSON counters of traffic and injected faults
    POST /_emulator/counters/reset set them back to zero
    GET|PUT /_emulator/faults      read or replace the fault settings (JSON)
    GET|PUT /_emulator/net         read or replace the network shaping (JSON:
                                   rtt_ms, conn_bytes_per_sec, link_bytes_per_sec,
                                   server_ms; null is unlimited)
    POST /_emulator/expire-tokens  invalidate every issued access token now
    POST /_emulator/refresh-tokens {\"user_id\": \"ID\"}: mint a refresh token
    POST /_emulator/token-clock    {\"advance_secs\": N}: age issued tokens N seconds
";

fn parse_bytes(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (num, mult) = [
        ("GiB", 1u64 << 30),
        ("MiB", 1 << 20),
        ("KiB", 1 << 10),
        ("GB", 1_000_000_000),
        ("MB", 1_000_000),
        ("KB", 1_000),
        ("B", 1),
    ]
    .iter()
    .find_map(|(suffix, m)| s.strip_suffix(suffix).map(|n| (n, *m)))
    .unwrap_or((s, 1));
    let n: u64 = num
        .trim()
        .replace('_', "")
        .parse()
        .map_err(|_| format!("invalid byte count {s:?}"))?;
    n.checked_mul(mult)
        .ok_or_else(|| format!("byte count {s:?} is too large"))
}

fn parse_lifetime(s: &str) -> Result<std::time::Duration, String> {
    let s = s.trim();
    let (num, secs) = if let Some(n) = s.strip_suffix('d') {
        (n, 86_400)
    } else if let Some(n) = s.strip_suffix('h') {
        (n, 3_600)
    } else if let Some(n) = s.strip_suffix('m') {
        (n, 60)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1)
    } else {
        (s, 1)
    };
    let n: u64 = num
        .trim()
        .parse()
        .map_err(|_| format!("invalid duration {s:?}"))?;
    Ok(std::time::Duration::from_secs(n.saturating_mul(secs)))
}

fn parse_args(args: Vec<String>) -> Result<Option<Config>, String> {
    let mut config = Config::default();
    let mut faults = FaultConfig::default();
    let mut it = args.into_iter();
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        if flag == "-h" || flag == "--help" {
            return Ok(None);
        }
        let mut value = || {
            inline
                .clone()
                .or_else(|| it.next())
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match flag.as_str() {
            "--listen" => {
                let v = value()?;
                config.listen = v
                    .parse()
                    .map_err(|_| format!("invalid --listen address {v:?}"))?;
            }
            "--data-dir" => config.data_dir = Some(value()?.into()),
            "--token" => config.token = value()?,
            "--part-size" => config.part_size = Some(parse_bytes(&value()?)?),
            "--min-chunked-size" => config.min_chunked_size = parse_bytes(&value()?)?,
            "--max-file-size" => config.max_file_size = Some(parse_bytes(&value()?)?),
            "--max-direct-size" => config.max_direct_upload_size = Some(parse_bytes(&value()?)?),
            "--storage-limit" => config.storage_limit = Some(parse_bytes(&value()?)?),
            "--session-lifetime" => config.session_lifetime = parse_lifetime(&value()?)?,
            "--folder" => config.folders.push(value()?),
            "--fault" => faults.apply_spec(&value()?).map_err(|e| e.to_string())?,
            "--net" => config.net = NetConfig::from_spec(&value()?).map_err(|e| e.to_string())?,
            "--seed" => {
                let v = value()?;
                config.seed = v.parse().map_err(|_| format!("invalid --seed {v:?}"))?;
            }
            "--public-url" => config.public_url = Some(value()?),
            "--client-id" => config.client_id = Some(value()?),
            "--client-secret" => config.client_secret = Some(value()?),
            "--enterprise-id" => config.enterprise_id = value()?,
            "--user" => config.users.push(value()?),
            "--jwt-public-key" => {
                let v = value()?;
                config.jwt_public_key = Some(if v.trim_start().starts_with("-----BEGIN") {
                    v
                } else {
                    std::fs::read_to_string(&v)
                        .map_err(|e| format!("cannot read --jwt-public-key {v:?}: {e}"))?
                });
            }
            "--jwt-key-id" => config.jwt_key_id = Some(value()?),
            "--token-ttl" => config.token_ttl = parse_lifetime(&value()?)?,
            "--refresh-token" => {
                let v = value()?;
                let (token, user) = v
                    .rsplit_once(':')
                    .ok_or_else(|| format!("--refresh-token {v:?}: expected TOKEN:USER"))?;
                config
                    .refresh_tokens
                    .insert(token.to_string(), user.to_string());
            }
            "--app-not-authorized" => {
                if inline.is_some() {
                    return Err("--app-not-authorized takes no value".into());
                }
                config.app_authorized = false;
            }
            other => return Err(format!("unknown argument {other:?} (see --help)")),
        }
    }
    config.faults = faults;
    Ok(Some(config))
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
    let config = match parse_args(std::env::args().skip(1).collect()) {
        Ok(Some(c)) => c,
        Ok(None) => {
            print!("{HELP}");
            return ExitCode::SUCCESS;
        }
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
            let _ = writeln!(out, "listening on http://{addr}");
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

    fn args(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn parses_flags() {
        let c = parse_args(args(&[
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
        ]))
        .unwrap()
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
        assert!(parse_args(args(&["--net", "conn=fast"])).is_err());
        assert!(parse_args(args(&["--refresh-token", "nouser"])).is_err());
        assert!(parse_args(args(&["--jwt-public-key", "/nonexistent/key.pem"])).is_err());
        assert!(parse_args(args(&["--help"])).unwrap().is_none());
        assert!(parse_args(args(&["--bogus"])).is_err());
        assert!(parse_args(args(&["--part-size"])).is_err());
    }
}
